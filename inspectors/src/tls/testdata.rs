//! Test builders: TLS messages as real clients and servers send them, byte for byte
//! (records, handshake messages, hellos with their extensions, a Certificate message
//! and a small DER certificate built field by field). Shared by the TLS and QUIC tests.

/// `u16` big-endian.
pub fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

/// A vector with a 1-, 2- or 3-byte big-endian length prefix.
pub fn with_len(len_bytes: usize, body: &[u8]) -> Vec<u8> {
    let n = body.len() as u32;
    let mut v = n.to_be_bytes()[4 - len_bytes..].to_vec();
    v.extend_from_slice(body);
    v
}

/// A TLS record.
pub fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![content_type, 3, 3];
    v.extend_from_slice(&be16(payload.len() as u16));
    v.extend_from_slice(payload);
    v
}

/// Handshake records of at most `max` payload bytes each, carrying `messages`.
pub fn handshake_records(messages: &[u8], max: usize) -> Vec<u8> {
    messages.chunks(max).flat_map(|c| record(22, c)).collect()
}

/// A handshake message: type, 24-bit length, body.
pub fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![msg_type];
    v.extend(with_len(3, body));
    v
}

/// An extension TLV.
pub fn ext(ty: u16, data: &[u8]) -> (u16, Vec<u8>) {
    (ty, data.to_vec())
}

/// server_name with one host_name.
pub fn ext_sni(name: &str) -> (u16, Vec<u8>) {
    let mut entry = vec![0u8];
    entry.extend(with_len(2, name.as_bytes()));
    ext(0, &with_len(2, &entry))
}

/// ALPN with the given protocols.
pub fn ext_alpn(protos: &[&[u8]]) -> (u16, Vec<u8>) {
    let list: Vec<u8> = protos.iter().flat_map(|p| with_len(1, p)).collect();
    ext(16, &with_len(2, &list))
}

/// A list of u16 with a 2-byte length (supported_groups, signature_algorithms).
pub fn u16_list(values: &[u16]) -> Vec<u8> {
    let b: Vec<u8> = values.iter().flat_map(|v| be16(*v)).collect();
    with_len(2, &b)
}

/// supported_versions as a client sends it.
pub fn ext_versions(values: &[u16]) -> (u16, Vec<u8>) {
    let b: Vec<u8> = values.iter().flat_map(|v| be16(*v)).collect();
    ext(43, &with_len(1, &b))
}

/// A ClientHello body.
pub fn client_hello(
    version: u16,
    session_id: &[u8],
    ciphers: &[u16],
    exts: &[(u16, Vec<u8>)],
) -> Vec<u8> {
    let mut b = be16(version).to_vec();
    b.extend((0u8..32).map(|i| i.wrapping_mul(7)));
    b.extend(with_len(1, session_id));
    b.extend(u16_list(ciphers));
    b.extend([1, 0]);
    let e: Vec<u8> = exts
        .iter()
        .flat_map(|(t, d)| {
            let mut v = be16(*t).to_vec();
            v.extend(with_len(2, d));
            v
        })
        .collect();
    b.extend(with_len(2, &e));
    b
}

/// A ServerHello body.
pub fn server_hello(session_id: &[u8], cipher: u16, exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = be16(0x0303).to_vec();
    b.extend((0u8..32).map(|i| i.wrapping_mul(13)));
    b.extend(with_len(1, session_id));
    b.extend(be16(cipher));
    b.push(0);
    let e: Vec<u8> = exts
        .iter()
        .flat_map(|(t, d)| {
            let mut v = be16(*t).to_vec();
            v.extend(with_len(2, d));
            v
        })
        .collect();
    b.extend(with_len(2, &e));
    b
}

/// An x25519 key_share entry as a client sends it.
pub fn ext_key_share() -> (u16, Vec<u8>) {
    let mut entry = be16(0x001d).to_vec();
    entry.extend(with_len(2, &[0x42; 32]));
    ext(51, &with_len(2, &entry))
}

