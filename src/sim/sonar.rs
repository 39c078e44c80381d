//! A SonarQube Server subset at `{url}/sonar`, fed by the simulated
//! Jenkins: one analysis per service pipeline build whose "SonarQube
//! analysis" stage finished, dated at that stage's end, with the build's
//! version and SHA. The gate is "Sonar way" (new coverage < 80, new
//! duplication > 3, new reliability or security rating worse than A);
//! builds of the `FailQualityGate` scenario fail it on coverage, like their
//! Jenkins "Quality gate" stage. Pull request #41 of checkout-web is
//! analysed by `dominion/checkout-web-pr/PR-41` (`pullRequest=41`).
//!
//! Endpoints: `api/system/status`, `api/server/version`,
//! `api/authentication/validate`, `api/qualitygates/project_status`,
//! `api/measures/component`, `api/measures/search_history`,
//! `api/project_analyses/search`, `api/ce/task`.

use base64::Engine;
use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::api::{self, ApiReq};
use super::console;
use super::dates;
use super::facts::{self, stage_ok};
use super::faults::lock;
use super::forge;
use super::ids;
use super::jenkins::{Build, FailKind, Ms, Outcome};
use super::story::{FOLDER, MULTIBRANCH, SERVICES, World};
use super::{Shared, SimOptions};

const CONTENT_TYPE: &str = "application/json";
/// Project keys are `com.dominion:{service}`.
pub(crate) const KEY_PREFIX: &str = "com.dominion:";
const MAIN_BRANCH: &str = "master";

/// The token from `Bearer <token>` (unless the server predates 10.0), or
/// from Basic with the token as login and an empty password.
pub(crate) fn authenticate(opts: &SimOptions, authorization: Option<&str>) -> Option<String> {
    let a = authorization?.trim();
    if let Some(token) = a.strip_prefix("Bearer ") {
        return (!opts.sonar_basic_only && token.trim() == opts.token).then(|| opts.user.clone());
    }
    let encoded = a.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (login, password) = text.split_once(':').unwrap_or((&text, ""));
    (login == opts.token && password.is_empty()).then(|| opts.user.clone())
}

fn version(opts: &SimOptions) -> &'static str {
    if opts.sonar_legacy_periods {
        "7.9.6.44229"
    } else if opts.sonar_basic_only {
        "9.9.7.96285"
    } else {
        "10.7.0.96327"
    }
}

fn errors(status: StatusCode, msg: &str) -> Reply {
    api::json(status, CONTENT_TYPE, &json!({"errors": [{"msg": msg}]}))
}

use super::routes::Reply;

fn ok(v: &Value) -> Reply {
    api::json(StatusCode::OK, CONTENT_TYPE, v)
}

/// Which analyses a request is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Main,
    PullRequest(u64),
}

/// One analysis: the build it came from and when it was processed.
pub(crate) struct Analysis<'a> {
    pub build: &'a Build,
    pub job: String,
    pub service: &'static str,
    pub key: String,
    pub at: Ms,
    pub gate_error: bool,
}

fn service_of_key(key: &str) -> Option<&'static str> {
    let name = key.strip_prefix(KEY_PREFIX)?;
    SERVICES.iter().map(|s| s.name).find(|s| *s == name)
}

