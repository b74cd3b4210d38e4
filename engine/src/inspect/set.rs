//! The inspectors of one configuration generation, and the binder that picks a flow's
//! service inspector.
//!
//! Contract: an [`InspectorSet`] is built once per configuration (at start and at each
//! reload) and shared (`Arc`) by every flow that starts under it, so a flow keeps the
//! inspectors it started with until it ends. Each inspector gets an id unique across
//! the whole process (ids of a reloaded set never collide with the old one's). The
//! binder maps a service name to the service inspector that handles it: by default the
//! inspector that declares the service; `[binder]` overrides (service -> inspector
//! name) win; and port bindings give flows to a given server port a service without
//! asking the wizard (Snort's binder `when.ports`).

use super::{Inspector, InspectorKind, Transport};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Process-wide inspector ids (starting at 1).
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// An inspector with its id.
#[derive(Clone)]
pub struct Registered {
    /// The id (unique in the process).
    pub id: u32,
    /// The inspector.
    pub inspector: Arc<dyn Inspector>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("id", &self.id)
            .field("name", &self.inspector.name())
            .finish()
    }
}

/// A port binding: flows of `transport` whose server port is `port` get `service`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortBinding {
    /// TCP or UDP.
    pub transport: Transport,
    /// The server port.
    pub port: u16,
    /// The service (an EVE `app_proto` name).
    pub service: &'static str,
}

/// Why a set could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetError {
    /// Two inspectors share a name.
    #[error("two inspectors are named '{0}'")]
    DuplicateName(String),
    /// A second wizard.
    #[error("more than one wizard: '{0}' and '{1}'")]
    TwoWizards(String, String),
    /// A binder override names an inspector that does not exist or is not a service
    /// inspector.
    #[error(
        "binder: service '{service}' is bound to '{inspector}', which is not a service inspector"
    )]
    UnknownInspector {
        /// The service.
        service: String,
        /// The inspector name given.
        inspector: String,
    },
}

/// The inspectors of one configuration generation.
#[derive(Clone, Debug, Default)]
pub struct InspectorSet {
    wizard: Option<Registered>,
    services: Vec<Registered>,
    passives: Vec<Registered>,
    /// Service name -> index in `services` (looked up once per flow: a fast fixed
    /// hash, the names being the configuration's, not the traffic's).
    bound: HashMap<&'static str, usize, foldhash::fast::FixedState>,
    ports: Vec<PortBinding>,
    /// Services the wizard must not name (`app-layer.protocols.NAME.enabled = no`).
    disabled: Vec<String>,
}

/// One worker's handle on an inspector the workers share: the worker's flows count
/// their references to it here, on a cache line of the worker's own.
struct Handle(Arc<dyn Inspector>);

impl Inspector for Handle {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn kind(&self) -> InspectorKind {
        self.0.kind()
    }

    fn services(&self) -> &[&'static str] {
        self.0.services()
    }

    fn start(&self, flow: &super::FlowInfo) -> Option<Box<dyn super::FlowData>> {
        self.0.start(flow)
    }

    fn fork(&self) -> Option<Arc<dyn Inspector>> {
        self.0.fork()
    }
}

impl InspectorSet {
    /// This set for one worker thread of several: the same ids, bindings and
    /// inspectors, each [forked](Inspector::fork), or else held through a handle of
    /// the worker's own. Flows on different workers then share no reference count (a
    /// flow holds its inspectors), so starting and ending flows on one core does not
    /// take cache lines from another. An inspector is still dropped once the last
    /// flow on any worker that holds it ends.
    pub fn for_worker(&self) -> InspectorSet {
        let mut set = self.clone();
        let all = set
            .wizard
            .iter_mut()
            .chain(&mut set.services)
            .chain(&mut set.passives);
        for r in all {
            r.inspector = match r.inspector.fork() {
                Some(fork) => fork,
                None => Arc::new(Handle(Arc::clone(&r.inspector))),
            };
        }
        set
    }

    /// An empty set (a pure flow meter).
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the set has no inspector at all.
    pub fn is_empty(&self) -> bool {
        self.wizard.is_none() && self.services.is_empty() && self.passives.is_empty()
    }

