//! The wizard's tests: a table of real first messages (transport, ports, direction,
//! bytes, expected outcome), split and byte-by-byte delivery, swaps, failures, port
//! tie-breaks, configuration, the engine adapter, and random data.

mod msgs;
mod random;

use super::*;
use flowengine::flow::Direction::{ToClient, ToServer};
use flowengine::inspect::{Actions, Cx, Detection, FlowData, FlowInfo, Inspector, InspectorKind};
use flowengine::Timestamp;
use msgs::*;
use std::net::{IpAddr, Ipv4Addr};

const TCP: Transport = Transport::Tcp;
const UDP: Transport = Transport::Udp;

fn wizard() -> Wizard {
    Wizard::new(WizardConfig::default()).expect("the default config is valid")
}

fn named(name: &'static str) -> Outcome {
    Outcome::Service { name, swap: false }
}

fn swapped(name: &'static str) -> Outcome {
    Outcome::Service { name, swap: true }
}

/// One row: what arrives first on a fresh flow, and what the wizard must say.
struct Case {
    what: &'static str,
    transport: Transport,
    client: u16,
    server: u16,
    dir: Direction,
    bytes: Vec<u8>,
    want: Outcome,
}

fn case(
    what: &'static str,
    transport: Transport,
    server: u16,
    dir: Direction,
    bytes: impl Into<Vec<u8>>,
    want: Outcome,
) -> Case {
    Case {
        what,
        transport,
        client: 49152,
        server,
        dir,
        bytes: bytes.into(),
        want,
    }
}

