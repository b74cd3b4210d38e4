//! ctnetlink sockets: one subscribed to the NEW, UPDATE and DESTROY event groups, and
//! one for requests (dump the table, optionally zeroing the counters; delete one entry
//! by its tuple; flush the table).
//!
//! Contract: [`EventSocket::open`] asks for a large receive buffer (4 MiB by default;
//! `SO_RCVBUFFORCE` first, which root may use past `net.core.rmem_max`, then
//! `SO_RCVBUF`), turns `NETLINK_BROADCAST_ERROR` on, and never turns
//! `NETLINK_NO_ENOBUFS` on: when the kernel cannot queue an event, the next receive
//! fails with `ENOBUFS`, which [`EventSocket::recv`] reports as [`Recv::Overrun`] and
//! counts — loss is never silent. Sockets are bound in the network namespace of the
//! calling thread, as netlink sockets are.
//!
//! Why raw `libc` calls rather than `netlink-sys`: the feed needs exactly five calls
//! (socket, setsockopt, bind, send, recv with poll), including options that crate does
//! not wrap (`SO_RCVBUFFORCE`, `NETLINK_BROADCAST_ERROR`); each call is a few lines
//! with its `SAFETY` comment, and no further dependency comes in.

use super::parse::{
    cta, nl, parse_message, put_attr, put_tuple, Entry, EventKind, Message, Messages, ParseError,
    Tuple,
};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

const NETLINK_NETFILTER: libc::c_int = 12;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
const NETLINK_BROADCAST_ERROR: libc::c_int = 4;
/// `NFNLGRP_CONNTRACK_NEW`, `_UPDATE`, `_DESTROY`.
const GROUPS: [libc::c_int; 3] = [1, 2, 3];
/// `NLM_F_DUMP_INTR`: the table changed while it was dumped.
const F_DUMP_INTR: u16 = 0x10;

/// Default event receive buffer: 4 MiB held 240 000 NEW + 240 000 DESTROY events.
pub const DEFAULT_RCVBUF: usize = 4 << 20;

/// A socket problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// The call.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The kernel answered a request with an error.
    #[error("{what}: the kernel answered {}", io::Error::from_raw_os_error(*errno))]
    Kernel {
        /// The request.
        what: &'static str,
        /// The errno (positive).
        errno: i32,
    },
    /// An answer could not be parsed.
    #[error("{what}: {source}")]
    Parse {
        /// The request.
        what: &'static str,
        /// Why.
        source: ParseError,
    },
}

fn last_error(what: &'static str) -> SocketError {
    SocketError::Io {
        what,
        source: io::Error::last_os_error(),
    }
}

fn open_socket() -> Result<OwnedFd, SocketError> {
    // SAFETY: socket(2) takes no pointers; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(last_error("socket(AF_NETLINK, NETLINK_NETFILTER)"));
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut addr = sockaddr_nl();
    addr.nl_groups = 0;
    // SAFETY: `addr` is a valid sockaddr_nl that outlives the call; the length given is
    // its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(last_error("bind(netlink)"));
    }
    Ok(fd)
}

fn sockaddr_nl() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain data; all zeroes is a valid value.
    let mut a: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    a.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    a
}

fn set_int(fd: RawFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: the option value points at a c_int that lives across the call, with its
    // size as the length.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn get_int(fd: RawFd, level: libc::c_int, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes and live across the call; `len` holds
    // the size of `v`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(v)
    }
}

