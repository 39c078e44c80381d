//! The build host's Docker Engine API, the image subset bollard uses:
//! `GET|HEAD /_ping`, `GET /version`, `GET /images/json` (`all`,
//! `filters` with `reference`, `label`, `dangling`) and `GET
//! /images/{name}/json`, each also under a `/v1.NN` prefix.
//!
//! The host holds the images of each service's three newest builds that got
//! through "Docker build" (RepoDigests once "Push image" ended), the base
//! images — `library/tomcat:9.0-jdk17` as the registry serves it now, and
//! `jboss/wildfly:26.1.3.Final` as pulled months ago (stale: the registry's
//! tag was re-pushed since) — the Maven builder image and one dangling layer.

use std::collections::BTreeMap;

use hyper::header;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::api::hname;
use super::images::{
    self, Built, Hosting, IMAGE_SERVICES, ImageState, ImgReq, TOMCAT_REPO, TOMCAT_TAG, WILDFLY_REPO, WILDFLY_TAG,
};
use super::jenkins::Ms;
use super::routes::Reply;
use super::story::{DAY, World};

const ENGINE_VERSION: &str = "28.5.2";
const API_VERSION: &str = "1.51";
const MIN_API_VERSION: &str = "1.24";
const JSON: &str = "application/json";

/// The path below an optional `/v1.NN` prefix, if it is one of the engine's.
pub(crate) fn engine_path(path: &str) -> Option<&str> {
    let below = match path.strip_prefix("/v1.") {
        Some(rest) => {
            let (minor, _) = rest.split_once('/')?;
            if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            &rest[minor.len()..]
        }
        None => path,
    };
    let ok = below == "/_ping"
        || below == "/version"
        || below == "/images/json"
        || (below.starts_with("/images/") && below.ends_with("/json") && below.len() > "/images//json".len());
    ok.then_some(below)
}

/// One image on the build host.
struct LocalImage {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    created: Ms,
    size: u64,
    labels: BTreeMap<String, String>,
    architecture: &'static str,
    layers: Vec<String>,
    env: Vec<String>,
    cmd: Vec<String>,
    parent: String,
}

fn local(img: &Built, tags: Vec<String>, digests: Vec<String>) -> LocalImage {
    LocalImage {
        id: img.config_digest.clone(),
        repo_tags: tags,
        repo_digests: digests,
        created: img.created,
        size: img.layer_bytes,
        labels: img.labels.clone(),
        architecture: img.architecture,
        layers: img.diff_ids.clone(),
        env: Vec::new(),
        cmd: Vec::new(),
        parent: String::new(),
    }
}

/// Everything the build host holds at the story clock, newest first.
fn inventory(state: &mut ImageState, w: &World) -> Vec<LocalImage> {
    let host = state.host.clone();
    let mut out = Vec::new();
    for spec in &IMAGE_SERVICES {
        let repo_host = match spec.hosting {
            Hosting::Oci => host.clone(),
            Hosting::Ecr => images::ecr_host(),
        };
        let name = format!("{repo_host}/{}", images::repository(spec.service));
        let built: Vec<_> = images::service_builds(w, spec.service)
            .iter()
            .filter(|b| images::docker_built_at(b, w.now).is_some())
            .collect();
        for b in built.iter().rev().take(3) {
            let Some(img) = state.built(w.seed, b) else { continue };
            let digests = if images::pushed_at(b, w.now).is_some() {
                vec![format!("{name}@{}", img.digest)]
            } else {
                Vec::new()
            };
            out.push(local(&img, vec![format!("{name}:{}", b.ctx.version)], digests));
        }
    }
    let tomcat = images::tomcat();
    out.push(local(
        tomcat,
        vec![format!("{host}/{TOMCAT_REPO}:{TOMCAT_TAG}")],
        vec![format!("{host}/{TOMCAT_REPO}@{}", tomcat.digest)],
    ));
    let wildfly = images::wildfly_old();
    out.push(local(
        wildfly,
        vec![format!("{host}/{WILDFLY_REPO}:{WILDFLY_TAG}")],
        vec![format!("{host}/{WILDFLY_REPO}@{}", wildfly.digest)],
    ));
    // The Maven image the pipelines build in, and a dangling leftover.
    let maven_id = images::sha256_digest(b"maven:3.9.11-eclipse-temurin-17 config");
    let mut maven_labels = BTreeMap::new();
    maven_labels.insert("org.opencontainers.image.version".to_string(), "3.9.11".to_string());
    out.push(LocalImage {
        id: maven_id,
        repo_tags: vec!["maven:3.9.11-eclipse-temurin-17".to_string()],
        repo_digests: vec![format!(
            "maven@{}",
            images::sha256_digest(b"maven:3.9.11-eclipse-temurin-17 index")
        )],
        created: chrono::DateTime::parse_from_rfc3339("2025-10-28T19:02:11Z").map_or(0, |t| t.timestamp_millis()),
        size: 523_187_204,
        labels: maven_labels,
        architecture: "amd64",
        layers: Vec::new(),
        env: Vec::new(),
        cmd: vec!["mvn".to_string()],
        parent: String::new(),
    });
    out.push(LocalImage {
        id: images::sha256_digest(format!("dangling {}", w.seed).as_bytes()),
        repo_tags: Vec::new(),
        repo_digests: Vec::new(),
        created: w.forge.start - 3 * DAY,
        size: 412_004_117,
        labels: BTreeMap::new(),
        architecture: "amd64",
        layers: Vec::new(),
        env: Vec::new(),
        cmd: Vec::new(),
        parent: String::new(),
    });
    out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    out
}

