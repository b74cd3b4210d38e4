//! `pcap-replay --interface` on a real interface: two network namespaces made for the
//! test and joined by a veth pair (10.77.0.1/24 in A, 10.77.0.2/24 in B; the addresses
//! exist only inside them). pcap-replay captures on A's end; B pings A, exchanges a UDP
//! datagram with it and opens a TCP connection to it; then pcap-replay gets SIGTERM
//! and must exit 0 with one EVE record per flow, open flows ending `shutdown`.
//!
//! A second test reloads the configuration with SIGHUP while capturing: an HTTP
//! connection before the reload is inspected under the old configuration (HTTP off),
//! one after it under the new one (HTTP on); a reload of a broken file is refused and
//! changes nothing.
//!
//! The tests skip, saying why, only when the machine forbids network namespaces (not
//! root, or `ip` refused with a permission error); any other failure fails it. The
//! namespaces (and so the veth pair) and every process started are removed at the end,
//! whatever happens (a drop guard).

use flowengine_tests::netns::{check, expect_line, lines_of, wait_for, Lab, Skip};
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const A_IP: &str = "10.77.0.1";
const B_IP: &str = "10.77.0.2";
const UDP_PORT: u16 = 7000;
const TCP_PORT: u16 = 7001;
/// UDP sent here is dropped by the capture's `--bpf` filter.
const FILTERED_PORT: u16 = 7002;

/// Three ICMP echo requests from a raw socket (no `ping` needed), each answered by A's
/// kernel before the next.
const PING: &str = r#"
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(5)
body = b'flowengine-live!'
for seq in range(3):
    hdr = struct.pack('!BBHHH', 8, 0, 0, 0x7777, seq) + body
    s.sendto(struct.pack('!BBHHH', 8, 0, csum(hdr), 0x7777, seq) + body, (sys.argv[1], 0))
    while s.recv(2048)[20] != 0:
        pass
print('ok', flush=True)
"#;

/// A UDP echo server for one datagram.
const UDP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('ready', flush=True)
data, peer = s.recvfrom(100)
s.sendto(data, peer)
"#;

/// One UDP exchange, then a datagram to the filtered port.
const UDP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b'hello', (sys.argv[1], int(sys.argv[2])))
assert s.recv(100) == b'hello'
s.sendto(b'not seen', (sys.argv[1], int(sys.argv[3])))
print('ok', flush=True)
"#;

/// A TCP server: echoes one message, then holds the connection until the peer closes.
const TCP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
c.sendall(c.recv(100))
c.recv(100)
"#;

/// A TCP client: one exchange, then the connection stays open until stdin closes.
const TCP_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b'hello')
assert s.recv(100) == b'hello'
print('ok', flush=True)
sys.stdin.read()
s.close()
"#;

/// A scratch file of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pcap-replay-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn port(e: &Value, k: &str) -> u64 {
    e[k].as_u64().unwrap_or(0)
}

