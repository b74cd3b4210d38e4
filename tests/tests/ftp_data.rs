//! FTP data connections named by expected flows, through the engine's public face with
//! the built-in inspectors: the FTP inspector reads `227`/`229` replies and
//! `PORT`/`EPRT` commands on the control connection, and the data connections that
//! follow get `"app_proto": "ftp-data"` in their EVE records without detection, while
//! a connection nobody announced, one that comes after the timeout, or one whose
//! expectation was evicted from a full table does not.

use flowengine::Stats;
use flowengine_tests::frame::v4;
use serde_json::Value;
use std::net::IpAddr;

mod common;
use common::{Conn, Eng};

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

fn ip(a: [u8; 4]) -> IpAddr {
    v4(a[0], a[1], a[2], a[3])
}

fn engine(sets: &[&str]) -> Eng {
    common::engine(sets, "")
}

/// A logged-in control connection from CLIENT:40000 to SERVER:21 at second 0.
fn control(e: &mut Eng) -> Conn {
    let mut c = Conn::open(e, 0, (ip(CLIENT), 40000), (ip(SERVER), 21));
    c.b(e, 0, b"220 ProFTPD 1.3.5 Server (Debian) [10.0.0.2]\r\n");
    c.a(e, 0, b"USER anonymous\r\n");
    c.b(
        e,
        0,
        b"331 Anonymous login ok, send your complete email address\r\n",
    );
    c.a(e, 0, b"PASS guest@\r\n");
    c.b(e, 0, b"230 Anonymous access granted\r\n");
    c
}

/// A data connection carrying `data` from the acceptor, opened at `secs`.
fn transfer(e: &mut Eng, secs: u64, opener: (IpAddr, u16), acceptor: (IpAddr, u16), data: &[u8]) {
    let mut d = Conn::open(e, secs, opener, acceptor);
    d.b(e, secs, data);
    d.close(e, secs);
}

/// The flow records (EVE `flow` events) and the counters.
fn finish(e: Eng) -> (Vec<Value>, Stats) {
    let (lines, stats) = common::finish(e);
    let flows = lines
        .into_iter()
        .filter(|v| v["event_type"] == "flow")
        .collect();
    (flows, stats)
}

/// The `app_proto` of the flow whose ports are `ports` (either order).
fn app_proto(flows: &[Value], ports: (u16, u16)) -> Option<String> {
    let found: Vec<&Value> = flows
        .iter()
        .filter(|f| {
            let (s, d) = (&f["src_port"], &f["dest_port"]);
            (*s == ports.0 && *d == ports.1) || (*s == ports.1 && *d == ports.0)
        })
        .collect();
    assert_eq!(found.len(), 1, "one flow with ports {ports:?}: {flows:#?}");
    found[0]["app_proto"].as_str().map(str::to_string)
}

#[test]
fn announced_data_connections_are_ftp_data_and_others_are_not() {
    let mut e = engine(&[]);
    let mut c = control(&mut e);
    let (client, server) = (ip(CLIENT), ip(SERVER));

    // Passive: the 227 reply names a private address (NAT); the data connection goes
    // to the server's public one, which is the control connection's.
    c.a(&mut e, 1, b"PASV\r\n");
    c.b(
        &mut e,
        1,
        b"227 Entering Passive Mode (192,168,150,90,195,149).\r\n",
    );
    c.a(&mut e, 1, b"LIST\r\n");
    transfer(
        &mut e,
        2,
        (client, 40001),
        (server, 50069),
        b"-rw-r--r-- 1 ftp ftp 6 a.txt\r\n",
    );
    c.b(
        &mut e,
        2,
        b"150 Opening ASCII mode data connection\r\n226 Transfer complete\r\n",
    );

    // Extended passive.
    c.a(&mut e, 3, b"EPSV\r\n");
    c.b(
        &mut e,
        3,
        b"229 Entering Extended Passive Mode (|||6446|)\r\n",
    );
    c.a(&mut e, 3, b"RETR a.txt\r\n");
    transfer(&mut e, 4, (client, 40002), (server, 6446), b"hello\n");
    c.b(
        &mut e,
        4,
        b"150 Opening BINARY mode\r\n226 Transfer complete\r\n",
    );

    // Active: the server connects from port 20 to the client's announced port.
    c.a(&mut e, 5, b"PORT 10,0,0,1,7,138\r\n");
    c.b(&mut e, 5, b"200 PORT command successful\r\n");
    c.a(&mut e, 5, b"STOR b.txt\r\n");
    c.b(&mut e, 5, b"150 Opening BINARY mode\r\n");
    let mut d = Conn::open(&mut e, 6, (server, 20), (client, 1930));
    d.b(&mut e, 6, b"uploaded bytes\n");
    d.close(&mut e, 6);
    c.b(&mut e, 6, b"226 Transfer complete\r\n");

    // Active, extended; the data connection carries nothing.
    c.a(&mut e, 7, b"EPRT |1|10.0.0.1|5282|\r\n");
    c.b(&mut e, 7, b"200 EPRT command successful\r\n");
    let mut d = Conn::open(&mut e, 7, (server, 20), (client, 5282));
    d.close(&mut e, 7);

    // Not announced, and announced but already used.
    transfer(
        &mut e,
        8,
        (client, 40003),
        (server, 50070),
        b"-rw-r--r-- 1 ftp ftp 6 b.txt\r\n",
    );
    transfer(
        &mut e,
        8,
        (client, 40004),
        (server, 50069),
        b"-rw-r--r-- 1 ftp ftp 6 c.txt\r\n",
    );
    // A third host cannot use an announcement made to the client.
    c.a(&mut e, 9, b"PASV\r\n");
    c.b(
        &mut e,
        9,
        b"227 Entering Passive Mode (10,0,0,2,25,31).\r\n",
    );
    transfer(&mut e, 9, (v4(10, 0, 0, 3), 40006), (server, 6431), b"x");
    c.a(&mut e, 10, b"QUIT\r\n");
    c.b(&mut e, 10, b"221 Goodbye.\r\n");
    c.close(&mut e, 10);

    let (flows, stats) = finish(e);
    assert_eq!(app_proto(&flows, (40000, 21)).as_deref(), Some("ftp"));
    assert_eq!(
        app_proto(&flows, (40001, 50069)).as_deref(),
        Some("ftp-data")
    );
    assert_eq!(
        app_proto(&flows, (40002, 6446)).as_deref(),
        Some("ftp-data")
    );
    assert_eq!(app_proto(&flows, (20, 1930)).as_deref(), Some("ftp-data"));
    // No payload, no app_proto (Suricata's rule), even when expected.
    assert_eq!(app_proto(&flows, (20, 5282)), None);
    assert_ne!(
        app_proto(&flows, (40003, 50070)).as_deref(),
        Some("ftp-data")
    );
    assert_ne!(
        app_proto(&flows, (40004, 50069)).as_deref(),
        Some("ftp-data")
    );
    assert_ne!(
        app_proto(&flows, (40006, 6431)).as_deref(),
        Some("ftp-data")
    );
    // The active connection's record keeps who opened it: the server.
    let active = flows.iter().find(|f| f["dest_port"] == 1930).unwrap();
    assert_eq!(active["src_ip"], "10.0.0.2");
    assert_eq!(active["src_port"], 20);

    let x = stats.expectations;
    assert_eq!((x.added, x.matched, x.evicted), (5, 4, 0), "{x:?}");
    // The last 227 (port 6431) waits for 10.0.0.1 only, until the end.
    assert_eq!(x.expired, 0);
}