/// Waits up to `timeout` for `fd` to be readable; `Ok(false)` on timeout.
fn wait_readable(fd: RawFd, timeout: Option<Duration>) -> io::Result<bool> {
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `p` is one valid pollfd, and the count passed is 1.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc >= 0 {
            return Ok(rc > 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Receives one datagram into `buf`; returns its length (`Err` with `ENOBUFS` on an
/// overrun). A datagram longer than `buf` is an error (`EMSGSIZE`).
fn recv_into(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes during the call.
        // MSG_TRUNC makes the kernel return the datagram's real length.
        let n = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            let n = n as usize;
            if n > buf.len() {
                return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
            }
            return Ok(n);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Counters of an event socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Times the kernel reported lost events (`ENOBUFS`).
    pub overruns: u64,
}

/// What [`EventSocket::recv`] got.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv<'a> {
    /// One datagram: one or more netlink messages (walk them with [`Messages`]).
    Data(&'a [u8]),
    /// The kernel dropped events because the receive buffer was full (`ENOBUFS`).
    Overrun,
    /// Nothing arrived within the timeout.
    Timeout,
}

/// A socket subscribed to conntrack's NEW, UPDATE and DESTROY events.
#[derive(Debug)]
pub struct EventSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
    rcvbuf: usize,
    stats: SocketStats,
}

impl EventSocket {
    /// Opens and subscribes, asking for a receive buffer of `rcvbuf` bytes.
    pub fn open(rcvbuf: usize) -> Result<EventSocket, SocketError> {
        let fd = open_socket()?;
        let raw = fd.as_raw_fd();
        let want = rcvbuf.min(i32::MAX as usize / 2) as libc::c_int;
        if set_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, want).is_err() {
            // Not root: capped at net.core.rmem_max.
            set_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, want).map_err(|source| {
                SocketError::Io {
                    what: "setsockopt(SO_RCVBUF)",
                    source,
                }
            })?;
        }
        set_int(raw, SOL_NETLINK, NETLINK_BROADCAST_ERROR, 1).map_err(|source| {
            SocketError::Io {
                what: "setsockopt(NETLINK_BROADCAST_ERROR)",
                source,
            }
        })?;
        for g in GROUPS {
            set_int(raw, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g).map_err(|source| {
                SocketError::Io {
                    what: "setsockopt(NETLINK_ADD_MEMBERSHIP)",
                    source,
                }
            })?;
        }
        // The kernel doubles the value asked for (bookkeeping); report what it holds.
        let rcvbuf = get_int(raw, libc::SOL_SOCKET, libc::SO_RCVBUF)
            .map_err(|source| SocketError::Io {
                what: "getsockopt(SO_RCVBUF)",
                source,
            })?
            .max(0) as usize;
        Ok(EventSocket {
            fd,
            buf: vec![0; 1 << 16],
            rcvbuf,
            stats: SocketStats::default(),
        })
    }

    /// The receive buffer the kernel granted, in bytes.
    pub fn rcvbuf(&self) -> usize {
        self.rcvbuf
    }

    /// Counters so far.
    pub fn stats(&self) -> SocketStats {
        self.stats
    }

    /// The raw descriptor (to poll it with other sources).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Waits up to `timeout` (`None`: forever) for the next datagram. Under load a
    /// datagram is usually queued already: it is read at once, and the socket is only
    /// polled (a second system call) when nothing is there.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Recv<'_>, SocketError> {
        let fd = self.fd.as_raw_fd();
        let mut got = recv_into(fd, &mut self.buf);
        if matches!(&got, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            if !wait_readable(fd, timeout).map_err(|source| SocketError::Io {
                what: "poll(netlink)",
                source,
            })? {
                return Ok(Recv::Timeout);
            }
            got = recv_into(fd, &mut self.buf);
        }
        match got {
            Ok(n) => {
                self.stats.datagrams += 1;
                self.stats.bytes += n as u64;
                Ok(Recv::Data(&self.buf[..n]))
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                self.stats.overruns += 1;
                Ok(Recv::Overrun)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Recv::Timeout),
            Err(source) => Err(SocketError::Io {
                what: "recv(netlink)",
                source,
            }),
        }
    }
}

/// What one dump read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpStats {
    /// Entries listed.
    pub entries: u64,
    /// Datagrams received.
    pub datagrams: u64,
    /// Bytes received.
    pub bytes: u64,
    /// True when the kernel flagged the dump as interrupted (the table changed under
    /// it: it may have missed entries).
    pub interrupted: bool,
}

/// A socket for requests: dumps, deletes, flushes.
#[derive(Debug)]
pub struct QuerySocket {
    fd: OwnedFd,
    buf: Vec<u8>,
    req: Vec<u8>,
    seq: u32,
}

impl QuerySocket {
    /// Opens a request socket (subscribed to nothing).
    pub fn open() -> Result<QuerySocket, SocketError> {
        Ok(QuerySocket {
            fd: open_socket()?,
            // Dump answers come in datagrams of up to 32 KiB.
            buf: vec![0; 1 << 17],
            req: Vec::with_capacity(256),
            seq: 0,
        })
    }

