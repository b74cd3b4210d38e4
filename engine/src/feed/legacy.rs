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
use std::fs::File;
use std::ops::Range;

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

/// One record.
pub(super) struct Record {
    pub(super) ts: Timestamp,
    pub(super) data: Range<usize>,
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
    /// Reads the file header. `None` when the file is shorter than one.
    pub(super) fn open(file: File) -> Result<Option<LegacyReader>, LegacyError> {
        let mut buf = ReadBuf::new(file);
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
        buf.consume(24);
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

    fn u32_at(&self, b: &[u8], i: usize) -> u32 {
        let x = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if self.big_endian {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }

    /// Bytes consumed so far (the offset of the next record).
    pub(super) fn position(&self) -> u64 {
        self.buf.position()
    }

    /// The buffer the last record's range points into.
    pub(super) fn bytes(&self) -> &[u8] {
        self.buf.window()
    }

    /// The next record, `Ok(None)` at a clean end of file. The previous record's bytes
    /// are released.
    pub(super) fn next(&mut self) -> Result<Option<Record>, LegacyError> {
        self.buf.release();
        let hl = self.record_header;
        if !self.buf.ensure(hl).map_err(|_| LegacyError::Read)? {
            return if self.buf.available() == 0 {
                Ok(None)
            } else {
                Err(LegacyError::Truncated)
            };
        }
        let h = self.buf.peek(hl);
        let secs = self.u32_at(h, 0);
        let frac = self.u32_at(h, 4);
        let mut caplen = self.u32_at(h, 8);
        let mut len = self.u32_at(h, 12);
        let swap = match self.lengths {
            Lengths::NotSwapped => false,
            Lengths::Swapped => true,
            Lengths::MaybeSwapped => caplen > len,
        };
        if swap {
            std::mem::swap(&mut caplen, &mut len);
        }
        if caplen > MAX_SNAPLEN {
            return Err(LegacyError::TooLong(caplen));
        }
        if !self
            .buf
            .ensure(hl + caplen as usize)
            .map_err(|_| LegacyError::Read)?
        {
            return Err(LegacyError::Truncated);
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
        let cut = caplen > self.snapshot;
        let keep = caplen.min(self.snapshot) as usize;
        let start = self.buf.offset() + hl;
        self.buf.hold(hl + caplen as usize);
        Ok(Some(Record {
            ts,
            data: start..start + keep,
            cut,
        }))
    }
}
