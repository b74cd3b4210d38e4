//! Expected flows: connections that one flow's inspector announces before they start
//! (FTP's data connections), named without payload detection, as Suricata's
//! app-layer expectations and Snort's expected sessions do.
//!
//! Contract:
//! - An inspector announces a connection with [`super::Cx::expect`]: an
//!   [`Expectation`] names the transport, the endpoint that will accept the connection
//!   (`server`, `server_port`), optionally the address that will open it (`client`;
//!   `None` = any), and the service of the new flow. The engine adds it to its
//!   [`ExpectTable`] after the inspector's call.
//! - The table is consulted only when a flow is created (never for the packets of
//!   existing flows; [`ExpectTable::is_empty`] is one branch). A new flow matches when
//!   its transport is the expectation's and one of its two endpoints is
//!   (`server`, `server_port`) while the other endpoint's address is `client` (or any):
//!   the endpoints are unordered, so the flow matches whichever side sent its first
//!   packet, and the opener's port is never compared (Suricata's rule: the two
//!   addresses and the data connection's destination port). A match consumes the
//!   expectation.
//! - Bounded: at most `max` expectations are kept (`app-layer.expectations.max`); adding
//!   one to a full table drops the oldest (counted `evicted`). At most one expectation
//!   per (transport, server, server port): a newer one replaces the older (`replaced`).
//!   An expectation not matched within `timeout` seconds of packet time
//!   (`app-layer.expectations.timeout`) expires (`expired`); expiry is noticed lazily,
//!   when an expectation is added or a new flow is looked up, and never reads a clock.
//! - `max = 0` turns expectations off: nothing is added.
//! - Memory: the table grows on demand up to `max` entries (about 64 bytes each plus
//!   the index) and never allocates per packet.

use super::Transport;
use crate::time::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Default most expectations kept (`app-layer.expectations.max`).
pub const DEFAULT_MAX: u32 = 1024;
/// Default seconds an expectation waits for its flow (`app-layer.expectations.timeout`).
pub const DEFAULT_TIMEOUT: u32 = 60;

/// A connection an inspector expects: the flow that opens it gets `service`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expectation {
    /// The transport of the expected flow.
    pub transport: Transport,
    /// The address that will open the connection; `None` = any.
    pub client: Option<IpAddr>,
    /// The address that will accept it.
    pub server: IpAddr,
    /// The port that will accept it (the expected flow's destination port).
    pub server_port: u16,
    /// The service (EVE `app_proto` name) the expected flow gets.
    pub service: &'static str,
}

impl Expectation {
    /// A connection of `transport` to `server`:`server_port` from any address, whose
    /// flow will speak `service`.
    pub fn new(
        transport: Transport,
        server: IpAddr,
        server_port: u16,
        service: &'static str,
    ) -> Self {
        Expectation {
            transport,
            client: None,
            server,
            server_port,
            service,
        }
    }

    /// Only a connection opened from `client` matches.
    pub fn from_client(mut self, client: IpAddr) -> Self {
        self.client = Some(client);
        self
    }
}

/// Counters of an expectation table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpectStats {
    /// Expectations added.
    pub added: u64,
    /// New flows that matched one (and got its service).
    pub matched: u64,
    /// Expectations that waited longer than the timeout.
    pub expired: u64,
    /// Expectations dropped, unmatched, to make room (the table was full).
    pub evicted: u64,
    /// Expectations replaced by a newer one for the same endpoint.
    pub replaced: u64,
}

impl ExpectStats {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &ExpectStats) {
        self.added += o.added;
        self.matched += o.matched;
        self.expired += o.expired;
        self.evicted += o.evicted;
        self.replaced += o.replaced;
    }

    /// Every counter as (name, value), for a summary.
    pub fn counters(&self) -> [(&'static str, u64); 5] {
        [
            ("expectations_added", self.added),
            ("expectations_matched", self.matched),
            ("expectations_expired", self.expired),
            ("expectations_evicted", self.evicted),
            ("expectations_replaced", self.replaced),
        ]
    }
}

/// The limits of an expectation table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectConfig {
    /// Most expectations kept; 0 turns expectations off.
    pub max: u32,
    /// Seconds of packet time an expectation waits for its flow.
    pub timeout_secs: u32,
}

impl Default for ExpectConfig {
    fn default() -> Self {
        ExpectConfig {
            max: DEFAULT_MAX,
            timeout_secs: DEFAULT_TIMEOUT,
        }
    }
}

/// (IP protocol, accepting address, accepting port).
type Key = (u8, IpAddr, u16);

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: Key,
    client: Option<IpAddr>,
    service: &'static str,
    expires: Timestamp,
    /// Still waiting (not matched, replaced or expired).
    live: bool,
}