/// Sonar-style ids: 20 characters of URL-safe base64.
fn sonar_id(seed: u64, parts: &[&str]) -> String {
    let raw = ids::hex(seed, parts, 30);
    let bytes: Vec<u8> = (0..15)
        .map(|i| u8::from_str_radix(&raw[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    format!(
        "AZ{}",
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)[..18]
    )
}

/// Analyses of a service (main branch or a pull request), oldest first.
fn analyses<'a>(w: &'a World, service: &'static str, target: Target) -> Vec<Analysis<'a>> {
    let job = match target {
        Target::Main => format!("{FOLDER}/{service}"),
        Target::PullRequest(n) => format!("{MULTIBRANCH}/PR-{n}"),
    };
    let Some(j) = w.jobs.get(&job) else {
        return Vec::new();
    };
    if target != Target::Main && j.service != service {
        return Vec::new();
    }
    j.builds
        .iter()
        .filter(|b| stage_ok(b, "SonarQube analysis"))
        .filter_map(|b| {
            let at = b.stages.iter().find(|s| s.name == "SonarQube analysis")?.end?;
            (at <= w.now).then(|| Analysis {
                build: b,
                job: job.clone(),
                service,
                key: sonar_id(w.seed, &[&job, &b.number.to_string(), "analysis"]),
                at,
                gate_error: b
                    .plan
                    .iter()
                    .any(|p| p.name == "Quality gate" && p.outcome == Outcome::Fail(FailKind::QualityGate)),
            })
        })
        .collect()
}

/// What an analysis measured.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Measures {
    pub bugs: u64,
    pub vulnerabilities: u64,
    pub security_hotspots: u64,
    pub code_smells: u64,
    pub coverage: f64,
    pub new_coverage: f64,
    pub duplicated: f64,
    pub new_duplicated: f64,
    pub new_reliability_rating: u8,
    pub new_security_rating: u8,
    pub ncloc: u64,
}

fn tenth(h: u64, lo: f64, hi: f64) -> f64 {
    let steps = ((hi - lo) * 10.0).round() as u64 + 1;
    lo + (h % steps) as f64 / 10.0
}

/// Overall coverage each service hovers around.
fn base_coverage(service: &str) -> f64 {
    match service {
        "payments-api" => 78.4,
        "ledger-service" => 83.1,
        "checkout-web" => 71.6,
        "catalog-service" => 86.2,
        "notification-worker" => 74.9,
        "fraud-scoring" => 80.7,
        _ => 75.0,
    }
}

pub(crate) fn measures(w: &World, a: &Analysis) -> Measures {
    let version = &a.build.ctx.version;
    let h = |salt: &str| ids::hash(w.seed, &[a.service, &a.job, version, salt]);
    let number = u64::from(a.build.number);
    let new_coverage = if a.gate_error {
        tenth(h("ncov"), 55.0, 68.0)
    } else if a.service == "payments-api" {
        if a.job == format!("{FOLDER}/payments-api") && a.build.number == w.facts.coverage.build_number {
            facts::PAYMENTS_NEW_COVERAGE
        } else {
            tenth(h("ncov"), 81.0, 88.0)
        }
    } else {
        tenth(h("ncov"), 90.5, 97.5)
    };
    Measures {
        // The shop allows no bugs or vulnerabilities: green builds have none, a failing gate some.
        bugs: if a.gate_error { 1 + h("bugs") % 3 } else { 0 },
        vulnerabilities: if a.gate_error { h("vuln") % 3 } else { 0 },
        security_hotspots: h("hot") % 7,
        code_smells: 60 + (number * 7) % 90 + h("smell") % 25,
        coverage: ((base_coverage(a.service) + tenth(h("cov"), -1.5, 1.5)) * 10.0).round() / 10.0,
        new_coverage,
        duplicated: tenth(h("dup"), 1.0, 4.5),
        new_duplicated: tenth(h("ndup"), 0.0, 2.8),
        new_reliability_rating: 1,
        new_security_rating: 1,
        ncloc: 18_000 + (ids::hash(w.seed, &[a.service, "size"]) % 30_000) + number * 37,
    }
}

/// A metric definition as `additionalFields=metrics` lists it.
struct Metric {
    key: &'static str,
    name: &'static str,
    domain: &'static str,
    kind: &'static str,
    higher_is_better: bool,
    best: Option<&'static str>,
    worst: Option<&'static str>,
}

const fn metric(key: &'static str, name: &'static str, domain: &'static str, kind: &'static str) -> Metric {
    let percent = matches!(kind.as_bytes(), b"PERCENT");
    let rating = matches!(kind.as_bytes(), b"RATING");
    Metric {
        key,
        name,
        domain,
        kind,
        higher_is_better: false,
        best: if percent {
            Some("0.0")
        } else if rating {
            Some("1.0")
        } else {
            Some("0")
        },
        worst: if percent {
            Some("100.0")
        } else if rating {
            Some("5.0")
        } else {
            None
        },
    }
}

const METRICS: [Metric; 11] = [
    metric("bugs", "Bugs", "Reliability", "INT"),
    metric("vulnerabilities", "Vulnerabilities", "Security", "INT"),
    metric("security_hotspots", "Security Hotspots", "SecurityReview", "INT"),
    metric("code_smells", "Code Smells", "Maintainability", "INT"),
    Metric {
        higher_is_better: true,
        best: Some("100.0"),
        worst: Some("0.0"),
        ..metric("coverage", "Coverage", "Coverage", "PERCENT")
    },
    Metric {
        higher_is_better: true,
        best: Some("100.0"),
        worst: Some("0.0"),
        ..metric("new_coverage", "Coverage on New Code", "Coverage", "PERCENT")
    },
    metric(
        "duplicated_lines_density",
        "Duplicated Lines (%)",
        "Duplications",
        "PERCENT",
    ),
    metric(
        "new_duplicated_lines_density",
        "Duplicated Lines on New Code (%)",
        "Duplications",
        "PERCENT",
    ),
    metric(
        "new_reliability_rating",
        "Reliability Rating on New Code",
        "Reliability",
        "RATING",
    ),
    metric(
        "new_security_rating",
        "Security Rating on New Code",
        "Security",
        "RATING",
    ),
    Metric {
        best: None,
        ..metric("ncloc", "Lines of Code", "Size", "INT")
    },
];

fn metric_def(key: &str) -> Option<Value> {
    let d = METRICS.iter().find(|m| m.key == key)?;
    let mut m = Map::new();
    m.insert("key".into(), json!(d.key));
    m.insert("name".into(), json!(d.name));
    m.insert("description".into(), json!(d.name));
    m.insert("domain".into(), json!(d.domain));
    m.insert("type".into(), json!(d.kind));
    m.insert("higherValuesAreBetter".into(), json!(d.higher_is_better));
    m.insert("qualitative".into(), json!(d.key != "ncloc"));
    m.insert("hidden".into(), json!(false));
    if d.kind == "PERCENT" {
        m.insert("decimalScale".into(), json!(1));
    }
    if let Some(b) = d.best {
        m.insert("bestValue".into(), json!(b));
    }
    if let Some(wv) = d.worst {
        m.insert("worstValue".into(), json!(wv));
    }
    Some(Value::Object(m))
}

/// The value of a metric as Sonar writes it (always a string).
fn value(m: &Measures, key: &str) -> Option<String> {
    Some(match key {
        "bugs" => m.bugs.to_string(),
        "vulnerabilities" => m.vulnerabilities.to_string(),
        "security_hotspots" => m.security_hotspots.to_string(),
        "code_smells" => m.code_smells.to_string(),
        "coverage" => format!("{:.1}", m.coverage),
        "new_coverage" => format!("{:.1}", m.new_coverage),
        "duplicated_lines_density" => format!("{:.1}", m.duplicated),
        "new_duplicated_lines_density" => format!("{:.1}", m.new_duplicated),
        "new_reliability_rating" => format!("{}.0", m.new_reliability_rating),
        "new_security_rating" => format!("{}.0", m.new_security_rating),
        "ncloc" => m.ncloc.to_string(),
        _ => return None,
    })
}

fn is_best(key: &str, v: &str) -> bool {
    METRICS
        .iter()
        .find(|m| m.key == key)
        .and_then(|m| m.best)
        .is_some_and(|best| v.parse::<f64>().ok() == best.parse::<f64>().ok())
}

/// The new-code period of an analysis: since the previous version.
fn period(list: &[Analysis], i: usize, legacy: bool) -> Value {
    let (date, parameter) = match i.checked_sub(1).and_then(|j| list.get(j)) {
        Some(prev) => (prev.at, Some(prev.build.ctx.version.clone())),
        None => (list[i].at, None),
    };
    let mut p = Map::new();
    if legacy {
        p.insert("index".into(), json!(1));
        p.insert("mode".into(), json!("previous_version"));
    } else {
        p.insert("mode".into(), json!("PREVIOUS_VERSION"));
    }
    p.insert("date".into(), json!(dates::sonar(date)));
    if let Some(v) = parameter {
        p.insert("parameter".into(), json!(v));
    }
    Value::Object(p)
}

/// Answers a request below `/sonar`.
pub(crate) fn handle(shared: &Shared, req: &ApiReq) -> Reply {
    let opts = &shared.opts;
    let path = req.path.trim_end_matches('/');
    if req.method != hyper::Method::GET && req.method != hyper::Method::HEAD {
        return errors(StatusCode::METHOD_NOT_ALLOWED, "HTTP method not allowed");
    }
    match path {
        "/api/system/status" => {
            let w = lock(&shared.world);
            return if req.user.is_some() {
                ok(&json!({
                    "id": format!("147B411E-{}", sonar_id(w.seed, &["server"])),
                    "version": version(opts),
                    "status": "UP",
                }))
            } else {
                ok(&json!({"status": "UP"}))
            };
        }
        "/api/authentication/validate" => return ok(&json!({"valid": req.user.is_some()})),
        "/api/server/version" => {
            return Reply::new(StatusCode::OK)
                .header(hyper::header::CONTENT_TYPE, "text/plain")
                .body(version(opts));
        }
        _ => {}
    }
    if req.user.is_none() {
        return errors(StatusCode::UNAUTHORIZED, "Authentication is required");
    }
    let w = lock(&shared.world);
    match path {
        "/api/qualitygates/project_status" => project_status(&w, opts, req),
        "/api/measures/component" => component(&w, opts, req),
        "/api/measures/search_history" => search_history(&w, req),
        "/api/project_analyses/search" => project_analyses(&w, req),
        "/api/ce/task" => ce_task(&w, req),
        _ => errors(StatusCode::NOT_FOUND, &format!("Unknown url : {}", req.full_path)),
    }
}

/// The service and analysis list a `component`/`projectKey` + `branch`/`pullRequest` names.
fn select<'a>(w: &'a World, req: &ApiReq, key: &str) -> Result<(&'static str, Vec<Analysis<'a>>), Reply> {
    let Some(service) = service_of_key(key) else {
        return Err(errors(StatusCode::NOT_FOUND, &format!("Project '{key}' not found")));
    };
    let target = match (req.param("branch").filter(|b| !b.is_empty()), req.param("pullRequest")) {
        (Some(b), _) if b != MAIN_BRANCH => {
            return Err(errors(
                StatusCode::NOT_FOUND,
                &format!("Component '{key}' on branch '{b}' not found"),
            ));
        }
        (_, Some(pr)) if !pr.is_empty() => match pr.parse::<u64>() {
            Ok(n) if n == forge::JENKINS_PR && service == "checkout-web" => Target::PullRequest(n),
            _ => {
                return Err(errors(
                    StatusCode::NOT_FOUND,
                    &format!("Component '{key}' of pull request '{pr}' not found"),
                ));
            }
        },
        _ => Target::Main,
    };
    Ok((service, analyses(w, service, target)))
}

