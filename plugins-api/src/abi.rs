//! The types that cross the library boundary, all `#[repr(C)]` and `StableAbi`.
//!
//! Contract: the host owns the engine-side view of a plugin: it calls [`PluginMod`]'s
//! constructor once per configuration, asks each [`FfiInspector`] for its
//! [`InspectorDecl`] once, starts an [`FfiFlow`] per flow, and hands it chunks with an
//! [`FfiCx`] it reuses (the plugin adds events and a verdict to it; the host applies
//! them after the call). Every call returns an `RResult` whose error is a
//! [`PluginError`] (a panic caught by the SDK, or an error the plugin returned).
//! Plugin authors do not implement these traits: the SDK's adapters in
//! [`crate::inspector`] do, around the author's ordinary Rust traits.

// abi_stable's derives name the prefix reference `PluginMod_Ref` and implement traits
// inside generated modules.
#![allow(non_camel_case_types, non_local_definitions)]

use crate::event::Event;
use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec};
use abi_stable::{declare_root_module_statics, package_version_strings, sabi_trait, StableAbi};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A direction of a flow.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// A verdict a plugin gives its flow.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// No verdict (nothing asked).
    #[default]
    None,
    /// Trusted: with `[allowlist_cache] enable = true` the flow moves to the
    /// allowlist LRU, out of the timeout sweep.
    Allow,
    /// Blocked: never pruned to make room, kept until it times out.
    Block,
    /// This inspector wants nothing more of the flow (the other inspectors go on).
    Ignore,
}

/// The transport of a flow.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP: chunks are reassembled stream bytes, in order, with gaps reported.
    Tcp,
    /// UDP: one chunk per datagram.
    Udp,
    /// Another IP protocol (its number is [`FlowStart::ip_proto`]).
    Other,
}

/// One end of a flow.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The address: IPv4 in the first 4 bytes when `v4`, else IPv6.
    pub addr: [u8; 16],
    /// IPv4.
    pub v4: bool,
    /// The port (0 without ports).
    pub port: u16,
}

impl Endpoint {
    /// An endpoint from an address and a port.
    pub fn new(ip: IpAddr, port: u16) -> Self {
        let mut addr = [0u8; 16];
        let v4 = match ip {
            IpAddr::V4(a) => {
                addr[..4].copy_from_slice(&a.octets());
                true
            }
            IpAddr::V6(a) => {
                addr = a.octets();
                false
            }
        };
        Endpoint { addr, v4, port }
    }

    /// The address.
    pub fn ip(&self) -> IpAddr {
        if self.v4 {
            let [a, b, c, d, ..] = self.addr;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.addr))
        }
    }
}

/// Read-only facts about a flow, given when an inspector starts on it.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowStart {
    /// The flow's id (as in its EVE records).
    pub flow_id: u64,
    /// The transport.
    pub transport: Transport,
    /// The IP protocol number.
    pub ip_proto: u8,
    /// The client (the side that opened the flow, as far as the engine knows).
    pub client: Endpoint,
    /// The server.
    pub server: Endpoint,
}

/// A chunk of payload as it crosses the boundary.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfiChunk<'a> {
    /// The next bytes of the direction.
    Data(RSlice<'a, u8>),
    /// This many bytes are missing before the next data (a TCP hole).
    Gap(u32),
}

/// What a call asks of the engine: the host clears it before each call and applies
/// it after.
#[repr(C)]
#[derive(StableAbi, Debug, Default)]
pub struct FfiCx {
    /// Packet time of the data, in nanoseconds since the Unix epoch.
    pub now_ns: u64,
    /// The verdict asked for ([`Verdict::None`]: none).
    pub verdict: Verdict,
    /// No more data for this inspector on this flow.
    pub done: bool,
    /// Events, in the order emitted.
    pub events: RVec<Event>,
}

impl FfiCx {
    /// Clears what the last call asked, keeping the event list's memory.
    pub fn reset(&mut self, now_ns: u64) {
        self.now_ns = now_ns;
        self.verdict = Verdict::None;
        self.done = false;
        self.events.clear();
    }
}

/// What kind of inspector.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Inspects the flows of the services it declares (one per flow).
    Service,
    /// Sees every flow that carries payload.
    Passive,
}

/// How a wizard pattern is written (Snort's `wizard.hexes` / `wizard.spells`).
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatternSyntax {
    /// Hex syntax: `|16 03|`, `?` wildcards, text between bars.
    Hex,
    /// Spell syntax: a case-insensitive glob, `*` any bytes, `**` a literal star.
    Spell,
}

/// Which transport a pattern applies to.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatternTransport {
    /// TCP streams.
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// Who sends the bytes a pattern matches.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client (requests, commands): seen from the server, client and server swap.
    Client,
    /// The server (banners, replies): seen from the client, they swap.
    Server,
    /// Either side (says nothing about direction).
    Either,
}

/// A wizard pattern naming a service from the first bytes of a direction.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The service it names (one the inspector declares).
    pub service: RString,
    /// Hex or spell.
    pub syntax: PatternSyntax,
    /// TCP or UDP.
    pub transport: PatternTransport,
    /// Who sends it.
    pub side: Side,
    /// The pattern text (at most 256 bytes).
    pub pattern: RString,
}

impl Pattern {
    /// A spell (case-insensitive glob) sent by the client over TCP.
    pub fn spell(service: &str, pattern: &str) -> Self {
        Pattern {
            service: service.into(),
            syntax: PatternSyntax::Spell,
            transport: PatternTransport::Tcp,
            side: Side::Client,
            pattern: pattern.into(),
        }
    }

