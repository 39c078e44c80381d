//! Fault store: which misbehaviour the simulated server shows for which paths.
//!
//! Faults are matched by substring on the request path so a test can break one
//! endpoint (say `wfapi`) while the rest of the estate keeps answering.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;

/// One kind of misbehaviour the simulated Jenkins can show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Sleep (real time) then answer normally.
    Latency(Duration),
    /// Answer this status (meant for 5xx) with an HTML error page.
    Status(u16),
    /// Answer 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// Answer 200 `application/json` with a body that does not parse.
    MalformedJson,
    /// Answer 200 with the real body cut in half.
    TruncatedBody,
    /// Drop the connection without any response.
    ConnectionReset,
}

/// Faults in the order they were set; the newest match wins so a test can
/// override a broad fault with a narrower one without clearing first.
#[derive(Default)]
pub(crate) struct FaultStore {
    rules: Mutex<Vec<(String, Fault)>>,
}

impl FaultStore {
    pub(crate) fn set(&self, path_contains: &str, fault: Fault) {
        let mut rules = lock(&self.rules);
        rules.retain(|(p, _)| p != path_contains);
        rules.push((path_contains.to_string(), fault));
    }

    pub(crate) fn clear(&self) {
        lock(&self.rules).clear();
    }

    pub(crate) fn find(&self, path: &str) -> Option<Fault> {
        lock(&self.rules)
            .iter()
            .rev()
            .find(|(p, _)| path.contains(p.as_str()))
            .map(|(_, f)| f.clone())
    }
}

/// Body of `POST /__sim/fault`, as out-of-process tests send it.
#[derive(Debug, Deserialize)]
pub(crate) struct FaultRequest {
    pub path_contains: String,
    pub fault: String,
    #[serde(default)]
    pub ms: Option<u64>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
}

impl FaultRequest {
    /// Turns the wire form into a [`Fault`], or explains what is wrong with it.
    pub(crate) fn to_fault(&self) -> Result<Fault, String> {
        match self.fault.as_str() {
            "latency" => Ok(Fault::Latency(Duration::from_millis(self.ms.unwrap_or(1000)))),
            "status" => {
                let code = self.status.unwrap_or(503);
                if (100..=599).contains(&code) {
                    Ok(Fault::Status(code))
                } else {
                    Err(format!("status {code} is not an HTTP status"))
                }
            }
            "429" => Ok(Fault::TooManyRequests {
                retry_after_secs: self.retry_after.unwrap_or(5),
            }),
            "malformed" => Ok(Fault::MalformedJson),
            "truncated" => Ok(Fault::TruncatedBody),
            "reset" => Ok(Fault::ConnectionReset),
            other => Err(format!("unknown fault kind {other:?}")),
        }
    }
}

/// Locks a mutex, recovering from poisoning: a panicking test thread must not
/// take the whole simulated estate down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_matching_rule_wins() {
        let store = FaultStore::default();
        store.set("/job/", Fault::Status(503));
        store.set("wfapi", Fault::MalformedJson);
        assert_eq!(store.find("/job/a/1/wfapi/describe"), Some(Fault::MalformedJson));
        assert_eq!(store.find("/job/a/api/json"), Some(Fault::Status(503)));
        assert_eq!(store.find("/api/json"), None);
        store.clear();
        assert_eq!(store.find("/job/a/api/json"), None);
    }

    #[test]
    fn wire_form_parses() {
        let r: FaultRequest = serde_json::from_str(r#"{"path_contains":"x","fault":"429","retry_after":7}"#).unwrap();
        assert_eq!(r.to_fault(), Ok(Fault::TooManyRequests { retry_after_secs: 7 }));
        let r: FaultRequest = serde_json::from_str(r#"{"path_contains":"x","fault":"bogus"}"#).unwrap();
        assert!(r.to_fault().is_err());
    }
}