fn cases() -> Vec<Case> {
    vec![
        // --- web
        case("http GET", TCP, 80, ToServer, HTTP_GET, named("http")),
        case("http POST off-port", TCP, 8081, ToServer, HTTP_POST, named("http")),
        case("http OPTIONS", TCP, 80, ToServer, HTTP_OPTIONS, named("http")),
        case("http response", TCP, 80, ToClient, HTTP_RESPONSE, named("http")),
        case("http response from the client side", TCP, 80, ToServer, HTTP_RESPONSE, swapped("http")),
        case("http request from the server side", TCP, 80, ToClient, HTTP_GET, swapped("http")),
        case("websocket upgrade is http", TCP, 80, ToServer, WEBSOCKET_UPGRADE, named("http")),
        case("http2 preface", TCP, 80, ToServer, http2_preface(), named("http2")),
        case("tls client hello", TCP, 443, ToServer, tls_client_hello("www.example.com"), named("tls")),
        case("tls client hello off-port", TCP, 8443, ToServer, tls_client_hello("a.b"), named("tls")),
        case("tls server hello", TCP, 443, ToClient, tls_server_hello(), named("tls")),
        case("tls server hello from the client side", TCP, 443, ToServer, tls_server_hello(), swapped("tls")),
        case("sslv2 client hello", TCP, 443, ToServer, sslv2_client_hello(), named("tls")),
        case("quic v1 initial", UDP, 443, ToServer, quic_initial(1), named("quic")),
        case("quic v2 initial", UDP, 443, ToServer, quic_initial(0x6b33_43cf), named("quic")),
        case("quic draft-29 initial", UDP, 443, ToServer, quic_initial(0xff00_001d), named("quic")),
        case("quic mvfst initial", UDP, 443, ToServer, quic_initial(0xface_b002), named("quic")),
        case("quic T051 initial", UDP, 443, ToServer, quic_initial(u32::from_be_bytes(*b"T051")), named("quic")),
        case("gquic Q043", UDP, 443, ToServer, gquic_q043(), named("quic")),
        case("quic forcing version negotiation", UDP, 443, ToServer, quic_initial(0x1a2a_3a4a), named("quic")),
        case("quic reserved version from the server side (no UDP swap)", UDP, 443, ToClient, quic_initial(0x0a0a_0a0a), named("quic")),
        case("quic version negotiation", UDP, 443, ToClient, quic_version_negotiation(), named("quic")),
        case("quic version negotiation seen first (no UDP swap)", UDP, 443, ToServer, quic_version_negotiation(), named("quic")),
        case("quic short header picked up mid-flow", UDP, 443, ToServer, quic_short_header(), named("quic")),
        case("quic short header from the server's port", UDP, 443, ToClient, quic_short_header(), named("quic")),
        case("tls encrypted alert mid-stream", TCP, 443, ToClient, tls_encrypted_alert(80), named("tls")),
        // --- names and directories
        case("dns query", UDP, 53, ToServer, dns_query("www.example.com"), named("dns")),
        case("dns response", UDP, 53, ToClient, dns_response("www.example.com"), named("dns")),
        case("dns response seen first", UDP, 53, ToServer, dns_response("www.example.com"), swapped("dns")),
        case("dns over tcp", TCP, 53, ToServer, tcp_framed(&dns_query("example.org")), named("dns")),
        // Suricata's DNS detection-ports: 53 only. mDNS is its own protocol on 5353 (the
        // DNS probe, but always the client's: it turns the flow only when recognised in
        // the direction to the client); LLMNR (5355) is not named.
        case("mdns query", UDP, 5353, ToServer, dns_query("printer.local"), named("mdns")),
        case("mdns response opening the flow", UDP, 5353, ToServer, dns_response("printer.local"), named("mdns")),
        case("mdns from the server's side", UDP, 5353, ToClient, dns_response("printer.local"), swapped("mdns")),
        case("llmnr query", UDP, 5355, ToServer, dns_query("printer"), Outcome::Pending),
        case("rfb server banner", TCP, 5900, ToClient, &b"RFB 003.008\n"[..], named("rfb")),
        case("rfb banner seen from the client side", TCP, 5901, ToServer, &b"RFB 003.003\n"[..], Outcome::Service { name: "rfb", swap: true }),
        case("smtp quit alone", TCP, 25, ToServer, &b"QUIT\r\n"[..], named("smtp")),
        case("ftp quit alone", TCP, 21, ToServer, &b"QUIT\r\n"[..], named("ftp")),
        case("ldap bind", TCP, 389, ToServer, ldap_bind(), named("ldap")),
        case("ldap bind response", TCP, 389, ToClient, ldap_bind_response(), named("ldap")),
        case("ldap search off-port", TCP, 10389, ToServer, ldap_rootdse_search(), named("ldap")),
        case("cldap search", UDP, 389, ToServer, ldap_rootdse_search(), named("ldap")),
        case("krb5 as-req udp", UDP, 88, ToServer, krb5_as_req(), named("krb5")),
        case("krb5 as-req tcp", TCP, 88, ToServer, tcp_framed32(&krb5_as_req()), named("krb5")),
        case("krb5 error", UDP, 88, ToClient, krb5_error(), named("krb5")),
        case("dhcp discover", UDP, 67, ToServer, dhcp_discover(), named("dhcp")),
        case("ntp request", UDP, 123, ToServer, ntp_request(), named("ntp")),
        case("ntp reply", UDP, 123, ToClient, ntp_reply(), named("ntp")),
        case("snmp get", UDP, 161, ToServer, snmp_get(), named("snmp")),
        case("snmp response first (no UDP swap)", UDP, 161, ToServer, snmp_response(), named("snmp")),
        // --- remote access
        case("ssh client banner", TCP, 22, ToServer, SSH_CLIENT, named("ssh")),
        case("ssh banner from the server", TCP, 22, ToClient, SSH_CLIENT, named("ssh")),
        case("ssh 1.99 banner from the client side", TCP, 22, ToServer, SSH_SERVER_199, swapped("ssh")),
        case("rdp connection request", TCP, 3389, ToServer, rdp_request(), named("rdp")),
        case("rdp connection confirm", TCP, 3389, ToClient, rdp_confirm(), named("rdp")),
        case("telnet negotiation", TCP, 23, ToClient, TELNET_DO, named("telnet")),
        case("telnet negotiation off-port", TCP, 2323, ToClient, TELNET_DO, named("telnet")),
        // --- mail and files
        case("smtp banner", TCP, 25, ToClient, SMTP_BANNER, named("smtp")),
        case("smtp ehlo", TCP, 25, ToServer, SMTP_EHLO, named("smtp")),
        case("imap banner", TCP, 143, ToClient, IMAP_BANNER, named("imap")),
        case("imap capability", TCP, 143, ToServer, IMAP_CAPABILITY, named("imap")),
        case("pop3 banner", TCP, 110, ToClient, POP3_BANNER, named("pop3")),
        case("pop3 capa", TCP, 110, ToServer, POP3_CAPA, named("pop3")),
        case("ftp banner", TCP, 21, ToClient, FTP_BANNER, named("ftp")),
        case("ftp banner off-port", TCP, 2121, ToClient, FTP_BANNER, named("ftp")),
        case("ftp filezilla banner on 21", TCP, 21, ToClient, FTP_FILEZILLA, named("ftp")),
        case("ftp user", TCP, 21, ToServer, FTP_USER, named("ftp")),
        case("ftp auth tls", TCP, 21, ToServer, FTP_AUTH_TLS, named("ftp")),
        case("tftp read request", UDP, 69, ToServer, TFTP_RRQ, named("tftp")),
        case("smb2 negotiate", TCP, 445, ToServer, smb2_negotiate(), named("smb")),
        case("smb2 negotiate response first", TCP, 445, ToServer, smb2_negotiate_response(), swapped("smb")),
        case("smb1 negotiate", TCP, 139, ToServer, smb1_negotiate(), named("smb")),
        case("netbios session request", TCP, 139, ToServer, nbss_session_request(), named("smb")),
        case("dcerpc bind", TCP, 135, ToServer, dcerpc_bind(), named("dcerpc")),
        case("dcerpc bind on a dynamic port", TCP, 49667, ToServer, dcerpc_bind(), named("dcerpc")),
        case("dcerpc bind_ack", TCP, 135, ToClient, dcerpc_bind_ack(), named("dcerpc")),
        case("dcerpc over udp", UDP, 135, ToServer, dcerpc_udp_request(), named("dcerpc")),
        case("nfs v3 call over tcp", TCP, 2049, ToServer, rpc_record(&nfs_call(3, 1)), named("nfs")),
        case("nfs v4 call over tcp", TCP, 2049, ToServer, rpc_record(&nfs_call(4, 1)), named("nfs")),
        case("nfs v3 call over udp", UDP, 2049, ToServer, nfs_call(3, 4), named("nfs")),
        // --- voice, video, messaging, storage
        case("sip invite", UDP, 5060, ToServer, SIP_INVITE, named("sip")),
        case("sip 200 ok", UDP, 5060, ToClient, SIP_OK, named("sip")),
        case("sip register over tcp", TCP, 5060, ToServer, SIP_REGISTER, named("sip")),
        case("rtsp options", TCP, 554, ToServer, RTSP_OPTIONS, named("rtsp")),
        case("rtsp describe", TCP, 8554, ToServer, RTSP_DESCRIBE, named("rtsp")),
        case("rtsp response", TCP, 554, ToClient, RTSP_OK, named("rtsp")),
        case("stun binding request", UDP, 3478, ToServer, stun_binding_request(), named("stun")),
        case("stun binding request off-port", UDP, 50000, ToServer, stun_binding_request(), named("stun")),
        case("stun binding response first (no UDP swap)", UDP, 3478, ToServer, stun_binding_response(), named("stun")),
        case("stun over tcp", TCP, 3478, ToServer, stun_binding_request(), named("stun")),
        case("classic stun request off-port", UDP, 13958, ToServer, stun_classic_request(), named("stun")),
        case("classic stun response off-port", UDP, 13958, ToClient, stun_classic_response(), named("stun")),
        case("ms-turn allocate, unpadded", UDP, 3478, ToServer, ms_turn_allocate(), named("stun")),
        case("mqtt 3.1.1 connect", TCP, 1883, ToServer, mqtt_connect(4), named("mqtt")),
        case("mqtt 5 connect", TCP, 1883, ToServer, mqtt_connect(5), named("mqtt")),
        case("mqtt 3.1 connect", TCP, 1884, ToServer, mqtt_connect_v31(), named("mqtt")),
        // Mid-stream on the MQTT port: any control packet, the server's swapping.
        case("mqtt 5 connack mid-stream", TCP, 1883, ToServer, MQTT5_CONNACK, swapped("mqtt")),
        case("mqtt connack", TCP, 1883, ToClient, MQTT5_CONNACK, named("mqtt")),
        case("mqtt publish qos 0", TCP, 1883, ToServer, MQTT_PUBLISH, named("mqtt")),
        case("mqtt pingreq", TCP, 1883, ToServer, &b"\xc0\x00"[..], named("mqtt")),
        case("pgsql startup", TCP, 5432, ToServer, pgsql_startup(), named("pgsql")),
        case("pgsql ssl request", TCP, 5432, ToServer, PGSQL_SSL_REQUEST, named("pgsql")),
        case("mysql greeting", TCP, 3306, ToClient, mysql_greeting(), named("mysql")),
        case("redis ping", TCP, 6379, ToServer, REDIS_PING, named("redis")),
        case("redis set off-port", TCP, 7000, ToServer, REDIS_SET, named("redis")),
        case("redis inline ping", TCP, 6379, ToServer, REDIS_INLINE_PING, named("redis")),
        case("redis protected mode", TCP, 6379, ToClient, REDIS_DENIED, named("redis")),
        case("bittorrent dht ping", UDP, 6881, ToServer, DHT_PING, named("bittorrent-dht")),
        case("bittorrent dht pong", UDP, 6881, ToClient, DHT_PONG, named("bittorrent-dht")),
        case("bittorrent dht error", UDP, 6881, ToClient, DHT_ERROR, named("bittorrent-dht")),
        // --- industrial and VPN
        case("modbus read", TCP, 502, ToServer, MODBUS_READ, named("modbus")),
        case("dnp3 link status", TCP, 20000, ToServer, dnp3_link_status(), named("dnp3")),
        case("dnp3 over udp", UDP, 20000, ToServer, dnp3_link_status(), named("dnp3")),
        case("enip list identity", UDP, 44818, ToServer, enip_list_identity(), named("enip")),
        case("enip register session", TCP, 44818, ToServer, enip_register_session(), named("enip")),
        case("ikev2 sa_init", UDP, 500, ToServer, ikev2_sa_init(), named("ike")),
        case("ikev1 main mode", UDP, 500, ToServer, ikev1_main_mode(), named("ike")),
        case(
            "ikev2 auth response over nat-t",
            UDP,
            4500,
            ToClient,
            [&[0u8, 0, 0, 0][..], &ikev2_auth_response()].concat(),
            named("ike"),
        ),
        // --- weak alone: refused off their ports (first UDP datagram unknown: failed)
        case("ntp off-port", UDP, 1234, ToServer, ntp_request(), Outcome::Pending),
        case("tftp off-port", UDP, 1069, ToServer, TFTP_RRQ, Outcome::Pending),
        case("enip off-port", UDP, 4000, ToServer, enip_list_identity(), Outcome::Pending),
        case("nat-t marker off 4500", UDP, 500, ToServer, [&[0u8, 0, 0, 0][..], &ikev2_sa_init()].concat(), Outcome::Pending),
        case("esp in udp is not ike", UDP, 4500, ToServer, [0x11u8, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0xaa, 0xbb], Outcome::Pending),
        case("s7 cotp is not rdp", TCP, 102, ToServer, s7_cotp_request(), Outcome::Pending),
        case("ssdp is not http", UDP, 1900, ToServer, &b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"[..], Outcome::Pending),
    ]
}

fn ports(c: &Case) -> Ports {
    Ports {
        client: c.client,
        server: c.server,
    }
}

/// What the wizard says about one datagram or first chunk from `client` to `server`.
fn first_word(transport: Transport, client: u16, server: u16, bytes: &[u8]) -> Outcome {
    let mut st = WizardState::default();
    let ports = Ports { client, server };
    wizard().scan(&mut st, transport, ports, ToServer, Chunk::Data(bytes))
}

#[test]
fn mqtt_packets_other_than_connect_name_mqtt_only_on_its_port_and_when_well_formed() {
    for (what, server, bytes) in [
        ("publish off-port", 1884, MQTT_PUBLISH),
        ("publish with QoS 3", 1883, &b"\x36\x05\x00\x01ab\x00"[..]),
        (
            "subscribe with flags 0",
            1883,
            &b"\x80\x05\x00\x01\x00\x01a"[..],
        ),
        ("pingreq with a body", 1883, &b"\xc0\x01\x00"[..]),
    ] {
        let got = first_word(TCP, 49152, server, bytes);
        assert!(
            !matches!(got, Outcome::Service { name: "mqtt", .. }),
            "{what}: {got:?}"
        );
    }
}

#[test]
fn an_unpadded_stun_message_is_stun_only_on_the_stun_ports() {
    let got = first_word(UDP, 49152, 50000, &ms_turn_allocate());
    assert!(!matches!(got, Outcome::Service { .. }), "{got:?}");
}

#[test]
fn a_quic_short_header_is_quic_only_on_443_and_only_when_nothing_else_fits() {
    let p = quic_short_header();
    assert_eq!(first_word(UDP, 40000, 443, &p), named("quic"));
    assert_eq!(first_word(UDP, 443, 40000, &p), named("quic"));
    // elsewhere a short header is just bytes
    assert!(!matches!(
        first_word(UDP, 40000, 8443, &p),
        Outcome::Service { .. }
    ));
    // too short to hold a header protection sample
    assert!(!matches!(
        first_word(UDP, 40000, 443, &p[..20]),
        Outcome::Service { .. }
    ));
    let mut long_header_bit = p.clone();
    long_header_bit[0] = 0x13; // fixed bit clear
    assert!(!matches!(
        first_word(UDP, 40000, 443, &long_header_bit),
        Outcome::Service { .. }
    ));
    // plain DNS to a resolver on 443 (its id's first byte looks like a short header)
    let mut dns = dns_query("www.example.com");
    dns[0] = 0x48;
    assert!(!matches!(
        first_word(UDP, 40000, 443, &dns),
        Outcome::Service { .. }
    ));
    // any other rule that fits wins over the last resort, even without a port hint
    let dht = b"d1:ad2:id20:abcdefghij0123456789e1:q4:pinge";
    assert_eq!(first_word(UDP, 40000, 443, dht), named("bittorrent-dht"));
    // and TCP never
    assert!(!matches!(
        first_word(TCP, 40000, 443, &p),
        Outcome::Service { .. }
    ));
}

#[test]
fn a_pgsql_startup_is_parameters_that_fill_it() {
    let startup = pgsql_startup();
    assert_eq!(first_word(TCP, 40000, 5432, &startup), named("pgsql"));
    assert_eq!(first_word(TCP, 40000, 15432, &startup), named("pgsql"));
    // not all there yet: wait
    assert_eq!(
        first_word(TCP, 40000, 5432, &startup[..20]),
        Outcome::Pending
    );
    for (what, m) in [
        ("kafka metadata v2", kafka_metadata_v2()),
        ("a parameter name in capitals", {
            let mut m = startup.clone();
            m[8] = b'U';
            m
        }),
        ("no final NUL", {
            let mut m = startup.clone();
            *m.last_mut().unwrap() = b'x';
            m
        }),
    ] {
        for port in [5432, 9092] {
            let got = first_word(TCP, 40000, port, &m);
            assert!(
                !matches!(got, Outcome::Service { name: "pgsql", .. }),
                "{what} on {port}: {got:?}"
            );
        }
    }
}

#[test]
fn a_version_negotiation_lists_real_versions() {
    let vn = quic_version_negotiation();
    // named, not swapped: Suricata's QUIC probe keeps a UDP flow's direction
    assert_eq!(first_word(UDP, 443, 40000, &vn), named("quic"));
    // an LLMNR query: version 0, then ids that fit, then a "version" of zero
    let llmnr = llmnr_query();
    let got = first_word(UDP, 61603, 5355, &llmnr);
    assert!(!matches!(got, Outcome::Service { .. }), "{got:?}");
    // a list of versions none of which is known or reserved
    let mut unknown = vn.clone();
    let at = vn.len() - 12;
    for (i, v) in [0x0000_0007u32, 0x1234_5678, 0x0102_0304]
        .into_iter()
        .enumerate()
    {
        unknown[at + 4 * i..at + 4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    let got = first_word(UDP, 443, 40000, &unknown);
    assert!(!matches!(got, Outcome::Service { .. }), "{got:?}");
    // a list cut inside a version
    let got = first_word(UDP, 443, 40000, &vn[..vn.len() - 2]);
    assert!(!matches!(got, Outcome::Service { .. }), "{got:?}");
}

#[test]
fn classic_stun_off_its_ports_needs_attributes_rfc_3489_defines_that_fill_it() {
    let req = stun_classic_request();
    assert_eq!(first_word(UDP, 55050, 13958, &req), named("stun"));
    // an empty request is too little to go on off the STUN ports
    let mut empty = req[..20].to_vec();
    empty[3] = 0;
    assert!(!matches!(
        first_word(UDP, 55050, 13958, &empty),
        Outcome::Service { .. }
    ));
    assert_eq!(first_word(UDP, 55050, 3478, &empty), named("stun"));
    let broken = |at: usize, b: u8| {
        let mut m = stun_classic_response();
        m[at] = b;
        first_word(UDP, 55050, 13958, &m)
    };
    assert_eq!(broken(0, 1), named("stun"), "the response itself");
    for (what, at, b) in [
        ("an unknown attribute", 21, 0x33),
        ("an address family 3", 25, 3),
        ("an address with a non-zero first byte", 24, 1),
        ("an attribute overrunning the message", 23, 12),
    ] {
        let got = broken(at, b);
        assert!(!matches!(got, Outcome::Service { .. }), "{what}: {got:?}");
    }
    let mut flags = req.clone();
    flags[27] = 0x08; // CHANGE-REQUEST has two flags only
    assert!(!matches!(
        first_word(UDP, 55050, 13958, &flags),
        Outcome::Service { .. }
    ));
}

#[test]
fn an_encrypted_alert_is_tls_up_to_what_a_cbc_cipher_makes_of_it() {
    for len in [18, 26, 48, 80] {
        assert_eq!(
            first_word(TCP, 443, 40000, &tls_encrypted_alert(len)),
            named("tls"),
            "an alert does not tell the side: {len}"
        );
        assert_eq!(
            first_word(TCP, 40000, 443, &tls_encrypted_alert(len)),
            named("tls"),
            "{len}"
        );
    }
    for len in [17, 81] {
        let got = first_word(TCP, 443, 40000, &tls_encrypted_alert(len));
        assert!(!matches!(got, Outcome::Service { .. }), "{len}: {got:?}");
    }
}

#[test]
fn a_reserved_quic_version_names_quic_only_in_a_full_size_first_datagram() {
    let short = &quic_initial(0x0a0a_0a0a)[..600];
    let got = first_word(UDP, 49152, 443, short);
    assert!(!matches!(got, Outcome::Service { .. }), "{got:?}");
}

#[test]
fn every_protocol_is_named_from_its_first_message() {
    let w = wizard();
    let mut seen = std::collections::BTreeSet::new();
    for c in cases() {
        let mut st = WizardState::default();
        let got = w.scan(
            &mut st,
            c.transport,
            ports(&c),
            c.dir,
            Chunk::Data(&c.bytes),
        );
        assert_eq!(got, c.want, "{}", c.what);
        assert_eq!(st.outcome(), c.want, "{}", c.what);
        assert_eq!(
            st.buffered(c.dir),
            0,
            "{}: nothing kept after a decision",
            c.what
        );
        if let Outcome::Service { name, .. } = got {
            seen.insert(name);
        }
    }
    // everything the wizard is meant to name has a real message in the table
    let expected: std::collections::BTreeSet<_> = SERVICES
        .iter()
        .copied()
        .filter(|s| !matches!(*s, "ftp-data" | "websocket" | "doh2"))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn tcp_messages_split_anywhere_are_still_named() {
    let w = wizard();
    for c in cases().into_iter().filter(|c| c.transport == TCP) {
        for cut in 1..c.bytes.len() {
            let (a, b) = c.bytes.split_at(cut);
            let mut st = WizardState::default();
            let first = w.scan(&mut st, TCP, ports(&c), c.dir, Chunk::Data(a));
            assert!(
                first == Outcome::Pending || first == c.want,
                "{} cut at {cut}: the first part alone said {first:?}",
                c.what
            );
            let got = w.scan(&mut st, TCP, ports(&c), c.dir, Chunk::Data(b));
            assert_eq!(got, c.want, "{} cut at {cut}", c.what);
        }
    }
}

#[test]
fn tcp_messages_one_byte_at_a_time_are_still_named() {
    let w = wizard();
    for c in cases().into_iter().filter(|c| c.transport == TCP) {
        let mut st = WizardState::default();
        let mut got = Outcome::Pending;
        for b in &c.bytes {
            got = w.scan(
                &mut st,
                TCP,
                ports(&c),
                c.dir,
                Chunk::Data(std::slice::from_ref(b)),
            );
            if got != Outcome::Pending {
                break;
            }
        }
        assert_eq!(got, c.want, "{}", c.what);
    }
}

#[test]
fn http_split_between_ge_and_t_buffers_then_names() {
    let w = wizard();
    let mut st = WizardState::default();
    let p = Ports {
        client: 50000,
        server: 80,
    };
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"GE")),
        Outcome::Pending
    );
    assert_eq!(st.buffered(ToServer), 2);
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"T / HTTP/1.1\r\n")),
        named("http")
    );
    assert_eq!(st.buffered(ToServer), 0);
    // decided: later chunks change nothing
    assert_eq!(
        w.scan(&mut st, TCP, p, ToClient, Chunk::Data(&tls_server_hello())),
        named("http")
    );
}

