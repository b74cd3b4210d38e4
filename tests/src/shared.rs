//! The shared verification material next to the repository (`../shared`).
//!
//! Contract: [`shared_dir`] finds it (`FLOWENGINE_SHARED` overrides the location);
//! [`verify_captures`] lists every capture of both verify suites.

use std::path::{Path, PathBuf};

/// The `shared/` directory: `$FLOWENGINE_SHARED`, else `../shared` from the
/// repository root.
pub fn shared_dir() -> PathBuf {
    if let Ok(p) = std::env::var("FLOWENGINE_SHARED") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Every capture of the suricata-verify and nDPI cases, sorted.
pub fn verify_captures() -> Vec<PathBuf> {
    let root = shared_dir().join("verify");
    let mut out = Vec::new();
    for suite in ["suricata-verify/cases", "ndpi/cases"] {
        let Ok(dir) = std::fs::read_dir(root.join(suite)) else {
            continue;
        };
        for case in dir.flatten() {
            for name in ["input.pcap", "input.pcapng"] {
                let p = case.path().join(name);
                if p.exists() {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}
