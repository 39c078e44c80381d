//! The HTTP side of the simulator: request recording, fault injection, Basic auth and CSRF
//! crumbs, in front of the router in `routes.rs`.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use super::accept::accept;
use super::api::{ApiReq, System};
use super::faults::{Fault, FaultRequest, lock};
use super::images::{self, ImageSystem, ImgReq};
use super::logtext::SimBody;
use super::routes::{self, Reply};
use super::{RecordedRequest, Shared};
use super::{awx, github, nexus, sonar};

/// Bodies beyond this are refused; nothing the cockpit sends comes close.
const MAX_BODY: usize = 1024 * 1024;

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    accept(listener, "sim", move |reset, req| handle(shared.clone(), reset, req)).await;
}

/// What the router needs to know about a request.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    pub user: String,
    pub cookie: Option<String>,
    pub crumb: Option<String>,
}

async fn handle(
    shared: Arc<Shared>,
    reset: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, io::Error> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(into_response(
                routes::error_page(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large or unreadable"),
                true,
            ));
        }
    };
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
    let form = if content_type.starts_with("application/x-www-form-urlencoded")
        || (content_type.is_empty() && !body.is_empty() && parts.method == Method::POST)
    {
        url::form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    } else {
        Vec::new()
    };
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();

    if path == "/__sim" || path.starts_with("/__sim/") {
        return Ok(into_response(
            control(&shared, &parts.method, &path, &query, &body),
            true,
        ));
    }

    let amz_target = header(header::HeaderName::from_static("x-amz-target"));
    let image_system = ImageSystem::of(&parts.method, &path, amz_target.as_deref());
    let (system, below) = System::of(&path);
    let authorization = header(header::AUTHORIZATION);
    let awx_path = awx::is_awx(&path);
    let user = match system {
        // The registry, ECR and the engine check credentials themselves.
        _ if image_system.is_some() => None,
        _ if awx_path => awx::authenticate(&shared.opts, authorization.as_deref()),
        System::Jenkins | System::Nexus => authenticate(&shared, authorization.as_deref()),
        System::Github => github::authenticate(&shared.opts, authorization.as_deref()),
        System::Sonar => sonar::authenticate(&shared.opts, authorization.as_deref()),
    };
    let below = below.to_string();
    let jenkins = system == System::Jenkins && !awx_path;
    let index = record(&shared, &parts, &path, &raw_query, &form, &body, user.clone());

    let fault = match image_system {
        Some(sys) => shared.faults.find(&sys.fault_path(&path, amz_target.as_deref())),
        None => shared.faults.find(&path),
    };
    let mut truncate = false;
    match fault {
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let reason = status.canonical_reason().unwrap_or("Error");
            return Ok(finish(&shared, index, routes::error_page(status, reason), jenkins));
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut r = routes::error_page(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            r.headers.push((header::RETRY_AFTER, retry_after_secs.to_string()));
            return Ok(finish(&shared, index, r, jenkins));
        }
        Some(Fault::MalformedJson) => {
            let r = Reply::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, routes::JSON)
                .body("{\"jobs\": [ {\"name\": ");
            return Ok(finish(&shared, index, r, jenkins));
        }
        Some(Fault::TruncatedBody) => truncate = true,
        Some(Fault::ConnectionReset) => {
            reset.store(true, Ordering::SeqCst);
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "simulated connection reset",
            ));
        }
        None => {}
    }

    if let Some(sys) = image_system {
        let img_req = ImgReq {
            method: parts.method.clone(),
            path,
            query,
            accept: parts
                .headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_string)
                .collect(),
            authorization,
            content_type: header(header::CONTENT_TYPE),
            target: amz_target,
            body,
        };
        let mut reply = images::handle(&shared, sys, &img_req);
        if truncate {
            cut_in_half(&mut reply);
        }
        return Ok(finish(&shared, index, reply, false));
    }

    if awx_path {
        let awx_req = awx::AwxReq {
            method: &parts.method,
            path: &path,
            query: &query,
            body: &body,
            user,
            has_credentials: authorization.is_some(),
        };
        let mut reply = awx::handle(&shared, &awx_req);
        if truncate {
            cut_in_half(&mut reply);
        }
        return Ok(finish(&shared, index, reply, false));
    }

    if system != System::Jenkins {
        let api_req = ApiReq {
            method: parts.method.clone(),
            path: below,
            full_path: path,
            query,
            if_none_match: header(header::IF_NONE_MATCH),
            user,
        };
        let mut reply = match system {
            System::Github => github::handle(&shared, &api_req),
            System::Sonar => sonar::handle(&shared, &api_req),
            _ => nexus::handle(&shared, &api_req),
        };
        if truncate {
            cut_in_half(&mut reply);
        }
        return Ok(finish(&shared, index, reply, jenkins));
    }

    let Some(user) = user else {
        return Ok(finish(&shared, index, routes::unauthorized(), jenkins));
    };
    let incoming = Req {
        method: parts.method.clone(),
        path,
        query,
        crumb: header(header::HeaderName::from_static("jenkins-crumb")).or_else(|| form_value(&form, "Jenkins-Crumb")),
        form,
        user,
        cookie: header(header::COOKIE),
    };
    let mut reply = {
        let mut world = lock(&shared.world);
        if shared.opts.require_crumb
            && incoming.method == Method::POST
            && !world
                .crumbs
                .check(incoming.cookie.as_deref(), incoming.crumb.as_deref())
        {
            routes::error_page(StatusCode::FORBIDDEN, "No valid crumb was included in the request")
        } else {
            routes::route(&mut world, &shared.opts, &incoming)
        }
    };
    if truncate {
        cut_in_half(&mut reply);
    }
    Ok(finish(&shared, index, reply, jenkins))
}

