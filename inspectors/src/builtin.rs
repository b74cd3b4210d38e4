//! The built-in inspector set, built from an engine configuration.
//!
//! Contract: [`builtin`] returns the [`InspectorSet`] a program such as `pcap-replay`
//! hands the engine: the wizard (`app-layer.wizard.max-search-depth`), every built-in
//! service inspector whose protocol is enabled (`app-layer.protocols.NAME.enabled`:
//! `no` also keeps the wizard from naming it, `detection-only` names it without an
//! inspector), the passive inspectors listed in `app-layer.passive`, and the
//! `[binder]` overrides and port bindings. An empty set when `app-layer.enabled` is
//! off. Configuration mistakes (an unknown passive inspector, a bad port list, a
//! binder naming no service inspector) are errors that say which key.
//!
//! [`builtin_with`] does the same with an [`Extension`]: inspectors and wizard rules
//! from outside this crate (plugins). Its service inspectors come after the built-in
//! ones (a built-in declaring the same service stays its default; `[binder]` can
//! choose), under the same `app-layer.protocols.NAME.enabled` switches; its passive
//! inspectors always run (a plugin is loaded to be used); its hexes and spells come
//! before the built-in rules and may name the services its inspectors declare.

use crate::dns::DnsInspector;
use crate::ftp::FtpInspector;
use crate::http::HttpInspector;
use crate::http2::Http2Inspector;
use crate::imap::ImapInspector;
use crate::mdns::MdnsInspector;
use crate::pop3::Pop3Inspector;
use crate::quic::QuicInspector;
use crate::sizes::PayloadSizes;
use crate::smtp::SmtpInspector;
use crate::ssh::SshInspector;
use crate::tls::TlsInspector;
use crate::wizard::{Magic, Wizard, WizardConfig, WizardError};
use flowengine::config::{AppLayerConfig, Config, ProtocolMode};
use flowengine::inspect::{
    Inspector, InspectorKind, InspectorSet, PortBinding, SetError, Transport,
};
use std::sync::Arc;

/// Why the built-in set could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuiltinError {
    /// The wizard's settings are invalid.
    #[error("app-layer.wizard: {0}")]
    Wizard(#[from] WizardError),
    /// An inspector or binding could not be added.
    #[error("{0}")]
    Set(#[from] SetError),
    /// `app-layer.passive` names no built-in passive inspector.
    #[error("app-layer.passive: no passive inspector named '{0}' (built in: payload-sizes)")]
    UnknownPassive(String),
    /// A `[[binder.ports]]` entry is malformed.
    #[error("binder.ports: {0}")]
    Port(String),
}

/// Every built-in service inspector, in the order they are offered to the binder.
/// HTTP/2 renames DoH flows `doh2` unless that protocol is not fully enabled.
fn services(app: &AppLayerConfig) -> Vec<Arc<dyn Inspector>> {
    let doh2 = app.protocol("doh2") == ProtocolMode::Yes;
    vec![
        Arc::new(HttpInspector::new()),
        Arc::new(Http2Inspector::new().with_doh2(doh2)),
        Arc::new(TlsInspector::new()),
        Arc::new(DnsInspector::new()),
        Arc::new(MdnsInspector::new()),
        Arc::new(QuicInspector::new()),
        Arc::new(SshInspector::new()),
        Arc::new(SmtpInspector::new()),
        Arc::new(ImapInspector::new()),
        Arc::new(Pop3Inspector::new()),
        Arc::new(FtpInspector::new()),
    ]
}

/// Inspectors and wizard rules from outside this crate, for [`builtin_with`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Extension {
    /// Service and passive inspectors (a wizard is refused by the set: there is one).
    pub inspectors: Vec<Arc<dyn Inspector>>,
    /// Hexes, tried before the built-in rules; they may name the services of
    /// `inspectors`.
    pub hexes: Vec<Magic>,
    /// Spells, tried after `hexes`.
    pub spells: Vec<Magic>,
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extension")
            .field(
                "inspectors",
                &self.inspectors.iter().map(|i| i.name()).collect::<Vec<_>>(),
            )
            .field("hexes", &self.hexes)
            .field("spells", &self.spells)
            .finish()
    }
}

