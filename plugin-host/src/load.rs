//! Finding, checking and loading plugin libraries.
//!
//! Contract: [`Plugins::load`] expands each path (a directory gives its `*.so` files
//! in name order), then per library: `dlopen`; read the `flowengine_plugin_abi_version`
//! symbol and compare it with [`flowengine_plugin_api::ABI_VERSION`]; only then let
//! abi_stable check the root module's layout (its long report is cut to its first
//! line). Each refusal is one [`LoadError`] whose message is one line naming the
//! file. Libraries are leaked: never unloaded.

use crate::adapter::{intern_ports, intern_str, HostInspector, PluginStats};
use crate::HostError;
use abi_stable::library::{lib_header_from_raw_library, RawLibrary};
use abi_stable::std_types::RResult;
use flowengine::config::Config;
use flowengine::inspect::{InspectorKind, InspectorSet, Transport};
use flowengine_inspectors::wizard::{Magic, Side as WizardSide};
use flowengine_inspectors::Extension;
use flowengine_plugin_api::{
    Kind, PatternSyntax, PatternTransport, PluginMod_Ref, Side, ABI_VERSION, ABI_VERSION_SYMBOL,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a library was refused (each message is one line naming the file).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The path does not exist.
    #[error("plugin {}: no such file or directory", .0.display())]
    Missing(PathBuf),
    /// A directory could not be listed.
    #[error("plugin {}: cannot read directory: {reason}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The dynamic loader refused the file (not a shared library, missing
    /// dependencies, wrong architecture).
    #[error("plugin {}: cannot load: {reason}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// A shared library without the SDK's version symbol.
    #[error("plugin {}: not a flowengine plugin (no {ABI_VERSION_SYMBOL} symbol)", .0.display())]
    NotAPlugin(PathBuf),
    /// Built against another SDK ABI.
    #[error(
        "plugin {}: built against flowengine-plugin-api ABI {found}, this host needs {expected}",
        path.display()
    )]
    Abi {
        /// The file.
        path: PathBuf,
        /// The ABI the library was built against.
        found: u32,
        /// This host's.
        expected: u32,
    },
    /// The ABI number matches but abi_stable found the layout incompatible, or the
    /// root module could not be made.
    #[error("plugin {}: incompatible library: {reason}", path.display())]
    Layout {
        /// The file.
        path: PathBuf,
        /// abi_stable's first line.
        reason: String,
    },
}

/// A loaded plugin.
#[derive(Clone)]
pub struct Plugin {
    /// Its name (`[plugins.NAME]`).
    pub name: String,
    /// Its version.
    pub version: String,
    /// The library it came from.
    pub path: PathBuf,
    module: PluginMod_Ref,
    stats: Arc<PluginStats>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("path", &self.path)
            .finish()
    }
}

impl Plugin {
    /// Its counters (shared by every inspector it made).
    pub fn stats(&self) -> &PluginStats {
        &self.stats
    }
}

/// What loading came to: the plugins, the refusals, and warnings (duplicates).
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The plugins loaded.
    pub plugins: Plugins,
    /// Libraries refused.
    pub errors: Vec<LoadError>,
    /// One line each (a duplicate name and which version was kept).
    pub warnings: Vec<String>,
}

/// The loaded plugins.
#[derive(Clone, Debug, Default)]
pub struct Plugins {
    list: Vec<Plugin>,
}

/// Compares versions numerically by dotted parts (`0.10.0` > `0.9.1`).
fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-', '+'])
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// Two libraries of plugin `name`, the one loaded first and the new one, as
/// (path, version): whether the new one replaces the first (a strictly higher
/// version), and the warning line.
fn duplicate(name: &str, first: (&Path, &str), new: (&Path, &str)) -> (bool, String) {
    let newer = version_key(new.1) > version_key(first.1);
    let kept = if newer { new.1 } else { first.1 };
    let warning = format!(
        "plugin {name}: loaded twice, {} {} and {} {}: keeping version {kept}",
        first.0.display(),
        first.1,
        new.0.display(),
        new.1,
    );
    (newer, warning)
}

/// The libraries a path stands for.
fn expand(path: &Path, errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    if path.is_dir() {
        match std::fs::read_dir(path) {
            Ok(rd) => {
                let mut v: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "so") && p.is_file())
                    .collect();
                v.sort();
                v
            }
            Err(e) => {
                errors.push(LoadError::Dir {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
                Vec::new()
            }
        }
    } else if path.exists() {
        vec![path.to_path_buf()]
    } else {
        errors.push(LoadError::Missing(path.to_path_buf()));
        Vec::new()
    }
}