#[test]
fn server_first_protocols_wait_for_the_client_when_the_banner_says_nothing() {
    let w = wizard();
    let p = Ports {
        client: 50000,
        server: 2600,
    };
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToClient, Chunk::Data(b"220 Welcome\r\n")),
        Outcome::Pending
    );
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(SMTP_EHLO)),
        named("smtp")
    );
}

#[test]
fn tcp_fails_when_both_directions_are_ruled_out() {
    let w = wizard();
    let p = Ports {
        client: 50000,
        server: 9999,
    };
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(
            &mut st,
            TCP,
            p,
            ToServer,
            Chunk::Data(b"\x01\x02 hello there, kenobi")
        ),
        Outcome::Pending
    );
    assert_eq!(
        st.buffered(ToServer),
        0,
        "a ruled-out direction keeps nothing"
    );
    assert_eq!(
        w.scan(
            &mut st,
            TCP,
            p,
            ToClient,
            Chunk::Data(b"\x03\x04 general kenobi")
        ),
        Outcome::Failed
    );
}

#[test]
fn a_short_tcp_direction_no_rule_fits_leaves_the_flow_undecided() {
    // Suricata's TCP fast open case: `Hi!` and `Hello!` fit no pattern, but are
    // shorter than the deepest pattern of their direction (17 and 10 bytes), so
    // detection never concludes and the flow ends without a service.
    let w = wizard();
    let p = Ports {
        client: 42856,
        server: 12345,
    };
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"Hi!")),
        Outcome::Pending
    );
    assert_eq!(
        w.scan(&mut st, TCP, p, ToClient, Chunk::Data(b"Hello!")),
        Outcome::Pending
    );
    assert_eq!(w.finish(&mut st.clone(), TCP), Outcome::Pending);
    // the server's next bytes make its direction long enough; the client's not yet
    assert_eq!(
        w.scan(&mut st, TCP, p, ToClient, Chunk::Data(b" bye")),
        Outcome::Pending
    );
    // 17 bytes to the server: both directions are done
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b" how are you?!")),
        Outcome::Failed
    );
}