fn conditions(m: &Measures, legacy: bool) -> (bool, Vec<Value>) {
    let rows = [
        (
            "new_coverage",
            "LT",
            "80",
            m.new_coverage < 80.0,
            format!("{:.1}", m.new_coverage),
        ),
        (
            "new_duplicated_lines_density",
            "GT",
            "3",
            m.new_duplicated > 3.0,
            format!("{:.1}", m.new_duplicated),
        ),
        (
            "new_reliability_rating",
            "GT",
            "1",
            m.new_reliability_rating > 1,
            m.new_reliability_rating.to_string(),
        ),
        (
            "new_security_rating",
            "GT",
            "1",
            m.new_security_rating > 1,
            m.new_security_rating.to_string(),
        ),
    ];
    let failed = rows.iter().any(|r| r.3);
    let list = rows
        .iter()
        .map(|(metric, op, threshold, bad, actual)| {
            let mut c = json!({
                "status": if *bad { "ERROR" } else { "OK" },
                "metricKey": metric,
                "comparator": op,
                "errorThreshold": threshold,
                "actualValue": actual,
            });
            if legacy {
                c["periodIndex"] = json!(1);
            }
            c
        })
        .collect();
    (failed, list)
}

fn project_status(w: &World, opts: &SimOptions, req: &ApiReq) -> Reply {
    let legacy = opts.sonar_legacy_periods;
    let (list, index) = if let Some(id) = req.param("analysisId").filter(|a| !a.is_empty()) {
        let found = SERVICES.iter().find_map(|s| {
            let mut targets = vec![Target::Main];
            if s.name == "checkout-web" {
                targets.push(Target::PullRequest(forge::JENKINS_PR));
            }
            targets.into_iter().find_map(|t| {
                let l = analyses(w, s.name, t);
                let i = l.iter().position(|a| a.key == id)?;
                Some((l, i))
            })
        });
        match found {
            Some(x) => x,
            None => return errors(StatusCode::NOT_FOUND, &format!("Analysis with id '{id}' is not found")),
        }
    } else if let Some(key) = req.param("projectKey").filter(|k| !k.is_empty()) {
        match select(w, req, key) {
            Ok((_, l)) => {
                let n = l.len();
                (l, n.wrapping_sub(1))
            }
            Err(r) => return r,
        }
    } else if req.param("projectId").is_some() {
        return errors(StatusCode::NOT_FOUND, "Project with id not found (use projectKey)");
    } else {
        return errors(
            StatusCode::BAD_REQUEST,
            "Either 'analysisId', 'projectId' or 'projectKey' must be provided",
        );
    };
    let Some(a) = list.get(index) else {
        return ok(&json!({"projectStatus": {"status": "NONE", "conditions": [], "ignoredConditions": false}}));
    };
    let m = measures(w, a);
    let (failed, conds) = conditions(&m, legacy);
    debug_assert_eq!(failed, a.gate_error);
    let mut ps = json!({
        "status": if failed { "ERROR" } else { "OK" },
        "conditions": conds,
        "ignoredConditions": false,
    });
    if legacy {
        ps["periods"] = json!([period(&list, index, true)]);
    } else {
        ps["caycStatus"] = json!("compliant");
        ps["period"] = period(&list, index, false);
    }
    ok(&json!({"projectStatus": ps}))
}

