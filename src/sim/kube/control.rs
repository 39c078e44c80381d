//! `/__sim/*` on each cluster's server, for tests that drive the estate
//! from outside its process (the binary under `--demo`): that cluster's
//! counters and recorded requests, the facts, the story clock. No auth, no
//! faults, not recorded, not counted.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::super::Shared;
use super::super::faults::lock;
use super::routes::{Reply, json_reply};

fn ok(v: Value) -> Reply {
    json_reply(StatusCode::OK, &v)
}

fn bad(message: &str) -> Reply {
    json_reply(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

pub(crate) fn handle(shared: &Shared, index: usize, method: &Method, path: &str, query: &[(String, String)]) -> Reply {
    let cluster = &shared.kube.clusters[index];
    let to_value = |r: Result<Value, serde_json::Error>| match r {
        Ok(v) => ok(v),
        Err(e) => bad(&e.to_string()),
    };
    match (method, path.trim_end_matches('/')) {
        (&Method::GET, "/__sim/stats") => to_value(serde_json::to_value(cluster.counters.snapshot())),
        (&Method::DELETE, "/__sim/stats") => {
            cluster.counters.reset();
            ok(json!({"ok": true}))
        }
        (&Method::GET, "/__sim/facts") => to_value(serde_json::to_value(&shared.kube.facts)),
        (&Method::GET, "/__sim/requests") => to_value(serde_json::to_value(lock(&cluster.requests).items.clone())),
        (&Method::DELETE, "/__sim/requests") => {
            lock(&cluster.requests).clear();
            ok(json!({"ok": true}))
        }
        (&Method::POST, "/__sim/tick") => {
            match query
                .iter()
                .find(|(k, _)| k == "seconds")
                .map(|(_, v)| v.parse::<f64>())
            {
                Some(Ok(s)) if s.is_finite() && s >= 0.0 => {
                    super::super::tick(shared, s);
                    ok(json!({"ok": true, "now": lock(&shared.world).now}))
                }
                _ => bad("seconds must be a non-negative number"),
            }
        }
        _ => Reply::Body {
            status: StatusCode::NOT_FOUND,
            content_type: "application/json",
            body: Bytes::from_static(b"{\"error\":\"no such control\"}"),
        },
    }
}
