//! Reloads as the running relay makes them (SIGHUP, `POST /-/reload`): each on a thread of its
//! own, one at a time, waited for at most [`RELOAD_WAIT`].
//!
//! Reading the rules file can block for as long as the file system likes (a network mount
//! whose server is gone). So a reload never runs on the signal loop or the async workers, and
//! never on tokio's blocking pool either (the runtime waits for that pool when it shuts down,
//! which would keep a stopping relay alive). While a reload runs no second thread is started:
//! a SIGHUP asks for one more reload after it (so the file's latest text is read), an HTTP
//! reload is refused with [`ReloadError::InProgress`]. A reload that outlasts its wait goes on;
//! its outcome is logged when it comes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{App, Relay};
use crate::config::ConfigErrors;

/// How long a reload is waited for before its caller is told it has not finished.
pub const RELOAD_WAIT: Duration = Duration::from_secs(10);

/// How a reload asked for while another runs is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// SIGHUP: one more reload follows the running one.
    Queue,
    /// HTTP: refused, the caller may try again.
    Refuse,
}

/// Why a reload did not swap a new configuration in.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file has problems; the running configuration stays.
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// Another reload has been running for this long ([`Overlap::Refuse`]).
    #[error(
        "a reload is already running (for {}); try again once it has finished",
        humantime::format_duration(round_s(*.0))
    )]
    InProgress(Duration),
    /// Another reload is running; this one follows it ([`Overlap::Queue`]).
    #[error("a reload is already running; one more follows it")]
    Queued,
    /// Not finished within [`RELOAD_WAIT`]; it goes on and its outcome is logged.
    #[error(
        "the reload has not finished after {}s (is the rules file on a file system that does not \
         answer?); it goes on, its outcome will be logged, and the running configuration stays \
         meanwhile",
        RELOAD_WAIT.as_secs()
    )]
    TimedOut,
    /// The reload thread could not start, or ended without an outcome (a bug).
    #[error("the reload did not run: {0}")]
    Failed(String),
}

/// Whether a reload thread runs, since when, and whether a SIGHUP asked for another; and
/// that fact for whoever watches it ([`Relay::watch_reloading`]).
#[derive(Default)]
pub(super) struct Reloads {
    state: Mutex<State>,
    reloading: tokio::sync::watch::Sender<Phase>,
}

/// How the relay's reloads stand, for a watcher that may miss a quick one in between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phase {
    /// How many reload runs have begun since start (a run takes the SIGHUPs queued behind it).
    pub begun: u64,
    pub running: bool,
}

#[derive(Default)]
struct State {
    running_since: Option<Instant>,
    again: bool,
}

type Outcome = Result<Arc<App>, ConfigErrors>;

impl Reloads {
    /// Claims the right to run a reload, or says why not.
    fn begin(&self, overlap: Overlap) -> Result<(), ReloadError> {
        let mut state = self.lock();
        match (state.running_since, overlap) {
            (None, _) => {
                state.running_since = Some(Instant::now());
                self.reloading.send_modify(|p| {
                    p.begun += 1;
                    p.running = true;
                });
                Ok(())
            }
            (Some(_), Overlap::Queue) => {
                state.again = true;
                Err(ReloadError::Queued)
            }
            (Some(since), Overlap::Refuse) => Err(ReloadError::InProgress(since.elapsed())),
        }
    }

