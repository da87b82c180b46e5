//! The command line: `localplane serve | env | ops | snapshot | reset | seed | completions | man`. `serve`
//! runs the server ([`serve`]); `env` prints the shell exports that point AWS clients at it
//! ([`env`]); `ops`, `snapshot`, `reset` and `seed` call a running server's admin API; `completions` and
//! `man` document the command line itself ([`generate`]).

pub mod env;
pub mod generate;
pub mod serve;

pub use serve::{endpoint_url, serve, ServeArgs, Settings};

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::admin_client::AdminServer;
pub use crate::admin_client::DEFAULT_ENDPOINT;

/// A local, wire-compatible AWS control plane for MSK Connect and Cloud Map.
#[derive(Parser, Debug)]
#[command(name = "localplane", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Print the shell exports that point the AWS CLI and SDKs at a server: eval "$(localplane env)".
    Env(env::EnvArgs),
    /// Show the operations of a running server.
    Ops {
        /// list or watch.
        #[command(subcommand)]
        action: OpsAction,
    },
    /// Export or import the whole state of a running server.
    Snapshot {
        /// export or import.
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// Create what a seed file (YAML or JSON) describes on a running server, skipping what exists.
    Seed {
        /// The seed file (see examples/seed.yaml).
        file: PathBuf,
        /// The server.
        #[command(flatten)]
        server: AdminServer,
    },
    /// Delete all state of a running server (or one service's).
    Reset {
        /// The server.
        #[command(flatten)]
        server: AdminServer,
        /// Only this service: kafkaconnect or servicediscovery.
        #[arg(long)]
        service: Option<String>,
    },
    /// Print a shell completion script, such as: localplane completions bash > /etc/bash_completion.d/localplane
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), such as: localplane man | man -l -
    Man {
        /// Write localplane.1 and a page per subcommand (localplane-serve.1, …) into this directory
        /// instead.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

/// `localplane ops …`
#[derive(Subcommand, Debug)]
pub enum OpsAction {
    /// Print the operations of both services once.
    List {
        /// The server.
        #[command(flatten)]
        server: AdminServer,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// A live view of the operations, refreshed until interrupted.
    Watch {
        /// The server.
        #[command(flatten)]
        server: AdminServer,
        /// Refresh interval in milliseconds.
        #[arg(long, default_value_t = 250)]
        interval_ms: u64,
    },
}

/// `localplane snapshot …`
#[derive(Subcommand, Debug)]
pub enum SnapshotAction {
    /// Write the server's state to FILE.
    Export {
        /// Destination file.
        file: PathBuf,
        /// The server.
        #[command(flatten)]
        server: AdminServer,
    },
    /// Replace the server's state with FILE.
    Import {
        /// Snapshot file.
        file: PathBuf,
        /// The server.
        #[command(flatten)]
        server: AdminServer,
    },
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args.settings()?).await,
        Command::Env(args) => {
            let text = env::exports(&args).map_err(anyhow::Error::msg)?;
            print!("{text}");
            Ok(())
        }
        Command::Ops { action: OpsAction::List { server, json } } => crate::ops_view::list(&server, json).await,
        Command::Ops { action: OpsAction::Watch { server, interval_ms } } => {
            crate::ops_view::watch(&server, interval_ms).await
        }
        Command::Snapshot { action: SnapshotAction::Export { file, server } } => {
            let body = server.call(reqwest::Method::GET, "/_localplane/snapshot", None).await?;
            std::fs::write(&file, body).with_context(|| format!("writing {}", file.display()))?;
            eprintln!("snapshot written to {}", file.display());
            Ok(())
        }
        Command::Snapshot { action: SnapshotAction::Import { file, server } } => {
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let out = server.call(reqwest::Method::PUT, "/_localplane/snapshot", Some(body)).await?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Seed { file, server } => {
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let out = server
                .call(reqwest::Method::POST, "/_localplane/seed", Some(body))
                .await
                .map_err(|e| anyhow::anyhow!("{} was not seeded: {e}", file.display()))?;
            print!("{}", seed_report(&out));
            Ok(())
        }
        Command::Reset { server, service } => {
            let path = match service {
                Some(s) => format!("/_localplane/reset?service={s}"),
                None => "/_localplane/reset".to_string(),
            };
            let out = server.call(reqwest::Method::POST, &path, None).await?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Completions { shell } => generate::completions(shell, &mut std::io::stdout().lock()),
        Command::Man { out_dir: None } => generate::man(&mut std::io::stdout().lock()),
        Command::Man { out_dir: Some(dir) } => generate::man_pages(&dir),
    }
}

/// One line per seeded entry of a `POST /_localplane/seed` answer: created or already there.
fn seed_report(answer: &[u8]) -> String {
    let doc: serde_json::Value = serde_json::from_slice(answer).unwrap_or_default();
    let mut text = String::new();
    for o in doc["seeded"].as_array().into_iter().flatten() {
        let s = |k: &str| o[k].as_str().unwrap_or_default().to_string();
        let verb = if o["created"].as_bool() == Some(true) { "created" } else { "exists " };
        text.push_str(&format!("{verb} {} {} {} ({}/{})\n", s("kind"), s("name"), s("id"), s("account"), s("region")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_flags_still_take_no_value() {
        let cli = Cli::try_parse_from(["localplane", "serve", "--ephemeral", "--skip-integrity-check"]).unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        assert!(args.ephemeral && args.skip_integrity_check);
        let cli = Cli::try_parse_from(["localplane", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else { panic!("not serve") };
        assert!(!args.ephemeral && !args.skip_integrity_check);
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
