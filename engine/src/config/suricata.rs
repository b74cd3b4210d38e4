//! Reading a Suricata `suricata.yaml` as configuration.
//!
//! Contract: [`ConfigBuilder::merge_suricata_yaml`] (and `merge_suricata_file`) parse a
//! Suricata YAML document (its `%YAML 1.1` header and `---` included) and apply the
//! keys listed in [`SUPPORTED`] through [`ConfigBuilder::set`], so a Suricata key maps
//! to the `--set` key of the same meaning. Values are read as Suricata reads them:
//! booleans `yes/no/true/false/on/off/1/0` (any case), sizes `1048576`, `64kb`, `64mb`,
//! `1gb` (also `kib/mib/gib`; multiples of 1024, decimals allowed), port lists `4789`,
//! `"4789,8472"`, `[4789, 8472]` or a `$NAME` from `vars.port-groups`.
//!
//! Every other key is reported back (never an error): real files hold hundreds of keys
//! meant for Suricata's other subsystems. A subtree that can hold no supported key is
//! reported once by its root (`logging`, `app-layer.protocols.http.libhtp`). A YAML
//! document that does not parse, and a supported key with a value of the wrong kind, are
//! errors that name the file and the key.
//!
//! Mapping notes: `outputs` is a list of named sections; the first `eve-log` not
//! `enabled: no` stands for our `--eve` output, later ones are reported. Suricata's
//! `app-layer.protocols.NAME.enabled` wins over the per-transport
//! `app-layer.protocols.NAME.tcp.enabled` / `.udp.enabled` (as in Suricata); our
//! setting is per protocol, so when only the per-transport ones are given and they
//! differ, the more enabled one is applied and the other is reported.

use super::{ConfigBuilder, ConfigError, SetOutcome};
use crate::decode::checksum::ChecksumMode;
use crate::decode::PortSet;
use std::collections::BTreeMap;
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

/// A problem with a Suricata YAML file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuricataYamlError {
    /// The file could not be read.
    #[error("cannot read Suricata config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not parse, or its top level is not a mapping.
    #[error("bad Suricata config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
    /// A supported key has a value of the wrong kind.
    #[error("bad Suricata config {path}: {key}: '{value}' is not {expected}")]
    Value {
        /// The file.
        path: String,
        /// The Suricata key (dotted YAML path).
        key: String,
        /// The value given.
        value: String,
        /// What the key takes.
        expected: &'static str,
    },
    /// Our configuration refused a mapped value.
    #[error("bad Suricata config {path}: {key}: {source}")]
    Config {
        /// The file.
        path: String,
        /// The Suricata key (dotted YAML path).
        key: String,
        /// Why.
        source: ConfigError,
    },
}

/// What reading a Suricata YAML document came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuricataYaml {
    /// The `KEY=VALUE` assignments applied, in order.
    pub applied: Vec<String>,
    /// Suricata keys (dotted YAML paths) with no equivalent here, in file order.
    pub ignored: Vec<String>,
}

/// How a supported key's value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A Suricata boolean.
    Bool,
    /// A size in bytes (`64kb`, `1mb`).
    Size,
    /// A whole number in a range.
    Uint {
        /// Smallest value taken.
        min: u64,
        /// Largest value taken.
        max: u64,
    },
    /// One of these words (any case).
    Word(&'static [&'static str]),
    /// A UDP port list, or a `$NAME` of `vars.port-groups`.
    Ports,
    /// `yes`, `no` (or another boolean) or `detection-only`.
    Enabled,
    /// A checksum mode: `auto`, `yes`/`all`, `no`/`none`.
    Checksum,
    /// Read by the mapping itself (selects a section, holds variables): not applied,
    /// not reported.
    Consumed,
}

/// One supported Suricata key: its YAML path (`*` is any one name, carried over to the
/// key), the `--set` key it maps to, and how its value is read.
#[derive(Clone, Copy, Debug)]
pub struct Mapping {
    /// The dotted YAML path.
    pub yaml: &'static str,
    /// Our `--set` key.
    pub key: &'static str,
    /// How the value is read.
    pub kind: ValueKind,
}

