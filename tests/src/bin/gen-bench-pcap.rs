//! `gen-bench-pcap`: writes the deterministic benchmark capture
//! ([`flowengine_tests::bench`]) to a file.
//!
//! Contract: `gen-bench-pcap [--tcp-flows N] [--udp-flows N] [--v6-frac F] [--span S]
//! [--think-max S] [--seed N] [--base-ts S] OUT` writes the capture and prints one line
//! saying what it wrote; the same arguments always write the same bytes. Exit status 0
//! on success, 1 when writing fails, 2 on a usage error.

use flowengine_tests::bench::{generate, Params};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

const USAGE: &str = "usage: gen-bench-pcap [--tcp-flows N] [--udp-flows N] [--v6-frac F] \
[--span SECONDS] [--think-max SECONDS] [--seed N] [--base-ts SECONDS] OUT

Writes a deterministic synthetic capture (classic pcap, Ethernet, microseconds) for
flow-tracking throughput benchmarks. Defaults: 100000 TCP (HTTP, 19 packets) and 50000
UDP (DNS, 2 packets) flows = 2000000 packets, 10% IPv6, flows starting over 600 s,
think time up to 8 s, seed 20240601, base time 1700000000.";

/// The parsed command line.
#[derive(Debug)]
struct Args {
    params: Params,
    out: String,
}

fn parse_value<T: FromStr>(name: &str, value: Option<String>) -> Result<T, String> {
    let v = value.ok_or_else(|| format!("{name} needs a value"))?;
    v.parse().map_err(|_| format!("{name}: cannot parse {v:?}"))
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut params = Params::default();
    let mut out = None;
    let mut args = args;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--tcp-flows" => params.tcp_flows = parse_value(&name, value())?,
            "--udp-flows" => params.udp_flows = parse_value(&name, value())?,
            "--v6-frac" => params.v6_frac = parse_value(&name, value())?,
            "--span" => params.span = parse_value(&name, value())?,
            "--think-max" => params.think_max = parse_value(&name, value())?,
            "--seed" => params.seed = parse_value(&name, value())?,
            "--base-ts" => params.base_ts = parse_value(&name, value())?,
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ if out.is_some() => return Err(format!("unexpected argument {arg:?}")),
            _ => out = Some(arg),
        }
    }
    let out = out.ok_or("missing OUT")?;
    params.validate()?;
    Ok(Some(Args { params, out }))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gen-bench-pcap: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let result = std::fs::File::create(&args.out).and_then(|f| generate(f, &args.params));
    match result {
        Ok(s) => {
            println!(
                "wrote {}: {} packets, {} tcp flows, {} udp flows ({} bytes, {:.1} s of traffic, \
                 {} packets pending at most, {:.2} s)",
                args.out,
                s.packets,
                s.tcp_flows,
                s.udp_flows,
                s.file_bytes,
                (s.last_us - s.first_us) as f64 / 1e6,
                s.max_pending,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-bench-pcap: {}: {e}", args.out);
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Option<Args>, String> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn defaults_and_options() {
        let a = args("out.pcap").unwrap().unwrap();
        assert_eq!((a.out.as_str(), a.params), ("out.pcap", Params::default()));
        let a = args("--tcp-flows 5 --udp-flows=3 --v6-frac 0.5 --span 2 --think-max=1 --seed 9 x")
            .unwrap()
            .unwrap();
        assert_eq!(a.out, "x");
        assert_eq!(
            a.params,
            Params {
                tcp_flows: 5,
                udp_flows: 3,
                v6_frac: 0.5,
                span: 2.0,
                think_max: 1.0,
                seed: 9,
                ..Params::default()
            }
        );
        assert!(args("--help").unwrap().is_none());
    }

    #[test]
    fn usage_errors() {
        assert_eq!(args("").err().unwrap(), "missing OUT");
        assert!(args("a b").unwrap_err().contains("unexpected"));
        assert!(args("--bogus 1 a").unwrap_err().contains("unknown option"));
        assert!(args("--seed x a").unwrap_err().contains("cannot parse"));
        assert!(args("a --seed").unwrap_err().contains("needs a value"));
        assert!(args("--v6-frac 2 a").unwrap_err().contains("v6-frac"));
    }
}