    fn start(&mut self, msg: u16, flags: u16, family: u8) {
        self.seq = self.seq.wrapping_add(1);
        self.req.clear();
        self.req.extend_from_slice(&0u32.to_ne_bytes());
        self.req
            .extend_from_slice(&((cta::SUBSYS << 8) | msg).to_ne_bytes());
        self.req
            .extend_from_slice(&(nl::F_REQUEST | flags).to_ne_bytes());
        self.req.extend_from_slice(&self.seq.to_ne_bytes());
        self.req.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family, version 0, resource id 0.
        self.req.extend_from_slice(&[family, 0, 0, 0]);
    }

    fn send(&mut self, what: &'static str) -> Result<(), SocketError> {
        let len = self.req.len() as u32;
        self.req[..4].copy_from_slice(&len.to_ne_bytes());
        let addr = sockaddr_nl();
        // SAFETY: `req` is valid for reads of its length, `addr` is a valid sockaddr_nl
        // (the kernel: pid 0) with its size; both live across the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                self.req.as_ptr().cast(),
                self.req.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(last_error(what));
        }
        Ok(())
    }

    /// Reads answers to the request just sent until `DONE` or the acknowledgement,
    /// handing each conntrack entry to `each`.
    fn answers(
        &mut self,
        what: &'static str,
        stats: &mut DumpStats,
        each: &mut dyn FnMut(&Entry),
    ) -> Result<(), SocketError> {
        let fd = self.fd.as_raw_fd();
        loop {
            let ready = wait_readable(fd, Some(Duration::from_secs(30)))
                .map_err(|source| SocketError::Io { what, source })?;
            if !ready {
                return Err(SocketError::Io {
                    what,
                    source: io::Error::from(io::ErrorKind::TimedOut),
                });
            }
            let n = match recv_into(fd, &mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(source) => return Err(SocketError::Io { what, source }),
            };
            stats.datagrams += 1;
            stats.bytes += n as u64;
            for m in Messages::new(&self.buf[..n]) {
                let m = m.map_err(|source| SocketError::Parse { what, source })?;
                if m.seq != self.seq {
                    continue;
                }
                if m.flags & F_DUMP_INTR != 0 {
                    stats.interrupted = true;
                }
                match parse_message(&m).map_err(|source| SocketError::Parse { what, source })? {
                    Message::Conntrack(_, e) => {
                        stats.entries += 1;
                        each(&e);
                    }
                    Message::Done | Message::Error(0) => return Ok(()),
                    Message::Error(errno) => {
                        return Err(SocketError::Kernel {
                            what,
                            errno: -errno,
                        })
                    }
                    Message::Overrun | Message::Other(_) => {}
                }
            }
        }
    }

    /// Dumps the table (`family` 0 for IPv4 and IPv6, else `AF_INET`/`AF_INET6`),
    /// zeroing each entry's counters as it is read when `zero` is set (its counters are
    /// then deltas: [`super::rules::CounterMode::Delta`]).
    pub fn dump(
        &mut self,
        family: u8,
        zero: bool,
        each: &mut dyn FnMut(&Entry),
    ) -> Result<DumpStats, SocketError> {
        let msg = if zero {
            cta::MSG_GET_CTRZERO
        } else {
            cta::MSG_GET
        };
        self.start(msg, nl::F_DUMP, family);
        self.send("conntrack dump")?;
        let mut stats = DumpStats::default();
        self.answers("conntrack dump", &mut stats, each)?;
        Ok(stats)
    }

    /// Gets the entry whose original tuple is `orig` (in `zone`, if given), zeroing its
    /// counters as it is read when `zero` is set: one request and its answer, the
    /// per-flow accounting query. `Ok(None)` when there is no such entry.
    pub fn get(
        &mut self,
        orig: &Tuple,
        zone: Option<u16>,
        zero: bool,
    ) -> Result<Option<Entry>, SocketError> {
        let family = if orig.src.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        } as u8;
        let msg = if zero {
            cta::MSG_GET_CTRZERO
        } else {
            cta::MSG_GET
        };
        self.start(msg, nl::F_ACK, family);
        let mut t = *orig;
        t.zone = None;
        put_tuple(&mut self.req, cta::TUPLE_ORIG, &t);
        if let Some(z) = zone {
            put_attr(&mut self.req, cta::ZONE, &z.to_be_bytes());
        }
        self.send("conntrack get")?;
        let mut found = None;
        match self.answers("conntrack get", &mut DumpStats::default(), &mut |e| {
            found = Some(*e)
        }) {
            Ok(()) => Ok(found),
            Err(SocketError::Kernel { errno, .. }) if errno == libc::ENOENT => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes the entry whose original tuple is `orig` (in `zone`, if given). Its
    /// DESTROY event follows on the event socket.
    pub fn delete(&mut self, orig: &Tuple, zone: Option<u16>) -> Result<(), SocketError> {
        let family = if orig.src.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        } as u8;
        self.start(cta::MSG_DELETE, nl::F_ACK, family);
        let mut t = *orig;
        t.zone = None;
        put_tuple(&mut self.req, cta::TUPLE_ORIG, &t);
        if let Some(z) = zone {
            put_attr(&mut self.req, cta::ZONE, &z.to_be_bytes());
        }
        self.send("conntrack delete")?;
        self.answers("conntrack delete", &mut DumpStats::default(), &mut |_| {})
    }

    /// Creates an entry for `orig` (the reply tuple is its inverse) that expires after
    /// `timeout` seconds: for tests and measurements (a table of any size without
    /// traffic). Needs CAP_NET_ADMIN.
    pub fn create(&mut self, orig: &Tuple, timeout: u32) -> Result<(), SocketError> {
        let family = if orig.src.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        } as u8;
        self.start(cta::MSG_NEW, nl::F_ACK | nl::F_CREATE | nl::F_EXCL, family);
        let mut o = *orig;
        o.zone = None;
        let reply = Tuple {
            src: o.dst,
            dst: o.src,
            src_port: o.dst_port,
            dst_port: o.src_port,
            icmp: o.icmp.map(|i| super::parse::IcmpTuple {
                icmp_type: match i.icmp_type {
                    8 => 0,
                    128 => 129,
                    t => t,
                },
                ..i
            }),
            ..o
        };
        put_tuple(&mut self.req, cta::TUPLE_ORIG, &o);
        put_tuple(&mut self.req, cta::TUPLE_REPLY, &reply);
        put_attr(&mut self.req, cta::TIMEOUT, &timeout.to_be_bytes());
        self.send("conntrack create")?;
        self.answers("conntrack create", &mut DumpStats::default(), &mut |_| {})
    }

    /// Deletes every entry of the table (of this network namespace).
    pub fn flush(&mut self) -> Result<(), SocketError> {
        self.start(cta::MSG_DELETE, nl::F_ACK, 0);
        self.send("conntrack flush")?;
        self.answers("conntrack flush", &mut DumpStats::default(), &mut |_| {})
    }
}