const fn m(yaml: &'static str, key: &'static str, kind: ValueKind) -> Mapping {
    Mapping { yaml, key, kind }
}

const SECS: ValueKind = ValueKind::Uint {
    min: 0,
    max: u32::MAX as u64,
};
const COUNT: ValueKind = ValueKind::Uint {
    min: 1,
    max: u32::MAX as u64,
};
const MIDSTREAM_POLICIES: &[&str] = &[
    "ignore",
    "auto",
    "bypass",
    "pass-flow",
    "pass-packet",
    "drop-flow",
    "drop-packet",
    "reject",
];

/// The Suricata keys read, with the key each sets.
pub const SUPPORTED: &[Mapping] = &[
    m("vars", "", ValueKind::Consumed),
    m("outputs.eve-log.enabled", "", ValueKind::Consumed),
    m(
        "outputs.eve-log.ipv6-compress",
        "eve.ipv6-compress",
        ValueKind::Bool,
    ),
    m(
        "app-layer.protocols.*.enabled",
        "app-layer.protocols.*.enabled",
        ValueKind::Enabled,
    ),
    m(
        "app-layer.protocols.*.tcp.enabled",
        "app-layer.protocols.*.enabled",
        ValueKind::Enabled,
    ),
    m(
        "app-layer.protocols.*.udp.enabled",
        "app-layer.protocols.*.enabled",
        ValueKind::Enabled,
    ),
    m("stream.midstream", "stream.midstream", ValueKind::Bool),
    m(
        "stream.async-oneside",
        "stream.async-oneside",
        ValueKind::Bool,
    ),
    m(
        "stream.midstream-policy",
        "stream.midstream-policy",
        ValueKind::Word(MIDSTREAM_POLICIES),
    ),
    m(
        "stream.reassembly.depth",
        "stream.reassembly.depth",
        ValueKind::Size,
    ),
    m("flow.memcap", "stream.memcap", ValueKind::Size),
    m("flow-timeouts.*.new", "flow-timeouts.*.new", SECS),
    m(
        "flow-timeouts.*.established",
        "flow-timeouts.*.established",
        SECS,
    ),
    m("flow-timeouts.*.closed", "flow-timeouts.*.closed", SECS),
    m(
        "vlan.use-for-tracking",
        "vlan.use-for-tracking",
        ValueKind::Bool,
    ),
    m(
        "decoder.recursion-level.use-for-tracking",
        "decoder.recursion-level.use-for-tracking",
        ValueKind::Bool,
    ),
    m(
        "decoder.max-layers",
        "decoder.max-layers",
        ValueKind::Uint { min: 1, max: 255 },
    ),
    m(
        "decoder.erspan.typeI.enabled",
        "decoder.erspan.typeI.enabled",
        ValueKind::Bool,
    ),
    m("decoder.*.enabled", "decoder.*.enabled", ValueKind::Bool),
    m("decoder.*.ports", "decoder.*.ports", ValueKind::Ports),
    m("defrag.memcap", "defrag.memcap", ValueKind::Size),
    m("defrag.timeout", "defrag.timeout", SECS),
    m("defrag.max-frags", "defrag.max_frags", COUNT),
    m("defrag.trackers", "defrag.max_datagrams", COUNT),
    m("pcap-file.checksum-checks", "checksum", ValueKind::Checksum),
];

