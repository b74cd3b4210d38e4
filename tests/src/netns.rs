//! Two network namespaces joined by a veth pair, for the tests that need real
//! interfaces and a real kernel (pcap-replay's live capture, the conntrack feed).
//!
//! Contract: [`Lab::new`] makes namespaces `A` and `B` and a veth pair between them,
//! with the given addresses (a /24) only inside the namespaces: nothing appears on the
//! host. It returns [`Skip`] (and the test should print why and pass) only when the
//! machine forbids namespaces: not root, or `ip` refused with a permission error; any
//! other failure panics. Dropping the [`Lab`] kills every process it started and
//! deletes the namespaces (and with them the veth pair), whatever happened.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long a test waits for a line or a process before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// Why a namespace test cannot run on this machine.
#[derive(Debug)]
pub struct Skip(pub String);

/// Two namespaces joined by a veth pair, and the processes started in them.
#[derive(Debug)]
pub struct Lab {
    /// Namespace A.
    pub a: String,
    /// Namespace B.
    pub b: String,
    /// A's end of the veth pair.
    pub veth_a: String,
    /// B's end of the veth pair.
    pub veth_b: String,
    made: Vec<String>,
    /// Processes started in the namespaces, killed on drop.
    pub children: Vec<Child>,
}

/// Runs `ip ARGS`.
pub fn ip(args: &[&str]) -> Output {
    Command::new("ip")
        .args(args)
        .output()
        .expect("run `ip` (iproute2; scripts/setup.sh installs it)")
}

fn is_permission_error(o: &Output) -> bool {
    let err = String::from_utf8_lossy(&o.stderr);
    err.contains("Operation not permitted") || err.contains("Permission denied")
}

/// The effective user id, from /proc.
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Panics with the command's stderr unless it succeeded.
pub fn check(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr).trim()
    );
}

impl Lab {
    /// Makes the namespaces (`fe-NAME-…-a`, `-b`) and the veth pair (`feV…a`, `…b`,
    /// where `V` is `veth`: names stay within the 15 bytes an interface name may
    /// have), with `a_ip`/24 in A and `b_ip`/24 in B, links and loopbacks up.
    pub fn new(name: &str, veth: char, a_ip: &str, b_ip: &str) -> Result<Lab, Skip> {
        match euid() {
            Some(0) => {}
            Some(id) => return Err(Skip(format!("not root (uid {id})"))),
            None => return Err(Skip("cannot tell the user id".into())),
        }
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{}{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            a: format!("fe-{name}-{tag}-a"),
            b: format!("fe-{name}-{tag}-b"),
            veth_a: format!("fe{veth}{tag}a"),
            veth_b: format!("fe{veth}{tag}b"),
            made: Vec::new(),
            children: Vec::new(),
        };
        for ns in [lab.a.clone(), lab.b.clone()] {
            let o = ip(&["netns", "add", &ns]);
            if !o.status.success() && is_permission_error(&o) {
                return Err(Skip(format!(
                    "`ip netns add` is not permitted: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )));
            }
            check(&o, "ip netns add");
            lab.made.push(ns);
        }
        // Both ends are made inside the namespaces: nothing appears on the host.
        let o = ip(&[
            "link",
            "add",
            &lab.veth_a,
            "netns",
            &lab.a,
            "type",
            "veth",
            "peer",
            "name",
            &lab.veth_b,
            "netns",
            &lab.b,
        ]);
        if !o.status.success() && is_permission_error(&o) {
            return Err(Skip(format!(
                "creating a veth pair is not permitted: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        check(&o, "ip link add veth");
        for (ns, dev, addr) in [(&lab.a, &lab.veth_a, a_ip), (&lab.b, &lab.veth_b, b_ip)] {
            let cidr = format!("{addr}/24");
            check(
                &ip(&["-n", ns, "addr", "add", &cidr, "dev", dev]),
                "ip addr add",
            );
            check(&ip(&["-n", ns, "link", "set", dev, "up"]), "ip link set up");
            check(
                &ip(&["-n", ns, "link", "set", "lo", "up"]),
                "ip link set lo up",
            );
        }
        Ok(lab)
    }

    /// A command run inside namespace `ns` (`ip netns exec` execs it: same process,
    /// so its pid is the program's).
    pub fn exec(ns: &str, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]).args(args);
        c
    }

    /// Keeps `child` to be killed on drop; returns its index in `children`.
    pub fn keep(&mut self, child: Child) -> usize {
        self.children.push(child);
        self.children.len() - 1
    }

    /// Starts a python3 snippet in `ns` (stdin piped, stderr inherited); returns the
    /// index of its child and its stdout lines.
    pub fn python(&mut self, ns: &str, code: &str, args: &[&str]) -> (usize, Receiver<String>) {
        let mut all = vec!["-c", code];
        all.extend_from_slice(args);
        let mut child = Lab::exec(ns, "python3", &all)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        let lines = lines_of(child.stdout.take().unwrap());
        (self.keep(child), lines)
    }

    /// Runs a python3 snippet in `ns` to its end and checks it printed `ok`.
    pub fn python_ok(&mut self, ns: &str, code: &str, args: &[&str], what: &str) {
        let (i, lines) = self.python(ns, code, args);
        expect_line(&lines, "ok", what);
        let status = wait_for(&mut self.children[i], what);
        assert!(status.success(), "{what}: {status}");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Deleting a namespace deletes the veth end inside it (and so the pair).
        for ns in self.made.drain(..).rev() {
            let o = ip(&["netns", "del", &ns]);
            if !o.status.success() {
                eprintln!(
                    "namespace test: cannot delete namespace {ns}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
            }
        }
    }
}

/// The lines a reader yields, from a thread of their own.
pub fn lines_of(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (at most [`WAIT`]) for a line containing `needle` and returns it; panics
/// with the lines seen before otherwise.
pub fn expect_line(lines: &Receiver<String>, needle: &str, what: &str) -> String {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return l,
            Ok(l) => seen.push(l),
            Err(e) => panic!("{what}: no line with {needle:?} ({e}); got {seen:?}"),
        }
    }
}

/// Waits (at most [`WAIT`]) for `child` to exit.
pub fn wait_for(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still running after {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
