//! Configuration: a TOML file plus `--set key=value` overrides.
//!
//! Contract: [`Config::default`] holds every key's default (Snort 3's where Snort has
//! the key, Suricata's shipped ones for flow timeouts and stream pickup, which EVE
//! fidelity depends on). The reference file `engine/config/flowengine.toml`
//! ([`Config::REFERENCE`]) documents every key and is checked by the tests to parse to
//! exactly the defaults. A file with an unknown key or a wrongly typed value is an
//! error that names it. An override whose key is unknown is not an error: it is
//! reported back as ignored ([`SetOutcome::Ignored`]), so tools that pass options meant
//! for other engines keep working. Override values are read by the type of the key:
//! booleans accept `true/false/yes/no/on/off/1/0`. A Suricata `suricata.yaml` can be
//! read first ([`suricata`]): its supported keys are applied as overrides.

use crate::cache::{CacheConfig, Timeouts};
use crate::decode::checksum::{ChecksumMode, ParseChecksumModeError};
use crate::decode::{PortSet, TunnelConfig};
use crate::defrag::{DefragConfig, DefragError, OverlapPolicy};
use crate::flow::{FlowState, ProtoClass};
use crate::key::{KeyHasher, KeyOptions};
use crate::stream::TcpOptions;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub mod suricata;
pub use suricata::{SuricataYaml, SuricataYamlError};

/// `[stream]`: the flow cache and TCP pickup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    /// Flows tracked before pruning (Snort `stream.max_flows`).
    pub max_flows: u32,
    /// Idle seconds before a flow may be pruned when the cache is full (Snort).
    pub pruning_timeout: u32,
    /// Most flows pruned at once for the memory cap (Snort).
    pub prune_flows: u32,
    /// Memory cap in bytes for flow state; 0 = only `max_flows` limits.
    pub memcap: u64,
    /// Track TCP sessions picked up mid-stream (Suricata `stream.midstream`).
    pub midstream: bool,
    /// Track TCP sessions seen in one direction only (Suricata `stream.async-oneside`).
    #[serde(rename = "async-oneside")]
    pub async_oneside: bool,
    /// What to do with a TCP flow picked up mid-stream while `midstream` is off
    /// (Suricata `stream.midstream-policy`): `ignore` records it as usual, `bypass`
    /// gives it the allow verdict (EVE state `bypassed`). Suricata's other policies
    /// (`auto`, `pass-flow`, `pass-packet`, `drop-flow`, `drop-packet`, `reject`) are
    /// accepted and act as `ignore`, since the engine never drops packets.
    #[serde(rename = "midstream-policy")]
    pub midstream_policy: String,
    /// Flows the timeout sweep may end per packet (Snort: 1).
    pub timeout_flows_per_packet: u32,
    /// Flows the timeout sweep may end per idle call (Snort `IDLE_PRUNE_MAX`).
    pub timeout_flows_when_idle: u32,
    /// `[stream.reassembly]`: TCP reassembly for inspectors.
    pub reassembly: ReassemblySection,
}

/// `[stream.reassembly]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReassemblySection {
    /// Stream bytes per direction handed to inspectors; 0 = unlimited (Suricata
    /// `stream.reassembly.depth`, 1 MiB).
    pub depth: u64,
    /// Out-of-order segments held per direction.
    #[serde(rename = "max-segments")]
    pub max_segments: u32,
    /// Out-of-order bytes held per direction.
    #[serde(rename = "max-bytes")]
    pub max_bytes: u32,
}

impl Default for ReassemblySection {
    fn default() -> Self {
        let d = crate::stream::ReassemblyConfig::default();
        ReassemblySection {
            depth: d.depth,
            max_segments: d.max_segments,
            max_bytes: d.max_bytes,
        }
    }
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            max_flows: 476_288,
            pruning_timeout: 30,
            prune_flows: 10,
            memcap: 0,
            midstream: false,
            async_oneside: false,
            midstream_policy: "ignore".into(),
            timeout_flows_per_packet: 2,
            timeout_flows_when_idle: 400,
            reassembly: ReassemblySection::default(),
        }
    }
}