impl ConfigBuilder {
    /// Reads a Suricata YAML file over what is there (see the module docs).
    pub fn merge_suricata_file(&mut self, path: &Path) -> Result<SuricataYaml, SuricataYamlError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SuricataYamlError::Read {
            path: name.clone(),
            source,
        })?;
        self.merge_suricata_yaml(&text, &name)
    }

    /// Applies a Suricata YAML document over what is there; `path` names it in errors.
    pub fn merge_suricata_yaml(
        &mut self,
        text: &str,
        path: &str,
    ) -> Result<SuricataYaml, SuricataYamlError> {
        let mapped = map_document(text, path)?;
        let mut out = SuricataYaml {
            applied: Vec::with_capacity(mapped.assignments.len()),
            ignored: mapped.ignored,
        };
        for a in mapped.assignments {
            let assignment = format!("{}={}", a.key, a.value);
            match self.set(&assignment) {
                Ok(SetOutcome::Applied) => out.applied.push(assignment),
                Ok(SetOutcome::Ignored) => push_unique(&mut out.ignored, a.yaml),
                Err(source) => {
                    return Err(SuricataYamlError::Config {
                        path: path.to_string(),
                        key: a.yaml,
                        source,
                    })
                }
            }
        }
        Ok(out)
    }
}

/// One mapped key.
struct Assignment {
    yaml: String,
    key: String,
    value: String,
}

/// What a document maps to, before it is applied.
struct Mapped {
    assignments: Vec<Assignment>,
    ignored: Vec<String>,
}

