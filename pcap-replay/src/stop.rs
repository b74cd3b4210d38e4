//! Stopping on SIGINT (Ctrl-C) or SIGTERM.
//!
//! Contract: after [`Stop::install`], the first SIGINT or SIGTERM only sets a flag; the
//! reading loops check it between batches (file replay) or between packets and read
//! timeouts (live capture), stop reading, and the run ends as if the input had ended:
//! every open flow gets its record (reason `shutdown`), the summary is written, the exit
//! status is 0. A second signal while that is under way ends the process at once with
//! the shell's status for it (130 for SIGINT, 143 for SIGTERM).

use signal_hook::consts::signal::{SIGINT, SIGTERM};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The stop request set by the signal handlers.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    /// Set by the first signal; arms the immediate exit on the second.
    requested: Arc<AtomicBool>,
    /// The number of the last signal received (0: none).
    signal: Arc<AtomicUsize>,
}

impl Stop {
    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install() -> io::Result<Stop> {
        let stop = Stop::default();
        for sig in [SIGINT, SIGTERM] {
            // The immediate exit goes first: it only fires once the flag is already set.
            signal_hook::flag::register_conditional_shutdown(
                sig,
                128 + sig,
                Arc::clone(&stop.requested),
            )?;
            signal_hook::flag::register(sig, Arc::clone(&stop.requested))?;
            signal_hook::flag::register_usize(sig, Arc::clone(&stop.signal), sig as usize)?;
        }
        Ok(stop)
    }

    /// True once a stop was requested.
    #[inline]
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// Requests a stop, as a signal would (tests).
    #[cfg(test)]
    pub fn request(&self, sig: i32) {
        self.signal.store(sig as usize, Ordering::SeqCst);
        self.requested.store(true, Ordering::SeqCst);
    }

    /// The name of the signal that stopped the run, if one did.
    pub fn signal_name(&self) -> Option<&'static str> {
        if !self.requested() {
            return None;
        }
        Some(match self.signal.load(Ordering::SeqCst) as i32 {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "signal",
        })
    }
}
