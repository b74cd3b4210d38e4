//! The wizard: names each flow's service from the first bytes of each direction, as
//! Snort 3's wizard and Suricata's protocol detection do.
//!
//! # Contract
//!
//! - **Names** are Suricata's EVE `app_proto` strings ([`SERVICES`]), plus the
//!   services plugin inspectors declare ([`WizardConfig::services`]). The wizard names
//!   http, http2, tls, dns, mdns, quic, ssh, smtp, imap, pop3, ftp, dhcp, ntp, snmp, sip,
//!   mqtt, rdp, smb, dcerpc, krb5, telnet, ldap, pgsql, mysql, redis, rtsp, stun,
//!   modbus, dnp3, enip, tftp, nfs, ike and bittorrent-dht. It never names ftp-data
//!   (known from the FTP control channel, not from bytes), websocket (an HTTP upgrade:
//!   the HTTP inspector's) or doh2 (HTTP/2 carrying DNS: the HTTP/2 side's).
//! - **Matching** (the rule book is `book.rs`): *hexes* (byte patterns with `?`
//!   wildcards, `hexes.rs`), *spells* (case-insensitive globs, `spells.rs`) and
//!   *curses* (small checks of protocol headers, `curses/`), all anchored at the first
//!   byte of a direction. Rules configured in [`WizardConfig`] come before the built-in
//!   ones.
//! - **Ports only break ties.** A rule may prefer standard ports (it then outranks
//!   rules without a port hint when one of its ports is the client's or the server's);
//!   rules too weak to stand alone require theirs, as Suricata registers their probes
//!   on those ports only: modbus (502), enip (44818, 2222), ntp (123), tftp (69),
//!   classic STUN without the magic cookie (3478, 3479), IKE behind NAT-T's non-ESP
//!   marker (4500), Redis's inline `PING` (6379). nfs (an RPC call to program 100003),
//!   snmp (BER with version and community), dnp3 (header CRC) and telnet (two
//!   negotiation commands, one on port 23) are strong enough anywhere and only prefer
//!   2049, 161/162, 20000 and 23. Classic STUN is named anywhere when it carries
//!   attributes RFC 3489 defines that fill it exactly. A *last resort* rule is tried
//!   on its ports only and below every other rule that fits: a QUIC short header
//!   (fixed bit, room for the header protection sample, not a DNS message) on UDP
//!   443, which is all a QUIC flow picked up after its handshake shows, as Suricata's
//!   QUIC probe names any short header on its port.
//! - **TCP**: chunks are the reassembled stream of each direction from its start. The
//!   wizard looks at the first [`WizardConfig::max_search_depth`] bytes of each
//!   direction (default [`DEFAULT_MAX_SEARCH_DEPTH`], Snort 3's
//!   `wizard.max_search_depth`). A chunk that decides nothing on its own is kept in a
//!   per-direction buffer of at most that many bytes (the only allocation, and only
//!   then) and the next chunk is appended, so `GE` then `T / HTTP/1.1` still names
//!   http. A direction is ruled out when no rule can match it, or when it reaches the
//!   depth undecided; it is *done* once ruled out with at least its
//!   [`DONE_MIN_BYTES`] (Suricata gives a direction up only then). Detection fails
//!   as Suricata's does: when both directions are done; when one is done after more
//!   than [`ONE_SIDED_LIMIT`] bytes; when either carried twice that; or on a gap
//!   before a decision. A TCP flow that ends undecided (say `Hi!` and `Hello!`, or
//!   one side's junk) has no service, not `failed`.
//! - **UDP**: each chunk is one datagram, judged whole, and each direction gets its
//!   first datagram only (Suricata's rule): an empty one, or one no rule fits, rules
//!   that direction out. The other direction's first datagram can still name the
//!   service (the ruled-out direction is then reported `failed` on its own, EVE
//!   `app_proto_ts`/`_tc`); detection fails when both are ruled out, or when the flow
//!   ends undecided. Other transports are not inspected (a direct [`Wizard::scan`]
//!   on them fails).
//! - **Direction**: each match knows who sends such a message. When the side the
//!   engine took for the client sent a server's message (an HTTP status line, a TLS
//!   ServerHello, a DNS response, an `SSH-1.99-` banner, which only servers send), or
//!   the other way round, the outcome asks to swap client and server. On UDP only the
//!   services whose Suricata probe turns a flow around do (DNS, IKE, DCERPC, NFS, SMB,
//!   LDAP): a DHCP, NTP, SNMP or SIP answer seen first keeps the first packet's
//!   direction, as in Suricata. An `SSH-2.0-`
//!   banner is sent by both sides, so it never swaps (Suricata registers `SSH-` for
//!   both directions). Suricata applies such a swap to flows picked up midstream only;
//!   the engine decides.
//! - **Cost**: the common flow decides on its first chunk without allocating; rules
//!   are indexed by first byte so each chunk tries only the rules that can start with
//!   it. Nothing panics on any input: every read is bounds-checked, every loop bounded.

