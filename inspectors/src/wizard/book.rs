//! The book: every rule the wizard knows (the built-in hexes, spells and curses, after
//! the configured ones), indexed by first byte, and the choice among the rules that
//! fit.
//!
//! Contract: rules are tried in book order; a rule bound to ports (`Require`) is only
//! tried when the client or server port is one of them; a rule that prefers ports
//! (`Prefer`) outranks every rule without a port hint when one of its ports is in use,
//! otherwise book order decides (port hints only break ties); a last-resort rule
//! (`Fallback`) is tried only on its ports, without outranking anything, so any other
//! rule that fits wins over it. The best fitting rule
//! wins as soon as no rule that outranks it still waits for more bytes; on the last
//! look (a whole datagram, or the search depth reached) waiting rules no longer count.
//! Evaluation never allocates.

use super::curses::{
    answers, any_byte, asn1, datagram, dns, ics, rpc, stores, text, tls, windows, Cast, Ctx, Curse,
    Hit, Miss,
};
use super::hexes::Hex;
use super::spells::Spell;
use super::{Magic, Side, WizardConfig, WizardError, SERVICES};
use flowengine::inspect::Transport;

/// Which ports a rule cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortRule {
    /// None: strong enough anywhere.
    Any,
    /// Anywhere, but it outranks rules without a port hint on these ports.
    Prefer(&'static [u16]),
    /// Only on these ports (weak alone).
    Require(&'static [u16]),
    /// Only on these ports, and below every other rule that fits: a last resort for
    /// bytes that carry almost nothing to check.
    Fallback(&'static [u16]),
    /// Never in a flow's first detection; on any port for the other direction of a flow
    /// already named this rule's service ([`Book::fits_service`]).
    Named,
}

/// How a rule recognises its bytes.
#[derive(Clone, Debug)]
pub(crate) enum Pattern {
    /// A byte pattern.
    Hex(Hex),
    /// A case-insensitive glob.
    Spell(Spell),
    /// A protocol check.
    Curse(Curse),
}

/// One rule of the book.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    /// The service a hex or spell names (curses name their own).
    pub service: &'static str,
    /// Who sends what a hex or spell matches.
    pub side: Side,
    /// Tried on TCP streams.
    pub tcp: bool,
    /// Tried on UDP datagrams.
    pub udp: bool,
    /// The ports it prefers or requires.
    pub ports: PortRule,
    /// How it recognises its bytes.
    pub pattern: Pattern,
}

impl Rule {
    fn cast(&self, d: &[u8], ctx: &Ctx) -> Cast {
        let named = Hit {
            service: self.service,
            side: self.side,
        };
        match &self.pattern {
            Pattern::Hex(h) => h.fit(d).map(|()| named),
            Pattern::Spell(s) => s.fit(d).map(|()| named),
            Pattern::Curse(c) => (c.check)(d, ctx),
        }
    }

    fn may_start_with(&self, b: u8) -> bool {
        match &self.pattern {
            Pattern::Hex(h) => h.may_start_with(b),
            Pattern::Spell(s) => s.may_start_with(b),
            Pattern::Curse(c) => (c.first)(b),
        }
    }
}

/// What the book concluded about one direction's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The best rule that fits.
    Hit(Hit),
    /// A rule that would win waits for more bytes.
    More,
    /// No rule can fit.
    No,
}

/// The rules and, per transport, the rules that can start with each byte.
#[derive(Clone, Debug)]
pub(crate) struct Book {
    rules: Vec<Rule>,
    /// `tcp[b]`: indices (in book order) of TCP rules that may start with byte `b`.
    tcp: Vec<Vec<u16>>,
    /// The same for UDP rules.
    udp: Vec<Vec<u16>>,
    /// The rules tried only for a flow already named ([`PortRule::Named`]), in book
    /// order; in neither table.
    named: Vec<u16>,
    /// Every port some rule prefers or requires, as a bitmap: a flow on none of them
    /// (the common case) needs no port look-up per rule.
    hint_ports: Box<[u64; 1024]>,
}