/// `[allowlist_cache]`: Snort's allowlist LRU.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowlistConfig {
    /// Keep flows with an allow verdict in their own LRU, out of the timeout sweep.
    pub enable: bool,
    /// When the cache is full, allowlist the oldest flows instead of pruning them.
    pub move_on_excess: bool,
    /// Extra slots for flows moved there on excess; 0 = `stream.max_flows`.
    pub max_flows: u32,
}

/// One protocol's `[flow-timeouts.*]` table, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtoTimeouts {
    /// While only one direction was seen (TCP: before the handshake completes).
    pub new: u32,
    /// Once both directions were seen (TCP: established).
    pub established: u32,
    /// After a TCP close or reset.
    #[serde(default)]
    pub closed: u32,
}

/// `[flow-timeouts]`: Suricata's shipped defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowTimeouts {
    /// IP protocols other than TCP, UDP and ICMP.
    pub default: ProtoTimeouts,
    /// TCP.
    pub tcp: ProtoTimeouts,
    /// UDP.
    pub udp: ProtoTimeouts,
    /// ICMP and ICMPv6.
    pub icmp: ProtoTimeouts,
}

impl Default for FlowTimeouts {
    fn default() -> Self {
        let t = |new, established, closed| ProtoTimeouts {
            new,
            established,
            closed,
        };
        FlowTimeouts {
            default: t(30, 300, 0),
            tcp: t(60, 600, 60),
            udp: t(30, 300, 0),
            icmp: t(30, 300, 0),
        }
    }
}

/// `[vlan]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VlanConfig {
    /// VLAN ids are part of the flow key (Suricata `vlan.use-for-tracking`).
    #[serde(rename = "use-for-tracking")]
    pub use_for_tracking: bool,
}

impl Default for VlanConfig {
    fn default() -> Self {
        VlanConfig {
            use_for_tracking: true,
        }
    }
}

/// `[decoder.recursion-level]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecursionConfig {
    /// The tunnel depth is part of the flow key (Suricata
    /// `decoder.recursion-level.use-for-tracking`).
    #[serde(rename = "use-for-tracking")]
    pub use_for_tracking: bool,
}

impl Default for RecursionConfig {
    fn default() -> Self {
        RecursionConfig {
            use_for_tracking: true,
        }
    }
}

/// A UDP tunnel's `[decoder.<tunnel>]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpTunnelConfig {
    /// Open this tunnel.
    pub enabled: bool,
    /// Its UDP ports, as Suricata writes them: `"4789"`, `"4789,8472"` or
    /// `"[4789, 8472]"` (at most 8).
    pub ports: String,
}

impl UdpTunnelConfig {
    fn on(ports: &str) -> Self {
        UdpTunnelConfig {
            enabled: true,
            ports: ports.into(),
        }
    }

    fn port_set(&self, name: &str) -> Result<PortSet, ConfigError> {
        if !self.enabled {
            return Ok(PortSet::EMPTY);
        }
        PortSet::parse(&self.ports).map_err(|e| {
            ConfigError::Invalid(format!("decoder.{name}.ports '{}': {e}", self.ports))
        })
    }
}

/// A tunnel's on/off switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enabled {
    /// Open this tunnel.
    pub enabled: bool,
}

/// `[decoder.erspan]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErspanConfig {
    /// `[decoder.erspan.typeI]`: ERSPAN type I (GRE 0x88be without a sequence number
    /// and without an ERSPAN header). Off by default, as in Suricata.
    #[serde(rename = "typeI")]
    pub type_one: Enabled,
}

