//! `mqa-relay store copy`: an embedded store's whole history into a PostgreSQL database, to grow
//! from one relay to several (see [`crate::store::copy`]); `mqa-relay store backup`: a
//! consistent copy of the embedded store while the relay runs.

use std::path::PathBuf;
use std::process::ExitCode;

use super::on_store::{self, StoreArgs};
use crate::store::DatabaseUrl;
use crate::store::copy::embedded_to_postgres;

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy an embedded store (stopped) into an empty PostgreSQL database, ids and all.
    Copy {
        /// The embedded store's directory.
        #[arg(long, value_name = "DATA_DIR")]
        from: PathBuf,
        /// The PostgreSQL database, e.g. postgres://relay:PASSWORD@db:5432/mqa.
        #[arg(
            long,
            value_name = "URL",
            env = "MQA_RELAY_STORE",
            hide_env_values = true
        )]
        to: String,
    },
    /// Copy the embedded store, consistently, into a new file while the relay runs on it (the
    /// copy is checked whole before it takes the name; restore it as `relay.db` in a data
    /// directory, with the relay stopped).
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        /// The new file (never overwritten).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
}

pub fn run(command: StoreCommand) -> ExitCode {
    match command {
        StoreCommand::Copy { from, to } => copy(from, &to),
        StoreCommand::Backup { store, to } => backup(&store, &to),
    }
}

fn backup(args: &StoreArgs, to: &std::path::Path) -> ExitCode {
    let config = match on_store::locate(args) {
        Ok((config, _)) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(url) = &config.database {
        eprintln!(
            "error: the store is the PostgreSQL database {url}: back it up with the database's \
             own tools (pg_dump, or the server's continuous archiving)"
        );
        return ExitCode::from(1);
    }
    match crate::store::backup_embedded(&config.data_dir, to) {
        Ok(b) => {
            println!(
                "backed up {} into {}: {} events, {} deliveries, {} bytes, schema version {}",
                config.describe(),
                to.display(),
                b.events,
                b.deliveries,
                b.bytes,
                b.schema
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn copy(from: PathBuf, to: &str) -> ExitCode {
    let to = match DatabaseUrl::parse(to) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("error: --to: {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match super::runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(embedded_to_postgres(&from, &to)) {
        Ok(copied) => {
            println!("copied {} into {to}:", from.display());
            for (table, rows) in copied.tables {
                println!("  {table}: {rows}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
