//! The API paths a simulated cluster answers: discovery, namespaced lists,
//! watches, GETs and Deployment PATCHes. Cluster-wide lists and watches
//! (`/apis/apps/v1/deployments`, `/api/v1/pods`, …) are refused with 403:
//! Flightdeck must only ever use namespaced requests.

use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::super::Shared;
use super::super::faults::lock;
use super::ClusterHandle;
use super::objects::{Kind, ts};
use super::patch::{self, PatchError, PatchKind};
use super::select::{FieldSelector, LabelSelector};
use super::store::{Filter, ListError, TooOld, WatchStart};

/// The verbs the counters tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    List,
    Watch,
    Get,
    Patch,
    Other,
}

/// What to send back: a whole body, or a watch stream.
pub(crate) enum Reply {
    Body {
        status: StatusCode,
        content_type: &'static str,
        body: Bytes,
    },
    Watch(Box<WatchPlan>),
}

pub(crate) struct WatchPlan {
    pub filter: Filter,
    pub start: Result<WatchStart, TooOld>,
    pub bookmarks: bool,
    /// A streaming list: end the initial events with the marker bookmark.
    pub initial_events_end: bool,
    pub timeout: Duration,
}

/// A request as the routes need it.
pub(crate) struct KubeReq<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub content_type: &'a str,
    pub body: &'a [u8],
    /// The authenticated user (for messages).
    pub user: &'a str,
}

impl KubeReq<'_> {
    fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A `Status` object, as every API error is.
