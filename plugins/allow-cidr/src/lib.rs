//! Example plugin: a passive inspector that gives the allow verdict to flows whose
//! client or server address is in a configured CIDR list, so that (with
//! `[allowlist_cache] enable = true`) they move to the allowlist LRU.
//!
//! Contract:
//! - Settings, `[plugins.allow-cidr]`: `cidrs = ["10.0.0.0/8", "2001:db8::/32", ...]`
//!   (an address without `/len` is one host). A malformed entry or an unknown key
//!   refuses the plugin's configuration with a message naming it. Without the table
//!   the list is empty and no flow is touched.
//! - Per flow: decided once when the flow starts (its first payload); a matching flow
//!   gets `Verdict::Allow` with its first chunk and the inspector is done with it; a
//!   flow that does not match gets no state at all. Emits an `allow_cidr` event with
//!   the matching `cidr` so the decision shows in EVE.

use flowengine_plugin_api::prelude::*;
use serde::Deserialize;
use std::net::IpAddr;

/// The `[plugins.allow-cidr]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    cidrs: Vec<String>,
}

/// An address block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("allow-cidr: '{s}' is not an address or CIDR"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("allow-cidr: bad prefix length in '{s}'"))?,
        };
        Ok(Cidr { net, len })
    }

    /// True when `ip` is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, len: u8, width: u8) -> u128 {
            if len == 0 {
                0
            } else {
                bits >> (width - len)
            }
        }
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), self.len, 32)
                    == masked(u32::from(a).into(), self.len, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), self.len, 128) == masked(u128::from(a), self.len, 128)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

/// The passive inspector.
#[derive(Debug)]
pub struct AllowCidr {
    cidrs: Vec<Cidr>,
}

impl AllowCidr {
    /// The first block containing either end of the flow.
    fn matching(&self, flow: &FlowStart) -> Option<Cidr> {
        let (c, s) = (flow.client.ip(), flow.server.ip());
        self.cidrs
            .iter()
            .copied()
            .find(|b| b.contains(c) || b.contains(s))
    }
}

impl PassiveInspector for AllowCidr {
    type Flow = Allowed;

    fn name(&self) -> &str {
        "allow-cidr"
    }

    fn start(&self, flow: &FlowStart) -> Option<Allowed> {
        self.matching(flow)
            .map(|cidr| Allowed { cidr, given: false })
    }
}

/// A matching flow's state: the verdict still to give.
#[derive(Debug)]
pub struct Allowed {
    cidr: Cidr,
    given: bool,
}

impl PluginFlow for Allowed {
    fn data(&mut self, cx: &mut Cx<'_>, _dir: Direction, _data: Data<'_>) {
        if !self.given {
            self.given = true;
            cx.set_verdict(Verdict::Allow);
            cx.emit(Event::new("allow_cidr").str("cidr", &self.cidr.to_string()));
        }
        cx.done();
    }
}

fn inspectors(config: &PluginConfig) -> Result<Vec<InspectorBox>, PluginError> {
    let s: Settings = config.parse()?;
    let cidrs = s
        .cidrs
        .iter()
        .map(|c| Cidr::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(PluginError::msg)?;
    Ok(vec![InspectorBox::passive(AllowCidr { cidrs })])
}

export_plugin! {
    name: "allow-cidr",
    version: env!("CARGO_PKG_VERSION"),
    inspectors: inspectors,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_contain_their_addresses() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::9".parse().unwrap()));
        assert!(!v6.contains("2001:db9::9".parse().unwrap()));
        let host = Cidr::parse("192.0.2.7").unwrap();
        assert!(host.contains("192.0.2.7".parse().unwrap()));
        assert!(!host.contains("192.0.2.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope/8").is_err());
    }

    #[test]
    fn settings_are_checked() {
        let ok = PluginConfig::from_json(r#"{"cidrs": ["10.0.0.0/8"]}"#).unwrap();
        assert_eq!(inspectors(&ok).unwrap().len(), 1);
        let bad = PluginConfig::from_json(r#"{"cidrs": ["10.0.0.0/99"]}"#).unwrap();
        assert!(inspectors(&bad)
            .unwrap_err()
            .message
            .contains("10.0.0.0/99"));
        let typo = PluginConfig::from_json(r#"{"cidr": []}"#).unwrap();
        assert!(inspectors(&typo).is_err());
    }
}