    /// A hex pattern sent by the client over TCP.
    pub fn hex(service: &str, pattern: &str) -> Self {
        Pattern {
            syntax: PatternSyntax::Hex,
            ..Pattern::spell(service, pattern)
        }
    }

    /// The same pattern, over UDP.
    pub fn udp(mut self) -> Self {
        self.transport = PatternTransport::Udp;
        self
    }

    /// The same pattern, sent by `side`.
    pub fn side(mut self, side: Side) -> Self {
        self.side = side;
        self
    }
}

/// What an inspector is, as the host registers it.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct InspectorDecl {
    /// Its name (unique in an engine; statistics and `[binder]` use it).
    pub name: RString,
    /// Service or passive.
    pub kind: Kind,
    /// The services (EVE `app_proto` names) a service inspector handles.
    pub services: RVec<RString>,
    /// Wizard patterns for those services.
    pub patterns: RVec<Pattern>,
    /// Port hints: the patterns outrank rules without a port hint on these ports.
    pub ports: RVec<u16>,
}

/// Why a call into a plugin failed.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginErrorKind {
    /// The plugin's code panicked (caught by the SDK).
    Panic,
    /// The plugin returned an error.
    Failed,
    /// The flow state was used after an earlier panic.
    Poisoned,
}

/// An error from a plugin: a caught panic or a returned error, with its message.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    /// What happened.
    pub kind: PluginErrorKind,
    /// The panic message or the error text.
    pub message: RString,
}

impl PluginError {
    /// An error the plugin returns (a bad configuration, ...).
    pub fn msg(message: impl std::fmt::Display) -> Self {
        PluginError {
            kind: PluginErrorKind::Failed,
            message: message.to_string().into(),
        }
    }

    /// True when this is a caught panic.
    pub fn is_panic(&self) -> bool {
        self.kind == PluginErrorKind::Panic
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            PluginErrorKind::Panic => write!(f, "panicked: {}", self.message),
            PluginErrorKind::Failed => write!(f, "{}", self.message),
            PluginErrorKind::Poisoned => write!(f, "used after a panic: {}", self.message),
        }
    }
}

impl std::error::Error for PluginError {}

/// An inspector as the host sees it. Made only by [`crate::InspectorBox`] from the
/// author's [`crate::ServiceInspector`] or [`crate::PassiveInspector`], whose calls it
/// guards against panics.
#[sabi_trait]
pub trait FfiInspector: Send + Sync {
    /// What it is: name, kind, services, wizard patterns, port hints.
    fn decl(&self) -> RResult<InspectorDecl, PluginError>;

    /// Starts inspecting a flow; `None` leaves the flow alone.
    fn start(&self, flow: &FlowStart) -> RResult<ROption<FfiFlowBox>, PluginError>;
}

/// An inspector crossing the boundary.
pub type FfiInspectorBox = FfiInspector_TO<'static, RBox<()>>;

/// An inspector's state on one flow as the host sees it (made by the SDK around the
/// author's [`crate::PluginFlow`]; dropping it drops the author's state, guarded too).
#[sabi_trait]
pub trait FfiFlow: Send {
    /// The next chunk of direction `dir`.
    fn data(
        &mut self,
        cx: &mut FfiCx,
        dir: Direction,
        chunk: FfiChunk<'_>,
    ) -> RResult<(), PluginError>;

    /// The flow ends.
    fn end(&mut self, cx: &mut FfiCx) -> RResult<(), PluginError>;
}

/// A flow state crossing the boundary.
pub type FfiFlowBox = FfiFlow_TO<'static, RBox<()>>;

/// The root module of a plugin library.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginMod_Ref)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// [`crate::ABI_VERSION`] as the plugin was built.
    pub abi_version: u32,
    /// The plugin's name: `[plugins.NAME]` is its table; duplicates keep the highest
    /// version.
    pub name: RStr<'static>,
    /// The plugin's version (semver: `1.2.3`).
    pub version: RStr<'static>,
    /// Builds the plugin's inspectors from its `[plugins.NAME]` table (JSON text; `{}`
    /// when absent). Called at start-up and at each configuration reload.
    #[sabi(last_prefix_field)]
    pub inspectors: extern "C" fn(config: RStr<'_>) -> RResult<RVec<FfiInspectorBox>, PluginError>,
}

impl RootModule for PluginMod_Ref {
    declare_root_module_statics! {PluginMod_Ref}
    const BASE_NAME: &'static str = "flowengine_plugin";
    const NAME: &'static str = "flowengine_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_round_trip_both_families() {
        for ip in ["10.1.2.3", "2001:db8::7"] {
            let ip: IpAddr = ip.parse().unwrap();
            let e = Endpoint::new(ip, 80);
            assert_eq!((e.ip(), e.port), (ip, 80));
        }
    }

    #[test]
    fn a_cx_reset_clears_what_was_asked() {
        let mut cx = FfiCx {
            now_ns: 1,
            verdict: Verdict::Block,
            done: true,
            events: RVec::new(),
        };
        cx.events.push(Event::new("x"));
        cx.reset(7);
        assert_eq!(
            (cx.now_ns, cx.verdict, cx.done, cx.events.len()),
            (7, Verdict::None, false, 0)
        );
    }

    #[test]
    fn pattern_builders() {
        let p = Pattern::hex("x", "|00 01|").udp().side(Side::Server);
        assert_eq!(
            (p.syntax, p.transport, p.side),
            (PatternSyntax::Hex, PatternTransport::Udp, Side::Server)
        );
        assert_eq!(PluginError::msg("bad").to_string(), "bad");
    }
}
