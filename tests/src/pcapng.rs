//! A pcapng writer (little-endian, one section, one interface, Enhanced Packet Blocks
//! without options), and a converter from any capture the engine reads.
//!
//! Contract: [`PcapngWriter`] writes a section header, one interface description
//! (link type, snapshot length, and with nanosecond timestamps an `if_tsresol` option)
//! and one Enhanced Packet Block per packet on interface 0, padded to 32 bits;
//! [`convert`] rewrites a capture's packets, times and link type as such a file.

use flowengine::feed::{PcapFile, ReadMode};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes a pcapng stream.
pub struct PcapngWriter<W: Write> {
    out: W,
    nanos: bool,
}

fn block(out: &mut impl Write, kind: u32, body: &[&[u8]]) -> io::Result<()> {
    let body_len: usize = body.iter().map(|b| b.len()).sum();
    let pad = body_len.next_multiple_of(4) - body_len;
    let len = u32::try_from(12 + body_len + pad)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "block too large"))?;
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    for b in body {
        out.write_all(b)?;
    }
    out.write_all(&[0u8; 3][..pad])?;
    out.write_all(&len.to_le_bytes())
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header and the interface (link type, snapshot length;
    /// microsecond timestamps, or nanosecond ones with `nanos`).
    pub fn new(mut out: W, linktype: u16, snaplen: u32, nanos: bool) -> io::Result<Self> {
        let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        block(&mut out, 0x0a0d_0d0a, &[&shb])?;
        let mut idb = linktype.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&snaplen.to_le_bytes());
        if nanos {
            // if_tsresol = 9 (10^-9 s), padded; then opt_endofopt.
            idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        }
        block(&mut out, 1, &[&idb])?;
        Ok(PcapngWriter { out, nanos })
    }

    /// Writes one packet stamped `ts_nanos` (nanoseconds since the epoch).
    pub fn write(&mut self, ts_nanos: u64, data: &[u8]) -> io::Result<()> {
        let units = if self.nanos {
            ts_nanos
        } else {
            ts_nanos / 1_000
        };
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let mut head = [0u8; 20];
        head[4..8].copy_from_slice(&((units >> 32) as u32).to_le_bytes());
        head[8..12].copy_from_slice(&(units as u32).to_le_bytes());
        head[12..16].copy_from_slice(&caplen.to_le_bytes());
        head[16..20].copy_from_slice(&caplen.to_le_bytes());
        block(&mut self.out, 6, &[&head, data])
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Rewrites the capture at `src` (pcap or pcapng, one link type) as pcapng at `dst`,
/// with timestamps of the given resolution. Returns the packets written.
pub fn convert(src: &Path, dst: &Path, nanos: bool) -> io::Result<u64> {
    let bad = |e: flowengine::FeedError| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let mut input = PcapFile::open_with(src, ReadMode::Buffered).map_err(bad)?;
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(dst)?);
    let mut w: Option<PcapngWriter<_>> = None;
    let mut out = Some(out);
    let mut n = 0;
    while let Some(p) = input.next_packet().map_err(bad)? {
        if w.is_none() {
            let o = out.take().expect("one writer");
            w = Some(PcapngWriter::new(o, p.link.dlt() as u16, 65535, nanos)?);
        }
        if let Some(w) = w.as_mut() {
            w.write(p.ts.as_nanos(), p.data)?;
        }
        n += 1;
    }
    match (w, out) {
        (Some(w), _) => {
            w.finish()?;
        }
        (None, Some(o)) => {
            PcapngWriter::new(o, 1, 65535, nanos)?.finish()?;
        }
        (None, None) => {}
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowengine::LinkType;

    #[test]
    fn written_packets_read_back() {
        for nanos in [false, true] {
            let mut w = PcapngWriter::new(Vec::new(), 1, 65535, nanos).unwrap();
            w.write(1_700_000_000_123_456_789, &[1, 2, 3]).unwrap();
            w.write(1_700_000_001_000_000_000, &[7; 60]).unwrap();
            let bytes = w.finish().unwrap();
            let dir = std::env::temp_dir().join(format!("fe-pcapng-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let p = dir.join(format!("w{nanos}.pcapng"));
            std::fs::write(&p, &bytes).unwrap();
            let mut f = PcapFile::open(&p).unwrap();
            let a = f.next_packet().unwrap().unwrap();
            let want = if nanos { 123_456_789 } else { 123_456_000 };
            assert_eq!(a.ts.as_nanos(), 1_700_000_000_000_000_000 + want);
            assert_eq!((a.data, a.link), (&[1u8, 2, 3][..], LinkType::Ethernet));
            assert_eq!(f.next_packet().unwrap().unwrap().data.len(), 60);
            assert!(f.next_packet().unwrap().is_none());
            let q = dir.join(format!("c{nanos}.pcapng"));
            assert_eq!(convert(&p, &q, nanos).unwrap(), 2);
            assert_eq!(std::fs::read(&q).unwrap(), bytes);
        }
    }
}