impl Extension {
    /// Nothing extra.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The built-in inspectors as `config` asks for them.
pub fn builtin(config: &Config) -> Result<InspectorSet, BuiltinError> {
    builtin_with(config, &Extension::new())
}

/// The built-in inspectors as `config` asks for them, with `ext`'s inspectors and
/// wizard rules.
pub fn builtin_with(config: &Config, ext: &Extension) -> Result<InspectorSet, BuiltinError> {
    let app = &config.app_layer;
    let mut set = InspectorSet::new();
    if !app.enabled {
        return Ok(set);
    }
    let mut wc = WizardConfig::default().with_max_search_depth(app.wizard.max_search_depth);
    wc.hexes = ext.hexes.clone();
    wc.spells = ext.spells.clone();
    wc.services = ext
        .inspectors
        .iter()
        .flat_map(|i| i.services().iter().copied())
        .collect();
    let wizard = Wizard::new(wc)?;
    set.add(Arc::new(wizard))?;
    for name in app.protocols.keys() {
        if app.protocol(name) == ProtocolMode::No {
            set.disable(name);
        }
    }
    for inspector in services(app).into_iter().chain(
        ext.inspectors
            .iter()
            .filter(|i| i.kind() == InspectorKind::Service)
            .cloned(),
    ) {
        let on = inspector
            .services()
            .iter()
            .all(|s| app.protocol(s) == ProtocolMode::Yes);
        if on {
            set.add(inspector)?;
        }
    }
    for name in &app.passive {
        match name.as_str() {
            PayloadSizes::NAME => {
                set.add(Arc::new(PayloadSizes))?;
            }
            other => return Err(BuiltinError::UnknownPassive(other.to_string())),
        }
    }
    for inspector in &ext.inspectors {
        if inspector.kind() != InspectorKind::Service {
            set.add(Arc::clone(inspector))?;
        }
    }
    for (service, inspector) in &config.binder.services {
        let service = set.intern(service);
        set.bind(service, inspector)?;
    }
    for p in &config.binder.ports {
        let transport = match p.proto.to_ascii_lowercase().as_str() {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            other => {
                return Err(BuiltinError::Port(format!(
                    "proto must be tcp or udp, not '{other}'"
                )))
            }
        };
        let service = set.intern(&p.service);
        for port in p.ports.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let port: u16 = port
                .parse()
                .map_err(|_| BuiltinError::Port(format!("'{port}' is not a port")))?;
            set.bind_port(PortBinding {
                transport,
                port,
                service,
            });
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowengine::ConfigBuilder;

    fn config(sets: &[&str]) -> Config {
        let mut b = ConfigBuilder::new();
        for s in sets {
            b.set(s).unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn the_default_set_has_the_wizard_and_every_service() {
        let set = builtin(&Config::default()).unwrap();
        assert!(set.wizard().is_some());
        for s in [
            "http", "http2", "doh2", "tls", "dns", "mdns", "quic", "ssh", "smtp", "imap", "pop3",
            "ftp",
        ] {
            assert!(set.service(s).is_some(), "{s}");
        }
        assert!(set.passives().is_empty());
    }

    #[test]
    fn protocols_can_be_disabled_or_detection_only_and_passives_named() {
        let set = builtin(&config(&[
            "app-layer.protocols.dns.enabled=no",
            "app-layer.protocols.tls.enabled=detection-only",
        ]))
        .unwrap();
        assert!(set.service("dns").is_none());
        assert!(set.is_disabled("dns"));
        assert!(set.service("tls").is_none());
        assert!(!set.is_disabled("tls"));
        // DoH2 off keeps HTTP/2 inspection, without the renaming.
        let set = builtin(&config(&["app-layer.protocols.doh2.enabled=no"])).unwrap();
        assert_eq!(
            set.service("http2").unwrap().inspector.services(),
            ["http2"]
        );
        assert!(set.service("doh2").is_none());
        let mut c = Config::default();
        c.app_layer.passive = vec!["payload-sizes".into()];
        assert_eq!(builtin(&c).unwrap().passives().len(), 1);
        c.app_layer.passive = vec!["nope".into()];
        assert!(matches!(builtin(&c), Err(BuiltinError::UnknownPassive(_))));
        c.app_layer.passive.clear();
        c.app_layer.enabled = false;
        assert!(builtin(&c).unwrap().is_empty());
    }

    struct Extra(&'static str, InspectorKind, &'static [&'static str]);

    impl Inspector for Extra {
        fn name(&self) -> &str {
            self.0
        }
        fn kind(&self) -> InspectorKind {
            self.1
        }
        fn services(&self) -> &[&'static str] {
            self.2
        }
        fn start(
            &self,
            _: &flowengine::inspect::FlowInfo,
        ) -> Option<Box<dyn flowengine::inspect::FlowData>> {
            None
        }
    }

    #[test]
    fn an_extension_adds_services_passives_and_wizard_rules() {
        use crate::wizard::Side;
        let mut ext = Extension::new();
        ext.inspectors.push(Arc::new(Extra(
            "memcached",
            InspectorKind::Service,
            &["memcached"],
        )));
        ext.inspectors
            .push(Arc::new(Extra("allow", InspectorKind::Passive, &[])));
        ext.spells.push(Magic {
            service: "memcached".into(),
            transport: Transport::Tcp,
            side: Side::Client,
            pattern: "get *".into(),
            ports: &[11211],
        });
        let set = builtin_with(&Config::default(), &ext).unwrap();
        assert_eq!(
            set.service("memcached").unwrap().inspector.name(),
            "memcached"
        );
        assert_eq!(set.service("http").unwrap().inspector.name(), "http");
        assert_eq!(set.passives().len(), 1);
        // The protocol switch applies to an extension's service too.
        let set =
            builtin_with(&config(&["app-layer.protocols.memcached.enabled=no"]), &ext).unwrap();
        assert!(set.service("memcached").is_none());
        assert!(set.is_disabled("memcached"));
        // A rule naming a service nobody declares is a wizard error.
        ext.inspectors.remove(0);
        assert!(matches!(
            builtin_with(&Config::default(), &ext),
            Err(BuiltinError::Wizard(WizardError::UnknownService(_)))
        ));
    }

    #[test]
    fn binder_ports_and_overrides() {
        let c = Config::from_toml(
            "[[binder.ports]]\nproto = \"tcp\"\nports = \"8080, 8081\"\nservice = \"http\"\n",
        )
        .unwrap();
        let set = builtin(&c).unwrap();
        assert_eq!(set.service_by_port(Transport::Tcp, 8081), Some("http"));
        let c = Config::from_toml("[binder]\nservices = { http = \"dns\" }\n").unwrap();
        let set = builtin(&c).unwrap();
        assert_eq!(set.service("http").unwrap().inspector.name(), "dns");
        let c = Config::from_toml("[binder]\nservices = { http = \"nothing\" }\n").unwrap();
        assert!(matches!(builtin(&c), Err(BuiltinError::Set(_))));
        let c = Config::from_toml(
            "[[binder.ports]]\nproto = \"sctp\"\nports = \"1\"\nservice = \"x\"\n",
        )
        .unwrap();
        assert!(builtin(&c)
            .unwrap_err()
            .to_string()
            .contains("binder.ports"));
    }
}
