//! Telling systemd (a `Type=notify` unit) how the relay stands: ready once it listens,
//! reloading while a SIGHUP is read, stopping once it drains, each with a one-line status that
//! `systemctl status` shows. Without `NOTIFY_SOCKET` (not run by systemd) nothing is sent.

use sd_notify::NotifyState;

use crate::app::App;

/// The relay listens and serves `app`.
pub fn ready(app: &App, addr: &str) {
    let status = format!("listening on {addr}; {}", serving(app));
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// A reload began (`MONOTONIC_USEC` is what `Type=notify-reload` asks for with it).
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

/// A reload ended (`how`: "reloaded", "reload refused (…)"); `app` serves now.
pub fn reloaded(app: &App, how: &str) {
    let status = format!("{how}; {}", serving(app));
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
