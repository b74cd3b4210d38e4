//! The wizard as an engine inspector: [`Wizard`] implements [`Inspector`] (kind
//! `Wizard`, name `"wizard"`), and [`WizardFlow`] is its per-flow [`FlowData`].
//!
//! Contract: TCP and UDP flows get a [`WizardFlow`]; other transports none. Each chunk
//! goes to [`Wizard::scan`]; on a decision the flow data reports once through the
//! [`Cx`] (`set_service`, with `direction_failed` when the other direction was ruled
//! out before this one named the service: a UDP direction's first datagram, or a TCP
//! direction done as Suricata's pattern matcher and probes are done with it; and
//! `swap_direction` if asked; or `detection_failed`), then calls `done`, and ignores
//! anything that still arrives. At flow end [`Wizard::finish`] decides an undecided
//! flow: a UDP flow fails, a TCP flow stays without a service. The engine's look at
//! the direction silent at detection ([`Inspector::second_look`]) is
//! [`Wizard::second_look`], with no flow data.

use super::{Outcome, Ports, Wizard, WizardState};
use flowengine::flow::Direction;
use flowengine::inspect::{
    Chunk, Cx, Detection, FlowData, FlowInfo, Inspector, InspectorKind, Transport,
};
use flowengine::Timestamp;

impl Inspector for Wizard {
    fn name(&self) -> &str {
        "wizard"
    }

    fn kind(&self) -> InspectorKind {
        InspectorKind::Wizard
    }

    fn start(&self, flow: &FlowInfo) -> Option<Box<dyn FlowData>> {
        match flow.transport {
            Transport::Tcp | Transport::Udp => Some(Box::new(WizardFlow {
                wizard: self.clone(),
                transport: flow.transport,
                ports: Ports {
                    client: flow.client.1,
                    server: flow.server.1,
                },
                state: WizardState::default(),
                reported: false,
            })),
            _ => None,
        }
    }

    /// [`Wizard::second_look`] on the flow's ports, without a flow data of its own.
    fn second_look(
        &self,
        flow: &FlowInfo,
        service: &'static str,
        dir: Direction,
        data: &[u8],
        _now: Timestamp,
    ) -> Detection {
        let ports = Ports {
            client: flow.client.1,
            server: flow.server.1,
        };
        match Wizard::second_look(self, flow.transport, ports, dir, data, service) {
            Outcome::Service { name, .. } => Detection::Service(name),
            Outcome::Failed => Detection::Failed,
            Outcome::Pending => Detection::Pending,
        }
    }

    /// A wizard with its own copy of the rule book: every flow it inspects holds the
    /// book, so workers on several cores each count references to a book of their own.
    fn fork(&self) -> Option<std::sync::Arc<dyn Inspector>> {
        Some(std::sync::Arc::new(self.fork_book()))
    }
}

/// The wizard's state on one flow.
#[derive(Debug)]
pub struct WizardFlow {
    wizard: Wizard,
    transport: Transport,
    ports: Ports,
    state: WizardState,
    reported: bool,
}

impl WizardFlow {
    /// The detection state (for tests and statistics).
    pub fn state(&self) -> &WizardState {
        &self.state
    }

    /// Reports `outcome`, reached on data of direction `dir` (none at the flow's end).
    fn report(&mut self, cx: &mut Cx<'_>, outcome: Outcome, dir: Option<Direction>) {
        match outcome {
            Outcome::Pending => return,
            Outcome::Service { name, swap } => {
                cx.set_service(name);
                // The other direction spoke first and was ruled out (Suricata records
                // it as failed, app_proto_ts/tc).
                if let Some(other) = dir.map(Direction::opposite) {
                    if self.state.ruled_out(other, self.transport) {
                        cx.direction_failed(other);
                    }
                }
                if swap {
                    cx.swap_direction();
                }
            }
            Outcome::Failed => cx.detection_failed(),
        }
        cx.done();
        self.reported = true;
    }
}

impl FlowData for WizardFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, chunk: Chunk<'_>) {
        if self.reported {
            return;
        }
        let outcome = self
            .wizard
            .scan(&mut self.state, self.transport, self.ports, dir, chunk);
        if outcome == Outcome::Pending
            && self.transport == Transport::Udp
            && self.state.ruled_out(dir, self.transport)
        {
            // Suricata's rule: a UDP direction gets its first datagram only. Nothing
            // more of it can decide; the wizard waits for the other direction's.
            cx.done_with(dir);
        }
        self.report(cx, outcome, Some(dir));
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if self.reported {
            return;
        }
        let outcome = self.wizard.finish(&mut self.state, self.transport);
        self.report(cx, outcome, None);
    }
}
