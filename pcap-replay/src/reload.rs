//! Reloading the configuration on SIGHUP.
//!
//! Contract: after [`Reload::install`], SIGHUP only sets a flag. The reading loops call
//! [`Reload::poll`] between packets (live capture) or batches (files); when the flag is
//! set, the configuration is read again exactly as at start-up (`--config`, then every
//! `--set`, then `--deterministic`), the built-in inspectors and those of the plugins
//! loaded at start-up (with their `[plugins.NAME]` tables read again) are built from
//! it and the engine applies both with [`Workers::reload`] (plugin libraries are not
//! loaded again: `plugins.path` needs a restart): flows that start from then on get the
//! new inspectors, flows already under way keep theirs until they end. One line on
//! stderr says what happened. A reload that fails (the file is unreadable, a value is
//! invalid) changes nothing: the line says why and the running configuration stays.
//! Several SIGHUPs before the loop looks are one reload.

use flowengine::{Config, Sink, Workers};
use flowengine_plugin_host::Plugins;
use signal_hook::consts::signal::SIGHUP;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Reads the configuration as the command line says.
pub type Loader<'a> = Box<dyn Fn() -> anyhow::Result<Config> + 'a>;

/// The reload request and what reloads came to.
pub struct Reload<'a> {
    requested: Arc<AtomicBool>,
    load: Loader<'a>,
    plugins: Plugins,
    /// Reloads applied.
    pub applied: u64,
    /// Reloads refused (the running configuration stayed).
    pub failed: u64,
}

impl<'a> Reload<'a> {
    /// Installs the SIGHUP handler.
    pub fn install(load: Loader<'a>, plugins: Plugins) -> io::Result<Reload<'a>> {
        let r = Reload::new(load, plugins);
        signal_hook::flag::register(SIGHUP, Arc::clone(&r.requested))?;
        Ok(r)
    }

    /// A reload no signal triggers (tests request it themselves).
    pub fn new(load: Loader<'a>, plugins: Plugins) -> Reload<'a> {
        Reload {
            requested: Arc::new(AtomicBool::new(false)),
            load,
            plugins,
            applied: 0,
            failed: 0,
        }
    }

    /// Requests a reload, as SIGHUP does.
    #[cfg(test)]
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    /// Reloads if a reload was requested since the last call (one atomic load when
    /// not).
    #[inline]
    pub fn poll<S: Sink>(&mut self, engine: &mut Workers<S>) {
        if self.requested.load(Ordering::Relaxed) {
            self.requested.store(false, Ordering::SeqCst);
            self.apply(engine);
        }
    }

    #[cold]
    fn apply<S: Sink>(&mut self, engine: &mut Workers<S>) {
        let outcome = (self.load)().and_then(|config| {
            let inspectors = self.plugins.inspector_set(&config)?;
            Ok(engine.reload(&config, inspectors)?)
        });
        match outcome {
            Ok(done) => {
                self.applied += 1;
                let kept = if done.needs_restart.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; changed but kept until a restart: {}",
                        done.needs_restart.join(", ")
                    )
                };
                eprintln!(
                    "pcap-replay: SIGHUP: configuration reloaded, new flows get the new \
                     inspectors{kept}"
                );
            }
            Err(e) => {
                self.failed += 1;
                eprintln!(
                    "pcap-replay: SIGHUP: reload refused, the running configuration stays: {e:#}"
                );
            }
        }
    }
}