    /// Called by the reload thread after each reload: true when a SIGHUP asked for another.
    fn finish_or_again(&self) -> bool {
        let mut state = self.lock();
        if std::mem::take(&mut state.again) {
            state.running_since = Some(Instant::now());
            return true;
        }
        state.running_since = None;
        self.reloading.send_modify(|p| p.running = false);
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two plain fields, valid whatever a panicking holder did.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Relay {
    /// Whether a reload (with the reloads SIGHUPs queued behind it) runs, and how many have
    /// begun: `running` turns `false` once the last has swapped its file in or refused it
    /// ([`Relay::loads`] says which). A service manager is told from this (`cli::systemd`),
    /// whether SIGHUP or HTTP asked.
    pub fn watch_reloading(&self) -> tokio::sync::watch::Receiver<Phase> {
        self.reloads.reloading.subscribe()
    }

    /// Reloads the rules file on a thread of its own and waits for it up to [`RELOAD_WAIT`].
    /// Never blocks the calling task longer than that, whatever the file system does.
    pub async fn reload_within(
        self: &Arc<Self>,
        overlap: Overlap,
    ) -> Result<Arc<App>, ReloadError> {
        self.reloads.begin(overlap)?;
        let (reply, outcome) = oneshot::channel();
        let relay = self.clone();
        let spawned = std::thread::Builder::new()
            .name("reload".into())
            .spawn(move || run_reloads(&relay, reply));
        if let Err(e) = spawned {
            self.reloads.finish_or_again();
            return Err(ReloadError::Failed(format!("cannot start a thread: {e}")));
        }
        match tokio::time::timeout(RELOAD_WAIT, outcome).await {
            Ok(Ok(outcome)) => outcome.map_err(ReloadError::Invalid),
            Ok(Err(_)) => Err(ReloadError::Failed("the reload thread stopped".into())),
            Err(_) => Err(ReloadError::TimedOut),
        }
    }
}

/// The reload thread: the reload its caller waits for, then one more for each SIGHUP that
/// came meanwhile. An outcome nobody waits for any more is logged here.
fn run_reloads(relay: &Arc<Relay>, reply: oneshot::Sender<Outcome>) {
    let _release = ReleaseOnPanic(&relay.reloads);
    let mut reply = Some(reply);
    loop {
        let outcome = relay.reload();
        // Finished (or going again) before the caller hears of it: a caller that reloads again
        // at once must not find this one still running.
        let again = relay.reloads.finish_or_again();
        let unheard = match reply.take() {
            Some(reply) => reply.send(outcome).err(),
            None => Some(outcome),
        };
        if let Some(outcome) = unheard {
            log_outcome(relay, &outcome);
        }
        if !again {
            break;
        }
    }
}

/// A reload that panicked (a bug) must not leave every later reload refused as "running".
struct ReleaseOnPanic<'a>(&'a Reloads);

impl Drop for ReleaseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            *self.0.lock() = State::default();
            self.0.reloading.send_modify(|p| p.running = false);
        }
    }
}

/// Logs what a reload did; a failure says that the previous configuration keeps serving.
pub fn log_outcome(relay: &Relay, outcome: &Outcome) {
    match outcome {
        Ok(app) => {
            tracing::info!(
                config_hash = %app.config.hash,
                file = %relay.rules_path().display(),
                "configuration reloaded"
            );
            super::start_only::warn(&relay.restart_needed(app));
        }
        Err(errors) => tracing::error!(
            problems = errors.errors.len(),
            "reload failed, the previous configuration keeps serving:\n{errors}"
        ),
    }
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sighup_during_a_reload_queues_one_more_and_an_http_reload_is_refused() {
        let reloads = Reloads::default();
        assert!(reloads.begin(Overlap::Refuse).is_ok());
        assert!(matches!(
            reloads.begin(Overlap::Refuse),
            Err(ReloadError::InProgress(_))
        ));
        assert!(matches!(
            reloads.begin(Overlap::Queue),
            Err(ReloadError::Queued)
        ));
        assert!(matches!(
            reloads.begin(Overlap::Queue),
            Err(ReloadError::Queued)
        ));
        // Two SIGHUPs meanwhile: one more reload, then the thread ends.
        assert!(reloads.finish_or_again());
        assert!(matches!(
            reloads.begin(Overlap::Refuse),
            Err(ReloadError::InProgress(_))
        ));
        assert!(!reloads.finish_or_again());
        assert!(reloads.begin(Overlap::Queue).is_ok());
    }
}
