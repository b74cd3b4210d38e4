//! Flow cache counters, named as Snort 3's `stream` pegs.
//!
//! Contract: counters only grow, except the gauges (`current_flows`, `uni_flows`,
//! `uni_ip_flows`, `allowlist_flows`), which the cache keeps equal to its contents.
//! `total_prunes` is derived: the sum of every prune reason.

use crate::flow::ProtoClass;

/// Counters of one flow cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Flows created (Snort `flows`).
    pub flows: u64,
    /// Flows created, by protocol class (indexed like [`ProtoClass::ALL`]).
    pub flows_by_class: [u64; 6],
    /// Pruned because the cache was full and they idled past `pruning_timeout`.
    pub idle_prunes_max_flows: u64,
    /// Ended by their protocol idle timeout.
    pub idle_prunes_proto_timeout: u64,
    /// Pruned as the oldest when the cache was full.
    pub excess_prunes: u64,
    /// Pruned as one-directional when the cache was full.
    pub uni_prunes: u64,
    /// Pruned because the memory cap was reached.
    pub memcap_prunes: u64,
    /// Pruned by high availability sync (kept for Snort parity; always 0 here).
    pub ha_prunes: u64,
    /// Pruned as stale (kept for Snort parity; always 0 here).
    pub stale_prunes: u64,
    /// Protocol-timeout prunes by class (`ip_timeout_prunes`, `tcp_timeout_prunes`, ...).
    pub timeout_prunes: [u64; 6],
    /// Memcap prunes by class (`ip_memcap_prunes`, ...).
    pub memcap_prunes_by_class: [u64; 6],
    /// Memcap prunes of allowlisted flows.
    pub allowlist_memcap_prunes: u64,
    /// Excess prunes of allowlisted flows (the allowlist is pruned first when
    /// `move_on_excess` is off, or when its own share of the slots is full).
    pub allowlist_excess_prunes: u64,
    /// Flows moved to the allowlist instead of being pruned for excess.
    pub excess_to_allowlist: u64,
    /// Flows moved to the allowlist by an allow verdict (an inspector's, a plugin's,
    /// the midstream `bypass` policy's).
    pub moved_to_allowlist: u64,
    /// TCP flows that ended after their session closed (FIN exchange or RST).
    pub flows_closed: u64,
    /// TCP flows ended because a new session reused their tuple.
    pub tcp_reuse: u64,
    /// Flows ended at shutdown (still open when the input ended).
    pub shutdown_flows: u64,
    /// Packets refused a flow because no slot could be freed (all blocked).
    pub no_flow_max_flows: u64,
    /// Packets refused a flow because the memory cap could not be met.
    pub no_flow_memcap: u64,
    /// Gauge: flows in the cache.
    pub current_flows: u64,
    /// Highest `current_flows` seen.
    pub peak_flows: u64,
    /// Gauge: flows in the allowlist LRU.
    pub allowlist_flows: u64,
    /// Gauge: one-directional non-IP flows.
    pub uni_flows: u64,
    /// Gauge: one-directional IP-class flows.
    pub uni_ip_flows: u64,
}

impl CacheStats {
    /// Sum of every prune reason (Snort `total_prunes`).
    pub fn total_prunes(&self) -> u64 {
        self.idle_prunes_max_flows
            + self.idle_prunes_proto_timeout
            + self.excess_prunes
            + self.uni_prunes
            + self.memcap_prunes
            + self.ha_prunes
            + self.stale_prunes
    }

    /// Flows created of one class.
    pub fn flows_of(&self, c: ProtoClass) -> u64 {
        self.flows_by_class[c as usize]
    }

    /// Adds another cache's counters (gauges add up too: caches are disjoint).
    pub fn merge(&mut self, o: &CacheStats) {
        self.flows += o.flows;
        for i in 0..6 {
            self.flows_by_class[i] += o.flows_by_class[i];
            self.timeout_prunes[i] += o.timeout_prunes[i];
            self.memcap_prunes_by_class[i] += o.memcap_prunes_by_class[i];
        }
        self.idle_prunes_max_flows += o.idle_prunes_max_flows;
        self.idle_prunes_proto_timeout += o.idle_prunes_proto_timeout;
        self.excess_prunes += o.excess_prunes;
        self.uni_prunes += o.uni_prunes;
        self.memcap_prunes += o.memcap_prunes;
        self.ha_prunes += o.ha_prunes;
        self.stale_prunes += o.stale_prunes;
        self.allowlist_memcap_prunes += o.allowlist_memcap_prunes;
        self.allowlist_excess_prunes += o.allowlist_excess_prunes;
        self.excess_to_allowlist += o.excess_to_allowlist;
        self.moved_to_allowlist += o.moved_to_allowlist;
        self.flows_closed += o.flows_closed;
        self.tcp_reuse += o.tcp_reuse;
        self.shutdown_flows += o.shutdown_flows;
        self.no_flow_max_flows += o.no_flow_max_flows;
        self.no_flow_memcap += o.no_flow_memcap;
        self.current_flows += o.current_flows;
        self.peak_flows += o.peak_flows;
        self.allowlist_flows += o.allowlist_flows;
        self.uni_flows += o.uni_flows;
        self.uni_ip_flows += o.uni_ip_flows;
    }
}