pub(crate) fn status_json(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

pub(crate) fn json_reply(status: StatusCode, v: &Value) -> Reply {
    Reply::Body {
        status,
        content_type: "application/json",
        body: Bytes::from(v.to_string()),
    }
}

pub(crate) fn error(code: u16, reason: &str, message: &str, details: Option<Value>) -> Reply {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_reply(status, &status_json(code, reason, message, details))
}

fn not_found_path() -> Reply {
    error(
        404,
        "NotFound",
        "the server could not find the requested resource",
        None,
    )
}

fn method_not_allowed(method: &Method) -> Reply {
    error(
        405,
        "MethodNotAllowed",
        &format!("the server does not allow this method on the requested resource ({method})"),
        None,
    )
}

pub(crate) fn route(shared: &Shared, cluster: &ClusterHandle, req: &KubeReq<'_>) -> (Verb, Reply) {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let get = *req.method == Method::GET;
    match segments.as_slice() {
        ["version"] if get => (Verb::Get, json_reply(StatusCode::OK, &version(cluster))),
        ["healthz" | "livez" | "readyz"] if get => (
            Verb::Get,
            Reply::Body {
                status: StatusCode::OK,
                content_type: "text/plain; charset=utf-8",
                body: Bytes::from_static(b"ok"),
            },
        ),
        ["api"] if get => (Verb::Get, json_reply(StatusCode::OK, &api_versions())),
        ["apis"] if get => (Verb::Get, json_reply(StatusCode::OK, &api_groups())),
        ["apis", "apps"] if get => (Verb::Get, json_reply(StatusCode::OK, &apps_group())),
        ["api", "v1"] if get => (Verb::Get, json_reply(StatusCode::OK, &core_resources())),
        ["apis", "apps", "v1"] if get => (Verb::Get, json_reply(StatusCode::OK, &apps_resources())),
        ["api", "v1", rest @ ..] => resource(shared, cluster, req, "", rest),
        ["apis", "apps", "v1", rest @ ..] => resource(shared, cluster, req, "apps", rest),
        _ => (Verb::Other, not_found_path()),
    }
}

fn resource(shared: &Shared, cluster: &ClusterHandle, req: &KubeReq<'_>, group: &str, rest: &[&str]) -> (Verb, Reply) {
    let (watch_path, rest) = match rest {
        ["watch", more @ ..] => (true, more),
        other => (false, other),
    };
    match rest {
        ["namespaces"] | [_] => {
            let plural = rest[0];
            let known = plural == "namespaces" && group.is_empty() || Kind::of(group, plural).is_some();
            if !known {
                return (Verb::Other, not_found_path());
            }
            cluster.counters.add_refused();
            let watching = watch_path || matches!(req.q("watch"), Some("true" | "1"));
            let verb = if watching { "watch" } else { "list" };
            let qualified = Kind::of(group, plural).map_or_else(|| plural.to_string(), |k| k.qualified());
            let message = format!(
                "{qualified} is forbidden: User \"{}\" cannot {verb} resource \"{plural}\" in API group \"{group}\" at the cluster scope",
                req.user
            );
            let details = json!({"group": group, "kind": plural});
            (
                if watching { Verb::Watch } else { Verb::List },
                error(403, "Forbidden", &message, Some(details)),
            )
        }
        ["namespaces", ns] if group.is_empty() && !watch_path => {
            if *req.method != Method::GET {
                return (Verb::Other, method_not_allowed(req.method));
            }
            (Verb::Get, namespace(cluster, ns))
        }
        ["namespaces", ns, plural] => match Kind::of(group, plural) {
            Some(kind) => collection(cluster, req, kind, ns, watch_path),
            None => (Verb::Other, not_found_path()),
        },
        ["namespaces", ns, plural, name] if !watch_path => match Kind::of(group, plural) {
            Some(kind) => object(shared, cluster, req, kind, ns, name),
            None => (Verb::Other, not_found_path()),
        },
        _ => (Verb::Other, not_found_path()),
    }
}

fn bad_request(message: &str) -> Reply {
    error(400, "BadRequest", message, None)
}

fn collection(cluster: &ClusterHandle, req: &KubeReq<'_>, kind: Kind, ns: &str, watch_path: bool) -> (Verb, Reply) {
    let watching = watch_path || matches!(req.q("watch"), Some("true" | "1"));
    let verb = if watching { Verb::Watch } else { Verb::List };
    if *req.method != Method::GET {
        return (Verb::Other, method_not_allowed(req.method));
    }
    let labels = match LabelSelector::parse(req.q("labelSelector").unwrap_or("")) {
        Ok(l) => l,
        Err(e) => return (verb, bad_request(&e)),
    };
    let fields = match FieldSelector::parse(req.q("fieldSelector").unwrap_or(""), kind.selectable_fields()) {
        Ok(f) => f,
        Err(e) => return (verb, bad_request(&e)),
    };
    let filter = Filter {
        kind,
        namespace: ns.to_string(),
        labels,
        fields,
    };
    let rv = match req.q("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return (verb, bad_request(&format!("invalid resource version: {v}"))),
        },
    };
    if watching {
        let send_initial = req.q("sendInitialEvents") == Some("true");
        let bookmarks = req.q("allowWatchBookmarks") == Some("true");
        let timeout = req
            .q("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t > 0)
            .unwrap_or(1800);
        let from = if send_initial { None } else { rv };
        let start = lock(&cluster.state).store.watch_from(&filter, from);
        return (
            verb,
            Reply::Watch(Box::new(WatchPlan {
                filter,
                start,
                bookmarks,
                initial_events_end: send_initial && bookmarks,
                timeout: Duration::from_secs(timeout),
            })),
        );
    }
    let limit = match req.q("limit").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return (verb, bad_request("limit must be a non-negative integer")),
    };
    let page = lock(&cluster.state).store.list(&filter, limit, req.q("continue"));
    match page {
        Ok(p) => {
            cluster.counters.add_bytes(p.body.len() as u64);
            let _ = p.items;
            (
                verb,
                Reply::Body {
                    status: StatusCode::OK,
                    content_type: "application/json",
                    body: p.body,
                },
            )
        }
        Err(ListError::BadContinue) => (verb, bad_request("continue key is not valid: illegal base64 data")),
        Err(ListError::Expired) => (
            verb,
            error(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                None,
            ),
        ),
    }
}