/// Applies every conntrack message of an event datagram to `each`; returns how many
/// messages could not be parsed (they are skipped, the rest still applied).
pub fn for_each_event(datagram: &[u8], mut each: impl FnMut(EventKind, &Entry)) -> u64 {
    let mut bad = 0;
    for m in Messages::new(datagram) {
        match m.and_then(|m| parse_message(&m)) {
            Ok(Message::Conntrack(k, e)) => each(k, &e),
            Ok(_) => {}
            Err(_) => bad += 1,
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket calls on this machine, in the caller's namespace: opening both
    /// sockets and a dump work wherever netlink does (no root needed to dump one's own
    /// namespace); without conntrack support the kernel refuses with an errno, which
    /// must come back as a `Kernel` error, not a panic.
    #[test]
    fn sockets_open_and_a_dump_answers() {
        let ev = match EventSocket::open(DEFAULT_RCVBUF) {
            Ok(s) => s,
            Err(SocketError::Io { source, .. })
                if source.raw_os_error() == Some(libc::EPERM)
                    || source.raw_os_error() == Some(libc::EPROTONOSUPPORT) =>
            {
                eprintln!("skip: netlink refused here: {source}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert!(ev.rcvbuf() > 0);
        assert!(ev.as_raw_fd() >= 0);
        let mut ev = ev;
        // Other programs' connections may produce events here: any answer but an error.
        ev.recv(Some(Duration::from_millis(1))).unwrap();
        let mut q = QuerySocket::open().unwrap();
        let mut n = 0;
        match q.dump(0, false, &mut |_| n += 1) {
            Ok(s) => assert_eq!(s.entries, n),
            Err(SocketError::Kernel { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }

    /// Every request and the event socket against the kernel, in a network namespace
    /// of the test thread's own (`unshare`; root only, else skipped with a message):
    /// create entries, see their NEW events, get one (and a missing one), dump them,
    /// delete one by its tuple (its DESTROY comes), flush the rest.
    #[test]
    fn requests_and_events_in_a_namespace_of_our_own() {
        let t = std::thread::spawn(|| {
            // SAFETY: unshare takes no pointers; it moves only this thread to a new
            // network namespace, which ends with the thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                let e = io::Error::last_os_error();
                eprintln!("skip: cannot make a network namespace here: {e}");
                return;
            }
            namespace_round_trip();
        });
        t.join().unwrap();
    }

    fn namespace_round_trip() {
        use crate::feed::conntrack::parse::IcmpTuple;
        let mut ev = EventSocket::open(DEFAULT_RCVBUF).unwrap();
        let mut q = QuerySocket::open().unwrap();
        let udp = |sp: u16| Tuple {
            src: "10.9.0.1".parse().unwrap(),
            dst: "10.9.0.2".parse().unwrap(),
            proto: 17,
            src_port: sp,
            dst_port: 53,
            icmp: None,
            zone: None,
        };
        let v6 = Tuple {
            src: "fd09::1".parse().unwrap(),
            dst: "fd09::2".parse().unwrap(),
            ..udp(5000)
        };
        let icmp = Tuple {
            proto: 1,
            src_port: 0,
            dst_port: 0,
            icmp: Some(IcmpTuple {
                id: 77,
                icmp_type: 8,
                code: 0,
            }),
            ..udp(0)
        };
        for t in [udp(4000), v6, icmp] {
            q.create(&t, 60).unwrap();
        }
        assert!(matches!(
            q.create(&udp(4000), 60),
            Err(SocketError::Kernel {
                errno: libc::EEXIST,
                ..
            })
        ));
        let got = q.get(&udp(4000), None, false).unwrap().unwrap();
        assert_eq!(got.orig, Some(udp(4000)));
        assert_eq!(got.timeout.map(|t| t <= 60), Some(true));
        assert_eq!(q.get(&udp(4001), None, true).unwrap(), None);
        let mut listed = Vec::new();
        let s = q
            .dump(0, false, &mut |e| listed.push(e.orig.unwrap()))
            .unwrap();
        assert_eq!((s.entries, listed.len()), (3, 3));
        for t in [udp(4000), v6, icmp] {
            assert!(listed.contains(&t), "{t:?} not in {listed:?}");
        }
        q.delete(&udp(4000), None).unwrap();
        assert_eq!(q.get(&udp(4000), None, false).unwrap(), None);
        assert!(matches!(
            q.delete(&udp(4000), None),
            Err(SocketError::Kernel {
                errno: libc::ENOENT,
                ..
            })
        ));
        q.flush().unwrap();
        assert_eq!(q.dump(0, false, &mut |_| {}).unwrap().entries, 0);
        // The events: three NEWs, three DESTROYs (one delete, two by the flush).
        let mut seen = Vec::new();
        while let Recv::Data(d) = ev.recv(Some(Duration::from_millis(500))).unwrap() {
            for_each_event(d, |k, e| seen.push((k, e.orig.unwrap())));
        }
        let count = |k| seen.iter().filter(|(kind, _)| *kind == k).count();
        assert_eq!(
            (count(EventKind::New), count(EventKind::Destroy)),
            (3, 3),
            "{seen:?}"
        );
        assert!(seen.contains(&(EventKind::Destroy, udp(4000))));
        assert_eq!(ev.stats().overruns, 0);
        assert!(ev.stats().datagrams >= 6);
    }

    #[test]
    fn for_each_event_counts_broken_messages() {
        let good = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/feed/conntrack/fixtures/new-udp-v4-0.bin"
        ));
        let mut dg = good.to_vec();
        dg.extend_from_slice(good);
        let mut kinds = Vec::new();
        assert_eq!(for_each_event(&dg, |k, _| kinds.push(k)), 0);
        assert_eq!(kinds, [EventKind::New, EventKind::New]);
        dg.extend_from_slice(&good[..30]);
        assert_eq!(for_each_event(&dg, |_, _| {}), 1);
    }
}
