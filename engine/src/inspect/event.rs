//! Events inspectors emit: typed values that render as EVE JSON.
//!
//! Contract: an [`AppEvent`] is a concrete type of its inspector (tests and embedders
//! downcast it with [`AppEvent::as_any`]); the EVE writer renders it as one line with
//! `event_type` = [`AppEvent::event_type`] and the object from [`AppEvent::to_json`]
//! under that same key (written as text by [`AppEvent::write_json`]), tied to its
//! flow by `flow_id`, as Suricata writes `http`, `tls`, `dns`, ... events.
//! [`AppEvent::siblings`] adds objects beside that one.

use crate::time::Timestamp;
use std::any::Any;
use std::fmt::Debug;
use std::net::IpAddr;

/// An event an inspector emits on a flow.
pub trait AppEvent: Debug + Send + 'static {
    /// The EVE event type (`"http"`, `"tls"`, `"dns"`, `"ssh"`, ...).
    fn event_type(&self) -> &'static str;

    /// The event's fields: the object written under the `event_type` key, with
    /// Suricata's field names.
    fn to_json(&self) -> serde_json::Value;

    /// Appends the object [`to_json`](Self::to_json) returns, as JSON text, to `out`.
    /// The default renders `to_json`; events written often override it to write
    /// their fields directly (no intermediate map), and must write the same object.
    fn write_json(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail, and a Value always serializes.
        let _ = serde_json::to_writer(out, &self.to_json());
    }

    /// The concrete event, for typed access.
    fn as_any(&self) -> &dyn Any;

    /// Objects written beside the main one, each under its own key and before it
    /// (Suricata's DoH events carry an `http` object beside their `dns` one). None
    /// by default.
    fn siblings(&self) -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }
}

/// An event with the flow it belongs to, as a sink receives it.
#[derive(Debug)]
pub struct EventRecord<'a> {
    /// Packet time of the data that completed the event.
    pub timestamp: Timestamp,
    /// The flow's id (joins the event to its `flow` record).
    pub flow_id: u64,
    /// Client address and port (the flow's `src_ip`/`src_port`).
    pub src: (IpAddr, u16),
    /// Server address and port.
    pub dest: (IpAddr, u16),
    /// IP protocol number.
    pub proto: u8,
    /// The flow's service when the event was emitted.
    pub app_proto: Option<&'static str>,
    /// The event.
    pub event: &'a dyn AppEvent,
}
