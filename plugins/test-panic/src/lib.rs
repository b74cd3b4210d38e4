//! Test plugin (not published): a passive inspector that panics on purpose when a
//! flow's payload starts with `PANIC`, to prove the host contains plugin panics. It
//! counts bytes otherwise and emits a `panic_probe` event at flow end.

use flowengine_plugin_api::prelude::*;

struct Probe;

struct ProbeFlow {
    bytes: u64,
}

impl PassiveInspector for Probe {
    type Flow = ProbeFlow;
    fn name(&self) -> &str {
        "test-panic"
    }
    fn start(&self, _flow: &FlowStart) -> Option<ProbeFlow> {
        Some(ProbeFlow { bytes: 0 })
    }
}

impl PluginFlow for ProbeFlow {
    fn data(&mut self, _cx: &mut Cx<'_>, _dir: Direction, data: Data<'_>) {
        if let Data::Bytes(b) = data {
            if b.starts_with(b"PANIC") {
                panic!("test-panic: crafted payload");
            }
            self.bytes += b.len() as u64;
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        cx.emit(Event::new("panic_probe").uint("bytes", self.bytes));
    }
}

fn inspectors(_config: &PluginConfig) -> Result<Vec<InspectorBox>, PluginError> {
    Ok(vec![InspectorBox::passive(Probe)])
}

export_plugin! {
    name: "test-panic",
    version: env!("CARGO_PKG_VERSION"),
    inspectors: inspectors,
}
