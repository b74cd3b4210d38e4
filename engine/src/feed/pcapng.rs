//! pcapng files: blocks framed here over the feed's read buffer (read or mapped, see
//! `feed::buffer`); Enhanced Packet Blocks without options (what capture tools write
//! for almost every packet) are parsed in place here, every other block by rusticata's
//! `pcap-parser`.
//!
//! Contract: [`NgReader::next`] walks blocks, keeps each section's interface
//! descriptions (link type, timestamp resolution and offset, snapshot length) and
//! returns where the next packet's bytes lie in [`NgReader::bytes`]. Like the classic
//! reader's records, packets are held in the buffer until the next "fresh" call, so a
//! batch of them can borrow it together; without `fresh` only buffered bytes are used
//! and [`NgNext::Wait`] says none are left. Simple packet blocks, which carry no time,
//! take the previous packet's. A block of 1 MiB or more is corrupt (libpcap refuses
//! packets over 256 KiB); a block cut short by the end of the file is truncated; the
//! fast path accepts exactly the blocks `pcap-parser` would, with the same result.

use super::buffer::ReadBuf;
use crate::decode::LinkType;
use crate::time::{Timestamp, NANOS_PER_SEC};
use pcap_parser::nom::Err as NomErr;
use pcap_parser::pcapng::{parse_block_be, parse_block_le, parse_sectionheaderblock, Block};
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::PcapError;
use std::ops::Range;

/// Largest block read (exclusive): what the streaming reader's buffer held before.
const MAX_BLOCK: usize = 1 << 20;
/// Section header block type (the same bytes in either byte order).
const SHB_TYPE: u32 = 0x0a0d_0d0a;
/// Enhanced packet block type.
const EPB_TYPE: u32 = 6;
/// The section header's byte-order magic.
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Bytes of an enhanced packet block around its packet data (without options).
const EPB_OVERHEAD: usize = 32;

#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    pub(super) link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset: i64,
    pub(super) snaplen: u32,
    /// Nanoseconds per timestamp unit when that is a whole number and there is no
    /// offset (the fast path of [`Interface::time`]), else 0.
    nanos_per_unit: u64,
}

impl Interface {
    fn new(link: LinkType, resolution: u64, offset: i64, snaplen: u32) -> Self {
        let nanos_per_unit = match resolution {
            r if offset == 0 && r > 0 && NANOS_PER_SEC % r == 0 => NANOS_PER_SEC / r,
            _ => 0,
        };
        Interface {
            link,
            resolution,
            offset,
            snaplen,
            nanos_per_unit,
        }
    }

    /// The time of `units` on this interface: [`ts_to_nanos`], by one multiplication
    /// for the usual resolutions (micro- and nanoseconds) without an offset.
    #[inline]
    fn time(&self, units: u64) -> Timestamp {
        if self.nanos_per_unit != 0 {
            if let Some(n) = units.checked_mul(self.nanos_per_unit) {
                return Timestamp::from_nanos(n);
            }
        }
        ts_to_nanos(units, self.resolution, self.offset)
    }
}

/// Why a block could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NgError {
    Truncated,
    Read,
    Corrupt(&'static str),
    /// A packet on an interface of a link type the decoder does not read.
    UnsupportedLinkType(u32),
}

/// Where a packet lies: its interface, time, and place in [`NgReader::bytes`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Found {
    pub(super) iface: Interface,
    pub(super) ts: Timestamp,
    start: usize,
    len: usize,
}

impl Found {
    /// The packet's byte range.
    pub(super) fn range(&self) -> Range<usize> {
        self.start..self.start + self.len
    }
}

/// What [`NgReader::next`] found.
pub(super) enum NgNext {
    /// A packet.
    Packet(Found),
    /// The clean end of the file.
    End,
    /// No more buffered bytes for this batch.
    Wait,
}

pub(super) struct NgReader {
    buf: ReadBuf,
    interfaces: Vec<Interface>,
    /// Byte order of the current section.
    big_endian: bool,
    last_ts: Timestamp,
}

/// Nanosecond time of `units` at `resolution` units per second, plus `offset` seconds.
pub(super) fn ts_to_nanos(units: u64, resolution: u64, offset: i64) -> Timestamp {
    let resolution = resolution.max(1);
    let secs = units / resolution;
    let frac = units % resolution;
    let nanos = (u128::from(frac) * u128::from(NANOS_PER_SEC) / u128::from(resolution)) as u64;
    let secs = if offset >= 0 {
        secs.saturating_add(offset as u64)
    } else {
        secs.saturating_sub(offset.unsigned_abs())
    };
    Timestamp::from_nanos(secs.saturating_mul(NANOS_PER_SEC).saturating_add(nanos))
}

enum Step {
    Packet(Found),
    Skip,
    Fail(NgError),
}