fn not_found(kind: Kind, name: &str) -> Reply {
    error(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", kind.qualified()),
        Some(json!({"name": name, "group": kind.group(), "kind": kind.plural()})),
    )
}

fn object(
    shared: &Shared,
    cluster: &ClusterHandle,
    req: &KubeReq<'_>,
    kind: Kind,
    ns: &str,
    name: &str,
) -> (Verb, Reply) {
    if *req.method == Method::GET {
        let body = lock(&cluster.state).store.get(kind, ns, name);
        return match body {
            Some(b) => {
                cluster.counters.add_bytes(b.len() as u64);
                (
                    Verb::Get,
                    Reply::Body {
                        status: StatusCode::OK,
                        content_type: "application/json",
                        body: b,
                    },
                )
            }
            None => (Verb::Get, not_found(kind, name)),
        };
    }
    if *req.method != Method::PATCH {
        return (Verb::Other, method_not_allowed(req.method));
    }
    if kind != Kind::Deployment {
        return (
            Verb::Patch,
            error(
                405,
                "MethodNotAllowed",
                &format!("the simulated cluster only patches Deployments, not {}", kind.plural()),
                None,
            ),
        );
    }
    let Some(pk) = PatchKind::of(req.content_type) else {
        return (
            Verb::Patch,
            error(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {:?})",
                    req.content_type
                ),
                None,
            ),
        );
    };
    let dry_run = req.q("dryRun") == Some("All");
    (
        Verb::Patch,
        patch_deployment(shared, cluster, pk, ns, name, req.body, dry_run),
    )
}

fn patch_deployment(
    shared: &Shared,
    cluster: &ClusterHandle,
    pk: PatchKind,
    ns: &str,
    name: &str,
    body: &[u8],
    dry_run: bool,
) -> Reply {
    // Lock order: world, images, cluster (the ticker's order).
    let world = lock(&shared.world);
    let now = world.now;
    let mut images = lock(&shared.images);
    images.sync(&world);
    drop(world);
    let mut state = lock(&cluster.state);
    let mut resolve = |r: &str| super::resolve(&images, r);
    state.advance_to(now, &mut resolve);
    let Some(mut current) = state.store.value(Kind::Deployment, ns, name) else {
        return not_found(Kind::Deployment, name);
    };
    current["kind"] = json!("Deployment");
    current["apiVersion"] = json!("apps/v1");
    let patched = match patch::apply(pk, &current, body) {
        Ok(p) => p,
        Err(PatchError::Malformed(m)) => return bad_request(&m),
        Err(PatchError::Unprocessable(m)) => return error(422, "Invalid", &m, None),
    };
    if let Err(reply) = validate(&current, &patched, name) {
        return reply;
    }
    let key = (ns.to_string(), name.to_string());
    if dry_run {
        return match state.preview_deployment(&key, &patched) {
            Some(v) => json_reply(StatusCode::OK, &v),
            None => not_found(Kind::Deployment, name),
        };
    }
    state.replace_deployment(&key, &patched);
    let out = state.store.get(Kind::Deployment, ns, name).unwrap_or_default();
    // The controller notices at once, as the real one does through its watch.
    state.advance_to(now, &mut resolve);
    cluster.counters.add_bytes(out.len() as u64);
    Reply::Body {
        status: StatusCode::OK,
        content_type: "application/json",
        body: out,
    }
}

fn invalid(name: &str, field: &str, reason: &str, message: &str) -> Reply {
    error(
        422,
        "Invalid",
        &format!("Deployment.apps \"{name}\" is invalid: {field}: {message}"),
        Some(json!({
            "name": name,
            "group": "apps",
            "kind": "Deployment",
            "causes": [{"reason": reason, "message": message, "field": field}],
        })),
    )
}

