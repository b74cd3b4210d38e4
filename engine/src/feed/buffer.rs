//! The read buffer of the capture readers: a file read through a fixed buffer, or
//! (cargo feature `mmap`, on by default) the whole file mapped into memory.
//!
//! Contract: bytes are parsed in place at a cursor. [`ReadBuf::take`] moves the cursor
//! over a record and keeps its bytes in place (they may be borrowed through
//! [`ReadBuf::window`]) until [`ReadBuf::release`]; several records can be held at
//! once, which is how a batch of packets borrows the buffer together.
//! [`ReadBuf::ensure`] may read more (shifting unconsumed bytes to the front), but only
//! when nothing is held; [`ReadBuf::buffered`] never reads. The buffer holds 1 MiB,
//! more than the largest record a pcap can carry (256 KiB plus its header), and asks
//! the kernel for 64 KiB at a time, so the bytes it copies are still in cache when they
//! are parsed.
//!
//! A mapped file is parsed where the kernel's page cache holds it: no copy and no read
//! call. Each release asks the CPU for the cache lines of the next 32 KiB (and, on
//! Linux, fills the page tables 1 MiB at a time), so the parser does not wait for
//! memory at every record header; the pages of what was read more than 1 MiB ago are
//! unmapped again every 4 MiB, so the process's resident set does not grow with the
//! file. The map can be shared with other threads ([`ReadBuf::shared`]), which read
//! packets in it after the reader has moved on. Its length is the file's length when
//! it was opened (bytes appended later are not seen), and it must not be truncated
//! while it is read: touching a mapped page past the new end of the file raises
//! `SIGBUS`, which ends the process. Read files
//! that another program may shorten with [`ReadMode::Buffered`].

use std::fs::File;
use std::io::{self, Read};

const CAPACITY: usize = 1 << 20;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 64 << 10;
/// Mapped: released bytes after which their pages are dropped from the process.
#[cfg(all(feature = "mmap", unix))]
const DROP_EVERY: usize = 4 << 20;
/// Mapped: bytes just behind the reader whose pages are kept, as packets handed to
/// other threads as places in the map ([`super::SharedBytes`]) are read there a little
/// later (dropped, they would be read back from the page cache, one fault a page).
#[cfg(all(feature = "mmap", unix))]
const DROP_LAG: usize = 1 << 20;
/// Alignment of the ranges dropped (a multiple of every page size in use).
#[cfg(all(feature = "mmap", unix))]
const DROP_ALIGN: usize = 64 << 10;
/// Mapped: bytes past the released ones whose cache lines are asked for ahead of the
/// parser (a record header's place depends on the record before it, so without this
/// every record would wait for memory in turn).
#[cfg(feature = "mmap")]
const PREFETCH_AHEAD: usize = 32 << 10;
/// Mapped: bytes whose page-table entries are filled in one call when the prefetch
/// window reaches past those filled (a prefetch into an unmapped page is dropped).
#[cfg(all(feature = "mmap", target_os = "linux"))]
const POPULATE_CHUNK: usize = 1 << 20;
/// Size of a cache line, the step of the prefetches.
#[cfg(feature = "mmap")]
const LINE: usize = 64;

/// How a capture file is read. Both modes yield the same packets and errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadMode {
    /// Mapped into memory when it is a regular file and the map can be made (and the
    /// crate is built with the `mmap` feature, the default), else read through a
    /// buffer. A mapped file is read as long as it was when opened, and must not be
    /// truncated while it is read: the process would get `SIGBUS`.
    #[default]
    Auto,
    /// Always read through a buffer with `read` calls.
    Buffered,
}

/// Where the bytes come from.
enum Source {
    /// `read` calls into a buffer.
    Read { file: File, buf: Box<[u8]> },
    /// The whole file, mapped (read-only).
    #[cfg(feature = "mmap")]
    Map(std::sync::Arc<memmap2::Mmap>),
}

/// A file read through a fixed buffer, or mapped.
pub(super) struct ReadBuf {
    source: Source,
    /// First byte not yet released.
    start: usize,
    /// Next byte to parse (`start..cursor` is held).
    cursor: usize,
    /// End of the valid bytes.
    end: usize,
    released: u64,
    eof: bool,
    /// Mapped: bytes from the start whose pages were given back (see `drop_behind`).
    #[cfg_attr(not(all(feature = "mmap", unix)), allow(dead_code))]
    dropped: usize,
    /// Mapped: bytes from the start whose cache lines were prefetched.
    #[cfg_attr(not(feature = "mmap"), allow(dead_code))]
    prefetched: usize,
    /// Mapped: bytes from the start whose page-table entries were filled.
    #[cfg_attr(not(all(feature = "mmap", target_os = "linux")), allow(dead_code))]
    populated: usize,
}