    /// Adds an inspector. A service inspector becomes the default for each service it
    /// declares that no earlier one declared.
    pub fn add(&mut self, inspector: Arc<dyn Inspector>) -> Result<u32, SetError> {
        let name = inspector.name().to_string();
        if self.all().any(|r| r.inspector.name() == name) {
            return Err(SetError::DuplicateName(name));
        }
        // Never 0 (a flow keeps ids as `NonZeroU32`), even once the counter wraps.
        let id = loop {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                break id;
            }
        };
        let r = Registered { id, inspector };
        match r.inspector.kind() {
            InspectorKind::Wizard => {
                if let Some(w) = &self.wizard {
                    return Err(SetError::TwoWizards(w.inspector.name().into(), name));
                }
                self.wizard = Some(r);
            }
            InspectorKind::Service => {
                let i = self.services.len();
                for s in r.inspector.services() {
                    self.bound.entry(s).or_insert(i);
                }
                self.services.push(r);
            }
            InspectorKind::Passive => self.passives.push(r),
        }
        Ok(id)
    }

    /// Binds `service` to the service inspector named `inspector` (a `[binder]`
    /// override).
    pub fn bind(&mut self, service: &'static str, inspector: &str) -> Result<(), SetError> {
        let i = self
            .services
            .iter()
            .position(|r| r.inspector.name() == inspector)
            .ok_or_else(|| SetError::UnknownInspector {
                service: service.into(),
                inspector: inspector.into(),
            })?;
        self.bound.insert(service, i);
        Ok(())
    }

    /// Turns `service` off: a wizard naming it is taken as detection failing.
    pub fn disable(&mut self, service: &str) {
        if !self.is_disabled(service) {
            self.disabled.push(service.to_string());
        }
    }

    /// True when `service` is turned off.
    pub fn is_disabled(&self, service: &str) -> bool {
        self.disabled.iter().any(|d| d == service)
    }

    /// Adds a port binding (checked before the wizard, in the order added).
    pub fn bind_port(&mut self, binding: PortBinding) {
        self.ports.push(binding);
    }

    /// Every inspector, wizard first, then services, then passives.
    pub fn all(&self) -> impl Iterator<Item = &Registered> {
        self.wizard
            .iter()
            .chain(self.services.iter())
            .chain(self.passives.iter())
    }

    /// The wizard.
    pub fn wizard(&self) -> Option<&Registered> {
        self.wizard.as_ref()
    }

    /// The passive inspectors, in the order added.
    pub fn passives(&self) -> &[Registered] {
        &self.passives
    }

    /// The service inspector bound to `service`.
    pub fn service(&self, service: &str) -> Option<&Registered> {
        self.bound.get(service).map(|&i| &self.services[i])
    }

    /// The service a port binding gives a flow of `transport` to server port `port`.
    pub fn service_by_port(&self, transport: Transport, port: u16) -> Option<&'static str> {
        self.ports
            .iter()
            .find(|b| b.transport == transport && b.port == port)
            .map(|b| b.service)
    }

    /// Interns a service name given at run time (from configuration): the names a set
    /// knows are returned as they are; others are leaked once (a configuration holds
    /// few) so records can keep `&'static str`.
    pub fn intern(&self, name: &str) -> &'static str {
        if let Some((k, _)) = self.bound.get_key_value(name) {
            return k;
        }
        for r in self.all() {
            if let Some(s) = r.inspector.services().iter().find(|s| **s == name) {
                return s;
            }
        }
        intern_leaked(name)
    }
}