#[test]
fn a_data_connection_after_the_timeout_is_not_ftp_data() {
    let mut e = engine(&["app-layer.expectations.timeout=5"]);
    let mut c = control(&mut e);
    let (client, server) = (ip(CLIENT), ip(SERVER));
    c.a(&mut e, 1, b"PASV\r\n");
    c.b(
        &mut e,
        1,
        b"227 Entering Passive Mode (10,0,0,2,195,149).\r\n",
    );
    c.a(&mut e, 2, b"PASV\r\n");
    c.b(
        &mut e,
        2,
        b"227 Entering Passive Mode (10,0,0,2,195,150).\r\n",
    );
    // Five seconds after the first: too late; the second is still in time.
    transfer(&mut e, 6, (client, 40001), (server, 50069), b"late\n");
    transfer(&mut e, 6, (client, 40002), (server, 50070), b"in time\n");
    let (flows, stats) = finish(e);
    assert_ne!(
        app_proto(&flows, (40001, 50069)).as_deref(),
        Some("ftp-data")
    );
    assert_eq!(
        app_proto(&flows, (40002, 50070)).as_deref(),
        Some("ftp-data")
    );
    let x = stats.expectations;
    assert_eq!((x.added, x.matched, x.expired), (2, 1, 1), "{x:?}");
}

#[test]
fn a_full_table_drops_the_oldest_expectation() {
    let mut e = engine(&["app-layer.expectations.max=2"]);
    let mut c = control(&mut e);
    let (client, server) = (ip(CLIENT), ip(SERVER));
    for (i, p2) in [1u8, 2, 3].into_iter().enumerate() {
        c.a(&mut e, 1, b"PASV\r\n");
        let reply = format!("227 Entering Passive Mode (10,0,0,2,100,{p2}).\r\n");
        c.b(&mut e, 1, reply.as_bytes());
        assert_eq!(e.stats().expectations.added, i as u64 + 1);
    }
    for (port, p2) in [(40001, 1u16), (40002, 2), (40003, 3)] {
        transfer(
            &mut e,
            2,
            (client, port),
            (server, 100 * 256 + p2),
            b"data\n",
        );
    }
    let (flows, stats) = finish(e);
    assert_ne!(
        app_proto(&flows, (40001, 25601)).as_deref(),
        Some("ftp-data")
    );
    assert_eq!(
        app_proto(&flows, (40002, 25602)).as_deref(),
        Some("ftp-data")
    );
    assert_eq!(
        app_proto(&flows, (40003, 25603)).as_deref(),
        Some("ftp-data")
    );
    let x = stats.expectations;
    assert_eq!((x.added, x.matched, x.evicted), (3, 2, 1), "{x:?}");
}

#[test]
fn expectations_off_or_ftp_data_disabled_name_nothing() {
    for set in [
        "app-layer.expectations.max=0",
        "app-layer.protocols.ftp-data.enabled=no",
    ] {
        let mut e = engine(&[set]);
        let mut c = control(&mut e);
        c.a(&mut e, 1, b"PASV\r\n");
        c.b(
            &mut e,
            1,
            b"227 Entering Passive Mode (10,0,0,2,195,149).\r\n",
        );
        transfer(
            &mut e,
            2,
            (ip(CLIENT), 40001),
            (ip(SERVER), 50069),
            b"data\n",
        );
        let (flows, stats) = finish(e);
        assert_ne!(
            app_proto(&flows, (40001, 50069)).as_deref(),
            Some("ftp-data"),
            "{set}"
        );
        assert_eq!(stats.expectations.added, 0, "{set}");
    }
}
