use super::*;
use crate::text::harness::{bytewise, cs, info, run, sc, split, Outcome, Piece};
use flowengine::inspect::Transport;
use proptest::prelude::*;
use serde_json::json;

const CLIENT_KEX: &str = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,diffie-hellman-group14-sha1,ext-info-c";
const ENC: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const MAC: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const SERVER_KEX: &str =
    "curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group14-sha256";

/// A KEXINIT binary packet as an implementation sends it (block-aligned padding).
fn kexinit(kex: &str, enc: (&str, &str), mac: (&str, &str), comp: (&str, &str)) -> Vec<u8> {
    let mut payload = vec![MSG_KEXINIT];
    payload.extend([0x5a; 16]);
    for l in [
        kex,
        "ssh-ed25519,rsa-sha2-512",
        enc.0,
        enc.1,
        mac.0,
        mac.1,
        comp.0,
        comp.1,
        "",
        "",
    ] {
        payload.extend((l.len() as u32).to_be_bytes());
        payload.extend(l.as_bytes());
    }
    payload.push(0);
    payload.extend(0u32.to_be_bytes());
    let mut pad = 8 - (payload.len() + 5) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut pkt = ((payload.len() + pad + 1) as u32).to_be_bytes().to_vec();
    pkt.push(pad as u8);
    pkt.extend(payload);
    pkt.extend(vec![0u8; pad]);
    pkt
}

fn handshake() -> Vec<Piece> {
    let mut client = b"SSH-2.0-OpenSSH_7.6p1 Ubuntu-4ubuntu0.3\r\n".to_vec();
    client.extend(kexinit(
        CLIENT_KEX,
        (ENC, ENC),
        (MAC, MAC),
        ("none,zlib@openssh.com,zlib", "none,zlib@openssh.com,zlib"),
    ));
    let mut server = b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n".to_vec();
    server.extend(kexinit(
        SERVER_KEX,
        ("aes128-ctr", "aes256-gcm@openssh.com"),
        ("hmac-sha1", "hmac-sha2-256"),
        ("none", "none,zlib@openssh.com"),
    ));
    vec![sc(&server[..31]), cs(&client), sc(&server[31..])]
}

fn go(pieces: &[Piece]) -> Outcome {
    run(&SshInspector::new(), &info(Transport::Tcp, 22), pieces)
}

fn expected() -> Vec<(&'static str, Value)> {
    let client_string = format!("{CLIENT_KEX};{ENC};{MAC};none,zlib@openssh.com,zlib");
    let server_string =
        format!("{SERVER_KEX};aes256-gcm@openssh.com;hmac-sha2-256;none,zlib@openssh.com");
    vec![(
        "ssh",
        json!({
            "client": {"proto_version": "2.0", "software_version": "OpenSSH_7.6p1",
                       // The HASSH of OpenSSH 7.6's client, as Suricata's hassh keyword
                       // documentation and Salesforce's HASSH list it.
                       "hassh": {"hash": "ec7378c1a92f5a8dde7e8b7a1ddf33d1", "string": client_string}},
            "server": {"proto_version": "2.0", "software_version": "OpenSSH_9.6p1",
                       // md5sum of the string, computed outside this code.
                       "hassh": {"hash": "c370ae0e8bde3ef8cd4499fb59b82055", "string": server_string}},
        }),
    )]
}

#[test]
fn banners_and_kexinits_give_suricatas_ssh_object() {
    let o = go(&handshake());
    assert_eq!(o.events, expected());
    assert!(o.done);
}

#[test]
fn byte_by_byte_gives_the_same_event() {
    assert_eq!(go(&bytewise(&handshake())).events, expected());
}

#[test]
fn server_lines_before_the_banner_are_skipped() {
    let o = go(&[
        sc(b"Welcome\r\nauthorised users only\r\nSSH-2.0-dropbear_2022.83\r\n"),
        cs(b"SSH-2.0-PuTTY_Release_0.78\r\n"),
    ]);
    assert_eq!(
        o.events,
        vec![(
            "ssh",
            json!({"client": {"proto_version": "2.0", "software_version": "PuTTY_Release_0.78"},
                            "server": {"proto_version": "2.0", "software_version": "dropbear_2022.83"}})
        )]
    );
    // Emitted at flow end: the KEXINITs never came.
    assert!(!o.done);
}

#[test]
fn ssh1_has_no_kexinit_to_wait_for() {
    let o = go(&[sc(b"SSH-1.5-OldServer\n"), cs(b"SSH-1.5-OldClient\n")]);
    assert!(o.done);
    assert_eq!(o.events[0].1["server"]["proto_version"], json!("1.5"));
}

#[test]
fn gap_ends_that_direction() {
    let mut p = handshake();
    p.insert(0, Piece::Gap(Direction::ToClient, 40));
    let o = go(&p);
    let ev = &o.events[0].1;
    assert!(ev.get("server").is_none());
    assert_eq!(
        ev["client"]["hassh"]["hash"],
        json!("ec7378c1a92f5a8dde7e8b7a1ddf33d1")
    );
    assert!(o.done);
}

#[test]
fn garbage_stops_without_an_event() {
    let o = go(&[cs(b"GET / HTTP/1.1\r\n\r\n"), sc(&[0xff; 600])]);
    assert!(o.events.is_empty());
    assert!(o.done);
}

#[test]
fn oversized_packet_is_refused() {
    let mut c = b"SSH-2.0-x\r\n".to_vec();
    c.extend(1_000_000u32.to_be_bytes());
    c.extend([4u8, 20]);
    let o = go(&[cs(&c), sc(b"SSH-2.0-y\r\n")]);
    assert!(o.events[0].1["client"].get("hassh").is_none());
}

proptest! {
    #[test]
    fn any_split_gives_the_same_event(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        prop_assert_eq!(go(&split(&handshake(), &cuts)).events, expected());
    }

    #[test]
    fn mutated_handshakes_never_panic(pos in any::<usize>(), val in any::<u8>(), cuts in proptest::collection::vec(any::<usize>(), 0..6)) {
        let mut p = handshake();
        if let Piece::Data(_, bytes) = &mut p[1] {
            let i = pos % bytes.len();
            bytes[i] = val;
        }
        let _ = go(&split(&p, &cuts));
    }
}
