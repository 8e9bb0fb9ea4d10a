use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use qianshu::config::{ServeFlags, ServeSettings, StoreFlags, StoreSettings};

/// qianshu (签署): a self-hosted e-signature server speaking Tencent Cloud essbasic 2021-05-26.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    store: StoreFlags,
    /// How log lines are written to stderr: `text` for people, `json` (one object a line) for
    /// log collectors
    #[arg(long, env = "QIANSHU_LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the essbasic API
    Serve(Box<ServeFlags>),
    /// Load a tenants file (applications, keys, quota, organizations, operators, templates); idempotent
    Apply {
        /// The tenants JSON file
        file: PathBuf,
    },
    /// Copy the SQLite database, consistently even while it is served, into a new FILE
    /// (PostgreSQL: pg_dump; see the README)
    Backup {
        /// Where the copy goes; must not exist
        file: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("QIANSHU_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        // Fields at the top level, beside `message`, so that collectors index them as they are.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("qianshu: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(flags) => qianshu::server::serve(ServeSettings::load(&cli.store, &flags)?).await,
            Command::Apply { file } => qianshu::server::apply(StoreSettings::load(&cli.store)?, &file).await,
            Command::Backup { file } => qianshu::server::backup(StoreSettings::load(&cli.store)?, &file).await,
        }
    });
    // `serve` bounds its own stopping (the drain timeout): a render thread it gave up on must
    // not hold the exit.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qianshu: {e:#}");
            ExitCode::FAILURE
        }
    }
}
