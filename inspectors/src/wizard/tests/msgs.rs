//! The first messages real clients and servers send, built byte by byte.

/// A BER element: `tag`, definite length (short or long form), `content`.
pub fn ber(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn be16(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

fn be32(v: usize) -> [u8; 4] {
    (v as u32).to_be_bytes()
}

/// A DNS name in wire form.
pub fn dns_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

pub const HTTP_GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
pub const HTTP_POST: &[u8] = b"POST /api/v1/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
pub const HTTP_OPTIONS: &[u8] = b"OPTIONS * HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
pub const HTTP_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nDate: Mon, 27 Jul 2009 12:28:53 GMT\r\nServer: Apache\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
pub const WEBSOCKET_UPGRADE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The HTTP/2 connection preface followed by an empty SETTINGS frame.
pub fn http2_preface() -> Vec<u8> {
    cat(&[
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        &[0, 0, 0, 0x04, 0, 0, 0, 0, 0],
    ])
}

/// A TLS 1.2-framed ClientHello offering TLS 1.3, with SNI `host`.
pub fn tls_client_hello(host: &str) -> Vec<u8> {
    let sni_name = cat(&[&[0], &be16(host.len()), host.as_bytes()]);
    let sni_list = cat(&[&be16(sni_name.len()), &sni_name]);
    let sni = cat(&[&[0, 0], &be16(sni_list.len()), &sni_list]);
    let versions = [0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03];
    let groups = [0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d];
    let exts = cat(&[&sni, &versions, &groups]);
    let body = cat(&[
        &[0x03, 0x03],
        &[0x5a; 32],
        &[32],
        &[0xa5; 32],
        &[0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f],
        &[0x01, 0x00],
        &be16(exts.len()),
        &exts,
    ]);
    let hs = cat(&[&[0x01, 0, (body.len() >> 8) as u8, body.len() as u8], &body]);
    cat(&[&[0x16, 0x03, 0x01], &be16(hs.len()), &hs])
}

/// A TLS 1.3 ServerHello.
pub fn tls_server_hello() -> Vec<u8> {
    let exts = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
    let body = cat(&[
        &[0x03, 0x03],
        &[0x11; 32],
        &[0],
        &[0x13, 0x01],
        &[0x00],
        &be16(exts.len()),
        &exts,
    ]);
    let hs = cat(&[&[0x02, 0, 0, body.len() as u8], &body]);
    cat(&[&[0x16, 0x03, 0x03], &be16(hs.len()), &hs])
}

/// An SSLv2-compatible ClientHello (old clients).
pub fn sslv2_client_hello() -> Vec<u8> {
    let ciphers = [0x00, 0x00, 0x04, 0x01, 0x00, 0x80, 0x00, 0x00, 0x2f];
    let body = cat(&[
        &[0x01, 0x03, 0x01],
        &be16(ciphers.len()),
        &[0x00, 0x00],
        &[0x00, 0x10],
        &ciphers,
        &[0x77; 16],
    ]);
    cat(&[&[0x80 | (body.len() >> 8) as u8, body.len() as u8], &body])
}

/// A recursive A query for `name` with an EDNS OPT record, as `dig` sends it.
pub fn dns_query(name: &str) -> Vec<u8> {
    cat(&[
        &[0xbe, 0xef, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1],
        &dns_name(name),
        &[0, 1, 0, 1],
        &[0, 0, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0],
    ])
}

/// The answer to [`dns_query`]: one A record by compression pointer.
pub fn dns_response(name: &str) -> Vec<u8> {
    cat(&[
        &[0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0],
        &dns_name(name),
        &[0, 1, 0, 1],
        &[
            0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34,
        ],
    ])
}

/// A message behind DNS-over-TCP's 2-byte length.
pub fn tcp_framed(m: &[u8]) -> Vec<u8> {
    cat(&[&be16(m.len()), m])
}

/// A QUIC v1 (or `version`) client Initial padded to 1200 bytes.
pub fn quic_initial(version: u32) -> Vec<u8> {
    let first = if version == 0x6b33_43cf { 0xd3 } else { 0xc3 };
    let mut p = cat(&[
        &[first],
        &version.to_be_bytes(),
        &[8, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08],
        &[0],
        &[0],
    ]);
    let len = 1200 - p.len() - 2;
    p.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    p.resize(1200, 0x6c);
    p
}

/// A Google QUIC Q043 client hello packet (public header with version).
pub fn gquic_q043() -> Vec<u8> {
    let mut p = cat(&[&[0x09], &[0x51; 8], b"Q043", &[0x01]]);
    p.resize(1350, 0);
    p
}

/// A QUIC version negotiation from the server: version 0, the client's connection
/// ids echoed, then the versions it supports (v1, v2 and a reserved one).
pub fn quic_version_negotiation() -> Vec<u8> {
    cat(&[
        &[0xa7, 0, 0, 0, 0],
        &[8, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08],
        &[4, 0x11, 0x22, 0x33, 0x44],
        &1u32.to_be_bytes(),
        &0x6b33_43cfu32.to_be_bytes(),
        &0x1a2a_3a4au32.to_be_bytes(),
    ])
}

/// An LLMNR query (DNS's format on port 5355) for `RO_X1C`, ANY, whose id 0xa000
/// starts it like a QUIC long header with version 0.
pub fn llmnr_query() -> Vec<u8> {
    cat(&[
        &[0xa0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        &dns_name("RO_X1C"),
        &[0, 0xff, 0, 1],
    ])
}

/// A QUIC short-header packet as a flow picked up after its handshake carries it:
/// fixed bit, an 8-byte connection id, then ciphertext.
pub fn quic_short_header() -> Vec<u8> {
    let mut p = cat(&[&[0x53], &[0xdf, 0xc0, 0xfe, 0x62, 0xc6, 0x40, 0x77, 0x3c]]);
    p.extend((0..34u8).map(|i| i.wrapping_mul(97) ^ 0x5a));
    p
}

/// A classic STUN (RFC 3489) Binding request: no magic cookie, one CHANGE-REQUEST
/// attribute (no flags).
pub fn stun_classic_request() -> Vec<u8> {
    cat(&[&[0, 1, 0, 8], &[0x94; 16], &[0, 3, 0, 4, 0, 0, 0, 0]])
}

/// A classic STUN Binding response: MAPPED-ADDRESS, SOURCE-ADDRESS and
/// CHANGED-ADDRESS, IPv4.
pub fn stun_classic_response() -> Vec<u8> {
    let addr = |kind: u8| [0, kind, 0, 8, 0, 1, 0xd7, 0x0a, 172, 16, 63, 224];
    cat(&[&[1, 1, 0, 36], &[0x94; 16], &addr(1), &addr(4), &addr(5)])
}

/// A TLS 1.2 encrypted alert as a CBC cipher with SHA-384 sends it: 80 bytes (IV,
/// alert, MAC, padding), the first record a flow picked up mid-stream may see.
pub fn tls_encrypted_alert(len: usize) -> Vec<u8> {
    let mut p = cat(&[&[0x15, 3, 3], &be16(len)]);
    p.extend((0..len).map(|i| (i as u8).wrapping_mul(31) ^ 0x2f));
    p
}

pub const SSH_CLIENT: &[u8] = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n";
pub const SSH_SERVER_199: &[u8] = b"SSH-1.99-Cisco-1.25\r\n";
pub const SMTP_BANNER: &[u8] = b"220 mail.example.org ESMTP Postfix (Ubuntu)\r\n";
pub const SMTP_EHLO: &[u8] = b"EHLO client.example.com\r\n";
pub const IMAP_BANNER: &[u8] = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Ubuntu) ready.\r\n";
pub const IMAP_CAPABILITY: &[u8] = b"a001 CAPABILITY\r\n";
pub const POP3_BANNER: &[u8] = b"+OK Dovecot (Ubuntu) ready.\r\n";
pub const POP3_CAPA: &[u8] = b"CAPA\r\n";
pub const FTP_BANNER: &[u8] = b"220 (vsFTPd 3.0.5)\r\n";
pub const FTP_FILEZILLA: &[u8] =
    b"220-FileZilla Server 1.8.0\r\n220 Please visit https://filezilla-project.org/\r\n";
pub const FTP_USER: &[u8] = b"USER anonymous\r\n";
pub const FTP_AUTH_TLS: &[u8] = b"AUTH TLS\r\n";
pub const USER_ALICE: &[u8] = b"USER alice\r\n";
pub const SIP_INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710@pc33.atlanta.example.com\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n";
pub const SIP_REGISTER: &[u8] = b"REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/TCP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\nCSeq: 1826 REGISTER\r\nContent-Length: 0\r\n\r\n";
pub const SIP_OK: &[u8] = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n";
pub const RTSP_OPTIONS: &[u8] = b"OPTIONS rtsp://192.168.1.10:554/stream1 RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: LibVLC/3.0.20 (LIVE555 Streaming Media v2016.11.28)\r\n\r\n";
pub const RTSP_DESCRIBE: &[u8] = b"DESCRIBE rtsp://192.168.1.10:554/stream1 RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n";
pub const RTSP_OK: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE\r\n\r\n";
pub const REDIS_PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
pub const REDIS_SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
pub const REDIS_INLINE_PING: &[u8] = b"PING\r\n";
pub const REDIS_DENIED: &[u8] =
    b"-DENIED Redis is running in protected mode because protected mode is enabled\r\n";
pub const TELNET_DO: &[u8] = &[
    0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20, 0xff, 0xfd, 0x23, 0xff, 0xfd, 0x27,
];
pub const DHT_PING: &[u8] = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
pub const DHT_PONG: &[u8] = b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re";
pub const DHT_ERROR: &[u8] = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";

/// A DHCPDISCOVER from 00:16:3e:12:34:56.
pub fn dhcp_discover() -> Vec<u8> {
    let mut p = cat(&[
        &[1, 1, 6, 0],
        &[0x39, 0x03, 0xf3, 0x26],
        &[0, 0, 0x80, 0],
        &[0; 16],
        &[0x00, 0x16, 0x3e, 0x12, 0x34, 0x56],
    ]);
    p.resize(236, 0);
    p.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    p.extend_from_slice(&[53, 1, 1, 55, 4, 1, 3, 6, 15, 255]);
    p
}

/// An NTPv4 client request (mode 3) with its transmit timestamp.
pub fn ntp_request() -> Vec<u8> {
    let mut p = vec![0x23, 0, 6, 0xec];
    p.resize(40, 0);
    p.extend_from_slice(&[0xe9, 0x2a, 0x6b, 0x11, 0x4c, 0x8a, 0x20, 0x00]);
    p
}

/// An NTPv4 server reply (mode 4, stratum 2).
pub fn ntp_reply() -> Vec<u8> {
    let mut p = vec![0x24, 2, 6, 0xe9];
    p.resize(48, 0x41);
    p
}

/// An SNMPv2c GetRequest for sysDescr.0 with community `public`.
pub fn snmp_get() -> Vec<u8> {
    let varbind = ber(
        0x30,
        &cat(&[&ber(0x06, &[0x2b, 6, 1, 2, 1, 1, 1, 0]), &[0x05, 0x00]]),
    );
    let pdu = ber(
        0xa0,
        &cat(&[
            &ber(0x02, &[0x12, 0x34, 0x56, 0x78]),
            &[0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
            &ber(0x30, &varbind),
        ]),
    );
    ber(
        0x30,
        &cat(&[&[0x02, 0x01, 0x01], &ber(0x04, b"public"), &pdu]),
    )
}

/// An SNMPv2c GetResponse.
pub fn snmp_response() -> Vec<u8> {
    let varbind = ber(
        0x30,
        &cat(&[
            &ber(0x06, &[0x2b, 6, 1, 2, 1, 1, 1, 0]),
            &ber(0x04, b"Linux"),
        ]),
    );
    let pdu = ber(
        0xa2,
        &cat(&[
            &ber(0x02, &[0x12, 0x34, 0x56, 0x78]),
            &[0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
            &ber(0x30, &varbind),
        ]),
    );
    ber(
        0x30,
        &cat(&[&[0x02, 0x01, 0x01], &ber(0x04, b"public"), &pdu]),
    )
}

/// An MQTT 3.1.1 CONNECT (clean session, keep-alive 60) from client `mosq-test`.
pub fn mqtt_connect(level: u8) -> Vec<u8> {
    let mut var = cat(&[&[0, 4], b"MQTT", &[level, 0x02, 0, 60]]);
    if level == 5 {
        var.push(0); // no properties
    }
    let payload = cat(&[&be16(9), b"mosq-test"]);
    let rest = cat(&[&var, &payload]);
    cat(&[&[0x10, rest.len() as u8], &rest])
}

/// An MQTT 3.1 CONNECT (`MQIsdp`).
pub fn mqtt_connect_v31() -> Vec<u8> {
    let rest = cat(&[&[0, 6], b"MQIsdp", &[3, 0x02, 0, 60], &be16(4), b"abcd"]);
    cat(&[&[0x10, rest.len() as u8], &rest])
}

/// An RDP X.224 Connection Request with a `mstshash` cookie and a negotiation request.
pub fn rdp_request() -> Vec<u8> {
    let var = cat(&[
        b"Cookie: mstshash=Administr\r\n",
        &[0x01, 0x00, 0x08, 0x00, 0x03, 0, 0, 0],
    ]);
    let x224 = cat(&[&[(6 + var.len()) as u8, 0xe0, 0, 0, 0, 0, 0], &var]);
    cat(&[&[3, 0], &be16(4 + x224.len()), &x224])
}

/// The RDP server's X.224 Connection Confirm selecting TLS.
pub fn rdp_confirm() -> Vec<u8> {
    vec![
        3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 0x02, 0x00, 0x08, 0x00, 0x01, 0, 0, 0,
    ]
}

/// An S7comm (ISO-on-TCP, port 102) COTP Connection Request: same TPKT and X.224
/// header as RDP, with TSAP parameters.
pub fn s7_cotp_request() -> Vec<u8> {
    vec![
        3, 0, 0, 0x16, 0x11, 0xe0, 0, 0, 0, 0x01, 0, 0xc0, 0x01, 0x0a, 0xc1, 0x02, 0x01, 0x00,
        0xc2, 0x02, 0x01, 0x02,
    ]
}

/// An SMB2 NEGOTIATE request over NetBIOS.
pub fn smb2_negotiate() -> Vec<u8> {
    let mut hdr = cat(&[b"\xfeSMB", &[64, 0], &[0, 0], &[0; 4], &[0, 0], &[1, 0]]);
    hdr.extend_from_slice(&[0; 4]); // flags: a request
    hdr.resize(64, 0);
    let body = cat(&[
        &[36, 0],
        &[2, 0],
        &[1, 0],
        &[0, 0],
        &[0x7f, 0, 0, 0],
        &[0x22; 16],
        &[0; 8],
        &[0x02, 0x02, 0x10, 0x02],
    ]);
    let msg = cat(&[&hdr, &body]);
    cat(&[&[0], &[0], &be16(msg.len()), &msg])
}

/// An SMB2 NEGOTIATE response (server-to-redirector flag set).
pub fn smb2_negotiate_response() -> Vec<u8> {
    let mut hdr = cat(&[b"\xfeSMB", &[64, 0], &[0, 0], &[0; 4], &[0, 0], &[1, 0]]);
    hdr.extend_from_slice(&[1, 0, 0, 0]);
    hdr.resize(64, 0);
    let body = cat(&[&[65, 0], &[1, 0], &[0x10, 0x02]]);
    let msg = cat(&[&hdr, &body]);
    cat(&[&[0], &[0], &be16(msg.len()), &msg])
}

/// An SMB1 NEGOTIATE request offering `NT LM 0.12`.
pub fn smb1_negotiate() -> Vec<u8> {
    let mut hdr = cat(&[b"\xffSMB", &[0x72], &[0; 4], &[0x18], &[0x53, 0xc8]]);
    hdr.resize(32, 0);
    let dialects = b"\x02NT LM 0.12\x00";
    let body = cat(&[&[0], &(dialects.len() as u16).to_le_bytes(), dialects]);
    let msg = cat(&[&hdr, &body]);
    cat(&[&[0], &[0], &be16(msg.len()), &msg])
}

/// A NetBIOS session request (port 139) from `CLIENT` to `SERVER`.
pub fn nbss_session_request() -> Vec<u8> {
    fn encode(name: &str) -> Vec<u8> {
        let mut raw = name.as_bytes().to_vec();
        raw.resize(16, b' ');
        let mut out = vec![0x20];
        for b in raw {
            out.push(b'A' + (b >> 4));
            out.push(b'A' + (b & 0xf));
        }
        out.push(0);
        out
    }
    let body = cat(&[&encode("SERVER"), &encode("CLIENT")]);
    cat(&[&[0x81, 0], &be16(body.len()), &body])
}

/// A DCE/RPC bind (little-endian) for one context.
pub fn dcerpc_bind() -> Vec<u8> {
    let ctx = cat(&[
        &[0, 0, 1, 0],
        &[
            0x78, 0x57, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0, 0x01, 0x23, 0x45, 0x67, 0x89,
            0xab, 1, 0, 0, 0,
        ],
        &[
            0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10,
            0x48, 0x60, 2, 0, 0, 0,
        ],
    ]);
    let body = cat(&[&[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0], &[1, 0, 0, 0], &ctx]);
    let len = 16 + body.len();
    cat(&[
        &[5, 0, 11, 3, 0x10, 0, 0, 0],
        &(len as u16).to_le_bytes(),
        &[0, 0],
        &[1, 0, 0, 0],
        &body,
    ])
}

/// A DCE/RPC bind_ack (little-endian).
pub fn dcerpc_bind_ack() -> Vec<u8> {
    let body = cat(&[
        &[0xb8, 0x10, 0xb8, 0x10, 0x53, 0xf0, 0, 0],
        &[4, 0],
        b"135\0",
        &[0; 2],
        &[1, 0, 0, 0],
        &[0; 24],
    ]);
    let len = 16 + body.len();
    cat(&[
        &[5, 0, 12, 3, 0x10, 0, 0, 0],
        &(len as u16).to_le_bytes(),
        &[0, 0],
        &[1, 0, 0, 0],
        &body,
    ])
}

/// A connectionless DCE/RPC (v4) request with an 8-byte body.
pub fn dcerpc_udp_request() -> Vec<u8> {
    let mut h = vec![4, 0, 0x08, 0, 0x10, 0, 0, 0];
    h.resize(74, 0x33);
    h.extend_from_slice(&8u16.to_le_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h.extend_from_slice(&[0x44; 8]);
    h
}

fn kerberos_time(tag: u8) -> Vec<u8> {
    ber(tag, &ber(0x18, b"20370913024805Z"))
}

fn principal(kind: u8, names: &[&str]) -> Vec<u8> {
    let strings: Vec<u8> = names.iter().flat_map(|n| ber(0x1b, n.as_bytes())).collect();
    ber(
        0x30,
        &cat(&[
            &ber(0xa0, &[0x02, 0x01, kind]),
            &ber(0xa1, &ber(0x30, &strings)),
        ]),
    )
}

/// A Kerberos AS-REQ for `alice@EXAMPLE.COM`.
pub fn krb5_as_req() -> Vec<u8> {
    let body = ber(
        0x30,
        &cat(&[
            &ber(0xa0, &[0x03, 0x05, 0x00, 0x50, 0x80, 0x00, 0x00]),
            &ber(0xa1, &principal(1, &["alice"])),
            &ber(0xa2, &ber(0x1b, b"EXAMPLE.COM")),
            &ber(0xa3, &principal(2, &["krbtgt", "EXAMPLE.COM"])),
            &kerberos_time(0xa5),
            &ber(0xa7, &[0x02, 0x04, 0x1d, 0x2c, 0x3b, 0x4a]),
            &ber(0xa8, &ber(0x30, &[0x02, 0x01, 0x12, 0x02, 0x01, 0x11])),
        ]),
    );
    let req = ber(
        0x30,
        &cat(&[
            &ber(0xa1, &[0x02, 0x01, 0x05]),
            &ber(0xa2, &[0x02, 0x01, 0x0a]),
            &ber(0xa4, &body),
        ]),
    );
    ber(0x6a, &req)
}

/// A KRB-ERROR (PREAUTH_REQUIRED).
pub fn krb5_error() -> Vec<u8> {
    let err = ber(
        0x30,
        &cat(&[
            &ber(0xa0, &[0x02, 0x01, 0x05]),
            &ber(0xa1, &[0x02, 0x01, 0x1e]),
            &kerberos_time(0xa4),
            &ber(0xa5, &[0x02, 0x03, 0x01, 0x86, 0xa0]),
            &ber(0xa6, &[0x02, 0x01, 0x19]),
            &ber(0xa9, &ber(0x1b, b"EXAMPLE.COM")),
            &ber(0xaa, &principal(2, &["krbtgt", "EXAMPLE.COM"])),
        ]),
    );
    ber(0x7e, &err)
}

/// A message behind Kerberos-over-TCP's (and ONC RPC's) 4-byte length.
pub fn tcp_framed32(m: &[u8]) -> Vec<u8> {
    cat(&[&be32(m.len()), m])
}

/// An LDAPv3 anonymous simple bind.
pub fn ldap_bind() -> Vec<u8> {
    ber(
        0x30,
        &cat(&[
            &[0x02, 0x01, 0x01],
            &ber(0x60, &[0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]),
        ]),
    )
}

/// An LDAP bindResponse (success).
pub fn ldap_bind_response() -> Vec<u8> {
    ber(
        0x30,
        &cat(&[
            &[0x02, 0x01, 0x01],
            &ber(0x61, &[0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00]),
        ]),
    )
}

/// A root DSE search (as CLDAP pings and `ldapsearch -s base` send).
pub fn ldap_rootdse_search() -> Vec<u8> {
    let search = cat(&[
        &ber(0x04, b""),
        &[
            0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01,
            0x00,
        ],
        &ber(0x87, b"objectclass"),
        &ber(0x30, &ber(0x04, b"namingContexts")),
    ]);
    ber(0x30, &cat(&[&[0x02, 0x01, 0x02], &ber(0x63, &search)]))
}

/// A PostgreSQL startup message (protocol 3.0).
pub fn pgsql_startup() -> Vec<u8> {
    let params = b"user\0postgres\0database\0postgres\0application_name\0psql\0\0";
    cat(&[&be32(8 + params.len()), &[0, 3, 0, 0], params])
}

/// A Kafka Metadata request, version 2, from librdkafka: its API key 3 and version 2
/// read like PostgreSQL's protocol 3.2.
pub fn kafka_metadata_v2() -> Vec<u8> {
    let body = cat(&[
        &[0, 3, 0, 2],
        &[0, 0, 0, 0x82],
        &[0, 7],
        b"rdkafka",
        &[0, 0, 0, 1],
        &[0, 0x11],
        b"LB_MAIN_LOG_INPUT",
    ]);
    cat(&[&be32(body.len()), &body])
}

pub const PGSQL_SSL_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// A MySQL 8 server greeting.
pub fn mysql_greeting() -> Vec<u8> {
    let body = cat(&[
        &[10],
        b"8.0.36-0ubuntu0.22.04.1\0",
        &[0x0b, 0, 0, 0],
        &[0x3c, 0x41, 0x12, 0x5e, 0x08, 0x7a, 0x31, 0x4f],
        &[0],
        &[0xff, 0xff, 0xff, 0x02, 0x00, 0xff, 0xdf],
        &[21],
        &[0; 10],
        &[
            0x1c, 0x2b, 0x5d, 0x6e, 0x09, 0x44, 0x73, 0x11, 0x3a, 0x58, 0x25, 0x60, 0,
        ],
        b"caching_sha2_password\0",
    ]);
    cat(&[&[body.len() as u8, 0, 0, 0], &body])
}

/// Modbus/TCP: read 10 holding registers from unit 1.
pub const MODBUS_READ: &[u8] = &[0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10];

/// A DNP3 link-layer "request link status" from master 4 to outstation 1.
pub fn dnp3_link_status() -> Vec<u8> {
    let hdr = [0x05, 0x64, 0x05, 0xc9, 0x01, 0x00, 0x04, 0x00];
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_DNP).checksum(&hdr);
    cat(&[&hdr, &crc.to_le_bytes()])
}

/// An ENIP ListIdentity request (broadcast over UDP).
pub fn enip_list_identity() -> Vec<u8> {
    let mut p = vec![0x63, 0, 0, 0];
    p.resize(24, 0);
    p
}

/// An ENIP RegisterSession request (TCP).
pub fn enip_register_session() -> Vec<u8> {
    let mut p = vec![0x65, 0, 4, 0];
    p.resize(12, 0);
    p.extend_from_slice(b"sndrctx1");
    p.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
    p
}

/// A TFTP read request with a block-size option.
pub const TFTP_RRQ: &[u8] = b"\x00\x01pxelinux.0\x00octet\x00blksize\x001468\x00";

/// An ONC RPC call to NFS `version` procedure `proc` with AUTH_UNIX credentials.
pub fn nfs_call(version: u32, proc_: u32) -> Vec<u8> {
    let cred = cat(&[
        &be32(0x5f3a_2b1c),
        &be32(6),
        b"client\0\0",
        &be32(1000),
        &be32(1000),
        &be32(0),
    ]);
    cat(&[
        &be32(0x1234_5678),
        &be32(0),
        &be32(2),
        &be32(100_003),
        &version.to_be_bytes(),
        &proc_.to_be_bytes(),
        &be32(1),
        &be32(cred.len()),
        &cred,
        &be32(0),
        &be32(0),
        &be32(32),
        &[0xab; 32],
    ])
}

/// ONC RPC record marking: the last-fragment bit and the length.
pub fn rpc_record(m: &[u8]) -> Vec<u8> {
    cat(&[&((m.len() as u32) | 0x8000_0000).to_be_bytes(), m])
}

/// An IKEv2 IKE_SA_INIT request with a small SA payload.
pub fn ikev2_sa_init() -> Vec<u8> {
    let sa = cat(&[&[0, 0], &be16(12), &[0; 8]]);
    let len = 28 + sa.len();
    cat(&[
        &[0x86, 0x43, 0x30, 0x9d, 0x7a, 0x1e, 0x52, 0x01],
        &[0; 8],
        &[33, 0x20, 34, 0x08],
        &[0; 4],
        &be32(len),
        &sa,
    ])
}

/// An IKEv2 IKE_AUTH response (encrypted payload), as sent over NAT-T.
pub fn ikev2_auth_response() -> Vec<u8> {
    let sk = cat(&[&[0, 0], &be16(36), &[0x5c; 32]]);
    let len = 28 + sk.len();
    cat(&[
        &[0x86, 0x43, 0x30, 0x9d, 0x7a, 0x1e, 0x52, 0x01],
        &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
        &[46, 0x20, 35, 0x20],
        &[0, 0, 0, 1],
        &be32(len),
        &sk,
    ])
}

/// An IKEv1 Main Mode first message.
pub fn ikev1_main_mode() -> Vec<u8> {
    let sa = cat(&[&[0, 0], &be16(12), &[0, 0, 0, 1, 0, 0, 0, 1]]);
    let len = 28 + sa.len();
    cat(&[
        &[0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18],
        &[0; 8],
        &[1, 0x10, 2, 0],
        &[0; 4],
        &be32(len),
        &sa,
    ])
}

/// A STUN Binding request with SOFTWARE and FINGERPRINT attributes.
pub fn stun_binding_request() -> Vec<u8> {
    let attrs = cat(&[
        &[0x80, 0x22, 0, 8],
        b"test/1.0",
        &[0x80, 0x28, 0, 4, 0xde, 0xad, 0xbe, 0xef],
    ]);
    cat(&[
        &[0, 1],
        &be16(attrs.len()),
        &[0x21, 0x12, 0xa4, 0x42],
        &[0x0c; 12],
        &attrs,
    ])
}

/// A STUN Binding success response with XOR-MAPPED-ADDRESS.
pub fn stun_binding_response() -> Vec<u8> {
    let attrs = [0x00, 0x20, 0, 8, 0, 1, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43];
    cat(&[
        &[0x01, 0x01],
        &be16(attrs.len()),
        &[0x21, 0x12, 0xa4, 0x42],
        &[0x0c; 12],
        &attrs,
    ])
}

/// 20 bytes that are both a classic STUN Binding request (RFC 3489, empty) and a DNS
/// query for `ab` (A, IN): a real tie between two curses.
pub const STUN_OR_DNS: &[u8] = &[
    0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, b'a', b'b', 0x00,
    0x00, 0x01, 0x00, 0x01,
];

/// An MQTT 5 CONNACK with properties (topic alias maximum, assigned client id).
pub const MQTT5_CONNACK: &[u8] = b"\x20\x0d\x00\x00\x0a\x22\x00\x0a\x12\x00\x04auto";

/// An MQTT PUBLISH, QoS 0, topic `t/x`.
pub const MQTT_PUBLISH: &[u8] = b"\x30\x08\x00\x03t/xdata";

/// A TURN Allocate request as Microsoft's TURN sends it: an unpadded 6-byte attribute,
/// so the length is not a multiple of 4.
pub fn ms_turn_allocate() -> Vec<u8> {
    let attrs = cat(&[
        &[0x00, 0x0f, 0, 4, 0x72, 0xc6, 0x4b, 0xc6],
        &[0x80, 0x37, 0, 2, 0, 2],
    ]);
    cat(&[
        &[0, 3],
        &be16(attrs.len()),
        &[0x21, 0x12, 0xa4, 0x42],
        &[0x0d; 12],
        &attrs,
    ])
}