fn split_keys(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn unknown_metrics(keys: &[String]) -> Option<Reply> {
    let unknown: Vec<&str> = keys
        .iter()
        .filter(|k| !METRICS.iter().any(|m| m.key == k.as_str()))
        .map(String::as_str)
        .collect();
    (!unknown.is_empty()).then(|| {
        errors(
            StatusCode::NOT_FOUND,
            &format!("The following metric keys are not found: {}", unknown.join(", ")),
        )
    })
}

fn component(w: &World, opts: &SimOptions, req: &ApiReq) -> Reply {
    let legacy = opts.sonar_legacy_periods;
    let Some(key) = req.param("component").filter(|k| !k.is_empty()) else {
        return errors(StatusCode::BAD_REQUEST, "The 'component' parameter is missing");
    };
    let Some(raw) = req.param("metricKeys").filter(|k| !k.is_empty()) else {
        return errors(StatusCode::BAD_REQUEST, "The 'metricKeys' parameter is missing");
    };
    let mut keys = split_keys(raw);
    if let Some(r) = unknown_metrics(&keys) {
        return r;
    }
    keys.sort();
    keys.dedup();
    let (service, list) = match select(w, req, key) {
        Ok(x) => x,
        Err(_) if service_of_key(key).is_none() => {
            return errors(StatusCode::NOT_FOUND, &format!("Component key '{key}' not found"));
        }
        Err(r) => return r,
    };
    let extra = split_keys(req.param("additionalFields").unwrap_or(""));
    let latest = list.len().checked_sub(1);
    let m = latest.map(|i| measures(w, &list[i]));
    let mut out = Vec::new();
    if let Some(m) = &m {
        for k in &keys {
            let Some(v) = value(m, k) else { continue };
            let best = is_best(k, &v);
            let mut e = Map::new();
            e.insert("metric".into(), json!(k));
            if k.starts_with("new_") {
                if legacy {
                    e.insert("periods".into(), json!([{"index": 1, "value": v, "bestValue": best}]));
                } else {
                    e.insert("period".into(), json!({"value": v, "bestValue": best}));
                }
            } else {
                e.insert("value".into(), json!(v));
                if METRICS.iter().any(|x| x.key == k && x.best.is_some()) {
                    e.insert("bestValue".into(), json!(best));
                }
            }
            out.push(Value::Object(e));
        }
    }
    let mut comp = json!({
        "key": key,
        "name": service,
        "description": SERVICES.iter().find(|s| s.name == service).map_or("", |s| s.description),
        "qualifier": "TRK",
        "measures": out,
    });
    if let Some(pr) = req.param("pullRequest").filter(|p| !p.is_empty()) {
        comp["pullRequest"] = json!(pr);
    } else if let Some(b) = req.param("branch").filter(|b| !b.is_empty()) {
        comp["branch"] = json!(b);
    }
    let mut body = json!({"component": comp});
    if extra.iter().any(|f| f == "metrics") {
        let defs: Vec<Value> = keys.iter().filter_map(|k| metric_def(k)).collect();
        body["metrics"] = Value::Array(defs);
    }
    if let Some(i) = latest {
        if legacy && extra.iter().any(|f| f == "periods" || f == "period") {
            body["periods"] = json!([period(&list, i, true)]);
        } else if !legacy && extra.iter().any(|f| f == "period") {
            body["period"] = period(&list, i, false);
        }
    }
    ok(&body)
}

fn paging(req: &ApiReq, default: usize, max: usize) -> Result<(usize, usize), Reply> {
    let ps = api::number(req.param("ps"), default, max).map_err(|e| errors(StatusCode::BAD_REQUEST, &e))?;
    let p = api::number(req.param("p"), 1, usize::MAX).map_err(|e| errors(StatusCode::BAD_REQUEST, &e))?;
    Ok((ps.max(1), p.max(1)))
}

fn time_filter(req: &ApiReq) -> (Option<Ms>, Option<Ms>) {
    let parse = |s: &str| {
        chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
            .map(|t| t.timestamp_millis())
            .ok()
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc().timestamp_millis())
            })
    };
    (
        req.param("from").and_then(parse),
        req.param("to")
            .and_then(|s| parse(s).map(|t| if s.len() == 10 { t + super::story::DAY - 1 } else { t })),
    )
}

