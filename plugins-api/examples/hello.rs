//! The plugin of `plugins-api/README.md`, compiled by `cargo test` so that the README
//! stays true: a service inspector naming `hello` flows, counting lines, allowing the
//! flow on a `BYE` reply and emitting one `hello` event at the end.

use flowengine_plugin_api::prelude::*;

/// A service inspector: the wizard names flows `hello` from their first bytes.
struct Hello;

/// Per-flow state: created when the flow is named `hello`, dropped with the flow.
#[derive(Default)]
struct HelloFlow {
    lines: u64,
}

impl ServiceInspector for Hello {
    type Flow = HelloFlow;
    fn name(&self) -> &str {
        "hello"
    } // also its service name
    fn patterns(&self) -> Vec<Pattern> {
        vec![
            Pattern::hex("hello", "HELO "), // Snort hex syntax: |48 45|...
            Pattern::spell("hello", "hi *").side(Side::Client),
        ] // case-insensitive glob
    }
    fn ports(&self) -> Vec<u16> {
        vec![4242]
    } // port hint: breaks ties
    fn start(&self, _flow: &FlowStart) -> Option<HelloFlow> {
        Some(HelloFlow::default())
    }
}

impl PluginFlow for HelloFlow {
    fn data(&mut self, cx: &mut Cx<'_>, dir: Direction, data: Data<'_>) {
        let Data::Bytes(bytes) = data else {
            return cx.done();
        }; // a gap: give up
        self.lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        if dir == Direction::ToClient && bytes.starts_with(b"BYE") {
            cx.set_verdict(Verdict::Allow); // trusted: moves to the allowlist LRU
        }
    }
    fn end(&mut self, cx: &mut Cx<'_>) {
        // One EVE line: {"event_type":"hello","hello":{"lines":3,"who":{"tag":"x"}},...}
        cx.emit(
            Event::new("hello")
                .uint("lines", self.lines)
                .object("who", |o| o.str("tag", "x")),
        );
    }
}

/// Builds the inspectors from the `[plugins.hello]` table (called at start-up and at
/// each SIGHUP reload).
fn inspectors(config: &PluginConfig) -> Result<Vec<InspectorBox>, PluginError> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Settings {
        verbose: bool,
    }
    let _s: Settings = config.parse()?; // errors name the bad key
    Ok(vec![InspectorBox::service(Hello)]) // InspectorBox::passive(...) too
}

export_plugin! {
    name: "hello",
    version: env!("CARGO_PKG_VERSION"),
    inspectors: inspectors,
}