/// The real body cut in half, announced with the cut length.
fn cut_in_half(reply: &mut Reply) {
    reply.status = StatusCode::OK;
    if let Some(s) = reply.stream.as_mut() {
        s.cut_in_half();
    }
    let cut = reply.body.len() / 2;
    reply.body = reply.body.slice(..cut);
}

fn form_value(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The user named by valid Basic credentials, or None.
fn authenticate(shared: &Shared, authorization: Option<&str>) -> Option<String> {
    let encoded = authorization?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, token) = text.split_once(':')?;
    (user == shared.opts.user && token == shared.opts.token).then(|| user.to_string())
}

fn record(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    path: &str,
    query: &str,
    form: &[(String, String)],
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
    lock(&shared.requests).push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        form: form.to_vec(),
        body: String::from_utf8_lossy(body).into_owned(),
        headers,
        user,
        time: chrono::Utc::now(),
        sim_time_ms,
        status: 0,
    })
}

/// Notes the status on the recorded request and builds the response.
fn finish(shared: &Shared, index: usize, reply: Reply, jenkins: bool) -> Response<SimBody> {
    if let Some(r) = lock(&shared.requests).get_mut(index) {
        r.status = reply.status.as_u16();
    }
    into_response(reply, jenkins)
}

fn into_response(reply: Reply, jenkins: bool) -> Response<SimBody> {
    let body = match reply.stream {
        Some(stream) => SimBody::Log(Box::new(stream)),
        None => SimBody::Full(Some(reply.body)),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = reply.status;
    let h = resp.headers_mut();
    if jenkins {
        h.insert("x-jenkins", HeaderValue::from_static("2.479.3"));
        h.insert(header::SERVER, HeaderValue::from_static("Jetty(12.0.16)"));
    }
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.append(name, v);
        }
    }
    resp
}