/// `[decoder]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecoderConfig {
    /// Most IP layers decoded per frame (tunnels inside tunnels); the packet of the
    /// deepest allowed layer is tracked with its tunnel unopened (Suricata
    /// `decoder.max-layers`).
    #[serde(rename = "max-layers")]
    pub max_layers: u8,
    /// `[decoder.recursion-level]`
    #[serde(rename = "recursion-level")]
    pub recursion_level: RecursionConfig,
    /// `[decoder.ipip]`: IPv4/IPv6 in IPv4/IPv6 (protocols 4 and 41).
    pub ipip: Enabled,
    /// `[decoder.gre]`: GRE, ERSPAN and PPTP.
    pub gre: Enabled,
    /// `[decoder.erspan]`
    pub erspan: ErspanConfig,
    /// `[decoder.vxlan]`: VXLAN by destination port (Suricata default 4789).
    pub vxlan: UdpTunnelConfig,
    /// `[decoder.geneve]`: Geneve by destination port (6081).
    pub geneve: UdpTunnelConfig,
    /// `[decoder.teredo]`: Teredo by either port (3544).
    pub teredo: UdpTunnelConfig,
    /// `[decoder.gtp]`: GTP-U by either port (2152). Suricata does not open GTP-U;
    /// nDPI does.
    pub gtp: UdpTunnelConfig,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_layers: 16,
            recursion_level: RecursionConfig::default(),
            ipip: Enabled { enabled: true },
            gre: Enabled { enabled: true },
            erspan: ErspanConfig {
                type_one: Enabled { enabled: false },
            },
            vxlan: UdpTunnelConfig::on("4789"),
            geneve: UdpTunnelConfig::on("6081"),
            teredo: UdpTunnelConfig::on("3544"),
            gtp: UdpTunnelConfig::on("2152"),
        }
    }
}

impl DecoderConfig {
    /// The tunnels to open.
    pub fn tunnels(&self) -> Result<TunnelConfig, ConfigError> {
        Ok(TunnelConfig {
            ipip: self.ipip.enabled,
            gre: self.gre.enabled,
            erspan_type1: self.erspan.type_one.enabled,
            vxlan: self.vxlan.port_set("vxlan")?,
            geneve: self.geneve.port_set("geneve")?,
            teredo: self.teredo.port_set("teredo")?,
            gtp: self.gtp.port_set("gtp")?,
            udp_filter: [0; 16],
        }
        .prepared())
    }
}

/// The `checksum` key: a [`ChecksumMode`] name, kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChecksumSetting(pub String);

impl Default for ChecksumSetting {
    fn default() -> Self {
        ChecksumSetting("none".into())
    }
}

impl ChecksumSetting {
    /// The mode.
    pub fn mode(&self) -> Result<ChecksumMode, ConfigError> {
        self.0
            .parse()
            .map_err(|e: ParseChecksumModeError| ConfigError::Invalid(format!("checksum: {e}")))
    }
}

/// `[defrag]`: IP reassembly (Snort's `stream_ip`, Suricata's `defrag`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefragSection {
    /// Reassemble fragmented IPv4 and IPv6 datagrams before flow lookup. Off: each
    /// fragment is counted on its own (the first with its ports, the others without).
    pub enabled: bool,
    /// Fragments held at once (Snort `stream_ip.max_frags`).
    pub max_frags: u32,
    /// Datagrams being reassembled at once.
    pub max_datagrams: u32,
    /// Bytes of fragments held at once.
    pub memcap: u64,
    /// Seconds after its first fragment that an incomplete datagram is given up
    /// (Snort `stream_ip.session_timeout`, Suricata `defrag.timeout`).
    pub timeout: u32,
    /// Overlap policy: first, last, bsd, bsd-right, linux, windows, solaris
    /// (Suricata `defrag.default-policy`).
    pub policy: String,
}

impl Default for DefragSection {
    fn default() -> Self {
        let d = DefragConfig::default();
        DefragSection {
            enabled: true,
            max_frags: d.max_frags,
            max_datagrams: d.max_datagrams,
            memcap: d.memcap as u64,
            timeout: d.timeout_secs,
            policy: d.policy.name().to_string(),
        }
    }
}

impl DefragSection {
    /// The defragmenter's settings.
    pub fn defrag_config(&self) -> Result<DefragConfig, ConfigError> {
        let policy: OverlapPolicy = self
            .policy
            .parse()
            .map_err(|e: DefragError| ConfigError::Invalid(format!("defrag.policy: {e}")))?;
        Ok(DefragConfig {
            max_frags: self.max_frags,
            timeout_secs: self.timeout,
            memcap: usize::try_from(self.memcap).unwrap_or(usize::MAX),
            max_datagrams: self.max_datagrams,
            policy,
        })
    }
}

/// `[flow]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowConfig {
    /// Hash seed; 0 draws a random one per run (`--deterministic` fixes it).
    pub hash_seed: u64,
    /// Track flows (the default). `false` only decodes and counts the packets: no
    /// flows, no records (a benchmark of the decoder alone).
    pub tracking: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            hash_seed: 0,
            tracking: true,
        }
    }
}