fn search_history(w: &World, req: &ApiReq) -> Reply {
    let Some(key) = req.param("component").filter(|k| !k.is_empty()) else {
        return errors(StatusCode::BAD_REQUEST, "The 'component' parameter is missing");
    };
    let Some(raw) = req.param("metrics").filter(|k| !k.is_empty()) else {
        return errors(StatusCode::BAD_REQUEST, "The 'metrics' parameter is missing");
    };
    let keys = split_keys(raw);
    if let Some(r) = unknown_metrics(&keys) {
        return r;
    }
    let (ps, p) = match paging(req, 100, 1000) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (_, list) = match select(w, req, key) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (from, to) = time_filter(req);
    let kept: Vec<&Analysis> = list
        .iter()
        .filter(|a| from.is_none_or(|f| a.at >= f) && to.is_none_or(|t| a.at <= t))
        .collect();
    let total = kept.len();
    let page: Vec<(&Analysis, Measures)> = kept
        .into_iter()
        .skip((p - 1) * ps)
        .take(ps)
        .map(|a| (a, measures(w, a)))
        .collect();
    let series: Vec<Value> = keys
        .iter()
        .map(|k| {
            let history: Vec<Value> = page
                .iter()
                .map(|(a, m)| match value(m, k) {
                    Some(v) => json!({"date": dates::sonar(a.at), "value": v}),
                    None => json!({"date": dates::sonar(a.at)}),
                })
                .collect();
            json!({"metric": k, "history": history})
        })
        .collect();
    ok(&json!({"paging": {"pageIndex": p, "pageSize": ps, "total": total}, "measures": series}))
}

