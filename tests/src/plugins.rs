//! Plugin test support: builds the workspace's plugin crates as real shared libraries
//! (in the workspace target directory, with the profile of the running test) and
//! writes the capture the plugin tests replay.
//!
//! Contract: [`library`] returns the path of a freshly built `.so` of one of
//! [`PLUGIN_CRATES`]; the first call in a process runs one `cargo build` for all of
//! them (cargo's own caching makes later runs cheap). [`capture`] writes a pcap whose
//! flows are described by [`Flows`]: memcached on its port and on another, HTTP on
//! the memcached port (the hexes are case-sensitive: `GET ` is not `get `), flows
//! from the allowlisted network, and one whose payload makes the test plugin panic.

use crate::frame::{self, flags, v4};
use crate::pcap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The plugin crates (package name, library file stem).
pub const PLUGIN_CRATES: &[(&str, &str)] = &[
    ("memcached-plugin", "memcached_plugin"),
    ("allow-cidr-plugin", "allow_cidr_plugin"),
    ("test-panic-plugin", "test_panic_plugin"),
    ("test-old-abi-plugin", "test_old_abi_plugin"),
    ("test-bad-layout-plugin", "test_bad_layout_plugin"),
    ("test-not-a-plugin", "test_not_a_plugin"),
];

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// The directory the running test's profile builds into (`target/debug` or
/// `target/release`), found from the test executable's own path.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("the test binary lives in target/<profile>/deps")
}

/// Builds every plugin crate once per process; the directory holding the libraries.
pub fn build_all() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = profile_dir();
        let release = dir.file_name().is_some_and(|n| n == "release");
        let target = dir.parent().map(Path::to_path_buf).expect("target dir");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace())
            .arg("build")
            .arg("--quiet")
            .env("CARGO_TARGET_DIR", &target);
        if release {
            cmd.arg("--release");
        }
        for (package, _) in PLUGIN_CRATES {
            cmd.args(["-p", package]);
        }
        let out = cmd.output().expect("run cargo build for the plugins");
        assert!(
            out.status.success(),
            "building the plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// The built library of crate `stem` (`memcached_plugin`, ...).
pub fn library(stem: &str) -> PathBuf {
    let p = build_all().join(format!("lib{stem}.so"));
    assert!(p.is_file(), "{} was not built", p.display());
    p
}

/// A fresh directory holding copies of the libraries `stems` (for directory scans).
pub fn plugin_dir(tag: &str, stems: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowengine-plugins-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create plugin dir");
    for s in stems {
        let from = library(s);
        std::fs::copy(&from, dir.join(from.file_name().expect("file name"))).expect("copy");
    }
    dir
}

/// The flows of [`capture`], by their client port (each flow's client port is
/// unique).
pub struct Flows;

impl Flows {
    /// memcached on 11211: set, get (one hit of two keys), delete; closed.
    pub const MEMCACHED: u16 = 40000;
    /// memcached on port 9999 (named by its bytes alone).
    pub const MEMCACHED_OTHER_PORT: u16 = 40001;
    /// HTTP from the allowlisted network 192.168.7.0/24 (stays open).
    pub const ALLOWED_HTTP: u16 = 40002;
    /// UDP from the allowlisted network (stays open).
    pub const ALLOWED_UDP: u16 = 40003;
    /// A payload starting `PANIC` (the test plugin panics on it), to port 7000.
    pub const PANIC: u16 = 40004;
    /// HTTP to port 11211: named http, not memcached.
    pub const HTTP_ON_11211: u16 = 40005;
    /// Every flow.
    pub const ALL: [u16; 6] = [40000, 40001, 40002, 40003, 40004, 40005];
}

/// The allowlisted network, as `[plugins.allow-cidr] cidrs` gives it.
pub const ALLOWED_CIDR: &str = "192.168.7.0/24";

struct Writer {
    packets: Vec<(u64, Vec<u8>)>,
    t: u64,
}

impl Writer {
    fn push(&mut self, frame: Vec<u8>) {
        self.t += 1_000_000; // 1 ms apart
        self.packets.push((self.t, frame));
    }

    /// A TCP conversation: handshake, `(to_server, bytes)` turns, optional FIN.
    fn tcp(&mut self, c: (IpAddr, u16), s: (IpAddr, u16), turns: &[(bool, &[u8])], close: bool) {
        let (mut cs, mut ss) = (1000u32, 9000u32);
        self.push(frame::tcp(c, s, flags::SYN, cs, 0, b""));
        cs += 1;
        self.push(frame::tcp(s, c, flags::SYN | flags::ACK, ss, cs, b""));
        ss += 1;
        self.push(frame::tcp(c, s, flags::ACK, cs, ss, b""));
        let f = flags::ACK | flags::PSH;
        for (to_server, data) in turns {
            if *to_server {
                self.push(frame::tcp(c, s, f, cs, ss, data));
                cs += data.len() as u32;
            } else {
                self.push(frame::tcp(s, c, f, ss, cs, data));
                ss += data.len() as u32;
            }
        }
        if close {
            self.push(frame::tcp(c, s, flags::FIN | flags::ACK, cs, ss, b""));
            cs += 1;
            self.push(frame::tcp(s, c, flags::FIN | flags::ACK, ss, cs, b""));
            ss += 1;
            self.push(frame::tcp(c, s, flags::ACK, cs, ss, b""));
        }
    }
}

/// Writes the plugin test capture to `path` (Ethernet, 1 ms between packets).
pub fn capture(path: &Path) -> std::io::Result<()> {
    let client = v4(10, 0, 0, 1);
    let server = v4(10, 0, 0, 2);
    let mut w = Writer {
        packets: Vec::new(),
        t: 1_700_000_000_000_000_000,
    };
    w.tcp(
        (client, Flows::MEMCACHED),
        (server, 11211),
        &[
            (true, b"set k1 0 0 5\r\nhello\r\n"),
            (false, b"STORED\r\n"),
            (true, b"get k1 k2\r\n"),
            (false, b"VALUE k1 0 5\r\nhello\r\nEND\r\n"),
            (true, b"delete k2\r\n"),
            (false, b"NOT_FOUND\r\n"),
        ],
        true,
    );
    w.tcp(
        (client, Flows::MEMCACHED_OTHER_PORT),
        (server, 9999),
        &[(true, b"get x\r\n"), (false, b"END\r\n")],
        true,
    );
    w.tcp(
        (v4(192, 168, 7, 7), Flows::ALLOWED_HTTP),
        (server, 80),
        &[
            (true, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        false,
    );
    w.push(frame::udp(
        (v4(192, 168, 7, 8), Flows::ALLOWED_UDP),
        (v4(10, 0, 0, 3), 5000),
        b"hello",
    ));
    w.tcp(
        (client, Flows::PANIC),
        (server, 7000),
        &[(true, b"PANIC now\r\n"), (false, b"ok\r\n")],
        true,
    );
    w.tcp(
        (client, Flows::HTTP_ON_11211),
        (server, 11211),
        &[
            (true, b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"),
            (
                false,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
        ],
        true,
    );
    pcap::write_file(path, pcap::DLT_EN10MB, &w.packets)
}
