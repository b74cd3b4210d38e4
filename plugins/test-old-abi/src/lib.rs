//! Test plugin (not published): claims an SDK ABI other than this SDK's, as a library
//! built against another flowengine-plugin-api would; the host must refuse it with
//! one line and go on with the other plugins.

use flowengine_plugin_api::prelude::*;

struct Nothing;
struct NoFlow;

impl PluginFlow for NoFlow {
    fn data(&mut self, _cx: &mut Cx<'_>, _dir: Direction, _data: Data<'_>) {}
}

impl PassiveInspector for Nothing {
    type Flow = NoFlow;
    fn name(&self) -> &str {
        "test-old-abi"
    }
    fn start(&self, _flow: &FlowStart) -> Option<NoFlow> {
        None
    }
}

fn inspectors(_config: &PluginConfig) -> Result<Vec<InspectorBox>, PluginError> {
    Ok(vec![InspectorBox::passive(Nothing)])
}

export_plugin! {
    @abi flowengine_plugin_api::ABI_VERSION + 1000,
    name: "test-old-abi",
    version: env!("CARGO_PKG_VERSION"),
    inspectors: inspectors,
}
