//! RPC curses: NFS (an ONC RPC call to program 100003, over UDP or behind TCP record
//! marking) and DCE/RPC (connection-oriented v5 over TCP, connectionless v4 over UDP).
//!
//! Contract: reads the fixed RPC headers only; answers as every curse. An ONC RPC
//! reply names nothing (without its call it could be any program).

use super::{be16, be32, ensure, hit, le16, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// ONC RPC program number of NFS.
const NFS_PROGRAM: u32 = 100_003;

/// An ONC RPC call to NFS as one datagram.
pub(crate) fn nfs_udp(d: &[u8], _ctx: &Ctx) -> Cast {
    nfs_call(d)
}

/// An ONC RPC call to NFS behind its 4-byte record mark.
pub(crate) fn nfs_tcp(d: &[u8], _ctx: &Ctx) -> Cast {
    let len = be32(d, 0)? & 0x7fff_ffff;
    ensure((40..=1 << 24).contains(&len))?;
    nfs_call(d.get(4..).unwrap_or_default())
}

/// First byte of a record mark (the last-fragment bit is set in the common case, but
/// a call may be split into fragments).
pub(crate) fn nfs_tcp_first(b: u8) -> bool {
    b & 0x7f == 0
}

fn nfs_call(m: &[u8]) -> Cast {
    ensure(be32(m, 4)? == 0)?; // CALL
    ensure(be32(m, 8)? == 2)?; // RPC version
    ensure(be32(m, 12)? == NFS_PROGRAM)?;
    let version = be32(m, 16)?;
    ensure((2..=4).contains(&version))?;
    let procedure = be32(m, 20)?;
    ensure(procedure <= if version == 4 { 1 } else { 21 })?;
    // credential: AUTH_NONE, AUTH_SYS, AUTH_SHORT, AUTH_DH, RPCSEC_GSS
    ensure(matches!(be32(m, 24)?, 0 | 1 | 2 | 3 | 6))?;
    ensure(be32(m, 28)? <= 400)?;
    hit("nfs", Side::Client)
}

/// Reads a u16 in the byte order of the DCE/RPC data representation.
fn drep16(d: &[u8], at: usize, little: bool) -> Result<u16, Miss> {
    if little {
        le16(d, at)
    } else {
        be16(d, at)
    }
}

/// A connection-oriented DCE/RPC v5 PDU header.
pub(crate) fn dcerpc_tcp(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? == 5)?;
    ensure(u8_at(d, 1)? <= 1)?;
    let side = match u8_at(d, 2)? {
        0 | 11 | 14 | 16 | 18 | 19 => Side::Client, // request, bind, alter_context, auth3, cancel, orphaned
        2 | 3 | 12 | 13 | 15 | 17 => Side::Server, // response, fault, bind_ack, bind_nak, alter_context_resp, shutdown
        _ => return Err(Miss::No),
    };
    u8_at(d, 3)?; // pfc_flags
    let drep = u8_at(d, 4)?;
    ensure(drep & 0xee == 0)?;
    ensure(u8_at(d, 5)? <= 3 && u8_at(d, 6)? == 0 && u8_at(d, 7)? == 0)?;
    let little = drep & 0x10 != 0;
    let frag = drep16(d, 8, little)?;
    let auth = drep16(d, 10, little)?;
    ensure(frag >= 16 && u32::from(auth) + 16 <= u32::from(frag))?;
    hit("dcerpc", side)
}

/// A connectionless DCE/RPC v4 PDU filling its datagram (80-byte header + body).
pub(crate) fn dcerpc_udp(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? == 4)?;
    let side = match u8_at(d, 1)? {
        0 | 1 | 8 => Side::Client,              // request, ping, cancel
        2 | 3 | 4 | 5 | 6 | 10 => Side::Server, // response, fault, working, nocall, reject, cancel_ack
        7 | 9 => Side::Either,                  // ack, fack
        _ => return Err(Miss::No),
    };
    let drep = u8_at(d, 4)?;
    ensure(drep & 0xee == 0)?;
    ensure(u8_at(d, 5)? <= 3 && u8_at(d, 6)? == 0)?;
    let frag = drep16(d, 74, drep & 0x10 != 0)?;
    ensure(80 + usize::from(frag) == d.len())?;
    hit("dcerpc", side)
}
