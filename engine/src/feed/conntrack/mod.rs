//! The Linux conntrack table as a flow feed (Linux only, cargo feature `conntrack`).
//!
//! Contract: [`parse`] reads ctnetlink messages from bytes (never panics),
//! [`socket`] opens the event socket (NEW/UPDATE/DESTROY groups, large receive buffer,
//! overruns reported) and the request socket (dump, get-and-zero, delete, flush), and
//! [`rules`] turns the events and dump answers into flow lifecycles, keeping the
//! out-of-order, id-reuse and counter-reset rules. Conntrack events carry tuples, not
//! packets: [`crate::ConntrackTracker`] turns the rules' finished flows into ordinary
//! [`crate::FlowRecord`]s.
//!
//! What the kernel needs: `net.netfilter.nf_conntrack_events=1` (else flows created
//! while no listener was subscribed send no events), `nf_conntrack_acct=1` for counters,
//! `nf_conntrack_timestamp=1` for start and stop times; in a fresh network namespace, a
//! rule that uses conntrack (for example nft `ct state`) so that anything is tracked.

pub mod parse;
pub mod rules;
pub mod socket;

/// The bytes of a recorded kernel message in `fixtures/` (tests only).
#[cfg(test)]
macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/feed/conntrack/fixtures/",
            $name
        ))
    };
}
#[cfg(test)]
pub(crate) use fixture;

pub use parse::{Entry, EventKind, Tuple};
pub use rules::{CounterMode, CtKey, Rules};
pub use socket::{EventSocket, QuerySocket, Recv, SocketError};
