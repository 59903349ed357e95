//! `mqa-relay store copy`: an embedded store's whole history into a PostgreSQL database, to grow
//! from one relay to several (see [`crate::store::copy`]).

use std::path::PathBuf;
use std::process::ExitCode;

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
}

pub fn run(command: StoreCommand) -> ExitCode {
    let StoreCommand::Copy { from, to } = command;
    let to = match DatabaseUrl::parse(&to) {
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