/// The expectations of one engine (see the module contract).
#[derive(Debug)]
pub struct ExpectTable {
    cfg: ExpectConfig,
    /// Entries in the order added; the front is the oldest.
    ring: VecDeque<Entry>,
    /// Sequence number of `ring[0]` (each entry added gets the next one).
    head_seq: u64,
    /// Key -> sequence number of its live entry (exactly the live entries).
    index: HashMap<Key, u64, foldhash::fast::RandomState>,
    live: usize,
    stats: ExpectStats,
}

impl Default for ExpectTable {
    fn default() -> Self {
        Self::new(ExpectConfig::default())
    }
}

fn ip_proto(t: Transport) -> u8 {
    match t {
        Transport::Tcp => 6,
        Transport::Udp => 17,
        Transport::Other(p) => p,
    }
}

impl ExpectTable {
    /// An empty table with these limits (nothing is allocated until the first add).
    pub fn new(cfg: ExpectConfig) -> Self {
        ExpectTable {
            cfg,
            ring: VecDeque::new(),
            head_seq: 0,
            index: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            live: 0,
            stats: ExpectStats::default(),
        }
    }

    /// The limits.
    pub fn config(&self) -> ExpectConfig {
        self.cfg
    }

    /// Changes the limits; a smaller `max` evicts the oldest at once.
    pub fn set_config(&mut self, cfg: ExpectConfig) {
        self.cfg = cfg;
        while self.ring.len() > cfg.max as usize {
            self.pop_front(false);
        }
    }

    /// True when no expectation waits (the check made for every new flow).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Expectations waiting (some may have expired unnoticed).
    pub fn len(&self) -> usize {
        self.live
    }

    /// The counters.
    pub fn stats(&self) -> ExpectStats {
        self.stats
    }

    /// Adds an expectation announced at packet time `now`.
    pub fn add(&mut self, e: Expectation, now: Timestamp) {
        if self.cfg.max == 0 {
            return;
        }
        self.expire(now);
        let key = (ip_proto(e.transport), e.server, e.server_port);
        if let Some(seq) = self.index.remove(&key) {
            if let Some(old) = self.entry_mut(seq) {
                old.live = false;
            }
            self.live -= 1;
            self.stats.replaced += 1;
        }
        while self.ring.len() >= self.cfg.max as usize {
            self.pop_front(false);
        }
        let seq = self.head_seq + self.ring.len() as u64;
        self.ring.push_back(Entry {
            key,
            client: e.client,
            service: e.service,
            expires: now.add_secs(self.cfg.timeout_secs),
            live: true,
        });
        self.index.insert(key, seq);
        self.live += 1;
        self.stats.added += 1;
    }

