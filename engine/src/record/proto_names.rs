//! IANA protocol keywords, as Suricata's EVE `proto` field writes them.
//!
//! Contract: [`proto_name`] gives Suricata's keyword for the IP protocols seen in real
//! traffic (TCP, UDP, ICMP, IPv6-ICMP, SCTP, GRE, ESP, OSPF, ...). Every other number
//! gets `None`, and EVE writes the number as a string, which is Suricata's own form for
//! unnamed protocols. The long tail of obsolete IANA keywords (`DCN-MEAS`, `NVP-II`,
//! ...) is deliberately left out: those numbers come almost only from malformed
//! packets, and tools reading EVE know the common keywords and numbers, not the tail.

/// (number, Suricata's keyword)
const NAMES: &[(u8, &str)] = &[
    (0, "HOPOPT"),
    (1, "ICMP"),
    (2, "IGMP"),
    (4, "IP-in-IP"),
    (6, "TCP"),
    (8, "EGP"),
    (17, "UDP"),
    (41, "IPv6"),
    (43, "IPv6-Route"),
    (44, "IPv6-Frag"),
    (46, "RSVP"),
    (47, "GRE"),
    (50, "ESP"),
    (51, "AH"),
    (58, "IPv6-ICMP"),
    (59, "IPv6-NoNxt"),
    (60, "IPv6-Opts"),
    (88, "EIGRP"),
    (89, "OSPF"),
    (103, "PIM"),
    (108, "IPComp"),
    (112, "VRRP"),
    (113, "PGM"),
    (115, "L2TP"),
    (132, "SCTP"),
    (136, "UDPLite"),
];

/// [`proto_name`], usable in constants (a walk over the table).
pub(crate) const fn const_proto_name(p: u8) -> Option<&'static str> {
    let mut i = 0;
    while i < NAMES.len() {
        if NAMES[i].0 == p {
            return Some(NAMES[i].1);
        }
        i += 1;
    }
    None
}

/// Suricata's keyword for protocol `p`, when it is a commonly seen one.
pub fn proto_name(p: u8) -> Option<&'static str> {
    match p {
        6 => Some("TCP"),
        17 => Some("UDP"),
        _ => NAMES.iter().find(|(n, _)| *n == p).map(|(_, s)| *s),
    }
}

#[cfg(test)]
mod tests {
    use super::proto_name;

    #[test]
    fn names_match_suricata() {
        assert_eq!(proto_name(6), Some("TCP"));
        assert_eq!(proto_name(17), Some("UDP"));
        assert_eq!(proto_name(1), Some("ICMP"));
        assert_eq!(proto_name(58), Some("IPv6-ICMP"));
        assert_eq!(proto_name(47), Some("GRE"));
        assert_eq!(proto_name(50), Some("ESP"));
        assert_eq!(proto_name(89), Some("OSPF"));
        assert_eq!(proto_name(132), Some("SCTP"));
        assert_eq!(proto_name(19), None);
        assert_eq!(proto_name(253), None);
        for p in 0..=255u8 {
            assert_eq!(proto_name(p), super::const_proto_name(p));
        }
    }
}
