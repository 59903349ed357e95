//! The command line: `serve`, `check`, `test`, `send`, `dlq`, `events`, `store`. Each command is a thin wrapper over the library
//! calls `serve` itself uses, so `check` and `test` can never disagree with the running relay.

mod check;
mod dlq;
mod events;
mod on_store;
mod send;
pub mod serve;
mod store_cmd;
mod systemd;
mod test_cmd;

pub use serve::ServeArgs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Turns MonitorQA webhooks into Slack, Microsoft Teams and email notifications.
#[derive(Debug, Parser)]
#[command(name = "mqa-relay", version, about)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "MQA_RELAY_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay: receive webhooks, route, deliver.
    Serve(ServeArgs),
    /// Validate a rules file; print every problem with file:line:col. Exit 0 valid, 1 invalid.
    Check {
        /// The rules file.
        #[arg(long, default_value = "rules.yaml", env = "MQA_RELAY_RULES")]
        rules: PathBuf,
        /// Refuse the file for its warnings too (for CI): a `where` path MonitorQA never
        /// sends, an operand that can never match, an undocumented event type.
        #[arg(long)]
        strict: bool,
    },
    /// Show which rules match sample events and which targets they notify.
    Test {
        /// The rules file.
        #[arg(long, default_value = "rules.yaml", env = "MQA_RELAY_RULES")]
        rules: PathBuf,
        /// For every rule that did not match, print its first failing condition.
        #[arg(long)]
        explain: bool,
        /// One JSON document per event instead of text.
        #[arg(long)]
        json: bool,
        /// Also write each target's payload into this directory (docs pictures use them).
        #[arg(long, value_name = "DIR")]
        payload_dir: Option<PathBuf>,
        /// Look the events up in the MonitorQA API first (needs monitorqa.api_key), as serve does.
        #[arg(long)]
        enrich: bool,
        /// Event files (MonitorQA webhook bodies).
        #[arg(required = true)]
        events: Vec<PathBuf>,
    },
    /// The dead-letter list: list, show, replay, drop.
    Dlq {
        #[command(flatten)]
        store: on_store::StoreArgs,
        #[command(subcommand)]
        command: dlq::DlqCommand,
    },
    /// Recent events and how their deliveries stand; the deliveries still waiting and why.
    Events {
        #[command(flatten)]
        store: on_store::StoreArgs,
        #[command(subcommand)]
        command: events::EventsCommand,
    },
    /// Render and really send one message to one target, and print the provider's answer.
    Send {
        /// The rules file.
        #[arg(long, default_value = "rules.yaml", env = "MQA_RELAY_RULES")]
        rules: PathBuf,
        /// The target to send to, by name.
        #[arg(long)]
        target: String,
        /// The event to send (default: a sample event of a type the target's rules handle).
        event: Option<PathBuf>,
    },
    /// The store itself: copy an embedded store into PostgreSQL.
    Store {
        #[command(subcommand)]
        command: store_cmd::StoreCommand,
    },
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => {
            init_logging(cli.log_format);
            serve::run(args)
        }
        Command::Check { rules, strict } => check::run(&rules, strict),
        Command::Test {
            rules,
            explain,
            json,
            payload_dir,
            enrich,
            events,
        } => {
            let opts = test_cmd::TestOptions {
                explain,
                json,
                payload_dir,
                enrich,
            };
            test_cmd::run(&rules, &events, &opts)
        }
        Command::Send {
            rules,
            target,
            event,
        } => send::run(&rules, &target, event.as_deref()),
        Command::Dlq { store, command } => dlq::run(&store, command),
        Command::Events { store, command } => events::run(&store, command),
        Command::Store { command } => store_cmd::run(command),
    }
}

/// A runtime for a one-shot command, or the exit code after saying why there is none.
pub(crate) fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::from(1)
    })
}

/// Installs the tracing subscriber: `RUST_LOG` filters (default `info`), text or JSON lines.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // Handlebars logs every render at debug: the strict check at start-up alone would print
    // thousands of lines (with event contents), so it stays at warn unless asked for.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,handlebars=warn"));
    let colour = colour_wanted(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR"),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests calling run twice) keeps the first subscriber; nothing to report.
    drop(result);
}

/// Whether text logs may use colour: only on a terminal (a file, a pipe or journald gets plain
/// text), and never when `NO_COLOR` is set to anything but the empty string (no-color.org).
fn colour_wanted(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some("".into())));
        assert!(!colour_wanted(true, Some("1".into())));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(false, Some("".into())));
    }

    fn dlq_store(args: &[&str]) -> on_store::StoreArgs {
        match Cli::try_parse_from(args)
            .expect("the command line parses")
            .command
        {
            Command::Dlq { store, .. } => store,
            other => panic!("not dlq: {other:?}"),
        }
    }

    #[test]
    fn the_dlq_store_options_go_before_or_after_its_subcommand() {
        let after = dlq_store(&[
            "mqa-relay",
            "dlq",
            "list",
            "--rules",
            "r.yaml",
            "--data-dir",
            "d",
        ]);
        let before = dlq_store(&[
            "mqa-relay",
            "dlq",
            "--rules",
            "r.yaml",
            "--data-dir",
            "d",
            "list",
        ]);
        for store in [after, before] {
            assert_eq!(store.rules, PathBuf::from("r.yaml"));
            assert_eq!(store.data_dir, Some(PathBuf::from("d")));
        }
    }
}
