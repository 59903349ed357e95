//! Where a command that works beside a running relay (`dlq`, `events`, `store backup`) finds
//! its store: the one that relay uses, as `--store`, the rules file or `--data-dir` name it
//! (SQLite allows a second process to read and write the file safely; PostgreSQL is shared).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::app::App;
use crate::config::default_data_dir;
use crate::store::{DatabaseUrl, Store, StoreConfig};

/// Where the store is: `--store`, else the rules file's `server.store`, else the embedded store
/// in `--data-dir`, else in `server.data_dir`, else in `data` beside the rules file.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The rules file (for `server.store` or `server.data_dir` and, for `show`, the templates).
    /// Accepted before or after the subcommand (`dlq --rules F list`, `dlq list --rules F`).
    #[arg(
        long,
        default_value = "rules.yaml",
        env = "MQA_RELAY_RULES",
        global = true
    )]
    pub rules: PathBuf,
    /// The store's directory (overrides server.data_dir).
    #[arg(long, env = "MQA_RELAY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database (overrides server.store).
    #[arg(long, env = "MQA_RELAY_STORE", hide_env_values = true, global = true)]
    pub store: Option<String>,
}

/// Runs `work` on the store (with the rules file's configuration when it loads, for
/// templates), closes the store, and turns the outcome into the exit code: 0, or 1 after
/// printing the error.
pub fn run(
    args: &StoreArgs,
    work: impl AsyncFnOnce(&Store, Option<&App>) -> Result<(), String>,
) -> ExitCode {
    let runtime = match super::runtime(false) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let outcome = runtime.block_on(async {
        let (config, app) = locate(args)?;
        let store = Store::open(&config).await.map_err(|e| e.to_string())?;
        let result = work(&store, app.as_ref()).await;
        store.close().await;
        result
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// Where the store is, without opening it, with the rules file's configuration when it loads.
/// A rules file that exists but does not load (an unset `${VAR}`, say) is an error unless
/// `--data-dir` or `--store` names the store: guessing from it could pick another store.
pub fn locate(args: &StoreArgs) -> Result<(StoreConfig, Option<App>), String> {
    let named = args.data_dir.is_some() || args.store.is_some();
    let app = match App::load(&args.rules) {
        Ok(app) => Some(app),
        Err(_) if named || !args.rules.exists() => None,
        Err(errors) => {
            return Err(format!(
                "{errors}\n{} cannot be loaded, so which store it names is not known: fix it, \
                 or name the store with --data-dir or --store",
                args.rules.display()
            ));
        }
    };
    let config = store_config(args, app.as_ref())?;
    Ok((config, app))
}

/// The store the running relay uses, as `--store`, the rules file or `--data-dir` name it.
fn store_config(args: &StoreArgs, app: Option<&App>) -> Result<StoreConfig, String> {
    if let Some(text) = &args.store {
        let url = DatabaseUrl::parse(text).map_err(|e| format!("--store: {e}"))?;
        return Ok(StoreConfig::postgres(url));
    }
    if let Some(url) = app.and_then(|a| a.config.server.store.clone()) {
        return Ok(StoreConfig::postgres(url));
    }
    let data_dir = data_dir(args, app);
    if !mqa_relay_store_exists(&data_dir) {
        return Err(format!(
            "no store in {} (use --data-dir, or --store for a PostgreSQL database)",
            data_dir.display()
        ));
    }
    Ok(StoreConfig::embedded(&data_dir))
}

fn mqa_relay_store_exists(data_dir: &Path) -> bool {
    crate::store::database_file(data_dir).exists()
}

fn data_dir(args: &StoreArgs, app: Option<&App>) -> PathBuf {
    args.data_dir
        .clone()
        .or_else(|| app.and_then(|a| a.config.server.data_dir.clone()))
        .unwrap_or_else(|| default_data_dir(&args.rules))
}