fn reply(status: StatusCode, v: &Value) -> Reply {
    Reply::new(status)
        .header(header::CONTENT_TYPE, JSON)
        .header(hname("api-version"), API_VERSION)
        .header(header::SERVER, format!("Docker/{ENGINE_VERSION} (linux)"))
        .header(hname("docker-experimental"), "false")
        .header(hname("ostype"), "linux")
        .body(format!("{v}\n"))
}

fn message(status: StatusCode, msg: &str) -> Reply {
    reply(status, &json!({"message": msg}))
}

pub(crate) fn handle(state: &mut ImageState, w: &World, req: &ImgReq) -> Reply {
    let Some(below) = engine_path(&req.path) else {
        return message(StatusCode::NOT_FOUND, "page not found");
    };
    let below = below.to_string();
    match below.as_str() {
        "/_ping" => match req.method {
            Method::GET | Method::HEAD => Reply::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header(hname("api-version"), API_VERSION)
                .header(hname("builder-version"), "2")
                .header(hname("docker-experimental"), "false")
                .header(hname("ostype"), "linux")
                .header(header::CACHE_CONTROL, "no-cache, no-store, must-revalidate")
                .header(header::PRAGMA, "no-cache")
                .header(header::SERVER, format!("Docker/{ENGINE_VERSION} (linux)"))
                .body(if req.method == Method::HEAD { "" } else { "OK" }),
            _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        },
        "/version" if req.method == Method::GET => reply(StatusCode::OK, &version()),
        "/images/json" if req.method == Method::GET => list(state, w, req),
        _ if req.method == Method::GET => {
            let name = below
                .strip_prefix("/images/")
                .and_then(|s| s.strip_suffix("/json"))
                .unwrap_or_default();
            let name = percent_encoding::percent_decode_str(name)
                .decode_utf8_lossy()
                .into_owned();
            inspect(state, w, &name)
        }
        _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn version() -> Value {
    json!({
        "Platform": {"Name": "Docker Engine - Community"},
        "Components": [
            {"Name": "Engine", "Version": ENGINE_VERSION, "Details": {
                "ApiVersion": API_VERSION, "Arch": "amd64", "BuildTime": "2025-10-08T12:17:35.000000000+00:00",
                "Experimental": "false", "GitCommit": "cd04830", "GoVersion": "go1.24.8",
                "KernelVersion": "6.8.0-85-generic", "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}},
            {"Name": "containerd", "Version": "1.7.28", "Details": {"GitCommit": "b98a3aace656320842a23f4a392a33f46af97866"}},
            {"Name": "runc", "Version": "1.3.0", "Details": {"GitCommit": "v1.3.0-0-g4ca628d1"}},
        ],
        "Version": ENGINE_VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "cd04830",
        "GoVersion": "go1.24.8",
        "Os": "linux",
        "Arch": "amd64",
        "KernelVersion": "6.8.0-85-generic",
        "BuildTime": "2025-10-08T12:17:35.000000000+00:00",
    })
}

fn summary(i: &LocalImage) -> Value {
    json!({
        "Id": i.id,
        "ParentId": i.parent,
        "RepoTags": i.repo_tags,
        "RepoDigests": i.repo_digests,
        "Created": i.created.div_euclid(1000),
        "Size": i.size,
        "SharedSize": -1,
        "Labels": i.labels,
        "Containers": -1,
    })
}

/// `*` matches any run of characters (Docker's reference filter is a glob).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob(tail, &rest[i..]))
        }
    }
}

fn reference_matches(pattern: &str, tag: &str) -> bool {
    if glob(pattern, tag) {
        return true;
    }
    // Without a tag, the pattern names a repository.
    let repo = tag
        .rsplit_once(':')
        .map_or(tag, |(r, t)| if t.contains('/') { tag } else { r });
    glob(pattern, repo)
}

fn list(state: &mut ImageState, w: &World, req: &ImgReq) -> Reply {
    let filters: BTreeMap<String, Value> = match req.query.iter().find(|(k, _)| k == "filters") {
        Some((_, raw)) if !raw.is_empty() => match serde_json::from_str::<BTreeMap<String, Value>>(raw) {
            Ok(f) => f,
            Err(e) => return message(StatusCode::BAD_REQUEST, &format!("invalid filter: {e}")),
        },
        _ => BTreeMap::new(),
    };
    // Filters arrive as {"k":["v"]} or the older {"k":{"v":true}}.
    let values = |k: &str| -> Vec<String> {
        match filters.get(k) {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(Value::Object(o)) => o.keys().cloned().collect(),
            _ => Vec::new(),
        }
    };
    let all = req.query.iter().any(|(k, v)| k == "all" && (v == "1" || v == "true"));
    let references = values("reference");
    let labels = values("label");
    let dangling = values("dangling");
    let out: Vec<Value> = inventory(state, w)
        .iter()
        .filter(|i| all || !i.repo_tags.is_empty() || !dangling.is_empty())
        .filter(|i| {
            references.is_empty()
                || references
                    .iter()
                    .any(|p| i.repo_tags.iter().any(|t| reference_matches(p, t)))
        })
        .filter(|i| {
            labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => i.labels.get(k).is_some_and(|x| x == v),
                None => i.labels.contains_key(l),
            })
        })
        .filter(|i| match dangling.first().map(String::as_str) {
            Some("true" | "1") => i.repo_tags.is_empty(),
            Some("false" | "0") => !i.repo_tags.is_empty(),
            _ => true,
        })
        .map(summary)
        .collect();
    reply(StatusCode::OK, &Value::Array(out))
}