mod book;
mod curses;
mod hexes;
mod inspector;
mod spells;
#[cfg(test)]
mod tests;

pub use inspector::WizardFlow;

use book::{Book, Verdict};
use curses::Ctx;
use flowengine::flow::Direction;
use flowengine::inspect::{Chunk, Transport};
use std::sync::Arc;

/// Default bytes looked at per direction: Snort 3's `wizard.max_search_depth`.
pub const DEFAULT_MAX_SEARCH_DEPTH: u32 = 8192;

/// The largest accepted [`WizardConfig::max_search_depth`] (Snort 3's bound).
pub const MAX_SEARCH_DEPTH_LIMIT: u32 = 65535;

/// Every service name the wizard may report, and that configured hexes and spells may
/// name: Suricata's EVE `app_proto` strings.
pub const SERVICES: &[&str] = &[
    "http",
    "http2",
    "tls",
    "dns",
    "mdns",
    "doh2",
    "quic",
    "ssh",
    "smtp",
    "imap",
    "pop3",
    "ftp",
    "ftp-data",
    "dhcp",
    "ntp",
    "snmp",
    "sip",
    "mqtt",
    "rdp",
    "smb",
    "dcerpc",
    "krb5",
    "telnet",
    "ldap",
    "pgsql",
    "mysql",
    "redis",
    "rtsp",
    "stun",
    "websocket",
    "modbus",
    "dnp3",
    "enip",
    "tftp",
    "nfs",
    "ike",
    "bittorrent-dht",
    "rfb",
];

/// Which side of a flow sends a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client (it opens the conversation: requests, queries, hellos).
    Client,
    /// The server (banners, responses).
    Server,
    /// Either side may send it (it says nothing about direction).
    Either,
}

/// A configured hex or spell: Snort's `wizard.hexes` / `wizard.spells` entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Magic {
    /// The service it names (one of [`SERVICES`]).
    pub service: String,
    /// TCP or UDP.
    pub transport: Transport,
    /// Who sends the bytes it matches (a server's message seen from the client swaps).
    pub side: Side,
    /// The pattern, as Snort writes it: hex syntax (`|16 03|`, `?` wildcards) or spell
    /// syntax (`*` globs, `**` a literal star), at most 256 bytes.
    pub pattern: String,
    /// Port hints: when one of these is the client's or the server's port the rule
    /// outranks rules without a port hint (they only break ties); empty for none.
    /// `'static` because rules are built again at each reload: whoever makes them
    /// from run-time data (a plugin's declaration) leaks the list once.
    pub ports: &'static [u16],
}

/// The wizard's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WizardConfig {
    /// Bytes looked at (and at most buffered) per TCP direction, and per datagram:
    /// 1 to [`MAX_SEARCH_DEPTH_LIMIT`]; default [`DEFAULT_MAX_SEARCH_DEPTH`].
    pub max_search_depth: u32,
    /// Extra hexes, tried before the built-in rules, in order.
    pub hexes: Vec<Magic>,
    /// Extra spells, tried after the extra hexes and before the built-in rules.
    pub spells: Vec<Magic>,
    /// Service names beyond [`SERVICES`] that extra hexes and spells may name (those
    /// of plugin inspectors).
    pub services: Vec<&'static str>,
}

impl WizardConfig {
    /// This configuration with `max_search_depth` set (checked by [`Wizard::new`]).
    pub fn with_max_search_depth(mut self, bytes: u32) -> Self {
        self.max_search_depth = bytes;
        self
    }
}

impl Default for WizardConfig {
    fn default() -> Self {
        WizardConfig {
            max_search_depth: DEFAULT_MAX_SEARCH_DEPTH,
            hexes: Vec::new(),
            spells: Vec::new(),
            services: Vec::new(),
        }
    }
}