/// The first line of a message, trimmed.
fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// Loads one library (leaked on success and on a version refusal alike: a library
/// whose static initialisers ran is never closed).
fn load_one(path: &Path) -> Result<Plugin, LoadError> {
    let raw = RawLibrary::load_at(path).map_err(|e| LoadError::Open {
        path: path.to_path_buf(),
        reason: first_line(&e.to_string()),
    })?;
    // SAFETY: the symbol is the SDK's `extern "C" fn() -> u32`; a library exporting
    // the name with another type is not a plugin of any SDK version.
    let found = unsafe {
        match raw.get::<extern "C" fn() -> u32>(ABI_VERSION_SYMBOL.as_bytes()) {
            Ok(f) => (*f)(),
            Err(_) => {
                std::mem::forget(raw);
                return Err(LoadError::NotAPlugin(path.to_path_buf()));
            }
        }
    };
    if found != ABI_VERSION {
        std::mem::forget(raw);
        return Err(LoadError::Abi {
            path: path.to_path_buf(),
            found,
            expected: ABI_VERSION,
        });
    }
    let layout = |e: abi_stable::library::LibraryError| {
        use abi_stable::library::LibraryError as L;
        let reason = match &e {
            // abi_stable's report of a layout mismatch runs to hundreds of lines.
            L::AbiInstability(_) => format!(
                "abi_stable: its root module's layout differs from this host's \
                 (flowengine-plugin-api {}); rebuild it against this SDK",
                env!("CARGO_PKG_VERSION")
            ),
            L::Many(list) if list.iter().any(|e| matches!(e, L::AbiInstability(_))) => {
                "abi_stable: its root module's layout differs from this host's; rebuild it \
                 against this SDK"
                    .to_string()
            }
            other => first_line(&other.to_string()),
        };
        LoadError::Layout {
            path: path.to_path_buf(),
            reason,
        }
    };
    // SAFETY: the header lives as long as the library, which is leaked below.
    let header = unsafe { lib_header_from_raw_library(&raw) }.map_err(layout)?;
    std::mem::forget(raw);
    let module = header.init_root_module::<PluginMod_Ref>().map_err(layout)?;
    Ok(Plugin {
        name: module.name().to_string(),
        version: module.version().to_string(),
        path: path.to_path_buf(),
        module,
        stats: Arc::new(PluginStats::default()),
    })
}

impl Plugins {
    /// No plugins.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every library `paths` stand for (see the module contract).
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> LoadReport {
        let mut report = LoadReport::default();
        for p in paths {
            for lib in expand(p.as_ref(), &mut report.errors) {
                match load_one(&lib) {
                    Ok(plugin) => report.plugins.add(plugin, &mut report.warnings),
                    Err(e) => report.errors.push(e),
                }
            }
        }
        report
    }

    fn add(&mut self, plugin: Plugin, warnings: &mut Vec<String>) {
        let Some(i) = self.list.iter().position(|p| p.name == plugin.name) else {
            self.list.push(plugin);
            return;
        };
        let old = &self.list[i];
        let (newer, warning) = duplicate(
            &plugin.name,
            (&old.path, &old.version),
            (&plugin.path, &plugin.version),
        );
        warnings.push(warning);
        if newer {
            self.list[i] = plugin;
        }
    }

    /// The plugins, in load order.
    pub fn list(&self) -> &[Plugin] {
        &self.list
    }

    /// True when none is loaded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Panics caught per plugin, as (name, count), in load order.
    pub fn panics(&self) -> Vec<(String, u64)> {
        self.list
            .iter()
            .map(|p| (p.name.clone(), p.stats.panics()))
            .collect()
    }

