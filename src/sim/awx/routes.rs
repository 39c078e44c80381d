//! The HTTP side of the simulated AWX: authentication, the API v2 routes, paging with
//! `next`/`previous` links that keep the path prefix, filters and `order_by`, launches with
//! AWX's prompt rules, approvals, and job output in its formats.

use base64::Engine;
use hyper::header::{self, HeaderName};
use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::render::{self, api};
use super::story::{API_USER, AwxSim, Decision, Kind, Template, parse_vars_value};
use super::{PREFIX, output};
use crate::sim::faults::lock;
use crate::sim::jenkins::Ms;
use crate::sim::routes::Reply;
use crate::sim::{Shared, SimOptions};

const JSON: &str = "application/json";
const VERSION: &str = "24.6.1";
/// AWX's `MAX_PAGE_SIZE`.
const MAX_PAGE_SIZE: usize = 200;
const DEFAULT_PAGE_SIZE: usize = 25;

/// What the router needs of a request below `/awx`.
pub(crate) struct AwxReq<'a> {
    pub method: &'a Method,
    /// The path as received (`/awx/api/v2/jobs/`).
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
    /// Set when the credentials were valid.
    pub user: Option<String>,
    /// Did the request carry credentials at all?
    pub has_credentials: bool,
}

impl AwxReq<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Is this path the simulated AWX's?
pub(crate) fn is_awx(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The user behind `Bearer <token>` (the API user) or Basic `flightdeck:<token>` (also the
/// estate's Jenkins user with the token).
pub(crate) fn authenticate(opts: &SimOptions, authorization: Option<&str>) -> Option<String> {
    let a = authorization?.trim();
    if let Some(token) = a.strip_prefix("Bearer ") {
        return (token.trim() == opts.token).then(|| API_USER.to_string());
    }
    let encoded = a.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (password == opts.token && (user == API_USER || user == opts.user)).then(|| user.to_string())
}

fn reply(status: StatusCode, v: &Value) -> Reply {
    Reply::new(status)
        .header(header::CONTENT_TYPE, JSON)
        .body(v.to_string())
}

fn ok(v: &Value) -> Reply {
    reply(StatusCode::OK, v)
}

fn detail(status: StatusCode, msg: &str) -> Reply {
    reply(status, &json!({ "detail": msg }))
}

fn not_found() -> Reply {
    detail(StatusCode::NOT_FOUND, "Not found.")
}

fn method_not_allowed(m: &Method) -> Reply {
    detail(StatusCode::METHOD_NOT_ALLOWED, &format!("Method \"{m}\" not allowed."))
}

/// Answers a request below the prefix.
pub(crate) fn handle(shared: &Shared, req: &AwxReq<'_>) -> Reply {
    let now = lock(&shared.world).now;
    let mut sim = lock(&shared.awx);
    sim.settle(now);
    route(&mut sim, req, now)
        .header(HeaderName::from_static("x-api-product-name"), "AWX")
        .header(HeaderName::from_static("x-api-product-version"), VERSION)
        .header(HeaderName::from_static("x-api-node"), "awx-web-7c9d5")
}

fn read_only(req: &AwxReq<'_>, f: impl FnOnce() -> Reply) -> Reply {
    match *req.method {
        Method::GET | Method::HEAD => f(),
        ref m => method_not_allowed(m),
    }
}

fn route(sim: &mut AwxSim, req: &AwxReq<'_>, now: Ms) -> Reply {
    let below = req.path.strip_prefix(PREFIX).unwrap_or(req.path);
    let segs: Vec<&str> = below.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [] | ["api"] => {
            return read_only(req, || {
                ok(&json!({
                    "description": "AWX REST API",
                    "current_version": format!("{PREFIX}/api/v2/"),
                    "available_versions": {"v2": format!("{PREFIX}/api/v2/")},
                    "oauth2": format!("{PREFIX}/api/o/"),
                    "custom_logo": "", "custom_login_info": "", "login_redirect_override": ""
                }))
            });
        }
        ["api", "v2", "ping"] => {
            return read_only(req, || {
                ok(&json!({
                    "ha": false, "version": VERSION, "active_node": "awx-web-7c9d5",
                    "install_uuid": "6f0c1a62-3b9e-4d8e-9a51-2c7e0d4b8a11",
                    "instances": [{"node": "awx-task-7c9d5", "node_type": "control", "heartbeat": render::time(now), "capacity": 120, "version": VERSION}],
                    "instance_groups": [{"name": "default", "capacity": 120, "instances": ["awx-task-7c9d5"]}]
                }))
            });
        }
        _ => {}
    }
    let Some(user) = req.user.clone() else {
        let msg = if req.has_credentials {
            "Invalid username/password."
        } else {
            "Authentication credentials were not provided."
        };
        return detail(StatusCode::UNAUTHORIZED, msg).header(
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=api authorization_url={PREFIX}/api/o/authorize/"),
        );
    };
    match segs.as_slice() {
        ["api", "v2"] => read_only(req, || {
            ok(&json!({
                "ping": api("ping/"), "me": api("me/"), "job_templates": api("job_templates/"),
                "jobs": api("jobs/"), "workflow_job_templates": api("workflow_job_templates/"),
                "workflow_jobs": api("workflow_jobs/"), "workflow_approvals": api("workflow_approvals/")
            }))
        }),
        ["api", "v2", "me"] => read_only(req, || ok(&render::me(&user))),
        ["api", "v2", coll @ ("job_templates" | "workflow_job_templates")] => {
            let kind = kind_of(coll);
            read_only(req, || {
                let items = sim
                    .templates
                    .iter()
                    .filter(|t| t.kind == kind)
                    .map(|t| render::template(sim, t, now))
                    .collect();
                page(req, items)
            })
        }
        [
            "api",
            "v2",
            coll @ ("job_templates" | "workflow_job_templates"),
            id,
            rest @ ..,
        ] => {
            let kind = kind_of(coll);
            let Some(t) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| sim.template(id))
                .filter(|t| t.kind == kind)
                .cloned()
            else {
                return not_found();
            };
            match rest {
                [] => read_only(req, || ok(&render::template(sim, &t, now))),
                ["jobs"] if kind == Kind::Job => read_only(req, || template_jobs(sim, req, &t, now)),
                ["workflow_jobs"] if kind == Kind::Workflow => read_only(req, || template_jobs(sim, req, &t, now)),
                ["survey_spec"] => read_only(req, || ok(&render::survey_spec(&t))),
                ["launch"] => match *req.method {
                    Method::GET | Method::HEAD => ok(&render::launch_description(&t)),
                    Method::POST => launch(sim, req, &t, &user, now),
                    ref m => method_not_allowed(m),
                },
                _ => not_found(),
            }
        }
        ["api", "v2", coll @ ("jobs" | "workflow_jobs")] => {
            let kind = if *coll == "jobs" { Kind::Job } else { Kind::Workflow };
            read_only(req, || {
                let items = sim
                    .jobs
                    .iter()
                    .filter(|j| j.kind == kind && j.created <= now)
                    .map(|j| render::job(sim, j, now, false))
                    .collect();
                page(req, items)
            })
        }
        ["api", "v2", coll @ ("jobs" | "workflow_jobs"), id, rest @ ..] => {
            let kind = if *coll == "jobs" { Kind::Job } else { Kind::Workflow };
            let Some(j) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| sim.job(id))
                .filter(|j| j.kind == kind && j.created <= now)
            else {
                return not_found();
            };
            match rest {
                [] => read_only(req, || ok(&render::job(sim, j, now, true))),
                ["stdout"] if kind == Kind::Job => read_only(req, || stdout(req, j, now)),
                _ => not_found(),
            }
        }
        ["api", "v2", "workflow_approvals"] => read_only(req, || {
            let items = sim
                .approvals
                .iter()
                .filter(|a| a.created <= now)
                .map(|a| render::approval(sim, a, now))
                .collect();
            page(req, items)
        }),
        ["api", "v2", "workflow_approvals", id, rest @ ..] => {
            let Some(a) = id.parse::<u64>().ok().and_then(|id| sim.approval(id)).cloned() else {
                return not_found();
            };
            match rest {
                [] => read_only(req, || ok(&render::approval(sim, &a, now))),
                [verb @ ("approve" | "deny")] => {
                    if *req.method != Method::POST {
                        return method_not_allowed(req.method);
                    }
                    let decision = if *verb == "approve" {
                        Decision::Approved
                    } else {
                        Decision::Denied
                    };
                    match sim.decide(a.id, decision, &user, now) {
                        Ok(()) => Reply::new(StatusCode::NO_CONTENT),
                        Err(msg) => reply(StatusCode::BAD_REQUEST, &json!({ "error": msg })),
                    }
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn kind_of(coll: &str) -> Kind {
    if coll == "job_templates" {
        Kind::Job
    } else {
        Kind::Workflow
    }
}

fn template_jobs(sim: &AwxSim, req: &AwxReq<'_>, t: &Template, now: Ms) -> Reply {
    let items = sim
        .jobs
        .iter()
        .filter(|j| j.template == t.id && j.created <= now)
        .map(|j| render::job(sim, j, now, false))
        .collect();
    page(req, items)
}

/// The prompts AWX knows besides `extra_vars`; none of the estate's templates asks for them.
const PROMPTS: [&str; 14] = [
    "inventory",
    "limit",
    "scm_branch",
    "job_tags",
    "skip_tags",
    "job_type",
    "verbosity",
    "diff_mode",
    "credentials",
    "execution_environment",
    "labels",
    "forks",
    "job_slice_count",
    "timeout",
];

/// `POST …/launch/`: AWX's rules (`_accept_or_ignore_job_kwargs`): extra variables pass when
/// the template asks for variables on launch, or when a survey question defines them; the
/// rest is dropped into `ignored_fields` and the launch still answers 201.
fn launch(sim: &mut AwxSim, req: &AwxReq<'_>, t: &Template, user: &str, now: Ms) -> Reply {
    if !t.can_execute {
        return detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        );
    }
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(req.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return detail(
                    StatusCode::BAD_REQUEST,
                    "Invalid data. Expected a dictionary, but got list.",
                );
            }
            Err(e) => return detail(StatusCode::BAD_REQUEST, &format!("JSON parse error - {e}")),
        }
    };
    let sent = body.get("extra_vars").cloned().unwrap_or(Value::Null);
    let vars = match parse_vars_value(&sent) {
        Ok(v) => v,
        Err(msg) => return reply(StatusCode::BAD_REQUEST, &json!({ "extra_vars": [msg] })),
    };
    let (mut accepted, mut dropped) = (Map::new(), Map::new());
    for (k, v) in vars {
        if t.accepts(&k) {
            accepted.insert(k, v);
        } else {
            dropped.insert(k, v);
        }
    }
    let mut ignored = Map::new();
    if !dropped.is_empty() {
        ignored.insert("extra_vars".to_string(), Value::Object(dropped));
    }
    if let Value::Object(fields) = &body {
        for (k, v) in fields {
            if PROMPTS.contains(&k.as_str()) {
                ignored.insert(k.clone(), v.clone());
            }
        }
    }
    let defaults = super::story::parse_vars(&t.extra_vars);
    let missing: Vec<String> = t
        .survey
        .iter()
        .filter(|q| q.required)
        .filter(|q| {
            let given = accepted.get(q.variable).or_else(|| defaults.get(q.variable));
            given.is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        })
        .map(|q| format!("'{}' value missing", q.variable))
        .collect();
    if !missing.is_empty() {
        return reply(
            StatusCode::BAD_REQUEST,
            &json!({ "variables_needed_to_start": missing }),
        );
    }
    let ignored = Value::Object(ignored);
    let Some(id) = sim.launch(t.id, user, &sent, accepted, ignored.clone(), now) else {
        return not_found();
    };
    let Some(job) = sim.job(id) else {
        return not_found();
    };
    let mut v = render::job(sim, job, now, true);
    let key = if t.kind == Kind::Job { "job" } else { "workflow_job" };
    v[key] = json!(id);
    v["ignored_fields"] = ignored;
    let location = v["url"].as_str().unwrap_or_default().to_string();
    reply(StatusCode::CREATED, &v).header(header::LOCATION, location)
}

/// `GET /api/v2/jobs/{id}/stdout/?format=…`: what the job printed so far.
fn stdout(req: &AwxReq<'_>, j: &super::story::Job, now: Ms) -> Reply {
    let lines = j.output_at(now);
    let join = |f: &dyn Fn(&output::Line) -> String| -> String { lines.iter().map(|l| f(l) + "\n").collect() };
    let plain = || join(&|l| l.text.clone());
    let text = |body: String, download: bool| {
        let r = Reply::new(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body);
        if download {
            r.header(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"job_{}.txt\"", j.id),
            )
        } else {
            r
        }
    };
    match req.param("format").unwrap_or("api") {
        "txt" => text(plain(), false),
        "txt_download" => text(plain(), true),
        "ansi" => text(join(&|l| l.ansi()), false),
        "ansi_download" => text(join(&|l| l.ansi()), true),
        "json" | "api" => {
            // AWX slices the lines as Python does, `lines[start_line:end_line]`, negative
            // indices counting from the end; the content keeps its colour codes.
            let n = lines.len() as i64;
            let int = |name: &str| req.param(name).and_then(|v| v.trim().parse::<i64>().ok());
            let (start, end) = (int("start_line").unwrap_or(0), int("end_line"));
            let index = |i: i64| if i < 0 { (n + i).max(0) } else { i.min(n) } as usize;
            let (from, to) = (index(start), end.map_or(n as usize, index));
            let content: String = lines[from..to.max(from)].iter().map(|l| l.ansi() + "\n").collect();
            let start_actual = if start < 0 { n + start } else { start };
            let end_actual = if start < 0 { n } else { end.map_or(n, |e| e.min(n)) };
            ok(&json!({"range": {"start": start_actual, "end": end_actual, "absolute_end": n}, "content": content}))
        }
        "html" => Reply::new(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(format!(
                "<!DOCTYPE html><html><head><title>Job {}</title></head><body><pre>{}</pre></body></html>",
                j.id,
                plain().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
            )),
        _ => not_found(),
    }
}

/// Filters, `order_by` and pages over a list, with `next`/`previous` on the path as received.
fn page(req: &AwxReq<'_>, mut items: Vec<Value>) -> Reply {
    for (k, want) in req.query {
        let (field, op) = k.split_once("__").unwrap_or((k.as_str(), "exact"));
        if !["id", "name", "status", "launch_type", "type"].contains(&field) {
            continue;
        }
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        items.retain(|item| {
            let have = item.get(field).map(text).unwrap_or_default();
            match op {
                "exact" => have == *want,
                "iexact" => have.eq_ignore_ascii_case(want),
                "icontains" => have.to_lowercase().contains(&want.to_lowercase()),
                "in" => want.split(',').any(|w| w == have),
                _ => true,
            }
        });
    }
    let order = req.param("order_by").unwrap_or("id").to_string();
    for key in order.split(',').rev() {
        let (desc, field) = match key.strip_prefix('-') {
            Some(f) => (true, f),
            None => (false, key),
        };
        items.sort_by(|a, b| {
            let o = compare(a.get(field), b.get(field));
            if desc { o.reverse() } else { o }
        });
    }
    let size = req
        .param("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let count = items.len();
    let pages = count.div_ceil(size).max(1);
    let number = match req.param("page") {
        None => 1,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if n >= 1 && n <= pages => n,
            _ => return detail(StatusCode::NOT_FOUND, "Invalid page."),
        },
    };
    let link = |n: usize| -> Value {
        let mut q: Vec<(String, String)> = req.query.iter().filter(|(k, _)| k != "page").cloned().collect();
        q.push(("page".to_string(), n.to_string()));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        Value::String(format!("{}?{query}", req.path))
    };
    let results: Vec<Value> = items.into_iter().skip((number - 1) * size).take(size).collect();
    ok(&json!({
        "count": count,
        "next": if number < pages { link(number + 1) } else { Value::Null },
        "previous": if number > 1 { link(number - 1) } else { Value::Null },
        "results": results,
    }))
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}