/// `[eve]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EveConfig {
    /// Write IPv6 addresses compressed (`fe80::1`) rather than in full.
    #[serde(rename = "ipv6-compress")]
    pub ipv6_compress: bool,
}

/// `[app-layer]`: inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppLayerConfig {
    /// Inspect flows (name their service, run the service and passive inspectors)
    /// when the program supplies inspectors. Off: a pure flow meter.
    pub enabled: bool,
    /// Per protocol, by EVE name: `enabled = "yes"`, `"no"` (not detected, not
    /// inspected) or `"detection-only"` (named, not parsed), as Suricata's
    /// `app-layer.protocols.NAME.enabled`. Protocols not listed are on.
    pub protocols: std::collections::BTreeMap<String, ProtocolSetting>,
    /// `[app-layer.wizard]`
    pub wizard: WizardSection,
    /// `[app-layer.expectations]`
    pub expectations: ExpectationsSection,
    /// Passive inspectors to run, by name (built-in: `payload-sizes`).
    pub passive: Vec<String>,
}

impl Default for AppLayerConfig {
    fn default() -> Self {
        AppLayerConfig {
            enabled: true,
            protocols: Default::default(),
            wizard: WizardSection::default(),
            expectations: ExpectationsSection::default(),
            passive: Vec::new(),
        }
    }
}

impl AppLayerConfig {
    /// How `name` is configured: `Yes`, `No` or `DetectionOnly`.
    pub fn protocol(&self, name: &str) -> ProtocolMode {
        match self
            .protocols
            .get(name)
            .map(|p| p.enabled.to_ascii_lowercase())
        {
            Some(v) if matches!(v.as_str(), "no" | "false" | "off" | "0") => ProtocolMode::No,
            Some(v) if v == "detection-only" => ProtocolMode::DetectionOnly,
            _ => ProtocolMode::Yes,
        }
    }
}

/// What `app-layer.protocols.NAME.enabled` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolMode {
    /// Detected and inspected.
    Yes,
    /// Neither.
    No,
    /// Detected (named in `app_proto`), not parsed.
    DetectionOnly,
}

/// `[app-layer.protocols.NAME]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSetting {
    /// `yes`, `no` or `detection-only`.
    pub enabled: String,
}

/// `[app-layer.wizard]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WizardSection {
    /// Bytes per direction the wizard examines before it gives up (`failed`).
    #[serde(rename = "max-search-depth")]
    pub max_search_depth: u32,
}

impl Default for WizardSection {
    fn default() -> Self {
        WizardSection {
            max_search_depth: 8192,
        }
    }
}

/// `[app-layer.expectations]`: flows announced by another flow's inspector (FTP data
/// connections), named without detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpectationsSection {
    /// Most expectations waiting at once; the oldest is dropped for a new one. 0 turns
    /// expectations off.
    pub max: u32,
    /// Seconds (packet time) an expectation waits for its flow.
    pub timeout: u32,
}

impl Default for ExpectationsSection {
    fn default() -> Self {
        let d = crate::inspect::ExpectConfig::default();
        ExpectationsSection {
            max: d.max,
            timeout: d.timeout_secs,
        }
    }
}

impl ExpectationsSection {
    /// The expectation table's limits.
    pub fn expect_config(&self) -> crate::inspect::ExpectConfig {
        crate::inspect::ExpectConfig {
            max: self.max,
            timeout_secs: self.timeout,
        }
    }
}

/// `[binder]`: which service inspector handles a service, and services given by port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinderConfig {
    /// Service name -> inspector name, over the default (the inspector that declares
    /// the service).
    pub services: std::collections::BTreeMap<String, String>,
    /// Flows to these server ports get a service without the wizard (Snort's binder
    /// `when.ports`).
    pub ports: Vec<PortBind>,
}

/// One `[[binder.ports]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortBind {
    /// `tcp` or `udp`.
    pub proto: String,
    /// Ports: `"8080"`, `"8080,8443"`.
    pub ports: String,
    /// The service (EVE name).
    pub service: String,
}

