//! `tenure`: the command-line entry point to every Tenure service.

mod access;
mod audit;
mod bench;
mod cli;
mod dead_letters;
mod demo;
mod events;
mod footprint;
mod generate;
mod latency;
mod reconcile;
mod removal;
mod replay;
mod services;
mod shutdown;
mod simulate;
mod sql;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let default_filter = if matches!(cli.command, cli::Command::Demo(_) | cli::Command::Bench(_)) {
        "warn"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TENURE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::execute(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
