//! Finding, parsing and validating the config into a resolved [`Config`]. Every user mistake comes
//! back as a [`ConfigError`] naming file, line, column and key; nothing here panics on input.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::images::{EcrSourceConfig, EngineSourceConfig, RegistrySourceConfig, ScanPolicyConfig, check_engine_host};
use super::schema::{LoadPolicyConfig, QualityPolicyConfig, RawConfig, TestLinkConfig, UiConfig};
use super::{ConfigError, EnvironmentConfig, KeyAction, KeySpec, Keymap, Secret, Theme};
use crate::model::{
    ChainConfig, GithubRef, ImageRef, LoadPolicy, NexusRef, PromotionStrategy, QualityPolicy, RegistryKind, ScanPolicy,
    Service, ServiceJobs, SonarRef, TestSource,
};

/// The config after validation, with secrets resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (`None` for a config built in memory, e.g. `--demo`).
    pub file: Option<PathBuf>,
    pub theme: String,
    pub ui: UiConfig,
    pub audit_path: Option<PathBuf>,
    pub jenkins: Vec<JenkinsSourceConfig>,
    pub github: Option<GithubSourceConfig>,
    pub sonar: Option<SonarSourceConfig>,
    pub nexus: Option<NexusSourceConfig>,
    pub registries: Vec<RegistrySourceConfig>,
    pub ecr: Option<EcrSourceConfig>,
    pub engine: Option<EngineSourceConfig>,
    /// Kubernetes clusters, one kubeconfig context each.
    pub kubernetes: Vec<super::KubeSourceConfig>,
    /// AWX / Ansible Tower servers.
    pub awx: Vec<super::AwxSourceConfig>,
    /// The four-eyes rule on protected environments (on unless `[approvals] four_eyes = false`).
    pub four_eyes: bool,
    /// The operator's identity per source name (Jenkins user id, AWX username, cluster identity),
    /// compared with who started a run.
    pub identities: std::collections::BTreeMap<String, String>,
    pub environments: Vec<EnvironmentConfig>,
    pub services: Vec<Service>,
    pub keymap: Keymap,
    /// The log view's error rules and save directory.
    pub log: super::LogSettings,
}

#[derive(Debug, Clone)]
pub struct JenkinsSourceConfig {
    pub name: String,
    pub url: Url,
    pub user: Option<String>,
    pub token: Option<Secret>,
    /// Where the token came from, for `config check` (never the token itself).
    pub token_origin: Option<String>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub builds_per_job: usize,
    pub insecure_tls: bool,
}

#[derive(Debug, Clone)]
pub struct GithubSourceConfig {
    pub api_url: Url,
    pub token: Option<Secret>,
    pub token_origin: Option<String>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub commits: usize,
}

#[derive(Debug, Clone)]
pub struct SonarSourceConfig {
    pub url: Url,
    pub token: Option<Secret>,
    pub token_origin: Option<String>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub analyses: usize,
}

#[derive(Debug, Clone)]
pub struct NexusSourceConfig {
    pub url: Url,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub password_origin: Option<String>,
    pub repository: String,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub max_pages: usize,
}

/// Where the config, themes, audit file and log live.
#[derive(Debug, Clone)]
pub struct ConfigPaths {
    pub config_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
}

impl ConfigPaths {
    pub fn discover() -> Self {
        // XDG on every Unix, macOS included: operators expect ~/.config there too.
        let config_dir = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".config")))
            .map(|d| d.join("flightdeck"));
        let data_dir = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(|d| PathBuf::from(d).join("flightdeck"))
            .or_else(|| directories::ProjectDirs::from("", "", "flightdeck").map(|p| p.data_dir().to_path_buf()));
        ConfigPaths { config_dir, data_dir }
    }

    pub fn default_config_file(&self) -> Option<PathBuf> {
        self.config_dir.as_ref().map(|d| d.join("config.toml"))
    }

    pub fn themes_dir(&self) -> Option<PathBuf> {
        self.config_dir.as_ref().map(|d| d.join("themes"))
    }

    pub fn audit_file(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join("audit.jsonl"))
    }

    pub fn log_file(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join("flightdeck.log"))
    }
}

/// `--config` wins over `FLIGHTDECK_CONFIG`, which wins over the XDG default.
pub fn resolve_path(cli: Option<&Path>, paths: &ConfigPaths) -> Option<PathBuf> {
    if let Some(p) = cli {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("FLIGHTDECK_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    paths.default_config_file()
}

pub fn load_from_path(path: &Path, themes_dir: Option<&Path>) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (create it from config.example.toml, pass --config PATH, or try --demo)"
        } else {
            ""
        };
        ConfigError::new(path, format!("cannot read the config: {e}{hint}"))
    })?;
    let mut config = load_from_str(&text, path, themes_dir, &|k| std::env::var(k).ok())?;
    config.file = Some(path.to_path_buf());
    Ok(config)
}

