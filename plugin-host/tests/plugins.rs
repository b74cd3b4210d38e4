//! The example plugins as real shared libraries loaded into the engine: built by
//! cargo from the test, loaded from a directory, replaying a generated capture.
//! Checks `app_proto` and the memcached plugin's EVE fields, the flows the allow-cidr
//! plugin allowlists (cache counters and records), the one-line refusals (another
//! SDK ABI, not a plugin, missing), the duplicate warning, and that a plugin panic
//! disables that plugin on that flow only while every flow keeps exactly one record.

use flowengine::{Config, ConfigBuilder, Engine, EveOptions, EveWriter, PcapFile, Stats};
use flowengine_plugin_host::{LoadError, Plugins};
use flowengine_tests::plugins::{self, Flows, ALLOWED_CIDR};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn config(extra: &[&str]) -> Config {
    let mut b = ConfigBuilder::new();
    b.merge_toml(
        &format!(
            "[allowlist_cache]\nenable = true\n[plugins.allow-cidr]\ncidrs = [\"{ALLOWED_CIDR}\", \"2001:db8::/32\"]\n"
        ),
        None,
    )
    .unwrap();
    for s in extra {
        b.set(s).unwrap();
    }
    b.build().unwrap()
}

fn capture(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "flowengine-plugin-{tag}-{}.pcap",
        std::process::id()
    ));
    plugins::capture(&p).unwrap();
    p
}

/// Replays `pcap` through the built-ins plus `loaded`; the stats taken before the
/// end (open flows still in the cache), the final stats, and the EVE lines.
fn replay(loaded: &Plugins, config: &Config, pcap: &Path) -> (Stats, Stats, Vec<Value>) {
    let set = loaded.inspector_set(config).unwrap();
    let sink = EveWriter::new(Vec::new(), EveOptions::default());
    let mut engine = Engine::with_inspectors(config, sink, set).unwrap();
    let mut file = PcapFile::open(pcap).unwrap();
    while file
        .read_batch(&mut |pkts| engine.push_batch(pkts))
        .unwrap()
        > 0
    {}
    let before = engine.stats();
    let (after, eve) = engine.finish();
    let text = String::from_utf8(eve.finish().unwrap()).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (before, after, lines)
}

/// EVE lines by client port: (flow records, events).
fn by_port(lines: &[Value]) -> HashMap<u16, (Vec<Value>, Vec<Value>)> {
    let mut m: HashMap<u16, (Vec<Value>, Vec<Value>)> = HashMap::new();
    for l in lines {
        let port = l["src_port"].as_u64().unwrap() as u16;
        let e = m.entry(port).or_default();
        if l["event_type"] == "flow" {
            e.0.push(l.clone());
        } else {
            e.1.push(l.clone());
        }
    }
    m
}

fn events<'a>(v: &'a [Value], ty: &str) -> Vec<&'a Value> {
    v.iter()
        .filter(|e| e["event_type"] == ty)
        .map(|e| &e[ty])
        .collect()
}

