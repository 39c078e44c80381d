//! Credentials for a registry host, the way `docker login` left them: explicit config first, then
//! the Docker config's `auths` (inline `auth`, `username`/`password`, `identitytoken`), then a
//! credential helper (`credHelpers[host]`, else `credsStore`). Anything that fails ends anonymous
//! with a reason the health line can show; nothing here panics.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;

use crate::config::Secret;

/// The key Docker Hub's credentials are stored under in config.json.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// How long a credential helper may take before it counts as failed.
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    Anonymous,
    Basic {
        user: String,
        password: Secret,
    },
    /// An OAuth refresh token from `docker login` against a token server (Azure and others).
    IdentityToken(Secret),
}

/// What to authenticate with, where it came from, and why it is not better.
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    pub auth: Auth,
    /// `config`, `docker config auths`, `credential helper ecr-login`, `anonymous`.
    pub origin: String,
    /// Why the credentials are anonymous though some were configured (helper missing, failed…).
    pub problem: Option<String>,
}

impl Credentials {
    pub fn anonymous(problem: Option<String>) -> Credentials {
        Credentials {
            auth: Auth::Anonymous,
            origin: "anonymous".to_string(),
            problem,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The Docker config to read: the configured path, else `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub fn docker_config_path(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = configured {
        return Some(p.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".docker").join("config.json"))
}

/// Is this host Docker Hub's registry?
pub fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com"
    )
}

/// The key config.json uses for a registry host, and the server URL handed to helpers.
pub fn server_key(host: &str) -> String {
    if is_docker_hub(host) {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// `https://ghcr.io/`, `http://host:5000/v2/`, `host:5000` → `host:5000`, as Docker compares keys.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

fn same_host(key: &str, host: &str) -> bool {
    let k = key_host(key);
    k == host || (is_docker_hub(k) && is_docker_hub(host))
}

/// Credentials for `host` (`ghcr.io`, `127.0.0.1:5000`, `docker.io`): explicit `user` and
/// `password` win; otherwise the Docker config; otherwise anonymous.
pub fn resolve(host: &str, user: Option<&str>, password: Option<&Secret>, docker_config: Option<&Path>) -> Credentials {
    if let Some(user) = user {
        return Credentials {
            auth: Auth::Basic {
                user: user.to_string(),
                password: password.cloned().unwrap_or_default(),
            },
            origin: "config".to_string(),
            problem: None,
        };
    }
    let Some(path) = docker_config_path(docker_config) else {
        return Credentials::anonymous(None);
    };
    from_docker_config(host, &path)
}

/// Credentials for `host` from one Docker config file. A missing file means anonymous, quietly;
/// an unreadable one says why.
pub fn from_docker_config(host: &str, path: &Path) -> Credentials {
    from_docker_config_in(host, path, None)
}

/// As [`from_docker_config`], with credential helpers looked up in `helper_dir` instead of PATH.
pub fn from_docker_config_in(host: &str, path: &Path, helper_dir: Option<&Path>) -> Credentials {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Credentials::anonymous(None),
        Err(e) => {
            return Credentials::anonymous(Some(format!("cannot read {}: {e}", path.display())));
        }
    };
    let config: DockerConfig = match serde_json::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            return Credentials::anonymous(Some(format!("{} is not a Docker config: {e}", path.display())));
        }
    };

    // A helper named for this very host wins over everything else, as in Docker.
    if let Some((_, helper)) = config.cred_helpers.iter().find(|(k, _)| same_host(k, host)) {
        return from_helper(helper, &server_key(host), helper_dir);
    }

