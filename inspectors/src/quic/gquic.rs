//! Google QUIC before Q050: the client's CHLO in the clear.
//!
//! Contract: [`client_hello`] takes one client datagram. When it carries a Google QUIC
//! version below Q050 (the Q043 public header with its version flag, or the Q046 long
//! header), the crypto stream's first message is a plaintext CHLO: the tag `CHLO`, a
//! little-endian entry count and padding, then (tag, end offset) pairs and the values
//! they delimit. The CHLO is found by its tag in the datagram (the frame layout
//! before it differs between versions) and its table read with every offset checked:
//! the server name (`SNI`) and user agent (`UAID`) come back as Suricata's `quic`
//! logger writes them for gQUIC. Q050 and later encrypt the CHLO (not read here).
//! Nothing allocates but the two returned strings; nothing panics on any input.

/// What a gQUIC CHLO says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleHello {
    /// The version (`0x5130_3436` for Q046).
    pub version: u32,
    /// The server name (`SNI` tag).
    pub sni: Option<String>,
    /// The user agent (`UAID` tag).
    pub ua: Option<String>,
}

/// Most entries a CHLO may list.
const MAX_ENTRIES: usize = 128;

/// The Google QUIC version a client datagram carries in the clear, below Q050.
pub fn clear_version(d: &[u8]) -> Option<u32> {
    let b0 = *d.first()?;
    let at = if b0 & 0x80 == 0 {
        // Q043 public header: version flag and an 8-byte connection id
        if b0 & 0x09 != 0x09 {
            return None;
        }
        9
    } else {
        1
    };
    let v = u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?);
    let [q, zero, hi, lo] = v.to_be_bytes();
    let n = u32::from(hi.wrapping_sub(b'0')) * 10 + u32::from(lo.wrapping_sub(b'0'));
    (q == b'Q' && zero == b'0' && hi.is_ascii_digit() && lo.is_ascii_digit() && n < 50).then_some(v)
}

/// The CHLO of a client datagram of a Google QUIC version below Q050.
pub fn client_hello(d: &[u8]) -> Option<GoogleHello> {
    let version = clear_version(d)?;
    let start = d.windows(4).position(|w| w == b"CHLO")?;
    let (sni, ua) = chlo(d.get(start..)?)?;
    Some(GoogleHello { version, sni, ua })
}

/// The server name and user agent of a complete CHLO message at the start of `m`
/// (Q050 carries it in its decrypted CRYPTO stream); `None` when `m` is not one or
/// is not complete yet.
pub fn chlo(m: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let m = m.strip_prefix(b"CHLO")?;
    let entries = usize::from(u16::from_le_bytes(m.get(..2)?.try_into().ok()?));
    if entries == 0 || entries > MAX_ENTRIES {
        return None;
    }
    let table = m.get(4..4 + 8 * entries)?;
    let values = m.get(4 + 8 * entries..)?;
    let (mut sni, mut ua) = (None, None);
    let mut from = 0usize;
    for e in table.chunks_exact(8) {
        let end = u32::from_le_bytes(e[4..8].try_into().ok()?) as usize;
        let value = values.get(from..end)?;
        from = end;
        match &e[..4] {
            b"SNI\0" => sni = Some(String::from_utf8_lossy(value).into_owned()),
            b"UAID" => ua = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
    }
    Some((sni, ua))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CHLO with PAD, SNI and UAID entries.
    fn chlo() -> Vec<u8> {
        let mut m = b"CHLO\x03\x00\x00\x00".to_vec();
        for (tag, end) in [(b"PAD\0", 4u32), (b"SNI\0", 4 + 15), (b"UAID", 4 + 15 + 6)] {
            m.extend_from_slice(tag);
            m.extend_from_slice(&end.to_le_bytes());
        }
        m.extend_from_slice(b"----www.youtube.comChrome");
        m
    }

    fn q043(msg: &[u8]) -> Vec<u8> {
        let mut p = vec![0x09];
        p.extend_from_slice(&[0x51; 8]);
        p.extend_from_slice(b"Q043");
        p.extend_from_slice(&[0x01; 13]); // packet number, message authentication hash
        p.extend_from_slice(&[0xa0, 0x01, 0x04, 0x00]); // stream frame
        p.extend_from_slice(msg);
        p
    }

    #[test]
    fn a_q043_chlo_gives_its_server_name_and_user_agent() {
        let h = client_hello(&q043(&chlo())).unwrap();
        assert_eq!(h.version, 0x5130_3433);
        assert_eq!(h.sni.as_deref(), Some("www.youtube.com"));
        assert_eq!(h.ua.as_deref(), Some("Chrome"));
    }

    #[test]
    fn a_q046_long_header_chlo_is_read_too() {
        let mut p = vec![0xc3];
        p.extend_from_slice(b"Q046");
        p.extend_from_slice(&[0x50; 26]);
        p.extend_from_slice(&chlo());
        assert_eq!(
            client_hello(&p).unwrap().sni.as_deref(),
            Some("www.youtube.com")
        );
    }

    #[test]
    fn later_versions_and_broken_tables_give_nothing() {
        let mut p = q043(&chlo());
        p[9..13].copy_from_slice(b"Q050");
        assert_eq!(client_hello(&p), None);
        p[9..13].copy_from_slice(b"T043");
        assert_eq!(client_hello(&p), None);
        // Offsets past the end, going backwards, or too many entries.
        let mut c = chlo();
        c[20..24].copy_from_slice(&999u32.to_le_bytes());
        assert_eq!(client_hello(&q043(&c)), None);
        let mut c = chlo();
        c[20..24].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(client_hello(&q043(&c)), None);
        let mut c = chlo();
        c[4] = 200;
        assert_eq!(client_hello(&q043(&c)), None);
        // Every truncation is refused or read without a panic.
        let whole = q043(&chlo());
        for n in 0..whole.len() {
            let _ = client_hello(&whole[..n]);
        }
    }
}