/// `[plugins]`: inspectors loaded from shared libraries at start-up (see the
/// `flowengine-plugin-host` crate), and each plugin's own `[plugins.NAME]` table.
///
/// `path` and `strict` are the only plain keys; every other key must be a table, the
/// settings of the plugin of that name, handed to it as JSON. A plain key that is not
/// one of these two is an error that names it, as for every other table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginsSection {
    /// Plugin libraries, or directories whose `*.so` files are loaded (in name order).
    pub path: Vec<String>,
    /// Any plugin refused (missing, not a plugin, another SDK version) stops the
    /// program instead of being skipped with an error line.
    pub strict: bool,
    /// `[plugins.NAME]` tables by plugin name, as JSON objects.
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Serialize for PluginsSection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2 + self.settings.len()))?;
        m.serialize_entry("path", &self.path)?;
        m.serialize_entry("strict", &self.strict)?;
        for (k, v) in &self.settings {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for PluginsSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut m = std::collections::BTreeMap::<String, serde_json::Value>::deserialize(d)?;
        let mut out = PluginsSection::default();
        match m.remove("path") {
            None => {}
            Some(serde_json::Value::String(s)) => {
                out.path = s
                    .split(':')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            Some(serde_json::Value::Array(a)) => {
                for v in a {
                    match v {
                        serde_json::Value::String(s) => out.path.push(s),
                        _ => return Err(D::Error::custom("plugins.path: expected strings")),
                    }
                }
            }
            Some(_) => {
                return Err(D::Error::custom(
                    "plugins.path: expected a list of paths or a string",
                ))
            }
        }
        match m.remove("strict") {
            None => {}
            Some(serde_json::Value::Bool(b)) => out.strict = b,
            Some(_) => return Err(D::Error::custom("plugins.strict: expected a boolean")),
        }
        for (k, v) in m {
            if !v.is_object() {
                return Err(D::Error::custom(format!(
                    "unknown key plugins.{k}: a plugin's settings are a table, [plugins.{k}]"
                )));
            }
            out.settings.insert(k, v);
        }
        Ok(out)
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Checksum validation: `auto`, `all` (`yes`) or `none` (`no`), as Suricata's
    /// `-k` / `checksum-validation`.
    pub checksum: ChecksumSetting,
    /// `[stream]`
    pub stream: StreamConfig,
    /// `[allowlist_cache]`
    pub allowlist_cache: AllowlistConfig,
    /// `[flow-timeouts]`
    #[serde(rename = "flow-timeouts")]
    pub flow_timeouts: FlowTimeouts,
    /// `[vlan]`
    pub vlan: VlanConfig,
    /// `[decoder]`
    pub decoder: DecoderConfig,
    /// `[defrag]`
    pub defrag: DefragSection,
    /// `[flow]`
    pub flow: FlowConfig,
    /// `[eve]`
    pub eve: EveConfig,
    /// `[app-layer]`
    #[serde(rename = "app-layer")]
    pub app_layer: AppLayerConfig,
    /// `[binder]`
    pub binder: BinderConfig,
    /// `[plugins]`
    pub plugins: PluginsSection,
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed, or a key is unknown or wrongly typed.
    #[error("bad config{}: {message}", .path.as_deref().map(|p| format!(" {p}")).unwrap_or_default())]
    Parse {
        /// The file, if any.
        path: Option<String>,
        /// What is wrong (names the key).
        message: String,
    },
    /// An override is not `key=value`.
    #[error("bad --set '{0}': expected KEY=VALUE")]
    SetSyntax(String),
    /// An override's value does not fit its key.
    #[error("bad --set {key}={value}: expected {expected}")]
    SetValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What the key takes.
        expected: &'static str,
    },
    /// A value is out of range.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// What became of one `--set`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// The key exists and took the value.
    Applied,
    /// No such key: ignored.
    Ignored,
}

/// A configuration being assembled from a file and overrides.
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    table: toml::Table,
    schema: toml::Table,
    path: Option<String>,
}