    /// A flow of IP protocol `proto` between endpoints `a` and `b` (either order) is
    /// created at packet time `now`: the service of the expectation it matches, which
    /// is consumed.
    pub fn take(
        &mut self,
        proto: u8,
        a: (IpAddr, u16),
        b: (IpAddr, u16),
        now: Timestamp,
    ) -> Option<&'static str> {
        if self.is_empty() {
            return None;
        }
        self.expire(now);
        for (server, client) in [(a, b), (b, a)] {
            let key = (proto, server.0, server.1);
            let Some(&seq) = self.index.get(&key) else {
                continue;
            };
            let Some(e) = self.entry_mut(seq) else {
                continue;
            };
            let expired = e.expires <= now;
            let fits = e.client.is_none_or(|c| c == client.0);
            if !expired && !fits {
                continue;
            }
            let service = e.service;
            e.live = false;
            self.index.remove(&key);
            self.live -= 1;
            if expired {
                self.stats.expired += 1;
            } else {
                self.stats.matched += 1;
                return Some(service);
            }
        }
        None
    }

    fn entry_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let i = usize::try_from(seq.checked_sub(self.head_seq)?).ok()?;
        self.ring.get_mut(i)
    }

    /// Drops the oldest entries while they are no longer live or have expired.
    fn expire(&mut self, now: Timestamp) {
        while let Some(front) = self.ring.front() {
            if front.live && front.expires > now {
                break;
            }
            self.pop_front(true);
        }
    }

    /// Drops the oldest entry: a live one is counted expired (`expiring`) or evicted.
    fn pop_front(&mut self, expiring: bool) {
        let Some(e) = self.ring.pop_front() else {
            return;
        };
        self.head_seq += 1;
        if e.live {
            self.index.remove(&e.key);
            self.live -= 1;
            if expiring {
                self.stats.expired += 1;
            } else {
                self.stats.evicted += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn t(secs: u64) -> Timestamp {
        Timestamp::from_secs_micros(secs, 0)
    }

    fn table(max: u32, timeout_secs: u32) -> ExpectTable {
        ExpectTable::new(ExpectConfig { max, timeout_secs })
    }

    fn ftp_data(server: u8, port: u16) -> Expectation {
        Expectation::new(Transport::Tcp, ip(server), port, "ftp-data")
    }

    #[test]
    fn a_new_flow_matches_in_either_direction_once() {
        let mut x = table(8, 60);
        assert!(x.is_empty());
        x.add(ftp_data(2, 5000).from_client(ip(1)), t(10));
        assert_eq!(x.len(), 1);
        // The server side sent the first packet: endpoints are unordered.
        assert_eq!(
            x.take(6, (ip(2), 5000), (ip(1), 40000), t(11)),
            Some("ftp-data")
        );
        assert!(x.is_empty());
        // Consumed: a second connection does not match.
        x.add(ftp_data(2, 5001).from_client(ip(1)), t(12));
        assert_eq!(
            x.take(6, (ip(1), 40001), (ip(2), 5001), t(12)),
            Some("ftp-data")
        );
        assert_eq!(x.take(6, (ip(1), 40002), (ip(2), 5001), t(12)), None);
        let s = x.stats();
        assert_eq!((s.added, s.matched, s.expired, s.evicted), (2, 2, 0, 0));
    }

    #[test]
    fn transport_port_and_client_must_fit() {
        let mut x = table(8, 60);
        x.add(ftp_data(2, 5000).from_client(ip(1)), t(0));
        assert_eq!(x.take(17, (ip(1), 1), (ip(2), 5000), t(1)), None);
        assert_eq!(x.take(6, (ip(1), 1), (ip(2), 5001), t(1)), None);
        assert_eq!(x.take(6, (ip(3), 1), (ip(2), 5000), t(1)), None);
        // The opener's port is any.
        assert_eq!(
            x.take(6, (ip(1), 20), (ip(2), 5000), t(1)),
            Some("ftp-data")
        );
        // Without a client, any address opens it.
        x.add(ftp_data(2, 6000), t(2));
        assert_eq!(
            x.take(6, (ip(9), 1234), (ip(2), 6000), t(2)),
            Some("ftp-data")
        );
    }

    #[test]
    fn expectations_expire_on_packet_time() {
        let mut x = table(8, 60);
        x.add(ftp_data(2, 5000), t(100));
        assert_eq!(x.take(6, (ip(1), 1), (ip(2), 5000), t(160)), None);
        assert!(x.is_empty());
        assert_eq!(x.stats().expired, 1);
        // Noticed at the next add too, from the oldest.
        x.add(ftp_data(2, 5001), t(200));
        x.add(ftp_data(2, 5002), t(230));
        x.add(ftp_data(2, 5003), t(261));
        assert_eq!(x.stats().expired, 2);
        assert_eq!(x.len(), 2);
        assert_eq!(
            x.take(6, (ip(1), 1), (ip(2), 5002), t(289)),
            Some("ftp-data")
        );
    }

    #[test]
    fn a_full_table_evicts_the_oldest() {
        let mut x = table(4, 60);
        for port in 1..=6 {
            x.add(ftp_data(2, port), t(0));
        }
        assert_eq!(x.len(), 4);
        assert_eq!(x.stats().evicted, 2);
        assert_eq!(x.take(6, (ip(1), 9), (ip(2), 1), t(1)), None);
        assert_eq!(x.take(6, (ip(1), 9), (ip(2), 2), t(1)), None);
        for port in 3..=6 {
            assert_eq!(x.take(6, (ip(1), 9), (ip(2), port), t(1)), Some("ftp-data"));
        }
        // Matched entries are dropped without counting as evicted.
        for port in 7..=12 {
            x.add(ftp_data(2, port), t(2));
        }
        assert_eq!(x.stats().evicted, 4);
        assert!(x.ring.len() <= 4);
    }

    #[test]
    fn a_newer_expectation_replaces_the_older_for_the_same_endpoint() {
        let mut x = table(4, 60);
        x.add(ftp_data(2, 5000).from_client(ip(1)), t(0));
        x.add(ftp_data(2, 5000).from_client(ip(3)), t(1));
        assert_eq!(x.len(), 1);
        assert_eq!(x.stats().replaced, 1);
        assert_eq!(x.take(6, (ip(1), 9), (ip(2), 5000), t(2)), None);
        assert_eq!(x.take(6, (ip(3), 9), (ip(2), 5000), t(2)), Some("ftp-data"));
    }

    #[test]
    fn zero_max_turns_expectations_off_and_shrinking_evicts() {
        let mut x = table(0, 60);
        x.add(ftp_data(2, 5000), t(0));
        assert!(x.is_empty());
        assert_eq!(x.stats().added, 0);
        let mut x = table(8, 60);
        for port in 1..=5 {
            x.add(ftp_data(2, port), t(0));
        }
        x.set_config(ExpectConfig {
            max: 2,
            timeout_secs: 60,
        });
        assert_eq!(x.len(), 2);
        assert_eq!(x.stats().evicted, 3);
    }
}