/// `app-layer.protocols.NAME` switches, as (YAML path, value) per level.
#[derive(Default)]
struct ProtocolSwitches {
    top: Option<(String, &'static str)>,
    tcp: Option<(String, &'static str)>,
    udp: Option<(String, &'static str)>,
}

fn enabled_rank(v: &str) -> u8 {
    match v {
        "no" => 0,
        "detection-only" => 1,
        _ => 2,
    }
}

struct Walker<'a> {
    path: &'a str,
    port_groups: Option<&'a Yaml>,
    assignments: Vec<Assignment>,
    ignored: Vec<String>,
    protocols: BTreeMap<String, ProtocolSwitches>,
}

fn map_document(text: &str, path: &str) -> Result<Mapped, SuricataYamlError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| SuricataYamlError::Parse {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    let mut w = Walker {
        path,
        port_groups: None,
        assignments: Vec::new(),
        ignored: Vec::new(),
        protocols: BTreeMap::new(),
    };
    match docs.first() {
        None | Some(Yaml::Null) => {}
        Some(root @ Yaml::Hash(h)) => {
            w.port_groups = h.get(&Yaml::String("vars".into())).and_then(|v| match v {
                Yaml::Hash(v) => v.get(&Yaml::String("port-groups".into())),
                _ => None,
            });
            let mut segs = Vec::new();
            w.walk(&mut segs, root)?;
        }
        Some(_) => {
            return Err(SuricataYamlError::Parse {
                path: path.to_string(),
                message: "the top level is not a mapping".into(),
            })
        }
    }
    w.finish_protocols();
    Ok(Mapped {
        assignments: w.assignments,
        ignored: w.ignored,
    })
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Text of a scalar (keys and values); `None` for collections, null and aliases.
fn scalar_text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The supported mapping whose pattern is exactly `segs`, and the name `*` stood for.
fn rule_for(segs: &[String]) -> Option<(&'static Mapping, Option<&str>)> {
    SUPPORTED.iter().find_map(|r| {
        let pat: Vec<&str> = r.yaml.split('.').collect();
        if pat.len() != segs.len() {
            return None;
        }
        let mut star = None;
        for (p, s) in pat.iter().zip(segs) {
            if *p == "*" {
                star = Some(s.as_str());
            } else if p != s {
                return None;
            }
        }
        Some((r, star))
    })
}

/// True when some supported key lies under `segs`.
fn may_hold_supported(segs: &[String]) -> bool {
    SUPPORTED.iter().any(|r| {
        let pat: Vec<&str> = r.yaml.split('.').collect();
        pat.len() > segs.len() && pat.iter().zip(segs).all(|(p, s)| *p == "*" || p == s)
    })
}

/// The `enabled` of a named section, when it says no.
fn section_disabled(y: &Yaml) -> bool {
    let Yaml::Hash(h) = y else { return false };
    h.get(&Yaml::String("enabled".into()))
        .and_then(scalar_text)
        .and_then(|v| suricata_bool(&v))
        == Some(false)
}

/// A Suricata boolean (`ConfValIsTrue` / `ConfValIsFalse`).
pub fn suricata_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// A Suricata size (`ParseSizeString`): bytes, or a number with `kb`, `mb` or `gb`
/// (also `kib`, `mib`, `gib`; multiples of 1024, any case).
pub fn suricata_size(v: &str) -> Option<u64> {
    let t = v.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" => 1,
        "kb" | "kib" => 1 << 10,
        "mb" | "mib" => 1 << 20,
        "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    if num.is_empty() {
        return None;
    }
    if num.contains('.') {
        let f: f64 = num.parse().ok()?;
        let bytes = f * mult as f64;
        // u64::MAX as f64 rounds up to 2^64, which does not fit: stay below it.
        (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
    } else {
        num.parse::<u64>().ok()?.checked_mul(mult)
    }
}

impl Walker<'_> {
    fn bad(&self, segs: &[String], value: &str, expected: &'static str) -> SuricataYamlError {
        SuricataYamlError::Value {
            path: self.path.to_string(),
            key: segs.join("."),
            value: value.to_string(),
            expected,
        }
    }

    fn walk(&mut self, segs: &mut Vec<String>, node: &Yaml) -> Result<(), SuricataYamlError> {
        if let Some((rule, star)) = rule_for(segs) {
            return self.leaf(segs, rule, star, node);
        }
        match node {
            Yaml::Hash(h) => {
                if !segs.is_empty() && !may_hold_supported(segs) {
                    push_unique(&mut self.ignored, segs.join("."));
                    return Ok(());
                }
                for (k, v) in h {
                    let Some(k) = scalar_text(k) else { continue };
                    segs.push(k);
                    let r = self.walk(segs, v);
                    segs.pop();
                    r?;
                }
            }
            Yaml::Array(items) if !items.is_empty() && items.iter().all(is_named_section) => {
                // Suricata's list of named sections (`outputs`): the first enabled one
                // of each name is read, the others are reported.
                let mut seen: Vec<String> = Vec::new();
                for item in items {
                    let Yaml::Hash(h) = item else { continue };
                    for (k, v) in h {
                        let Some(k) = scalar_text(k) else { continue };
                        segs.push(k.clone());
                        let r = if seen.contains(&k) || section_disabled(v) {
                            push_unique(&mut self.ignored, segs.join("."));
                            Ok(())
                        } else {
                            seen.push(k);
                            self.walk(segs, v)
                        };
                        segs.pop();
                        r?;
                    }
                }
            }
            Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => {}
            _ => push_unique(&mut self.ignored, segs.join(".")),
        }
        Ok(())
    }

    fn leaf(
        &mut self,
        segs: &[String],
        rule: &'static Mapping,
        star: Option<&str>,
        node: &Yaml,
    ) -> Result<(), SuricataYamlError> {
        if rule.kind == ValueKind::Consumed || matches!(node, Yaml::Null) {
            return Ok(());
        }
        let Some(text) = scalar_text(node) else {
            return Err(self.bad(segs, "(a list or mapping)", "a single value"));
        };
        let value = match rule.kind {
            ValueKind::Consumed => return Ok(()),
            ValueKind::Bool => suricata_bool(&text)
                .ok_or_else(|| self.bad(segs, &text, "a boolean (yes/no/true/false/on/off)"))?
                .to_string(),
            ValueKind::Size => suricata_size(&text)
                .ok_or_else(|| self.bad(segs, &text, "a size (such as 65536, 64kb, 1mb, 1gb)"))?
                .to_string(),
            ValueKind::Uint { min, max } => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| self.bad(segs, &text, "a whole number in range"))?
                .to_string(),
            ValueKind::Word(words) => {
                let t = text.trim().to_ascii_lowercase();
                if !words.contains(&t.as_str()) {
                    return Err(self.bad(segs, &text, "a known word for this key"));
                }
                t
            }
            ValueKind::Ports => self.ports(segs, &text)?,
            ValueKind::Enabled => {
                let v = match text.trim().to_ascii_lowercase().as_str() {
                    "detection-only" => "detection-only",
                    t => match suricata_bool(t) {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => {
                            return Err(self.bad(segs, &text, "yes, no or detection-only"));
                        }
                    },
                };
                let name = star.unwrap_or_default().to_string();
                let sw = self.protocols.entry(name).or_default();
                let slot = match segs.get(segs.len().wrapping_sub(2)).map(String::as_str) {
                    Some("tcp") if segs.len() == 5 => &mut sw.tcp,
                    Some("udp") if segs.len() == 5 => &mut sw.udp,
                    _ => &mut sw.top,
                };
                *slot = Some((segs.join("."), v));
                return Ok(());
            }
            ValueKind::Checksum => {
                text.parse::<ChecksumMode>()
                    .map_err(|_| self.bad(segs, &text, "auto, yes (all) or no (none)"))?;
                text.trim().to_ascii_lowercase()
            }
        };
        let key = match star {
            Some(name) => rule.key.replacen('*', name, 1),
            None => rule.key.to_string(),
        };
        self.assignments.push(Assignment {
            yaml: segs.join("."),
            key,
            value,
        });
        Ok(())
    }

    /// A port list, `$NAME` resolved from `vars.port-groups`.
    fn ports(&self, segs: &[String], text: &str) -> Result<String, SuricataYamlError> {
        let t = text.trim();
        let resolved = match t.strip_prefix('$') {
            Some(name) => self
                .port_groups
                .and_then(|g| match g {
                    Yaml::Hash(h) => h.get(&Yaml::String(name.to_string())),
                    _ => None,
                })
                .and_then(scalar_text)
                .ok_or_else(|| self.bad(segs, text, "a port list or a vars.port-groups name"))?,
            None => t.to_string(),
        };
        PortSet::parse(&resolved)
            .map_err(|_| self.bad(segs, text, "a port list such as 4789 or [4789, 8472]"))?;
        Ok(resolved.trim().to_string())
    }

    /// Turns the collected protocol switches into assignments: the protocol-wide one
    /// wins; else the more enabled of the per-transport ones (the other is reported).
    fn finish_protocols(&mut self) {
        for (name, sw) in std::mem::take(&mut self.protocols) {
            let (chosen, dropped) = match (sw.top, sw.tcp, sw.udp) {
                (Some(top), tcp, udp) => {
                    // Suricata reads the per-transport switches only when the
                    // protocol-wide one is absent: these are unused, as there.
                    for (p, _) in tcp.into_iter().chain(udp) {
                        push_unique(&mut self.ignored, p);
                    }
                    (top, None)
                }
                (None, Some(a), Some(b)) => {
                    if enabled_rank(a.1) >= enabled_rank(b.1) {
                        let d = (a.1 != b.1).then_some(b.0);
                        (a, d)
                    } else {
                        (b, Some(a.0))
                    }
                }
                (None, Some(a), None) | (None, None, Some(a)) => (a, None),
                (None, None, None) => continue,
            };
            if let Some(d) = dropped {
                push_unique(&mut self.ignored, d);
            }
            self.assignments.push(Assignment {
                yaml: chosen.0,
                key: format!("app-layer.protocols.{name}.enabled"),
                value: chosen.1.to_string(),
            });
        }
    }
}

fn is_named_section(y: &Yaml) -> bool {
    matches!(y, Yaml::Hash(h) if h.len() == 1 && h.keys().all(|k| scalar_text(k).is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProtocolMode};

    /// Parts of Suricata's shipped suricata.yaml, with some values changed.
    const REALISTIC: &str = r#"%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
  port-groups:
    HTTP_PORTS: "80"
    VXLAN_PORTS: 4789
    GENEVE_PORTS: "[6081, 6082]"
default-log-dir: /var/log/suricata/
outputs:
  - fast:
      enabled: yes
      filename: fast.log
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      ipv6-compress: yes
      types:
        - alert:
            tagged-packets: yes
        - flow
  - eve-log:
      enabled: yes
      filename: eve-other.json
      ipv6-compress: no
logging:
  default-log-level: notice
app-layer:
  protocols:
    snmp:
      enabled: no
    enip:
      enabled: detection-only
    http:
      enabled: yes
      libhtp:
        default-config:
          personality: IDS
    dns:
      tcp:
        enabled: yes
        detection-ports:
          dp: 53
      udp:
        enabled: no
    rdp:
      enabled: true
      tcp:
        enabled: no
pcap-file:
  checksum-checks: auto
stream:
  memcap: 64mb
  midstream: true
  async-oneside: on
  midstream-policy: ignore
  reassembly:
    memcap: 256mb
    depth: 2mb
flow:
  memcap: 128mb
  hash-size: 65536
  prealloc: 10000
flow-timeouts:
  default:
    new: 30
    established: 300
  tcp:
    new: 45
    established: 3600
    closed: 12
    emergency-new: 10
  udp:
    new: 15
  sctp:
    new: 30
vlan:
  use-for-tracking: false
decoder:
  teredo:
    enabled: false
    ports: $TEREDO_PORTS
  vxlan:
    enabled: true
    ports: $VXLAN_PORTS
  geneve:
    enabled: true
    ports: $GENEVE_PORTS
  recursion-level:
    use-for-tracking: false
  max-layers: 8
defrag:
  memcap: 32mb
  max-frags: 65535
  trackers: 5000
  timeout: 60
  hash-size: 4096
"#;

    fn apply(text: &str) -> Result<(Config, SuricataYaml), SuricataYamlError> {
        let mut b = ConfigBuilder::new();
        let r = b.merge_suricata_yaml(text, "test.yaml")?;
        Ok((b.build().expect("mapped values build"), r))
    }

    #[test]
    fn a_realistic_file_maps_onto_the_config() {
        // $TEREDO_PORTS is not defined: fatal only if teredo were read, and it is, so
        // drop that line for this test (checked separately below).
        let text = REALISTIC.replace("    ports: $TEREDO_PORTS\n", "");
        let (c, r) = apply(&text).unwrap();
        assert!(c.eve.ipv6_compress, "the first enabled eve-log is ours");
        assert_eq!(c.app_layer.protocol("snmp"), ProtocolMode::No);
        assert_eq!(c.app_layer.protocol("enip"), ProtocolMode::DetectionOnly);
        assert_eq!(c.app_layer.protocol("http"), ProtocolMode::Yes);
        // Per-transport only, differing: the more enabled one.
        assert_eq!(c.app_layer.protocol("dns"), ProtocolMode::Yes);
        // Protocol-wide wins over per-transport, as in Suricata.
        assert_eq!(c.app_layer.protocol("rdp"), ProtocolMode::Yes);
        assert_eq!(c.checksum.0, "auto");
        assert!(c.stream.midstream && c.stream.async_oneside);
        assert_eq!(c.stream.midstream_policy, "ignore");
        assert_eq!(c.stream.reassembly.depth, 2 << 20);
        assert_eq!(c.stream.memcap, 128 << 20, "flow.memcap caps flow state");
        assert_eq!(c.flow_timeouts.tcp.new, 45);
        assert_eq!(c.flow_timeouts.tcp.established, 3600);
        assert_eq!(c.flow_timeouts.tcp.closed, 12);
        assert_eq!(c.flow_timeouts.udp.new, 15);
        assert_eq!(
            c.flow_timeouts.udp.established, 300,
            "unset keys keep defaults"
        );
        assert!(!c.vlan.use_for_tracking);
        assert!(!c.decoder.recursion_level.use_for_tracking);
        assert_eq!(c.decoder.max_layers, 8);
        assert!(!c.decoder.teredo.enabled);
        assert_eq!(c.decoder.vxlan.ports, "4789");
        assert_eq!(c.decoder.geneve.ports, "[6081, 6082]");
        assert_eq!(c.defrag.memcap, 32 << 20);
        assert_eq!(c.defrag.max_frags, 65535);
        assert_eq!(c.defrag.max_datagrams, 5000);
        assert_eq!(c.defrag.timeout, 60);
        c.validate().unwrap();
        for key in [
            "default-log-dir",
            "outputs.fast",
            "outputs.eve-log.filetype",
            "outputs.eve-log.filename",
            "outputs.eve-log.types",
            "logging",
            "app-layer.protocols.http.libhtp",
            "app-layer.protocols.dns.tcp.detection-ports",
            "app-layer.protocols.dns.udp.enabled",
            "app-layer.protocols.rdp.tcp.enabled",
            "stream.memcap",
            "stream.reassembly.memcap",
            "flow.hash-size",
            "flow.prealloc",
            "flow-timeouts.tcp.emergency-new",
            "flow-timeouts.sctp.new",
            "defrag.hash-size",
        ] {
            assert!(
                r.ignored.contains(&key.to_string()),
                "{key} not in {:?}",
                r.ignored
            );
        }
        // The second eve-log is reported, its ipv6-compress: no not applied.
        assert!(r.ignored.contains(&"outputs.eve-log".to_string()));
        for key in [
            "vars",
            "outputs.eve-log.enabled",
            "outputs.eve-log.ipv6-compress",
        ] {
            assert!(!r.ignored.iter().any(|k| k == key), "{key} reported");
        }
        assert!(r.applied.contains(&"eve.ipv6-compress=true".to_string()));
        assert!(r
            .applied
            .contains(&"app-layer.protocols.snmp.enabled=no".to_string()));
    }

    #[test]
    fn an_undefined_port_group_is_fatal_and_named() {
        let e = apply(REALISTIC).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("test.yaml") && msg.contains("decoder.teredo.ports"),
            "{msg}"
        );
        assert!(msg.contains("$TEREDO_PORTS"), "{msg}");
    }

    #[test]
    fn bad_values_of_supported_keys_name_the_file_and_key() {
        for (text, key) in [
            ("stream:\n  midstream: maybe\n", "stream.midstream"),
            (
                "stream:\n  reassembly:\n    depth: 1tb\n",
                "stream.reassembly.depth",
            ),
            (
                "flow-timeouts:\n  tcp:\n    new: -1\n",
                "flow-timeouts.tcp.new",
            ),
            (
                "flow-timeouts:\n  tcp:\n    new: 99999999999\n",
                "flow-timeouts.tcp.new",
            ),
            ("decoder:\n  max-layers: 0\n", "decoder.max-layers"),
            (
                "decoder:\n  vxlan:\n    ports: 70000\n",
                "decoder.vxlan.ports",
            ),
            (
                "app-layer:\n  protocols:\n    tls:\n      enabled: sometimes\n",
                "app-layer.protocols.tls.enabled",
            ),
            (
                "outputs:\n  - eve-log:\n      ipv6-compress: [yes]\n",
                "outputs.eve-log.ipv6-compress",
            ),
            (
                "pcap-file:\n  checksum-checks: maybe\n",
                "pcap-file.checksum-checks",
            ),
            (
                "stream:\n  midstream-policy: explode\n",
                "stream.midstream-policy",
            ),
        ] {
            let e = apply(text).unwrap_err();
            assert!(matches!(e, SuricataYamlError::Value { .. }), "{text}: {e}");
            let msg = e.to_string();
            assert!(
                msg.contains("test.yaml") && msg.contains(key),
                "{text}: {msg}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() {
        let (c, r) = apply(
            "%YAML 1.1\n---\nmagic:\n  level: 11\nstream:\n  inline: yes\n  drop-invalid: maybe\n",
        )
        .unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(
            r.ignored,
            vec!["magic", "stream.inline", "stream.drop-invalid"]
        );
        assert!(r.applied.is_empty());
    }

    #[test]
    fn yaml_that_does_not_parse_is_an_error_naming_the_file() {
        for text in [
            "a: [1, 2\n",
            "a: 1\na: 2\n",
            "- just\n- a list\n",
            "key: \"open\n",
        ] {
            let e = apply(text).unwrap_err();
            assert!(matches!(e, SuricataYamlError::Parse { .. }), "{text}: {e}");
            assert!(e.to_string().contains("test.yaml"), "{e}");
        }
    }

    #[test]
    fn empty_documents_change_nothing() {
        for text in ["", "%YAML 1.1\n---\n", "# only a comment\n"] {
            let (c, r) = apply(text).unwrap();
            assert_eq!(c, Config::default());
            assert_eq!(r, SuricataYaml::default());
        }
    }

    #[test]
    fn a_disabled_eve_log_is_not_ours_and_the_file_then_toml_then_set_order_holds() {
        let text = "outputs:\n  - eve-log:\n      enabled: no\n      ipv6-compress: yes\n  - eve-log:\n      ipv6-compress: yes\nstream:\n  midstream: yes\n";
        let mut b = ConfigBuilder::new();
        let r = b.merge_suricata_yaml(text, "x.yaml").unwrap();
        assert_eq!(r.ignored, vec!["outputs.eve-log"]);
        b.merge_toml("[stream]\nmidstream = false\n", None).unwrap();
        let c = b.build().unwrap();
        assert!(c.eve.ipv6_compress);
        assert!(!c.stream.midstream, "the TOML file comes after the YAML");
        b.set("eve.ipv6-compress=no").unwrap();
        assert!(!b.build().unwrap().eve.ipv6_compress, "--set comes last");
    }

    #[test]
    fn sizes_and_booleans_read_as_suricata_reads_them() {
        assert_eq!(suricata_size("1048576"), Some(1 << 20));
        assert_eq!(suricata_size("64kb"), Some(64 << 10));
        assert_eq!(suricata_size("64 MB"), Some(64 << 20));
        assert_eq!(suricata_size("1gb"), Some(1 << 30));
        assert_eq!(suricata_size("2GiB"), Some(2 << 30));
        assert_eq!(suricata_size("1.5mb"), Some(3 << 19));
        for bad in [
            "",
            "mb",
            "1tb",
            "-1",
            "1.2.3kb",
            "99999999999999999999gb",
            "1e400mb",
        ] {
            assert_eq!(suricata_size(bad), None, "{bad}");
        }
        for (v, b) in [("Yes", true), ("on", true), ("1", true), ("TRUE", true)] {
            assert_eq!(suricata_bool(v), Some(b));
        }
        for v in ["no", "Off", "0", "false"] {
            assert_eq!(suricata_bool(v), Some(false));
        }
        assert_eq!(suricata_bool("maybe"), None);
    }

    #[test]
    fn every_mapping_targets_a_real_key() {
        let schema = toml::Table::try_from(Config::default()).unwrap();
        for r in SUPPORTED.iter().filter(|r| r.kind != ValueKind::Consumed) {
            let key = r
                .key
                .replace("*", "tcp")
                .replace("protocols.tcp", "protocols.x");
            let key = key.replace("decoder.tcp", "decoder.vxlan");
            let mut b = ConfigBuilder::new();
            let value = match r.kind {
                ValueKind::Bool => "true",
                ValueKind::Enabled => "yes",
                ValueKind::Word(w) => w[0],
                ValueKind::Ports => "4789",
                ValueKind::Checksum => "auto",
                _ => "5",
            };
            assert_eq!(
                b.set(&format!("{key}={value}")).unwrap(),
                SetOutcome::Applied,
                "{} -> {key} (schema has {:?})",
                r.yaml,
                schema.keys().collect::<Vec<_>>()
            );
        }
    }
}
