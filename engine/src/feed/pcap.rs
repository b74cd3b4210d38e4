//! Capture files: classic pcap (read like libpcap, see `feed::legacy`) and pcapng
//! (see `feed::pcapng`), told apart by their magic number, both parsed in place in a
//! read buffer or, by default for regular files, in the file mapped into memory (see
//! [`ReadMode`]).
//!
//! Contract: [`PcapFile::next_packet`] yields each packet once, borrowing the reader's
//! buffer until the next call, with its packet time and link type; [`PcapFile::read_batch`]
//! hands up to [`BATCH`] of them over together. Both read modes yield the same packets
//! and errors. A file problem (not
//! a capture, empty, cut short, corrupt) is a [`FeedError`] naming the file, the byte
//! offset and how many packets were read before it; the packets already returned stay
//! valid. A record whose captured length exceeds the snapshot length is cut to it, as
//! libpcap does, and counted. A capture of a link type the decoder does not read is
//! refused with one [`FeedError::UnsupportedLinkType`] rather than yielding packets
//! that could only be counted as decode errors.

use super::buffer::{ReadBuf, ReadMode};
use super::legacy::{is_legacy_magic, LegacyError, LegacyReader, Next, Record, MAX_SNAPLEN};
use super::pcapng::{NgError, NgNext, NgReader};
use super::{FeedError, Packet};
use crate::decode::LinkType;
use crate::time::Timestamp;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

const PCAPNG_MAGIC: u32 = 0x0a0d_0d0a;

/// Counters of a feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Records whose captured length exceeded the snapshot length (cut to it).
    pub caplen_over_snaplen: u64,
}

enum Inner {
    Legacy(LegacyReader),
    Ng(NgReader),
}

/// An open capture file.
pub struct PcapFile {
    path: PathBuf,
    inner: Inner,
    stats: FeedStats,
    size: u64,
    /// An error found while filling a batch, reported by the next call.
    pending: Option<FeedError>,
}

impl std::fmt::Debug for PcapFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapFile")
            .field("path", &self.path)
            .field("position", &self.position())
            .finish()
    }
}

impl PcapFile {
    /// Opens a capture and reads its header ([`ReadMode::Auto`]: mapped when it can
    /// be).
    pub fn open(path: &Path) -> Result<PcapFile, FeedError> {
        Self::open_with(path, ReadMode::Auto)
    }