    /// Builds every plugin's inspectors from its `[plugins.NAME]` table of `config`,
    /// with their wizard rules.
    pub fn extension(&self, config: &Config) -> Result<Extension, HostError> {
        let mut ext = Extension::new();
        for p in &self.list {
            let table = config
                .plugins
                .settings
                .get(&p.name)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "{}".into());
            let err = |message: String| HostError::Plugin {
                plugin: p.name.clone(),
                message,
            };
            let list = match (p.module.inspectors())(table.as_str().into()) {
                RResult::ROk(list) => list,
                RResult::RErr(e) => {
                    if e.is_panic() {
                        p.stats.count(&e);
                    }
                    return Err(err(e.to_string()));
                }
            };
            for ffi in list {
                let decl = match ffi.decl() {
                    RResult::ROk(d) => d,
                    RResult::RErr(e) => {
                        p.stats.count(&e);
                        return Err(err(e.to_string()));
                    }
                };
                let kind = match decl.kind {
                    Kind::Service => InspectorKind::Service,
                    Kind::Passive => InspectorKind::Passive,
                };
                let services: Vec<&'static str> =
                    decl.services.iter().map(|s| intern_str(s)).collect();
                let ports = intern_ports(&decl.ports);
                for pat in decl.patterns.iter() {
                    let m = Magic {
                        service: pat.service.to_string(),
                        transport: match pat.transport {
                            PatternTransport::Tcp => Transport::Tcp,
                            PatternTransport::Udp => Transport::Udp,
                        },
                        side: match pat.side {
                            Side::Client => WizardSide::Client,
                            Side::Server => WizardSide::Server,
                            Side::Either => WizardSide::Either,
                        },
                        pattern: pat.pattern.to_string(),
                        ports,
                    };
                    if !services.contains(&m.service.as_str()) {
                        return Err(err(format!(
                            "inspector {}: a pattern names service '{}', which it does not declare",
                            decl.name, m.service
                        )));
                    }
                    match pat.syntax {
                        PatternSyntax::Hex => ext.hexes.push(m),
                        PatternSyntax::Spell => ext.spells.push(m),
                    }
                }
                ext.inspectors.push(Arc::new(HostInspector::new(
                    decl.name.to_string(),
                    kind,
                    intern_services(services),
                    ffi,
                    Arc::clone(&p.stats),
                )));
            }
        }
        Ok(ext)
    }

    /// The built-in inspectors as `config` asks for them, with every plugin's.
    pub fn inspector_set(&self, config: &Config) -> Result<InspectorSet, HostError> {
        let ext = self.extension(config)?;
        Ok(flowengine_inspectors::builtin_with(config, &ext)?)
    }
}

/// A service list as `'static` (interned once per distinct list).
fn intern_services(list: Vec<&'static str>) -> &'static [&'static str] {
    use std::sync::Mutex;
    static LISTS: Mutex<Vec<&'static [&'static str]>> = Mutex::new(Vec::new());
    let mut lists = LISTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = lists.iter().find(|l| **l == list.as_slice()) {
        return l;
    }
    let l: &'static [&'static str] = Box::leak(list.into_boxed_slice());
    lists.push(l);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_key("0.10.0") > version_key("0.9.1"));
        assert!(version_key("1.0.0") > version_key("0.99"));
        assert_eq!(version_key("1.2.3"), vec![1, 2, 3]);
    }

    #[test]
    fn the_higher_version_of_a_duplicate_wins_with_a_warning() {
        let (a, b) = (Path::new("/p/a.so"), Path::new("/p/b.so"));
        let (newer, w) = duplicate("mc", (a, "0.9.1"), (b, "0.10.0"));
        assert!(newer);
        assert_eq!(
            w,
            "plugin mc: loaded twice, /p/a.so 0.9.1 and /p/b.so 0.10.0: keeping version 0.10.0"
        );
        let (newer, w) = duplicate("mc", (b, "1.0.0"), (a, "0.10.0"));
        assert!(!newer);
        assert!(w.ends_with("keeping version 1.0.0"), "{w}");
        // Equal versions: the first loaded stays.
        assert!(!duplicate("mc", (a, "1.0.0"), (b, "1.0.0")).0);
    }

    #[test]
    fn missing_paths_and_non_libraries_are_one_line_errors() {
        let r = Plugins::load(&["/nonexistent/flowengine/plugin.so"]);
        assert!(r.plugins.is_empty());
        assert_eq!(
            r.errors,
            [LoadError::Missing(
                "/nonexistent/flowengine/plugin.so".into()
            )]
        );
        let dir = std::env::temp_dir().join(format!("fe-host-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bogus = dir.join("libbogus.so");
        std::fs::write(&bogus, b"not an ELF file").unwrap();
        std::fs::write(dir.join("README.txt"), b"ignored: not *.so").unwrap();
        let r = Plugins::load(&[&dir]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        let msg = r.errors[0].to_string();
        assert!(
            msg.starts_with(&format!("plugin {}: cannot load: ", bogus.display())),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }
}
