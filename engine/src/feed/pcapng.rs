//! pcapng files through the rusticata `pcap-parser` streaming reader.
//!
//! Contract: [`NgReader::next`] walks blocks, keeps each section's interface
//! descriptions (link type, timestamp resolution and offset, snapshot length) and
//! returns where the next packet's bytes lie in the reader's buffer, valid until the
//! following call. Simple packet blocks, which carry no time, take the previous
//! packet's.

use crate::decode::LinkType;
use crate::time::{Timestamp, NANOS_PER_SEC};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{PcapBlockOwned, PcapError, PcapNGReader};
use std::fs::File;

/// Read buffer: holds any block up to a megabyte (libpcap refuses packets over 256 KiB).
const BUFFER: usize = 1 << 20;

#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    pub(super) link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset: i64,
    pub(super) snaplen: u32,
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

/// Where a packet lies: its interface, time, address and length in the buffer.
pub(super) struct Found {
    pub(super) iface: Interface,
    pub(super) ts: Timestamp,
    addr: usize,
    len: usize,
}

pub(super) struct NgReader {
    reader: PcapNGReader<File>,
    interfaces: Vec<Interface>,
    pending: usize,
    position: u64,
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
    Refill,
    Fail(NgError),
}

impl NgReader {
    /// Opens a pcapng stream; `Err` when its section header is cut short or malformed.
    pub(super) fn open(file: File) -> Result<NgReader, NgError> {
        let reader = PcapNGReader::new(BUFFER, file).map_err(|e| match e {
            PcapError::ReadError => NgError::Read,
            PcapError::Eof | PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                NgError::Truncated
            }
            _ => NgError::Corrupt("malformed section header"),
        })?;
        Ok(NgReader {
            reader,
            interfaces: Vec::new(),
            pending: 0,
            position: 0,
            last_ts: Timestamp::ZERO,
        })
    }

    /// Bytes consumed so far.
    pub(super) fn position(&self) -> u64 {
        self.position
    }

    /// The next packet's place, `Ok(None)` at the end.
    pub(super) fn next(&mut self) -> Result<Option<Found>, NgError> {
        loop {
            if self.pending > 0 {
                self.reader.consume(self.pending);
                self.position += self.pending as u64;
                self.pending = 0;
            }
            let step = match self.reader.next() {
                Ok((offset, block)) => {
                    self.pending = offset;
                    read_block(&mut self.interfaces, self.last_ts, block)
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(PcapError::UnexpectedEof) => Step::Fail(NgError::Truncated),
                Err(PcapError::BufferTooSmall) => {
                    Step::Fail(NgError::Corrupt("a block is larger than 1 MiB"))
                }
                Err(PcapError::ReadError) => Step::Fail(NgError::Read),
                Err(_) => Step::Fail(NgError::Corrupt("malformed block")),
            };
            match step {
                Step::Packet(found) => {
                    self.last_ts = found.ts;
                    return Ok(Some(found));
                }
                Step::Skip => {}
                Step::Refill => {
                    if self.reader.refill().is_err() {
                        return Err(NgError::Read);
                    }
                }
                Step::Fail(e) => return Err(e),
            }
        }
    }

    /// The bytes of a packet found by the last [`next`](Self::next).
    pub(super) fn data(&self, f: &Found) -> Option<&[u8]> {
        let avail = self.reader.data();
        let start = f.addr.wrapping_sub(avail.as_ptr() as usize);
        start
            .checked_add(f.len)
            .and_then(|end| avail.get(start..end))
    }
}

/// What to do with one block: keeps interface descriptions, locates packet data.
fn read_block(
    interfaces: &mut Vec<Interface>,
    last_ts: Timestamp,
    block: PcapBlockOwned<'_>,
) -> Step {
    let place = |d: &[u8]| (d.as_ptr() as usize, d.len());
    let (iface, ts, (addr, len)) = match block {
        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
            interfaces.clear();
            return Step::Skip;
        }
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
            interfaces.push(Interface {
                link: LinkType::from_dlt(u32::from(idb.linktype.0 as u16)),
                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                offset: idb.ts_offset(),
                snaplen: idb.snaplen,
            });
            return Step::Skip;
        }
        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
            let Some(i) = interfaces.get(epb.if_id as usize).copied() else {
                return Step::Fail(NgError::Corrupt(
                    "packet names an interface that was never described",
                ));
            };
            if !i.link.is_supported() {
                return Step::Fail(NgError::UnsupportedLinkType(i.link.dlt()));
            }
            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            (
                i,
                ts_to_nanos(units, i.resolution, i.offset),
                place(epb.packet_data()),
            )
        }
        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
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
        addr,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::ts_to_nanos;
    use crate::time::Timestamp;

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