fn project_analyses(w: &World, req: &ApiReq) -> Reply {
    let Some(key) = req.param("project").filter(|k| !k.is_empty()) else {
        return errors(StatusCode::BAD_REQUEST, "The 'project' parameter is missing");
    };
    let (ps, p) = match paging(req, 100, 500) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (_, list) = match select(w, req, key) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let category = req.param("category").filter(|c| !c.is_empty());
    let (from, to) = time_filter(req);
    let mut all: Vec<Value> = Vec::new();
    let mut previous_error: Option<bool> = None;
    for a in &list {
        let mut events = vec![json!({
            "key": sonar_id(w.seed, &[&a.key, "version"]),
            "category": "VERSION",
            "name": a.build.ctx.version,
        })];
        // Sonar records a gate event when the status changes.
        if previous_error != Some(a.gate_error) && (previous_error.is_some() || a.gate_error) {
            events.push(json!({
                "key": sonar_id(w.seed, &[&a.key, "gate"]),
                "category": "QUALITY_GATE",
                "name": if a.gate_error { "Failed" } else { "Passed" },
                "description": if a.gate_error { "Coverage on New Code < 80" } else { "" },
            }));
        }
        previous_error = Some(a.gate_error);
        if category.is_some_and(|c| !events.iter().any(|e| e["category"] == c)) {
            continue;
        }
        if from.is_some_and(|f| a.at < f) || to.is_some_and(|t| a.at > t) {
            continue;
        }
        all.push(json!({
            "key": a.key,
            "date": dates::sonar(a.at),
            "projectVersion": a.build.ctx.version,
            "buildString": format!("{}", a.build.number),
            "revision": a.build.ctx.sha,
            "manualNewCodePeriodBaseline": false,
            "detectedCI": "Jenkins",
            "events": events,
        }));
    }
    all.reverse();
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip((p - 1) * ps).take(ps).collect();
    ok(&json!({"paging": {"pageIndex": p, "pageSize": ps, "total": total}, "analyses": page}))
}