#[test]
fn tcp_fails_after_the_search_depth() {
    let w = Wizard::new(WizardConfig::default().with_max_search_depth(64)).unwrap();
    let p = Ports {
        client: 50000,
        server: 8080,
    };
    // an unknown method keeps the request-line curse waiting for the version
    let mut st = WizardState::default();
    let line = [&b"FETCH /"[..], &[b'a'; 40]].concat();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(&line)),
        Outcome::Pending
    );
    assert_eq!(st.buffered(ToServer), line.len());
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(&[b'a'; 40])),
        Outcome::Pending,
        "depth reached: ruled out, but the server has not spoken"
    );
    assert_eq!(st.buffered(ToServer), 0);
    assert_eq!(
        w.scan(
            &mut st,
            TCP,
            p,
            ToClient,
            Chunk::Data(b"\x03\x04 general kenobi")
        ),
        Outcome::Failed,
        "the server's junk rules it out too"
    );
}

#[test]
fn tcp_buffer_never_exceeds_the_default_depth() {
    let w = wizard();
    let p = Ports {
        client: 50000,
        server: 8080,
    };
    let mut st = WizardState::default();
    let mut data = b"FETCH /".to_vec();
    data.resize(ONE_SIDED_LIMIT as usize + 1460, b'a');
    let mut got = Outcome::Pending;
    for seg in data.chunks(1460) {
        got = w.scan(&mut st, TCP, p, ToServer, Chunk::Data(seg));
        assert!(st.buffered(ToServer) <= DEFAULT_MAX_SEARCH_DEPTH as usize);
        if got != Outcome::Pending {
            break;
        }
    }
    assert_eq!(got, Outcome::Failed);
}

