//! The end-of-run summary, laid out like `snort -r`'s: sections of `name: count`
//! lines, right-aligned names, zero counters left out except the headline ones.

use flowengine::feed::FeedStats;
use flowengine::flow::ProtoClass;
use flowengine::Stats;
use std::fmt::Write;
use std::time::Duration;

/// Where the packets came from.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// This many capture files.
    Files(usize),
    /// Live capture on this interface.
    Interface(&'a str),
}

/// libpcap's counters of a live capture (`pcap_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets the kernel captured (that passed the filter, on Linux).
    pub received: u64,
    /// Packets the kernel dropped: no room in its buffer, not read fast enough.
    pub dropped: u64,
    /// Packets the interface or its driver dropped.
    pub if_dropped: u64,
}

/// What the summary reports.
pub struct Summary<'a> {
    pub source: Source<'a>,
    pub feed: FeedStats,
    /// Packets a `--bpf` filter kept from the engine (files; `None` without one).
    pub filtered_out: Option<u64>,
    /// The signal that stopped the run, if one did.
    pub stopped_by: Option<&'a str>,
    /// libpcap's counters (live capture).
    pub capture: Option<CaptureStats>,
    pub stats: &'a Stats,
    pub records_written: u64,
    /// Inspector events written to EVE.
    pub events_written: u64,
    pub elapsed: Duration,
    /// Time spent inside the engine (decode, tracking, records), without file reading.
    pub engine_time: Duration,
    /// Frames given to each worker thread (one entry per worker).
    pub per_worker: &'a [u64],
    pub ignored: &'a [String],
    /// SIGHUP reloads applied and refused.
    pub reloads: (u64, u64),
    /// The plugins loaded.
    pub plugins: &'a flowengine_plugin_host::Plugins,
    /// The process's peak resident set (see [`peak_rss_bytes`]); left out when unknown.
    pub peak_rss: Option<u64>,
}

/// The process's peak resident set size in bytes so far (`VmHWM` in
/// `/proc/self/status`); `None` where that is not available (not Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    vm_hwm(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// The `VmHWM` of a `/proc/PID/status` text, in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    let value = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kib: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

const RULE: &str = "--------------------------------------------------\n";

struct Section<'a> {
    out: &'a mut String,
}

impl Section<'_> {
    fn line(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.out, "{name:>26}: {value}");
    }

    /// A counter, left out when zero.
    fn count(&mut self, name: &str, value: u64) {
        if value > 0 {
            self.line(name, value);
        }
    }
}

