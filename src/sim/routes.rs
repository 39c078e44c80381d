//! The router: Jenkins URLs nest (`/job/A/job/B/12/wfapi/describe`), so the
//! path is split into segments, `job/NAME` pairs are folded into a full job
//! name, and the rest is matched per level (root, job, build).
//!
//! Never panics on input: unknown paths answer 404, malformed numbers 400.

use bytes::Bytes;
use hyper::header::{self, HeaderName};
use hyper::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::SimOptions;
use super::jenkins::{Build, Job, JobKind};
use super::logtext::{self, LogStream, LogText};
use super::render;
use super::server::Req;
use super::story::{TriggerError, World};
use super::tree;

pub(crate) const JSON: &str = "application/json;charset=utf-8";
const TEXT: &str = "text/plain;charset=utf-8";
const HTML: &str = "text/html;charset=utf-8";

/// A response before it becomes a hyper one (so faults can still cut it).
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Bytes,
    /// A body rendered while it is sent (the big console); replaces `body`.
    pub stream: Option<LogStream>,
}

impl Reply {
    pub(crate) fn new(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            stream: None,
        }
    }

    /// A log from byte `start`: one body when small, a stream when it has a
    /// generated region.
    fn log(mut self, text: LogText, start: u64, html: bool) -> Reply {
        if text.is_generated() {
            self.stream = Some(text.stream(start, html));
        } else {
            let bytes = text.read(start, text.len());
            self.body = if html {
                logtext::escape_html_bytes(&bytes)
            } else {
                Bytes::from(bytes)
            };
        }
        self
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = body.into();
        self
    }

    pub(crate) fn json(status: StatusCode, v: &Value) -> Reply {
        Reply::new(status)
            .header(header::CONTENT_TYPE, JSON)
            .body(v.to_string())
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Jenkins/Jetty-style HTML error page.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Reply {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    let msg = html_escape(message);
    Reply::new(status).header(header::CONTENT_TYPE, HTML).body(format!(
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n\
         <title>Error {code} {reason}</title>\n</head>\n<body><h2>HTTP ERROR {code} {msg}</h2>\n\
         <table>\n<tr><th>URI:</th><td>/</td></tr>\n<tr><th>STATUS:</th><td>{code}</td></tr>\n\
         <tr><th>MESSAGE:</th><td>{msg}</td></tr>\n</table>\n</body>\n</html>\n"
    ))
}

pub(crate) fn unauthorized() -> Reply {
    error_page(StatusCode::UNAUTHORIZED, "Unauthorized").header(header::WWW_AUTHENTICATE, "Basic realm=\"Jenkins\"")
}

fn not_found() -> Reply {
    error_page(StatusCode::NOT_FOUND, "Not Found")
}

fn bad_request(msg: &str) -> Reply {
    error_page(StatusCode::BAD_REQUEST, msg)
}

fn method_not_allowed() -> Reply {
    error_page(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

fn html_page(title: &str, body: &str) -> Reply {
    Reply::new(StatusCode::OK)
        .header(header::CONTENT_TYPE, HTML)
        .body(format!(
            "<!DOCTYPE html><html><head><title>{} [Jenkins]</title></head><body>{body}</body></html>\n",
            html_escape(title)
        ))
}

fn redirect(status: StatusCode, location: String) -> Reply {
    Reply::new(status).header(header::LOCATION, location)
}

fn param<'a>(req: &'a Req, name: &str) -> Option<&'a str> {
    req.query
        .iter()
        .chain(req.form.iter())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Renders an `api/json` answer, honouring `tree` and refusing `depth`.
fn api_json(req: &Req, render: impl Fn(bool) -> Value) -> Reply {
    if req.method != Method::GET && req.method != Method::POST {
        return method_not_allowed();
    }
    if req.query.iter().any(|(k, _)| k == "depth") {
        return bad_request("depth is not supported by this server; use tree");
    }
    match param(req, "tree") {
        Some(t) => match tree::parse(t) {
            Ok(fields) => Reply::json(StatusCode::OK, &tree::filter(&render(true), &fields)),
            Err(e) => bad_request(&e),
        },
        None => Reply::json(StatusCode::OK, &render(false)),
    }
}

fn get_only(req: &Req, f: impl FnOnce() -> Reply) -> Reply {
    if req.method == Method::GET || req.method == Method::HEAD {
        f()
    } else {
        method_not_allowed()
    }
}

fn post_only(req: &Req, f: impl FnOnce() -> Reply) -> Reply {
    if req.method == Method::POST {
        f()
    } else {
        method_not_allowed()
    }
}

/// Routes an authenticated (and crumb-checked) request.
pub(crate) fn route(w: &mut World, opts: &SimOptions, req: &Req) -> Reply {
    let segs: Vec<String> = req
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [] => get_only(req, || html_page("Dashboard", "<h1>Dashboard</h1>")),
        ["api", "json"] => api_json(req, |deep| render::root(w, deep)),
        ["crumbIssuer", "api", "json"] => get_only(req, || crumb(w, opts, req)),
        ["queue"] => get_only(req, || html_page("Build Queue", "<h1>Build Queue</h1>")),
        ["queue", "api", "json"] => api_json(req, |_| render::queue(w)),
        ["queue", "cancelItem"] => post_only(req, || cancel(w, req)),
        ["queue", "item", id, rest @ ..] => queue_item(w, req, id, rest),
        ["job", ..] => job_route(w, req, &segs),
        _ => not_found(),
    }
}

fn crumb(w: &mut World, opts: &SimOptions, req: &Req) -> Reply {
    // Without CSRF protection Jenkins has no crumb issuer.
    if !opts.require_crumb {
        return not_found();
    }
    let issued = w.crumbs.issue(req.cookie.as_deref());
    let v = serde_json::json!({
        "_class": "hudson.security.csrf.DefaultCrumbIssuer",
        "crumb": issued.crumb,
        "crumbRequestField": "Jenkins-Crumb",
    });
    let mut r = Reply::json(StatusCode::OK, &v);
    if let Some(c) = issued.set_cookie {
        r = r.header(header::SET_COOKIE, c);
    }
    r
}

fn cancel(w: &mut World, req: &Req) -> Reply {
    let Some(raw) = param(req, "id") else {
        return bad_request("id is required");
    };
    let Ok(id) = raw.parse::<u64>() else {
        return bad_request("id must be a number");
    };
    if w.cancel_queue_item(id) {
        Reply::new(StatusCode::NO_CONTENT)
    } else {
        not_found()
    }
}

fn queue_item(w: &World, req: &Req, id: &str, rest: &[&str]) -> Reply {
    let Ok(id) = id.parse::<u64>() else {
        return bad_request("queue item id must be a number");
    };
    let Some(item) = w.queue.get(&id) else {
        return not_found();
    };
    match rest {
        [] => get_only(req, || html_page("Queue item", &format!("<h1>Queue item {id}</h1>"))),
        ["api", "json"] => api_json(req, |_| render::queue_item(w, item)),
        _ => not_found(),
    }
}

fn job_route(w: &mut World, req: &Req, segs: &[&str]) -> Reply {
    let mut names = Vec::new();
    let mut i = 0;
    while i + 1 < segs.len() && segs[i] == "job" {
        names.push(segs[i + 1]);
        i += 2;
    }
    let full = names.join("/");
    let rest = &segs[i..];
    let Some(job) = w.jobs.get(&full) else {
        return not_found();
    };
    let kind = job.kind;
    match rest {
        [] => get_only(req, || html_page(&full, &format!("<h1>{}</h1>", html_escape(&full)))),
        ["api", "json"] => {
            let job = &w.jobs[&full];
            api_json(req, |deep| render::job(w, job, deep))
        }
        ["build"] => post_only(req, || trigger(w, req, &full, false)),
        ["buildWithParameters"] => post_only(req, || trigger(w, req, &full, true)),
        ["wfapi"] | ["wfapi", "describe"] if kind == JobKind::Pipeline => {
            get_only(req, || Reply::json(StatusCode::OK, &render::job_wfapi(&w.jobs[&full])))
        }
        ["wfapi", "runs"] if kind == JobKind::Pipeline => {
            get_only(req, || Reply::json(StatusCode::OK, &render::runs(w, &w.jobs[&full])))
        }
        [first, tail @ ..] if !kind.is_folder() => {
            let number = match first.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => job.permalink(first).map(|b| b.number),
            };
            match number {
                Some(n) if job.build(n).is_some() => build_route(w, req, &full, n, tail),
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn trigger(w: &mut World, req: &Req, job: &str, with_parameters: bool) -> Reply {
    let given: Vec<(String, String)> = req
        .query
        .iter()
        .chain(req.form.iter())
        .filter(|(k, _)| k != "delay" && k != "token" && k != "Jenkins-Crumb")
        .cloned()
        .collect();
    match w.trigger(job, with_parameters, &given, &req.user) {
        Ok(id) => redirect(StatusCode::CREATED, format!("{}/queue/item/{id}/", w.base)),
        Err(TriggerError::NotFound) => not_found(),
        Err(TriggerError::Disabled) => error_page(StatusCode::CONFLICT, &format!("{job} is disabled")),
        Err(TriggerError::NeedsParameters) => bad_request("This job is parameterized: use buildWithParameters"),
        Err(TriggerError::NotParameterised) => bad_request("This build is not parameterized!"),
        Err(TriggerError::BadParameter(msg)) => bad_request(&msg),
    }
}

fn build_route(w: &mut World, req: &Req, full: &str, n: u32, rest: &[&str]) -> Reply {
    let (job, b): (&Job, &Build) = match w.jobs.get(full).and_then(|j| j.build(n).map(|b| (j, b))) {
        Some(x) => x,
        None => return not_found(),
    };
    let pipeline = job.kind == JobKind::Pipeline;
    let build_url = render::build_url(w, full, n);
    match rest {
        [] => get_only(req, || html_page(&format!("{full} #{n}"), &format!("<h1>#{n}</h1>"))),
        ["api", "json"] => api_json(req, |_| render::build(w, job, b)),
        ["wfapi"] | ["wfapi", "describe"] if pipeline => {
            get_only(req, || Reply::json(StatusCode::OK, &render::run_describe(w, job, b)))
        }
        ["wfapi", "pendingInputActions"] if pipeline => {
            get_only(req, || Reply::json(StatusCode::OK, &render::pending_inputs(job, b)))
        }
        ["wfapi", "nextPendingInputAction"] if pipeline => get_only(req, || {
            let all = render::pending_inputs(job, b);
            let first = all.get(0).cloned().unwrap_or(Value::Null);
            Reply::json(StatusCode::OK, &first)
        }),
        ["wfapi", "artifacts"] if pipeline => get_only(req, || {
            let base = render::build_path(full, n);
            let v: Vec<Value> = render::artifacts(b)
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let size = if a.is_report() {
                        render::artifact_body(w, b, a).len() as u64
                    } else {
                        super::nexus::artifact_size(b)
                    };
                    serde_json::json!({
                        "id": format!("n{}", i + 1),
                        "name": a.file_name,
                        "path": a.relative_path,
                        "url": format!("{base}artifact/{}", a.relative_path),
                        "size": size,
                    })
                })
                .collect();
            Reply::json(StatusCode::OK, &Value::Array(v))
        }),
        ["artifact", path @ ..] => {
            let wanted = path.join("/");
            get_only(req, || {
                match render::artifacts(b).iter().find(|a| a.relative_path == wanted) {
                    Some(a) => {
                        let ctype = if a.is_report() {
                            "application/json"
                        } else {
                            "application/java-archive"
                        };
                        Reply::new(StatusCode::OK)
                            .header(header::CONTENT_TYPE, ctype)
                            .body(render::artifact_body(w, b, a))
                    }
                    None => not_found(),
                }
            })
        }
        ["wfapi", "inputSubmit"] if pipeline => post_only(req, || {
            let Some(id) = param(req, "inputId").map(str::to_string) else {
                return bad_request("inputId is required");
            };
            let user = req.user.clone();
            let done = if param(req, "abort").is_some() {
                w.abort_input(full, n, &id, &user)
            } else {
                w.approve(full, n, &id, &user)
            };
            if done { Reply::new(StatusCode::OK) } else { not_found() }
        }),
        ["execution", "node", id, tail @ ..] if pipeline => {
            let Ok(id) = id.parse::<u32>() else {
                return not_found();
            };
            match tail {
                ["wfapi", "describe"] | ["wfapi"] => get_only(req, || {
                    render::node_describe(w, job, b, id).map_or_else(not_found, |v| Reply::json(StatusCode::OK, &v))
                }),
                ["wfapi", "log"] => get_only(req, || {
                    render::node_log(job, b, id).map_or_else(not_found, |v| Reply::json(StatusCode::OK, &v))
                }),
                ["log"] => get_only(req, || {
                    logtext::node_of(b, id).map_or_else(not_found, |t| {
                        Reply::new(StatusCode::OK)
                            .header(header::CONTENT_TYPE, TEXT)
                            .log(t, 0, false)
                    })
                }),
                _ => not_found(),
            }
        }
        ["logText", "progressiveText"] => get_only(req, || progressive(req, b, false)),
        ["logText", "progressiveHtml"] => get_only(req, || progressive(req, b, true)),
        ["consoleText"] => get_only(req, || {
            Reply::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, TEXT)
                .log(logtext::console_of(b), 0, false)
        }),
        ["console"] => get_only(req, || console_page(full, n, b)),
        ["consoleFull"] => get_only(req, || {
            let title = html_escape(&format!("{full} #{n} Console"));
            let text = logtext::console_of(b).wrapped(
                &format!(
                    "<!DOCTYPE html><html><head><title>{title} [Jenkins]</title></head><body><pre class=\"console-output\">"
                ),
                "</pre></body></html>\n",
            );
            Reply::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, HTML)
                .log(text, 0, true)
        }),
        ["testReport", "api", "json"] => match render::test_report(b) {
            Some(v) => api_json(req, |_| v.clone()),
            None => not_found(),
        },
        ["input"] if pipeline => get_only(req, || match &b.input {
            Some(i) => html_page(
                &format!("{full} #{n} Input"),
                &format!("<p>{}</p>", html_escape(&i.message)),
            ),
            None => not_found(),
        }),
        ["input", id, action] if pipeline => {
            let id = id.to_string();
            let action = action.to_string();
            post_only(req, || {
                let user = req.user.clone();
                let done = match action.as_str() {
                    "proceedEmpty" | "proceed" | "submit" => w.approve(full, n, &id, &user),
                    "abort" => w.abort_input(full, n, &id, &user),
                    _ => return not_found(),
                };
                if done { Reply::new(StatusCode::OK) } else { not_found() }
            })
        }
        ["stop"] | ["term"] | ["kill"] => post_only(req, || {
            let user = req.user.clone();
            w.stop(full, n, &user);
            redirect(StatusCode::FOUND, build_url.clone())
        }),
        _ => not_found(),
    }
}

