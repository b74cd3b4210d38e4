//! `gen-concurrent-pcap`: writes a capture of N concurrent flows that all stay open
//! ([`flowengine_tests::concurrent`]), for measuring memory per flow.
//!
//! Contract: `gen-concurrent-pcap [--tcp] FLOWS OUT` writes FLOWS UDP flows (or, with
//! `--tcp`, open TCP connections with one HTTP exchange) and prints one line saying what
//! it wrote; the same arguments always write the same bytes. Exit status 0 on success,
//! 1 when writing fails, 2 on a usage error. Replay it with `stream.max_flows` at least
//! FLOWS (the capture lasts 2 microseconds per UDP flow, 5 per TCP flow, well within
//! every default timeout).

use flowengine_tests::concurrent::{write, Kind};
use std::process::ExitCode;

const USAGE: &str = "usage: gen-concurrent-pcap [--tcp] FLOWS OUT

Writes FLOWS distinct flows that are all alive at the end of the capture: one UDP
datagram each way (default), or with --tcp a handshake, an HTTP request and the start
of its answer on a connection that never closes.";

fn parse(args: &[String]) -> Result<Option<(Kind, u32, String)>, String> {
    let mut kind = Kind::Udp;
    let mut rest = Vec::new();
    for a in args {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--tcp" => kind = Kind::Tcp,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => rest.push(a.clone()),
        }
    }
    let [flows, out] = <[String; 2]>::try_from(rest).map_err(|_| "need FLOWS and OUT")?;
    let flows = flows
        .parse()
        .map_err(|_| format!("FLOWS: cannot parse {flows:?}"))?;
    Ok(Some((kind, flows, out)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, flows, out) = match parse(&args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("gen-concurrent-pcap: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match std::fs::File::create(&out).and_then(|f| write(f, kind, flows, 1_700_000_000)) {
        Ok(packets) => {
            println!("wrote {out}: {flows} {kind:?} flows, {packets} packets");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-concurrent-pcap: {out}: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Option<(Kind, u32, String)>, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn usage() {
        assert_eq!(args("5 x").unwrap(), Some((Kind::Udp, 5, "x".into())));
        assert_eq!(args("--tcp 5 x").unwrap(), Some((Kind::Tcp, 5, "x".into())));
        assert_eq!(args("--help").unwrap(), None);
        assert!(args("x").is_err());
        assert!(args("many x").unwrap_err().contains("FLOWS"));
        assert!(args("--udp 1 x").unwrap_err().contains("unknown option"));
    }
}