impl ReadBuf {
    /// Reads `file` through a buffer.
    pub(super) fn new(file: File) -> Self {
        ReadBuf {
            source: Source::Read {
                file,
                buf: vec![0u8; CAPACITY].into_boxed_slice(),
            },
            start: 0,
            cursor: 0,
            end: 0,
            released: 0,
            eof: false,
            dropped: 0,
            prefetched: 0,
            populated: 0,
        }
    }

    /// Reads `file` as `mode` says: mapped when allowed and possible, else buffered.
    pub(super) fn open(file: File, mode: ReadMode) -> Self {
        match mode {
            #[cfg(feature = "mmap")]
            ReadMode::Auto => match map(&file) {
                Some(m) => {
                    let end = m.len();
                    ReadBuf {
                        source: Source::Map(std::sync::Arc::new(m)),
                        start: 0,
                        cursor: 0,
                        end,
                        released: 0,
                        eof: true,
                        dropped: 0,
                        prefetched: 0,
                        populated: 0,
                    }
                }
                None => ReadBuf::new(file),
            },
            _ => ReadBuf::new(file),
        }
    }

    /// True when the file is mapped rather than read.
    pub(super) fn is_mapped(&self) -> bool {
        match self.source {
            Source::Read { .. } => false,
            #[cfg(feature = "mmap")]
            Source::Map(_) => true,
        }
    }

    /// The mapped file's bytes, shared (`None` when read through a buffer): the places
    /// of the packets parsed from it are places in these bytes.
    pub(super) fn shared(&self) -> Option<super::SharedBytes> {
        match &self.source {
            Source::Read { .. } => None,
            #[cfg(feature = "mmap")]
            Source::Map(m) => Some(super::SharedBytes::new(m.clone())),
        }
    }

    /// Makes `n` bytes available at the cursor, reading if nothing is held; false when
    /// they are not (end of file, or held bytes forbid reading).
    pub(super) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        let (file, buf) = match &mut self.source {
            Source::Read { file, buf } => (file, buf),
            // All of a mapped file is there.
            #[cfg(feature = "mmap")]
            Source::Map(_) => return Ok(self.end - self.cursor >= n),
        };
        if self.cursor != self.start || n > buf.len() {
            // Held bytes must not move: no reading while a batch is out.
            return Ok(self.end - self.cursor >= n);
        }
        while self.end - self.cursor < n {
            if self.eof {
                return Ok(false);
            }
            if self.cursor + n > buf.len() {
                buf.copy_within(self.cursor..self.end, 0);
                self.end -= self.cursor;
                self.cursor = 0;
                self.start = 0;
            }
            let want = (buf.len() - self.end).min(READ_CHUNK.max(n));
            match file.read(&mut buf[self.end..self.end + want]) {
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
        &self.window()[self.cursor..self.cursor + n]
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
        #[cfg(all(feature = "mmap", unix))]
        if self.start - self.dropped >= DROP_EVERY + DROP_LAG && self.is_mapped() {
            self.drop_behind();
        }
        #[cfg(feature = "mmap")]
        self.prefetch_ahead();
    }

    /// Mapped: asks for the cache lines of the next [`PREFETCH_AHEAD`] bytes not asked
    /// for yet, so that parsing the next records finds them in cache (and, on Linux,
    /// fills the page-table entries of the next [`POPULATE_CHUNK`] bytes first, in one
    /// call, when the window reaches past those filled).
    #[cfg(feature = "mmap")]
    #[inline]
    fn prefetch_ahead(&mut self) {
        if !self.is_mapped() {
            return;
        }
        let to = (self.start + PREFETCH_AHEAD).min(self.end);
        #[cfg(target_os = "linux")]
        if to > self.populated {
            self.populate(to);
        }
        let Source::Map(m) = &self.source else {
            return;
        };
        let mut at = self.prefetched.max(self.start & !(LINE - 1));
        while at < to {
            crate::prefetch::prefetch(m.as_ptr().wrapping_add(at));
            at += LINE;
        }
        self.prefetched = at;
    }

    /// Mapped: fills the page-table entries from the last filled up to at least `to`
    /// (advice: on failure the pages fault in when touched, as they would anyway).
    #[cfg(all(feature = "mmap", target_os = "linux"))]
    #[cold]
    fn populate(&mut self, to: usize) {
        let Source::Map(m) = &self.source else {
            return;
        };
        let from = self.populated.max(self.start) & !(DROP_ALIGN - 1);
        let end = (to.max(from + POPULATE_CHUNK)).min(self.end);
        let _ = m.advise_range(memmap2::Advice::PopulateRead, from, end - from);
        self.populated = end;
    }

    /// Mapped: unmaps the pages of released bytes from the process (they stay in the
    /// page cache), so reading a large file does not grow the resident set by its
    /// size. One `madvise` call per [`DROP_EVERY`] bytes read.
    #[cfg(all(feature = "mmap", unix))]
    #[cold]
    fn drop_behind(&mut self) {
        let Source::Map(m) = &self.source else {
            return;
        };
        let end = self.start.saturating_sub(DROP_LAG) & !(DROP_ALIGN - 1);
        if end <= self.dropped {
            return;
        }
        // SAFETY: `dropped..end` lies before `start`, in bytes already released: no
        // packet handed out by this reader borrows them any more (a packet borrows the
        // reader until the next call, and that call releases before it parses), and
        // the readers never look behind `start` again. Other threads may still read
        // them through the map's `SharedBytes`: dropping pages of a read-only shared
        // file map only unmaps them, and touching them again reads the same file bytes
        // back from the page cache, so those reads stay valid. The range is inside the
        // map and starts and ends on a 64 KiB boundary (a multiple of any page size).
        let r = unsafe {
            m.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                self.dropped,
                end - self.dropped,
            )
        };
        // Advice only: on failure the pages simply stay mapped.
        let _ = r;
        self.dropped = end;
    }

