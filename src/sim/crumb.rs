//! CSRF crumbs as Jenkins' DefaultCrumbIssuer hands them out: one crumb per
//! web session, tied to the `JSESSIONID.<instance>` cookie of that session.

use std::collections::HashMap;

use super::ids;

pub(crate) struct Crumbs {
    /// The instance part of the cookie name, `JSESSIONID.<instance>`.
    instance: String,
    seed: u64,
    counter: u64,
    /// session id → crumb
    sessions: HashMap<String, String>,
}

/// What `/crumbIssuer/api/json` answers.
pub(crate) struct Issued {
    pub crumb: String,
    /// `Set-Cookie` value when a new session was opened.
    pub set_cookie: Option<String>,
}

impl Crumbs {
    pub(crate) fn new(seed: u64) -> Crumbs {
        Crumbs {
            instance: ids::hex(seed, &["instance"], 8),
            seed,
            counter: 0,
            sessions: HashMap::new(),
        }
    }

    pub(crate) fn cookie_name(&self) -> String {
        format!("JSESSIONID.{}", self.instance)
    }

    /// Finds this instance's session id in a `Cookie` header.
    pub(crate) fn session_from_cookie(&self, cookie_header: Option<&str>) -> Option<String> {
        let name = self.cookie_name();
        cookie_header?
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim().to_string())
    }

    /// Issues (or re-issues) the crumb of the presented session, opening a
    /// new session when the cookie is missing or unknown.
    pub(crate) fn issue(&mut self, cookie_header: Option<&str>) -> Issued {
        self.counter += 1;
        let n = self.counter.to_string();
        let crumb = ids::hex(self.seed, &["crumb", &n], 64);
        if let Some(session) = self.session_from_cookie(cookie_header)
            && let Some(current) = self.sessions.get_mut(&session)
        {
            *current = crumb.clone();
            return Issued {
                crumb,
                set_cookie: None,
            };
        }
        let session = format!("node0{}.node0", ids::hex(self.seed, &["session", &n], 26));
        self.sessions.insert(session.clone(), crumb.clone());
        Issued {
            crumb,
            set_cookie: Some(format!("{}={session}; Path=/; HttpOnly", self.cookie_name())),
        }
    }

    /// True when `crumb` is the live crumb of the session in the cookie.
    pub(crate) fn check(&self, cookie_header: Option<&str>, crumb: Option<&str>) -> bool {
        let (Some(session), Some(crumb)) = (self.session_from_cookie(cookie_header), crumb) else {
            return false;
        };
        self.sessions.get(&session).is_some_and(|c| !c.is_empty() && c == crumb)
    }

    /// Forgets every crumb (sessions survive, like a salt rotation), so
    /// clients must fetch a new crumb and retry.
    pub(crate) fn expire_all(&mut self) {
        for crumb in self.sessions.values_mut() {
            crumb.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crumb_is_bound_to_session_and_expires() {
        let mut c = Crumbs::new(7);
        let issued = c.issue(None);
        let cookie = issued.set_cookie.expect("new session");
        let pair = cookie.split(';').next().unwrap().to_string();
        assert!(pair.starts_with("JSESSIONID."));
        assert!(c.check(Some(&pair), Some(&issued.crumb)));
        assert!(!c.check(Some(&pair), Some("nope")));
        assert!(!c.check(None, Some(&issued.crumb)));
        c.expire_all();
        assert!(!c.check(Some(&pair), Some(&issued.crumb)));
        assert!(!c.check(Some(&pair), Some("")));
        let again = c.issue(Some(&pair));
        assert!(again.set_cookie.is_none());
        assert!(c.check(Some(&pair), Some(&again.crumb)));
    }
}
