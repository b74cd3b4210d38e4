//! `flowengine-conntrack` against the real kernel, in two network namespaces made for
//! the test and joined by a veth pair (10.79.0.1/24 in A, 10.79.0.2/24 in B; the
//! addresses exist only inside them). In A: an nft `ct state` rule (so that conntrack
//! tracks in the fresh namespace) and `nf_conntrack_acct`, `_timestamp`, `_events` set
//! to 1; the feed runs there (`ip netns exec`).
//!
//! - `tcp_udp_icmp_records_match_the_kernels_counters`: A opens a TCP connection to B,
//!   exchanges a UDP datagram with it and pings it; the kernel's own figures are read
//!   with `conntrack -L -o extended`, then the table is flushed (`conntrack -F`: the
//!   DESTROY events); after SIGTERM the EVE file must hold exactly one record per
//!   connection, client = A, with the kernel's packet and byte counters both ways and
//!   its TCP state. The feed also dumps the table every 0.2 s: one more ping, left open
//!   at SIGTERM, must end `shutdown` with the counters of the last dump.
//! - `a_burst_of_short_udp_flows_loses_no_event_or_reports_the_loss`: a burst of
//!   `CONNTRACK_LOAD_FLOWS` (default 20 000; the documented full run is 200 000) UDP
//!   flows, then a flush; every flow must give one record and the summary must count
//!   every NEW and DESTROY, or report the overruns (ENOBUFS) that lost some. The rate is
//!   printed. `CONNTRACK_LOAD_RCVBUF` sets the feed's `--rcvbuf`.
//!
//! The tests skip, saying why, only when the machine forbids network namespaces (not
//! root, or `ip` refused with a permission error); any other failure fails them. The
//! namespaces (and so the veth pair and the conntrack table in them) and every process
//! started are removed at the end, whatever happens (a drop guard).

use flowengine_tests::netns::{check, expect_line, lines_of, wait_for, Lab, Skip, WAIT};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const A_IP: &str = "10.79.0.1";
const B_IP: &str = "10.79.0.2";
const FEED: &str = env!("CARGO_BIN_EXE_flowengine-conntrack");

/// Echo servers in B: TCP (one message, then waits for the peer to close) and UDP.
const SERVERS: &str = r#"
import socket, sys, threading
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((sys.argv[1], 7001)); t.listen(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], 7000))
def tcp():
    c, _ = t.accept()
    c.sendall(c.recv(100))
    while c.recv(100):
        pass
    c.close()
def udp():
    d, p = u.recvfrom(100); u.sendto(d, p)
ths = [threading.Thread(target=tcp), threading.Thread(target=udp)]
for th in ths: th.start()
print('ready', flush=True)
for th in ths: th.join()
"#;

