//! Telling systemd (a `Type=notify` unit) how the relay stands: ready once it listens,
//! reloading while a SIGHUP is read, stopping once it drains, each with a one-line status that
//! `systemctl status` shows. Without `NOTIFY_SOCKET` (not run by systemd) nothing is sent.

use std::sync::Arc;

use sd_notify::NotifyState;

use crate::app::{App, Relay};

/// The relay listens and serves `app`.
pub fn ready(app: &App, addr: &str) {
    let status = format!("listening on {addr}; {}", serving(app));
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// A reload began (`MONOTONIC_USEC` is what `Type=notify-reload` asks for with it).
fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

/// Tells systemd of every reload, however it was asked for (SIGHUP, `POST /-/reload`):
/// reloading while one runs, ready again with its outcome once the last queued one is done.
pub async fn follow_reloads(relay: Arc<Relay>) {
    let mut phases = relay.watch_reloading();
    let mut told = *phases.borrow_and_update();
    while phases.changed().await.is_ok() {
        let now = *phases.borrow_and_update();
        // A reload that began and ended between two looks is still told as one.
        if now.begun > told.begun {
            reloading();
        }
        if !now.running && (told.running || now.begun > told.begun) {
            reloaded(&relay);
        }
        told = now;
    }
}

/// The reloads ended; the newest one's outcome and what serves now go in the status.
fn reloaded(relay: &Relay) {
    let loads = relay.loads();
    let how = match loads.recent().next() {
        Some(load) if !load.ok() => {
            let n = load.problems.len();
            let s = if n == 1 { "" } else { "s" };
            format!("reload refused ({n} problem{s}, see the log), the previous rules serve")
        }
        _ => "reloaded".to_string(),
    };
    let status = format!("{how}; {}", serving(&relay.app()));
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// The relay drains and stops.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("draining: finishing requests and in-flight sends"),
    ]);
}

fn serving(app: &App) -> String {
    let c = &app.config;
    let hash: String = c.hash.chars().take(12).collect();
    format!(
        "{} rules, {} targets, config hash {hash}",
        c.rules.rules().len(),
        c.targets.len()
    )
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot tell systemd how the relay stands: {e}");
    }
}
