//! What went wrong talking to a cluster, said so that the health line or the action's outcome
//! tells the operator what to fix: the kubeconfig, the exec plugin, the server's refusal, or the
//! network.

use std::fmt;

use ::kube::client::AuthError;

#[derive(Debug, Clone, PartialEq)]
pub enum KubeError {
    /// The kubeconfig, its context or its credentials (exec plugin) are not usable.
    Config(String),
    /// The API server answered with an error status.
    Api { code: u16, reason: String, message: String },
    /// No answer: connection refused, TLS, timeout, broken stream.
    Transport(String),
    /// Flightdeck refused before asking the server (e.g. no such container, paused Deployment).
    Refused(String),
    /// Waited longer than allowed.
    Timeout(String),
}

impl KubeError {
    pub fn code(&self) -> Option<u16> {
        match self {
            KubeError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The credentials were refused: a new token (a rebuilt client) may help.
    pub fn is_unauthorized(&self) -> bool {
        self.code() == Some(401)
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }
}

impl fmt::Display for KubeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KubeError::Config(m) | KubeError::Transport(m) | KubeError::Refused(m) | KubeError::Timeout(m) => {
                f.write_str(m)
            }
            KubeError::Api { code, reason, message } => {
                let reason = if reason.is_empty() {
                    http::StatusCode::from_u16(*code)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("error")
                        .to_string()
                } else {
                    reason.clone()
                };
                if message.is_empty() {
                    write!(f, "{code} {reason}")
                } else {
                    write!(f, "{code} {reason}: {message}")
                }
            }
        }
    }
}

impl std::error::Error for KubeError {}

/// An exec plugin's failure, with its own words (stderr) rather than bytes.
fn auth_error(e: &AuthError) -> String {
    match e {
        AuthError::AuthExecRun { out, .. } => {
            // Not `cmd`: its debug form carries the plugin's whole environment.
            let stderr = String::from_utf8_lossy(&out.stderr);
            match last_line(stderr.trim()) {
                "" => format!("exec plugin failed ({})", out.status),
                said => format!("exec plugin failed ({}): {said}", out.status),
            }
        }
        AuthError::AuthExecStart(io) => format!("cannot start the exec plugin: {io}"),
        AuthError::AuthExecParse(p) => format!("the exec plugin printed no credential: {p}"),
        other => format!("credentials: {other}"),
    }
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// The deepest message of an error chain (hyper and tower wrap the useful one).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(auth) = s.downcast_ref::<AuthError>() {
            return auth_error(auth);
        }
        msg = s.to_string();
        source = s.source();
    }
    msg
}

impl From<::kube::Error> for KubeError {
    fn from(e: ::kube::Error) -> KubeError {
        match e {
            ::kube::Error::Api(status) => KubeError::Api {
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            ::kube::Error::Auth(a) => KubeError::Config(auth_error(&a)),
            ::kube::Error::InferKubeconfig(k) => KubeError::Config(format!("kubeconfig: {k}")),
            ::kube::Error::Service(ref inner) => {
                if let Some(auth) = inner.downcast_ref::<AuthError>() {
                    return KubeError::Config(auth_error(auth));
                }
                let msg = root_cause(inner.as_ref());
                if msg.contains("timed out") || msg.contains("deadline has elapsed") {
                    KubeError::Timeout(msg)
                } else {
                    KubeError::Transport(msg)
                }
            }
            ::kube::Error::SerdeError(s) => KubeError::Transport(format!("unreadable answer: {s}")),
            other => KubeError::Transport(root_cause(&other)),
        }
    }
}

impl From<::kube::runtime::watcher::Error> for KubeError {
    fn from(e: ::kube::runtime::watcher::Error) -> KubeError {
        use ::kube::runtime::watcher::Error as W;
        match e {
            W::InitialListFailed(e) | W::WatchStartFailed(e) | W::WatchFailed(e) => e.into(),
            W::WatchError(status) => KubeError::Api {
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            W::NoResourceVersion => KubeError::Transport("the server gave no resourceVersion to watch from".into()),
        }
    }
}