impl Book {
    /// The configured rules, then the built-in ones.
    pub(crate) fn new(config: &WizardConfig) -> Result<Book, WizardError> {
        let mut rules = Vec::new();
        for m in &config.hexes {
            rules.push(custom(config, m, Pattern::Hex(Hex::parse(&m.pattern)?))?);
        }
        for m in &config.spells {
            rules.push(custom(
                config,
                m,
                Pattern::Spell(Spell::parse(&m.pattern)?),
            )?);
        }
        for e in BUILTIN {
            rules.push(builtin(e)?);
        }
        if rules.len() > usize::from(u16::MAX) {
            return Err(WizardError::TooManyRules(rules.len()));
        }
        let index = |udp: bool| -> Vec<Vec<u16>> {
            (0..=255u8)
                .map(|b| {
                    rules
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| if udp { r.udp } else { r.tcp })
                        .filter(|(_, r)| r.ports != PortRule::Named)
                        .filter(|(_, r)| r.may_start_with(b))
                        .filter_map(|(i, _)| u16::try_from(i).ok())
                        .collect()
                })
                .collect()
        };
        let tcp = index(false);
        let udp = index(true);
        let mut hint_ports = Box::new([0u64; 1024]);
        for r in &rules {
            if let PortRule::Prefer(p) | PortRule::Require(p) | PortRule::Fallback(p) = r.ports {
                for &port in p {
                    hint_ports[usize::from(port >> 6)] |= 1 << (port & 63);
                }
            }
        }
        let named = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.ports == PortRule::Named)
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .collect();
        Ok(Book {
            rules,
            tcp,
            udp,
            named,
            hint_ports,
        })
    }

    /// True when some rule prefers or requires `port`.
    #[inline]
    fn hints(&self, port: u16) -> bool {
        self.hint_ports[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }

    /// Chooses among the rules that fit `d` (non-empty); `last` when no more bytes
    /// will come for this decision.
    pub(crate) fn evaluate(&self, d: &[u8], ctx: &Ctx, last: bool) -> Verdict {
        let Some(&first) = d.first() else {
            return Verdict::More;
        };
        let table = if ctx.udp { &self.udp } else { &self.tcp };
        let candidates = table.get(usize::from(first)).map_or(&[][..], Vec::as_slice);
        // rank: a port hint in use first, then book order
        let mut best: Option<(u32, Hit)> = None;
        let mut waiting: Option<u32> = None;
        // Without a port any rule hints at, no rule is hinted and those that require
        // ports are out.
        let hints = self.hints(ctx.client_port) || self.hints(ctx.server_port);
        for &i in candidates {
            let Some(rule) = self.rules.get(usize::from(i)) else {
                continue;
            };
            if let Some((r, _)) = best {
                // Later rules come later in book order: only a port hint in use can
                // put one above the best so far, and none above a hinted best.
                if r >> 16 != 0 || !hints {
                    break;
                }
                if matches!(rule.ports, PortRule::Any | PortRule::Fallback(_)) {
                    continue;
                }
            }
            let hinted = match rule.ports {
                PortRule::Any => false,
                PortRule::Named => continue,
                PortRule::Prefer(p) => hints && ctx.port_in(p),
                // a fallback needs its ports as much, but outranks nothing
                PortRule::Require(p) | PortRule::Fallback(p) => {
                    if !(hints && ctx.port_in(p)) {
                        continue;
                    }
                    matches!(rule.ports, PortRule::Require(_))
                }
            };
            let rank = u32::from(hinted) << 16 | u32::from(u16::MAX - i);
            if best.is_some_and(|(r, _)| rank < r) {
                // cannot beat the best so far, and waiting on it would not matter
                continue;
            }
            match rule.cast(d, ctx) {
                Ok(hit) => {
                    if best.is_none_or(|(r, _)| rank > r) {
                        best = Some((rank, hit));
                    }
                }
                Err(Miss::More) if !last => waiting = waiting.max(Some(rank)),
                Err(_) => {}
            }
        }
        match (best, waiting) {
            (Some((r, hit)), w) if w.is_none_or(|w| r > w) => Verdict::Hit(hit),
            (_, Some(_)) => Verdict::More,
            _ => Verdict::No,
        }
    }

    /// Whether a rule that names `service` fits `d`, whatever its ports (the
    /// [`PortRule::Named`] rules included): Suricata tries the probe of a flow's
    /// protocol on the other direction's first data on any port. Curses are cast and
    /// their hit's service compared; rank is not looked at, nor rules that wait for
    /// more bytes.
    pub(crate) fn fits_service(&self, d: &[u8], ctx: &Ctx, service: &str) -> bool {
        let Some(&first) = d.first() else {
            return false;
        };
        let table = if ctx.udp { &self.udp } else { &self.tcp };
        let candidates = table.get(usize::from(first)).map_or(&[][..], Vec::as_slice);
        candidates.iter().chain(&self.named).any(|&i| {
            self.rules.get(usize::from(i)).is_some_and(|rule| {
                (if ctx.udp { rule.udp } else { rule.tcp })
                    && (matches!(rule.pattern, Pattern::Curse(_)) || rule.service == service)
                    && rule.cast(d, ctx).is_ok_and(|hit| hit.service == service)
            })
        })
    }

    /// [`Book::evaluate`] as first written: every candidate ranked, with its ports
    /// looked up (the reference its shortcuts are tested against).
    #[cfg(test)]
    pub(crate) fn evaluate_reference(&self, d: &[u8], ctx: &Ctx, last: bool) -> Verdict {
        let Some(&first) = d.first() else {
            return Verdict::More;
        };
        let table = if ctx.udp { &self.udp } else { &self.tcp };
        let candidates = table.get(usize::from(first)).map_or(&[][..], Vec::as_slice);
        let mut best: Option<(u32, Hit)> = None;
        let mut waiting: Option<u32> = None;
        for &i in candidates {
            let Some(rule) = self.rules.get(usize::from(i)) else {
                continue;
            };
            let hinted = match rule.ports {
                PortRule::Any => false,
                PortRule::Named => continue,
                PortRule::Prefer(p) => ctx.port_in(p),
                // a fallback needs its ports as much, but outranks nothing
                PortRule::Require(p) | PortRule::Fallback(p) => {
                    if !ctx.port_in(p) {
                        continue;
                    }
                    matches!(rule.ports, PortRule::Require(_))
                }
            };
            let rank = u32::from(hinted) << 16 | u32::from(u16::MAX - i);
            if best.is_some_and(|(r, _)| rank < r) {
                continue;
            }
            match rule.cast(d, ctx) {
                Ok(hit) => {
                    if best.is_none_or(|(r, _)| rank > r) {
                        best = Some((rank, hit));
                    }
                }
                Err(Miss::More) if !last => waiting = waiting.max(Some(rank)),
                Err(_) => {}
            }
        }
        match (best, waiting) {
            (Some((r, hit)), w) if w.is_none_or(|w| r > w) => Verdict::Hit(hit),
            (_, Some(_)) => Verdict::More,
            _ => Verdict::No,
        }
    }

    /// Number of rules (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }
}