/// Why a [`WizardConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WizardError {
    /// `max_search_depth` out of range.
    #[error("wizard.max_search_depth must be 1 to {MAX_SEARCH_DEPTH_LIMIT}, got {0}")]
    Depth(u32),
    /// A configured pattern names a service neither Suricata nor a plugin declares.
    #[error(
        "unknown service {0:?}: the wizard names only Suricata's app_proto services and those plugins declare"
    )]
    UnknownService(String),
    /// A configured pattern is for a transport other than TCP and UDP.
    #[error("the wizard matches TCP and UDP only, not {0:?}")]
    Transport(Transport),
    /// A hex pattern does not parse.
    #[error("bad hex {pattern:?}: {reason}")]
    BadHex {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A spell does not parse.
    #[error("bad spell {pattern:?}: {reason}")]
    BadSpell {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More rules than the index holds (65535).
    #[error("too many wizard rules: {0}")]
    TooManyRules(usize),
}

/// The ports of a flow, as the engine oriented it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ports {
    /// The port of the side taken for the client.
    pub client: u16,
    /// The port of the side taken for the server.
    pub server: u16,
}

/// Where detection stands for a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Not decided yet: give the wizard more data.
    #[default]
    Pending,
    /// The flow's service, and whether client and server must swap (the side taken
    /// for the client sent a server's message, or the other way round).
    Service {
        /// The EVE `app_proto` name.
        name: &'static str,
        /// Swap client and server.
        swap: bool,
    },
    /// Detection gave up: EVE `app_proto: "failed"`.
    Failed,
}

/// Bytes a TCP direction must carry, indexed by [`Direction::index`] (to the server,
/// to the client), before a rule book that no rule fits gives it up. Suricata's
/// pattern matcher marks a direction done only once it holds as many bytes as its
/// deepest pattern for that direction reaches: 17 to the server (`BASELINE-CONTROL `
/// and IMAP's tagged ` CAPABILITY`), 10 to the client (IMAP's `* ESEARCH `). Before
/// that a short direction (`Hi!`) leaves the flow undecided.
pub const DONE_MIN_BYTES: [u64; 2] = [17, 10];

/// Bytes after which a TCP flow undecided on one side fails anyway: Suricata's
/// `size_ts_limit` / `size_tc_limit` (at least 100,000 bytes).
pub const ONE_SIDED_LIMIT: u64 = 100_000;

/// One direction's detection state.
#[derive(Clone, Debug, Default)]
struct DirState {
    /// Bytes seen in this direction (saturating).
    seen: u64,
    /// No rule can match this direction any more.
    ruled_out: bool,
    /// The start of the direction while undecided (at most the search depth).
    buf: Vec<u8>,
}

/// Per-flow detection state: what each direction has shown, and the outcome once
/// known. Starts empty (`Default`); holds no heap memory until a chunk is too short
/// to decide.
#[derive(Clone, Debug, Default)]
pub struct WizardState {
    dirs: [DirState; 2],
    outcome: Outcome,
}

impl DirState {
    /// No rule can match, and the direction (index `dir`) carried enough to be sure
    /// of it.
    fn done(&self, dir: usize) -> bool {
        self.ruled_out && self.seen >= DONE_MIN_BYTES.get(dir).copied().unwrap_or(0)
    }
}

impl WizardState {
    /// The outcome so far.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether direction `dir` of a flow over `transport` was ruled out on its own
    /// data: a UDP direction's first datagram fit no rule; a TCP direction fit none and
    /// carried enough bytes for Suricata to be done with it ([`DONE_MIN_BYTES`]).
    pub fn ruled_out(&self, dir: Direction, transport: Transport) -> bool {
        let i = dir.index();
        self.dirs.get(i).is_some_and(|d| match transport {
            Transport::Udp => d.ruled_out,
            _ => d.done(i),
        })
    }

    /// Bytes buffered for `dir` while undecided (for tests and statistics).
    pub fn buffered(&self, dir: Direction) -> usize {
        self.dirs.get(dir.index()).map_or(0, |d| d.buf.len())
    }

    fn decide(&mut self, outcome: Outcome) -> Outcome {
        self.outcome = outcome;
        if outcome != Outcome::Pending {
            for d in &mut self.dirs {
                d.buf = Vec::new();
            }
        }
        outcome
    }