    if let Some((_, entry)) = config.auths.iter().find(|(k, _)| same_host(k, host)) {
        if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Credentials {
                auth: Auth::IdentityToken(Secret::new(token)),
                origin: "docker config auths".to_string(),
                problem: None,
            };
        }
        if let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            return match decode_auth(encoded) {
                Some((user, password)) => Credentials {
                    auth: Auth::Basic {
                        user,
                        password: Secret::new(password),
                    },
                    origin: "docker config auths".to_string(),
                    problem: None,
                },
                None => Credentials::anonymous(Some(format!(
                    "the `auth` of {host} in {} is not base64 user:password",
                    path.display()
                ))),
            };
        }
        if let Some(user) = entry.username.as_deref().filter(|u| !u.is_empty()) {
            return Credentials {
                auth: Auth::Basic {
                    user: user.to_string(),
                    password: Secret::new(entry.password.clone().unwrap_or_default()),
                },
                origin: "docker config auths".to_string(),
                problem: None,
            };
        }
        // An empty entry: `docker login` with a credsStore leaves `"host": {}` behind.
    }

    if let Some(store) = config.creds_store.as_deref().filter(|s| !s.is_empty()) {
        return from_helper(store, &server_key(host), helper_dir);
    }
    Credentials::anonymous(None)
}

