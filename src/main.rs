//! The `mqa-relay` binary: parses the command line and hands it to [`mqa_relay::cli`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    mqa_relay::cli::run(mqa_relay::cli::Cli::parse())
}
