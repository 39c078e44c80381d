//! What the GitHub, SonarQube and Nexus front ends share: which system a
//! path belongs to, the request as they see it, and small reply helpers.

use hyper::Method;
use hyper::header::{self, HeaderName};
use serde_json::Value;

use super::routes::Reply;

/// GitHub Enterprise-style REST base, below the estate URL.
pub(crate) const GITHUB_PREFIX: &str = "/github/api/v3";
pub(crate) const SONAR_PREFIX: &str = "/sonar";
pub(crate) const NEXUS_PREFIX: &str = "/nexus";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum System {
    Jenkins,
    /// Anything below `/github` (the REST API lives at `/github/api/v3`).
    Github,
    Sonar,
    Nexus,
}

fn under<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

impl System {
    /// The system serving `path` and the path below its prefix.
    pub(crate) fn of(path: &str) -> (System, &str) {
        if let Some(rest) = under(path, GITHUB_PREFIX) {
            return (System::Github, rest);
        }
        if under(path, "/github").is_some() {
            return (System::Github, path);
        }
        if let Some(rest) = under(path, SONAR_PREFIX) {
            return (System::Sonar, rest);
        }
        if let Some(rest) = under(path, NEXUS_PREFIX) {
            return (System::Nexus, rest);
        }
        (System::Jenkins, path)
    }
}

/// A request to one of the non-Jenkins systems.
pub(crate) struct ApiReq {
    pub method: Method,
    /// The path below the system's prefix (`/repos/dominion/x`).
    pub path: String,
    /// The path as received (for `Link` headers).
    pub full_path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub if_none_match: Option<String>,
    /// Set when the credentials were valid for this system.
    pub user: Option<String>,
}

impl ApiReq {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Path segments below the prefix, percent-decoded.
    pub(crate) fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect()
    }
}

/// A JSON reply with the given content type.
pub(crate) fn json(status: hyper::StatusCode, content_type: &str, v: &Value) -> Reply {
    Reply::new(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(v.to_string())
}

pub(crate) fn hname(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

/// Parses a non-negative integer parameter, with a default and a ceiling.
pub(crate) fn number(raw: Option<&str>, default: usize, max: usize) -> Result<usize, String> {
    match raw {
        None | Some("") => Ok(default),
        Some(s) => s
            .trim()
            .parse::<usize>()
            .map(|n| n.min(max))
            .map_err(|_| format!("'{s}' is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_route_to_systems() {
        assert_eq!(System::of("/github/api/v3/repos/a/b"), (System::Github, "/repos/a/b"));
        assert_eq!(System::of("/github/dominion/x/pull/3").0, System::Github);
        assert_eq!(System::of("/github-webhook/"), (System::Jenkins, "/github-webhook/"));
        assert_eq!(
            System::of("/sonar/api/system/status"),
            (System::Sonar, "/api/system/status")
        );
        assert_eq!(System::of("/nexus"), (System::Nexus, ""));
        assert_eq!(System::of("/nexusx"), (System::Jenkins, "/nexusx"));
        assert_eq!(System::of("/job/sonar/api/json").0, System::Jenkins);
    }
}