/// Leaks `name` once per distinct name (bounded by the configurations loaded).
fn intern_leaked(name: &str) -> &'static str {
    use std::sync::Mutex;
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{FlowData, FlowInfo};

    struct Named(&'static str, InspectorKind, &'static [&'static str]);

    impl Inspector for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn kind(&self) -> InspectorKind {
            self.1
        }
        fn services(&self) -> &[&'static str] {
            self.2
        }
        fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
            None
        }
    }

    /// Counts its drops; hands out flow data that keeps nothing.
    struct Watched(Arc<std::sync::atomic::AtomicUsize>);

    impl Inspector for Watched {
        fn name(&self) -> &str {
            "watched"
        }
        fn kind(&self) -> InspectorKind {
            InspectorKind::Service
        }
        fn services(&self) -> &[&'static str] {
            &["http"]
        }
        fn start(&self, _: &FlowInfo) -> Option<Box<dyn FlowData>> {
            None
        }
    }

    impl Drop for Watched {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_workers_set_holds_its_own_handles_and_the_inspector_lives_until_the_last_goes() {
        let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut s = InspectorSet::new();
        let id = s.add(Arc::new(Watched(Arc::clone(&drops)))).unwrap();
        s.bind_port(PortBinding {
            transport: Transport::Tcp,
            port: 8080,
            service: "http",
        });
        let (a, b) = (s.for_worker(), s.for_worker());
        for w in [&a, &b] {
            let r = w.service("http").expect("the service is still bound");
            assert_eq!(r.id, id, "same ids");
            assert_eq!(r.inspector.name(), "watched");
            assert_eq!(r.inspector.kind(), InspectorKind::Service);
            assert_eq!(r.inspector.services(), &["http"]);
            assert_eq!(w.service_by_port(Transport::Tcp, 8080), Some("http"));
            // A handle of the worker's own: flows on two workers count their
            // references on different allocations.
            let orig = s.service("http").unwrap();
            assert!(!Arc::ptr_eq(&r.inspector, &orig.inspector));
        }
        let a_handle = Arc::clone(&a.service("http").unwrap().inspector);
        assert!(!Arc::ptr_eq(
            &a_handle,
            &b.service("http").unwrap().inspector
        ));
        drop(s);
        drop(b);
        assert_eq!(drops.load(Ordering::SeqCst), 0, "worker a still holds it");
        drop(a);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            0,
            "a flow of worker a still holds it"
        );
        drop(a_handle);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "dropped with the last handle"
        );
    }

    #[test]
    fn binder_defaults_overrides_ports_and_errors() {
        let mut s = InspectorSet::new();
        assert!(s.is_empty());
        let w = s
            .add(Arc::new(Named("wizard", InspectorKind::Wizard, &[])))
            .unwrap();
        let a = s
            .add(Arc::new(Named("http", InspectorKind::Service, &["http"])))
            .unwrap();
        let b = s
            .add(Arc::new(Named(
                "alt",
                InspectorKind::Service,
                &["http", "x"],
            )))
            .unwrap();
        s.add(Arc::new(Named("sizes", InspectorKind::Passive, &[])))
            .unwrap();
        assert!(w < a && a < b, "ids are handed out in order");
        // The first inspector declaring a service is its default.
        assert_eq!(s.service("http").unwrap().id, a);
        assert_eq!(s.service("x").unwrap().id, b);
        assert!(s.service("dns").is_none());
        s.bind("http", "alt").unwrap();
        assert_eq!(s.service("http").unwrap().id, b);
        assert_eq!(
            s.bind("dns", "sizes"),
            Err(SetError::UnknownInspector {
                service: "dns".into(),
                inspector: "sizes".into()
            })
        );
        assert_eq!(
            s.add(Arc::new(Named("http", InspectorKind::Passive, &[])))
                .unwrap_err(),
            SetError::DuplicateName("http".into())
        );
        assert!(matches!(
            s.add(Arc::new(Named("w2", InspectorKind::Wizard, &[]))),
            Err(SetError::TwoWizards(..))
        ));
        s.bind_port(PortBinding {
            transport: Transport::Tcp,
            port: 8080,
            service: "http",
        });
        assert_eq!(s.service_by_port(Transport::Tcp, 8080), Some("http"));
        assert_eq!(s.service_by_port(Transport::Udp, 8080), None);
        assert_eq!(s.passives().len(), 1);
        assert_eq!(s.all().count(), 4);
        // A second set's ids never collide with the first's.
        let mut s2 = InspectorSet::new();
        let c = s2
            .add(Arc::new(Named("http", InspectorKind::Service, &["http"])))
            .unwrap();
        assert!(c > b);
        assert_eq!(s.intern("http"), "http");
        let odd = s.intern("memcached");
        assert_eq!(odd, "memcached");
        assert!(std::ptr::eq(odd, s.intern("memcached")), "interned once");
    }
}