#[test]
fn a_one_sided_unknown_flow_fails_once_it_passes_suricatas_limit() {
    let w = wizard();
    let p = Ports {
        client: 20,
        server: 50123,
    };
    let mut st = WizardState::default();
    let file = [0x89u8; 1000];
    // 100,000 bytes one way: still undecided (Suricata's `size_ts_limit`)
    for _ in 0..100 {
        assert_eq!(
            w.scan(&mut st, TCP, p, ToServer, Chunk::Data(&file)),
            Outcome::Pending
        );
    }
    assert_eq!(w.finish(&mut st.clone(), TCP), Outcome::Pending);
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(&file)),
        Outcome::Failed
    );
    // the same with a short reply that no rule fits: the limit still decides
    let mut st = WizardState::default();
    w.scan(&mut st, TCP, p, ToClient, Chunk::Data(b"ok"));
    for _ in 0..100 {
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(&file));
    }
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(&file)),
        Outcome::Failed
    );
}

#[test]
fn a_gap_before_a_decision_fails() {
    let w = wizard();
    let p = Ports {
        client: 50000,
        server: 80,
    };
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"GE")),
        Outcome::Pending
    );
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Gap(1200)),
        Outcome::Failed
    );
    assert_eq!(st.buffered(ToServer), 0);
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToClient, Chunk::Gap(10)),
        Outcome::Failed
    );
    // after a decision a gap changes nothing
    let mut st = WizardState::default();
    w.scan(&mut st, TCP, p, ToServer, Chunk::Data(HTTP_GET));
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Gap(10)),
        named("http")
    );
}

#[test]
fn udp_fails_once_each_direction_sent_an_unknown_datagram() {
    let w = wizard();
    let p = Ports {
        client: 50000,
        server: 53,
    };
    let junk = Chunk::Data(b"hello, anyone there?");
    let (query, response) = (dns_query("example.com"), dns_response("example.com"));
    let scan = |st: &mut WizardState, dir: Direction, bytes: &[u8]| {
        w.scan(st, UDP, p, dir, Chunk::Data(bytes))
    };
    let dns = Outcome::Service {
        name: "dns",
        swap: false,
    };
    let mut st = WizardState::default();
    // The client's first datagram is junk: that direction is out, the other may still
    // name the flow (Suricata: one try per direction).
    assert_eq!(w.scan(&mut st, UDP, p, ToServer, junk), Outcome::Pending);
    // A later client datagram is not looked at, even a DNS query.
    assert_eq!(scan(&mut st, ToServer, &query), Outcome::Pending);
    // The server's first datagram names it.
    assert_eq!(scan(&mut st.clone(), ToClient, &response), dns);
    // Junk both ways: failed, for good.
    assert_eq!(w.scan(&mut st, UDP, p, ToClient, junk), Outcome::Failed);
    assert_eq!(scan(&mut st, ToClient, &response), Outcome::Failed);
    // One direction only, junk: failed when the flow ends.
    let mut st = WizardState::default();
    assert_eq!(w.scan(&mut st, UDP, p, ToServer, junk), Outcome::Pending);
    assert_eq!(w.finish(&mut st, UDP), Outcome::Failed);
    // an empty datagram is its direction's first: it rules the direction out (the
    // answer may still name the flow; alone, the flow fails at its end)
    let mut st = WizardState::default();
    assert_eq!(scan(&mut st, ToServer, b""), Outcome::Pending);
    let mut answered = st.clone();
    assert_eq!(
        scan(&mut answered, ToServer, &query),
        Outcome::Pending,
        "the query came after the empty datagram: not looked at"
    );
    assert_eq!(scan(&mut answered, ToClient, &response), dns);
    assert_eq!(w.finish(&mut st, UDP), Outcome::Failed);
    // TCP: an empty chunk is nothing at all
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"")),
        Outcome::Pending
    );
    assert_eq!(w.finish(&mut st, TCP), Outcome::Pending);
    // a datagram cut inside its question is judged whole: no waiting for more
    let mut st = WizardState::default();
    let q = dns_query("example.com");
    assert_eq!(
        w.scan(&mut st, UDP, p, ToServer, Chunk::Data(&q[..20])),
        Outcome::Pending,
        "ruled out for this direction: the other may still answer"
    );
}

#[test]
fn other_transports_are_not_inspected() {
    let w = wizard();
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(
            &mut st,
            Transport::Other(132),
            Ports::default(),
            ToServer,
            Chunk::Data(HTTP_GET)
        ),
        Outcome::Failed
    );
}

#[test]
fn an_undecided_tcp_flow_ends_without_a_service_and_a_udp_one_fails() {
    let w = wizard();
    let p = Ports {
        client: 50000,
        server: 80,
    };
    let mut st = WizardState::default();
    assert_eq!(w.finish(&mut st, TCP), Outcome::Pending);
    // the start of a request, cut short: Suricata never concludes, so neither do we
    w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"GE"));
    assert_eq!(w.finish(&mut st, TCP), Outcome::Pending);
    assert_eq!(st.outcome(), Outcome::Pending);
    // a UDP flow whose one side spoke junk fails at the end
    let mut st = WizardState::default();
    w.scan(&mut st, UDP, p, ToServer, Chunk::Data(b"GE"));
    assert_eq!(w.finish(&mut st, UDP), Outcome::Failed);
    // a flow that carried nothing has no service either way
    assert_eq!(w.finish(&mut WizardState::default(), UDP), Outcome::Pending);
}

