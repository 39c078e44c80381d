//! Configuration: the TOML schema, loading with precise errors, secrets, the keymap and themes.

mod deploy;
mod error;
mod images;
mod keymap;
mod load;
mod log;
mod schema;
mod secret;
mod theme;

pub use deploy::{AwxAuth, AwxSourceConfig, KubeSourceConfig};
pub use error::ConfigError;
pub use images::{EcrSourceConfig, EngineSourceConfig, RegistrySourceConfig, check_engine_host};
pub use keymap::{Action as KeyAction, KeyCodeSpec, KeySpec, Keymap};
pub use load::{
    Config, ConfigPaths, GithubSourceConfig, JenkinsSourceConfig, NexusSourceConfig, SonarSourceConfig, load_from_path,
    load_from_str, resolve_path,
};
pub use log::LogSettings;
pub use schema::{EnvironmentConfig, RawConfig, ServiceConfig};
pub use secret::Secret;
pub use theme::{StyleSpec, Theme, builtin_theme_names};