#[test]
fn example_plugins_name_memcached_emit_its_fields_and_allowlist_flows() {
    let dir = plugins::plugin_dir("examples", &["memcached_plugin", "allow_cidr_plugin"]);
    let report = Plugins::load(&[&dir]);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.warnings.is_empty());
    let names: Vec<_> = report
        .plugins
        .list()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["allow-cidr", "memcached"], "directory order");
    let pcap = capture("examples");
    let (before, after, lines) = replay(&report.plugins, &config(&[]), &pcap);
    let _ = std::fs::remove_file(&pcap);
    let _ = std::fs::remove_dir_all(&dir);
    let m = by_port(&lines);
    for port in Flows::ALL {
        assert_eq!(m[&port].0.len(), 1, "one record for flow {port}");
    }
    assert_eq!(after.records, Flows::ALL.len() as u64);
    let app = |port: u16| {
        m[&port].0[0]["app_proto"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(app(Flows::MEMCACHED), "memcached");
    assert_eq!(app(Flows::MEMCACHED_OTHER_PORT), "memcached");
    assert_eq!(app(Flows::HTTP_ON_11211), "http", "GET is not get");
    assert_eq!(app(Flows::ALLOWED_HTTP), "http");
    let mc = events(&m[&Flows::MEMCACHED].1, "memcached");
    assert_eq!(
        mc.iter().map(|e| (*e).clone()).collect::<Vec<_>>(),
        [
            serde_json::json!({"command": "set", "keys": ["k1"], "status": "STORED"}),
            serde_json::json!({"command": "get", "keys": ["k1", "k2"], "status": "END", "hits": 1, "bytes": 5}),
            serde_json::json!({"command": "delete", "keys": ["k2"], "status": "NOT_FOUND"}),
        ]
    );
    assert_eq!(
        events(&m[&Flows::MEMCACHED_OTHER_PORT].1, "memcached").len(),
        1
    );
    // The allowlisted network's two flows (TCP and UDP) sit in the allowlist LRU
    // while open, carry the plugin's event and their records say so.
    assert_eq!(before.cache.allowlist_flows, 2);
    assert_eq!(after.cache.moved_to_allowlist, 2);
    for port in [Flows::ALLOWED_HTTP, Flows::ALLOWED_UDP] {
        let (recs, evs) = &m[&port];
        assert_eq!(
            events(evs, "allow_cidr"),
            [&serde_json::json!({"cidr": ALLOWED_CIDR})]
        );
        assert_eq!(recs[0]["flow"]["state"], "bypassed", "{}", recs[0]);
    }
    for port in [Flows::MEMCACHED, Flows::PANIC, Flows::HTTP_ON_11211] {
        assert!(events(&m[&port].1, "allow_cidr").is_empty());
        assert_ne!(m[&port].0[0]["flow"]["state"], "bypassed");
    }
    assert!(report.plugins.panics().iter().all(|(_, n)| *n == 0));
}

#[test]
fn a_panicking_plugin_is_disabled_on_that_flow_and_every_flow_keeps_one_record() {
    let lib = plugins::library("test_panic_plugin");
    let report = Plugins::load(&[lib, plugins::library("memcached_plugin")]);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let pcap = capture("panic");
    let (_, after, lines) = replay(&report.plugins, &config(&[]), &pcap);
    let _ = std::fs::remove_file(&pcap);
    let m = by_port(&lines);
    for port in Flows::ALL {
        assert_eq!(m[&port].0.len(), 1, "one record for flow {port}");
    }
    assert_eq!(after.records, Flows::ALL.len() as u64);
    assert_eq!(
        report.plugins.panics(),
        [("test-panic".to_string(), 1), ("memcached".to_string(), 0)]
    );
    let stats = report.plugins.list()[0].stats();
    assert_eq!(
        stats.last_panic().as_deref(),
        Some("test-panic: crafted payload")
    );
    // The panicking flow lost the probe, the others kept it, and memcached went on.
    assert!(events(&m[&Flows::PANIC].1, "panic_probe").is_empty());
    for port in [Flows::MEMCACHED, Flows::ALLOWED_HTTP, Flows::HTTP_ON_11211] {
        assert_eq!(events(&m[&port].1, "panic_probe").len(), 1, "{port}");
    }
    assert_eq!(events(&m[&Flows::MEMCACHED].1, "memcached").len(), 3);
}

#[test]
fn refused_libraries_get_one_line_each_and_the_others_run() {
    let dir = plugins::plugin_dir(
        "refusals",
        &[
            "memcached_plugin",
            "test_old_abi_plugin",
            "test_not_a_plugin",
        ],
    );
    let missing = dir.join("nope.so");
    let report = Plugins::load(&[dir.clone(), missing.clone()]);
    let lines: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    let old = dir.join("libtest_old_abi_plugin.so");
    let not = dir.join("libtest_not_a_plugin.so");
    let expected = flowengine_plugin_api::ABI_VERSION;
    assert_eq!(
        lines,
        [
            format!(
                "plugin {}: not a flowengine plugin (no flowengine_plugin_abi_version symbol)",
                not.display()
            ),
            format!(
                "plugin {}: built against flowengine-plugin-api ABI {}, this host needs {expected}",
                old.display(),
                expected + 1000
            ),
            format!("plugin {}: no such file or directory", missing.display()),
        ]
    );
    assert!(matches!(report.errors[1], LoadError::Abi { .. }));
    assert_eq!(report.plugins.list().len(), 1);
    let pcap = capture("refusals");
    let (_, _, lines) = replay(&report.plugins, &config(&[]), &pcap);
    let _ = std::fs::remove_file(&pcap);
    let m = by_port(&lines);
    assert_eq!(m[&Flows::MEMCACHED].0[0]["app_proto"], "memcached");

    // The same plugin twice: one is kept, with a warning naming both.
    std::fs::copy(
        dir.join("libmemcached_plugin.so"),
        dir.join("libmemcached_copy.so"),
    )
    .unwrap();
    let report = Plugins::load(&[&dir]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.plugins.list().len(), 1);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].starts_with("plugin memcached: loaded twice"),
        "{}",
        report.warnings[0]
    );
}

#[test]
fn abi_stables_layout_check_still_refuses_in_one_line() {
    let lib = plugins::library("test_bad_layout_plugin");
    let report = Plugins::load(&[&lib]);
    assert!(report.plugins.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert!(matches!(report.errors[0], LoadError::Layout { .. }));
    let msg = report.errors[0].to_string();
    assert!(
        msg.starts_with(&format!(
            "plugin {}: incompatible library: abi_stable: its root module's layout differs",
            lib.display()
        )),
        "{msg}"
    );
    assert!(
        !msg.contains('\n'),
        "one line, not abi_stable's report: {msg}"
    );
}

#[test]
fn plugin_settings_reach_the_plugin_and_bad_ones_name_it() {
    let report = Plugins::load(&[plugins::library("allow_cidr_plugin")]);
    let bad = Config::from_toml("[plugins.allow-cidr]\ncidrs = [\"10.0.0.0/40\"]\n").unwrap();
    let e = report.plugins.inspector_set(&bad).unwrap_err().to_string();
    assert!(
        e.starts_with("plugin allow-cidr: allow-cidr: bad prefix length"),
        "{e}"
    );
    // No table: an empty list, nothing allowlisted.
    let pcap = capture("settings");
    let mut c = Config::default();
    c.allowlist_cache.enable = true;
    let (before, _, _) = replay(&report.plugins, &c, &pcap);
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(before.cache.allowlist_flows, 0);
    // A protocol switch turns the plugin's service off like a built-in's.
    let report = Plugins::load(&[plugins::library("memcached_plugin")]);
    let c = config(&["app-layer.protocols.memcached.enabled=no"]);
    let set = report.plugins.inspector_set(&c).unwrap();
    assert!(set.service("memcached").is_none());
}
