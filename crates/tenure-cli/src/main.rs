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
mod settings;
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
    tenure_connector::logging::init("TENURE_LOG", default_filter);
    let outcome = cli::execute(cli).await;
    // Buffered spans go out before the process does (when exported over OTLP).
    tokio::task::spawn_blocking(tenure_connector::logging::flush)
        .await
        .ok();
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", causes(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: a cause whose text its wrapper already
/// includes ("error connecting to server: ...") is not repeated.
fn causes(error: &anyhow::Error) -> String {
    let mut said: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if said.iter().any(|s| s.contains(&text)) {
            continue;
        }
        said.push(text);
    }
    said.join(": ")
}

#[cfg(test)]
mod tests {
    use super::causes;

    #[test]
    fn each_cause_is_said_once() {
        let inner = std::io::Error::other("error connecting to server");
        let wrapped = anyhow::Error::new(inner)
            .context("PostgreSQL: error connecting to server")
            .context("cannot open the database");
        assert_eq!(
            causes(&wrapped),
            "cannot open the database: PostgreSQL: error connecting to server"
        );
    }
}
