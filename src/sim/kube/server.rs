//! The HTTP side of a simulated cluster: its own hyper HTTP/1.1 server on
//! 127.0.0.1 (watches need a streaming body, the estate's server sends
//! whole bodies), request recording, the estate's faults (matched against
//! `/kube/<cluster><path>`, so `/kube/shop-prod` breaks the EKS cluster and
//! `/namespaces/shop-staging/pods` one resource of the other), bearer
//! authentication and the EKS token endpoint.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use super::super::accept::accept;
use super::super::faults::{Fault, lock};
use super::super::{RecordedRequest, Shared};
use super::auth::bearer;
use super::control;
use super::routes::{self, KubeReq, Reply, error};
use super::watch::{self, Breakage};

type Body = UnsyncBoxBody<Bytes, Infallible>;

const MAX_BODY: usize = 1024 * 1024;

/// Accepts connections for cluster `index` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, index: usize) {
    let handler = move |reset, req| handle(shared.clone(), index, reset, req);
    accept(listener, "sim kube", handler).await;
}

fn full(status: StatusCode, content_type: &str, body: Bytes, audit: &str) -> Response<Body> {
    let mut resp = Response::new(Full::new(body).boxed_unsync());
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    if let Ok(v) = HeaderValue::from_str(audit) {
        h.insert("audit-id", v);
    }
    resp
}

async fn handle(
    shared: Arc<Shared>,
    index: usize,
    reset: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> Result<Response<Body>, io::Error> {
    let cluster = &shared.kube.clusters[index];
    let (parts, body) = req.into_parts();
    let audit = super::super::ids::hex(fastrand::u64(..), &["audit"], 32);
    let audit = format!(
        "{}-{}-{}-{}-{}",
        &audit[..8],
        &audit[8..12],
        &audit[12..16],
        &audit[16..20],
        &audit[20..]
    );
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let r = error(413, "RequestEntityTooLarge", "the request body is too large", None);
            return Ok(respond(&shared, index, r, Breakage::None, &audit));
        }
    };
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if path == "/__sim" || path.starts_with("/__sim/") {
        let reply = control::handle(&shared, index, &parts.method, &path, &query);
        return Ok(respond(&shared, index, reply, Breakage::None, &audit));
    }
    let header_of = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = header_of(header::AUTHORIZATION);
    let content_type = header_of(header::CONTENT_TYPE).unwrap_or_default();

    let open = matches!(
        path.as_str(),
        "/version" | "/healthz" | "/livez" | "/readyz" | "/__token"
    );
    let user = match bearer(authorization.as_deref()) {
        Some(token) if cluster.spec.eks => lock(&cluster.tokens)
            .valid(token)
            .then(|| cluster.spec.identity.clone()),
        Some(token) => (token == shared.kube.static_token).then(|| cluster.spec.identity.clone()),
        None => None,
    };
    let seq = record(&shared, index, &parts, &path, &raw_query, &body, user.clone());

    let fault = shared.faults.find(&format!("/kube/{}{path}", cluster.spec.short));
    let mut breakage = Breakage::None;
    match fault {
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let reason = match code {
                503 => "ServiceUnavailable",
                500 => "InternalError",
                504 => "Timeout",
                _ => status.canonical_reason().unwrap_or("Unknown"),
            };
            let r = error(code, reason, status.canonical_reason().unwrap_or("error"), None);
            return Ok(finish(&shared, index, seq, r, Breakage::None, &audit));
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let r = error(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
                Some(serde_json::json!({"retryAfterSeconds": retry_after_secs})),
            );
            let mut resp = finish(&shared, index, seq, r, Breakage::None, &audit);
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(resp);
        }
        Some(Fault::MalformedJson) => breakage = Breakage::Malformed,
        Some(Fault::TruncatedBody) => breakage = Breakage::Truncated,
        Some(Fault::ConnectionReset) => {
            reset.store(true, Ordering::SeqCst);
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "simulated connection reset",
            ));
        }
        None => {}
    }

    if path == "/__token" {
        let reply = token(&shared, index, &parts.method, &query);
        return Ok(finish(&shared, index, seq, reply, breakage, &audit));
    }
    // A credential that does not check out is refused even where none is needed.
    let anonymous_ok = open && authorization.is_none();
    let Some(user) = user.or_else(|| anonymous_ok.then(|| "system:anonymous".to_string())) else {
        cluster.counters.add_unauthorized();
        let r = error(401, "Unauthorized", "Unauthorized", None);
        return Ok(finish(&shared, index, seq, r, Breakage::None, &audit));
    };
    let req = KubeReq {
        method: &parts.method,
        path: &path,
        query: &query,
        content_type: &content_type,
        body: &body,
        user: &user,
    };
    let (verb, reply) = routes::route(&shared, cluster, &req);
    cluster.counters.add_request(verb);
    Ok(finish(&shared, index, seq, reply, breakage, &audit))
}

/// The EKS token endpoint (what `aws eks get-token` stands for).
fn token(shared: &Shared, index: usize, method: &Method, query: &[(String, String)]) -> Reply {
    let cluster = &shared.kube.clusters[index];
    if !cluster.spec.eks || *method != Method::GET {
        return error(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    }
    let asked = query.iter().find(|(k, _)| k == "cluster").map(|(_, v)| v.as_str());
    if asked.is_some_and(|c| c != cluster.spec.short) {
        return error(
            404,
            "NotFound",
            &format!("No cluster found for name: {}.", asked.unwrap_or_default()),
            None,
        );
    }
    let body = lock(&cluster.tokens).issue(shared.kube.token_lifetime);
    cluster.counters.add_token();
    Reply::Body {
        status: StatusCode::OK,
        content_type: "application/json",
        body: Bytes::from(body),
    }
}

fn record(
    shared: &Shared,
    index: usize,
    parts: &hyper::http::request::Parts,
    path: &str,
    query: &str,
    body: &Bytes,
    user: Option<String>,
) -> usize {
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| *k != header::AUTHORIZATION)
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let sim_time_ms = lock(&shared.world).now;
    lock(&shared.kube.clusters[index].requests).push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        form: Vec::new(),
        body: String::from_utf8_lossy(body).into_owned(),
        headers,
        user,
        time: chrono::Utc::now(),
        sim_time_ms,
        status: 0,
    })
}

fn finish(
    shared: &Arc<Shared>,
    index: usize,
    seq: usize,
    reply: Reply,
    breakage: Breakage,
    audit: &str,
) -> Response<Body> {
    let status = match &reply {
        Reply::Body { status, .. } => status.as_u16(),
        Reply::Watch(_) => 200,
    };
    if let Some(r) = lock(&shared.kube.clusters[index].requests).get_mut(seq) {
        r.status = status;
    }
    respond(shared, index, reply, breakage, audit)
}

fn respond(shared: &Arc<Shared>, index: usize, reply: Reply, breakage: Breakage, audit: &str) -> Response<Body> {
    match reply {
        Reply::Body {
            status,
            content_type,
            body,
        } => {
            let body = match breakage {
                Breakage::None => body,
                Breakage::Truncated => body.slice(..body.len() / 2),
                Breakage::Malformed => Bytes::from_static(b"{\"kind\":\"DeploymentList\",\"items\":[{\"metadata\": "),
            };
            full(status, content_type, body, audit)
        }
        Reply::Watch(plan) => {
            let mut resp = Response::new(watch::body(shared.clone(), index, plan, breakage));
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
            if let Ok(v) = HeaderValue::from_str(audit) {
                h.insert("audit-id", v);
            }
            resp
        }
    }
}