/// `/__sim/*`: the control API for out-of-process tests (no auth, no faults,
/// not recorded).
fn control(shared: &Shared, method: &Method, path: &str, query: &[(String, String)], body: &Bytes) -> Reply {
    let ok = |v: serde_json::Value| Reply::json(StatusCode::OK, &v);
    let bad = |msg: String| Reply::json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": msg}));
    match (method, path.trim_end_matches('/')) {
        (&Method::POST, "/__sim/fault") => match serde_json::from_slice::<FaultRequest>(body) {
            Ok(req) => match req.to_fault() {
                Ok(fault) => {
                    shared.faults.set(&req.path_contains, fault);
                    ok(serde_json::json!({"ok": true}))
                }
                Err(e) => bad(e),
            },
            Err(e) => bad(format!("bad fault body: {e}")),
        },
        (&Method::DELETE, "/__sim/fault") => {
            shared.faults.clear();
            ok(serde_json::json!({"ok": true}))
        }
        (&Method::GET, "/__sim/requests") => {
            let requests = lock(&shared.requests).items.clone();
            match serde_json::to_value(requests) {
                Ok(v) => ok(v),
                Err(e) => bad(e.to_string()),
            }
        }
        (&Method::DELETE, "/__sim/requests") => {
            lock(&shared.requests).clear();
            ok(serde_json::json!({"ok": true}))
        }
        (&Method::POST, "/__sim/tick") => {
            let seconds = query
                .iter()
                .find(|(k, _)| k == "seconds")
                .map(|(_, v)| v.parse::<f64>());
            match seconds {
                Some(Ok(s)) if s.is_finite() && s >= 0.0 => {
                    super::tick(shared, s);
                    ok(serde_json::json!({"ok": true, "now": lock(&shared.world).now}))
                }
                _ => bad("seconds must be a non-negative number".to_string()),
            }
        }
        (&Method::GET, "/__sim/github") => match serde_json::to_value(super::github_stats(shared)) {
            Ok(v) => ok(v),
            Err(e) => bad(e.to_string()),
        },
        (&Method::POST, "/__sim/github") => {
            match query
                .iter()
                .find(|(k, _)| k == "remaining")
                .map(|(_, v)| v.parse::<u32>())
            {
                Some(Ok(n)) => {
                    let now = lock(&shared.world).now;
                    lock(&shared.github).set_remaining(n, now);
                    match serde_json::to_value(super::github_stats(shared)) {
                        Ok(v) => ok(v),
                        Err(e) => bad(e.to_string()),
                    }
                }
                _ => bad("remaining must be a non-negative integer".to_string()),
            }
        }
        (&Method::DELETE, "/__sim/github") => {
            lock(&shared.github).reset();
            ok(serde_json::json!({"ok": true}))
        }
        (&Method::GET, "/__sim/facts") => match serde_json::to_value(lock(&shared.world).facts.clone()) {
            Ok(v) => ok(v),
            Err(e) => bad(e.to_string()),
        },
        (&Method::GET, "/__sim/big-console") => match super::bigconsole::fact(&lock(&shared.world)) {
            Some(f) => match serde_json::to_value(f) {
                Ok(v) => ok(v),
                Err(e) => bad(e.to_string()),
            },
            None => Reply::json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "no big console (big_console_bytes is 0)"}),
            ),
        },
        (&Method::GET, "/__sim/registry") => match serde_json::to_value(lock(&shared.images).stats.clone()) {
            Ok(v) => ok(v),
            Err(e) => bad(e.to_string()),
        },
        (&Method::POST, "/__sim/registry") => {
            match query
                .iter()
                .find(|(k, _)| k == "fail_next_puts")
                .map(|(_, v)| v.parse::<u32>())
            {
                Some(Ok(n)) => {
                    super::fail_next_manifest_puts(shared, n);
                    ok(serde_json::json!({"ok": true}))
                }
                _ => bad("fail_next_puts must be a non-negative integer".to_string()),
            }
        }
        (&Method::DELETE, "/__sim/registry") => {
            lock(&shared.images).stats = images::RegistryStats::default();
            ok(serde_json::json!({"ok": true}))
        }
        (&Method::GET, "/__sim/awx") => {
            let awx = lock(&shared.awx);
            match (serde_json::to_value(&awx.facts), serde_json::to_value(&awx.launches)) {
                (Ok(facts), Ok(launches)) => ok(serde_json::json!({"facts": facts, "launches": launches})),
                (Err(e), _) | (_, Err(e)) => bad(e.to_string()),
            }
        }
        (
            _,
            "/__sim/fault" | "/__sim/requests" | "/__sim/tick" | "/__sim/github" | "/__sim/facts" | "/__sim/registry"
            | "/__sim/awx" | "/__sim/big-console",
        ) => Reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method not allowed"}),
        ),
        _ => Reply::json(StatusCode::NOT_FOUND, &serde_json::json!({"error": "no such control"})),
    }
}