    /// Suricata's bail conditions for a TCP flow (`TCPProtoDetectCheckBailConditions`):
    /// fails when both directions are [done](DirState::done); when one is done after
    /// more than [`ONE_SIDED_LIMIT`] bytes (the other silent, short or still
    /// undecided); or when either carried more than twice that.
    fn bail(&mut self) -> Outcome {
        let [a, b] = &self.dirs;
        let (a_done, b_done) = (a.done(0), b.done(1));
        // one side done and past the limit: the other is silent, short or undecided
        let lopsided = |x: &DirState, x_done: bool| x_done && x.seen > ONE_SIDED_LIMIT;
        let flooded = |x: &DirState| x.seen > 2 * ONE_SIDED_LIMIT;
        if (a_done && b_done)
            || lopsided(a, a_done)
            || lopsided(b, b_done)
            || flooded(a)
            || flooded(b)
        {
            self.decide(Outcome::Failed)
        } else {
            Outcome::Pending
        }
    }
}

/// The wizard: the rule book, shared (cheap to clone) by every flow it inspects.
#[derive(Clone, Debug)]
pub struct Wizard {
    book: Arc<Book>,
    depth: usize,
}

impl Wizard {
    /// A wizard with `config`'s depth and extra rules before the built-in ones.
    pub fn new(config: WizardConfig) -> Result<Wizard, WizardError> {
        if !(1..=MAX_SEARCH_DEPTH_LIMIT).contains(&config.max_search_depth) {
            return Err(WizardError::Depth(config.max_search_depth));
        }
        Ok(Wizard {
            book: Arc::new(Book::new(&config)?),
            depth: config.max_search_depth as usize,
        })
    }

    /// The same wizard with a copy of the rule book of its own (not shared).
    pub(crate) fn fork_book(&self) -> Wizard {
        Wizard {
            book: Arc::new((*self.book).clone()),
            depth: self.depth,
        }
    }

    /// The search depth in bytes.
    pub fn max_search_depth(&self) -> usize {
        self.depth
    }

    /// Takes the next `chunk` of direction `dir` of a flow over `transport` with
    /// `ports`, and returns where detection stands. Once the outcome is decided it is
    /// returned again for any further chunk, and nothing more is looked at.
    pub fn scan(
        &self,
        state: &mut WizardState,
        transport: Transport,
        ports: Ports,
        dir: Direction,
        chunk: Chunk<'_>,
    ) -> Outcome {
        if state.outcome != Outcome::Pending {
            return state.outcome;
        }
        let udp = match transport {
            Transport::Tcp => false,
            Transport::Udp => true,
            _ => return state.decide(Outcome::Failed),
        };
        let data = match chunk {
            Chunk::Gap(_) => return state.decide(Outcome::Failed),
            Chunk::Data([]) if !udp => return Outcome::Pending,
            Chunk::Data(d) => d,
        };
        let ctx = Ctx {
            udp,
            client_port: ports.client,
            server_port: ports.server,
        };
        let depth = self.depth;
        let Some(ds) = state.dirs.get_mut(dir.index()) else {
            return Outcome::Pending;
        };
        ds.seen = ds.seen.saturating_add(data.len() as u64);
        let window = data.get(..depth).unwrap_or(data);
        if udp {
            // Suricata's rule: each direction gets its first datagram; the flow fails
            // once every direction that spoke was ruled out (a junk request can still
            // be followed by a recognisable answer).
            if ds.ruled_out {
                return Outcome::Pending;
            }
            // An empty datagram gives detection nothing: its direction is done.
            let verdict = if window.is_empty() {
                Verdict::No
            } else {
                self.book.evaluate(window, &ctx, true)
            };
            return match verdict {
                Verdict::Hit(hit) => state.decide(datagram_service(hit, dir)),
                _ => {
                    ds.ruled_out = true;
                    if state.dirs.iter().all(|d| d.ruled_out) {
                        state.decide(Outcome::Failed)
                    } else {
                        Outcome::Pending
                    }
                }
            };
        }
        if ds.ruled_out {
            return state.bail();
        }
        let verdict = if ds.buf.is_empty() {
            // an open direction with nothing buffered has seen nothing before this
            let verdict = self.book.evaluate(window, &ctx, window.len() >= depth);
            if verdict == Verdict::More {
                ds.buf.extend_from_slice(window);
            }
            verdict
        } else {
            let room = depth.saturating_sub(ds.buf.len());
            ds.buf.extend_from_slice(data.get(..room).unwrap_or(data));
            self.book.evaluate(&ds.buf, &ctx, ds.buf.len() >= depth)
        };
        match verdict {
            Verdict::Hit(hit) => state.decide(service(hit, dir)),
            Verdict::More => Outcome::Pending,
            Verdict::No => {
                ds.ruled_out = true;
                ds.buf = Vec::new();
                state.bail()
            }
        }
    }