/// The ClientHello of the FoxIO JA4 documentation's example (technical_details/JA4.md:
/// its 15 ciphers, 16 extensions and 8 signature algorithms, in the listed order),
/// as a Chrome-like client sends it: with GREASE values in the cipher, extension,
/// supported_versions and supported_groups lists. SNI `sni`.
pub fn foxio_client_hello(sni: &str) -> Vec<u8> {
    let ciphers = [
        0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
        0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
    ];
    let sigs = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let exts = vec![
        ext(0x1a1a, &[]),
        ext(0x001b, &[2, 0, 2]),
        ext_sni(sni),
        ext_key_share(),
        ext_alpn(&[b"h2", b"http/1.1"]),
        ext(0x4469, &[0, 3, 2, b'h', b'2']),
        ext(0x0017, &[]),
        ext(0x002d, &[1, 1]),
        ext(0x000d, &u16_list(&sigs)),
        ext(0x0005, &[1, 0, 0, 0, 0]),
        ext(0x0023, &[]),
        ext(0x0012, &[]),
        ext_versions(&[0x3a3a, 0x0304, 0x0303]),
        ext(0xff01, &[0]),
        ext(0x000b, &[1, 0]),
        ext(0x000a, &u16_list(&[0x4a4a, 0x001d, 0x0017, 0x0018])),
        ext(0x0015, &[0; 16]),
        ext(0x2a2a, &[0]),
    ];
    client_hello(0x0303, &[0x55; 32], &ciphers, &exts)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend([0x81, n as u8]);
    } else {
        v.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn name(c: &str, o: &str, cn: &str) -> Vec<u8> {
    let rdn = |oid: &[u8], tag: u8, value: &str| {
        der(0x31, &seq(&[der(0x06, oid), der(tag, value.as_bytes())]))
    };
    seq(&[
        rdn(&[0x55, 0x04, 0x06], 0x13, c),
        rdn(&[0x55, 0x04, 0x0a], 0x0c, o),
        rdn(&[0x55, 0x04, 0x03], 0x0c, cn),
    ])
}

/// A small X.509 v3 certificate, built field by field: serial `1F:2E:3D:4C:5B`,
/// ecdsa-with-SHA256, issuer `C=US, O=Example CA, CN=Example Issuing CA`, subject
/// `C=US, O=Example Org, CN=www.example.com`, valid from 2024-01-01T00:00:00 to
/// 2034-12-31T23:59:59, a P-256 key. Its signature bytes are filler: nothing checks
/// them. Its SHA-1 (computed once with `sha1sum`) is
/// `0f:a6:f0:bf:e1:ef:c8:a1:d0:47:f6:12:9f:1f:cf:07:05:d0:b4:3e`.
pub fn certificate_der() -> Vec<u8> {
    let ecdsa_sha256 = seq(&[der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]);
    let mut point = vec![0x00, 0x04];
    point.extend((0u8..64).map(|i| i.wrapping_mul(3).wrapping_add(1)));
    let spki = seq(&[
        seq(&[
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        ]),
        der(0x03, &point),
    ]);
    let tbs = seq(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &[0x1f, 0x2e, 0x3d, 0x4c, 0x5b]),
        ecdsa_sha256.clone(),
        name("US", "Example CA", "Example Issuing CA"),
        seq(&[der(0x17, b"240101000000Z"), der(0x17, b"341231235959Z")]),
        name("US", "Example Org", "www.example.com"),
        spki,
    ]);
    let mut sig = vec![0x00];
    sig.extend(seq(&[der(0x02, &[0x11; 32]), der(0x02, &[0x22; 32])]));
    seq(&[tbs, ecdsa_sha256, der(0x03, &sig)])
}

/// A Certificate handshake body holding `certs`.
pub fn certificate_msg(certs: &[Vec<u8>]) -> Vec<u8> {
    let list: Vec<u8> = certs.iter().flat_map(|c| with_len(3, c)).collect();
    with_len(3, &list)
}