    /// Index of the cursor in [`window`](Self::window).
    #[inline]
    pub(super) fn cursor(&self) -> usize {
        self.cursor
    }

    /// The bytes ranges from [`cursor`](Self::cursor) index into.
    #[inline]
    pub(super) fn window(&self) -> &[u8] {
        match &self.source {
            Source::Read { buf, .. } => &buf[..],
            #[cfg(feature = "mmap")]
            Source::Map(m) => &m[..],
        }
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

/// Maps `file` read-only; `None` when it is not a regular file, is empty, or cannot be
/// mapped (the caller then reads it through a buffer).
#[cfg(feature = "mmap")]
fn map(file: &File) -> Option<memmap2::Mmap> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 || usize::try_from(meta.len()).is_err() {
        return None;
    }
    // SAFETY: the map is read-only and private to this reader, and every access goes
    // through bounds-checked slices of it. What Rust cannot promise is that no other
    // process changes the file meanwhile: a write shows through (we then parse other
    // bytes, which the parsers treat like any input), and a truncation makes pages past
    // the new end raise SIGBUS when touched. That is documented on the module and on
    // `ReadMode`, with `ReadMode::Buffered` for files that may shrink while read.
    let m = unsafe { memmap2::Mmap::map(file) }.ok()?;
    // Read front to back: let the kernel read ahead generously. Advice is only a hint.
    #[cfg(unix)]
    let _ = m.advise(memmap2::Advice::Sequential);
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::{ReadBuf, ReadMode};

    /// Reads `path` in 1000-byte records through `mode`, checking every byte, and
    /// returns the reader at the end.
    fn read_records(path: &std::path::Path, mode: ReadMode) -> ReadBuf {
        let mut b = ReadBuf::open(std::fs::File::open(path).unwrap(), mode);
        let mut n = 0usize;
        while b.ensure(1000).unwrap() {
            assert!(
                b.peek(1000).iter().all(|&x| x == (n % 251) as u8),
                "record {n}"
            );
            b.take(1000);
            b.release();
            n += 1;
        }
        assert_eq!(n, 12_000);
        assert_eq!(b.position(), 12_000_000);
        b
    }

    #[test]
    fn mapped_reading_gives_back_pages_behind_it_and_reads_on() {
        let dir = std::env::temp_dir().join(format!("flowengine-buf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("12m.bin");
        let bytes: Vec<u8> = (0..12_000usize)
            .flat_map(|i| std::iter::repeat_n((i % 251) as u8, 1000))
            .collect();
        std::fs::write(&p, &bytes).unwrap();
        let mapped = read_records(&p, ReadMode::Auto);
        if cfg!(all(feature = "mmap", unix)) {
            assert!(mapped.is_mapped());
            // Dropped every 4 MiB (twice in these 12 MB), on 64 KiB boundaries.
            assert_eq!(mapped.dropped, 2 * (4 << 20) / (64 << 10) * (64 << 10));
        }
        let buffered = read_records(&p, ReadMode::Buffered);
        assert!(!buffered.is_mapped());
        assert_eq!(buffered.dropped, 0);
    }
}