/// Parse and validate config text. `env` looks up environment variables (tests pass their own).
pub fn load_from_str(
    text: &str,
    path: &Path,
    themes_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let raw = parse(text, path)?;
    let located =
        |span: Range<usize>, key: &str, msg: String| ConfigError::new(path, msg).at(text, span.start).key(key);

    // Sources.
    let mut identities = std::collections::BTreeMap::new();
    let mut jenkins = Vec::new();
    let mut names = BTreeSet::new();
    for (i, src) in raw.sources.jenkins.iter().enumerate() {
        let key = |k: &str| format!("sources.jenkins[{i}].{k}");
        let name = src.name.get_ref().clone();
        if !names.insert(name.clone()) {
            return Err(located(
                src.name.span(),
                &key("name"),
                format!("a second Jenkins source is named `{name}`"),
            ));
        }
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(located(
                src.name.span(),
                &key("name"),
                format!("`{name}` is the name of the [sources.{name}] health line; name this Jenkins otherwise"),
            ));
        }
        let url = parse_url(&src.url).map_err(|m| located(src.url.span(), &key("url"), m))?;
        let (token, token_origin) = resolve_secret(
            (src.token_env.as_ref(), "token_env"),
            (src.token_command.as_ref(), "token_command"),
            env,
        )
        .map_err(|(span, k, m)| located(span, &key(k), m))?;
        if token.is_some() && src.user.is_none() {
            let span = src
                .token_env
                .as_ref()
                .map(|t| t.span())
                .or(src.token_command.as_ref().map(|t| t.span()));
            return Err(located(
                span.unwrap_or(src.url.span()),
                &key("user"),
                "a token needs a `user` to go with it (Jenkins API tokens belong to a user)".into(),
            ));
        }
        if let Some(who) = src.identity.clone().or_else(|| src.user.clone()) {
            identities.insert(name.clone(), who);
        }
        jenkins.push(JenkinsSourceConfig {
            name,
            url,
            user: src.user.clone(),
            token,
            token_origin,
            poll_interval: Duration::from_secs(src.poll_interval_secs.max(1)),
            timeout: Duration::from_secs(src.timeout_secs.max(1)),
            builds_per_job: src.builds_per_job.clamp(1, 50),
            insecure_tls: src.insecure_tls,
        });
    }

    let github = match &raw.sources.github {
        Some(g) => {
            let key = |k: &str| format!("sources.github.{k}");
            let api_url = parse_url(&g.api_url).map_err(|m| located(g.api_url.span(), &key("api_url"), m))?;
            let (token, token_origin) = resolve_secret(
                (g.token_env.as_ref(), "token_env"),
                (g.token_command.as_ref(), "token_command"),
                env,
            )
            .map_err(|(span, k, m)| located(span, &key(k), m))?;
            Some(GithubSourceConfig {
                api_url,
                token,
                token_origin,
                poll_interval: Duration::from_secs(g.poll_interval_secs.max(5)),
                timeout: Duration::from_secs(g.timeout_secs.max(1)),
                commits: g.commits.clamp(1, 100),
            })
        }
        None => None,
    };
    let sonar = match &raw.sources.sonar {
        Some(c) => {
            let key = |k: &str| format!("sources.sonar.{k}");
            let url = parse_url(&c.url).map_err(|m| located(c.url.span(), &key("url"), m))?;
            let (token, token_origin) = resolve_secret(
                (c.token_env.as_ref(), "token_env"),
                (c.token_command.as_ref(), "token_command"),
                env,
            )
            .map_err(|(span, k, m)| located(span, &key(k), m))?;
            Some(SonarSourceConfig {
                url,
                token,
                token_origin,
                poll_interval: Duration::from_secs(c.poll_interval_secs.max(1)),
                timeout: Duration::from_secs(c.timeout_secs.max(1)),
                analyses: c.analyses.clamp(1, 100),
            })
        }
        None => None,
    };
    let nexus = match &raw.sources.nexus {
        Some(c) => {
            let key = |k: &str| format!("sources.nexus.{k}");
            let url = parse_url(&c.url).map_err(|m| located(c.url.span(), &key("url"), m))?;
            let (password, password_origin) = resolve_secret(
                (c.password_env.as_ref(), "password_env"),
                (c.password_command.as_ref(), "password_command"),
                env,
            )
            .map_err(|(span, k, m)| located(span, &key(k), m))?;
            if password.is_some() && c.user.is_none() {
                return Err(located(
                    c.url.span(),
                    &key("user"),
                    "a password needs a `user` to go with it".into(),
                ));
            }
            Some(NexusSourceConfig {
                url,
                user: c.user.clone(),
                password,
                password_origin,
                repository: c.repository.clone(),
                poll_interval: Duration::from_secs(c.poll_interval_secs.max(1)),
                timeout: Duration::from_secs(c.timeout_secs.max(1)),
                max_pages: c.max_pages.clamp(1, 1000),
            })
        }
        None => None,
    };
    // Registries, ECR and the Docker engine: their names share one namespace with Jenkins sources,
    // because each has its own health line.
    let mut registries = Vec::new();
    for (i, r) in raw.sources.registry.iter().enumerate() {
        let key = |k: &str| format!("sources.registry[{i}].{k}");
        let name = r.name.get_ref().trim().to_string();
        if name.is_empty() || !names.insert(name.clone()) || RESERVED_NAMES.contains(&name.as_str()) {
            return Err(located(
                r.name.span(),
                &key("name"),
                format!("the source name `{name}` is empty or already taken; give this registry its own `name`"),
            ));
        }
        let url = parse_url(&r.url).map_err(|m| located(r.url.span(), &key("url"), m))?;
        let (password, password_origin) = resolve_secret(
            (r.password_env.as_ref(), "password_env"),
            (r.password_command.as_ref(), "password_command"),
            env,
        )
        .map_err(|(span, k, m)| located(span, &key(k), m))?;
        if password.is_some() != r.user.is_some() {
            return Err(located(
                r.url.span(),
                &key(if r.user.is_some() { "password_env" } else { "user" }),
                "`user` and a password (`password_env` or `password_command`) go together".into(),
            ));
        }
        registries.push(RegistrySourceConfig {
            name,
            url,
            user: r.user.clone(),
            password,
            password_origin,
            docker_config: r.docker_config.clone(),
            poll_interval: Duration::from_secs(r.poll_interval_secs.max(5)),
            timeout: Duration::from_secs(r.timeout_secs.max(1)),
            tags: r.tags.clamp(1, 500),
        });
    }
    let ecr = match &raw.sources.ecr {
        Some(c) => {
            let name = c.name.get_ref().trim().to_string();
            if name.is_empty() || !names.insert(name.clone()) || RESERVED_NAMES.contains(&name.as_str()) {
                return Err(located(
                    c.name.span(),
                    "sources.ecr.name",
                    format!("the source name `{name}` is empty or already taken"),
                ));
            }
            let endpoint_url = match &c.endpoint_url {
                Some(u) => Some(parse_url(u).map_err(|m| located(u.span(), "sources.ecr.endpoint_url", m))?),
                None => None,
            };
            let static_credentials = match (&c.access_key_id_env, &c.secret_access_key_env) {
                (None, None) => None,
                (Some(id), Some(secret)) => {
                    let read = |v: &Spanned<String>, k: &str| {
                        env(v.get_ref()).filter(|x| !x.trim().is_empty()).ok_or_else(|| {
                            located(
                                v.span(),
                                &format!("sources.ecr.{k}"),
                                format!("environment variable `{}` is not set or empty", v.get_ref()),
                            )
                        })
                    };
                    Some((
                        read(id, "access_key_id_env")?.trim().to_string(),
                        Secret::new(read(secret, "secret_access_key_env")?.trim()),
                    ))
                }
                (Some(v), None) | (None, Some(v)) => {
                    return Err(located(
                        v.span(),
                        "sources.ecr",
                        "`access_key_id_env` and `secret_access_key_env` go together".into(),
                    ));
                }
            };
            Some(EcrSourceConfig {
                name,
                static_credentials,
                region: c.region.clone().filter(|r| !r.trim().is_empty()),
                endpoint_url,
                profile: c.profile.clone().filter(|p| !p.trim().is_empty()),
                registry_id: c.registry_id.clone().filter(|r| !r.trim().is_empty()),
                poll_interval: Duration::from_secs(c.poll_interval_secs.max(5)),
                timeout: Duration::from_secs(c.timeout_secs.max(1)),
                images: c.images.clamp(1, 1000),
            })
        }
        None => None,
    };
    let engine = match &raw.sources.docker {
        Some(c) => {
            let name = c.name.get_ref().trim().to_string();
            if name.is_empty() || !names.insert(name.clone()) || RESERVED_NAMES.contains(&name.as_str()) {
                return Err(located(
                    c.name.span(),
                    "sources.docker.name",
                    format!("the source name `{name}` is empty or already taken"),
                ));
            }
            if let Some(h) = &c.host {
                check_engine_host(h.get_ref()).map_err(|m| located(h.span(), "sources.docker.host", m))?;
            }
            Some(EngineSourceConfig {
                name,
                host: c.host.as_ref().map(|h| h.get_ref().clone()),
                tls_cert_path: c.tls_cert_path.clone(),
                poll_interval: Duration::from_secs(c.poll_interval_secs.max(5)),
                timeout: Duration::from_secs(c.timeout_secs.max(1)),
            })
        }
        None => None,
    };
    let mut kubernetes = Vec::new();
    for (i, c) in raw.sources.kubernetes.iter().enumerate() {
        let key = |k: &str| format!("sources.kubernetes[{i}].{k}");
        let name = c.name.get_ref().trim().to_string();
        if name.is_empty() || !names.insert(name.clone()) || RESERVED_NAMES.contains(&name.as_str()) {
            return Err(located(
                c.name.span(),
                &key("name"),
                format!("the source name `{name}` is empty or already taken; give this cluster its own `name`"),
            ));
        }
        let context = c.context.get_ref().trim().to_string();
        if context.is_empty() {
            return Err(located(
                c.context.span(),
                &key("context"),
                "the context is empty".into(),
            ));
        }
        let identity = c.identity.clone().unwrap_or_else(super::deploy::os_user);
        identities.insert(name.clone(), identity.clone());
        kubernetes.push(super::KubeSourceConfig {
            name,
            context,
            kubeconfig: c.kubeconfig.clone(),
            identity: Some(identity),
            timeout: Duration::from_secs(c.timeout_secs.max(1)),
        });
    }
    let mut awx = Vec::new();
    for (i, c) in raw.sources.awx.iter().enumerate() {
        let key = |k: &str| format!("sources.awx[{i}].{k}");
        let name = c.name.get_ref().trim().to_string();
        if name.is_empty() || !names.insert(name.clone()) || RESERVED_NAMES.contains(&name.as_str()) {
            return Err(located(
                c.name.span(),
                &key("name"),
                format!("the source name `{name}` is empty or already taken; give this AWX its own `name`"),
            ));
        }
        let url = parse_url(&c.url).map_err(|m| located(c.url.span(), &key("url"), m))?;
        let (token, _) = resolve_secret(
            (c.token_env.as_ref(), "token_env"),
            (c.token_command.as_ref(), "token_command"),
            env,
        )
        .map_err(|(span, k, m)| located(span, &key(k), m))?;
        let (password, _) = resolve_secret(
            (c.password_env.as_ref(), "password_env"),
            (c.password_command.as_ref(), "password_command"),
            env,
        )
        .map_err(|(span, k, m)| located(span, &key(k), m))?;
        let auth = match (token, &c.user, password) {
            (Some(t), None, None) => super::AwxAuth::Token(t),
            (None, Some(u), Some(p)) => super::AwxAuth::Basic {
                user: u.clone(),
                password: p,
            },
            (Some(_), _, _) => {
                return Err(located(
                    c.url.span(),
                    &key("token_env"),
                    "use a token or a user with a password, not both".into(),
                ));
            }
            (None, Some(_), None) | (None, None, Some(_)) => {
                return Err(located(
                    c.url.span(),
                    &key(if c.user.is_some() { "password_env" } else { "user" }),
                    "`user` and a password (`password_env` or `password_command`) go together".into(),
                ));
            }
            (None, None, None) => {
                return Err(located(
                    c.url.span(),
                    &key("token_env"),
                    "AWX needs credentials: `token_env` / `token_command` (a personal access token), or `user` with `password_env` / `password_command`".into(),
                ));
            }
        };
        let identity = c
            .identity
            .clone()
            .or_else(|| c.user.clone())
            .unwrap_or_else(super::deploy::os_user);
        identities.insert(name.clone(), identity.clone());
        awx.push(super::AwxSourceConfig {
            name,
            url,
            auth,
            identity: Some(identity),
            poll_interval: Duration::from_secs(c.poll_interval_secs.max(2)),
            timeout: Duration::from_secs(c.timeout_secs.max(1)),
            jobs_per_template: c.jobs_per_template.clamp(1, 50),
            insecure_tls: c.insecure_tls,
        });
    }

    let base_scan =
        scan_policy(&ScanPolicy::default(), &raw.scan, "scan").map_err(|(span, k, m)| located(span, &k, m))?;

    let base_quality = quality_policy(&QualityPolicy::default(), &raw.quality, "quality")
        .map_err(|(span, k, m)| located(span, &k, m))?;
    let base_load = load_policy(&LoadPolicy::default(), &raw.load_test, "load_test")
        .map_err(|(span, k, m)| located(span, &k, m))?;

    // Environments.
    let mut env_names = BTreeSet::new();
    for (i, e) in raw.environments.iter().enumerate() {
        if e.name.trim().is_empty() || !env_names.insert(e.name.clone()) {
            let offset = find_offset(text, &format!("name = \"{}\"", e.name)).unwrap_or(0);
            return Err(
                ConfigError::new(path, format!("environment name `{}` is empty or used twice", e.name))
                    .at(text, offset)
                    .key(format!("environments[{i}].name")),
            );
        }
    }
    if let Some(focus) = &raw.ui.environment
        && !env_names.contains(focus)
    {
        let offset = find_offset(text, "environment").unwrap_or(0);
        return Err(
            ConfigError::new(path, format!("`{focus}` is not one of the [[environments]]"))
                .at(text, offset)
                .key("ui.environment"),
        );
    }

    // Services.
    let mut services = Vec::new();
    let mut service_names = BTreeSet::new();
    for (i, s) in raw.services.iter().enumerate() {
        let name = s.name.get_ref().trim().to_string();
        if name.is_empty() || !service_names.insert(name.clone()) {
            return Err(located(
                s.name.span(),
                &format!("services[{i}].name"),
                format!("service name `{name}` is empty or used twice"),
            ));
        }
        let source = match &s.jenkins.source {
            Some(src) => {
                if !jenkins.iter().any(|j| &j.name == src.get_ref()) {
                    return Err(located(
                        src.span(),
                        &format!("services[{i}].jenkins.source"),
                        format!("no [[sources.jenkins]] is named `{}`", src.get_ref()),
                    ));
                }
                src.get_ref().clone()
            }
            None => jenkins.first().map(|j| j.name.clone()).unwrap_or_default(),
        };
        let has_jobs = s.jenkins.build.is_some() || s.jenkins.deploy.is_some() || !s.jenkins.tests.is_empty();
        if has_jobs && jenkins.is_empty() {
            return Err(located(
                s.name.span(),
                &format!("services[{i}].jenkins"),
                "names Jenkins jobs but no [[sources.jenkins]] is configured".into(),
            ));
        }
        let clean = |j: &str| j.trim_matches('/').to_string();
        let key = |k: &str| format!("services[{i}].{k}");
        let github = match &s.github {
            Some(g) => {
                let repo = g.repo.get_ref().trim().trim_matches('/');
                let parts: Vec<&str> = repo.split('/').collect();
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty() || p.contains(char::is_whitespace)) {
                    return Err(located(
                        g.repo.span(),
                        &key("github.repo"),
                        format!("`{repo}` is not `owner/name`"),
                    ));
                }
                if github.is_none() {
                    return Err(located(
                        g.repo.span(),
                        &key("github"),
                        "names a GitHub repository but no [sources.github] is configured".into(),
                    ));
                }
                Some(GithubRef {
                    repo: repo.to_string(),
                    branch: g.branch.clone().filter(|b| !b.trim().is_empty()),
                })
            }
            None => None,
        };
        let sonar_ref = match &s.sonar {
            Some(c) => {
                if sonar.is_none() {
                    return Err(located(
                        c.project_key.span(),
                        &key("sonar"),
                        "names a SonarQube project but no [sources.sonar] is configured".into(),
                    ));
                }
                Some(SonarRef {
                    project_key: c.project_key.get_ref().trim().to_string(),
                    branch: c.branch.clone().filter(|b| !b.trim().is_empty()),
                })
            }
            None => None,
        };
        let nexus_ref = match &s.nexus {
            Some(c) => {
                let Some(src) = &nexus else {
                    return Err(located(
                        c.group_id.span(),
                        &key("nexus"),
                        "names Nexus coordinates but no [sources.nexus] is configured".into(),
                    ));
                };
                let packaging = c.packaging.get_ref().trim().to_ascii_lowercase();
                if !["jar", "war", "ear"].contains(&packaging.as_str()) {
                    return Err(located(
                        c.packaging.span(),
                        &key("nexus.packaging"),
                        format!("packaging `{packaging}` is not one of jar, war, ear"),
                    ));
                }
                Some(NexusRef {
                    repository: c.repository.clone().unwrap_or_else(|| src.repository.clone()),
                    group_id: c.group_id.get_ref().trim().to_string(),
                    artifact_id: c.artifact_id.get_ref().trim().to_string(),
                    packaging,
                })
            }
            None => None,
        };
        let quality =
            quality_policy(&base_quality, &s.quality, &key("quality")).map_err(|(span, k, m)| located(span, &k, m))?;
        let load_policy = load_policy(&base_load, &s.chain.load_thresholds, &key("chain.load_thresholds"))
            .map_err(|(span, k, m)| located(span, &k, m))?;
        let scan = scan_policy(&base_scan, &s.scan, &key("scan")).map_err(|(span, k, m)| located(span, &k, m))?;
        let image = match &s.image {
            None => None,
            Some(c) => {
                let (source, registry) = match &c.source {
                    Some(src) => {
                        let n = src.get_ref();
                        if registries.iter().any(|r| &r.name == n) {
                            (n.clone(), RegistryKind::Oci)
                        } else if ecr.as_ref().is_some_and(|e| &e.name == n) {
                            (n.clone(), RegistryKind::Ecr)
                        } else {
                            return Err(located(
                                src.span(),
                                &key("image.source"),
                                format!("no [[sources.registry]] or [sources.ecr] is named `{n}`"),
                            ));
                        }
                    }
                    None => match (registries.as_slice(), &ecr) {
                        ([only], None) => (only.name.clone(), RegistryKind::Oci),
                        ([], Some(e)) => (e.name.clone(), RegistryKind::Ecr),
                        ([], None) => {
                            return Err(located(
                                c.repository.span(),
                                &key("image"),
                                "names an image repository but no [[sources.registry]] or [sources.ecr] is configured"
                                    .into(),
                            ));
                        }
                        _ => {
                            return Err(located(
                                c.repository.span(),
                                &key("image.source"),
                                "several registries are configured: say which one with `source`".into(),
                            ));
                        }
                    },
                };
                let repository = c.repository.get_ref().trim().trim_matches('/').to_string();
                if repository.is_empty() || repository.contains(char::is_whitespace) || repository.contains(':') {
                    return Err(located(
                        c.repository.span(),
                        &key("image.repository"),
                        format!("`{repository}` is not a repository name (no tag, no spaces)"),
                    ));
                }
                let mut env_tags = BTreeMap::new();
                for e in &raw.environments {
                    env_tags.insert(e.name.clone(), e.name.clone());
                }
                for (env_name, tag) in c.env_tags.get_ref() {
                    if !env_names.contains(env_name) {
                        return Err(located(
                            c.env_tags.span(),
                            &key(&format!("image.env_tags.{env_name}")),
                            format!("`{env_name}` is not one of the [[environments]]"),
                        ));
                    }
                    if !valid_tag(tag) {
                        return Err(located(
                            c.env_tags.span(),
                            &key(&format!("image.env_tags.{env_name}")),
                            format!("`{tag}` is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"),
                        ));
                    }
                    env_tags.insert(env_name.clone(), tag.clone());
                }
                let promotion = match c.promotion.as_ref().map(|p| (p, p.get_ref().as_str())) {
                    None | Some((_, "retag")) => PromotionStrategy::Retag,
                    Some((_, "jenkins")) => PromotionStrategy::Jenkins,
                    Some((_, "both")) => PromotionStrategy::Both,
                    Some((_, "kubernetes")) => PromotionStrategy::Kubernetes,
                    Some((_, "awx")) => PromotionStrategy::Awx,
                    Some((p, other)) => {
                        return Err(located(
                            p.span(),
                            &key("image.promotion"),
                            format!("`{other}` is not one of retag, jenkins, both, kubernetes, awx"),
                        ));
                    }
                };
                if promotion.deploys() && s.jenkins.deploy.is_none() {
                    return Err(located(
                        c.promotion.as_ref().map(|p| p.span()).unwrap_or(c.repository.span()),
                        &key("image.promotion"),
                        "promotion through Jenkins needs `jenkins.deploy` (the deploy job) for this service".into(),
                    ));
                }
                Some(ImageRef {
                    source,
                    registry,
                    repository,
                    env_tags,
                    base_image: c.base_image.clone().filter(|b| !b.trim().is_empty()),
                    promotion,
                })
            }
        };
        let mut tests: Vec<String> = s.jenkins.tests.iter().map(|j| clean(j)).collect();
        let mut test_source = |link: &Option<TestLinkConfig>, name: &str| -> Result<TestSource, ConfigError> {
            let Some(l) = link else {
                return Ok(TestSource::Auto);
            };
            match (&l.stage, &l.job) {
                (Some(_), Some(job)) => Err(located(
                    job.span(),
                    &key(&format!("chain.{name}")),
                    "set either `stage` or `job`, not both".into(),
                )),
                (Some(stage), None) => Ok(TestSource::Stage { name: stage.clone() }),
                (None, Some(job)) => {
                    let job = clean(job.get_ref());
                    if !tests.contains(&job) {
                        tests.push(job.clone());
                    }
                    Ok(TestSource::Job { name: job })
                }
                (None, None) => Ok(TestSource::Auto),
            }
        };
        let chain = ChainConfig {
            functional: test_source(&s.chain.functional, "functional")?,
            penetration: test_source(&s.chain.penetration, "penetration")?,
            regression: test_source(&s.chain.regression, "regression")?,
            load: test_source(&s.chain.load, "load")?,
            load_summary: s.chain.load.as_ref().and_then(|l| l.summary.clone()),
            quality,
            load_policy,
            scan,
            scan_report: s.image.as_ref().and_then(|i| i.scan_report.clone()),
        };
        let has_jobs = has_jobs || !tests.is_empty();
        if has_jobs && jenkins.is_empty() {
            return Err(located(
                s.name.span(),
                &format!("services[{i}].chain"),
                "names Jenkins jobs but no [[sources.jenkins]] is configured".into(),
            ));
        }
        let mut deploy = std::collections::BTreeMap::new();
        for (env_name, d) in &s.deploy {
            let env_key = |k: &str| key(&format!("deploy.{}.{k}", env_name.get_ref()));
            if !env_names.contains(env_name.get_ref()) {
                return Err(located(
                    env_name.span(),
                    &key(&format!("deploy.{}", env_name.get_ref())),
                    format!("`{}` is not one of the [[environments]]", env_name.get_ref()),
                ));
            }
            let kubernetes = match &d.kubernetes {
                Some(w) => {
                    if !kubernetes.iter().any(|k| &k.name == w.cluster.get_ref()) {
                        return Err(located(
                            w.cluster.span(),
                            &env_key("kubernetes.cluster"),
                            format!("no [[sources.kubernetes]] is named `{}`", w.cluster.get_ref()),
                        ));
                    }
                    let deployment = w.deployment.clone().unwrap_or_else(|| name.clone());
                    for (k, v) in [("namespace", w.namespace.get_ref()), ("deployment", &deployment)] {
                        if !super::deploy::valid_kube_name(v) {
                            return Err(located(
                                w.namespace.span(),
                                &env_key(&format!("kubernetes.{k}")),
                                format!("`{v}` is not a valid Kubernetes name (lowercase letters, digits, `-`, `.`)"),
                            ));
                        }
                    }
                    Some(crate::model::WorkloadRef {
                        cluster: w.cluster.get_ref().clone(),
                        namespace: w.namespace.get_ref().clone(),
                        container: w.container.clone().unwrap_or_else(|| deployment.clone()),
                        deployment,
                    })
                }
                None => None,
            };
            let awx_ref = match &d.awx {
                Some(a) => {
                    let source = match &a.source {
                        Some(src) => {
                            if !awx.iter().any(|x| &x.name == src.get_ref()) {
                                return Err(located(
                                    src.span(),
                                    &env_key("awx.source"),
                                    format!("no [[sources.awx]] is named `{}`", src.get_ref()),
                                ));
                            }
                            src.get_ref().clone()
                        }
                        None => match awx.first() {
                            Some(x) => x.name.clone(),
                            None => {
                                return Err(located(
                                    a.template.span(),
                                    &env_key("awx"),
                                    "names an AWX template but no [[sources.awx]] is configured".into(),
                                ));
                            }
                        },
                    };
                    if a.template.get_ref().trim().is_empty() {
                        return Err(located(
                            a.template.span(),
                            &env_key("awx.template"),
                            "the template name is empty".into(),
                        ));
                    }
                    Some(crate::model::AwxTemplateRef {
                        source,
                        template: a.template.get_ref().trim().to_string(),
                        workflow: a.workflow,
                    })
                }
                None => None,
            };
            deploy.insert(
                env_name.get_ref().clone(),
                crate::model::DeployTarget {
                    kubernetes,
                    awx: awx_ref,
                },
            );
        }
        if let Some(img) = &image {
            let needs = match img.promotion {
                PromotionStrategy::Kubernetes => Some("kubernetes"),
                PromotionStrategy::Awx => Some("awx"),
                _ => None,
            };
            if let Some(what) = needs {
                let has = deploy.values().any(|d: &crate::model::DeployTarget| match what {
                    "kubernetes" => d.kubernetes.is_some(),
                    _ => d.awx.is_some(),
                });
                if !has {
                    let span = s
                        .image
                        .as_ref()
                        .and_then(|i| i.promotion.as_ref())
                        .map(|p| p.span())
                        .unwrap_or(s.name.span());
                    return Err(located(
                        span,
                        &key("image.promotion"),
                        format!(
                            "promotion `{what}` needs a [services.deploy.ENV] {what} target for at least one environment"
                        ),
                    ));
                }
            }
        }
        services.push(Service {
            name,
            repo: s.repo.clone(),
            jobs: ServiceJobs {
                source,
                build: s.jenkins.build.as_deref().map(clean),
                deploy: s.jenkins.deploy.as_deref().map(clean),
                tests,
            },
            github,
            sonar: sonar_ref,
            nexus: nexus_ref,
            image,
            deploy,
            chain,
        });
    }

    // Theme.
    let theme = match &raw.theme {
        Some(t) => {
            Theme::load(t.get_ref(), themes_dir, false).map_err(|m| located(t.span(), "theme", m))?;
            t.get_ref().clone()
        }
        None => "dark".to_string(),
    };

    // Keymap.
    let mut keymap = Keymap::default();
    for (action, keys) in &raw.keymap {
        let Some(a) = KeyAction::from_name(action.get_ref()) else {
            let known: Vec<_> = KeyAction::all().map(|a| a.name()).collect();
            return Err(located(
                action.span(),
                &format!("keymap.{}", action.get_ref()),
                format!("unknown action (known: {})", known.join(", ")),
            ));
        };
        let mut specs = Vec::new();
        for k in keys.get_ref() {
            specs
                .push(KeySpec::parse(k).map_err(|m| located(keys.span(), &format!("keymap.{}", action.get_ref()), m))?);
        }
        keymap.bind(a, specs);
    }
    let log = super::log::resolve(raw.log, &located)?;
    if let Some((key, a, b)) = keymap.conflict() {
        let offset = raw
            .keymap
            .iter()
            .find(|(n, _)| n.get_ref() == a.name() || n.get_ref() == b.name())
            .map(|(n, _)| n.span().start)
            .unwrap_or(0);
        return Err(ConfigError::new(
            path,
            format!("key `{key}` is bound to both `{}` and `{}`", a.name(), b.name()),
        )
        .at(text, offset)
        .key(format!("keymap.{}", b.name())));
    }

    Ok(Config {
        file: None,
        theme,
        ui: raw.ui,
        audit_path: raw.audit.path,
        jenkins,
        github,
        sonar,
        nexus,
        registries,
        ecr,
        engine,
        kubernetes,
        awx,
        four_eyes: raw.approvals.four_eyes,
        identities,
        environments: raw.environments,
        services,
        keymap,
        log,
    })
}