#[test]
fn ports_break_ties_between_rules_that_both_fit() {
    let w = wizard();
    let at = |t: Transport, server: u16, dir: Direction, bytes: &[u8]| {
        let mut st = WizardState::default();
        w.scan(
            &mut st,
            t,
            Ports {
                client: 40000,
                server,
            },
            dir,
            Chunk::Data(bytes),
        )
    };
    // `USER name` is both FTP's and POP3's first command
    assert_eq!(at(TCP, 110, ToServer, USER_ALICE), named("pop3"));
    assert_eq!(at(TCP, 21, ToServer, USER_ALICE), named("ftp"));
    assert_eq!(
        at(TCP, 2100, ToServer, USER_ALICE),
        named("ftp"),
        "book order"
    );
    // an IRC client's registration is neither, on any port (Suricata: IRC is not FTP)
    let irc = b"USER guest 0 * :Ronnie Reagan\r\nNICK guest\r\n";
    for port in [21, 110, 6667, 8000] {
        assert_eq!(
            at(TCP, port, ToServer, irc),
            Outcome::Pending,
            "port {port}"
        );
    }
    // 20 bytes that are both a classic STUN request and a DNS query
    assert_eq!(at(UDP, 3478, ToServer, STUN_OR_DNS), named("stun"));
    assert_eq!(at(UDP, 53, ToServer, STUN_OR_DNS), named("dns"));
    // DNS needs port 53 (Suricata's detection-ports): elsewhere nothing fits yet.
    assert_eq!(at(UDP, 9000, ToServer, STUN_OR_DNS), Outcome::Pending);
    // the client port counts too (a server's reply seen first)
    let mut st = WizardState::default();
    let reply = w.scan(
        &mut st,
        UDP,
        Ports {
            client: 123,
            server: 40000,
        },
        ToServer,
        Chunk::Data(&ntp_reply()),
    );
    // named; a UDP flow keeps its direction (Suricata's NTP probe does not swap)
    assert_eq!(reply, named("ntp"));
    // a 220 greeting without a keyword: the port decides
    assert_eq!(at(TCP, 21, ToClient, b"220 Welcome\r\n"), named("ftp"));
    assert_eq!(at(TCP, 587, ToClient, b"220 Welcome\r\n"), named("smtp"));
    // modbus needs its port
    assert_eq!(at(TCP, 502, ToServer, MODBUS_READ), named("modbus"));
    let mut st = WizardState::default();
    let p = Ports {
        client: 40000,
        server: 5020,
    };
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(MODBUS_READ)),
        Outcome::Pending
    );
    assert_eq!(
        w.scan(&mut st, TCP, p, ToClient, Chunk::Data(MODBUS_READ)),
        Outcome::Pending,
        "ruled out both ways, but 12 bytes to the server are too few to give up"
    );
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(MODBUS_READ)),
        Outcome::Failed
    );
    // the inline redis PING only on 6379
    assert_eq!(at(TCP, 6379, ToServer, REDIS_INLINE_PING), named("redis"));
    assert_eq!(at(TCP, 6380, ToServer, REDIS_INLINE_PING), Outcome::Pending);
}

#[test]
fn configured_rules_come_first_and_are_checked() {
    let mut config = WizardConfig::default();
    config.hexes.push(Magic {
        service: "mqtt".into(),
        transport: TCP,
        side: Side::Client,
        pattern: "|de ad ?? ef|".into(),
        ports: &[],
    });
    config.spells.push(Magic {
        service: "ssh".into(),
        transport: TCP,
        side: Side::Server,
        pattern: "GET /ssh*".into(),
        ports: &[],
    });
    let w = Wizard::new(config).unwrap();
    let p = Ports {
        client: 1,
        server: 2,
    };
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(
            &mut st,
            TCP,
            p,
            ToServer,
            Chunk::Data(&[0xde, 0xad, 0x00, 0xef, 1])
        ),
        named("mqtt")
    );
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(
            &mut st,
            TCP,
            p,
            ToClient,
            Chunk::Data(b"GET /ssh HTTP/1.1\r\n")
        ),
        named("ssh"),
        "a configured spell outranks the built-in GET"
    );
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(
            &mut st,
            TCP,
            p,
            ToServer,
            Chunk::Data(b"GET / HTTP/1.1\r\n")
        ),
        named("http")
    );
    // a UDP hex does not apply to TCP
    let mut config = WizardConfig::default();
    config.hexes.push(Magic {
        service: "tftp".into(),
        transport: UDP,
        side: Side::Client,
        pattern: "zz".into(),
        ports: &[],
    });
    let w = Wizard::new(config).unwrap();
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"zz")),
        Outcome::Pending
    );
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, UDP, p, ToServer, Chunk::Data(b"zz")),
        named("tftp")
    );
}

#[test]
fn plugin_services_are_named_and_their_port_hints_break_ties() {
    let spell = |service: &str, pattern: &str, ports: &'static [u16]| Magic {
        service: service.into(),
        transport: TCP,
        side: Side::Client,
        pattern: pattern.into(),
        ports,
    };
    // Unknown without the plugin's declaration.
    let mut config = WizardConfig::default();
    config.spells.push(spell("memcached", "get *", &[]));
    assert_eq!(
        Wizard::new(config.clone()).unwrap_err(),
        WizardError::UnknownService("memcached".into())
    );
    config.services.push("memcached");
    let w = Wizard::new(config).unwrap();
    let p = Ports {
        client: 40000,
        server: 11211,
    };
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, p, ToServer, Chunk::Data(b"get k1 k2\r\n")),
        named("memcached")
    );
    // Two plugin spells for the same bytes: the one whose port hint is in use wins,
    // otherwise the first.
    let mut config = WizardConfig::default();
    config.services.extend(["alpha", "beta"]);
    config.spells.push(spell("alpha", "hello*", &[]));
    config.spells.push(spell("beta", "hello*", &[7000]));
    let w = Wizard::new(config).unwrap();
    let mut st = WizardState::default();
    let on = |server| Ports { client: 1, server };
    assert_eq!(
        w.scan(&mut st, TCP, on(7000), ToServer, Chunk::Data(b"hello")),
        named("beta")
    );
    let mut st = WizardState::default();
    assert_eq!(
        w.scan(&mut st, TCP, on(7001), ToServer, Chunk::Data(b"hello")),
        named("alpha")
    );
}

#[test]
fn bad_configurations_are_refused() {
    let depth = |d: u32| {
        Wizard::new(WizardConfig::default().with_max_search_depth(d)).map(|w| w.max_search_depth())
    };
    assert_eq!(depth(0).unwrap_err(), WizardError::Depth(0));
    assert_eq!(depth(70_000).unwrap_err(), WizardError::Depth(70_000));
    assert_eq!(depth(65_535), Ok(65_535));
    let with = |m: Magic, hex: bool| {
        let mut c = WizardConfig::default();
        if hex {
            c.hexes.push(m);
        } else {
            c.spells.push(m);
        }
        Wizard::new(c).map(|_| ())
    };
    let magic = |service: &str, transport: Transport, pattern: &str| Magic {
        service: service.into(),
        transport,
        side: Side::Either,
        pattern: pattern.into(),
        ports: &[],
    };
    assert_eq!(
        with(magic("gopher", TCP, "x"), false),
        Err(WizardError::UnknownService("gopher".into()))
    );
    assert_eq!(
        with(magic("http", Transport::Other(132), "x"), false),
        Err(WizardError::Transport(Transport::Other(132)))
    );
    assert!(matches!(
        with(magic("http", TCP, "|zz|"), true),
        Err(WizardError::BadHex { .. })
    ));
    assert!(matches!(
        with(magic("http", TCP, "*"), false),
        Err(WizardError::BadSpell { .. })
    ));
    let msg = WizardError::Depth(0).to_string();
    assert!(msg.contains("max_search_depth"), "{msg}");
}

