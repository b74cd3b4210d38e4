//! A classic pcap writer (little-endian, microsecond or nanosecond timestamps).
//!
//! Contract: [`PcapWriter`] writes a valid file header and one record per packet,
//! with `caplen == len` unless told otherwise; [`write_file`] writes a whole capture.

use std::io::{self, Write};
use std::path::Path;

/// Linux cooked capture v1.
pub const DLT_LINUX_SLL: u32 = 113;
/// Ethernet.
pub const DLT_EN10MB: u32 = 1;
/// Raw IP.
pub const DLT_RAW: u32 = 101;

/// Writes a classic pcap stream.
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header (version 2.4, the given link type and snapshot length).
    pub fn new(mut out: W, linktype: u32, snaplen: u32, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.write_all(&magic.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&snaplen.to_le_bytes())?;
        out.write_all(&linktype.to_le_bytes())?;
        Ok(PcapWriter { out, nanos })
    }

    /// Writes one packet stamped `ts_nanos` (nanoseconds since the epoch).
    pub fn write(&mut self, ts_nanos: u64, data: &[u8]) -> io::Result<()> {
        self.write_record(ts_nanos, data, data.len() as u32, data.len() as u32)
    }

    /// Writes one record with explicit captured and original lengths (the bytes
    /// written are `data`, whatever `caplen` claims: for crafting broken files).
    pub fn write_record(
        &mut self,
        ts_nanos: u64,
        data: &[u8],
        caplen: u32,
        len: u32,
    ) -> io::Result<()> {
        let secs = (ts_nanos / 1_000_000_000) as u32;
        let frac = if self.nanos {
            (ts_nanos % 1_000_000_000) as u32
        } else {
            ((ts_nanos % 1_000_000_000) / 1_000) as u32
        };
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&frac.to_le_bytes())?;
        self.out.write_all(&caplen.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(data)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes `packets` (nanosecond time, frame) as an Ethernet microsecond pcap at `path`.
pub fn write_file(path: &Path, linktype: u32, packets: &[(u64, Vec<u8>)]) -> io::Result<()> {
    let f = io::BufWriter::new(std::fs::File::create(path)?);
    let mut w = PcapWriter::new(f, linktype, 65535, false)?;
    for (ts, data) in packets {
        w.write(*ts, data)?;
    }
    w.finish()?;
    Ok(())
}

/// The bytes of a capture in memory.
pub fn to_bytes(linktype: u32, packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), linktype, 65535, false).expect("vec");
    for (ts, data) in packets {
        w.write(*ts, data).expect("vec");
    }
    w.finish().expect("vec")
}
