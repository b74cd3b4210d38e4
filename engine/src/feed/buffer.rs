//! A read buffer for capture files: records are parsed in place and handed out as
//! ranges into it, so reading copies each byte once (file -> buffer) and allocates once.
//!
//! Contract: [`ReadBuf::ensure`] makes `n` bytes available from the current position
//! (shifting unconsumed bytes to the front and reading more as needed) or reports the
//! end of the file; bytes marked with [`ReadBuf::hold`] stay in place until
//! [`ReadBuf::release`]. The buffer holds 1 MiB, more than the largest record a pcap
//! can carry (256 KiB plus its header).

use std::fs::File;
use std::io::{self, Read};

const CAPACITY: usize = 1 << 20;

pub(super) struct ReadBuf {
    file: File,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    held: usize,
    consumed: u64,
    eof: bool,
}

impl ReadBuf {
    pub(super) fn new(file: File) -> Self {
        ReadBuf {
            file,
            buf: vec![0u8; CAPACITY].into_boxed_slice(),
            start: 0,
            end: 0,
            held: 0,
            consumed: 0,
            eof: false,
        }
    }

    /// Makes `n` bytes available at the current position; false when the file ends
    /// first (whatever was there stays available).
    pub(super) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        if n > self.buf.len() {
            return Ok(false);
        }
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.start + n > self.buf.len() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The next `n` available bytes (call [`ensure`](Self::ensure) first).
    pub(super) fn peek(&self, n: usize) -> &[u8] {
        &self.buf[self.start..self.start + n]
    }

    /// Bytes available without reading.
    pub(super) fn available(&self) -> usize {
        self.end - self.start
    }

    /// Moves past `n` bytes.
    pub(super) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n as u64;
    }

    /// Keeps the next `n` bytes in place until [`release`](Self::release).
    pub(super) fn hold(&mut self, n: usize) {
        self.held = n;
    }

    /// Consumes the held bytes.
    pub(super) fn release(&mut self) {
        let n = self.held;
        self.held = 0;
        self.consume(n);
    }

    /// Index of the current position in [`window`](Self::window).
    pub(super) fn offset(&self) -> usize {
        self.start
    }

    /// The whole buffer (ranges from [`offset`](Self::offset) index into it).
    pub(super) fn window(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes consumed since the start of the file (not counting held ones).
    pub(super) fn position(&self) -> u64 {
        self.consumed
    }
}