    /// Opens a capture, read as `mode` says, and reads its header.
    pub fn open_with(path: &Path, mode: ReadMode) -> Result<PcapFile, FeedError> {
        let p = || path.to_path_buf();
        let open = || File::open(path).map_err(|source| FeedError::Open { path: p(), source });
        let mut file = open()?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size == 0 {
            return Err(FeedError::Empty { path: p() });
        }
        let mut magic = [0u8; 4];
        if file.read_exact(&mut magic).is_err() {
            return Err(FeedError::Truncated {
                path: p(),
                offset: 0,
                packets: 0,
            });
        }
        let magic = u32::from_le_bytes(magic);
        let truncated = || FeedError::Truncated {
            path: p(),
            offset: 0,
            packets: 0,
        };
        let inner = if magic == PCAPNG_MAGIC {
            Inner::Ng(
                NgReader::open(ReadBuf::open(open()?, mode)).map_err(|e| match e {
                    NgError::Truncated => truncated(),
                    NgError::Read => FeedError::Read {
                        path: p(),
                        offset: 0,
                        packets: 0,
                    },
                    NgError::Corrupt(detail) => FeedError::Corrupt {
                        path: p(),
                        offset: 0,
                        packets: 0,
                        detail,
                    },
                    NgError::UnsupportedLinkType(dlt) => FeedError::UnsupportedLinkType {
                        path: p(),
                        dlt,
                        packets: 0,
                    },
                })?,
            )
        } else if is_legacy_magic(magic) {
            match LegacyReader::open(ReadBuf::open(open()?, mode)) {
                Ok(Some(r)) if !r.link.is_supported() => {
                    return Err(FeedError::UnsupportedLinkType {
                        path: p(),
                        dlt: r.link.dlt(),
                        packets: 0,
                    })
                }
                Ok(Some(r)) => Inner::Legacy(r),
                Ok(None) => return Err(truncated()),
                Err(_) => {
                    return Err(FeedError::Read {
                        path: p(),
                        offset: 0,
                        packets: 0,
                    })
                }
            }
        } else {
            return Err(FeedError::NotACapture { path: p(), magic });
        };
        Ok(PcapFile {
            path: p(),
            inner,
            stats: FeedStats::default(),
            size,
            pending: None,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        match &self.inner {
            Inner::Legacy(r) => r.position(),
            Inner::Ng(r) => r.position(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> FeedStats {
        self.stats
    }

    /// True when the file is read mapped into memory rather than through `read` calls.
    pub fn is_mapped(&self) -> bool {
        match &self.inner {
            Inner::Legacy(r) => r.is_mapped(),
            Inner::Ng(r) => r.is_mapped(),
        }
    }

    /// The mapped file's bytes, shared between threads (`None` when the file is read
    /// through a buffer): every packet this file yields lies in them, so a packet
    /// can be handed to another thread as its place there, without a copy
    /// ([`Workers::push_batch_shared`](crate::Workers::push_batch_shared)). The map
    /// lives as long as any clone does, even after the file is dropped.
    pub fn shared_bytes(&self) -> Option<super::SharedBytes> {
        match &self.inner {
            Inner::Legacy(r) => r.shared(),
            Inner::Ng(r) => r.shared(),
        }
    }

    /// File offset of the next record to parse (past those handed out in a batch).
    fn cursor_position(&self) -> u64 {
        match &self.inner {
            Inner::Legacy(r) => r.cursor_position(),
            Inner::Ng(r) => r.cursor_position(),
        }
    }

    /// The buffer packet places point into.
    fn bytes(&self) -> &[u8] {
        match &self.inner {
            Inner::Legacy(r) => r.bytes(),
            Inner::Ng(r) => r.bytes(),
        }
    }

    fn fail(&self, kind: Fail) -> FeedError {
        let (path, offset, packets) = (self.path.clone(), self.position(), self.stats.packets);
        match kind {
            Fail::Truncated => FeedError::Truncated {
                path,
                offset,
                packets,
            },
            Fail::Read => FeedError::Read {
                path,
                offset,
                packets,
            },
            Fail::Corrupt(detail) => FeedError::Corrupt {
                path,
                offset,
                packets,
                detail,
            },
            Fail::UnsupportedLinkType(dlt) => FeedError::UnsupportedLinkType { path, dlt, packets },
        }
    }

    /// Finds the next packet: plain values, no borrow of the buffer. Without `fresh`
    /// (the rest of a batch) only already-buffered bytes are used and `None` may just
    /// mean "none buffered".
    #[inline]
    fn locate(&mut self, fresh: bool) -> Result<Option<Located>, Fail> {
        match &mut self.inner {
            Inner::Legacy(r) => match r.next(fresh) {
                Ok(Next::Record(rec)) => Ok(Some(Located {
                    ts: rec.ts,
                    link: r.link,
                    start: rec.start,
                    len: rec.len,
                    cut: rec.cut,
                })),
                Ok(Next::End | Next::Wait) => Ok(None),
                Err(e) => Err(legacy_fail(e)),
            },
            Inner::Ng(r) => match r.next(fresh) {
                Ok(NgNext::Packet(found)) => {
                    let snap = match found.iface.snaplen {
                        0 => MAX_SNAPLEN,
                        s => s.min(MAX_SNAPLEN),
                    } as usize;
                    let range = found.range();
                    let cut = range.len() > snap;
                    Ok(Some(Located {
                        ts: found.ts,
                        link: found.iface.link,
                        start: range.start,
                        len: range.len().min(snap),
                        cut,
                    }))
                }
                Ok(NgNext::End | NgNext::Wait) => Ok(None),
                Err(NgError::Truncated) => Err(Fail::Truncated),
                Err(NgError::Read) => Err(Fail::Read),
                Err(NgError::Corrupt(d)) => Err(Fail::Corrupt(d)),
                Err(NgError::UnsupportedLinkType(dlt)) => Err(Fail::UnsupportedLinkType(dlt)),
            },
        }
    }

    /// The next packet, `Ok(None)` at the end of the file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, FeedError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let l = match self.locate(true) {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(None),
            Err(kind) => return Err(self.fail(kind)),
        };
        if self.bytes().get(l.start..l.start + l.len).is_none() {
            return Err(self.fail(Fail::Corrupt("packet outside the read buffer")));
        }
        self.stats.caplen_over_snaplen += u64::from(l.cut);
        self.stats.packets += 1;
        self.stats.bytes += l.len as u64;
        Ok(Some(Packet {
            ts: l.ts,
            link: l.link,
            data: &self.bytes()[l.start..l.start + l.len],
        }))
    }

    /// Reads up to [`BATCH`] packets and hands them to `f` together, in capture order
    /// (the packets already buffered, or mapped). Returns how many were read: 0 at the
    /// end of the file. A file error after some packets is returned by the following
    /// call.
    pub fn read_batch(&mut self, f: &mut dyn FnMut(&[Packet<'_>])) -> Result<usize, FeedError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if let Inner::Legacy(r) = &mut self.inner {
            // Classic pcap: the records of a batch parsed in one loop.
            let mut recs = [Record::default(); BATCH];
            let n = match r.next_batch(&mut recs) {
                Ok(n) => n,
                Err(e) => return Err(self.fail(legacy_fail(e))),
            };
            let (bytes, link) = (r.bytes(), r.link);
            let mut pkts = [Packet {
                ts: Timestamp::ZERO,
                link,
                data: &[],
            }; BATCH];
            let (mut cut, mut total) = (0, 0);
            for (p, rec) in pkts.iter_mut().zip(&recs[..n]) {
                // In the buffer by construction; an empty packet otherwise.
                p.data = bytes.get(rec.start..rec.start + rec.len).unwrap_or(&[]);
                p.ts = rec.ts;
                cut += u64::from(rec.cut);
                total += p.data.len() as u64;
            }
            f(&pkts[..n]);
            self.stats.caplen_over_snaplen += cut;
            self.stats.bytes += total;
            self.stats.packets += n as u64;
            return Ok(n);
        }
        let mut locs = [Located::default(); BATCH];
        let mut n = 0;
        while n < BATCH {
            let kind = match self.locate(n == 0) {
                Ok(Some(l)) => {
                    locs[n] = l;
                    n += 1;
                    continue;
                }
                Ok(None) => break,
                Err(kind) => kind,
            };
            if n == 0 {
                return Err(self.fail(kind));
            }
            // Reported by the next call, naming where the bad record starts (past the
            // good records of this batch) and counting those records as read.
            let offset = self.cursor_position();
            let mut e = self.fail(kind);
            set_place(&mut e, offset, self.stats.packets + n as u64);
            self.pending = Some(e);
            break;
        }
        let bytes = self.bytes();
        let mut pkts = [Packet {
            ts: Timestamp::ZERO,
            link: LinkType::Ethernet,
            data: &[],
        }; BATCH];
        let mut len = 0;
        let (mut cut, mut total) = (0, 0);
        for l in &locs[..n] {
            let Some(data) = bytes.get(l.start..l.start + l.len) else {
                continue;
            };
            cut += u64::from(l.cut);
            total += data.len() as u64;
            pkts[len] = Packet {
                ts: l.ts,
                link: l.link,
                data,
            };
            len += 1;
        }
        f(&pkts[..len]);
        self.stats.caplen_over_snaplen += cut;
        self.stats.bytes += total;
        self.stats.packets += len as u64;
        Ok(n)
    }
}

/// Most packets [`PcapFile::read_batch`] hands over at once.
pub const BATCH: usize = 32;

/// Where a packet lies in [`PcapFile::bytes`], and what it is.
#[derive(Clone, Copy, Debug)]
struct Located {
    ts: Timestamp,
    link: LinkType,
    start: usize,
    len: usize,
    /// Cut to the snapshot length.
    cut: bool,
}

impl Default for Located {
    fn default() -> Self {
        Located {
            ts: Timestamp::ZERO,
            link: LinkType::Ethernet,
            start: 0,
            len: 0,
            cut: false,
        }
    }
}

/// Sets where an error happened and how many packets came before it.
fn set_place(e: &mut FeedError, at: u64, count: u64) {
    match e {
        FeedError::Truncated {
            offset, packets, ..
        }
        | FeedError::Corrupt {
            offset, packets, ..
        }
        | FeedError::Read {
            offset, packets, ..
        } => {
            *offset = at;
            *packets = count;
        }
        FeedError::UnsupportedLinkType { packets, .. } => *packets = count,
        _ => {}
    }
}

fn legacy_fail(e: LegacyError) -> Fail {
    match e {
        LegacyError::Truncated => Fail::Truncated,
        LegacyError::Read => Fail::Read,
        LegacyError::TooLong(_) => Fail::Corrupt("a record claims more than 262144 captured bytes"),
    }
}

enum Fail {
    Truncated,
    Read,
    Corrupt(&'static str),
    UnsupportedLinkType(u32),
}
