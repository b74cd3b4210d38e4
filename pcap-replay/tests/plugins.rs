//! `pcap-replay --plugin-path` with the example plugins built as real shared
//! libraries: EVE records and the plugins' events, the summary's plugin section and
//! allowlist counters, one-line refusals, `--strict-plugins`, panics counted.

use flowengine_tests::plugins::{self, Flows, ALLOWED_CIDR};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pcap-replay-plugins-{}-{name}", std::process::id()))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pcap-replay"))
        .args(args)
        .output()
        .expect("run pcap-replay")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn eve(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn line<'a>(summary: &'a str, name: &str) -> Option<&'a str> {
    summary
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name}:")))
        .map(|l| l.split_once(": ").map_or("", |(_, v)| v).trim())
}

#[test]
fn plugins_load_from_the_command_line_and_config() {
    let dir = plugins::plugin_dir("cli", &["memcached_plugin", "test_panic_plugin"]);
    let cidr = plugins::library("allow_cidr_plugin");
    let pcap = tmp("cli.pcap");
    plugins::capture(&pcap).unwrap();
    let out = tmp("cli.json");
    let config = tmp("cli.toml");
    std::fs::write(
        &config,
        format!("[allowlist_cache]\nenable = true\n[plugins]\npath = [\"{}\"]\n[plugins.allow-cidr]\ncidrs = [\"{ALLOWED_CIDR}\"]\n", dir.display()),
    )
    .unwrap();
    let o = run(&[
        "--config",
        config.to_str().unwrap(),
        "--plugin-path",
        cidr.to_str().unwrap(),
        "--eve",
        out.to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    let summary = text(&o.stdout);
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}\n{summary}");
    let lines = eve(&out);
    for f in [&pcap, &out, &config] {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let flows: Vec<&Value> = lines.iter().filter(|l| l["event_type"] == "flow").collect();
    assert_eq!(flows.len(), Flows::ALL.len(), "one record per flow");
    let app = |port: u16| {
        flows
            .iter()
            .find(|f| f["src_port"] == port)
            .map(|f| f["app_proto"].clone())
            .unwrap()
    };
    assert_eq!(app(Flows::MEMCACHED), "memcached");
    assert_eq!(app(Flows::HTTP_ON_11211), "http");
    let get = lines
        .iter()
        .find(|l| l["event_type"] == "memcached" && l["memcached"]["command"] == "get")
        .expect("a memcached get event");
    assert_eq!(get["memcached"]["keys"], serde_json::json!(["k1", "k2"]));
    assert_eq!(get["memcached"]["hits"], 1);
    assert_eq!(get["src_port"], Flows::MEMCACHED);
    let record = flows
        .iter()
        .find(|f| f["src_port"] == Flows::MEMCACHED)
        .unwrap();
    assert_eq!(get["flow_id"], record["flow_id"], "{get}");
    // Summary: the plugins, their panics (the crafted payload), the allowlist moves.
    assert_eq!(
        line(&summary, "memcached").map(|v| v.starts_with("0.1.0 (")),
        Some(true),
        "{summary}"
    );
    assert_eq!(
        line(&summary, "plugin_panics.test-panic"),
        Some("1"),
        "{summary}"
    );
    assert_eq!(line(&summary, "plugin_panics.memcached"), Some("0"));
    assert_eq!(line(&summary, "moved_to_allowlist"), Some("2"), "{summary}");
    assert_eq!(line(&summary, "flow_records"), Some("6"));
}

#[test]
fn refused_plugins_are_one_line_each_unless_strict() {
    let old = plugins::library("test_old_abi_plugin");
    let not = plugins::library("test_not_a_plugin");
    let mc = plugins::library("memcached_plugin");
    let missing = tmp("missing.so");
    let pcap = tmp("refused.pcap");
    plugins::capture(&pcap).unwrap();
    let path = [&old, &not, &missing, &mc]
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let o = run(&[
        "--plugin-path",
        &path,
        "--eve",
        "-",
        "-q",
        pcap.to_str().unwrap(),
    ]);
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr.lines().collect();
    let abi = flowengine_plugin_host::api::ABI_VERSION;
    assert_eq!(
        errors,
        [
            format!(
                "pcap-replay: error: plugin {}: built against flowengine-plugin-api ABI {}, this host needs {abi}",
                old.display(),
                abi + 1000
            ),
            format!(
                "pcap-replay: error: plugin {}: not a flowengine plugin (no flowengine_plugin_abi_version symbol)",
                not.display()
            ),
            format!("pcap-replay: error: plugin {}: no such file or directory", missing.display()),
        ]
    );
    let memcached = text(&o.stdout)
        .lines()
        .filter(|l| l.contains("\"app_proto\":\"memcached\""))
        .count();
    assert!(memcached > 0, "the good plugin ran");

    let o = run(&[
        "--strict-plugins",
        "--plugin-path",
        &path,
        pcap.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(o.status.code(), Some(2));
    let stderr = text(&o.stderr);
    assert_eq!(stderr.lines().count(), 4, "{stderr}");
    assert!(
        stderr.ends_with("pcap-replay: error: --strict-plugins: 3 plugin libraries refused\n"),
        "{stderr}"
    );
    assert!(o.stdout.is_empty(), "nothing read");
}
