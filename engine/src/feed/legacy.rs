//! Classic pcap files, read the way libpcap reads them.
//!
//! Contract: [`LegacyReader`] parses the 24-byte file header (either byte order,
//! micro- or nanosecond timestamps, Kuznetzov's "modified" format) and then one record
//! at a time into its own buffer, returning where the record's bytes lie in it. It
//! follows libpcap where files disagree with the format: captured and original lengths
//! are swapped in files older than version 2.3 (and in 2.3 when the captured length is
//! the larger), a snapshot length of 0 or above 256 KiB means 256 KiB, a record longer
//! than the snapshot length is cut to it, and a record longer than 256 KiB is corrupt.
//! The rusticata parser used for pcapng does none of this, hence this small reader.

use super::buffer::ReadBuf;
use crate::decode::LinkType;
use crate::time::{Timestamp, NANOS_PER_SEC};

/// libpcap's `MAXIMUM_SNAPLEN`.
pub(super) const MAX_SNAPLEN: u32 = 262_144;

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// Why a record could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LegacyError {
    /// The file ends inside a record (header or data).
    Truncated,
    /// A record claims more bytes than any capture holds.
    TooLong(u32),
    /// The underlying read failed.
    Read,
}

/// What [`LegacyReader::next`] found.
pub(super) enum Next {
    /// A record.
    Record(Record),
    /// The clean end of the file.
    End,
    /// No more buffered bytes for this batch.
    Wait,
}

/// One record: where its packet bytes lie in [`LegacyReader::bytes`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Record {
    pub(super) ts: Timestamp,
    pub(super) start: usize,
    pub(super) len: usize,
    /// True when the record was cut to the snapshot length.
    pub(super) cut: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lengths {
    NotSwapped,
    Swapped,
    MaybeSwapped,
}

pub(super) struct LegacyReader {
    buf: ReadBuf,
    big_endian: bool,
    nanos: bool,
    record_header: usize,
    lengths: Lengths,
    snapshot: u32,
    pub(super) link: LinkType,
}

/// True when `magic` (first four bytes, little-endian) starts a classic pcap file.
pub(super) fn is_legacy_magic(magic: u32) -> bool {
    [MAGIC_USEC, MAGIC_NSEC, MAGIC_MODIFIED]
        .iter()
        .any(|&m| m == magic || m.swap_bytes() == magic)
}

