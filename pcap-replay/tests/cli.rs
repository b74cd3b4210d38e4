//! `pcap-replay` as a user runs it: output, determinism, the summary, and what bad
//! input does (one clear line, a documented exit status, nothing read is lost).

use flowengine_tests::{fixtures, pcap, shared};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pcap-replay"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pcap-replay-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The sample capture under a name of the test's own (tests run in parallel).
fn sample_file(test: &str) -> PathBuf {
    let p = tmp(&format!("sample-{test}.pcap"));
    pcap::write_file(&p, pcap::DLT_EN10MB, &fixtures::sample()).unwrap();
    p
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run pcap-replay")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `flow` events of an EVE file (inspector events such as `http` and `dns` are
/// left out; see [`eve_all`]).
fn eve_lines(path: &Path) -> Vec<serde_json::Value> {
    eve_all(path)
        .into_iter()
        .filter(|e| e["event_type"] == "flow")
        .collect()
}

/// Every event of an EVE file.
fn eve_all(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn writes_one_eve_flow_event_per_flow_and_a_summary() {
    let p = sample_file("writes_one_eve_flow_event_per_flow_and_a_summary");
    let eve = tmp("sample.json");
    let o = run(&[
        "--deterministic",
        "--eve",
        eve.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events = eve_lines(&eve);
    assert_eq!(events.len(), 11);
    for e in &events {
        assert_eq!(e["event_type"], "flow");
        assert!(e["flow_id"].as_u64().unwrap() < 1 << 53);
        assert!(e["flow"]["pkts_toserver"].is_u64());
        for k in ["start", "end", "state", "reason", "age"] {
            assert!(!e["flow"][k].is_null(), "flow.{k} missing in {e}");
        }
    }
    let summary = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "received: 26",
        "flows: 11",
        "idle_prunes_proto_timeout: 3",
        "tcp_reuse: 1",
        "bytes_per_flow_slot",
        "packets_per_second",
        "engine_packets_per_second",
        "arp: 1",
    ] {
        assert!(
            summary.contains(needle),
            "summary lacks {needle}:\n{summary}"
        );
    }
    if cfg!(target_os = "linux") {
        assert!(
            summary.contains("peak_rss_bytes: "),
            "summary lacks peak_rss_bytes:\n{summary}"
        );
    }
}

#[test]
fn deterministic_runs_are_identical() {
    let p = sample_file("deterministic_runs_are_identical");
    let (a, b) = (tmp("det-a.json"), tmp("det-b.json"));
    for out in [&a, &b] {
        let o = run(&[
            "-q",
            "--deterministic",
            "--eve",
            out.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert!(o.status.success());
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // Without the flag the hash seed (and so the flow ids) change from run to run.
    let c = tmp("det-c.json");
    let o = run(&["-q", "--eve", c.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(o.status.success());
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
}

#[test]
fn deterministic_output_is_the_same_on_any_number_of_threads_and_sorted() {
    // Many flows of many host pairs, so that every worker gets some.
    let packets: Vec<(u64, Vec<u8>)> = (0..3_000u64)
        .flat_map(|i| {
            let c = (
                flowengine_tests::frame::v4(10, 0, (i >> 8) as u8, i as u8),
                40_000,
            );
            let s = (flowengine_tests::frame::v4(10, 1, 0, (i % 7) as u8), 53);
            let t = 1_700_000_000_000_000_000 + i * 10_000_000;
            [
                (t, flowengine_tests::frame::udp(c, s, b"q")),
                (t + 1_000, flowengine_tests::frame::udp(s, c, b"r")),
            ]
        })
        .collect();
    let p = tmp("threads.pcap");
    pcap::write_file(&p, pcap::DLT_EN10MB, &packets).unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2", "3"] {
        let out = tmp(&format!("threads-{threads}.json"));
        let o = run(&[
            "--deterministic",
            "--threads",
            threads,
            "--eve",
            out.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let summary = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            summary.contains(&format!("threads: {threads}")),
            "{summary}"
        );
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    let lines: Vec<serde_json::Value> = String::from_utf8(outputs.remove(0))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3_000);
    let keys: Vec<(String, u64)> = lines
        .iter()
        .map(|e| {
            (
                e["timestamp"].as_str().unwrap().to_owned(),
                e["flow_id"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "sorted by time, then flow id"
    );
}

#[test]
fn eve_to_stdout_moves_the_summary_to_stderr() {
    let p = sample_file("eve_to_stdout_moves_the_summary_to_stderr");
    let o = run(&["--eve", "-", p.to_str().unwrap()]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let flows = out.lines().filter(|l| l.contains(r#""event_type":"flow""#));
    assert_eq!(flows.count(), 11);
    assert!(out.lines().all(|l| l.starts_with('{')));
    assert!(stderr(&o).contains("Packet I/O Totals"));
}

#[test]
fn several_files_are_one_timeline() {
    let frames = fixtures::sample();
    let (first, second) = frames.split_at(frames.len() / 2);
    let (a, b) = (tmp("half-a.pcap"), tmp("half-b.pcap"));
    pcap::write_file(&a, pcap::DLT_EN10MB, first).unwrap();
    pcap::write_file(&b, pcap::DLT_EN10MB, second).unwrap();
    let eve = tmp("halves.json");
    let o = run(&[
        "-q",
        "--deterministic",
        "--eve",
        eve.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let whole = tmp("whole.json");
    let p = sample_file("several_files_are_one_timeline");
    run(&[
        "-q",
        "--deterministic",
        "--eve",
        whole.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    let key = |v: &serde_json::Value| v["flow_id"].as_u64().unwrap();
    let mut x = eve_lines(&eve);
    let mut y = eve_lines(&whole);
    x.sort_by_key(key);
    y.sort_by_key(key);
    assert_eq!(x, y);
}

#[test]
fn unknown_set_keys_are_reported_once_and_ignored() {
    let p = sample_file("unknown_set_keys_are_reported_once_and_ignored");
    let o = run(&[
        "--set",
        "cli.simulate-ips=true",
        "--set",
        "checksum=none",
        "--set",
        "detect.profile=low",
        "--set",
        "stream.midstream=yes",
        "--eve",
        tmp("unknown.json").to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(
        err.matches("ignoring unknown configuration keys").count(),
        1,
        "{err}"
    );
    assert!(err.contains("cli.simulate-ips") && err.contains("detect.profile"));
    assert!(
        !err.contains("checksum"),
        "checksum is a key of ours now: {err}"
    );
}

#[test]
fn configuration_errors_exit_2_and_name_the_problem() {
    let p = sample_file("configuration_errors_exit_2_and_name_the_problem");
    let o = run(&["--set", "stream.max_flows=many", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("stream.max_flows"), "{}", stderr(&o));
    let cfg = tmp("bad.toml");
    std::fs::write(&cfg, "[stream]\nmax_flowz = 4\n").unwrap();
    let o = run(&["--config", cfg.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("max_flowz"), "{}", stderr(&o));
    let good = tmp("good.toml");
    std::fs::write(&good, "[stream]\nmax_flows = 4\n").unwrap();
    let o = run(&["--config", good.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("max_flows: 4"));
}

/// Packets counted by all the records of an EVE file.
fn packets_in(eve: &Path) -> u64 {
    eve_lines(eve)
        .iter()
        .map(|e| {
            e["flow"]["pkts_toserver"].as_u64().unwrap()
                + e["flow"]["pkts_toclient"].as_u64().unwrap()
        })
        .sum()
}

fn error_lines(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.contains("error") || l.contains("warning"))
        .map(String::from)
        .collect()
}

#[test]
fn a_truncated_capture_is_read_up_to_the_cut() {
    let full = pcap::to_bytes(pcap::DLT_EN10MB, &fixtures::sample());
    let cut = tmp("cut.pcap");
    std::fs::write(&cut, &full[..full.len() - 10]).unwrap();
    let eve = tmp("cut.json");
    let o = run(&["-q", "--eve", eve.to_str().unwrap(), cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = error_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("truncated") && lines[0].contains("after 25 packets"),
        "{lines:?}"
    );
    let pkts = packets_in(&eve);
    assert_eq!(pkts, 24, "every IP packet before the cut is in a record");
}

#[test]
fn files_that_are_not_captures_exit_1_with_one_line_and_an_empty_eve() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.pcap", vec![], "empty file"),
        (
            "text.pcap",
            b"this is not a capture at all\n".to_vec(),
            "not a pcap or pcapng file",
        ),
        (
            "random.pcap",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
            "not a pcap or pcapng file",
        ),
        (
            "short.pcap",
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0],
            "truncated",
        ),
    ];
    for (name, bytes, needle) in cases {
        let p = tmp(name);
        std::fs::write(&p, &bytes).unwrap();
        let eve = tmp(&format!("{name}.json"));
        let o = run(&["-q", "--eve", eve.to_str().unwrap(), p.to_str().unwrap()]);
        let lines = error_lines(&o);
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert!(lines[0].contains(needle), "{name}: {lines:?}");
        assert!(lines[0].contains(name), "{name}: the line names the file");
        if needle == "truncated" {
            assert_eq!(o.status.code(), Some(0), "{name}");
        } else {
            assert_eq!(o.status.code(), Some(1), "{name}");
        }
        assert!(eve.exists(), "{name}: the EVE file exists even so");
    }
    let o = run(&["-q", "/nonexistent/capture.pcap"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot open"));
}

#[test]
fn a_corrupt_record_keeps_what_was_read_and_the_other_files() {
    // Two good packets, then a record claiming 1 MB of data.
    let frames = fixtures::sample();
    let mut w = pcap::PcapWriter::new(Vec::new(), pcap::DLT_EN10MB, 65535, false).unwrap();
    for (t, f) in &frames[..2] {
        w.write(*t, f).unwrap();
    }
    w.write_record(frames[2].0, &frames[2].1, 1 << 20, 1 << 20)
        .unwrap();
    let bad = tmp("corrupt.pcap");
    std::fs::write(&bad, w.finish().unwrap()).unwrap();
    let good = sample_file("a_corrupt_record_keeps_what_was_read_and_the_other_files");
    let eve = tmp("corrupt.json");
    let o = run(&[
        "-q",
        "--eve",
        eve.to_str().unwrap(),
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines = error_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("corrupt") && lines[0].contains("after 2 packets"),
        "{lines:?}"
    );
    let pkts = packets_in(&eve);
    assert_eq!(
        pkts,
        2 + 25,
        "the two packets before the bad record, then the next file"
    );
}

#[test]
fn records_longer_than_the_snapshot_length_are_cut_and_counted() {
    let frames = fixtures::sample();
    let mut w = pcap::PcapWriter::new(Vec::new(), pcap::DLT_EN10MB, 60, false).unwrap();
    for (t, f) in &frames {
        w.write(*t, f).unwrap();
    }
    let p = tmp("snap.pcap");
    std::fs::write(&p, w.finish().unwrap()).unwrap();
    let o = run(&[p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("caplen_over_snaplen"), "{out}");
    // Cut to 60 bytes, the longer IP packets no longer hold their whole length:
    // counted as decode errors by reason, not lost silently.
    assert!(out.contains("ipv4_capture_short"), "{out}");
}

#[test]
fn reads_pcapng() {
    let p = shared::shared_dir().join("verify/ndpi/cases/dns/input.pcapng");
    assert!(p.exists(), "{} missing", p.display());
    let eve = tmp("ng.json");
    let o = run(&["-q", "--eve", eve.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!eve_lines(&eve).is_empty());
}

#[test]
fn an_unsupported_link_type_is_one_error_naming_it() {
    // Three frames of LINKTYPE_USER0 (147), then a good file.
    let frames: Vec<(u64, Vec<u8>)> = (0..3).map(|i| (i * 1_000, vec![0u8; 40])).collect();
    let bad = tmp("user0.pcap");
    pcap::write_file(&bad, 147, &frames).unwrap();
    let good = sample_file("an_unsupported_link_type_is_one_error_naming_it");
    let eve = tmp("user0.json");
    let o = run(&[
        "-q",
        "--eve",
        eve.to_str().unwrap(),
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = error_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0],
        format!(
            "pcap-replay: error: {}: unsupported link type 147 (LINKTYPE_USER0)",
            bad.display()
        )
    );
    assert_eq!(packets_in(&eve), 25, "the next file is still read");
}

/// The 5-tuple and packet counts of a record (flow ids depend on packet ordinals, which
/// a filter changes).
fn tuple(e: &serde_json::Value) -> String {
    format!(
        "{} {}:{} -> {}:{} {}/{}",
        e["proto"],
        e["src_ip"],
        e["src_port"],
        e["dest_ip"],
        e["dest_port"],
        e["flow"]["pkts_toserver"],
        e["flow"]["pkts_toclient"]
    )
}

#[test]
fn bpf_on_a_file_keeps_only_matching_packets_from_the_engine() {
    let p = sample_file("bpf_on_a_file_keeps_only_matching_packets_from_the_engine");
    let all = tmp("bpf-all.json");
    let o = run(&["--eve", all.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let udp_of_all: Vec<String> = {
        let mut v: Vec<String> = eve_lines(&all)
            .iter()
            .filter(|e| e["proto"] == "UDP")
            .map(tuple)
            .collect();
        v.sort();
        v
    };
    assert_eq!(udp_of_all.len(), 5);

    // libpcap's `udp` does not look inside VLAN tags: the QinQ flow needs `vlan` twice.
    for (expr, flows) in [("udp", 4), ("udp or (vlan and vlan and udp)", 5)] {
        let eve = tmp(&format!("bpf-{flows}.json"));
        let o = run(&[
            "--bpf",
            expr,
            "--eve",
            eve.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let events = eve_lines(&eve);
        assert_eq!(events.len(), flows, "--bpf '{expr}'");
        assert!(events.iter().all(|e| e["proto"] == "UDP"), "--bpf '{expr}'");
        for e in &events {
            assert!(
                udp_of_all.contains(&tuple(e)),
                "{} not in {udp_of_all:?}",
                tuple(e)
            );
        }
        // Every packet read is either filtered out or analyzed.
        let summary = String::from_utf8_lossy(&o.stdout);
        let count = |name: &str| -> u64 {
            summary
                .lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("no {name} in\n{summary}"))
                .parse()
                .unwrap()
        };
        assert_eq!(count("received"), 26);
        assert_eq!(count("filtered_out") + count("analyzed"), 26);
        assert!(count("filtered_out") >= 19, "{summary}");
    }
}

#[test]
fn a_bad_bpf_expression_is_a_usage_error_with_one_line() {
    let p = sample_file("a_bad_bpf_expression_is_a_usage_error_with_one_line");
    let eve = tmp("bad-bpf.json");
    let o = run(&[
        "--bpf",
        "udp and",
        "--eve",
        eve.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("pcap-replay: error: --bpf 'udp and'"),
        "{err}"
    );
    // Nothing is read, nothing is written.
    assert!(o.stdout.is_empty());
    assert!(!eve.exists());
}

#[test]
fn files_and_an_interface_are_mutually_exclusive_and_one_is_required() {
    let p = sample_file("files_and_an_interface_are_mutually_exclusive_and_one_is_required");
    for args in [
        vec!["--interface", "lo", p.to_str().unwrap()],
        vec![],
        vec!["--snaplen", "100", p.to_str().unwrap()],
        vec!["--no-promisc", p.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn an_interface_that_cannot_be_opened_exits_1_with_one_line() {
    let o = run(&[
        "--interface",
        "fe-no-such-if0",
        "--eve",
        tmp("noif.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("pcap-replay: error: fe-no-such-if0: "),
        "{err}"
    );
}

#[test]
fn flows_get_their_service_and_inspector_events_join_them_by_flow_id() {
    let p = sample_file("flows_get_their_service_and_inspector_events_join_them_by_flow_id");
    let eve = tmp("services.json");
    let o = run(&["--eve", eve.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let all = eve_all(&eve);
    let flows = eve_lines(&eve);
    let http_flow = flows
        .iter()
        .find(|f| f["app_proto"] == "http")
        .expect("the HTTP flow is named");
    let http = all
        .iter()
        .find(|e| e["event_type"] == "http")
        .expect("an http event");
    assert_eq!(http["flow_id"], http_flow["flow_id"]);
    assert_eq!(http["http"]["hostname"], "example.com");
    assert_eq!(http["http"]["http_method"], "GET");
    assert_eq!(flows.iter().filter(|f| f["app_proto"] == "dns").count(), 2);
    // Every event comes before its flow's record.
    for (i, e) in all.iter().enumerate() {
        if e["event_type"] != "flow" {
            let rec = all
                .iter()
                .position(|f| f["event_type"] == "flow" && f["flow_id"] == e["flow_id"])
                .unwrap();
            assert!(i < rec);
        }
    }
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("app_layer:"), "{text}");
    // Inspection off: no app_proto at all.
    let off = tmp("services-off.json");
    let o = run(&[
        "--set",
        "app-layer.enabled=false",
        "--eve",
        off.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(eve_all(&off).iter().all(|e| e.get("app_proto").is_none()));
}

#[test]
fn ftp_data_connections_are_named_and_counted_in_the_summary() {
    use flowengine_tests::frame::{flags, tcp, v4};
    let (c, s) = (v4(10, 0, 0, 1), v4(10, 0, 0, 2));
    let mut packets: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut at = 1_700_000_000_000_000_000u64;
    let mut conn =
        |a: (std::net::IpAddr, u16), b: (std::net::IpAddr, u16), talk: &[(bool, &[u8])]| {
            let (mut sa, mut sb) = (100u32, 900u32);
            let mut put = |frame: Vec<u8>| {
                at += 1_000_000;
                packets.push((at, frame));
            };
            put(tcp(a, b, flags::SYN, sa, 0, b""));
            put(tcp(b, a, flags::SYN | flags::ACK, sb, sa + 1, b""));
            sa += 1;
            sb += 1;
            put(tcp(a, b, flags::ACK, sa, sb, b""));
            for &(from_a, data) in talk {
                let f = flags::ACK | flags::PSH;
                if from_a {
                    put(tcp(a, b, f, sa, sb, data));
                    sa += data.len() as u32;
                } else {
                    put(tcp(b, a, f, sb, sa, data));
                    sb += data.len() as u32;
                }
            }
        };
    conn(
        (c, 40000),
        (s, 21),
        &[
            (false, b"220 FTP server ready\r\n"),
            (true, b"USER ftp\r\n"),
            (false, b"331 Password required\r\n"),
            (true, b"PASV\r\n"),
            (false, b"227 Entering Passive Mode (10,0,0,2,195,149)\r\n"),
        ],
    );
    conn((c, 40001), (s, 50069), &[(false, b"file contents\n")]);
    let p = tmp("ftp-data.pcap");
    pcap::write_file(&p, pcap::DLT_EN10MB, &packets).unwrap();
    let eve = tmp("ftp-data.json");
    let o = run(&["--eve", eve.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flows = eve_lines(&eve);
    let data = flows.iter().find(|f| f["dest_port"] == 50069).unwrap();
    assert_eq!(data["app_proto"], "ftp-data");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("expectations_added: 1"), "{text}");
    assert!(text.contains("expectations_matched: 1"), "{text}");
}

#[test]
fn a_suricata_yaml_disables_protocols_and_compresses_ipv6() {
    let p = sample_file("a_suricata_yaml_disables_protocols_and_compresses_ipv6");
    let yaml = tmp("suricata-dns-off.yaml");
    std::fs::write(
        &yaml,
        "%YAML 1.1\n---\noutputs:\n  - eve-log:\n      enabled: yes\n      filename: eve.json\n      ipv6-compress: yes\n      types:\n        - flow\napp-layer:\n  protocols:\n    dns:\n      enabled: no\n    http:\n      enabled: yes\n      libhtp:\n        default-config:\n          personality: IDS\nhost-mode: auto\n",
    )
    .unwrap();
    let eve = tmp("suricata-yaml.json");
    let o = run(&[
        "--suricata-config",
        yaml.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let flows = eve_lines(&eve);
    assert!(flows.iter().all(|f| f["app_proto"] != "dns"));
    assert!(flows.iter().any(|f| f["app_proto"] == "http"));
    let v6 = flows
        .iter()
        .find(|f| f["ip_v"] == 6 && f["proto"] == "UDP")
        .expect("the IPv6 DNS flow");
    assert_eq!(v6["src_ip"], "2001:db8::10");
    assert_eq!(v6["dest_ip"], "2001:db8::1");
    // The keys without an equivalent are listed once, on one line.
    let err = stderr(&o);
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("Suricata keys"))
        .collect();
    assert_eq!(notes.len(), 1, "{err}");
    for key in [
        "outputs.eve-log.filename",
        "outputs.eve-log.types",
        "app-layer.protocols.http.libhtp",
        "host-mode",
    ] {
        assert!(notes[0].contains(key), "{key} missing: {err}");
    }
    // --set comes after the YAML; an empty --suricata-config is none (the full form).
    for args in [
        vec![
            "--suricata-config",
            yaml.to_str().unwrap(),
            "--set",
            "eve.ipv6-compress=no",
        ],
        vec!["--suricata-config", ""],
    ] {
        let eve = tmp("suricata-yaml-full.json");
        let mut all = args.clone();
        all.extend(["--eve", eve.to_str().unwrap(), p.to_str().unwrap()]);
        let o = run(&all);
        assert!(o.status.success(), "{}", stderr(&o));
        let flows = eve_lines(&eve);
        let v6 = flows
            .iter()
            .find(|f| f["ip_v"] == 6 && f["proto"] == "UDP")
            .unwrap();
        assert_eq!(v6["src_ip"], "2001:0db8:0000:0000:0000:0000:0000:0010");
    }
    // Through /bin/sh as verify/check.py writes it: `--suricata-config={config}`, where
    // the harness puts the shell-quoted file or nothing at all.
    for config in [String::new(), format!("'{}'", yaml.display())] {
        let eve = tmp("suricata-yaml-sh.json");
        let o = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "'{}' --suricata-config={config} --eve '{}' '{}'",
                env!("CARGO_BIN_EXE_pcap-replay"),
                eve.display(),
                p.display()
            ))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let flows = eve_lines(&eve);
        assert_eq!(flows.len(), 11);
        let v6 = flows
            .iter()
            .find(|f| f["ip_v"] == 6 && f["proto"] == "UDP")
            .unwrap();
        let want = if config.is_empty() {
            "2001:0db8:0000:0000:0000:0000:0000:0010"
        } else {
            "2001:db8::10"
        };
        assert_eq!(v6["src_ip"], want, "{config}");
    }
}

#[test]
fn a_bad_suricata_yaml_exits_2_naming_the_file_and_key() {
    let p = sample_file("a_bad_suricata_yaml_exits_2_naming_the_file_and_key");
    let bad_value = tmp("suricata-bad-value.yaml");
    std::fs::write(
        &bad_value,
        "%YAML 1.1\n---\nstream:\n  midstream: perhaps\n",
    )
    .unwrap();
    let bad_yaml = tmp("suricata-bad-yaml.yaml");
    std::fs::write(&bad_yaml, "%YAML 1.1\n---\nstream: [midstream\n").unwrap();
    let missing = tmp("suricata-missing.yaml");
    for (file, needle) in [
        (&bad_value, "stream.midstream"),
        (&bad_yaml, "suricata-bad-yaml.yaml"),
        (&missing, "suricata-missing.yaml"),
    ] {
        let eve = tmp("suricata-bad.json");
        let _ = std::fs::remove_file(&eve);
        let o = run(&[
            "--suricata-config",
            file.to_str().unwrap(),
            "--eve",
            eve.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(needle), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!eve.exists(), "nothing is written on a configuration error");
    }
}

#[test]
fn fragments_that_never_meet_their_first_are_counted_as_orphaned() {
    use flowengine_tests::fragment::split;
    use flowengine_tests::frame::{self, v4};
    let datagram = |sport, id| {
        let f = frame::udp((v4(10, 7, 0, 1), sport), (v4(10, 7, 0, 2), 53), &[7; 1000]);
        split(&f, id, 256)
    };
    // One datagram whole, and the three later fragments of another whose first never
    // came.
    let whole = datagram(5000, 1);
    let headless = datagram(5001, 2);
    let frames: Vec<(u64, Vec<u8>)> = whole
        .iter()
        .chain(&headless[1..])
        .enumerate()
        .map(|(i, f)| (1_000_000_000 + i as u64 * 1_000_000, f.clone()))
        .collect();
    let cap = tmp("orphans.pcap");
    pcap::write_file(&cap, pcap::DLT_EN10MB, &frames).unwrap();
    let eve = tmp("orphans.json");
    let o = run(&["--eve", eve.to_str().unwrap(), cap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // One flow, the whole datagram's; the later fragments are in none.
    let flows = eve_lines(&eve);
    assert_eq!(flows.len(), 1, "{flows:#?}");
    assert_eq!(flows[0]["src_port"], 5000);
    assert_eq!(packets_in(&eve), whole.len() as u64);
    let bytes: usize = headless[1..].iter().map(Vec::len).sum();
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains(&format!("orphaned: 3 fragments, {bytes} bytes")),
        "{summary}"
    );
}
