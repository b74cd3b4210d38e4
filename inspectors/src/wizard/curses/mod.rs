//! Curses: small checks for protocols that need more than a prefix to be named.
//!
//! Contract: a curse is a plain function of the bytes seen so far at the start of one
//! direction (a whole datagram over UDP) and a [`Ctx`] (transport and ports). It
//! returns `Ok(Hit)` with the service and which side sends such a message, or
//! `Err(Miss::No)` when no continuation of the bytes can be that protocol, or
//! `Err(Miss::More)` when the bytes so far fit but are too few to decide. Curses read
//! through the bounds-checked helpers below (never index), never allocate, never
//! loop without a bound, and never recurse.

pub(crate) mod answers;
pub(crate) mod asn1;
pub(crate) mod datagram;
pub(crate) mod dns;
pub(crate) mod ics;
pub(crate) mod rpc;
pub(crate) mod stores;
pub(crate) mod text;
pub(crate) mod tls;
pub(crate) mod windows;

use super::Side;

/// Why a pattern did not name a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// No continuation of these bytes can match.
    No,
    /// The bytes so far match; more are needed to decide.
    More,
}

/// A match: the service and the side that sends such a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    /// The EVE `app_proto` name.
    pub service: &'static str,
    /// Who sends this message.
    pub side: Side,
}

/// What a curse concluded.
pub(crate) type Cast = Result<Hit, Miss>;

/// A curse's view of its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ctx {
    /// The bytes are one whole datagram (UDP): lengths must add up exactly.
    pub udp: bool,
    /// The port of the side taken for the client.
    pub client_port: u16,
    /// The port of the side taken for the server.
    pub server_port: u16,
}

/// A TCP flow from port 40000 to 8080 (no port any rule hints at), for curse tests.
#[cfg(test)]
pub(crate) const TCP_CTX: Ctx = Ctx {
    udp: false,
    client_port: 40000,
    server_port: 8080,
};

impl Ctx {
    /// Is either port one of `ports`?
    pub(crate) fn port_in(&self, ports: &[u16]) -> bool {
        ports.contains(&self.server_port) || ports.contains(&self.client_port)
    }
}

/// A curse: its check, and which first bytes it can start with (for the index).
#[derive(Clone, Copy)]
pub(crate) struct Curse {
    /// A short name (for debugging and docs).
    pub name: &'static str,
    /// The check.
    pub check: fn(&[u8], &Ctx) -> Cast,
    /// Can a match start with this byte?
    pub first: fn(u8) -> bool,
}

impl std::fmt::Debug for Curse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A hit for `service` sent by `side`.
pub(crate) fn hit(service: &'static str, side: Side) -> Cast {
    Ok(Hit { service, side })
}

/// `No` unless `cond`.
#[inline]
pub(crate) fn ensure(cond: bool) -> Result<(), Miss> {
    if cond {
        Ok(())
    } else {
        Err(Miss::No)
    }
}

/// The byte at `at`, or `More`.
#[inline]
pub(crate) fn u8_at(d: &[u8], at: usize) -> Result<u8, Miss> {
    d.get(at).copied().ok_or(Miss::More)
}

/// `N` bytes at `at`, or `More`.
#[inline]
pub(crate) fn arr<const N: usize>(d: &[u8], at: usize) -> Result<[u8; N], Miss> {
    let end = at.checked_add(N).ok_or(Miss::No)?;
    let s = d.get(at..end).ok_or(Miss::More)?;
    let mut out = [0u8; N];
    out.copy_from_slice(s);
    Ok(out)
}

/// Big-endian u16 at `at`.
#[inline]
pub(crate) fn be16(d: &[u8], at: usize) -> Result<u16, Miss> {
    arr::<2>(d, at).map(u16::from_be_bytes)
}

/// Big-endian u32 at `at`.
#[inline]
pub(crate) fn be32(d: &[u8], at: usize) -> Result<u32, Miss> {
    arr::<4>(d, at).map(u32::from_be_bytes)
}

/// Little-endian u16 at `at`.
#[inline]
pub(crate) fn le16(d: &[u8], at: usize) -> Result<u16, Miss> {
    arr::<2>(d, at).map(u16::from_le_bytes)
}

/// Little-endian u32 at `at`.
#[inline]
pub(crate) fn le32(d: &[u8], at: usize) -> Result<u32, Miss> {
    arr::<4>(d, at).map(u32::from_le_bytes)
}

/// Does `d` at `at` start with `lit` as far as `d` goes? `No` on a difference,
/// `More` when `d` ends inside `lit`.
pub(crate) fn lit(d: &[u8], at: usize, lit: &[u8]) -> Result<(), Miss> {
    let have = d.get(at..).unwrap_or_default();
    let n = have.len().min(lit.len());
    ensure(have.get(..n) == lit.get(..n))?;
    if n < lit.len() {
        Err(Miss::More)
    } else {
        Ok(())
    }
}

/// As [`lit`], ASCII case ignored (`lit` in lowercase).
pub(crate) fn lit_ci(d: &[u8], at: usize, lit: &[u8]) -> Result<(), Miss> {
    let have = d.get(at..).unwrap_or_default();
    let n = have.len().min(lit.len());
    let same = have
        .iter()
        .zip(lit)
        .take(n)
        .all(|(a, b)| a.to_ascii_lowercase() == *b);
    ensure(same)?;
    if n < lit.len() {
        Err(Miss::More)
    } else {
        Ok(())
    }
}

/// Any first byte.
pub(crate) fn any_byte(_: u8) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_say_more_at_the_end_and_never_panic() {
        let d = [1u8, 2, 3];
        assert_eq!(be16(&d, 1), Ok(0x0203));
        assert_eq!(be16(&d, 2), Err(Miss::More));
        assert_eq!(be32(&d, usize::MAX), Err(Miss::No));
        assert_eq!(le16(&d, 0), Ok(0x0201));
        assert_eq!(le32(&d, 0), Err(Miss::More));
        assert_eq!(u8_at(&d, 3), Err(Miss::More));
        assert_eq!(lit(&d, 1, &[2, 3, 4]), Err(Miss::More));
        assert_eq!(lit(&d, 1, &[2, 4]), Err(Miss::No));
        assert_eq!(lit(&d, 9, &[1]), Err(Miss::More));
        assert_eq!(lit_ci(b"HeLLo", 0, b"hello"), Ok(()));
    }
}
