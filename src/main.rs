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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("QIANSHU_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
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
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qianshu: {e:#}");
            ExitCode::FAILURE
        }
    }
}
