//! Industrial-control curses: Modbus/TCP (MBAP header), DNP3 (link header with its
//! CRC), EtherNet/IP (encapsulation header).
//!
//! Contract: reads the fixed headers only; answers as every curse. Modbus and ENIP
//! headers are weak alone, so the book binds them to their standard ports (as
//! Suricata does); DNP3's header CRC makes it strong on any port.

use super::{arr, be16, ensure, hit, le16, le32, lit, u8_at, Cast, Ctx};
use crate::wizard::Side;

/// DNP3's CRC (CRC-16/DNP).
const DNP_CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_DNP);

/// An MBAP header: protocol 0, a length of 2 to 254, a public or user function code
/// (an exception response sets the top bit).
pub(crate) fn modbus(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(be16(d, 2)? == 0)?;
    ensure((2..=254).contains(&be16(d, 4)?))?;
    let function = u8_at(d, 7)? & 0x7f;
    ensure(matches!(
        function,
        1..=8 | 11 | 12 | 15..=17 | 20..=24 | 43 | 65..=72 | 100..=110
    ))?;
    hit("modbus", Side::Either)
}

/// A DNP3 link header: `05 64`, length of at least 5, and a matching CRC. The DIR bit
/// of the control byte marks the master (the client).
pub(crate) fn dnp3(d: &[u8], _ctx: &Ctx) -> Cast {
    lit(d, 0, &[0x05, 0x64])?;
    ensure(u8_at(d, 2)? >= 5)?;
    let header = arr::<8>(d, 0)?;
    ensure(DNP_CRC.checksum(&header) == le16(d, 8)?)?;
    let from_master = header[3] & 0x80 != 0;
    hit(
        "dnp3",
        if from_master {
            Side::Client
        } else {
            Side::Server
        },
    )
}

/// An EtherNet/IP encapsulation header: a known command, a known status, zero options;
/// over UDP the length must fill the datagram.
pub(crate) fn enip(d: &[u8], ctx: &Ctx) -> Cast {
    let command = le16(d, 0)?;
    ensure(matches!(
        command,
        0x0000 | 0x0004 | 0x0063 | 0x0064 | 0x0065 | 0x0066 | 0x006f | 0x0070 | 0x0072 | 0x0073
    ))?;
    let len = usize::from(le16(d, 2)?);
    ensure(matches!(
        le32(d, 8)?,
        0 | 1 | 2 | 3 | 0x64 | 0x65 | 0x69 | 0x6a
    ))?;
    ensure(le32(d, 20)? == 0)?;
    if ctx.udp {
        ensure(24 + len == d.len())?;
    }
    hit("enip", Side::Either)
}

/// First bytes of an ENIP command (little-endian low byte).
pub(crate) fn enip_first(b: u8) -> bool {
    matches!(b, 0x00 | 0x04 | 0x63..=0x66 | 0x6f | 0x70 | 0x72 | 0x73)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dnp3_crc_is_crc16_dnp() {
        // the catalogue check value of CRC-16/DNP
        assert_eq!(super::DNP_CRC.checksum(b"123456789"), 0xea82);
    }
}
