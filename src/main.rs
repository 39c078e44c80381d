//! `flightdeck`: the entry point. Parses the command line, loads the config (or starts the
//! simulated estate), and runs the chosen command. Exit codes: 0 ok, 2 usage or config, 1 other.

mod cli;

/// Print a line to stdout. A closed pipe (`flightdeck status --json | head`) ends the program
/// quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout(), $($arg)*).and_then(|_| std::io::stdout().flush()).is_err() {
            std::process::exit(0);
        }
    }};
}

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use clap::Parser;
use flightdeck::app::{self, AppOptions};
use flightdeck::config::{self, Config, ConfigPaths, Theme};
use flightdeck::runtime::Runtime;
use flightdeck::sim::{Estate, SimOptions};
use flightdeck::ui::{self, Ctx, View};

use cli::{Cli, Command, Common, ConfigCommand};

/// A failure and the exit code it deserves.
enum Failure {
    Usage(String),
    Other(String),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let _ = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .install();
    app::install_panic_hook();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flightdeck: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("flightdeck: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("flightdeck: {msg}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let paths = ConfigPaths::discover();
    match cli.command {
        Some(Command::Config {
            command: ConfigCommand::Paths,
        }) => {
            print_paths(&cli.common, &paths);
            Ok(())
        }
        Some(Command::Config {
            command: ConfigCommand::Check,
        }) => {
            let (config, _estate) = load(&cli.common, &paths).await?;
            out_raw!("{}", config.render_effective());
            Ok(())
        }
        Some(Command::Keys) => {
            let (config, _estate) = load(&cli.common, &paths)
                .await
                .unwrap_or_else(|_| (default_config(), None));
            out!("| keys | action | what it does |\n|---|---|---|");
            for (action, keys) in config.keymap.iter() {
                let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                out!(
                    "| {} | `{}` | {} |",
                    keys.join(" "),
                    action.name(),
                    action.description()
                );
            }
            Ok(())
        }
        Some(Command::Theme) => {
            let theme = theme(&cli.common, "dark", &paths)?;
            out!("theme {}", theme.name);
            for (role, style) in theme.roles() {
                out!("{role:<18} {style:?}");
            }
            Ok(())
        }
        Some(Command::SimEksToken { url, cluster }) => {
            let credential = flightdeck::sim::fetch_exec_credential(&url, cluster.as_deref())
                .await
                .map_err(Failure::Other)?;
            out_raw!("{credential}");
            Ok(())
        }
        Some(Command::Sim) => {
            let estate = Estate::start(SimOptions::default())
                .await
                .map_err(|e| Failure::Other(format!("cannot start the simulated estate: {e}")))?;
            out!(
                "# export FLIGHTDECK_DEMO_TOKEN=demo-token\n{}",
                estate.demo_config_toml()
            );
            let _ = std::io::stdout().flush();
            let _ = tokio::signal::ctrl_c().await;
            Ok(())
        }
        Some(Command::Status { json: _ }) => {
            let (config, _estate) = load(&cli.common, &paths).await?;
            let mut rt = runtime(&config, &cli.common, &paths)?;
            rt.poll_all_once().await;
            let text = serde_json::to_string_pretty(&rt.state).map_err(|e| Failure::Other(e.to_string()))?;
            out!("{text}");
            // The JSON is printed either way; the exit code tells a script whether to trust it.
            let failing: Vec<String> = rt
                .state
                .sources
                .values()
                .filter(|h| h.consecutive_failures > 0)
                .map(|h| format!("{}: {}", h.name, h.last_error.as_deref().unwrap_or("failed")))
                .collect();
            if failing.is_empty() {
                Ok(())
            } else {
                Err(Failure::Other(format!(
                    "some sources did not answer: {}",
                    failing.join("; ")
                )))
            }
        }
        Some(Command::Snapshot { size: (w, h) }) => {
            let (config, _estate) = load(&cli.common, &paths).await?;
            let theme = theme(&cli.common, &config.theme, &paths)?;
            let mut rt = runtime(&config, &cli.common, &paths)?;
            rt.poll_all_once().await;
            let view = View {
                read_only: cli.common.read_only,
                show_clock: false,
                ..View::default()
            };
            let ctx = Ctx::new(&rt.state, &view, &theme, &config.keymap, Utc::now());
            out_raw!("{}", ui::render_to_text(&ctx, w, h));
            Ok(())
        }
        None => {
            let (config, _estate) = load(&cli.common, &paths).await?;
            let theme = theme(&cli.common, &config.theme, &paths)?;
            init_logging(&paths, cli.common.demo);
            let rt = runtime(&config, &cli.common, &paths)?;
            let log_dir = config
                .log
                .save_dir
                .clone()
                .or_else(|| paths.data_dir.as_ref().map(|d| d.join("logs")))
                .unwrap_or_else(std::env::temp_dir);
            let options = AppOptions {
                read_only: cli.common.read_only,
                theme,
                log_dir,
                log_rules: config.log.rules.clone(),
            };
            app::run(config, rt, options)
                .await
                .map_err(|e| Failure::Other(format!("{e:#}")))
        }
    }
}

/// The config from the file the user chose, or the simulated estate's for `--demo` (the estate
/// keeps running while the returned handle lives).
async fn load(common: &Common, paths: &ConfigPaths) -> Result<(Config, Option<Estate>), Failure> {
    if common.demo {
        let estate = Estate::start(SimOptions::default())
            .await
            .map_err(|e| Failure::Other(format!("cannot start the simulated estate: {e}")))?;
        let text = estate.demo_config_toml();
        let token = SimOptions::default().token;
        let env = move |k: &str| {
            if k == "FLIGHTDECK_DEMO_TOKEN" {
                Some(token.clone())
            } else {
                std::env::var(k).ok()
            }
        };
        let config = config::load_from_str(&text, &PathBuf::from("<demo>"), paths.themes_dir().as_deref(), &env)
            .map_err(|e| Failure::Other(format!("the demo config is invalid (a bug): {e}")))?;
        return Ok((config, Some(estate)));
    }
    let Some(path) = config::resolve_path(common.config.as_deref(), paths) else {
        return Err(Failure::Usage(
            "no config directory; pass --config PATH or try --demo".into(),
        ));
    };
    let config =
        config::load_from_path(&path, paths.themes_dir().as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok((config, None))
}

fn default_config() -> Config {
    config::load_from_str("", &PathBuf::from("<defaults>"), None, &|_| None).expect("an empty config is valid")
}

fn theme(common: &Common, configured: &str, paths: &ConfigPaths) -> Result<Theme, Failure> {
    let name = common.theme.as_deref().unwrap_or(configured);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Theme::load(name, paths.themes_dir().as_deref(), no_color).map_err(Failure::Usage)
}

fn runtime(config: &Config, common: &Common, paths: &ConfigPaths) -> Result<Runtime, Failure> {
    let audit = config.audit_path.clone().or_else(|| {
        let file = if common.demo { "demo-audit.jsonl" } else { "audit.jsonl" };
        paths.data_dir.as_ref().map(|d| d.join(file))
    });
    Runtime::new(config, audit).map_err(|e| Failure::Other(format!("cannot set up the sources: {e}")))
}

fn print_paths(common: &Common, paths: &ConfigPaths) {
    let config = config::resolve_path(common.config.as_deref(), paths);
    let show = |p: Option<PathBuf>| p.map(|p| p.display().to_string()).unwrap_or_else(|| "(none)".into());
    out!("config file   {}", show(config));
    out!("themes dir    {}", show(paths.themes_dir()));
    out!("audit file    {}", show(paths.audit_file()));
    out!(
        "demo audit    {}",
        show(paths.data_dir.as_ref().map(|d| d.join("demo-audit.jsonl")))
    );
    out!("log file      {}", show(paths.log_file()));
}

/// Logs go to a file: the terminal belongs to the cockpit.
fn init_logging(paths: &ConfigPaths, demo: bool) {
    let Some(path) = paths.log_file() else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(&path) else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLIGHTDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if demo { "warn" } else { "info" }));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}
