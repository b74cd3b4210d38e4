//! Where records go: EVE lines written by a writer thread, or only counted.
//!
//! Contract: each worker's sink ([`Output`]) formats its records and events into its
//! own buffer and hands whole buffers (whole lines, about 512 KiB) to one writer thread
//! over a bounded queue, so no worker waits on a write call (a slow disk makes them
//! wait on the queue instead; nothing is dropped). Written buffers go back to the
//! workers to be filled again: the buffers in use at once are bounded by the workers
//! and the queue, whatever the length of the output. Lines of one worker keep their
//! order; lines of different workers interleave by buffer.
//!
//! With `--deterministic` the writer keeps every line and writes them at the end,
//! sorted by `timestamp`, then `flow_id` (numerically); lines of one flow with the
//! same timestamp keep the order the engine wrote them in (a flow's events before its
//! record). The output is then the same whatever the number of workers; it costs
//! memory for the whole output.

use flowengine::inspect::EventRecord;
use flowengine::{EndedFlow, EveOptions, EveWriter, FlowRecord, Sink};
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Bytes a worker gathers before handing them to the writer. Each buffer handed over
/// may wake the writer thread, which then takes a CPU from a worker for a moment:
/// 64 KiB buffers woke it about 3,700 times on the 2,000,000-packet benchmark.
const CHUNK: usize = 512 << 10;
/// Buffers queued to the writer before the workers wait.
const QUEUE: usize = 6;
/// Room for the end of the line that fills a buffer.
const SLACK: usize = 4096;

/// Written buffers, emptied, for the workers to fill again (a fresh buffer costs page
/// faults as it is filled), with a count of the buffers ever allocated.
#[derive(Default)]
struct Spares {
    free: Mutex<Vec<Vec<u8>>>,
    allocated: AtomicUsize,
}

impl Spares {
    /// An empty buffer: a written one, or a new one.
    fn take(&self) -> Vec<u8> {
        let spare = self.free.lock().ok().and_then(|mut f| f.pop());
        spare.unwrap_or_else(|| {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            Vec::with_capacity(CHUNK + SLACK)
        })
    }

    /// Keeps a written buffer for reuse, unless it grew large (a huge line) or enough
    /// are kept already.
    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() > 2 * (CHUNK + SLACK) {
            return;
        }
        buf.clear();
        if let Ok(mut f) = self.free.lock() {
            if f.len() < QUEUE + 3 {
                f.push(buf);
            }
        }
    }
}

/// A worker's end of the writer: gathers whole lines, sends full buffers.
pub struct ChunkWriter {
    buf: Vec<u8>,
    tx: SyncSender<Vec<u8>>,
    spares: Arc<Spares>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, self.spares.take());
        self.tx
            .send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the EVE writer stopped"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        // The EVE writer writes one whole line per call: a buffer sent here ends with
        // a whole line.
        if self.buf.len() >= CHUNK && data.ends_with(b"\n") {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// One worker's sink: EVE lines, or a count of records (no `--eve`).
pub enum Output {
    /// EVE JSON lines.
    Eve(EveWriter<ChunkWriter>),
    /// Records only counted.
    Count(u64),
}

impl Sink for Output {
    fn flow(&mut self, record: &FlowRecord) {
        match self {
            Output::Eve(w) => w.flow(record),
            Output::Count(n) => *n += 1,
        }
    }

    fn flow_ended(&mut self, ended: &EndedFlow<'_>) {
        match self {
            Output::Eve(w) => w.flow_ended(ended),
            Output::Count(n) => *n += 1,
        }
    }

    fn event(&mut self, event: &EventRecord<'_>) {
        if let Output::Eve(w) = self {
            w.event(event);
        }
    }

    fn flush(&mut self) {
        if let Output::Eve(w) = self {
            Sink::flush(w);
        }
    }
}

/// The writer thread and how to make the workers' sinks.
pub struct Eve {
    tx: Option<SyncSender<Vec<u8>>>,
    spares: Arc<Spares>,
    opts: EveOptions,
    handle: Option<JoinHandle<io::Result<()>>>,
}

impl Eve {
    /// Starts the writer over `out`; `sorted` keeps every line and writes them sorted
    /// at the end (`--deterministic`).
    pub fn start(out: Box<dyn Write + Send>, opts: EveOptions, sorted: bool) -> io::Result<Eve> {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
        let spares = Arc::new(Spares::default());
        let back = Arc::clone(&spares);
        let handle = std::thread::Builder::new()
            .name("flowengine-eve".into())
            .spawn(move || write_all(out, rx, sorted, &back))?;
        Ok(Eve {
            tx: Some(tx),
            spares,
            opts,
            handle: Some(handle),
        })
    }

    /// A sink for one worker.
    pub fn sink(&self) -> Output {
        match self.writer() {
            Some(w) => Output::Eve(EveWriter::new(w, self.opts)),
            None => Output::Count(0),
        }
    }

    /// A worker's end of the writer (none once finishing).
    fn writer(&self) -> Option<ChunkWriter> {
        let tx = self.tx.as_ref()?.clone();
        Some(ChunkWriter {
            buf: self.spares.take(),
            tx,
            spares: Arc::clone(&self.spares),
        })
    }

    /// Waits for the writer once every sink is gone; its first write error, if any.
    pub fn finish(mut self) -> io::Result<()> {
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the EVE writer thread panicked")),
            None => Ok(()),
        }
    }
}

