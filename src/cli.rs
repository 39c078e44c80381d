//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "A terminal release cockpit: builds, gates and approvals from pull request to production."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Run on the embedded simulated estate (no config, no network beyond 127.0.0.1).
    #[arg(long, global = true)]
    pub demo: bool,
    /// Config file (default: $FLIGHTDECK_CONFIG, then $XDG_CONFIG_HOME/flightdeck/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Theme: dark, light, mono, or a file name in the themes directory.
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Disable every action; the screen shows a lock.
    #[arg(long, global = true)]
    pub read_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Poll every source once and print the state model, then exit (1 if a source failed).
    Status {
        /// Print JSON (the only format for now; kept explicit for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Render one frame as plain text once every source has answered, then exit.
    Snapshot {
        /// WIDTHxHEIGHT
        #[arg(long, default_value = "120x40", value_parser = parse_size)]
        size: (u16, u16),
    },
    /// Print the keymap (as Markdown).
    Keys,
    /// Print the theme's roles and styles.
    Theme,
    /// Run only the simulated estate and print a config that points at it (for trying or testing).
    Sim,
    /// Print the simulated EKS cluster's exec credential: the kubeconfig exec plugin of the
    /// simulated estate (it stands in for `aws eks get-token`).
    #[command(hide = true)]
    SimEksToken {
        /// The simulated cluster's token endpoint.
        #[arg(long)]
        url: String,
        /// The EKS cluster name.
        #[arg(long)]
        cluster: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print the effective configuration, secrets masked.
    Check,
    /// Print every path Flightdeck uses.
    Paths,
}

fn parse_size(text: &str) -> Result<(u16, u16), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 120x40")?;
    let w: u16 = w.trim().parse().map_err(|_| format!("bad width `{w}`"))?;
    let h: u16 = h.trim().parse().map_err(|_| format!("bad height `{h}`"))?;
    if !(10..=1000).contains(&w) || !(5..=1000).contains(&h) {
        return Err("size out of range (10x5 to 1000x1000)".into());
    }
    Ok((w, h))
}
