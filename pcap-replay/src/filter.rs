//! `--bpf` on capture files: the expression is compiled by libpcap (as tcpdump would
//! compile it) once per link type met, and packets it rejects never reach the engine.
//!
//! Contract: [`FileFilter::new`] checks the expression's syntax up front (compiled for
//! Ethernet) so a bad expression is a usage error before anything is read. A packet
//! matches when libpcap's `pcap_offline_filter` accepts its captured bytes; the
//! original wire length is not kept by the feed, so `len`/`greater`/`less` compare the
//! captured length. A link type the expression cannot apply to (such as `ether host`
//! on raw IP) is an error for the file that has it.

use flowengine::{LinkType, Packet};
use pcap::{BpfProgram, Capture, Linktype};

/// A `--bpf` expression that cannot be compiled.
#[derive(Debug)]
pub struct BpfError {
    /// The expression.
    pub expr: String,
    /// The link type it was compiled for.
    pub link: LinkType,
    /// libpcap's message.
    pub message: String,
}

impl std::fmt::Display for BpfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--bpf '{}' cannot be compiled for {}: {}",
            self.expr, self.link, self.message
        )
    }
}

impl std::error::Error for BpfError {}

/// libpcap's own message, without the `pcap` crate's prefix.
pub fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m.clone(),
        e => e.to_string(),
    }
}

/// The libpcap `DLT_*` value to compile for: pcap files store `LINKTYPE_*` numbers,
/// which equal the `DLT_*` ones except for raw IP.
fn dlt_of(link: LinkType) -> i32 {
    match link {
        // LINKTYPE_RAW (101) is DLT_RAW: 14 on OpenBSD, 12 elsewhere.
        LinkType::Raw if cfg!(target_os = "openbsd") => 14,
        LinkType::Raw => 12,
        other => other.dlt() as i32,
    }
}

/// Compiles `expr` for `link` with libpcap.
pub fn compile(expr: &str, link: LinkType) -> Result<BpfProgram, BpfError> {
    let err = |e: pcap::Error| BpfError {
        expr: expr.to_string(),
        link,
        message: pcap_message(&e),
    };
    Capture::dead(Linktype(dlt_of(link)))
        .map_err(err)?
        .compile(expr, true)
        .map_err(err)
}

/// A `--bpf` expression with its programs, one per link type met.
pub struct FileFilter {
    expr: String,
    /// The program of the link type met last (almost always the only one).
    last: Option<(LinkType, BpfProgram)>,
    /// Programs of other link types met before (pcapng files, several files).
    others: Vec<(LinkType, BpfProgram)>,
    /// Packets the expression rejected.
    pub filtered_out: u64,
}

impl FileFilter {
    /// Checks `expr` (compiled for Ethernet) and keeps it.
    pub fn new(expr: &str) -> Result<FileFilter, BpfError> {
        let program = compile(expr, LinkType::Ethernet)?;
        Ok(FileFilter {
            expr: expr.to_string(),
            last: Some((LinkType::Ethernet, program)),
            others: Vec::new(),
            filtered_out: 0,
        })
    }

    /// The program for `link`, compiled the first time it is met.
    fn program(&mut self, link: LinkType) -> Result<&BpfProgram, BpfError> {
        if self.last.as_ref().is_none_or(|(l, _)| *l != link) {
            let found = match self.others.iter().position(|(l, _)| *l == link) {
                Some(i) => self.others.swap_remove(i),
                None => (link, compile(&self.expr, link)?),
            };
            if let Some(previous) = self.last.replace(found) {
                self.others.push(previous);
            }
        }
        match &self.last {
            Some((_, program)) => Ok(program),
            None => unreachable!("set above"),
        }
    }

    /// Copies the packets of `pkts` the expression accepts into `keep` (as many as
    /// fit) and returns how many; counts the others.
    pub fn select<'p>(
        &mut self,
        pkts: &[Packet<'p>],
        keep: &mut [Packet<'p>],
    ) -> Result<usize, BpfError> {
        let mut n = 0;
        for pkt in pkts {
            if n == keep.len() {
                break;
            }
            if self.program(pkt.link)?.filter(pkt.data) {
                keep[n] = *pkt;
                n += 1;
            } else {
                self.filtered_out += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowengine::Timestamp;

    fn udp_in_raw_ipv4() -> Vec<u8> {
        vec![
            0x45, 0, 0, 29, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
            0x30, 0x39, 0, 53, 0, 9, 0, 0, 0x61, // UDP 12345 -> 53
        ]
    }

    #[test]
    fn a_bad_expression_is_refused_with_libpcap_s_message() {
        let e = FileFilter::new("udp and").err().expect("refused");
        let text = e.to_string();
        assert!(text.starts_with("--bpf 'udp and' cannot be compiled for ethernet (1): "));
        assert!(!text.contains('\n'));
    }

    #[test]
    fn raw_ip_packets_are_filtered_with_a_program_of_their_own() {
        let data = udp_in_raw_ipv4();
        let pkt = Packet {
            ts: Timestamp::ZERO,
            link: LinkType::Raw,
            data: &data,
        };
        let mut keep = [pkt; 2];
        let mut udp = FileFilter::new("udp port 53").unwrap();
        assert_eq!(udp.select(&[pkt, pkt], &mut keep).unwrap(), 2);
        let mut tcp = FileFilter::new("tcp").unwrap();
        assert_eq!(tcp.select(&[pkt, pkt], &mut keep).unwrap(), 0);
        assert_eq!(tcp.filtered_out, 2);
        // Ethernet-only primitives cannot apply to raw IP.
        let mut ether = FileFilter::new("ether host 00:11:22:33:44:55").unwrap();
        let e = ether.select(&[pkt], &mut keep).expect_err("refused");
        assert_eq!(e.link, LinkType::Raw);
    }
}
