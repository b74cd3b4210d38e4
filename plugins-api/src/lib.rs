//! # flowengine-plugin-api
//!
//! The SDK for flowengine plugins: third-party inspectors written in Rust, built as a
//! shared library (`cdylib`), and loaded by a program that embeds the engine (such as
//! `pcap-replay --plugin-path`) at start-up, without rebuilding the engine. This crate
//! does not depend on the engine: a plugin compiles this crate and
//! [`abi_stable`](https://docs.rs/abi_stable) only. `plugins-api/README.md` walks
//! through writing one.
//!
//! # What a plugin does
//!
//! - Implements [`ServiceInspector`] (one per flow of the services it declares: wizard
//!   patterns, hexes and spells in Snort syntax, with port hints) and/or
//!   [`PassiveInspector`] (sees every flow that carries payload), each with a
//!   [`PluginFlow`]: the per-flow state the engine keeps with the flow and drops with
//!   it, which receives in-order payload per direction ([`Data`], with gaps) and the
//!   flow's end.
//! - Through a [`Cx`]: emits [`Event`]s (rendered in EVE under their event type, like
//!   the built-in `http` or `dns` events), sets a [`Verdict`] (allow: the flow moves to
//!   the allowlist LRU; block; ignore: this inspector stops seeing the flow), says it
//!   is done with the flow.
//! - Reads its own `[plugins.NAME]` table of the engine's TOML configuration through
//!   [`PluginConfig`].
//! - Exports itself with [`export_plugin!`]: the author never writes an `extern` fn.
//!
//! # Contract at the boundary
//!
//! - **Panics never cross it.** abi_stable aborts the process on a panic across FFI;
//!   every entry point the host calls (the constructor, the declaration, flow start,
//!   data, end, and dropping the flow state) runs the author's code inside
//!   `catch_unwind`, in SDK-owned adapters ([`FfiInspector`] and [`FfiFlow`] are only
//!   ever made from them), and turns a panic into a [`PluginError`]. The host then
//!   disables that inspector on that flow, counts the panic, and goes on. This needs
//!   the plugin built with `panic = "unwind"` (the default; `panic = "abort"` aborts
//!   wherever the panic happens).
//! - **Versions.** [`ABI_VERSION`] is exported by [`export_plugin!`] as the C symbol
//!   `flowengine_plugin_abi_version`, which the host reads before anything else: a
//!   library built against another ABI is refused with one line. abi_stable's own
//!   layout check follows, as a second net. See "Versioning" in the README.
//! - **Lifetime.** The host never unloads a library: the inspectors, flow states,
//!   names and strings a plugin hands over may live as long as the process.

pub mod abi;
pub mod event;
pub mod inspector;

#[doc(hidden)]
pub mod export;

pub use abi::{
    Direction, Endpoint, FfiChunk, FfiCx, FfiFlow, FfiFlowBox, FfiFlow_TO, FfiInspector,
    FfiInspectorBox, FfiInspector_TO, FlowStart, InspectorDecl, Kind, Pattern, PatternSyntax,
    PatternTransport, PluginError, PluginErrorKind, PluginMod, PluginMod_Ref, Side, Transport,
    Verdict,
};
pub use event::{Event, Field, Value};
pub use inspector::{
    Cx, Data, InspectorBox, PassiveInspector, PluginConfig, PluginFlow, ServiceInspector,
};

/// Re-exported so that the code [`export_plugin!`] generates, and plugins, name the
/// exact abi_stable the SDK was built with.
pub use abi_stable;

/// The plugin ABI this SDK speaks. The host refuses a library whose exported number
/// differs from its own. Bumped by any change a plugin built against the previous
/// SDK could not be loaded with safely: a type in [`abi`] or [`event`] changing
/// layout, a method added to or removed from [`FfiInspector`] or [`FfiFlow`], a
/// field of [`PluginMod`], the meaning of a value, or abi_stable's version. Additions
/// that keep old plugins working (a new helper in [`inspector`], a new builder method
/// on [`Event`]) do not bump it.
pub const ABI_VERSION: u32 = 1;

/// The name of the C symbol (a `extern "C" fn() -> u32`) that returns the ABI version
/// a library was built against.
pub const ABI_VERSION_SYMBOL: &str = "flowengine_plugin_abi_version";

/// The name under which [`export_plugin!`] exports the abi_stable root module (the
/// value of `abi_stable::library::ROOT_MODULE_LOADER_NAME`, checked by a test).
#[doc(hidden)]
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::{
        export_plugin, Cx, Data, Direction, Event, FlowStart, InspectorBox, PassiveInspector,
        Pattern, PluginConfig, PluginError, PluginFlow, ServiceInspector, Side, Transport, Verdict,
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_root_module_symbol_is_abi_stables() {
        assert_eq!(
            super::ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
