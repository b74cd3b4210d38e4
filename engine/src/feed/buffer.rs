//! Where a classic pcap reader's bytes come from: reads into a buffer, or a memory map.
//!
//! Contract: bytes are parsed in place at a cursor. [`Source::take`] moves the cursor
//! over a record and keeps its bytes in place (they may be borrowed through
//! [`Source::window`]) until [`Source::release`]; several records can be held at once,
//! which is how a batch of packets borrows the buffer together. [`Source::ensure`] may
//! read more (shifting unconsumed bytes to the front), but only when nothing is held;
//! [`Source::buffered`] never reads. The read buffer holds 1 MiB, more than the largest
//! record a pcap can carry (256 KiB plus its header), and asks the kernel for 64 KiB at
//! a time, so the bytes it copies are still in cache when they are parsed.

use std::fs::File;
use std::io::{self, Read};

const CAPACITY: usize = 1 << 20;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 64 << 10;

/// A file read through a fixed buffer.
pub(super) struct ReadBuf {
    file: File,
    buf: Box<[u8]>,
    /// First byte not yet released.
    start: usize,
    /// Next byte to parse (`start..cursor` is held).
    cursor: usize,
    /// End of the valid bytes.
    end: usize,
    released: u64,
    eof: bool,
}

impl ReadBuf {
    pub(super) fn new(file: File) -> Self {
        ReadBuf {
            file,
            buf: vec![0u8; CAPACITY].into_boxed_slice(),
            start: 0,
            cursor: 0,
            end: 0,
            released: 0,
            eof: false,
        }
    }

    fn ensure(&mut self, n: usize) -> io::Result<bool> {
        if self.cursor != self.start || n > self.buf.len() {
            // Held bytes must not move: no reading while a batch is out.
            return Ok(self.end - self.cursor >= n);
        }
        while self.end - self.cursor < n {
            if self.eof {
                return Ok(false);
            }
            if self.cursor + n > self.buf.len() {
                self.buf.copy_within(self.cursor..self.end, 0);
                self.end -= self.cursor;
                self.cursor = 0;
                self.start = 0;
            }
            let want = (self.buf.len() - self.end).min(READ_CHUNK.max(n));
            match self.file.read(&mut self.buf[self.end..self.end + want]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// A capture file mapped into memory: records are read in place, with no copy.
pub(super) struct MapBuf {
    map: memmap2::Mmap,
    start: usize,
    cursor: usize,
}

impl MapBuf {
    /// Maps `file` read-only; `None` when it cannot be mapped (pipes, special files).
    pub(super) fn new(file: &File) -> Option<Self> {
        // SAFETY: the mapping is read-only and private to this reader, and the bytes are
        // only ever read through bounds-checked slices. The one hazard is another
        // process truncating the file while it is mapped (the kernel then raises
        // SIGBUS on access to the lost pages); every mmap-based reader shares it, which
        // is why mapping is opt-in (`PcapFile::open_with`). Exercised by the feed tests,
        // which read captures through both sources and compare them.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        let _ = map.advise(memmap2::Advice::Sequential);
        Some(MapBuf {
            map,
            start: 0,
            cursor: 0,
        })
    }
}

/// The bytes of a file, read or mapped.
pub(super) enum Source {
    Map(MapBuf),
    Read(ReadBuf),
}

impl Source {
    /// A memory map of `file` when `map` and possible, else a read buffer.
    pub(super) fn open(file: File, map: bool) -> Self {
        if map && file.metadata().is_ok_and(|m| m.is_file()) {
            if let Some(m) = MapBuf::new(&file) {
                return Source::Map(m);
            }
        }
        Source::Read(ReadBuf::new(file))
    }

    /// True for a memory map.
    pub(super) fn is_mapped(&self) -> bool {
        matches!(self, Source::Map(_))
    }

    /// Makes `n` bytes available at the cursor, reading if nothing is held; false when
    /// they are not (end of file, or held bytes forbid reading).
    #[inline]
    pub(super) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        match self {
            Source::Map(m) => Ok(m.map.len() - m.cursor >= n),
            Source::Read(r) => r.ensure(n),
        }
    }

    /// True when `n` bytes are available at the cursor without reading.
    #[inline]
    pub(super) fn buffered(&self, n: usize) -> bool {
        match self {
            Source::Map(m) => m.map.len() - m.cursor >= n,
            Source::Read(r) => r.end - r.cursor >= n,
        }
    }

    /// The next `n` bytes at the cursor (check availability first).
    #[inline]
    pub(super) fn peek(&self, n: usize) -> &[u8] {
        let (w, c) = (self.window(), self.cursor());
        &w[c..c + n]
    }

    /// Bytes available at the cursor without reading.
    #[inline]
    pub(super) fn available(&self) -> usize {
        match self {
            Source::Map(m) => m.map.len() - m.cursor,
            Source::Read(r) => r.end - r.cursor,
        }
    }

    /// Moves the cursor over `n` available bytes, holding them.
    #[inline]
    pub(super) fn take(&mut self, n: usize) {
        match self {
            Source::Map(m) => m.cursor += n.min(m.map.len() - m.cursor),
            Source::Read(r) => r.cursor += n.min(r.end - r.cursor),
        }
    }

    /// Releases every held byte.
    #[inline]
    pub(super) fn release(&mut self) {
        match self {
            Source::Map(m) => m.start = m.cursor,
            Source::Read(r) => {
                r.released += (r.cursor - r.start) as u64;
                r.start = r.cursor;
            }
        }
    }

    /// Index of the cursor in [`window`](Self::window).
    #[inline]
    pub(super) fn cursor(&self) -> usize {
        match self {
            Source::Map(m) => m.cursor,
            Source::Read(r) => r.cursor,
        }
    }

    /// The bytes ranges from [`cursor`](Self::cursor) index into.
    #[inline]
    pub(super) fn window(&self) -> &[u8] {
        match self {
            Source::Map(m) => &m.map,
            Source::Read(r) => &r.buf,
        }
    }

    /// Bytes of the file released so far.
    pub(super) fn position(&self) -> u64 {
        match self {
            Source::Map(m) => m.start as u64,
            Source::Read(r) => r.released,
        }
    }
}