#[test]
fn the_built_in_book_parses_and_every_rule_is_reachable() {
    let w = wizard();
    let book = &w.book;
    assert!(book.len() > 60);
    // every service named by the book is a Suricata name
    for c in cases() {
        if let Outcome::Service { name, .. } = c.want {
            assert!(SERVICES.contains(&name), "{name}");
        }
    }
}

fn flow_info(transport: Transport, server: u16) -> FlowInfo {
    FlowInfo {
        flow_id: 7,
        transport,
        client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 50000),
        server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), server),
    }
}

#[test]
fn the_inspector_reports_through_cx_once() {
    let w = wizard();
    assert_eq!(w.name(), "wizard");
    assert_eq!(w.kind(), InspectorKind::Wizard);
    assert!(w.start(&flow_info(Transport::Other(1), 0)).is_none());

    let info = flow_info(TCP, 80);
    let mut fd = w.start(&info).expect("TCP flows are inspected");
    let mut actions = Actions::default();
    fd.data(
        &mut Cx::new(Timestamp::ZERO, &info, &mut actions),
        ToServer,
        Chunk::Data(b"GE"),
    );
    assert!(actions.is_empty(), "nothing decided yet: {actions:?}");
    fd.data(
        &mut Cx::new(Timestamp::ZERO, &info, &mut actions),
        ToServer,
        Chunk::Data(b"T / HTTP/1.1\r\n"),
    );
    assert_eq!(actions.detection, Some(Detection::Service("http")));
    assert!(actions.done && !actions.swap);
    let mut later = Actions::default();
    fd.data(
        &mut Cx::new(Timestamp::ZERO, &info, &mut later),
        ToClient,
        Chunk::Data(HTTP_RESPONSE),
    );
    fd.end(&mut Cx::new(Timestamp::ZERO, &info, &mut later));
    assert!(later.is_empty(), "reported once: {later:?}");
}

#[test]
fn the_inspector_asks_for_a_swap_and_reports_failure() {
    let w = wizard();
    let info = flow_info(UDP, 53);
    let mut fd = w.start(&info).expect("UDP flows are inspected");
    let mut actions = Actions::default();
    fd.data(
        &mut Cx::new(Timestamp::ZERO, &info, &mut actions),
        ToServer,
        Chunk::Data(&dns_response("example.com")),
    );
    assert_eq!(actions.detection, Some(Detection::Service("dns")));
    assert!(actions.swap && actions.done);

    let mut fd = w.start(&info).unwrap();
    let mut actions = Actions::default();
    for dir in [ToServer, ToClient] {
        fd.data(
            &mut Cx::new(Timestamp::ZERO, &info, &mut actions),
            dir,
            Chunk::Data(b"\x00"),
        );
    }
    assert_eq!(actions.detection, Some(Detection::Failed));
    assert!(actions.done);

    // a UDP flow whose one side spoke junk fails at its end
    let mut fd = w.start(&info).unwrap();
    let mut actions = Actions::default();
    fd.data(
        &mut Cx::new(Timestamp::ZERO, &info, &mut actions),
        ToServer,
        Chunk::Data(b"\x00"),
    );
    assert_eq!(actions.detection, None);
    fd.end(&mut Cx::new(Timestamp::ZERO, &info, &mut actions));
    assert_eq!(actions.detection, Some(Detection::Failed));
    assert!(actions.done);

    // a TCP flow that ends undecided reports nothing: it keeps no service
    let info = flow_info(TCP, 80);
    let mut fd = w.start(&info).unwrap();
    let mut actions = Actions::default();
    fd.data(
        &mut Cx::new(Timestamp::ZERO, &info, &mut actions),
        ToServer,
        Chunk::Data(b"GE"),
    );
    fd.end(&mut Cx::new(Timestamp::ZERO, &info, &mut actions));
    assert_eq!(actions.detection, None);
    assert!(!actions.done);
}

/// What the flow data asks for when given `bytes` in direction `dir`.
fn feed(fd: &mut dyn FlowData, info: &FlowInfo, dir: Direction, bytes: &[u8]) -> Actions {
    let mut actions = Actions::default();
    fd.data(
        &mut Cx::new(Timestamp::ZERO, info, &mut actions),
        dir,
        Chunk::Data(bytes),
    );
    actions
}

#[test]
fn a_udp_direction_ruled_out_asks_for_no_more_of_its_data_and_the_answer_still_decides() {
    let w = wizard();
    let info = flow_info(UDP, 53);
    // A junk request: that direction is done, the flow is not.
    let mut fd = w.start(&info).unwrap();
    let first = feed(fd.as_mut(), &info, ToServer, b"\x00junk");
    assert_eq!(first.done_with, Some(ToServer));
    assert!(first.detection.is_none() && !first.done, "{first:?}");
    // A recognisable answer still names the service, and the request's direction is
    // reported failed on its own (Suricata's `app_proto_ts: failed`).
    let answer = feed(fd.as_mut(), &info, ToClient, &dns_response("example.com"));
    assert_eq!(answer.detection, Some(Detection::Service("dns")));
    assert_eq!(answer.failed_dir, Some(ToServer));
    assert!(answer.done);
    // A direction that named the service first leaves nothing failed.
    let mut fd = w.start(&info).unwrap();
    let named = feed(fd.as_mut(), &info, ToServer, &dns_query("example.com"));
    assert_eq!(named.detection, Some(Detection::Service("dns")));
    assert_eq!(named.failed_dir, None);
    // An empty first datagram rules its direction out like junk.
    let mut fd = w.start(&info).unwrap();
    assert_eq!(
        feed(fd.as_mut(), &info, ToServer, b"").done_with,
        Some(ToServer)
    );
    let answer = feed(fd.as_mut(), &info, ToClient, &dns_response("example.com"));
    assert_eq!(answer.failed_dir, Some(ToServer));
    // TCP keeps counting a ruled-out direction (up to the depth, to fail a one-sided
    // flow), so it never asks.
    let info = flow_info(TCP, 80);
    let mut fd = w.start(&info).unwrap();
    assert_eq!(
        feed(fd.as_mut(), &info, ToServer, b"\x00junk").done_with,
        None
    );
}

