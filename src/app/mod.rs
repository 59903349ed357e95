//! One loaded configuration ([`App`]) and the running relay's shared state ([`Relay`]).
//!
//! Reload builds a whole new `App` from the rules file and swaps it atomically; on any error the
//! old one keeps serving. Every part that needs "the rules now" calls [`Relay::app`] once per
//! unit of work (a request, an event) and keeps that snapshot for the unit's length. A few
//! `server:` settings are read only at start; [`start_only`] names the ones a reload changed.
//! [`reload`] runs the relay's reloads off its async threads, one at a time, with a bounded wait.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use tokio::sync::Notify;

use crate::config::{self, Config, ConfigErrors};
use crate::enrich::Enricher;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::targets::ConfiguredTarget;
use crate::template::Templates;

pub mod check;
pub mod loads;
pub mod reload;
pub mod start_only;

pub use reload::{Overlap, RELOAD_WAIT, ReloadError};

/// Everything one configuration file yields, validated and compiled.
pub struct App {
    pub config: Config,
    /// The built-in templates, overridden by the files in `templates/` beside the rules file.
    pub templates: Templates,
    /// The MonitorQA API lookup, when `monitorqa.api_key` is set.
    pub enricher: Option<Enricher>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Loads the rules file and the templates beside it, and checks them together: every
    /// template a rule or target uses is rendered against the sample events it can meet, and
    /// every target's request is built (strict mode). All problems are reported at once.
    pub fn load(path: &Path) -> Result<App, ConfigErrors> {
        let config = config::load(path)?;
        let dir = templates_dir(path);
        let templates = Templates::load_dir(&dir).map_err(check::template_errors)?;
        let app = App::new(config, templates);
        check::strict(&app)?;
        Ok(app)
    }

    /// The target of this name, if the configuration has one.
    pub fn target(&self, name: &str) -> Option<&ConfiguredTarget> {
        self.config.targets.get(name)
    }

    /// Valid but probably wrong: see [`check::warnings`].
    pub fn warnings(&self) -> Vec<String> {
        check::warnings(self)
    }

    /// Assembles an `App` from a validated config and loaded templates (no strict check).
    pub fn new(config: Config, templates: Templates) -> App {
        let enricher = config.monitorqa.as_ref().map(Enricher::new);
        App {
            config,
            templates,
            enricher,
        }
    }
}

/// `templates/` in the directory of the rules file.
pub fn templates_dir(rules: &Path) -> PathBuf {
    config::base_dir(rules).join("templates")
}

/// The running relay: the current `App`, the store, and the signals between the loops.
pub struct Relay {
    app: ArcSwap<App>,
    rules_path: PathBuf,
    pub store: Store,
    draining: AtomicBool,
    reload_lock: std::sync::Mutex<()>,
    /// The running relay's own reloads (SIGHUP, HTTP): see [`reload`].
    reloads: reload::Reloads,
    /// The `server:` settings the relay started with (some are read only then).
    started: config::ServerConfig,
    /// Wakes the router when intake stored a new event.
    pub new_events: Notify,
    /// Bumped when every lane should look at its queue (a replay, a reload); the senders
    /// watch it.
    pub new_deliveries: tokio::sync::watch::Sender<u64>,
    /// One wake-up per lane, for the deliveries of one target.
    lane_wakes: std::sync::Mutex<HashMap<String, Arc<Notify>>>,
    /// When the serving configuration was loaded, and the last reloads' outcomes.
    loads: std::sync::Mutex<loads::Loads>,
    pub metrics: Metrics,
}

impl Relay {
    pub fn new(app: App, rules_path: PathBuf, store: Store) -> Arc<Relay> {
        let metrics = Metrics::new();
        metrics.config_loaded(true, Some(&app.config.hash), unix_seconds());
        let loads = loads::Loads::started(crate::clock::now_ms(), &app.config.hash);
        let started = app.config.server.clone();
        Arc::new(Relay {
            started,
            app: ArcSwap::from_pointee(app),
            rules_path,
            store,
            draining: AtomicBool::new(false),
            reload_lock: std::sync::Mutex::new(()),
            reloads: reload::Reloads::default(),
            new_events: Notify::new(),
            new_deliveries: tokio::sync::watch::Sender::new(0),
            lane_wakes: std::sync::Mutex::new(HashMap::new()),
            loads: std::sync::Mutex::new(loads),
            metrics,
        })
    }

    /// The configuration current at this moment.
    pub fn app(&self) -> Arc<App> {
        self.app.load_full()
    }

    pub fn rules_path(&self) -> &Path {
        &self.rules_path
    }

    /// Loads the rules file again and swaps it in; on error the current `App` stays.
    /// Blocking, for as long as reading the file takes: the running relay calls it through
    /// [`Relay::reload_within`], which bounds the wait.
    pub fn reload(&self) -> Result<Arc<App>, ConfigErrors> {
        // One reload at a time, so two concurrent reloads cannot swap in an older file last.
        let _guard = self
            .reload_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = unix_seconds();
        let now_ms = crate::clock::now_ms();
        match App::load(&self.rules_path) {
            Ok(app) => {
                let app = Arc::new(app);
                self.metrics
                    .config_loaded(true, Some(&app.config.hash), now);
                // Under the loads' lock, so that [`Relay::serving`] sees the file and its load
                // change together.
                let mut loads = self.lock_loads();
                self.app.store(app.clone());
                loads.record(loads::Load::loaded(now_ms, &app.config.hash));
                Ok(app)
            }
            Err(errors) => {
                self.metrics.config_loaded(false, None, now);
                let problems = errors.errors.iter().map(|e| e.to_string()).collect();
                self.lock_loads()
                    .record(loads::Load::refused(now_ms, problems));
                Err(errors)
            }
        }
    }

    fn lock_loads(&self) -> std::sync::MutexGuard<'_, loads::Loads> {
        self.loads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the serving configuration was loaded, and the last reloads (a copy).
    pub fn loads(&self) -> loads::Loads {
        self.lock_loads().clone()
    }

    /// The configuration serving now and the loads that led to it, seen at one moment.
    pub fn serving(&self) -> (Arc<App>, loads::Loads) {
        let loads = self.lock_loads();
        (self.app(), loads.clone())
    }

    /// The settings of `app` that a reload cannot apply (they were read at start) and that
    /// differ from the ones the relay started with.
    pub fn restart_needed(&self, app: &App) -> Vec<String> {
        start_only::changes(&self.started, &app.config.server)
    }

    /// True once shutdown began: intake answers 503 so MonitorQA retries elsewhere/later.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

impl Relay {
    /// Wakes every sender lane: new deliveries may be due.
    pub fn wake_senders(&self) {
        self.new_deliveries.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Wakes the lane of each of `targets`: they have new deliveries.
    pub fn wake_lanes<'a>(&self, targets: impl IntoIterator<Item = &'a str>) {
        for target in targets {
            self.lane_wake(target).notify_one();
        }
    }

    /// The wake-up of `target`'s lane (a lane waits on it between its steps).
    pub fn lane_wake(&self, target: &str) -> Arc<Notify> {
        let mut wakes = self
            .lane_wakes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        wakes.entry(target.to_owned()).or_default().clone()
    }
}

fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