fn parse(text: &str, path: &Path) -> Result<RawConfig, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error(e, text, path, None))?;
    serde_path_to_error::deserialize::<_, RawConfig>(de).map_err(|e| {
        let key = e.path().to_string();
        toml_error(e.into_inner(), text, path, Some(key))
    })
}

fn toml_error(e: toml::de::Error, text: &str, path: &Path, key: Option<String>) -> ConfigError {
    let message = e.message().trim().to_string();
    let mut err = ConfigError::new(path, message.clone());
    if let Some(span) = e.span() {
        err = err.at(text, span.start);
    }
    let mut key = key.filter(|k| !k.is_empty() && k != ".");
    // An unknown key's own name is in the message; add it to the path so the key is complete.
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        key = Some(match key {
            Some(k) if !k.ends_with(field) => format!("{k}.{field}"),
            Some(k) => k,
            None => field.to_string(),
        });
    }
    if key.is_none() {
        // A syntax error: name the key written on that line, if any.
        key = err
            .snippet
            .as_deref()
            .and_then(|l| l.split('=').next())
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty() && !k.starts_with('[') && !k.starts_with('#'));
    }
    match key {
        Some(k) => err.key(k),
        None => err,
    }
}

fn parse_url(url: &Spanned<String>) -> Result<Url, String> {
    let parsed = Url::parse(url.get_ref()).map_err(|e| format!("`{}` is not a URL: {e}", url.get_ref()))?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "unsupported URL scheme `{other}` (use https://, or http:// on a trusted network)"
            ));
        }
    }
    if parsed.host_str().is_none() {
        return Err(format!("`{}` has no host", url.get_ref()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials do not belong in the URL: use `user` with `token_env` or `token_command`".into());
    }
    Ok(parsed)
}

/// Names that already label a health line of their own.
const RESERVED_NAMES: [&str; 3] = ["github", "sonarqube", "nexus"];

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn scan_policy(base: &ScanPolicy, raw: &ScanPolicyConfig, prefix: &str) -> PolicyResult<ScanPolicy> {
    let count = |v: &Spanned<i64>, k: &str| -> PolicyResult<u32> {
        u32::try_from(*v.get_ref()).map_err(|_| {
            (
                v.span(),
                format!("{prefix}.{k}"),
                format!("{} is not a valid count (must be 0 or more)", v.get_ref()),
            )
        })
    };
    let mut p = *base;
    if let Some(v) = &raw.critical {
        p.critical_max = count(v, "critical")?;
    }
    if let Some(v) = &raw.high {
        p.high_max = count(v, "high")?;
    }
    if let Some(v) = &raw.medium {
        p.medium_max = Some(count(v, "medium")?);
    }
    Ok(p)
}

type TokenResult = Result<(Option<Secret>, Option<String>), (Range<usize>, &'static str, String)>;

type PolicyResult<T> = Result<T, (Range<usize>, String, String)>;

/// A policy value must be a finite, non-negative number; percentages at most 100.
fn policy_value(v: &Spanned<f64>, key: String, percent: bool) -> PolicyResult<f64> {
    let x = *v.get_ref();
    if !x.is_finite() || x < 0.0 || (percent && x > 100.0) {
        let range = if percent { "between 0 and 100" } else { "0 or more" };
        return Err((v.span(), key, format!("{x} is not a valid threshold (must be {range})")));
    }
    Ok(x)
}

fn quality_policy(base: &QualityPolicy, raw: &QualityPolicyConfig, prefix: &str) -> PolicyResult<QualityPolicy> {
    let mut p = *base;
    let key = |k: &str| format!("{prefix}.{k}");
    if let Some(v) = &raw.bugs {
        p.bugs_max = policy_value(v, key("bugs"), false)?;
    }
    if let Some(v) = &raw.vulnerabilities {
        p.vulnerabilities_max = policy_value(v, key("vulnerabilities"), false)?;
    }
    if let Some(v) = &raw.duplicated_lines {
        p.duplicated_lines_max = policy_value(v, key("duplicated_lines"), true)?;
    }
    if let Some(v) = &raw.new_coverage {
        p.new_coverage_min = policy_value(v, key("new_coverage"), true)?;
    }
    Ok(p)
}

fn load_policy(base: &LoadPolicy, raw: &LoadPolicyConfig, prefix: &str) -> PolicyResult<LoadPolicy> {
    let mut p = *base;
    if let Some(v) = &raw.p95_ms {
        p.p95_ms_max = policy_value(v, format!("{prefix}.p95_ms"), false)?;
    }
    if let Some(v) = &raw.error_rate {
        p.error_rate_max = policy_value(v, format!("{prefix}.error_rate"), true)?;
    }
    Ok(p)
}

/// A secret from an environment variable or a command's first line of output (never both).
fn resolve_secret(
    env_var: (Option<&Spanned<String>>, &'static str),
    command: (Option<&Spanned<Vec<String>>>, &'static str),
    env: &dyn Fn(&str) -> Option<String>,
) -> TokenResult {
    let (env_key, cmd_key) = (env_var.1, command.1);
    match (env_var.0, command.0) {
        (Some(var), Some(_)) => Err((
            var.span(),
            env_key,
            format!("set either `{env_key}` or `{cmd_key}`, not both"),
        )),
        (Some(var), None) => match env(var.get_ref()).filter(|v| !v.trim().is_empty()) {
            Some(v) => Ok((
                Some(Secret::new(v.trim())),
                Some(format!("environment variable {}", var.get_ref())),
            )),
            None => Err((
                var.span(),
                env_key,
                format!("environment variable `{}` is not set or empty", var.get_ref()),
            )),
        },
        (None, Some(cmd)) => {
            let argv = cmd.get_ref();
            let Some((program, args)) = argv.split_first() else {
                return Err((cmd.span(), cmd_key, "the command is empty".into()));
            };
            let out = std::process::Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
                .map_err(|e| (cmd.span(), cmd_key, format!("cannot run `{program}`: {e}")))?;
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err((
                    cmd.span(),
                    cmd_key,
                    format!(
                        "`{}` failed ({}): {}",
                        argv.join(" "),
                        out.status,
                        stderr.lines().next().unwrap_or("").trim()
                    ),
                ));
            }
            let token = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if token.is_empty() {
                return Err((cmd.span(), cmd_key, format!("`{}` printed no secret", argv.join(" "))));
            }
            Ok((Some(Secret::new(token)), Some(format!("the output of `{program} …`"))))
        }
        (None, None) => Ok((None, None)),
    }
}

fn find_offset(text: &str, needle: &str) -> Option<usize> {
    text.find(needle)
}

impl Config {
    /// The effective config as TOML-like text, secrets masked, for `flightdeck config check`.
    pub fn render_effective(&self) -> String {
        let mut out = String::new();
        let q = |s: &str| format!("{s:?}");
        let _ = writeln!(
            out,
            "# effective configuration{}",
            match &self.file {
                Some(f) => format!(" from {}", f.display()),
                None => " (built in)".into(),
            }
        );
        let _ = writeln!(out, "theme = {}", q(&self.theme));
        let _ = writeln!(out, "\n[ui]\nmouse = {}\nclock = {}", self.ui.mouse, self.ui.clock);
        if let Some(e) = &self.ui.environment {
            let _ = writeln!(out, "environment = {}", q(e));
        }
        if let Some(a) = &self.audit_path {
            let _ = writeln!(out, "\n[audit]\npath = {}", q(&a.display().to_string()));
        }
        for j in &self.jenkins {
            let _ = writeln!(
                out,
                "\n[[sources.jenkins]]\nname = {}\nurl = {}",
                q(&j.name),
                q(j.url.as_str())
            );
            if let Some(u) = &j.user {
                let _ = writeln!(out, "user = {}", q(u));
            }
            match (&j.token, &j.token_origin) {
                (Some(t), Some(origin)) => {
                    let _ = writeln!(out, "token = \"{t}\"  # from {origin}");
                }
                _ => {
                    let _ = writeln!(out, "# no token: anonymous access");
                }
            }
            let _ = writeln!(
                out,
                "poll_interval_secs = {}\ntimeout_secs = {}\nbuilds_per_job = {}\ninsecure_tls = {}",
                j.poll_interval.as_secs(),
                j.timeout.as_secs(),
                j.builds_per_job,
                j.insecure_tls
            );
        }
        if let Some(g) = &self.github {
            let _ = writeln!(
                out,
                "\n[sources.github]\napi_url = {}\n{}poll_interval_secs = {}\ntimeout_secs = {}\ncommits = {}",
                q(g.api_url.as_str()),
                secret_line("token", &g.token, &g.token_origin),
                g.poll_interval.as_secs(),
                g.timeout.as_secs(),
                g.commits
            );
        }
        if let Some(c) = &self.sonar {
            let _ = writeln!(
                out,
                "\n[sources.sonar]\nurl = {}\n{}poll_interval_secs = {}\ntimeout_secs = {}\nanalyses = {}",
                q(c.url.as_str()),
                secret_line("token", &c.token, &c.token_origin),
                c.poll_interval.as_secs(),
                c.timeout.as_secs(),
                c.analyses
            );
        }
        if let Some(c) = &self.nexus {
            let _ = writeln!(out, "\n[sources.nexus]\nurl = {}", q(c.url.as_str()));
            if let Some(u) = &c.user {
                let _ = writeln!(out, "user = {}", q(u));
            }
            let _ = writeln!(
                out,
                "{}repository = {}\npoll_interval_secs = {}\ntimeout_secs = {}\nmax_pages = {}",
                secret_line("password", &c.password, &c.password_origin),
                q(&c.repository),
                c.poll_interval.as_secs(),
                c.timeout.as_secs(),
                c.max_pages
            );
        }
        for r in &self.registries {
            let _ = writeln!(
                out,
                "\n[[sources.registry]]\nname = {}\nurl = {}",
                q(&r.name),
                q(r.url.as_str())
            );
            if let Some(u) = &r.user {
                let _ = writeln!(out, "user = {}", q(u));
            }
            let _ = write!(out, "{}", secret_line("password", &r.password, &r.password_origin));
            if let Some(d) = &r.docker_config {
                let _ = writeln!(out, "docker_config = {}", q(&d.display().to_string()));
            }
            let _ = writeln!(
                out,
                "poll_interval_secs = {}\ntimeout_secs = {}\ntags = {}",
                r.poll_interval.as_secs(),
                r.timeout.as_secs(),
                r.tags
            );
        }
        if let Some(c) = &self.ecr {
            let _ = writeln!(out, "\n[sources.ecr]\nname = {}", q(&c.name));
            for (k, v) in [
                ("region", &c.region),
                ("profile", &c.profile),
                ("registry_id", &c.registry_id),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(out, "{k} = {}", q(v));
                }
            }
            if let Some(u) = &c.endpoint_url {
                let _ = writeln!(out, "endpoint_url = {}", q(u.as_str()));
            }
            let _ = writeln!(
                out,
                "# credentials: the AWS standard chain (environment, profile, SSO, instance role)\npoll_interval_secs = {}\ntimeout_secs = {}\nimages = {}",
                c.poll_interval.as_secs(),
                c.timeout.as_secs(),
                c.images
            );
        }
        if let Some(c) = &self.engine {
            let _ = writeln!(out, "\n[sources.docker]\nname = {}", q(&c.name));
            match &c.host {
                Some(h) => {
                    let _ = writeln!(out, "host = {}", q(h));
                }
                None => {
                    let _ = writeln!(out, "# host: DOCKER_HOST, else the local socket");
                }
            }
            if let Some(p) = &c.tls_cert_path {
                let _ = writeln!(out, "tls_cert_path = {}", q(&p.display().to_string()));
            }
            let _ = writeln!(
                out,
                "poll_interval_secs = {}\ntimeout_secs = {}",
                c.poll_interval.as_secs(),
                c.timeout.as_secs()
            );
        }
        for e in &self.environments {
            let _ = writeln!(
                out,
                "\n[[environments]]\nname = {}\nprotected = {}\nread_only = {}",
                q(&e.name),
                e.protected,
                e.read_only
            );
        }
        for s in &self.services {
            let _ = writeln!(out, "\n[[services]]\nname = {}", q(&s.name));
            if let Some(r) = &s.repo {
                let _ = writeln!(out, "repo = {}", q(r));
            }
            let _ = writeln!(out, "[services.jenkins]\nsource = {}", q(&s.jobs.source));
            if let Some(b) = &s.jobs.build {
                let _ = writeln!(out, "build = {}", q(b));
            }
            if let Some(d) = &s.jobs.deploy {
                let _ = writeln!(out, "deploy = {}", q(d));
            }
            if !s.jobs.tests.is_empty() {
                let _ = writeln!(out, "tests = {:?}", s.jobs.tests);
            }
            if let Some(g) = &s.github {
                let _ = writeln!(out, "[services.github]\nrepo = {}", q(&g.repo));
                if let Some(b) = &g.branch {
                    let _ = writeln!(out, "branch = {}", q(b));
                }
            }
            if let Some(c) = &s.sonar {
                let _ = writeln!(out, "[services.sonar]\nproject_key = {}", q(&c.project_key));
                if let Some(b) = &c.branch {
                    let _ = writeln!(out, "branch = {}", q(b));
                }
            }
            if let Some(n) = &s.nexus {
                let _ = writeln!(
                    out,
                    "[services.nexus]\nrepository = {}\ngroup_id = {}\nartifact_id = {}\npackaging = {}",
                    q(&n.repository),
                    q(&n.group_id),
                    q(&n.artifact_id),
                    q(&n.packaging)
                );
            }
            if let Some(i) = &s.image {
                let tags: Vec<String> = i.env_tags.iter().map(|(e, t)| format!("{e} = {}", q(t))).collect();
                let promotion = match i.promotion {
                    crate::model::PromotionStrategy::Retag => "retag",
                    crate::model::PromotionStrategy::Jenkins => "jenkins",
                    crate::model::PromotionStrategy::Both => "both",
                    crate::model::PromotionStrategy::Kubernetes => "kubernetes",
                    crate::model::PromotionStrategy::Awx => "awx",
                };
                let _ = writeln!(
                    out,
                    "[services.image]\nsource = {}\nrepository = {}\nenv_tags = {{ {} }}\npromotion = {}",
                    q(&i.source),
                    q(&i.repository),
                    tags.join(", "),
                    q(promotion)
                );
                if let Some(b) = &i.base_image {
                    let _ = writeln!(out, "base_image = {}", q(b));
                }
                if let Some(r) = &s.chain.scan_report {
                    let _ = writeln!(out, "scan_report = {}", q(r));
                }
            }
            let sp = &s.chain.scan;
            let _ = writeln!(
                out,
                "[services.scan]  # the shop's scan policy with this service's overrides\ncritical = {}\nhigh = {}",
                sp.critical_max, sp.high_max
            );
            if let Some(m) = sp.medium_max {
                let _ = writeln!(out, "medium = {m}");
            }
            let p = &s.chain.quality;
            let l = &s.chain.load_policy;
            let _ = writeln!(
                out,
                "[services.quality]  # the shop's policy with this service's overrides\nbugs = {}\nvulnerabilities = {}\nduplicated_lines = {}\nnew_coverage = {}\n[services.chain.load_thresholds]\np95_ms = {}\nerror_rate = {}",
                p.bugs_max,
                p.vulnerabilities_max,
                p.duplicated_lines_max,
                p.new_coverage_min,
                l.p95_ms_max,
                l.error_rate_max
            );
        }
        let _ = writeln!(out, "\n[keymap]");
        for (action, keys) in self.keymap.iter() {
            let keys: Vec<String> = keys.iter().map(|k| format!("{:?}", raw_key(k))).collect();
            let _ = writeln!(
                out,
                "{} = [{}]  # {}",
                action.name(),
                keys.join(", "),
                action.description()
            );
        }
        out
    }
}

/// `token = "****"  # from …`, or a comment when there is none.
fn secret_line(name: &str, secret: &Option<Secret>, origin: &Option<String>) -> String {
    match (secret, origin) {
        (Some(s), Some(o)) => format!("{name} = \"{s}\"  # from {o}\n"),
        _ => format!("# no {name}: anonymous access\n"),
    }
}

/// A key as the config spells it (the display form uses arrows).
fn raw_key(k: &KeySpec) -> String {
    let mut s = String::new();
    if k.ctrl {
        s.push_str("ctrl-");
    }
    if k.alt {
        s.push_str("alt-");
    }
    match &k.code {
        super::keymap::KeyCodeSpec::Char(' ') => s.push_str("Space"),
        super::keymap::KeyCodeSpec::Char(c) => s.push(*c),
        super::keymap::KeyCodeSpec::Named(n) => s.push_str(n),
        super::keymap::KeyCodeSpec::F(n) => s.push_str(&format!("F{n}")),
    }
    s
}