#[test]
fn a_tcp_banner_no_rule_fits_is_failed_once_the_request_names_the_flow() {
    // NATS: the server's `INFO {...}` comes first and fits nothing; the client's
    // `CONNECT` is an HTTP method. Suricata: `app_proto: http, app_proto_tc: failed`.
    let w = wizard();
    let info = flow_info(TCP, 4222);
    let mut fd = w.start(&info).unwrap();
    let banner = feed(
        fd.as_mut(),
        &info,
        ToClient,
        b"INFO {\"server_id\":\"x\",\"version\":\"2.1.0\"}\r\n",
    );
    assert!(banner.detection.is_none() && banner.failed_dir.is_none());
    let request = feed(
        fd.as_mut(),
        &info,
        ToServer,
        b"CONNECT {\"verbose\":false} HTTP/1.1\r\n\r\n",
    );
    assert_eq!(request.detection, Some(Detection::Service("http")));
    assert_eq!(request.failed_dir, Some(ToClient));
    // A banner too short for Suricata's pattern matcher to be done with it (fewer than
    // DONE_MIN_BYTES) stays undecided: no direction is failed.
    let mut fd = w.start(&info).unwrap();
    feed(fd.as_mut(), &info, ToClient, b"\x00\x01\x02");
    let request = feed(fd.as_mut(), &info, ToServer, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(request.detection, Some(Detection::Service("http")));
    assert_eq!(request.failed_dir, None);
}

#[test]
fn a_forked_wizard_has_its_own_book_and_names_every_protocol_alike() {
    let w = wizard();
    let fork = w.fork_book();
    assert!(!Arc::ptr_eq(&w.book, &fork.book), "the fork shares no book");
    assert_eq!(fork.max_search_depth(), w.max_search_depth());
    for c in cases() {
        let (mut a, mut b) = (WizardState::default(), WizardState::default());
        let chunk = || Chunk::Data(&c.bytes);
        let want = w.scan(&mut a, c.transport, ports(&c), c.dir, chunk());
        let got = fork.scan(&mut b, c.transport, ports(&c), c.dir, chunk());
        assert_eq!(got, want, "{}", c.what);
    }
    // Through the inspector interface: a forked inspector, named and kinded alike.
    let forked = Inspector::fork(&w).expect("the wizard forks");
    assert_eq!(forked.name(), "wizard");
    assert_eq!(forked.kind(), InspectorKind::Wizard);
}

#[test]
fn on_udp_only_the_services_whose_suricata_probe_swaps_turn_the_flow_around() {
    // Suricata's DNS, IKE, DCERPC, NFS, SMB and LDAP probes set `rdir`; the others
    // name the flow and keep the first packet's direction.
    assert_eq!(
        first_word(UDP, 40000, 53, &dns_response("www.example.com")),
        Outcome::Service {
            name: "dns",
            swap: true
        }
    );
    for (what, port, msg) in [
        ("snmp", 161, snmp_response()),
        ("ntp", 123, ntp_reply()),
        ("stun", 3478, stun_binding_response()),
    ] {
        assert_eq!(first_word(UDP, 40000, port, &msg), named(what), "{what}");
    }
    // TCP keeps every swap (a stream picked up with the server's side first)
    assert_eq!(first_word(TCP, 40000, 80, HTTP_RESPONSE), swapped("http"));
}

#[test]
fn the_second_look_names_the_silent_direction_or_finds_it_failed() {
    let w = wizard();
    let on = |server| Ports {
        client: 40000,
        server,
    };
    let look = |transport, port, dir, data: &[u8], service| {
        w.second_look(transport, on(port), dir, data, service)
    };
    // An HTTP request answered by HTTP, by an SSH banner, by 40 bytes nothing fits,
    // by 5 such bytes (too few for Suricata to be done with them).
    assert_eq!(
        look(TCP, 80, ToClient, b"HTTP/1.1 200 OK\r\n\r\n", "http"),
        named("http")
    );
    assert_eq!(
        look(TCP, 80, ToClient, b"SSH-2.0-OpenSSH_8.9\r\n", "http"),
        named("ssh")
    );
    assert_eq!(
        look(TCP, 80, ToClient, &[0xee; 40], "http"),
        Outcome::Failed
    );
    assert_eq!(
        look(TCP, 80, ToClient, &[0xee; 5], "http"),
        Outcome::Pending
    );
    // A client's junk after a server greeting: done at 17 bytes, not at 12.
    assert_eq!(
        look(TCP, 25, ToServer, &[0xee; 17], "smtp"),
        Outcome::Failed
    );
    assert_eq!(
        look(TCP, 25, ToServer, &[0xee; 12], "smtp"),
        Outcome::Pending
    );
    // The flow's own protocol's answers fit on any port (Suricata's probe of the
    // flow's protocol): an HTTP/2 server's SETTINGS on 443, a PostgreSQL server's
    // SSL refusal and authentication request on 6000, a MySQL client's login.
    let settings = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64";
    assert_eq!(look(TCP, 443, ToClient, settings, "http2"), named("http2"));
    assert_eq!(look(TCP, 6000, ToClient, b"N", "pgsql"), named("pgsql"));
    let auth = b"R\x00\x00\x00\x0c\x00\x00\x00\x05\x01\x02\x03\x04";
    assert_eq!(look(TCP, 6000, ToClient, auth, "pgsql"), named("pgsql"));
    let mut login = vec![0x3e, 0, 0, 1, 0x85, 0xa6, 0xff, 0x01, 0, 0, 0, 0x40, 0x21];
    login.extend_from_slice(&[0; 23]);
    login.extend_from_slice(b"root\0");
    assert_eq!(look(TCP, 3306, ToServer, &login, "mysql"), named("mysql"));
    // Those answers name nothing for a flow of another protocol: the SETTINGS frame
    // after an HTTP/1 request fits nothing and is long enough to be failed.
    assert_eq!(look(TCP, 443, ToClient, settings, "http"), Outcome::Failed);
    // UDP: a datagram nothing fits says nothing (Suricata keeps the named side's).
    assert_eq!(
        look(UDP, 53, ToClient, &[0xee; 40], "dns"),
        Outcome::Pending
    );
    assert_eq!(
        look(UDP, 53, ToClient, &dns_response("example.com"), "dns"),
        named("dns")
    );
}

#[test]
fn answers_never_name_a_flow_on_their_own() {
    // The rules tried only on a named flow's silent side are too weak for a first
    // detection, on any port: an HTTP/2 SETTINGS frame, a PostgreSQL `N`, a MySQL
    // login.
    let w = wizard();
    let settings = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64";
    let mut login = vec![0x3e, 0, 0, 1, 0x85, 0xa6, 0xff, 0x01, 0, 0, 0, 0x40, 0x21];
    login.extend_from_slice(&[0; 23]);
    login.extend_from_slice(b"root\0");
    for (port, dir, bytes) in [
        (80, ToClient, &settings[..]),
        (8080, ToClient, &settings[..]),
        (5432, ToClient, &b"N"[..]),
        (3306, ToServer, &login[..]),
    ] {
        let mut st = WizardState::default();
        let got = w.scan(
            &mut st,
            TCP,
            Ports {
                client: 40000,
                server: port,
            },
            dir,
            Chunk::Data(bytes),
        );
        assert!(
            !matches!(got, Outcome::Service { .. }),
            "port {port}: {got:?}"
        );
    }
}