/// The writer thread: writes buffers as they come (or keeps them, sorted at the end).
fn write_all(
    mut out: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    sorted: bool,
    spares: &Spares,
) -> io::Result<()> {
    let mut first_error = None;
    let mut kept = Vec::new();
    for chunk in rx {
        if sorted {
            kept.push(chunk);
            continue;
        }
        if first_error.is_none() {
            if let Err(e) = out.write_all(&chunk) {
                // Keep draining so the workers never block on a dead writer.
                first_error = Some(e);
            }
        }
        spares.give(chunk);
    }
    if sorted {
        let mut lines: Vec<&[u8]> = kept
            .iter()
            .flat_map(|c| c.split_inclusive(|&b| b == b'\n'))
            .collect();
        lines.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        for line in lines {
            if let Err(e) = out.write_all(line) {
                first_error.get_or_insert(e);
                break;
            }
        }
    }
    if let Err(e) = out.flush() {
        first_error.get_or_insert(e);
    }
    first_error.map_or(Ok(()), Err)
}

/// The order of deterministic output: the `timestamp` text (fixed width, so its byte
/// order is time order), then the `flow_id` number. Lines not shaped like ours sort
/// by their bytes, after the others.
fn sort_key(line: &[u8]) -> (u8, &[u8], u64) {
    const TS: &[u8] = b"{\"timestamp\":\"";
    const ID: &[u8] = b"\",\"flow_id\":";
    let Some(rest) = line.strip_prefix(TS) else {
        return (1, line, 0);
    };
    let Some(end) = rest.iter().position(|&b| b == b'"') else {
        return (1, line, 0);
    };
    let (ts, tail) = rest.split_at(end);
    let id = tail
        .strip_prefix(ID)
        .map(|t| {
            t.iter()
                .take_while(|b| b.is_ascii_digit())
                .fold(0u64, |n, &d| {
                    n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
                })
        })
        .unwrap_or(0);
    (0, ts, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read after the writer thread is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn line(ts: &str, id: u64, kind: &str) -> String {
        format!("{{\"timestamp\":\"{ts}\",\"flow_id\":{id},\"event_type\":\"{kind}\"}}\n")
    }

    #[test]
    fn sorted_output_orders_by_time_then_flow_id_and_keeps_a_flows_own_order() {
        let out = Shared::default();
        let eve = Eve::start(Box::new(out.clone()), EveOptions::default(), true).unwrap();
        let mut a = eve.writer().unwrap();
        let mut b = eve.writer().unwrap();
        let t1 = "2024-01-01T00:00:01.000000+0000";
        let t2 = "2024-01-01T00:00:02.000000+0000";
        // Worker b writes first; flow 10's http event comes before its record at the
        // same time; flow 9 sorts before 10 numerically.
        b.write_all(line(t2, 3, "flow").as_bytes()).unwrap();
        b.flush().unwrap();
        a.write_all(line(t1, 10, "http").as_bytes()).unwrap();
        a.write_all(line(t1, 10, "flow").as_bytes()).unwrap();
        a.write_all(line(t1, 9, "flow").as_bytes()).unwrap();
        drop((a, b));
        eve.finish().unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let want = [
            line(t1, 9, "flow"),
            line(t1, 10, "http"),
            line(t1, 10, "flow"),
            line(t2, 3, "flow"),
        ]
        .concat();
        assert_eq!(text, want);
    }

    #[test]
    fn chunks_end_with_whole_lines_and_everything_reaches_the_file() {
        let out = Shared::default();
        let eve = Eve::start(Box::new(out.clone()), EveOptions::default(), false).unwrap();
        let mut w = eve.writer().unwrap();
        let one = line("2024-01-01T00:00:01.000000+0000", 1, "flow");
        let n = 3 * CHUNK / one.len();
        for _ in 0..n {
            w.write_all(one.as_bytes()).unwrap();
        }
        drop(w);
        eve.finish().unwrap();
        let text = out.0.lock().unwrap().clone();
        assert_eq!(text.len(), n * one.len());
        assert!(text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .all(|l| l == &one.as_bytes()[..one.len() - 1]));
    }

    #[test]
    fn written_buffers_are_filled_again_so_a_long_output_allocates_only_a_few() {
        let out = Shared::default();
        let eve = Eve::start(Box::new(out.clone()), EveOptions::default(), false).unwrap();
        let mut w = eve.writer().unwrap();
        let one = line("2024-01-01T00:00:01.000000+0000", 1, "flow");
        let chunks = 10 * QUEUE;
        let n = chunks * CHUNK / one.len();
        for _ in 0..n {
            w.write_all(one.as_bytes()).unwrap();
        }
        drop(w);
        let allocated = eve.spares.allocated.load(Ordering::Relaxed);
        eve.finish().unwrap();
        assert_eq!(out.0.lock().unwrap().len(), n * one.len());
        // Never more in use at once: one being filled, one waiting for room in the
        // queue, the queue, one being written.
        assert!(
            allocated <= QUEUE + 3,
            "{allocated} buffers for {chunks} chunks"
        );
    }

    #[test]
    fn a_failing_output_is_reported_and_never_blocks_the_workers() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let eve = Eve::start(Box::new(Broken), EveOptions::default(), false).unwrap();
        let mut w = eve.writer().unwrap();
        // Far more than the queue holds: the writer drains after its error.
        for _ in 0..(QUEUE * 4) {
            w.write_all(&[b'x'; CHUNK]).unwrap();
            w.write_all(b"\n").unwrap();
        }
        drop(w);
        let err = eve.finish().unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