impl LegacyReader {
    /// Reads the file header. `None` when the file is shorter than a header.
    pub(super) fn open(mut buf: ReadBuf) -> Result<Option<LegacyReader>, LegacyError> {
        if !buf.ensure(24).map_err(|_| LegacyError::Read)? {
            return Ok(None);
        }
        let h = buf.peek(24);
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let big_endian = !matches!(le, MAGIC_USEC | MAGIC_NSEC | MAGIC_MODIFIED);
        let magic = if big_endian { le.swap_bytes() } else { le };
        let u16_at = |i: usize| {
            let b = [h[i], h[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (major, minor) = (u16_at(4), u16_at(6));
        let snaplen = u32_at(16);
        // The link type is the low 16 bits; the high bits may carry FCS information.
        let link = LinkType::from_dlt(u32_at(20) & 0xffff);
        let lengths = match (major, minor) {
            (2, m) if m < 3 => Lengths::Swapped,
            (2, 3) => Lengths::MaybeSwapped,
            (543, _) => Lengths::Swapped,
            _ => Lengths::NotSwapped,
        };
        buf.take(24);
        buf.release();
        Ok(Some(LegacyReader {
            buf,
            big_endian,
            nanos: magic == MAGIC_NSEC,
            record_header: if magic == MAGIC_MODIFIED { 24 } else { 16 },
            lengths,
            snapshot: if snaplen == 0 || snaplen > MAX_SNAPLEN {
                MAX_SNAPLEN
            } else {
                snaplen
            },
            link,
        }))
    }

    /// True when the file is mapped rather than read.
    pub(super) fn is_mapped(&self) -> bool {
        self.buf.is_mapped()
    }

    /// The mapped file's bytes, shared (`None` when read through a buffer).
    pub(super) fn shared(&self) -> Option<super::SharedBytes> {
        self.buf.shared()
    }

    /// Bytes consumed so far (the offset of the first record not yet released).
    pub(super) fn position(&self) -> u64 {
        self.buf.position()
    }

    /// File offset of the next record to parse (past the ones handed out in a batch).
    pub(super) fn cursor_position(&self) -> u64 {
        self.buf.cursor_position()
    }

    /// The buffer the last record's range points into.
    pub(super) fn bytes(&self) -> &[u8] {
        self.buf.window()
    }

    /// A record header's time and captured length (byte order, timestamp unit and
    /// length swapping applied; the length not checked yet).
    #[inline(always)]
    fn header(&self, h: &[u8; 16]) -> (Timestamp, u32) {
        let w = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (mut secs, mut frac, mut caplen, mut len) = (w(0), w(4), w(8), w(12));
        if self.big_endian {
            secs = secs.swap_bytes();
            frac = frac.swap_bytes();
            caplen = caplen.swap_bytes();
            len = len.swap_bytes();
        }
        let swap = match self.lengths {
            Lengths::NotSwapped => false,
            Lengths::Swapped => true,
            Lengths::MaybeSwapped => caplen > len,
        };
        if swap {
            caplen = len;
        }
        let nanos = if self.nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1_000
        };
        let ts = Timestamp::from_nanos(
            u64::from(secs)
                .saturating_mul(NANOS_PER_SEC)
                .saturating_add(nanos),
        );
        (ts, caplen)
    }

    /// Fills `out` with the next records: the first as [`next`](Self::next) with
    /// `fresh` finds it (an error is returned; `Ok(0)` is the clean end of the file),
    /// the others from the bytes already buffered, stopping before the first record
    /// that is not whole there or is invalid (the next call, fresh, reports it).
    /// Returns how many records it filled.
    #[inline]
    pub(super) fn next_batch(&mut self, out: &mut [Record]) -> Result<usize, LegacyError> {
        let Some(first) = out.first_mut() else {
            return Ok(0);
        };
        match self.next(true)? {
            Next::Record(r) => *first = r,
            Next::End | Next::Wait => return Ok(0),
        }
        let hl = self.record_header;
        let base = self.buf.cursor();
        let avail = &self.buf.window()[base..base + self.buf.available()];
        let (mut off, mut n) = (0, 1);
        while n < out.len() {
            let Some(h) = avail.get(off..off + 16) else {
                break;
            };
            let Ok(h) = <&[u8; 16]>::try_from(h) else {
                break;
            };
            let (ts, caplen) = self.header(h);
            let total = hl + caplen as usize;
            if caplen > MAX_SNAPLEN || avail.len() - off < total {
                break;
            }
            out[n] = Record {
                ts,
                start: base + off + hl,
                len: caplen.min(self.snapshot) as usize,
                cut: caplen > self.snapshot,
            };
            off += total;
            n += 1;
        }
        self.buf.take(off);
        Ok(n)
    }

    /// The next record. With `fresh`, the records handed out before are released
    /// first and more of the file may be read; without it (the rest of a batch) only
    /// bytes already buffered are used, and [`Next::Wait`] says none are left.
    #[inline]
    pub(super) fn next(&mut self, fresh: bool) -> Result<Next, LegacyError> {
        if fresh {
            self.buf.release();
        }
        let hl = self.record_header;
        if !self.buf.buffered(hl) {
            if !fresh {
                return Ok(Next::Wait);
            }
            if !self.buf.ensure(hl).map_err(|_| LegacyError::Read)? {
                return if self.buf.available() == 0 {
                    Ok(Next::End)
                } else {
                    Err(LegacyError::Truncated)
                };
            }
        }
        let Ok(h) = <[u8; 16]>::try_from(self.buf.peek(16)) else {
            return Err(LegacyError::Truncated);
        };
        let (ts, caplen) = self.header(&h);
        if caplen > MAX_SNAPLEN {
            return Err(LegacyError::TooLong(caplen));
        }
        let total = hl + caplen as usize;
        if !self.buf.buffered(total) {
            if !fresh {
                return Ok(Next::Wait);
            }
            if !self.buf.ensure(total).map_err(|_| LegacyError::Read)? {
                return Err(LegacyError::Truncated);
            }
        }
        let start = self.buf.cursor() + hl;
        self.buf.take(total);
        Ok(Next::Record(Record {
            ts,
            start,
            len: caplen.min(self.snapshot) as usize,
            cut: caplen > self.snapshot,
        }))
    }
}
