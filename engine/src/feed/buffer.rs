//! The read buffer of the classic pcap reader.
//!
//! Contract: bytes are parsed in place at a cursor. [`ReadBuf::take`] moves the cursor
//! over a record and keeps its bytes in place (they may be borrowed through
//! [`ReadBuf::window`]) until [`ReadBuf::release`]; several records can be held at
//! once, which is how a batch of packets borrows the buffer together.
//! [`ReadBuf::ensure`] may read more (shifting unconsumed bytes to the front), but only
//! when nothing is held; [`ReadBuf::buffered`] never reads. The buffer holds 1 MiB,
//! more than the largest record a pcap can carry (256 KiB plus its header), and asks
//! the kernel for 64 KiB at a time, so the bytes it copies are still in cache when they
//! are parsed. (A memory-mapped reader was measured too: no faster on the benchmark
//! capture, and it needs `unsafe` and breaks when a file is truncated while read.)

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

    /// Makes `n` bytes available at the cursor, reading if nothing is held; false when
    /// they are not (end of file, or held bytes forbid reading).
    pub(super) fn ensure(&mut self, n: usize) -> io::Result<bool> {
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

    /// True when `n` bytes are available at the cursor without reading.
    #[inline]
    pub(super) fn buffered(&self, n: usize) -> bool {
        self.end - self.cursor >= n
    }

    /// The next `n` bytes at the cursor (check availability first).
    #[inline]
    pub(super) fn peek(&self, n: usize) -> &[u8] {
        &self.buf[self.cursor..self.cursor + n]
    }

    /// Bytes available at the cursor without reading.
    #[inline]
    pub(super) fn available(&self) -> usize {
        self.end - self.cursor
    }

    /// Moves the cursor over `n` available bytes, holding them.
    #[inline]
    pub(super) fn take(&mut self, n: usize) {
        self.cursor += n.min(self.end - self.cursor);
    }

    /// Releases every held byte.
    #[inline]
    pub(super) fn release(&mut self) {
        self.released += (self.cursor - self.start) as u64;
        self.start = self.cursor;
    }

    /// Index of the cursor in [`window`](Self::window).
    #[inline]
    pub(super) fn cursor(&self) -> usize {
        self.cursor
    }

    /// The bytes ranges from [`cursor`](Self::cursor) index into.
    #[inline]
    pub(super) fn window(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes of the file released so far.
    pub(super) fn position(&self) -> u64 {
        self.released
    }

    /// File offset of the cursor (released bytes plus those held).
    pub(super) fn cursor_position(&self) -> u64 {
        self.released + (self.cursor - self.start) as u64
    }
}
