//! `mqa-relay serve` (start-up wiring lands with the server and the store).
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The rules file.
    #[arg(long, default_value = "rules.yaml", env = "MQA_RELAY_RULES")]
    pub rules: PathBuf,
}

pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("serve is not available in this build yet");
    ExitCode::from(1)
}