impl Config {
    /// The reference configuration file: every key, its default and what it does.
    pub const REFERENCE: &'static str = include_str!("../config/flowengine.toml");

    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut b = ConfigBuilder::new();
        b.merge_toml(text, None)?;
        b.build()
    }

    /// The TCP reassembly limits.
    pub fn reassembly_config(&self) -> crate::stream::ReassemblyConfig {
        let r = &self.stream.reassembly;
        crate::stream::ReassemblyConfig {
            max_segments: r.max_segments,
            max_bytes: r.max_bytes,
            depth: r.depth,
        }
    }

    /// The flow cache settings. `deterministic` fixes the hash seed.
    pub fn cache_config(&self, deterministic: bool) -> CacheConfig {
        let mut t = Timeouts::default();
        let ft = &self.flow_timeouts;
        for (class, pt) in [
            (ProtoClass::Ip, ft.default),
            (ProtoClass::Tcp, ft.tcp),
            (ProtoClass::Udp, ft.udp),
            (ProtoClass::Icmp, ft.icmp),
            (ProtoClass::User, ft.default),
            (ProtoClass::File, ft.default),
        ] {
            t.set(class, FlowState::New, pt.new);
            t.set(class, FlowState::Established, pt.established);
            t.set(class, FlowState::Closed, pt.closed);
        }
        let seed = if deterministic {
            Some(KeyHasher::DETERMINISTIC_SEED)
        } else if self.flow.hash_seed != 0 {
            Some(self.flow.hash_seed)
        } else {
            None
        };
        CacheConfig {
            max_flows: self.stream.max_flows,
            pruning_timeout: self.stream.pruning_timeout,
            prune_flows: self.stream.prune_flows,
            memcap: self.stream.memcap,
            allowlist: self.allowlist_cache.enable,
            move_to_allowlist_on_excess: self.allowlist_cache.move_on_excess,
            allowlist_max_flows: self.allowlist_cache.max_flows,
            timeouts: t,
            hash_seed: seed,
        }
    }

    /// TCP tracking options.
    pub fn tcp_options(&self) -> TcpOptions {
        TcpOptions {
            midstream: self.stream.midstream,
            async_oneside: self.stream.async_oneside,
        }
    }

    /// What enters the flow key.
    pub fn key_options(&self) -> KeyOptions {
        KeyOptions {
            vlan: self.vlan.use_for_tracking,
            depth: self.decoder.recursion_level.use_for_tracking,
        }
    }

    /// Checks value ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.stream.max_flows == 0 || self.stream.max_flows > u32::MAX / 4 {
            return Err(ConfigError::Invalid(format!(
                "stream.max_flows must be between 1 and {}, not {}",
                u32::MAX / 4,
                self.stream.max_flows
            )));
        }
        const POLICIES: [&str; 8] = [
            "ignore",
            "auto",
            "bypass",
            "pass-flow",
            "pass-packet",
            "drop-flow",
            "drop-packet",
            "reject",
        ];
        if !POLICIES.contains(&self.stream.midstream_policy.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "stream.midstream-policy must be one of {}, not '{}'",
                POLICIES.join(", "),
                self.stream.midstream_policy
            )));
        }
        if self.decoder.max_layers == 0 {
            return Err(ConfigError::Invalid(
                "decoder.max-layers must be at least 1".into(),
            ));
        }
        self.decoder.tunnels()?;
        self.defrag.defrag_config()?;
        self.checksum.mode()?;
        if self.stream.prune_flows == 0 {
            return Err(ConfigError::Invalid(
                "stream.prune_flows must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigBuilder {
    /// Starts from the defaults.
    pub fn new() -> Self {
        // Start from every default, so a file or override that sets one key of a table
        // keeps the table's other defaults (which differ per table).
        let schema = toml::Table::try_from(Config::default()).unwrap_or_default();
        ConfigBuilder {
            table: schema.clone(),
            schema,
            path: None,
        }
    }

    /// Reads a TOML file over what is there.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.merge_toml(&text, Some(path.display().to_string()))
    }

    /// Parses TOML text over what is there.
    pub fn merge_toml(&mut self, text: &str, path: Option<String>) -> Result<(), ConfigError> {
        let t: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?;
        merge(&mut self.table, t);
        self.path = path;
        Ok(())
    }

    /// Applies one `KEY=VALUE` override.
    pub fn set(&mut self, assignment: &str) -> Result<SetOutcome, ConfigError> {
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| ConfigError::SetSyntax(assignment.to_string()))?;
        let key = key.trim();
        let value = value.trim();
        let parts: Vec<&str> = key.split('.').collect();
        if key.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::SetSyntax(assignment.to_string()));
        }
        if let ["app-layer", "protocols", name, "enabled"] = parts.as_slice() {
            // Protocol names are open-ended (plugins add their own): any is taken.
            let v = toml::Value::String(value.to_string());
            insert(
                &mut self.table,
                &["app-layer", "protocols", name, "enabled"],
                v,
            );
            return Ok(SetOutcome::Applied);
        }
        let Some(default) = lookup(&self.schema, &parts) else {
            return Ok(SetOutcome::Ignored);
        };
        let bad = |expected| ConfigError::SetValue {
            key: key.to_string(),
            value: value.to_string(),
            expected,
        };
        let v = match default {
            toml::Value::Boolean(_) => {
                toml::Value::Boolean(match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" | "1" => true,
                    "false" | "no" | "off" | "0" => false,
                    _ => return Err(bad("a boolean (true/false/yes/no)")),
                })
            }
            toml::Value::Integer(_) => {
                toml::Value::Integer(value.parse::<i64>().map_err(|_| bad("an integer"))?)
            }
            toml::Value::Float(_) => {
                toml::Value::Float(value.parse::<f64>().map_err(|_| bad("a number"))?)
            }
            toml::Value::String(_) => toml::Value::String(value.to_string()),
            _ => return Err(bad("a single value, not a table")),
        };
        insert(&mut self.table, &parts, v);
        Ok(SetOutcome::Applied)
    }

    /// The configuration, validated.
    pub fn build(&self) -> Result<Config, ConfigError> {
        let cfg: Config = self
            .table
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: self.path.clone(),
                message: e.to_string().trim().to_string(),
            })?;
        cfg.validate()?;
        Ok(cfg)
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn lookup<'a>(t: &'a toml::Table, parts: &[&str]) -> Option<&'a toml::Value> {
    let (first, rest) = parts.split_first()?;
    let v = t.get(*first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        lookup(v.as_table()?, rest)
    }
}

