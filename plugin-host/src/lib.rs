//! # flowengine-plugin-host
//!
//! Loads flowengine plugins (shared libraries built against `flowengine-plugin-api`)
//! and turns their inspectors into engine inspectors.
//!
//! ```text
//! let loaded = Plugins::load(&config.plugins.path);      // errors: one line each
//! let set = loaded.plugins.inspector_set(&config)?;      // built-ins + plugins
//! let engine = Engine::with_inspectors(&config, sink, set)?;
//! ```
//!
//! Contract:
//! - **Loading** ([`load`]): each path is a library or a directory whose `*.so` files
//!   are loaded in name order. Before abi_stable looks at a library, the host calls
//!   its `flowengine_plugin_abi_version` symbol: a library built against another SDK
//!   ABI is refused with one line naming the file, the ABI found and the ABI needed; a
//!   missing file, a library that does not load, or one without that symbol (not a
//!   plugin) is refused with one line too. Refusals are returned, the other plugins
//!   load; the caller decides whether one is fatal (`--strict-plugins`). Two plugins
//!   of the same name: the higher version wins, with a warning.
//! - **Never unloaded**: libraries stay mapped until the process exits, since the
//!   inspectors, flow states, vtables and strings they hand over may live as long as
//!   any flow. Names of services, port lists and event types a plugin declares are
//!   interned once per distinct value for the same reason (bounded by what the
//!   plugins declare; event types beyond [`adapter::MAX_EVENT_TYPES`] are reported
//!   under `plugin`).
//! - **Inspectors** ([`adapter`]): each plugin inspector becomes an
//!   `Arc<dyn Inspector>`, its flow state a `FlowData` that owns the plugin's flow
//!   object (dropped with the flow). Events become EVE events under their type,
//!   verdicts the engine's (allow, block; ignore = this inspector is done with the
//!   flow).
//! - **Panics** are caught inside the plugin by the SDK; a call that reports one
//!   disables that inspector on that flow (its state is dropped, the flow goes on and
//!   still gets its one record), and is counted per plugin ([`PluginStats`], shown by
//!   `pcap-replay` as `plugin_panics`). A panic while building a plugin's inspectors
//!   is an error naming the plugin.

pub mod adapter;
pub mod load;

pub use adapter::{PluginEvent, PluginStats};
/// The SDK this host speaks (its `ABI_VERSION` is the one libraries must match).
pub use flowengine_plugin_api as api;
pub use load::{LoadError, LoadReport, Plugin, Plugins};

use flowengine_inspectors::BuiltinError;

/// Why a plugin's inspectors could not be built or added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The plugin's constructor returned an error (a bad `[plugins.NAME]` table) or
    /// panicked.
    #[error("plugin {plugin}: {message}")]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// What it said.
        message: String,
    },
    /// The set could not be built (two inspectors of one name, a bad wizard pattern,
    /// ...).
    #[error("{0}")]
    Set(#[from] BuiltinError),
}