/// A configured hex or spell as a rule.
fn custom(config: &WizardConfig, m: &Magic, pattern: Pattern) -> Result<Rule, WizardError> {
    let service = SERVICES
        .iter()
        .chain(config.services.iter())
        .copied()
        .find(|s| *s == m.service)
        .ok_or_else(|| WizardError::UnknownService(m.service.clone()))?;
    let (tcp, udp) = match m.transport {
        Transport::Tcp => (true, false),
        Transport::Udp => (false, true),
        other => return Err(WizardError::Transport(other)),
    };
    Ok(Rule {
        service,
        side: m.side,
        tcp,
        udp,
        ports: if m.ports.is_empty() {
            PortRule::Any
        } else {
            PortRule::Prefer(m.ports)
        },
        pattern,
    })
}

/// Where a built-in rule applies.
#[derive(Clone, Copy)]
enum On {
    Tcp,
    Udp,
    Both,
}

/// How a built-in rule is written.
#[derive(Clone, Copy)]
enum Def {
    Hex(&'static str),
    Spell(&'static str),
    Curse(Curse),
}

/// One built-in rule.
#[derive(Clone, Copy)]
struct Entry {
    service: &'static str,
    side: Side,
    on: On,
    ports: PortRule,
    def: Def,
}

fn builtin(e: &Entry) -> Result<Rule, WizardError> {
    let pattern = match e.def {
        Def::Hex(h) => Pattern::Hex(Hex::parse(h)?),
        Def::Spell(s) => Pattern::Spell(Spell::parse(s)?),
        Def::Curse(c) => Pattern::Curse(c),
    };
    let (tcp, udp) = match e.on {
        On::Tcp => (true, false),
        On::Udp => (false, true),
        On::Both => (true, true),
    };
    Ok(Rule {
        service: e.service,
        side: e.side,
        tcp,
        udp,
        ports: e.ports,
        pattern,
    })
}

const fn spell(service: &'static str, side: Side, text: &'static str) -> Entry {
    Entry {
        service,
        side,
        on: On::Tcp,
        ports: PortRule::Any,
        def: Def::Spell(text),
    }
}

const fn spell_at(service: &'static str, side: Side, ports: PortRule, text: &'static str) -> Entry {
    Entry {
        service,
        side,
        on: On::Tcp,
        ports,
        def: Def::Spell(text),
    }
}

const fn hex(service: &'static str, side: Side, on: On, text: &'static str) -> Entry {
    Entry {
        service,
        side,
        on,
        ports: PortRule::Any,
        def: Def::Hex(text),
    }
}

const fn curse(
    name: &'static str,
    on: On,
    ports: PortRule,
    check: fn(&[u8], &Ctx) -> Cast,
    first: fn(u8) -> bool,
) -> Entry {
    Entry {
        service: name,
        side: Side::Either,
        on,
        ports,
        def: Def::Curse(Curse { name, check, first }),
    }
}

use PortRule::{Any, Fallback, Named, Prefer, Require};
use Side::{Client as C, Either as E, Server as S};

/// The built-in rules, in book order: exact literals and text globs first (cheap, and
/// first bytes keep them apart), then binary curses from strongest to weakest.
const BUILTIN: &[Entry] = &[
    // --- TCP text
    hex(
        "http2",
        C,
        On::Tcp,
        "PRI * HTTP/2.0|0d 0a 0d 0a|SM|0d 0a 0d 0a|",
    ),
    spell("http", C, "GET "),
    spell("http", C, "POST "),
    spell("http", C, "HEAD "),
    spell("http", C, "PUT "),
    spell("http", C, "DELETE "),
    spell("http", C, "CONNECT "),
    spell("http", C, "TRACE "),
    spell("http", C, "PATCH "),
    spell("http", C, "PROPFIND "),
    spell("http", C, "PROPPATCH "),
    spell("http", C, "MKCOL "),
    spell("http", C, "COPY "),
    spell("http", C, "MOVE "),
    spell("http", C, "LOCK "),
    spell("http", C, "UNLOCK "),
    spell("http", S, "HTTP/1."),
    spell("rtsp", S, "RTSP/1.0 "),
    spell("rtsp", S, "RTSP/2.0 "),
    Entry {
        on: On::Both,
        ..spell("sip", S, "SIP/2.0 ")
    },
    curse(
        "request-line",
        On::Both,
        Any,
        text::request_line,
        text::request_line_first,
    ),
    spell("ssh", S, "SSH-1.99-"),
    spell("ssh", E, "SSH-"),
    spell("imap", S, "** OK"),
    spell("imap", S, "** PREAUTH"),
    spell("pop3", S, "+OK"),
    curse("banner-220", On::Tcp, Any, text::banner_220, |b| b == b'2'),
    spell("smtp", C, "EHLO "),
    spell("smtp", C, "HELO "),
    curse(
        "user-command",
        On::Tcp,
        Prefer(&[21, 110]),
        text::user_command,
        |b| b == b'U' || b == b'u',
    ),
    spell_at("ftp", C, Require(&[21]), "QUIT"),
    spell_at("smtp", C, Require(&[25, 587, 465]), "QUIT"),
    spell("rfb", S, "RFB 00"),
    spell("ftp", C, "AUTH TLS"),
    spell("ftp", C, "AUTH SSL"),
    spell("pop3", C, "CAPA\r\n"),
    spell("pop3", C, "STLS\r\n"),
    spell("pop3", C, "APOP "),
    curse(
        "imap-command",
        On::Tcp,
        Prefer(&[143]),
        text::imap_command,
        text::imap_first,
    ),
    spell_at("redis", C, Require(&[6379]), "PING\r\n"),
    spell("redis", S, "-DENIED Redis "),
    curse("redis", On::Tcp, Prefer(&[6379]), stores::redis, |b| {
        b == b'*'
    }),
    // --- TCP binary
    curse("tls", On::Tcp, Any, tls::tls, tls::tls_first),
    curse("smb", On::Tcp, Prefer(&[445, 139]), windows::smb, |b| {
        b == 0
    }),
    curse(
        "nbss",
        On::Tcp,
        Prefer(&[139]),
        windows::nbss_request,
        |b| b == 0x81,
    ),
    curse("dcerpc", On::Tcp, Prefer(&[135]), rpc::dcerpc_tcp, |b| {
        b == 5
    }),
    curse("dns-tcp", On::Tcp, Require(&[53]), dns::dns_tcp, any_byte),
    curse("krb5-tcp", On::Tcp, Prefer(&[88]), asn1::krb5_tcp, |b| {
        b == 0
    }),
    curse("ldap", On::Both, Prefer(&[389, 3268]), asn1::ldap, |b| {
        b == 0x30
    }),
    curse("rdp", On::Tcp, Prefer(&[3389]), windows::rdp, |b| b == 3),
    curse(
        "pgsql",
        On::Tcp,
        Prefer(&[5432]),
        stores::pgsql,
        stores::pgsql_first,
    ),
    curse("mysql", On::Tcp, Prefer(&[3306]), stores::mysql, any_byte),
    curse("mqtt", On::Tcp, Prefer(&[1883]), stores::mqtt, |b| {
        b == 0x10
    }),
    curse(
        "mqtt-port",
        On::Tcp,
        Require(&[1883]),
        stores::mqtt_packet,
        |b| b >> 4 != 0,
    ),
    curse(
        "nfs-tcp",
        On::Tcp,
        Prefer(&[2049]),
        rpc::nfs_tcp,
        rpc::nfs_tcp_first,
    ),
    curse("dnp3", On::Both, Prefer(&[20000]), ics::dnp3, |b| b == 5),
    curse(
        "enip",
        On::Both,
        Require(&[44818, 2222]),
        ics::enip,
        ics::enip_first,
    ),
    curse("modbus", On::Tcp, Require(&[502]), ics::modbus, any_byte),
    curse("telnet", On::Tcp, Prefer(&[23]), text::telnet, |b| {
        b == 0xff
    }),
    // --- UDP (and STUN over TCP)
    curse("dns-udp", On::Udp, Require(&[53]), dns::dns_udp, any_byte),
    curse("mdns", On::Udp, Require(&[5353]), dns::mdns_udp, any_byte),
    curse(
        "dhcp",
        On::Udp,
        Require(&[67, 68]),
        datagram::dhcp,
        datagram::dhcp_first,
    ),
    curse(
        "quic",
        On::Udp,
        Prefer(&[443]),
        datagram::quic,
        datagram::quic_first,
    ),
    curse(
        "stun",
        On::Both,
        Prefer(datagram::STUN_PORTS),
        datagram::stun,
        datagram::stun_first,
    ),
    curse(
        "stun-classic",
        On::Udp,
        Require(&[3478, 3479]),
        datagram::stun_classic,
        datagram::stun_first,
    ),
    curse(
        "stun-rfc3489",
        On::Udp,
        Any,
        datagram::stun_classic_attributes,
        datagram::stun_first,
    ),
    curse(
        "krb5-udp",
        On::Udp,
        Prefer(&[88]),
        asn1::krb5_udp,
        asn1::krb5_first,
    ),
    curse("snmp", On::Udp, Require(&[161, 162]), asn1::snmp, |b| {
        b == 0x30
    }),
    curse(
        "ike",
        On::Udp,
        Prefer(&[500, 4500]),
        datagram::ike,
        any_byte,
    ),
    curse(
        "ike-natt",
        On::Udp,
        Require(&[4500]),
        datagram::ike_natt,
        |b| b == 0,
    ),
    curse(
        "dcerpc-udp",
        On::Udp,
        Prefer(&[135]),
        rpc::dcerpc_udp,
        |b| b == 4,
    ),
    curse("nfs-udp", On::Udp, Prefer(&[2049]), rpc::nfs_udp, any_byte),
    curse("ntp", On::Udp, Require(&[123]), datagram::ntp, any_byte),
    curse("tftp", On::Udp, Require(&[69]), datagram::tftp, |b| b == 0),
    hex("bittorrent-dht", C, On::Udp, "d1:ad2:id20:"),
    hex("bittorrent-dht", S, On::Udp, "d1:rd2:id20:"),
    hex("bittorrent-dht", S, On::Udp, "d2:ip6:??????1:rd2:id20:"),
    hex("bittorrent-dht", S, On::Udp, "d1:eli"),
    // --- answers: only for the other direction of a flow already named
    curse(
        "http2-settings",
        On::Tcp,
        Named,
        answers::http2_settings,
        |b| b == 0,
    ),
    curse(
        "pgsql-server",
        On::Tcp,
        Named,
        answers::pgsql_server,
        any_byte,
    ),
    curse(
        "mysql-client",
        On::Tcp,
        Named,
        answers::mysql_client,
        any_byte,
    ),
    // --- last resorts
    curse(
        "quic-short",
        On::Udp,
        Fallback(&[443]),
        datagram::quic_short,
        datagram::quic_short_first,
    ),
];