/// Jenkins shows the last 150 KB of a longer log (`hudson.consoleTailKB`).
const CONSOLE_TAIL: u64 = 150 * 1024;

/// `/console`: the log as HTML, only its tail when it is long.
fn console_page(full: &str, n: u32, b: &Build) -> Reply {
    let text = logtext::console_of(b);
    let total = text.len();
    let (skipped, start) = if total > CONSOLE_TAIL {
        let start = total - CONSOLE_TAIL;
        let kb = start / 1024;
        let grouped = kb
            .to_string()
            .as_bytes()
            .rchunks(3)
            .rev()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        (
            format!(
                "Skipping {grouped} KB.. <a href=\"{}consoleFull\">Full Log</a>\n",
                render::build_path(full, n)
            ),
            start,
        )
    } else {
        (String::new(), 0)
    };
    let tail = text.read(start, total);
    html_page(
        &format!("{full} #{n} Console"),
        &format!(
            "{skipped}<pre class=\"console-output\">{}</pre>",
            html_escape(&String::from_utf8_lossy(&tail))
        ),
    )
}

/// `logText/progressiveText?start=B`: bytes from B, `X-Text-Size` is the
/// next offset, `X-More-Data: true` only while the log grows. A log with a
/// generated region is streamed, never held whole.
fn progressive(req: &Req, b: &Build, html: bool) -> Reply {
    let start = match param(req, "start") {
        None | Some("") => 0,
        Some(s) => match s.parse::<u64>() {
            Ok(n) => n,
            Err(_) => return bad_request("start must be a byte offset"),
        },
    };
    let text = logtext::console_of(b);
    let len = text.len();
    // A start beyond the end means the log was rolled: start over.
    let start = if start > len { 0 } else { start };
    let ctype = if html { HTML } else { TEXT };
    let mut r = Reply::new(StatusCode::OK)
        .header(header::CONTENT_TYPE, ctype)
        .header(HeaderName::from_static("x-text-size"), len.to_string())
        .log(text, start, html);
    if b.building {
        r = r.header(HeaderName::from_static("x-more-data"), "true");
    }
    r
}
