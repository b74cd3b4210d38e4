//! `payload-sizes`: a passive inspector recording, per flow, the sizes of the first
//! payload chunks of each direction and a byte histogram of the first bytes (the
//! features flow classifiers read), emitted as one EVE `payload_sizes` event when the
//! flow ends.
//!
//! Contract: sees every inspected flow whatever its service; keeps at most
//! [`FIRST_SIZES`] sizes and [`HISTOGRAM_BYTES`] histogram bytes per direction (fixed
//! memory: no allocation after the flow's FlowData is made); stops taking data
//! (`cx.done()`) once both directions are full. Gaps are counted, never read.

use flowengine::flow::Direction;
use flowengine::inspect::{AppEvent, Chunk, Cx, FlowData, FlowInfo, Inspector, InspectorKind};

/// Sizes kept per direction.
pub const FIRST_SIZES: usize = 8;
/// Bytes per direction counted in the histogram.
pub const HISTOGRAM_BYTES: u32 = 1024;

/// The inspector (stateless; one per engine).
#[derive(Debug, Default)]
pub struct PayloadSizes;

impl PayloadSizes {
    /// The inspector's name in configuration (`app-layer.passive`).
    pub const NAME: &'static str = "payload-sizes";
}

impl Inspector for PayloadSizes {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn kind(&self) -> InspectorKind {
        InspectorKind::Passive
    }
    fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
        Some(Box::<SizesFlow>::default())
    }
}

#[derive(Clone, Copy, Debug)]
struct Side {
    sizes: [u32; FIRST_SIZES],
    n: u8,
    gaps: u32,
    /// Bytes counted in the histogram, by high nibble (16 buckets: text vs binary vs
    /// high-entropy data separate well at this resolution).
    nibbles: [u16; 16],
    counted: u32,
}

impl Default for Side {
    fn default() -> Self {
        Side {
            sizes: [0; FIRST_SIZES],
            n: 0,
            gaps: 0,
            nibbles: [0; 16],
            counted: 0,
        }
    }
}

impl Side {
    fn full(&self) -> bool {
        usize::from(self.n) == FIRST_SIZES && self.counted >= HISTOGRAM_BYTES
    }

    fn take(&mut self, d: &[u8]) {
        if usize::from(self.n) < FIRST_SIZES {
            self.sizes[usize::from(self.n)] = d.len() as u32;
            self.n += 1;
        }
        let room = HISTOGRAM_BYTES.saturating_sub(self.counted) as usize;
        for &b in &d[..d.len().min(room)] {
            self.nibbles[usize::from(b >> 4)] += 1;
        }
        self.counted += d.len().min(room) as u32;
    }

    /// Shannon entropy of the histogram, in bits per nibble (0..=4), 3 decimals.
    fn entropy(&self) -> f64 {
        if self.counted == 0 {
            return 0.0;
        }
        let n = f64::from(self.counted);
        let h: f64 = self
            .nibbles
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = f64::from(c) / n;
                -p * p.log2()
            })
            .sum();
        (h * 1000.0).round() / 1000.0
    }
}

/// Per-flow state.
#[derive(Debug, Default)]
struct SizesFlow {
    sides: [Side; 2],
}

fn index(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl FlowData for SizesFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        let side = &mut self.sides[index(dir)];
        match chunk {
            Chunk::Data(d) => side.take(d),
            Chunk::Gap(_) => side.gaps += 1,
        }
        if self.sides.iter().all(Side::full) {
            cx.done();
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        cx.emit(Box::new(SizesEvent { sides: self.sides }));
    }
}

/// The `payload_sizes` event.
#[derive(Clone, Debug)]
pub struct SizesEvent {
    sides: [Side; 2],
}

impl SizesEvent {
    /// The first payload sizes of a direction, in order.
    pub fn sizes(&self, dir: Direction) -> &[u32] {
        let s = &self.sides[index(dir)];
        &s.sizes[..usize::from(s.n)]
    }