fn insert(t: &mut toml::Table, parts: &[&str], v: toml::Value) {
    let (first, rest) = parts.split_first().expect("non-empty key");
    if rest.is_empty() {
        t.insert(first.to_string(), v);
        return;
    }
    let entry = t
        .entry(first.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    if let toml::Value::Table(sub) = entry {
        insert(sub, rest, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_file_is_exactly_the_defaults_and_names_every_key() {
        let parsed = Config::from_toml(Config::REFERENCE).expect("reference parses");
        assert_eq!(parsed, Config::default());
        // Every key of the schema appears in the reference file (uncommented).
        let reference: toml::Table = Config::REFERENCE.parse().unwrap();
        let schema = toml::Table::try_from(Config::default()).unwrap();
        fn keys(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
            for (k, v) in t {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    toml::Value::Table(sub) => keys(sub, &p, out),
                    _ => out.push(p),
                }
            }
        }
        let (mut a, mut b) = (vec![], vec![]);
        keys(&reference, "", &mut a);
        keys(&schema, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn overrides_take_the_key_type_and_unknown_keys_are_ignored() {
        let mut b = ConfigBuilder::new();
        assert_eq!(b.set("stream.midstream=yes").unwrap(), SetOutcome::Applied);
        assert_eq!(
            b.set("flow-timeouts.tcp.new = 5").unwrap(),
            SetOutcome::Applied
        );
        assert_eq!(b.set("cli.simulate-ips=true").unwrap(), SetOutcome::Ignored);
        assert_eq!(b.set("checksum=none").unwrap(), SetOutcome::Applied);
        assert_eq!(b.set("stream.nope=1").unwrap(), SetOutcome::Ignored);
        let c = b.build().unwrap();
        assert!(c.stream.midstream);
        assert_eq!(c.flow_timeouts.tcp.new, 5);
        assert_eq!(c.flow_timeouts.tcp.established, 600);
        assert!(matches!(
            b.set("stream.max_flows=lots"),
            Err(ConfigError::SetValue { .. })
        ));
        assert!(matches!(b.set("novalue"), Err(ConfigError::SetSyntax(_))));
    }

    #[test]
    fn bad_files_name_the_problem() {
        let e = Config::from_toml("[stream]\nmax_flow = 3\n").unwrap_err();
        assert!(e.to_string().contains("max_flow"), "{e}");
        let e = Config::from_toml("[stream]\nmax_flows = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("max_flows"), "{e}");
        let e = Config::from_toml("[stream\n").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));
        let e = Config::from_toml("[stream]\nmax_flows = 0\n").unwrap_err();
        assert!(matches!(e, ConfigError::Invalid(_)));
    }

    #[test]
    fn file_then_overrides() {
        let mut b = ConfigBuilder::new();
        b.merge_toml("[stream]\nmax_flows = 10\nmidstream = true\n", None)
            .unwrap();
        b.set("stream.max_flows=20").unwrap();
        let c = b.build().unwrap();
        assert_eq!(c.stream.max_flows, 20);
        assert!(c.stream.midstream);
        let cc = c.cache_config(true);
        assert_eq!(cc.max_flows, 20);
        assert_eq!(cc.hash_seed, Some(KeyHasher::DETERMINISTIC_SEED));
        assert_eq!(cc.timeouts.get(ProtoClass::Tcp, FlowState::Closed), 60);
    }

    #[test]
    fn plugins_paths_and_tables() {
        let c = Config::from_toml(
            "[plugins]\npath = [\"/opt/p\", \"/x.so\"]\nstrict = true\n[plugins.allow-cidr]\ncidrs = [\"10.0.0.0/8\"]\n[plugins.memcached.deep]\nn = 3\n",
        )
        .unwrap();
        assert_eq!(c.plugins.path, ["/opt/p", "/x.so"]);
        assert!(c.plugins.strict);
        assert_eq!(
            c.plugins.settings["allow-cidr"],
            serde_json::json!({"cidrs": ["10.0.0.0/8"]})
        );
        assert_eq!(c.plugins.settings["memcached"]["deep"]["n"], 3);
        let c = Config::from_toml("[plugins]\npath = \"/a:/b\"\n").unwrap();
        assert_eq!(c.plugins.path, ["/a", "/b"]);
        assert!(!c.plugins.strict);
        let e = Config::from_toml("[plugins]\npaths = [\"/a\"]\n").unwrap_err();
        assert!(e.to_string().contains("plugins.paths"), "{e}");
        let e = Config::from_toml("[plugins]\nstrict = 1\n").unwrap_err();
        assert!(e.to_string().contains("plugins.strict"), "{e}");
        // A file that sets nothing under [plugins] keeps the defaults.
        let c = Config::from_toml("[stream]\nmax_flows = 10\n").unwrap();
        assert_eq!(c.plugins, PluginsSection::default());
    }

    #[test]
    fn app_layer_protocols_and_binder() {
        let mut b = ConfigBuilder::new();
        assert_eq!(
            b.set("app-layer.protocols.sip.enabled=no").unwrap(),
            SetOutcome::Applied
        );
        b.set("app-layer.protocols.enip.enabled=detection-only")
            .unwrap();
        b.set("app-layer.protocols.mqtt.enabled=yes").unwrap();
        b.set("app-layer.wizard.max-search-depth=100").unwrap();
        b.set("app-layer.expectations.max=16").unwrap();
        b.set("app-layer.expectations.timeout=5").unwrap();
        let c = b.build().unwrap();
        assert_eq!(
            c.app_layer.expectations.expect_config(),
            crate::inspect::ExpectConfig {
                max: 16,
                timeout_secs: 5
            }
        );
        assert_eq!(Config::default().app_layer.expectations.max, 1024);
        assert_eq!(Config::default().app_layer.expectations.timeout, 60);
        assert_eq!(c.app_layer.protocol("sip"), ProtocolMode::No);
        assert_eq!(c.app_layer.protocol("enip"), ProtocolMode::DetectionOnly);
        assert_eq!(c.app_layer.protocol("mqtt"), ProtocolMode::Yes);
        assert_eq!(c.app_layer.protocol("http"), ProtocolMode::Yes);
        assert_eq!(c.app_layer.wizard.max_search_depth, 100);
        let c = Config::from_toml(
            "[binder]\nservices = { http = \"alt\" }\n[[binder.ports]]\nproto = \"tcp\"\nports = \"8080\"\nservice = \"http\"\n",
        )
        .unwrap();
        assert_eq!(c.binder.services["http"], "alt");
        assert_eq!(c.binder.ports[0].ports, "8080");
        assert!(Config::from_toml("[binder]\nport = []\n").is_err());
    }
}
