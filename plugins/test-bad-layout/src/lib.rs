//! Test library (not published): claims this SDK's ABI number but exports a root
//! module of another layout, as a library built from a modified SDK would. The host's
//! ABI check passes and abi_stable's layout check must refuse it, in one line.

// abi_stable's derive names the prefix reference `BadMod_Ref`.
#![allow(non_camel_case_types, non_local_definitions)]

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;
use abi_stable::StableAbi;
use abi_stable::{declare_root_module_statics, export_root_module, package_version_strings};

/// Not the SDK's `PluginMod`: `abi_version` is a `u64` and the rest is missing.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = BadMod_Ref)))]
#[sabi(missing_field(panic))]
pub struct BadMod {
    /// The wrong width.
    pub abi_version: u64,
    /// A name.
    #[sabi(last_prefix_field)]
    pub name: RStr<'static>,
}

impl RootModule for BadMod_Ref {
    declare_root_module_statics! {BadMod_Ref}
    const BASE_NAME: &'static str = "flowengine_plugin";
    const NAME: &'static str = "flowengine_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The root module.
#[export_root_module]
pub fn root() -> BadMod_Ref {
    BadMod {
        abi_version: u64::from(flowengine_plugin_api::ABI_VERSION),
        name: RStr::from_str("test-bad-layout"),
    }
    .leak_into_prefix()
}

/// The right number, the wrong module.
#[unsafe(no_mangle)]
pub extern "C" fn flowengine_plugin_abi_version() -> u32 {
    flowengine_plugin_api::ABI_VERSION
}
