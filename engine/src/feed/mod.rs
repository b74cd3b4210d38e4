//! Feeds: where packets come from: capture files (pcap and pcapng), read through a
//! buffer or mapped into memory ([`ReadMode`]); and, on Linux, the conntrack table's
//! events ([`conntrack`], feature `conntrack`).
//!
//! Contract: a feed yields [`Packet`]s in capture order, each borrowing the feed's
//! buffer until the next one. File-level problems are [`FeedError`]s that say which
//! file, at which byte offset, after how many packets; they never lose what was read
//! before them.

mod buffer;
#[cfg(all(feature = "conntrack", target_os = "linux"))]
pub mod conntrack;
mod legacy;
pub mod pcap;
mod pcapng;
mod shared;

pub use buffer::ReadMode;
pub use pcap::{FeedStats, PcapFile, BATCH};
pub use shared::SharedBytes;

use crate::decode::LinkType;
use crate::time::Timestamp;
use std::path::PathBuf;

/// One captured frame.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// Link-layer type of `data`.
    pub link: LinkType,
    /// The captured bytes, from the link-layer header on. Their length is what the
    /// flow's byte counters add (as Suricata's EVE and nDPI count).
    pub data: &'a [u8],
}

/// A problem with a capture file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// The file cannot be opened.
    #[error("{}: cannot open: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{}: empty file (zero bytes), not a capture", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with a pcap or pcapng magic number.
    #[error("{}: not a pcap or pcapng file (starts with 0x{magic:08x})", path.display())]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// Its first four bytes, little-endian.
        magic: u32,
    },
    /// The file ends in the middle of a header or packet record.
    #[error("{}: truncated: the file ends inside a record at byte {offset} (after {packets} packets)", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the cut record starts.
        offset: u64,
        /// Packets read before it.
        packets: u64,
    },
    /// A record cannot be parsed.
    #[error("{}: corrupt at byte {offset} (after {packets} packets): {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
        /// Packets read before it.
        packets: u64,
        /// What is wrong.
        detail: &'static str,
    },
    /// The capture's link type is not one the decoder reads: classic pcap files are
    /// refused when opened, pcapng files at the first packet of such an interface.
    #[error("{}: unsupported link type {dlt}{}", path.display(), linktype_suffix(*dlt))]
    UnsupportedLinkType {
        /// The file.
        path: PathBuf,
        /// The pcap `LINKTYPE_*` number.
        dlt: u32,
        /// Packets read before it.
        packets: u64,
    },
    /// Reading failed.
    #[error("{}: read error at byte {offset} (after {packets} packets)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// Packets read before it.
        packets: u64,
    },
}

/// " (LINKTYPE_NAME)" for the link types a capture of an unsupported type is most
/// likely to carry (libpcap's names), "" for the others.
fn linktype_suffix(dlt: u32) -> String {
    let name = match dlt {
        3 => "AX25",
        6 => "IEEE802_5",
        8 => "SLIP",
        10 => "FDDI",
        11 => "ATM_RFC1483",
        107 => "FRELAY",
        119 => "PRISM_HEADER",
        147..=162 => return format!(" (LINKTYPE_USER{})", dlt - 147),
        163 => "IEEE802_11_AVS",
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        195 => "IEEE802_15_4_WITHFCS",
        201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
        215 => "IEEE802_15_4_NONASK_PHY",
        220 => "USB_LINUX_MMAPPED",
        227 => "CAN_SOCKETCAN",
        249 => "PFSYNC",
        253 => "NETLINK",
        254 => "BLUETOOTH_LINUX_MONITOR",
        _ => return String::new(),
    };
    format!(" (LINKTYPE_{name})")
}

#[cfg(test)]
mod tests;
