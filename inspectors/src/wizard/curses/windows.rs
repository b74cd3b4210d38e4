//! Windows-family curses: SMB over NetBIOS session service (SMB1 `\xffSMB`, SMB2/3
//! `\xfeSMB`, transform `\xfdSMB`, compression `\xfcSMB`), the NetBIOS session
//! request that opens SMB on port 139, and RDP's X.224 connection request/confirm.
//!
//! Contract: reads at most the NetBIOS header and the SMB header's flags, or one
//! TPKT; answers as every curse.

use super::{be16, ensure, hit, le16, le32, lit, u8_at, Cast, Ctx, Miss};
use crate::wizard::Side;

/// An SMB message behind its NetBIOS session header: the reply flag (SMB1 flags bit
/// 0x80, SMB2 `SERVER_TO_REDIR`) tells who sent it.
pub(crate) fn smb(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? == 0x00)?; // session message
    let hi = u8_at(d, 1)?;
    ensure(hi & 0xfe == 0)?;
    let len = u32::from(hi) << 16 | u32::from(be16(d, 2)?);
    ensure(len >= 32)?;
    let magic = u8_at(d, 4)?;
    ensure(magic >= 0xfc)?;
    lit(d, 5, b"SMB")?;
    match magic {
        0xff => {
            let reply = u8_at(d, 4 + 9)? & 0x80 != 0;
            hit("smb", if reply { Side::Server } else { Side::Client })
        }
        0xfe => {
            ensure(le16(d, 4 + 4)? == 64)?; // StructureSize
            let reply = le32(d, 4 + 16)? & 1 != 0;
            hit("smb", if reply { Side::Server } else { Side::Client })
        }
        _ => hit("smb", Side::Either),
    }
}

/// A NetBIOS session request (0x81) with two first-level encoded names.
pub(crate) fn nbss_request(d: &[u8], _ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? == 0x81)?;
    ensure(u8_at(d, 1)? == 0)?;
    ensure(be16(d, 2)? == 68)?;
    ensure(u8_at(d, 4)? == 0x20)?;
    for i in 5..37 {
        ensure((b'A'..=b'P').contains(&u8_at(d, i)?))?;
    }
    hit("smb", Side::Client)
}

/// RDP's first message: TPKT (version 3) holding an X.224 Connection Request (client)
/// with a `Cookie: ` (`mstshash=` or routing token) or an RDP negotiation request, or
/// a Connection Confirm (server) with a negotiation response or failure. An X.224
/// request or confirm with no RDP part counts on port 3389 only (other ISO-on-TCP
/// protocols, such as S7 on port 102, send the same header with their own parameters).
pub(crate) fn rdp(d: &[u8], ctx: &Ctx) -> Cast {
    ensure(u8_at(d, 0)? == 3 && u8_at(d, 1)? == 0)?;
    let tpkt = usize::from(be16(d, 2)?);
    ensure(tpkt >= 11)?;
    ensure(usize::from(u8_at(d, 4)?) + 5 == tpkt)?;
    let side = match u8_at(d, 5)? {
        0xe0 => Side::Client,
        0xd0 => Side::Server,
        _ => return Err(Miss::No),
    };
    if side == Side::Client {
        ensure(be16(d, 6)? == 0)?; // DST-REF
    }
    ensure(u8_at(d, 10)? & 0xf0 == 0)?; // class 0
    let var = tpkt - 11;
    if var == 0 {
        ensure(ctx.port_in(&[3389]))?;
        return hit("rdp", side);
    }
    match (side, u8_at(d, 11)?) {
        (Side::Client, b'C') => lit(d, 11, b"Cookie: ")?,
        (Side::Client, 0x01) | (Side::Server, 0x02 | 0x03) => {
            ensure(var == 8)?;
            lit(d, 13, &[0x08, 0x00])?;
        }
        _ => return Err(Miss::No),
    }
    hit("rdp", side)
}