/// What the API server would refuse in a patched Deployment.
fn validate(current: &Value, patched: &Value, name: &str) -> Result<(), Reply> {
    if let Err(e) = serde_json::from_value::<k8s_openapi::api::apps::v1::Deployment>(patched.clone()) {
        return Err(bad_request(&format!(
            "Deployment in version \"v1\" cannot be handled as a Deployment: {e}"
        )));
    }
    let patched_name = patched.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    if patched_name != name {
        return Err(bad_request(&format!(
            "the name of the object ({patched_name}) does not match the name on the URL ({name})"
        )));
    }
    let rv = |v: &Value| {
        v.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let Some(sent) = rv(patched)
        && Some(&sent) != rv(current).as_ref()
    {
        return Err(error(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on deployments.apps \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            Some(json!({"name": name, "group": "apps", "kind": "deployments"})),
        ));
    }
    if patched.pointer("/spec/selector") != current.pointer("/spec/selector") {
        return Err(invalid(
            name,
            "spec.selector",
            "FieldValueInvalid",
            "field is immutable",
        ));
    }
    if patched
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .is_some_and(|r| r < 0)
    {
        return Err(invalid(
            name,
            "spec.replicas",
            "FieldValueInvalid",
            "must be greater than or equal to 0",
        ));
    }
    let containers = patched
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if containers.is_empty() {
        return Err(invalid(
            name,
            "spec.template.spec.containers",
            "FieldValueRequired",
            "Required value",
        ));
    }
    for (i, c) in containers.iter().enumerate() {
        for field in ["name", "image"] {
            if c.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(invalid(
                    name,
                    &format!("spec.template.spec.containers[{i}].{field}"),
                    "FieldValueRequired",
                    "Required value",
                ));
            }
        }
    }
    if let Some(Value::Object(want)) = patched.pointer("/spec/selector/matchLabels") {
        let labels = patched.pointer("/spec/template/metadata/labels");
        let ok = want.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !ok {
            return Err(invalid(
                name,
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                "`selector` does not match template `labels`",
            ));
        }
    }
    Ok(())
}

// ---- namespaces and discovery ---------------------------------------------------

const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

fn namespace(cluster: &ClusterHandle, ns: &str) -> Reply {
    if ns != cluster.spec.namespace && !SYSTEM_NAMESPACES.contains(&ns) {
        return error(
            404,
            "NotFound",
            &format!("namespaces \"{ns}\" not found"),
            Some(json!({"name": ns, "kind": "namespaces"})),
        );
    }
    let created = cluster.created;
    json_reply(
        StatusCode::OK,
        &json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": ns,
                "uid": super::super::ids::hex(0, &[&cluster.spec.name, ns], 32),
                "resourceVersion": "42",
                "creationTimestamp": ts(created),
                "labels": {"kubernetes.io/metadata.name": ns},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }),
    )
}

fn version(cluster: &ClusterHandle) -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": cluster.spec.version,
        "gitCommit": "aaa9bd2a4a2a4e4b8b1cdf2a4fd2c3e9a1e3a5f1",
        "gitTreeState": "clean",
        "buildDate": "2025-09-09T19:43:57Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}],
    })
}

fn apps_group() -> Value {
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    })
}

fn api_groups() -> Value {
    let mut g = apps_group();
    if let Value::Object(m) = &mut g {
        m.remove("kind");
        m.remove("apiVersion");
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [g]})
}

fn resource_entry(kind: Kind, singular: &str, short: &str, patchable: bool) -> Value {
    let mut verbs = vec!["get", "list", "watch"];
    if patchable {
        verbs.push("patch");
    }
    json!({
        "name": kind.plural(),
        "singularName": singular,
        "namespaced": true,
        "kind": kind.name(),
        "verbs": verbs,
        "shortNames": [short],
    })
}

fn core_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
             "verbs": ["get"], "shortNames": ["ns"]},
            resource_entry(Kind::Pod, "pod", "po", false),
            resource_entry(Kind::Event, "event", "ev", false),
        ],
    })
}

fn apps_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "apps/v1",
        "resources": [
            resource_entry(Kind::Deployment, "deployment", "deploy", true),
            resource_entry(Kind::ReplicaSet, "replicaset", "rs", false),
        ],
    })
}
