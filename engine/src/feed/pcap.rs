//! Capture files: classic pcap (read like libpcap, see [`super::legacy`]) and pcapng
//! (through rusticata's `pcap-parser`, see [`super::pcapng`]), told apart by their
//! magic number.
//!
//! Contract: [`PcapFile::next_packet`] yields each packet once, borrowing the reader's
//! buffer until the next call, with its packet time and link type. A file problem (not
//! a capture, empty, cut short, corrupt) is a [`FeedError`] naming the file, the byte
//! offset and how many packets were read before it; the packets already returned stay
//! valid. A record whose captured length exceeds the snapshot length is cut to it, as
//! libpcap does, and counted.

use super::legacy::{is_legacy_magic, LegacyError, LegacyReader, MAX_SNAPLEN};
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
            })?)
        } else if is_legacy_magic(magic) {
            match LegacyReader::open(open()?) {
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
        }
    }

    /// The next packet, `Ok(None)` at the end of the file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, FeedError> {
        // First find the packet (plain values), then borrow its bytes.
        let located = match &mut self.inner {
            Inner::Legacy(r) => match r.next() {
                Ok(Some(rec)) => Ok(Some(Located::Legacy(rec))),
                Ok(None) => Ok(None),
                Err(LegacyError::Truncated) => Err(Fail::Truncated),
                Err(LegacyError::Read) => Err(Fail::Read),
                Err(LegacyError::TooLong(_)) => Err(Fail::Corrupt(
                    "a record claims more than 262144 captured bytes",
                )),
            },
            Inner::Ng(r) => match r.next() {
                Ok(Some(found)) => Ok(Some(Located::Ng(found))),
                Ok(None) => Ok(None),
                Err(NgError::Truncated) => Err(Fail::Truncated),
                Err(NgError::Read) => Err(Fail::Read),
                Err(NgError::Corrupt(d)) => Err(Fail::Corrupt(d)),
            },
        };
        let located = match located {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(None),
            Err(kind) => return Err(self.fail(kind)),
        };
        let (ts, link, data, cut) = match (&self.inner, located) {
            (Inner::Legacy(r), Located::Legacy(rec)) => {
                (rec.ts, r.link, &r.bytes()[rec.data], rec.cut)
            }
            (Inner::Ng(r), Located::Ng(found)) => {
                let snap = match found.iface.snaplen {
                    0 => MAX_SNAPLEN,
                    s => s.min(MAX_SNAPLEN),
                } as usize;
                match r.data(&found) {
                    Some(d) if d.len() > snap => (found.ts, found.iface.link, &d[..snap], true),
                    Some(d) => (found.ts, found.iface.link, d, false),
                    None => return Err(self.fail(Fail::Corrupt("packet outside the read buffer"))),
                }
            }
            _ => return Err(self.fail(Fail::Corrupt("reader state mismatch"))),
        };
        if cut {
            self.stats.caplen_over_snaplen += 1;
        }
        self.stats.packets += 1;
        self.stats.bytes += data.len() as u64;
        Ok(Some(Packet { ts, link, data }))
    }
}

enum Located {
    Legacy(super::legacy::Record),
    Ng(super::pcapng::Found),
}

enum Fail {
    Truncated,
    Read,
    Corrupt(&'static str),
}
