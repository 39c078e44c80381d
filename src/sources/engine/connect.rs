//! Reaching a Docker engine the way the Docker CLI does: the configured host, else `DOCKER_HOST`,
//! else the local socket; TLS for `https://`, or for `tcp://` when `DOCKER_TLS_VERIFY` is set or a
//! certificate directory is configured. Failures become [`HttpError`]s that say what to fix.

use std::path::{Path, PathBuf};

use bollard::{API_DEFAULT_VERSION, Docker};

use crate::config::EngineSourceConfig;
use crate::sources::http::HttpError;

pub const LOCAL_SOCKET: &str = "unix:///var/run/docker.sock";

/// Where and how to reach an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Http(String),
    /// `host:port` with client certificates from a directory holding `ca.pem`, `cert.pem`,
    /// `key.pem`.
    Tls {
        addr: String,
        cert_dir: PathBuf,
    },
}

/// The host to use: the config's, else `DOCKER_HOST`, else the local socket.
pub fn host(cfg_host: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    cfg_host
        .map(str::to_string)
        .or_else(|| env("DOCKER_HOST"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| LOCAL_SOCKET.to_string())
}

/// How to reach `host`. `env` reads the environment (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`,
/// `HOME`), so tests can give their own.
pub fn endpoint(
    host: &str,
    tls_cert_path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, HttpError> {
    let cert_dir = || -> Result<PathBuf, HttpError> {
        tls_cert_path
            .map(Path::to_path_buf)
            .or_else(|| env("DOCKER_CERT_PATH").filter(|p| !p.is_empty()).map(PathBuf::from))
            .or_else(|| env("HOME").map(|h| Path::new(&h).join(".docker")))
            .ok_or_else(|| HttpError::Request(format!("{host}: TLS wanted, but no certificate directory")))
    };
    let addr = |rest: &str| rest.trim_end_matches('/').to_string();
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(HttpError::Request(format!("`{host}` names no socket")));
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = host.strip_prefix("https://") {
        return Ok(Endpoint::Tls {
            addr: addr(rest),
            cert_dir: cert_dir()?,
        });
    }
    if let Some(rest) = host.strip_prefix("http://") {
        return Ok(Endpoint::Http(addr(rest)));
    }
    if let Some(rest) = host.strip_prefix("tcp://") {
        let verify = env("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
        return Ok(if verify || tls_cert_path.is_some() {
            Endpoint::Tls {
                addr: addr(rest),
                cert_dir: cert_dir()?,
            }
        } else {
            Endpoint::Http(addr(rest))
        });
    }
    Err(HttpError::Request(format!(
        "`{host}` is not a Docker host this build reaches (use unix://, tcp://, http:// or https://)"
    )))
}

/// A client for the engine; nothing is sent yet (the first request finds out whether it answers).
pub fn connect(cfg: &EngineSourceConfig) -> Result<(Docker, String), HttpError> {
    let env = |k: &str| std::env::var(k).ok();
    let host = host(cfg.host.as_deref(), &env);
    let timeout = cfg.timeout.as_secs().max(1);
    let docker = match endpoint(&host, cfg.tls_cert_path.as_deref(), &env)? {
        Endpoint::Unix(path) => Docker::connect_with_unix(&path.to_string_lossy(), timeout, API_DEFAULT_VERSION),
        Endpoint::Http(addr) => Docker::connect_with_http(&addr, timeout, API_DEFAULT_VERSION),
        Endpoint::Tls { addr, cert_dir } => {
            for f in ["ca.pem", "cert.pem", "key.pem"] {
                if !cert_dir.join(f).is_file() {
                    return Err(HttpError::Request(format!(
                        "no {f} in {} for TLS to {host}",
                        cert_dir.display()
                    )));
                }
            }
            Docker::connect_with_ssl(
                &addr,
                &cert_dir.join("key.pem"),
                &cert_dir.join("cert.pem"),
                &cert_dir.join("ca.pem"),
                timeout,
                API_DEFAULT_VERSION,
            )
        }
    }
    .map_err(|e| engine_error(e, &host))?;
    Ok((docker, host))
}

/// A bollard error in the health line's words.
pub fn engine_error(e: bollard::errors::Error, host: &str) -> HttpError {
    use bollard::errors::Error as E;
    match e {
        E::SocketNotFoundError(path) => {
            HttpError::Connect(format!("no Docker socket at {path} (is the engine running?)"))
        }
        E::RequestTimeoutError => HttpError::Timeout,
        E::DockerResponseServerError { status_code, message } => HttpError::Status {
            code: status_code,
            retry_after: None,
            detail: message,
        },
        E::JsonDataError { message, .. } => HttpError::Decode(message),
        E::JsonSerdeError { err } => HttpError::Decode(err.to_string()),
        E::CertPathError { .. } | E::CertMultipleKeys { .. } | E::CertParseError { .. } => {
            HttpError::Request(e.to_string())
        }
        other => {
            let cause = root_cause(&other);
            match io_kind(&other) {
                Some(std::io::ErrorKind::PermissionDenied) => HttpError::Connect(format!(
                    "permission denied on {host} (is this user in the docker group?)"
                )),
                Some(std::io::ErrorKind::TimedOut) => HttpError::Timeout,
                Some(_) => HttpError::Connect(format!("{host}: {cause}")),
                None if matches!(other, E::HyperLegacyError { ref err } if err.is_connect()) => {
                    HttpError::Connect(format!("{host}: {cause}"))
                }
                None => HttpError::Transport(cause),
            }
        }
    }
}

/// The kind of the I/O error under an error, if one is there.
fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = err.source();
    }
    None
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() {
            msg = text;
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn host_order() {
        let none = env_of(&[]);
        assert_eq!(host(None, &none), LOCAL_SOCKET);
        let env = env_of(&[("DOCKER_HOST", "tcp://builder:2375")]);
        assert_eq!(host(None, &env), "tcp://builder:2375");
        assert_eq!(host(Some("unix:///run/podman.sock"), &env), "unix:///run/podman.sock");
        let empty = env_of(&[("DOCKER_HOST", "")]);
        assert_eq!(host(None, &empty), LOCAL_SOCKET);
    }

    #[test]
    fn endpoints() {
        let none = env_of(&[]);
        assert_eq!(
            endpoint("unix:///var/run/docker.sock", None, &none).unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            endpoint("tcp://builder:2375", None, &none).unwrap(),
            Endpoint::Http("builder:2375".into())
        );
        assert_eq!(
            endpoint("http://builder:2375/", None, &none).unwrap(),
            Endpoint::Http("builder:2375".into())
        );
        let tls = env_of(&[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/certs")]);
        assert_eq!(
            endpoint("tcp://builder:2376", None, &tls).unwrap(),
            Endpoint::Tls {
                addr: "builder:2376".into(),
                cert_dir: "/certs".into()
            }
        );
        // A configured directory wins, and asks for TLS by itself.
        assert_eq!(
            endpoint("tcp://builder:2376", Some(Path::new("/etc/fd")), &none).unwrap(),
            Endpoint::Tls {
                addr: "builder:2376".into(),
                cert_dir: "/etc/fd".into()
            }
        );
        let home = env_of(&[("HOME", "/home/ci")]);
        assert_eq!(
            endpoint("https://builder:2376", None, &home).unwrap(),
            Endpoint::Tls {
                addr: "builder:2376".into(),
                cert_dir: "/home/ci/.docker".into()
            }
        );
        assert!(matches!(
            endpoint("ssh://builder", None, &none),
            Err(HttpError::Request(_))
        ));
        assert!(matches!(endpoint("unix://", None, &none), Err(HttpError::Request(_))));
    }

    #[test]
    fn missing_socket_reads_well() {
        let cfg = EngineSourceConfig {
            name: "docker".into(),
            host: Some("unix:///nonexistent/docker.sock".into()),
            tls_cert_path: None,
            poll_interval: std::time::Duration::from_secs(60),
            timeout: std::time::Duration::from_secs(5),
        };
        let err = connect(&cfg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot connect: no Docker socket at /nonexistent/docker.sock (is the engine running?)"
        );
    }
}