/// `base64(user:password)` → (user, password).
pub fn decode_auth(encoded: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Ask `docker-credential-<helper> get` (on PATH, or in `helper_dir`) for the server's
/// credentials.
pub fn from_helper(helper: &str, server_url: &str, helper_dir: Option<&Path>) -> Credentials {
    let name = format!("docker-credential-{helper}");
    let program = match helper_dir {
        Some(dir) => dir.join(&name).to_string_lossy().into_owned(),
        None => name,
    };
    match run_helper(&program, server_url) {
        Ok(answer) => {
            let origin = format!("credential helper {helper}");
            if answer.username == "<token>" {
                Credentials {
                    auth: Auth::IdentityToken(Secret::new(answer.secret)),
                    origin,
                    problem: None,
                }
            } else {
                Credentials {
                    auth: Auth::Basic {
                        user: answer.username,
                        password: Secret::new(answer.secret),
                    },
                    origin,
                    problem: None,
                }
            }
        }
        Err(reason) => Credentials::anonymous(Some(reason)),
    }
}

fn run_helper(program: &str, server_url: &str) -> Result<HelperAnswer, String> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("{program} is not installed"),
            _ => format!("cannot run {program}: {e}"),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading gives a broken pipe; its exit status says more.
        let _ = stdin.write_all(server_url.as_bytes());
    }
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < HELPER_TIMEOUT => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not answer within {}s", HELPER_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("{program}: {e}")),
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    if !status.success() {
        let said = if stdout.trim().is_empty() {
            stderr.trim()
        } else {
            stdout.trim()
        };
        let said: String = said.chars().take(120).collect();
        return Err(if said.is_empty() {
            format!("{program} failed ({status})")
        } else {
            format!("{program} failed: {said}")
        });
    }
    serde_json::from_str(&stdout).map_err(|e| format!("{program} answered something unreadable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn basic(c: &Credentials) -> Option<(String, String)> {
        match &c.auth {
            Auth::Basic { user, password } => Some((user.clone(), password.expose().to_string())),
            _ => None,
        }
    }

    #[test]
    fn inline_auth_for_the_host_and_for_docker_hub() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(
            dir.path(),
            "config.json",
            r#"{"auths":{
                "ghcr.io":{"auth":"Ym9iOnMzY3JldDp3aXRoOmNvbG9ucw=="},
                "https://index.docker.io/v1/":{"auth":"aHViOmh1YnBhc3M="},
                "http://127.0.0.1:5000/v2/":{"username":"me","password":"pw"}
            }}"#,
        );
        let c = from_docker_config("ghcr.io", &cfg);
        assert_eq!(basic(&c), Some(("bob".into(), "s3cret:with:colons".into())));
        assert_eq!(c.origin, "docker config auths");
        for hub in ["docker.io", "registry-1.docker.io", "index.docker.io"] {
            assert_eq!(
                basic(&from_docker_config(hub, &cfg)),
                Some(("hub".into(), "hubpass".into()))
            );
        }
        assert_eq!(
            basic(&from_docker_config("127.0.0.1:5000", &cfg)),
            Some(("me".into(), "pw".into()))
        );
        let other = from_docker_config("quay.io", &cfg);
        assert_eq!(other.auth, Auth::Anonymous);
        assert_eq!(other.problem, None);
    }

    #[test]
    fn explicit_user_wins_and_missing_files_are_anonymous() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(
            dir.path(),
            "config.json",
            r#"{"auths":{"ghcr.io":{"auth":"aHViOmh1YnBhc3M="}}}"#,
        );
        let pw = Secret::new("explicit");
        let c = resolve("ghcr.io", Some("flightdeck"), Some(&pw), Some(&cfg));
        assert_eq!(basic(&c), Some(("flightdeck".into(), "explicit".into())));
        assert_eq!(c.origin, "config");
        let none = resolve("ghcr.io", None, None, Some(&dir.path().join("absent.json")));
        assert_eq!(none, Credentials::anonymous(None));
        let bad = write(dir.path(), "bad.json", "{not json");
        let c = from_docker_config("ghcr.io", &bad);
        assert_eq!(c.auth, Auth::Anonymous);
        assert!(c.problem.unwrap().contains("not a Docker config"));
        let garbled = write(dir.path(), "garbled.json", r#"{"auths":{"ghcr.io":{"auth":"!!!"}}}"#);
        assert!(from_docker_config("ghcr.io", &garbled).problem.is_some());
    }

    #[test]
    fn identity_token() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(
            dir.path(),
            "config.json",
            r#"{"auths":{"myreg.azurecr.io":{"auth":"","identitytoken":"refresh-me"}}}"#,
        );
        let c = from_docker_config("myreg.azurecr.io", &cfg);
        assert_eq!(c.auth, Auth::IdentityToken(Secret::new("refresh-me")));
    }

    fn fake_helper(dir: &Path, name: &str, script: &str) {
        let p = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn credential_helpers_answer_fail_or_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        // Answers with the server URL it was asked about as the user name.
        fake_helper(
            dir.path(),
            "fake",
            r#"read -r url; printf '{"ServerURL":"%s","Username":"%s","Secret":"helper-secret"}' "$url" "$url""#,
        );
        fake_helper(
            dir.path(),
            "broken",
            "echo 'credentials not found in native keychain'; exit 1",
        );
        fake_helper(
            dir.path(),
            "token",
            r#"printf '{"Username":"<token>","Secret":"refresh"}'"#,
        );
        let cfg = write(
            dir.path(),
            "config.json",
            r#"{"auths":{"ghcr.io":{}},
                "credHelpers":{"ghcr.io":"broken","quay.io":"missing","myreg.azurecr.io":"token"},
                "credsStore":"fake"}"#,
        );
        let lookup = |host: &str| from_docker_config_in(host, &cfg, Some(dir.path()));

        // credsStore for every host without its own helper; Docker Hub asked by its v1 key.
        let hub = lookup("registry-1.docker.io");
        assert_eq!(basic(&hub), Some((DOCKER_HUB_KEY.into(), "helper-secret".into())));
        assert_eq!(hub.origin, "credential helper fake");
        assert_eq!(
            basic(&lookup("127.0.0.1:5000")),
            Some(("127.0.0.1:5000".into(), "helper-secret".into()))
        );

        // credHelpers[host] wins over credsStore, and its failure is kept, not panicked on.
        let broken = lookup("ghcr.io");
        assert_eq!(broken.auth, Auth::Anonymous);
        assert!(
            broken.problem.as_deref().unwrap().contains("credentials not found"),
            "{broken:?}"
        );
        let missing = lookup("quay.io");
        assert_eq!(missing.auth, Auth::Anonymous);
        assert!(
            missing.problem.as_deref().unwrap().contains("not installed"),
            "{missing:?}"
        );
        assert_eq!(
            lookup("myreg.azurecr.io").auth,
            Auth::IdentityToken(Secret::new("refresh"))
        );
        let on_path = from_helper("flightdeck-no-such-helper", "ghcr.io", None);
        assert!(on_path.problem.unwrap().contains("not installed"));
    }
}