#[test]
fn live_capture_in_namespaces_stops_on_sigterm_with_one_record_per_flow() {
    let mut lab = match Lab::new("live", 'v', A_IP, B_IP) {
        Ok(lab) => lab,
        Err(Skip(why)) => {
            println!("SKIPPED live_capture_in_namespaces: this machine forbids network namespaces: {why}");
            return;
        }
    };
    let eve = scratch("live.json");
    let _ = std::fs::remove_file(&eve);
    let filter = format!("not udp port {FILTERED_PORT}");
    let mut replay = Lab::exec(
        &lab.a,
        env!("CARGO_BIN_EXE_pcap-replay"),
        &[
            "--interface",
            &lab.veth_a,
            "--eve",
            eve.to_str().unwrap(),
            "--deterministic",
            "--bpf",
            &filter,
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start pcap-replay");
    let pid = replay.id();
    let mut summary_out = replay.stdout.take().unwrap();
    let stderr = lines_of(replay.stderr.take().unwrap());
    lab.children.push(replay);
    let replay_at = lab.children.len() - 1;

    // Ready: the capture is active and filtered once this line is out.
    expect_line(&stderr, "capturing on", "pcap-replay readiness line");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "pcap-replay", "`ip netns exec` should exec it");

    let (a, b) = (lab.a.clone(), lab.b.clone());
    let (udp_port, tcp_port, filtered) = (
        UDP_PORT.to_string(),
        TCP_PORT.to_string(),
        FILTERED_PORT.to_string(),
    );
    let (_, udp_ready) = lab.python(&a, UDP_SERVER, &[A_IP, &udp_port]);
    let (_, tcp_ready) = lab.python(&a, TCP_SERVER, &[A_IP, &tcp_port]);
    expect_line(&udp_ready, "ready", "UDP server");
    expect_line(&tcp_ready, "ready", "TCP server");

    lab.python_ok(&b, PING, &[A_IP], "ICMP echo from B");
    lab.python_ok(
        &b,
        UDP_CLIENT,
        &[A_IP, &udp_port, &filtered],
        "UDP exchange from B",
    );
    let (tcp_client, tcp_ok) = lab.python(&b, TCP_CLIENT, &[A_IP, &tcp_port]);
    expect_line(&tcp_ok, "ok", "TCP exchange from B");

    // The TCP connection is still open: its flow must end `shutdown`.
    std::thread::sleep(Duration::from_millis(300));
    let o = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .output()
        .expect("run kill");
    check(&o, "kill -TERM pcap-replay");
    let status = wait_for(&mut lab.children[replay_at], "pcap-replay after SIGTERM");
    let mut summary = String::new();
    summary_out.read_to_string(&mut summary).unwrap();
    let err: Vec<String> = stderr.try_iter().collect();
    assert_eq!(status.code(), Some(0), "stderr: {err:?}\n{summary}");
    assert!(summary.contains("stopped_by: SIGTERM"), "{summary}");
    assert!(summary.contains("kernel_received:"), "{summary}");
    // Let the TCP peers go.
    drop(lab.children[tcp_client].stdin.take());

    let events: Vec<Value> = std::fs::read_to_string(&eve)
        .expect("EVE file written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| e["src_ip"] == B_IP && e["dest_ip"] == A_IP)
        .collect();
    let show = || {
        ours.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Exactly one record per flow.
    let mut keys: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}:{} {}:{} {}",
                e["proto"],
                e["src_ip"],
                e["src_port"],
                e["dest_ip"],
                e["dest_port"],
                e["icmp_type"]
            )
        })
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a flow with two records:\n{}", show());

    let icmp: Vec<&&Value> = ours.iter().filter(|e| e["proto"] == "ICMP").collect();
    assert_eq!(icmp.len(), 1, "{}", show());
    let f = &icmp[0]["flow"];
    assert_eq!(f["pkts_toserver"], 3, "{}", show());
    assert_eq!(f["pkts_toclient"], 3, "{}", show());
    assert_eq!(f["reason"], "shutdown");

    let udp: Vec<&&Value> = ours
        .iter()
        .filter(|e| e["proto"] == "UDP" && port(e, "dest_port") == u64::from(UDP_PORT))
        .collect();
    assert_eq!(udp.len(), 1, "{}", show());
    assert_eq!(udp[0]["flow"]["pkts_toserver"], 1);
    assert_eq!(udp[0]["flow"]["pkts_toclient"], 1);
    assert_eq!(udp[0]["flow"]["reason"], "shutdown");

    // The kernel filter kept this one from the engine.
    assert!(
        !events
            .iter()
            .any(|e| port(e, "dest_port") == u64::from(FILTERED_PORT)),
        "{}",
        show()
    );

    let tcp: Vec<&&Value> = ours
        .iter()
        .filter(|e| e["proto"] == "TCP" && port(e, "dest_port") == u64::from(TCP_PORT))
        .collect();
    assert_eq!(tcp.len(), 1, "{}", show());
    let f = &tcp[0]["flow"];
    assert_eq!(f["reason"], "shutdown", "{}", show());
    assert_eq!(f["state"], "established", "{}", show());
    // SYN, ACK, data (and its ACK) one way; SYN/ACK and data (and its ACK) the other.
    assert!(f["pkts_toserver"].as_u64().unwrap() >= 3, "{}", show());
    assert!(f["pkts_toclient"].as_u64().unwrap() >= 2, "{}", show());
    let _ = std::fs::remove_file(&eve);
}

/// An HTTP server for `argv[3]` connections: reads a request, answers 200, closes.
const HTTP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
print('ready', flush=True)
for _ in range(int(sys.argv[3])):
    c, _ = s.accept()
    c.recv(1000)
    c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok')
    c.close()
"#;

/// One HTTP request from local port `argv[3]`; prints `ok` once answered.
const HTTP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(5)
s.bind(('', int(sys.argv[3])))
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b'GET /reload HTTP/1.1\r\nHost: flowengine.test\r\nUser-Agent: live-test\r\n\r\n')
got = b''
while not got.endswith(b'ok'):
    d = s.recv(1000)
    if not d:
        break
    got += d