/// From A: a TCP exchange (closed by A), a UDP exchange, three pings (raw socket).
const CLIENT: &str = r#"
import socket, struct, sys, time
b = sys.argv[1]
c = socket.create_connection((b, 7001), timeout=5)
c.sendall(b'hello conntrack'); assert c.recv(100) == b'hello conntrack'
c.shutdown(socket.SHUT_WR); c.recv(100); c.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
u.sendto(b'hello udp', (b, 7000)); assert u.recv(100) == b'hello udp'
def csum(x):
    s = sum(struct.unpack('!%dH' % (len(x) // 2), x)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(5)
body = b'flowengine-ct!!!'
for seq in range(3):
    h = struct.pack('!BBHHH', 8, 0, 0, 0x7777, seq) + body
    s.sendto(struct.pack('!BBHHH', 8, 0, csum(h), 0x7777, seq) + body, (b, 0))
    while s.recv(2048)[20] != 0:
        pass
print('ok', flush=True)
"#;

/// From A: one more ping (another id: another flow), left open.
const PING_OPEN: &str = r#"
import socket, struct, sys
def csum(x):
    s = sum(struct.unpack('!%dH' % (len(x) // 2), x)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(5)
body = b'flowengine-open!'
h = struct.pack('!BBHHH', 8, 0, 0, 0x8888, 0) + body
s.sendto(struct.pack('!BBHHH', 8, 0, csum(h), 0x8888, 0) + body, (sys.argv[1], 0))
while s.recv(2048)[20] != 0:
    pass
print('ok', flush=True)
"#;

/// From A: N one-datagram UDP flows to B (distinct source sockets x destination ports).
const BURST: &str = r#"
import socket, sys, time
b, n = sys.argv[1], int(sys.argv[2])
socks = []
sent = 0
t0 = time.monotonic()
while sent < n:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    for port in range(1, 50001):
        if sent == n:
            break
        while True:
            try:
                s.sendto(b'x', (b, port)); break
            except BlockingIOError:
                time.sleep(0.0005)
        sent += 1
    socks.append(s)
print('ok %.3f' % (time.monotonic() - t0), flush=True)
"#;

/// The namespaces, with conntrack on in A: a rule that uses it (the namespace tracks
/// nothing before), then the sysctls (they exist once the rule loaded conntrack there).
fn conntrack_lab() -> Result<Lab, Skip> {
    let lab = Lab::new("ct", 'c', A_IP, B_IP)?;
    let mut nft = Lab::exec(&lab.a, "nft", &["-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nft (nftables; scripts/setup.sh installs it)");
    nft.stdin
        .take()
        .unwrap()
        .write_all(
            b"table inet fe {\n  chain out { type filter hook output priority 0; \
              ct state new,established,related accept; }\n}\n",
        )
        .unwrap();
    check(&nft.wait_with_output().unwrap(), "nft add ct state rule");
    for k in [
        "netfilter/nf_conntrack_acct",
        "netfilter/nf_conntrack_timestamp",
        "netfilter/nf_conntrack_events",
        // No IPv6 (link-local addresses, neighbour discovery): only the test's flows.
        "ipv6/conf/all/disable_ipv6",
        "ipv6/conf/default/disable_ipv6",
    ] {
        let set = format!("echo 1 > /proc/sys/net/{k}");
        check(&Lab::exec(&lab.a, "sh", &["-c", &set]).output().unwrap(), k);
    }
    Ok(lab)
}

/// Starts the feed in A; returns its index and its stderr lines, once listening.
fn start_feed(lab: &mut Lab, eve: &std::path::Path, extra: &[&str]) -> (usize, Receiver<String>) {
    let mut args = vec!["--eve", eve.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut child = Lab::exec(&lab.a, FEED, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flowengine-conntrack");
    let lines = lines_of(child.stderr.take().unwrap());
    let i = lab.keep(child);
    expect_line(&lines, "listening", "flowengine-conntrack start");
    (i, lines)
}

/// `conntrack ARGS` in A.
fn conntrack(lab: &Lab, args: &[&str]) -> String {
    let o = Lab::exec(&lab.a, "conntrack", args)
        .output()
        .expect("run conntrack (scripts/setup.sh installs it)");
    check(&o, "conntrack");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// SIGTERM to child `i` (`ip netns exec` execs: the pid is the program's); waits for
/// it and returns the rest of its stderr.
fn stop(lab: &mut Lab, i: usize, lines: &Receiver<String>) -> Vec<String> {
    let pid = lab.children[i].id().to_string();
    check(
        &Command::new("kill").args(["-TERM", &pid]).output().unwrap(),
        "kill -TERM",
    );
    let status = wait_for(&mut lab.children[i], "flowengine-conntrack");
    assert!(status.success(), "flowengine-conntrack: {status}");
    // Everything it wrote, up to the end of its stderr.
    let mut rest = Vec::new();
    while let Ok(l) = lines.recv_timeout(WAIT) {
        rest.push(l);
    }
    rest
}

/// A scratch file in a directory of its own (the tests run in parallel).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flowengine-conntrack-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// One line of `conntrack -L -o extended`: the protocol, the TCP state if any, and
/// the original then reply `key=value` fields.
#[derive(Debug)]
struct Kernel {
    proto: String,
    state: Option<String>,
    orig: HashMap<String, String>,
    reply: HashMap<String, String>,
}

fn parse_kernel(text: &str) -> Vec<Kernel> {
    text.lines()
        .filter(|l| l.starts_with("ipv4"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let proto = words[2].to_owned();
            let state = words
                .get(5)
                .filter(|w| !w.contains('='))
                .map(|w| w.to_lowercase());
            let (mut orig, mut reply) = (HashMap::new(), HashMap::new());
            for w in &words {
                if let Some((k, v)) = w.split_once('=') {
                    let side = if orig.contains_key(k) {
                        &mut reply
                    } else {
                        &mut orig
                    };
                    side.entry(k.to_owned()).or_insert_with(|| v.to_owned());
                }
            }
            Kernel {
                proto,
                state,
                orig,
                reply,
            }
        })
        .collect()
}

fn read_eve(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn num(h: &HashMap<String, String>, k: &str) -> u64 {
    h.get(k)
        .unwrap_or_else(|| panic!("no {k} in {h:?}"))
        .parse()
        .unwrap()
}

/// The summary's `name: value` line's value.
fn value<'a>(summary: &'a [String], name: &str) -> Option<&'a str> {
    summary.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then_some(v.trim())
    })
}

/// The summary's `name: value` counter.
fn counter(summary: &[String], name: &str) -> u64 {
    value(summary, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name:?} in the summary: {summary:#?}"))
}

#[test]
fn tcp_udp_icmp_records_match_the_kernels_counters() {
    let mut lab = match conntrack_lab() {
        Ok(l) => l,
        Err(Skip(why)) => {
            eprintln!("skipping the conntrack live test: {why}");
            return;
        }
    };
    let eve = scratch("records.json");
    // Dumps every 0.2 s too: mid-flow counters for the flow left open at the end.
    let (feed, feed_err) = start_feed(&mut lab, &eve, &["--poll-interval", "0.2"]);
    let (_, ready) = lab.python(&lab.b.clone(), SERVERS, &[B_IP]);
    expect_line(&ready, "ready", "servers in B");
    let (client, done) = lab.python(&lab.a.clone(), CLIENT, &[B_IP]);
    expect_line(&done, "ok", "client in A");
    assert!(wait_for(&mut lab.children[client], "client").success());
    // The kernel's own figures, then the DESTROYs.
    let listed = conntrack(&lab, &["-L", "-o", "extended"]);
    let kernel = parse_kernel(&listed);
    assert_eq!(kernel.len(), 3, "tcp, udp, icmp in A's table: {listed}");
    conntrack(&lab, &["-F"]);
    std::thread::sleep(Duration::from_millis(500));
    // One more flow, still open at SIGTERM: a `shutdown` record with the counters of
    // the last dump.
    let (ping, done) = lab.python(&lab.a.clone(), PING_OPEN, &[B_IP]);
    expect_line(&done, "ok", "open ping in A");
    assert!(wait_for(&mut lab.children[ping], "open ping").success());
    std::thread::sleep(Duration::from_millis(700));
    let summary = stop(&mut lab, feed, &feed_err);
    let records = read_eve(&eve);
    assert_eq!(records.len(), 4, "one record per connection: {records:#?}");
    assert_eq!(counter(&summary, "overruns (ENOBUFS)"), 0);
    assert_eq!(counter(&summary, "destroy"), 3);
    assert!(counter(&summary, "dumps") >= 2, "{summary:#?}");
    let open: Vec<&Value> = records
        .iter()
        .filter(|r| r["flow"]["reason"] == "shutdown")
        .collect();
    assert_eq!(open.len(), 1, "{records:#?}");
    let f = &open[0]["flow"];
    assert_eq!(
        (open[0]["proto"].as_str(), open[0]["icmp_type"].as_u64()),
        (Some("ICMP"), Some(8))
    );
    assert_eq!(
        (f["pkts_toserver"].as_u64(), f["pkts_toclient"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (f["bytes_toserver"].as_u64(), f["bytes_toclient"].as_u64()),
        (Some(44), Some(44))
    );
    for k in &kernel {
        let r = records
            .iter()
            .filter(|r| r["flow"]["reason"] == "timeout")
            .find(|r| r["proto"].as_str().unwrap().eq_ignore_ascii_case(&k.proto))
            .unwrap_or_else(|| panic!("no record for {k:?}"));
        assert_eq!(r["event_type"], "flow");
        assert_eq!(r["src_ip"], A_IP, "the client is the original direction");
        assert_eq!(r["dest_ip"], B_IP);
        if k.proto != "icmp" {
            assert_eq!(r["src_port"].as_u64(), Some(num(&k.orig, "sport")));
            assert_eq!(r["dest_port"].as_u64(), Some(num(&k.orig, "dport")));
        } else {
            assert_eq!(r["icmp_type"], 8);
            assert_eq!(r["response_icmp_type"], 0);
        }
        let f = &r["flow"];
        assert_eq!(
            f["pkts_toserver"].as_u64(),
            Some(num(&k.orig, "packets")),
            "{k:?}"
        );
        assert_eq!(
            f["bytes_toserver"].as_u64(),
            Some(num(&k.orig, "bytes")),
            "{k:?}"
        );
        assert_eq!(
            f["pkts_toclient"].as_u64(),
            Some(num(&k.reply, "packets")),
            "{k:?}"
        );
        assert_eq!(
            f["bytes_toclient"].as_u64(),
            Some(num(&k.reply, "bytes")),
            "{k:?}"
        );
        assert_eq!(f["reason"], "timeout");
        let ct = &r["conntrack"];
        assert_eq!(ct["mark"].as_u64(), Some(num(&k.orig, "mark")));
        assert_eq!(ct["zone"], 0);
        match k.proto.as_str() {
            "tcp" => {
                assert_eq!(Some(ct["state"].as_str().unwrap().to_owned()), k.state);
                assert_eq!(f["state"], "closed", "A closed it: {r}");
                assert_eq!(f["pkts_toserver"].as_u64().map(|p| p >= 4), Some(true));
            }
            "udp" => {
                assert_eq!(f["state"], "established");
                assert_eq!(f["pkts_toserver"], 1);
            }
            _ => {
                assert_eq!(f["state"], "established");
                assert_eq!(f["pkts_toserver"], 3);
            }
        }
        assert!(f["start"].as_str().unwrap() <= f["end"].as_str().unwrap());
    }
    let _ = std::fs::remove_dir_all(eve.parent().unwrap());
}

#[test]
fn a_burst_of_short_udp_flows_loses_no_event_or_reports_the_loss() {
    let n: u64 = std::env::var("CONNTRACK_LOAD_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut lab = match conntrack_lab() {
        Ok(l) => l,
        Err(Skip(why)) => {
            eprintln!("skipping the conntrack load test: {why}");
            return;
        }
    };
    let eve = scratch("burst.json");
    // CONNTRACK_LOAD_RCVBUF: the event socket's receive buffer (default: the feed's).
    let rcvbuf = std::env::var("CONNTRACK_LOAD_RCVBUF")
        .ok()
        .filter(|v| !v.is_empty());
    let extra: Vec<&str> = rcvbuf
        .iter()
        .flat_map(|b| ["--rcvbuf", b.as_str()])
        .collect();
    let (feed, feed_err) = start_feed(&mut lab, &eve, &extra);
    let started = Instant::now();
    let (burst, done) = lab.python(&lab.a.clone(), BURST, &[B_IP, &n.to_string()]);
    let line = expect_line(&done, "ok", "UDP burst");
    assert!(wait_for(&mut lab.children[burst], "burst").success());
    let send_secs: f64 = line[3..].trim().parse().unwrap();
    let flush = Instant::now();
    conntrack(&lab, &["-F"]);
    let flush_secs = flush.elapsed().as_secs_f64();
    // DESTROY events the kernel could not deliver are delivered again later (the
    // broadcast-error option): wait until the records stop coming (the writer holds
    // back at most a buffer's worth of lines).
    let mut last = (0, Instant::now());
    let give_up = Instant::now() + WAIT;
    while Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(200));
        let lines = std::fs::read(&eve).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        if lines != last.0 {
            last = (lines, Instant::now());
        } else if lines as u64 + 100 >= n || last.1.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let total = started.elapsed().as_secs_f64();
    let summary = stop(&mut lab, feed, &feed_err);
    let (new, destroy) = (counter(&summary, "new"), counter(&summary, "destroy"));
    let overruns = counter(&summary, "overruns (ENOBUFS)");
    let records = std::fs::read_to_string(&eve).unwrap().lines().count() as u64;
    eprintln!(
        "conntrack load: {n} UDP flows sent in {send_secs:.2} s ({:.0} NEW/s), flushed in \
         {flush_secs:.2} s ({:.0} DESTROY/s); the feed counted {new} NEW + {destroy} DESTROY, \
         {overruns} overruns, {records} records; feed CPU {} s, {} ns per event \
         (machine shared, wall clock {total:.1} s)",
        n as f64 / send_secs,
        n as f64 / flush_secs.max(1e-3),
        value(&summary, "cpu seconds").unwrap_or("?"),
        value(&summary, "cpu ns per event").unwrap_or("?"),
    );
    // Every event arrived, or the loss was reported (an overrun the kernel answered by
    // delivering the DESTROYs again loses nothing).
    assert!(
        (new, destroy) == (n, n) || overruns > 0,
        "{new} NEW + {destroy} DESTROY of {n} with no overrun reported: silent loss"
    );
    assert!(new <= n && destroy <= n);
    // One record per flow seen: ended by its DESTROY, or at shutdown.
    assert!(
        records >= new.max(destroy) && records <= n,
        "{records} records"
    );
    if overruns == 0 {
        assert_eq!(records, n);
    }
    let _ = std::fs::remove_dir_all(eve.parent().unwrap());
}