/// `api/ce/task?id=` for the task id the Jenkins console prints.
fn ce_task(w: &World, req: &ApiReq) -> Reply {
    let Some(id) = req.param("id").filter(|i| !i.is_empty()) else {
        return errors(StatusCode::BAD_REQUEST, "The 'id' parameter is missing");
    };
    for s in &SERVICES {
        let mut targets = vec![Target::Main];
        if s.name == "checkout-web" {
            targets.push(Target::PullRequest(forge::JENKINS_PR));
        }
        for t in targets {
            for a in analyses(w, s.name, t) {
                if console::task_id(&a.build.ctx) != id {
                    continue;
                }
                let submitted = a.at - 2_000;
                return ok(&json!({"task": {
                    "id": id,
                    "type": "REPORT",
                    "componentId": sonar_id(w.seed, &[s.name, "component"]),
                    "componentKey": format!("{KEY_PREFIX}{}", s.name),
                    "componentName": s.name,
                    "componentQualifier": "TRK",
                    "analysisId": a.key,
                    "status": "SUCCESS",
                    "submittedAt": dates::sonar(submitted),
                    "submitterLogin": "jenkins",
                    "startedAt": dates::sonar(submitted + 300),
                    "executedAt": dates::sonar(a.at),
                    "executionTimeMs": 1_700,
                    "hasScannerContext": true,
                    "warningCount": 0,
                    "warnings": [],
                }}));
            }
        }
    }
    errors(StatusCode::NOT_FOUND, &format!("No activity found for task '{id}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_token_login_and_bearer() {
        let mut o = SimOptions::default();
        let basic = |s: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s));
        assert!(authenticate(&o, Some("Bearer demo-token")).is_some());
        assert!(authenticate(&o, Some(&basic("demo-token:"))).is_some());
        assert!(authenticate(&o, Some(&basic("demo-token"))).is_some());
        assert!(authenticate(&o, Some(&basic("demo:demo-token"))).is_none());
        o.sonar_basic_only = true;
        assert!(authenticate(&o, Some("Bearer demo-token")).is_none());
        assert!(authenticate(&o, Some(&basic("demo-token:"))).is_some());
    }

    #[test]
    fn ids_look_like_sonar_ids() {
        let id = sonar_id(7, &["x"]);
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AZ"));
        assert_eq!(id, sonar_id(7, &["x"]));
    }
}
