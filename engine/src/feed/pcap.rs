//! Capture files: classic pcap (read like libpcap, see `feed::legacy`) and pcapng
//! (through rusticata's `pcap-parser`, see `feed::pcapng`), told apart by their
//! magic number.
//!
//! Contract: [`PcapFile::next_packet`] yields each packet once, borrowing the reader's
//! buffer until the next call, with its packet time and link type. A file problem (not
//! a capture, empty, cut short, corrupt) is a [`FeedError`] naming the file, the byte
//! offset and how many packets were read before it; the packets already returned stay
//! valid. A record whose captured length exceeds the snapshot length is cut to it, as
//! libpcap does, and counted. A capture of a link type the decoder does not read is
//! refused with one [`FeedError::UnsupportedLinkType`] rather than yielding packets
//! that could only be counted as decode errors.

use super::legacy::{is_legacy_magic, LegacyError, LegacyReader, Next, Record, MAX_SNAPLEN};
use super::pcapng::{NgError, NgReader};
use super::{FeedError, Packet};
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
    /// Opens a capture and reads its header.
    pub fn open(path: &Path) -> Result<PcapFile, FeedError> {
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
            Inner::Ng(NgReader::open(open()?).map_err(|e| match e {
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
            })?)
        } else if is_legacy_magic(magic) {
            match LegacyReader::open(open()?) {
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
    fn locate(&mut self, fresh: bool) -> Result<Option<Located>, Fail> {
        match &mut self.inner {
            Inner::Legacy(r) => match r.next(fresh) {
                Ok(Next::Record(rec)) => Ok(Some(Located::Legacy(rec))),
                Ok(Next::End | Next::Wait) => Ok(None),
                Err(e) => Err(legacy_fail(e)),
            },
            Inner::Ng(_) if !fresh => Ok(None),
            Inner::Ng(r) => match r.next() {
                Ok(Some(found)) => Ok(Some(Located::Ng(found))),
                Ok(None) => Ok(None),
                Err(NgError::Truncated) => Err(Fail::Truncated),
                Err(NgError::Read) => Err(Fail::Read),
                Err(NgError::Corrupt(d)) => Err(Fail::Corrupt(d)),
                Err(NgError::UnsupportedLinkType(dlt)) => Err(Fail::UnsupportedLinkType(dlt)),
            },
        }
    }

    /// The packet a [`locate`](Self::locate) found, and whether it was cut to the
    /// snapshot length.
    fn packet_of<'s>(inner: &'s Inner, l: &Located) -> Option<(Packet<'s>, bool)> {
        match (inner, l) {
            (Inner::Legacy(r), Located::Legacy(rec)) => Some((
                Packet {
                    ts: rec.ts,
                    link: r.link,
                    data: r.bytes().get(rec.range())?,
                },
                rec.cut,
            )),
            (Inner::Ng(r), Located::Ng(found)) => {
                let snap = match found.iface.snaplen {
                    0 => MAX_SNAPLEN,
                    s => s.min(MAX_SNAPLEN),
                } as usize;
                let d = r.data(found)?;
                let (data, cut) = if d.len() > snap {
                    (&d[..snap], true)
                } else {
                    (d, false)
                };
                Some((
                    Packet {
                        ts: found.ts,
                        link: found.iface.link,
                        data,
                    },
                    cut,
                ))
            }
            _ => None,
        }
    }

    /// The next packet, `Ok(None)` at the end of the file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, FeedError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let located = match self.locate(true) {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(None),
            Err(kind) => return Err(self.fail(kind)),
        };
        let Some((pkt, cut)) = Self::packet_of(&self.inner, &located) else {
            return Err(self.fail(Fail::Corrupt("packet outside the read buffer")));
        };
        self.stats.caplen_over_snaplen += u64::from(cut);
        self.stats.packets += 1;
        self.stats.bytes += pkt.data.len() as u64;
        Ok(Some(pkt))
    }

    /// Reads up to [`BATCH`] packets and hands them to `f` together, in capture order
    /// (classic pcap: the packets already buffered; pcapng: one at a time). Returns how
    /// many were read: 0 at the end of the file. A file error after some packets is
    /// returned by the following call.
    pub fn read_batch(&mut self, f: &mut dyn FnMut(&[Packet<'_>])) -> Result<usize, FeedError> {
        if !matches!(self.inner, Inner::Legacy(_)) {
            return match self.next_packet()? {
                Some(pkt) => {
                    f(std::slice::from_ref(&pkt));
                    Ok(1)
                }
                None => Ok(0),
            };
        }
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let mut recs = [Record::default(); BATCH];
        let mut n = 0;
        if let Inner::Legacy(reader) = &mut self.inner {
            while n < BATCH {
                let kind = match reader.next(n == 0) {
                    Ok(Next::Record(r)) => {
                        recs[n] = r;
                        n += 1;
                        continue;
                    }
                    Ok(Next::End | Next::Wait) => break,
                    Err(e) => legacy_fail(e),
                };
                if n == 0 {
                    return Err(self.fail(kind));
                }
                // Reported by the next call, naming where the bad record starts (past
                // the good records of this batch) and counting those records as read.
                let offset = reader.cursor_position();
                let mut e = self.fail(kind);
                set_place(&mut e, offset, self.stats.packets + n as u64);
                self.pending = Some(e);
                break;
            }
        }
        let Inner::Legacy(reader) = &self.inner else {
            return Ok(0);
        };
        let bytes = reader.bytes();
        let mut pkts = [Packet {
            ts: crate::time::Timestamp::ZERO,
            link: reader.link,
            data: &[],
        }; BATCH];
        let mut len = 0;
        for r in &recs[..n] {
            let Some(data) = bytes.get(r.range()) else {
                continue;
            };
            self.stats.caplen_over_snaplen += u64::from(r.cut);
            self.stats.bytes += data.len() as u64;
            pkts[len].ts = r.ts;
            pkts[len].data = data;
            len += 1;
        }
        self.stats.packets += len as u64;
        f(&pkts[..len]);
        Ok(n)
    }
}

/// Most packets [`PcapFile::read_batch`] hands over at once.
pub const BATCH: usize = 32;

enum Located {
    Legacy(super::legacy::Record),
    Ng(super::pcapng::Found),
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