    /// What direction `dir`'s first chunk `data` says on its own, on a flow over
    /// `transport` with `ports` that the other direction named `service`: Suricata's
    /// detection of a direction once the other named the flow. A rule that fits names
    /// its service (the same one, or another); failing that, a rule of `service` that
    /// fits on any port names it (Suricata tries the flow's protocol's own probe on
    /// any port); failing that, on TCP, data no rule fits and long enough for
    /// Suricata to be done with it ([`DONE_MIN_BYTES`]) is [`Outcome::Failed`].
    /// Anything else is [`Outcome::Pending`]. Never a swap.
    pub fn second_look(
        &self,
        transport: Transport,
        ports: Ports,
        dir: Direction,
        data: &[u8],
        service: &'static str,
    ) -> Outcome {
        let udp = match transport {
            Transport::Tcp => false,
            Transport::Udp => true,
            _ => return Outcome::Pending,
        };
        if data.is_empty() {
            return Outcome::Pending;
        }
        let ctx = Ctx {
            udp,
            client_port: ports.client,
            server_port: ports.server,
        };
        let window = data.get(..self.depth).unwrap_or(data);
        let verdict = self
            .book
            .evaluate(window, &ctx, udp || window.len() >= self.depth);
        if let Verdict::Hit(hit) = verdict {
            return Outcome::Service {
                name: hit.service,
                swap: false,
            };
        }
        if self.book.fits_service(window, &ctx, service) {
            return Outcome::Service {
                name: service,
                swap: false,
            };
        }
        let done = DONE_MIN_BYTES
            .get(dir.index())
            .is_some_and(|&min| data.len() as u64 >= min);
        if !udp && verdict == Verdict::No && done {
            Outcome::Failed
        } else {
            Outcome::Pending
        }
    }

    /// The flow over `transport` ends. A UDP flow that sent a datagram (even an
    /// empty one) and is still undecided fails (one side spoke, and was not
    /// recognised); a TCP flow still undecided stays without a service, as in
    /// Suricata, whose TCP detection fails only by its bail conditions (see
    /// [`WizardState`]'s contract in the module docs).
    pub fn finish(&self, state: &mut WizardState, transport: Transport) -> Outcome {
        if state.outcome == Outcome::Pending
            && transport == Transport::Udp
            && state.dirs.iter().any(|d| d.seen > 0 || d.ruled_out)
        {
            return state.decide(Outcome::Failed);
        }
        state.outcome
    }
}

/// UDP services whose Suricata probe turns the flow around when it recognises the
/// other side's message first (the probes that set `rdir`: DNS, IKE, DCERPC, NFS,
/// SMB, LDAP; mDNS's always says "to server", so it turns the flow only when it
/// recognised a datagram of the direction to the client, the first one having been
/// ruled out). Suricata's other UDP probes (DHCP, NTP, SNMP, SIP, TFTP, QUIC, ...) name
/// the flow and leave its direction as the first packet set it.
const UDP_SWAPS: [&str; 7] = ["dns", "mdns", "ike", "dcerpc", "nfs", "smb", "ldap"];

/// [`service`] for a datagram: the swap only for the services in [`UDP_SWAPS`].
fn datagram_service(hit: curses::Hit, dir: Direction) -> Outcome {
    match service(hit, dir) {
        Outcome::Service { name, swap: true } if !UDP_SWAPS.contains(&name) => {
            Outcome::Service { name, swap: false }
        }
        other => other,
    }
}

/// The outcome of a hit in `dir`: swap when the message's sender is the other side.
fn service(hit: curses::Hit, dir: Direction) -> Outcome {
    let swap = matches!(
        (dir, hit.side),
        (Direction::ToServer, Side::Server) | (Direction::ToClient, Side::Client)
    );
    Outcome::Service {
        name: hit.service,
        swap,
    }
}