fn section<'a>(out: &'a mut String, title: &str) -> Section<'a> {
    out.push_str(RULE);
    let _ = writeln!(out, "{title}");
    Section { out }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn render(s: &Summary<'_>) -> String {
    let st = s.stats;
    let d = &st.decode;
    let c = &st.cache;
    let mut out = String::new();

    let mut p = section(&mut out, "Packet I/O Totals:");
    match s.source {
        Source::Files(n) => p.line("files", n),
        Source::Interface(name) => p.line("interface", name),
    }
    p.line("received", s.feed.packets);
    p.line("bytes", s.feed.bytes);
    p.count("caplen_over_snaplen", s.feed.caplen_over_snaplen);
    if let Some(n) = s.filtered_out {
        p.line("filtered_out", n);
    }
    p.line("analyzed", d.packets);
    p.line("tracked", st.packets_tracked);
    p.count("no_flow", st.packets_no_flow);
    p.count("tunnel_only", st.packets_tunnel_only);
    if let Some(sig) = s.stopped_by {
        p.line("stopped_by", sig);
    }
    p.count("reloads", s.reloads.0);
    p.count("reloads_refused", s.reloads.1);

    if let Some(c) = s.capture {
        let mut p = section(&mut out, "capture (libpcap):");
        p.line("kernel_received", c.received);
        p.line("kernel_dropped", c.dropped);
        p.count("interface_dropped", c.if_dropped);
    }

    let mut p = section(&mut out, "link:");
    for (name, n) in d.links_seen() {
        p.line(name, n);
    }

    let mut p = section(&mut out, "codec:");
    p.line("ipv4", d.ipv4);
    p.line("ipv6", d.ipv6);
    p.count("tcp", d.tcp);
    p.count("udp", d.udp);
    p.count("icmp4", d.icmp);
    p.count("icmp6", d.icmpv6);
    p.count("sctp", d.sctp);
    p.count("other_ip", d.other_ip);
    p.count("vlan", d.vlan_tagged);
    p.count("mpls", d.mpls);
    p.count("ipv4_fragments", d.ipv4_fragments);
    p.count("ipv6_fragments", d.ipv6_fragments);
    p.count("reassembled", d.reassembled);
    p.count("arp", d.arp);
    p.count("llc", d.llc);
    p.count("other_ethertype", d.other_ethertype);
    p.count("link_control", d.link_control);
    p.count("tunnel_control", d.tunnel_control);
    p.line("decode_errors", d.error_total());

    let ck = &st.checksum;
    let mut p = section(&mut out, "checksums:");
    let verdict = match (ck.mode.as_str(), ck.offload_detected) {
        ("auto", true) => "auto: stopped, most of the first 1000 packets were bad (offload)",
        ("auto", false) => "auto: validating",
        ("all", _) => "all",
        _ => "none",
    };
    p.line("mode", verdict);
    for (name, n) in ck.stats.counters() {
        p.count(name, n);
    }

    if st.defrag.fragments > 0 {
        let mut p = section(&mut out, "defrag:");
        for (name, n) in st.defrag.pairs() {
            if name == "fragments" {
                p.line(name, n);
            } else {
                p.count(name, n);
            }
        }
        if st.fragments_orphaned > 0 {
            p.line(
                "orphaned",
                format!(
                    "{} fragments, {} bytes (no first fragment: in no flow)",
                    st.fragments_orphaned, st.fragment_bytes_orphaned
                ),
            );
        }
    }

    if d.tunneled > 0 {
        let mut p = section(&mut out, "tunnels:");
        p.line("inner_packets", d.tunneled);
        for (name, n) in d.tunnels_seen() {
            p.line(name, n);
        }
    }

    if d.error_total() > 0 {
        let mut p = section(&mut out, "decode errors:");
        for (name, n) in d.errors_by_reason() {
            p.line(name, n);
        }
    }

    let mut p = section(&mut out, "stream:");
    p.line("flows", c.flows);
    for class in ProtoClass::ALL {
        p.count(&format!("{}_flows", class.name()), c.flows_of(class));
    }
    p.line("total_prunes", c.total_prunes());
    p.count("idle_prunes_max_flows", c.idle_prunes_max_flows);
    p.count("idle_prunes_proto_timeout", c.idle_prunes_proto_timeout);
    p.count("excess_prunes", c.excess_prunes);
    p.count("uni_prunes", c.uni_prunes);
    p.count("memcap_prunes", c.memcap_prunes);
    p.count("ha_prunes", c.ha_prunes);
    p.count("stale_prunes", c.stale_prunes);
    for class in ProtoClass::ALL {
        p.count(
            &format!("{}_timeout_prunes", class.name()),
            c.timeout_prunes[class as usize],
        );
    }
    for class in ProtoClass::ALL {
        p.count(
            &format!("{}_memcap_prunes", class.name()),
            c.memcap_prunes_by_class[class as usize],
        );
    }
    p.count("allowlist_memcap_prunes", c.allowlist_memcap_prunes);
    p.count("allowlist_excess_prunes", c.allowlist_excess_prunes);
    p.count("excess_to_allowlist", c.excess_to_allowlist);
    p.count("moved_to_allowlist", c.moved_to_allowlist);
    p.count("flows_closed", c.flows_closed);
    p.count("tcp_reuse", c.tcp_reuse);
    p.count("shutdown_flows", c.shutdown_flows);
    p.count("no_flow_max_flows", c.no_flow_max_flows);
    p.count("no_flow_memcap", c.no_flow_memcap);
    p.line("current_flows", c.current_flows);
    p.line("peak_flows", c.peak_flows);
    p.count("allowlist_flows", c.allowlist_flows);

    if st.inspect.flows > 0 {
        let mut p = section(&mut out, "app_layer:");
        for (name, v) in st.inspect.counters() {
            p.count(name, v);
        }
        for (name, v) in st.expectations.counters() {
            p.count(name, v);
        }
    }
    if !s.plugins.is_empty() {
        let mut p = section(&mut out, "plugins:");
        for plugin in s.plugins.list() {
            p.line(
                &plugin.name,
                format!("{} ({})", plugin.version, plugin.path.display()),
            );
        }
        for plugin in s.plugins.list() {
            p.line(
                &format!("plugin_panics.{}", plugin.name),
                plugin.stats().panics(),
            );
        }
    }
    let mut p = section(&mut out, "memory:");
    p.line("bytes_per_flow_slot", st.slot_bytes);
    p.line(
        "bytes_per_flow",
        format!("{} (slot + hash index)", st.bytes_per_flow),
    );
    p.line("max_flows", st.max_flows);
    p.line("reserved", mib(st.bytes_per_flow * st.max_flows));
    p.line(
        "slots_touched",
        format!(
            "{} ({})",
            st.slots_touched,
            mib(st.slots_touched * st.slot_bytes)
        ),
    );
    if let Some(peak) = s.peak_rss {
        p.line("peak_rss_bytes", format!("{peak} ({})", mib(peak)));
    }

    let mut p = section(&mut out, "output:");
    p.line("flow_records", st.records);
    p.line("eve_records_written", s.records_written);
    p.line("eve_events_written", s.events_written);
    if !s.ignored.is_empty() {
        p.line("ignored_config_keys", s.ignored.join(", "));
    }

    let secs = s.elapsed.as_secs_f64();
    let mut p = section(&mut out, "timing:");
    p.line("wall_time", format!("{secs:.3} s"));
    let pps = if secs > 0.0 {
        d.packets as f64 / secs
    } else {
        0.0
    };
    p.line("packets_per_second", format!("{pps:.0}"));
    p.line("threads", s.per_worker.len());
    if s.per_worker.len() > 1 {
        let shares: Vec<String> = s.per_worker.iter().map(u64::to_string).collect();
        p.line("packets_per_worker", shares.join(" "));
    }
    let esecs = s.engine_time.as_secs_f64();
    let what = if s.per_worker.len() > 1 {
        "handing packets to the workers and waiting for them; no file reading"
    } else {
        "decode, tracking, records; no file reading"
    };
    p.line("engine_time", format!("{esecs:.3} s ({what})"));
    let epps = if esecs > 0.0 {
        d.packets as f64 / esecs
    } else {
        0.0
    };
    p.line("engine_packets_per_second", format!("{epps:.0}"));
    out.push_str(RULE);
    out
}

#[cfg(test)]
mod tests {
    use super::vm_hwm;

    #[test]
    fn peak_rss_is_read_from_vm_hwm() {
        let status =
            "Name:\tpcap-replay\nVmPeak:\t  300000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(vm_hwm(status), Some(12345 * 1024));
        assert_eq!(vm_hwm("VmRSS:\t 100 kB\n"), None);
        assert_eq!(vm_hwm("VmHWM:\t lots kB\n"), None);
        if cfg!(target_os = "linux") {
            assert!(super::peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