assert got.startswith(b'HTTP/1.1 200'), got
s.close()
print('ok', flush=True)
"#;

const HTTP_PORT: u16 = 7080;
const BEFORE_PORT: u16 = 41001;
const AFTER_PORT: u16 = 41002;

fn hup(pid: u32) {
    let o = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .output()
        .expect("run kill");
    check(&o, "kill -HUP pcap-replay");
}

#[test]
fn sighup_reloads_the_configuration_for_new_flows_while_capturing() {
    let mut lab = match Lab::new("live", 'v', A_IP, B_IP) {
        Ok(lab) => lab,
        Err(Skip(why)) => {
            println!("SKIPPED sighup_reloads: this machine forbids network namespaces: {why}");
            return;
        }
    };
    let eve = scratch("reload.json");
    let config = scratch("reload.toml");
    let _ = std::fs::remove_file(&eve);
    let http = |on: &str| format!("[app-layer.protocols.http]\nenabled = \"{on}\"\n");
    std::fs::write(&config, http("no")).unwrap();
    let mut replay = Lab::exec(
        &lab.a,
        env!("CARGO_BIN_EXE_pcap-replay"),
        &[
            "--interface",
            &lab.veth_a,
            "--eve",
            eve.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--deterministic",
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start pcap-replay");
    let pid = replay.id();
    let mut summary_out = replay.stdout.take().unwrap();
    let stderr = lines_of(replay.stderr.take().unwrap());
    lab.children.push(replay);
    let replay_at = lab.children.len() - 1;
    expect_line(&stderr, "capturing on", "pcap-replay readiness line");

    let (a, b) = (lab.a.clone(), lab.b.clone());
    let http_port = HTTP_PORT.to_string();
    let (_, ready) = lab.python(&a, HTTP_SERVER, &[A_IP, &http_port, "2"]);
    expect_line(&ready, "ready", "HTTP server");
    let before = BEFORE_PORT.to_string();
    lab.python_ok(&b, HTTP_CLIENT, &[A_IP, &http_port, &before], "HTTP before");

    // A broken file: refused, nothing changes.
    std::fs::write(&config, "[stream]\nmax_flows = \"many\"\n").unwrap();
    hup(pid);
    expect_line(&stderr, "reload refused", "the refused reload's line");
    // HTTP on: applied to the flows that start from now on.
    std::fs::write(&config, http("yes")).unwrap();
    hup(pid);
    expect_line(&stderr, "configuration reloaded", "the reload's line");
    let after = AFTER_PORT.to_string();
    lab.python_ok(&b, HTTP_CLIENT, &[A_IP, &http_port, &after], "HTTP after");

    std::thread::sleep(Duration::from_millis(300));
    let o = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .output()
        .expect("run kill");
    check(&o, "kill -TERM pcap-replay");
    let status = wait_for(&mut lab.children[replay_at], "pcap-replay after SIGTERM");
    let mut summary = String::new();
    summary_out.read_to_string(&mut summary).unwrap();
    assert_eq!(status.code(), Some(0), "{summary}");
    assert!(summary.contains("reloads: 1"), "{summary}");
    assert!(summary.contains("reloads_refused: 1"), "{summary}");

    let events: Vec<Value> = std::fs::read_to_string(&eve)
        .expect("EVE file written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let flow_of = |client_port: u16| {
        let f: Vec<&Value> = events
            .iter()
            .filter(|e| e["event_type"] == "flow" && port(e, "src_port") == u64::from(client_port))
            .collect();
        assert_eq!(f.len(), 1, "one record for port {client_port}: {events:?}");
        f[0].clone()
    };
    let http_events = |flow: &Value| {
        events
            .iter()
            .filter(|e| e["event_type"] == "http" && e["flow_id"] == flow["flow_id"])
            .count()
    };
    let old = flow_of(BEFORE_PORT);
    let new = flow_of(AFTER_PORT);
    assert_ne!(old["app_proto"], "http", "HTTP was off for it: {old}");
    assert_eq!(http_events(&old), 0, "{events:?}");
    assert_eq!(new["app_proto"], "http", "{new}");
    assert_eq!(http_events(&new), 1, "{events:?}");
    let _ = std::fs::remove_file(&eve);
    let _ = std::fs::remove_file(&config);
}