/// A `u32` at `at` in `b` in the given byte order (`b` holds at least `at + 4` bytes).
#[inline(always)]
fn u32_at(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big_endian {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

/// The byte order a section header's magic announces (`h` holds 12 bytes or more).
fn section_order(h: &[u8]) -> Option<bool> {
    match u32_at(h, 8, false) {
        BYTE_ORDER_MAGIC => Some(false),
        m if m.swap_bytes() == BYTE_ORDER_MAGIC => Some(true),
        _ => None,
    }
}

impl NgReader {
    /// Checks the section header at the start of `buf` (it is read again as the first
    /// block); `Err` when it is cut short or malformed.
    pub(super) fn open(mut buf: ReadBuf) -> Result<NgReader, NgError> {
        buf.ensure(12).map_err(|_| NgError::Read)?;
        let avail = buf.available();
        let head = buf.peek(avail.min(12));
        let want = match (head.len() >= 12).then(|| section_order(head)).flatten() {
            Some(big) => (u32_at(head, 4, big) as usize).max(12),
            None => avail.min(12),
        };
        if want >= MAX_BLOCK {
            return Err(NgError::Truncated);
        }
        buf.ensure(want).map_err(|_| NgError::Read)?;
        let block = buf.peek(want.min(buf.available()));
        match parse_sectionheaderblock(block) {
            Ok(_) => {}
            Err(NomErr::Incomplete(_)) => return Err(NgError::Truncated),
            Err(NomErr::Error(e) | NomErr::Failure(e)) => {
                return Err(match e {
                    PcapError::Eof | PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                        NgError::Truncated
                    }
                    _ => NgError::Corrupt("malformed section header"),
                })
            }
        }
        Ok(NgReader {
            buf,
            interfaces: Vec::new(),
            big_endian: false,
            last_ts: Timestamp::ZERO,
        })
    }

    /// True when the file is mapped rather than read.
    pub(super) fn is_mapped(&self) -> bool {
        self.buf.is_mapped()
    }

    /// The mapped file's bytes, shared (`None` when read through a buffer).
    pub(super) fn shared(&self) -> Option<super::SharedBytes> {
        self.buf.shared()
    }

    /// Bytes consumed so far (the offset of the first block not yet released).
    pub(super) fn position(&self) -> u64 {
        self.buf.position()
    }

    /// File offset of the next block to parse (past the ones handed out in a batch).
    pub(super) fn cursor_position(&self) -> u64 {
        self.buf.cursor_position()
    }

    /// The buffer a packet's range points into.
    pub(super) fn bytes(&self) -> &[u8] {
        self.buf.window()
    }

    /// The next packet's place. With `fresh`, the packets handed out before are
    /// released first and more of the file may be read; without it (the rest of a
    /// batch) only buffered bytes are used, and [`NgNext::Wait`] says none are left.
    pub(super) fn next(&mut self, fresh: bool) -> Result<NgNext, NgError> {
        if fresh {
            self.buf.release();
        }
        loop {
            // Every block starts with its type and length, and is at least 12 bytes.
            if !self.buf.buffered(12) {
                if !fresh {
                    return Ok(NgNext::Wait);
                }
                if !self.buf.ensure(12).map_err(|_| NgError::Read)? {
                    return if self.buf.available() == 0 {
                        Ok(NgNext::End)
                    } else {
                        Err(NgError::Truncated)
                    };
                }
            }
            let h = self.buf.peek(12);
            let big = if u32_at(h, 0, false) == SHB_TYPE {
                // A new section says its own byte order.
                section_order(h).ok_or(NgError::Corrupt("malformed block"))?
            } else {
                self.big_endian
            };
            let kind = u32_at(h, 0, big);
            let len = u32_at(h, 4, big) as usize;
            if len >= MAX_BLOCK {
                return Err(NgError::Corrupt("a block is larger than 1 MiB"));
            }
            // A length under 12 is malformed: the parser below says so.
            let want = len.max(12);
            if !self.buf.buffered(want) {
                if !fresh {
                    return Ok(NgNext::Wait);
                }
                if !self.buf.ensure(want).map_err(|_| NgError::Read)? {
                    return Err(NgError::Truncated);
                }
            }
            let fast = match (kind, big) {
                (EPB_TYPE, false) => self.enhanced_packet::<false>(len),
                (EPB_TYPE, true) => self.enhanced_packet::<true>(len),
                _ => None,
            };
            let step = match fast {
                Some(step) => step,
                None => self.parse_block(want, big),
            };
            match step {
                Step::Packet(found) => {
                    self.buf.take(want);
                    self.last_ts = found.ts;
                    return Ok(NgNext::Packet(found));
                }
                Step::Skip => {
                    self.buf.take(want);
                    if fresh {
                        // Nothing is handed out yet: no need to hold the block.
                        self.buf.release();
                    }
                }
                Step::Fail(e) => return Err(e),
            }
        }
    }

    /// The fast path: an enhanced packet block of `len` bytes without options (and
    /// well formed: the parser would accept it and give the same packet), parsed in
    /// place. `None` sends the block to the parser.
    #[inline]
    fn enhanced_packet<const BIG: bool>(&self, len: usize) -> Option<Step> {
        if len < EPB_OVERHEAD {
            return None;
        }
        let b = self.buf.peek(len);
        let caplen = u32_at(b, 20, BIG);
        if caplen >= u32::MAX - 4
            || EPB_OVERHEAD + (caplen as usize).next_multiple_of(4) != len
            || u32_at(b, len - 4, BIG) as usize != len
        {
            return None;
        }
        let if_id = u32_at(b, 8, BIG);
        let units = (u64::from(u32_at(b, 12, BIG)) << 32) | u64::from(u32_at(b, 16, BIG));
        let Some(iface) = self.interfaces.get(if_id as usize) else {
            return Some(Step::Fail(NgError::Corrupt(
                "packet names an interface that was never described",
            )));
        };
        if !iface.link.is_supported() {
            return Some(Step::Fail(NgError::UnsupportedLinkType(iface.link.dlt())));
        }
        Some(Step::Packet(Found {
            iface: *iface,
            ts: iface.time(units),
            start: self.buf.cursor() + 28,
            len: caplen as usize,
        }))
    }

    /// Any block, through `pcap-parser`: the `want` bytes at the cursor.
    fn parse_block(&mut self, want: usize, big: bool) -> Step {
        let window = self.buf.window().as_ptr() as usize;
        let block = self.buf.peek(want);
        let parse = if big { parse_block_be } else { parse_block_le };
        match parse(block) {
            Ok((_, b)) => {
                if let Block::SectionHeader(shb) = &b {
                    self.big_endian = shb.big_endian();
                }
                read_block(&mut self.interfaces, self.last_ts, b, window)
            }
            // The whole block was given: a part that claims more is malformed.
            Err(_) => Step::Fail(NgError::Corrupt("malformed block")),
        }
    }
}

/// What to do with one block: keeps interface descriptions, locates packet data
/// (`window`: the address the packet's place is counted from).
fn read_block(
    interfaces: &mut Vec<Interface>,
    last_ts: Timestamp,
    block: Block<'_>,
    window: usize,
) -> Step {
    let place = |d: &[u8]| (d.as_ptr() as usize - window, d.len());
    let (iface, ts, (start, len)) = match block {
        Block::SectionHeader(_) => {
            interfaces.clear();
            return Step::Skip;
        }
        Block::InterfaceDescription(idb) => {
            interfaces.push(Interface::new(
                LinkType::from_dlt(u32::from(idb.linktype.0 as u16)),
                idb.ts_resolution().unwrap_or(1_000_000),
                idb.ts_offset(),
                idb.snaplen,
            ));
            return Step::Skip;
        }
        Block::EnhancedPacket(epb) => {
            let Some(i) = interfaces.get(epb.if_id as usize).copied() else {
                return Step::Fail(NgError::Corrupt(
                    "packet names an interface that was never described",
                ));
            };
            if !i.link.is_supported() {
                return Step::Fail(NgError::UnsupportedLinkType(i.link.dlt()));
            }
            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            (i, i.time(units), place(epb.packet_data()))
        }
        Block::SimplePacket(spb) => {
            let Some(i) = interfaces.first().copied() else {
                return Step::Skip;
            };
            if !i.link.is_supported() {
                return Step::Fail(NgError::UnsupportedLinkType(i.link.dlt()));
            }
            (i, last_ts, place(spb.packet_data()))
        }
        _ => return Step::Skip,
    };
    Step::Packet(Found {
        iface,
        ts,
        start,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::ts_to_nanos;
    use crate::time::Timestamp;

    #[test]
    fn the_fast_time_path_agrees_with_the_general_one() {
        use super::Interface;
        use crate::decode::LinkType;
        for (res, off) in [
            (1_000_000, 0),
            (1_000_000_000, 0),
            (1000, 0),
            (1024, 0),
            (1_000_000, 5),
        ] {
            let i = Interface::new(LinkType::Ethernet, res, off, 0);
            assert_eq!(
                i.nanos_per_unit != 0,
                off == 0 && res != 1024,
                "{res} {off}"
            );
            for units in [
                0,
                1,
                999_999,
                1_700_000_000_123_456,
                u64::MAX / 999,
                u64::MAX,
            ] {
                assert_eq!(
                    i.time(units),
                    ts_to_nanos(units, res, off),
                    "{res} {off} {units}"
                );
            }
        }
    }

    #[test]
    fn timestamps_convert_exactly() {
        assert_eq!(
            ts_to_nanos(1_700_000_000_123_456, 1_000_000, 0),
            Timestamp::from_secs_micros(1_700_000_000, 123_456)
        );
        assert_eq!(
            ts_to_nanos(5_000_000_001, 1_000_000_000, 10),
            Timestamp::from_secs_nanos(15, 1)
        );
        assert_eq!(
            ts_to_nanos(1024 + 512, 1024, 0),
            Timestamp::from_secs_nanos(1, 500_000_000)
        );
    }
}
