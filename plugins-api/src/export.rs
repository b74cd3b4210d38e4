//! The export macro's support code (not part of the API).
//!
//! Contract: [`crate::export_plugin!`] generates, in the plugin library, the C symbol
//! `flowengine_plugin_abi_version` (returns the ABI the library was built against,
//! read by the host before anything else) and abi_stable's root module symbol (a
//! `LibHeader` whose module is a [`crate::PluginMod`]), spelt out here with
//! `$crate::abi_stable` paths so that a plugin depends on this crate only.

pub use crate::inspector::construct;

/// Exports a plugin from a `cdylib` crate: its name, its version and the function
/// that builds its inspectors from its `[plugins.NAME]` table.
///
/// ```text
/// fn inspectors(config: &PluginConfig) -> Result<Vec<InspectorBox>, PluginError> {
///     Ok(vec![InspectorBox::service(Memcached::default())])
/// }
///
/// flowengine_plugin_api::export_plugin! {
///     name: "memcached",
///     version: env!("CARGO_PKG_VERSION"),
///     inspectors: inspectors,
/// }
/// ```
///
/// Use it once per library. `inspectors` is a `fn(&PluginConfig) -> Result<Vec<
/// InspectorBox>, PluginError>`; a panic in it is caught and reported like an error.
#[macro_export]
macro_rules! export_plugin {
    (name: $name:expr, version: $version:expr, inspectors: $build:path $(,)?) => {
        $crate::export_plugin! {
            @abi $crate::ABI_VERSION, name: $name, version: $version, inspectors: $build
        }
    };
    // Test hook: a library claiming another ABI (the host must refuse it).
    (@abi $abi:expr, name: $name:expr, version: $version:expr, inspectors: $build:path $(,)?) => {
        /// The plugin ABI this library was built against (read by the host first).
        #[unsafe(no_mangle)]
        pub extern "C" fn flowengine_plugin_abi_version() -> u32 {
            $abi
        }

        /// abi_stable's root module header of this plugin.
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static FLOWENGINE_PLUGIN_ROOT_MODULE: $crate::abi_stable::library::LibHeader = {
            extern "C" fn __flowengine_inspectors(
                config: $crate::abi_stable::std_types::RStr<'_>,
            ) -> $crate::abi_stable::std_types::RResult<
                $crate::abi_stable::std_types::RVec<$crate::FfiInspectorBox>,
                $crate::PluginError,
            > {
                $crate::export::construct(config.as_str(), $build)
            }
            fn __flowengine_root() -> $crate::PluginMod_Ref {
                $crate::abi_stable::prefix_type::PrefixTypeTrait::leak_into_prefix(
                    $crate::PluginMod {
                        abi_version: $abi,
                        name: $crate::abi_stable::std_types::RStr::from_str($name),
                        version: $crate::abi_stable::std_types::RStr::from_str($version),
                        inspectors: __flowengine_inspectors,
                    },
                )
            }
            extern "C" fn __flowengine_erased() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(__flowengine_root)
            }
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<$crate::PluginMod_Ref>(
                    __flowengine_erased,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}