    /// Entropy (bits per nibble, 0 to 4) of a direction's first bytes.
    pub fn entropy(&self, dir: Direction) -> f64 {
        self.sides[index(dir)].entropy()
    }
}

impl AppEvent for SizesEvent {
    fn event_type(&self) -> &'static str {
        "payload_sizes"
    }

    fn to_json(&self) -> serde_json::Value {
        let side = |d: Direction| {
            let s = &self.sides[index(d)];
            serde_json::json!({
                "sizes": self.sizes(d),
                "gaps": s.gaps,
                "histogram_bytes": s.counted,
                "nibble_entropy": s.entropy(),
            })
        };
        serde_json::json!({
            "toserver": side(Direction::ToServer),
            "toclient": side(Direction::ToClient),
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowengine::inspect::{Actions, Transport};
    use flowengine::Timestamp;

    fn info() -> FlowInfo {
        FlowInfo {
            flow_id: 1,
            transport: Transport::Tcp,
            client: ("10.0.0.1".parse().unwrap(), 1),
            server: ("10.0.0.2".parse().unwrap(), 2),
        }
    }

    fn feed(fd: &mut dyn FlowData, dir: Direction, chunk: Chunk<'_>) -> Actions {
        let info = info();
        let mut a = Actions::default();
        fd.data(&mut Cx::new(Timestamp::ZERO, &info, &mut a), dir, chunk);
        a
    }

    fn end(fd: &mut dyn FlowData) -> SizesEvent {
        let info = info();
        let mut a = Actions::default();
        fd.end(&mut Cx::new(Timestamp::ZERO, &info, &mut a));
        assert_eq!(a.events.len(), 1);
        a.events[0]
            .as_any()
            .downcast_ref::<SizesEvent>()
            .unwrap()
            .clone()
    }

    #[test]
    fn records_first_sizes_per_direction_gaps_and_entropy() {
        let mut fd = PayloadSizes.start(&info()).unwrap();
        feed(
            fd.as_mut(),
            Direction::ToServer,
            Chunk::Data(b"GET / HTTP/1.1\r\n\r\n"),
        );
        feed(fd.as_mut(), Direction::ToClient, Chunk::Data(&[0u8; 40]));
        feed(fd.as_mut(), Direction::ToClient, Chunk::Gap(100));
        feed(fd.as_mut(), Direction::ToClient, Chunk::Data(&[7u8; 3]));
        let ev = end(fd.as_mut());
        assert_eq!(ev.sizes(Direction::ToServer), [18]);
        assert_eq!(ev.sizes(Direction::ToClient), [40, 3]);
        // All bytes in one nibble bucket: no entropy; ASCII text: some.
        assert_eq!(ev.entropy(Direction::ToClient), 0.0);
        assert!(ev.entropy(Direction::ToServer) > 1.0);
        let j = ev.to_json();
        assert_eq!(j["toclient"]["gaps"], 1);
        assert_eq!(j["toclient"]["sizes"], serde_json::json!([40, 3]));
        assert_eq!(j["toserver"]["histogram_bytes"], 18);
    }

    #[test]
    fn memory_is_fixed_and_it_stops_when_both_sides_are_full() {
        let mut fd = PayloadSizes.start(&info()).unwrap();
        let big = vec![0xabu8; 600];
        let mut done = false;
        for i in 0..20 {
            for dir in [Direction::ToServer, Direction::ToClient] {
                let a = feed(fd.as_mut(), dir, Chunk::Data(&big[..100 + i]));
                done |= a.done;
            }
        }
        assert!(done, "both sides full: no more data wanted");
        let ev = end(fd.as_mut());
        assert_eq!(ev.sizes(Direction::ToServer).len(), FIRST_SIZES);
        assert_eq!(ev.sizes(Direction::ToServer)[7], 107);
        assert_eq!(ev.to_json()["toserver"]["histogram_bytes"], HISTOGRAM_BYTES);
    }
}
