//! Test library (not published): a shared library that is not a flowengine plugin
//! (no `flowengine_plugin_abi_version` symbol); the host must say so in one line.

/// Something a library exports.
#[unsafe(no_mangle)]
pub extern "C" fn not_a_plugin_answer() -> u32 {
    42
}