fn find<'a>(images: &'a [LocalImage], name: &str) -> Option<&'a LocalImage> {
    let with_latest = |n: &str| {
        let last = n.rsplit('/').next().unwrap_or(n);
        if last.contains(':') {
            n.to_string()
        } else {
            format!("{n}:latest")
        }
    };
    images.iter().find(|i| {
        i.id == name
            || (name.len() >= 12
                && i.id
                    .trim_start_matches("sha256:")
                    .starts_with(name.trim_start_matches("sha256:")))
            || i.repo_digests.iter().any(|d| d == name)
            || i.repo_tags.iter().any(|t| *t == with_latest(name) || t == name)
    })
}

fn inspect(state: &mut ImageState, w: &World, name: &str) -> Reply {
    let images = inventory(state, w);
    let Some(i) = find(&images, name) else {
        return message(StatusCode::NOT_FOUND, &format!("No such image: {name}"));
    };
    let created = chrono::DateTime::from_timestamp_millis(i.created)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string();
    let v = json!({
        "Id": i.id,
        "RepoTags": i.repo_tags,
        "RepoDigests": i.repo_digests,
        "Parent": i.parent,
        "Comment": "buildkit.dockerfile.v0",
        "Created": created,
        "DockerVersion": "",
        "Author": "",
        "Config": {
            "Hostname": "",
            "Domainname": "",
            "User": "",
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": false,
            "OpenStdin": false,
            "StdinOnce": false,
            "Env": i.env,
            "Cmd": i.cmd,
            "Image": "",
            "Volumes": null,
            "WorkingDir": "",
            "Entrypoint": null,
            "OnBuild": null,
            "Labels": i.labels,
        },
        "Architecture": i.architecture,
        "Os": "linux",
        "Size": i.size,
        "GraphDriver": {"Data": null, "Name": "overlayfs"},
        "RootFS": {"Type": "layers", "Layers": i.layers},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    });
    reply(StatusCode::OK, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_paths() {
        assert_eq!(engine_path("/_ping"), Some("/_ping"));
        assert_eq!(engine_path("/v1.47/images/json"), Some("/images/json"));
        assert_eq!(
            engine_path("/v1.53/images/127.0.0.1:4000/shop/x:1.2/json"),
            Some("/images/127.0.0.1:4000/shop/x:1.2/json")
        );
        assert_eq!(engine_path("/v2/"), None);
        assert_eq!(engine_path("/job/images/json"), None);
        assert_eq!(engine_path("/images//json"), None);
        assert_eq!(engine_path("/v1.x/version"), None);
    }

    #[test]
    fn reference_filter_globs() {
        assert!(reference_matches("127.0.0.1:1/shop/*", "127.0.0.1:1/shop/a:1"));
        assert!(reference_matches("maven", "maven:3.9"));
        assert!(!reference_matches("tomcat", "maven:3.9"));
    }
}
