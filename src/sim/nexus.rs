//! A Nexus Repository 3 subset at `{url}/nexus`: the search API over
//! `maven-releases` (what the Jenkins "Publish to Nexus" stages uploaded,
//! plus older releases whose builds Jenkins has discarded) and
//! `maven-snapshots`, and downloads below `/repository/`.
//!
//! Each green "Publish to Nexus" stage uploads the artifact
//! (`{service}-{version}.jar`, `.war` for checkout-web) and its `.pom` at the
//! stage's end, as `jenkins-ci` — except fraud-scoring's newest green build
//! (see the story facts), whose upload never reached the index.
//!
//! Search pages hold `SimOptions::nexus_page_size` items (the real server
//! fixes 100); `continuationToken` encodes the query it belongs to and the
//! offset: used with a different query it is refused with 400.
//! Checksums are derived from the seed; the bytes served for downloads are a
//! small stand-in, so they do not match the checksums or `fileSize`.

use std::cmp::Ordering;

use base64::Engine;
use hyper::StatusCode;
use hyper::header;
use serde_json::{Value, json};

use super::api::{self, ApiReq};
use super::dates;
use super::facts::stage_ok;
use super::faults::lock;
use super::ids;
use super::jenkins::Ms;
use super::routes::Reply;
use super::story::{DAY, FOLDER, HOUR, SERVICES, World};
use super::{Shared, SimOptions};

const CONTENT_TYPE: &str = "application/json";
pub(crate) const GROUP: &str = "com.dominion";
pub(crate) const RELEASES: &str = "maven-releases";
pub(crate) const SNAPSHOTS: &str = "maven-snapshots";
const SERVER: &str = "Nexus/3.75.1-01 (COMMUNITY)";

/// One uploaded file.
#[derive(Clone, Debug)]
pub(crate) struct Asset {
    pub repository: &'static str,
    pub artifact: String,
    pub version: String,
    pub base_version: String,
    pub extension: &'static str,
    pub at: Ms,
    pub size: u64,
    pub uploader_ip: String,
}

impl Asset {
    pub(crate) fn path(&self) -> String {
        format!(
            "{}/{}/{}/{}-{}.{}",
            GROUP.replace('.', "/"),
            self.artifact,
            self.base_version,
            self.artifact,
            self.version,
            self.extension
        )
    }
}

/// The packaging of a service's artifact.
pub(crate) fn packaging(service: &str) -> &'static str {
    if service == "checkout-web" { "war" } else { "jar" }
}

/// Compares Maven-ish versions: numeric parts numerically.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<String> {
        s.split(['.', '-'])
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// The artifact and its pom, uploaded together.
fn pair(seed: u64, artifact: Asset) -> [Asset; 2] {
    let pom = Asset {
        extension: "pom",
        size: 5_900 + ids::hash(seed, &[&artifact.artifact, &artifact.version, "pom"]) % 600,
        ..artifact.clone()
    };
    [artifact, pom]
}

/// A release or snapshot artifact of `service`.
fn upload(repository: &'static str, service: &str, version: &str, base: &str, at: Ms, size: u64) -> Asset {
    Asset {
        repository,
        artifact: service.to_string(),
        version: version.to_string(),
        base_version: base.to_string(),
        extension: packaging(service),
        at,
        size,
        uploader_ip: "10.20.4.11".to_string(),
    }
}

fn agent_ip(agent: &str) -> String {
    let n: u32 = agent.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(1);
    format!("10.20.4.{}", 10 + n)
}

/// Every asset in the index at the story clock.
pub(crate) fn assets(w: &World) -> Vec<Asset> {
    let mut out = Vec::new();
    let seed = w.seed;
    for spec in &SERVICES {
        let svc = spec.name;
        let job = format!("{FOLDER}/{svc}");
        let builds = w.jobs.get(&job).map(|j| j.builds.as_slice()).unwrap_or_default();
        // Releases whose builds Jenkins no longer keeps.
        let first = builds.first().map_or(40, |b| b.number);
        let first_at = builds.first().map_or(w.now, |b| b.start);
        let mut older: Vec<(String, Ms)> = Vec::new();
        for k in 0..5u32 {
            let n = first.saturating_sub(1 + 6 * k);
            if n > 0 {
                older.push((
                    format!("{}.{}.{n}", spec.major, spec.minor),
                    first_at - (1 + k as Ms) * 2 * DAY,
                ));
            }
        }
        let (pmaj, pmin) = if spec.minor > 0 {
            (spec.major, spec.minor - 1)
        } else {
            (spec.major.saturating_sub(1), 9)
        };
        for k in 0..3u32 {
            older.push((
                format!("{pmaj}.{pmin}.{}", 120 - 17 * k),
                first_at - (20 + 9 * k as Ms) * DAY,
            ));
        }
        for (v, at) in older {
            let size = (38 + ids::hash(seed, &[svc, &v, "old"]) % 35) * 1_048_576;
            out.extend(pair(seed, upload(RELEASES, svc, &v, &v, at, size)));
        }
        for b in builds {
            if !stage_ok(b, "Publish to Nexus") {
                continue;
            }
            if svc == w.facts.missing_artifact.service && b.number == w.facts.missing_artifact.build_number {
                continue;
            }
            let Some(at) = b
                .stages
                .iter()
                .find(|s| s.name == "Publish to Nexus")
                .and_then(|s| s.end)
            else {
                continue;
            };
            if at > w.now {
                continue;
            }
            let v = &b.ctx.version;
            let mut a = upload(RELEASES, svc, v, v, at, artifact_size(b));
            a.uploader_ip = agent_ip(&b.ctx.agent);
            out.extend(pair(seed, a));
        }
    }
    // Snapshots from developer branches.
    let start = w.forge.start;
    for (svc, base, builds) in [("payments-api", "1.5.0", 3u32), ("checkout-web", "2.13.0", 2)] {
        for n in 1..=builds {
            let at = start - (30 - 9 * n as Ms) * HOUR - (ids::hash(seed, &[svc, &n.to_string()]) % 3600) as Ms * 1000;
            let version = format!("{base}-{}-{n}", dates::maven_snapshot(at));
            let size = (38 + ids::hash(seed, &[svc, &version, "snap"]) % 35) * 1_048_576;
            let base = format!("{base}-SNAPSHOT");
            out.extend(pair(seed, upload(SNAPSHOTS, svc, &version, &base, at, size)));
        }
    }
    out.retain(|a| a.at <= w.now);
    out.sort_by(|a, b| {
        (a.repository, &a.artifact)
            .cmp(&(b.repository, &b.artifact))
            .then_with(|| compare_versions(&a.version, &b.version))
            .then_with(|| a.extension.cmp(b.extension))
    });
    out
}

/// Size of a build's artifact, as its console reports the upload.
pub(crate) fn artifact_size(b: &super::jenkins::Build) -> u64 {
    b.ctx.rand("jar", 38, 72) * 1_048_576 + ids::hash(b.ctx.seed, &[&b.ctx.job, &b.ctx.version, "bytes"]) % 1_000_000
}

fn checksum(seed: u64, a: &Asset) -> Value {
    let p = a.path();
    json!({
        "sha1": ids::hex(seed, &[a.repository, &p, "sha1"], 40),
        "sha512": ids::hex(seed, &[a.repository, &p, "sha512"], 128),
        "sha256": ids::hex(seed, &[a.repository, &p, "sha256"], 64),
        "md5": ids::hex(seed, &[a.repository, &p, "md5"], 32),
    })
}

fn nexus_id(seed: u64, repository: &str, parts: &[&str]) -> String {
    let raw = format!("{repository}:{}", ids::hex(seed, parts, 32));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn content_type(extension: &str) -> &'static str {
    match extension {
        "pom" => "application/xml",
        _ => "application/java-archive",
    }
}

fn asset_json(w: &World, a: &Asset) -> Value {
    let path = a.path();
    json!({
        "downloadUrl": format!("{}/nexus/repository/{}/{path}", w.base, a.repository),
        "path": path,
        "id": nexus_id(w.seed, a.repository, &[&path, "asset"]),
        "repository": a.repository,
        "format": "maven2",
        "checksum": checksum(w.seed, a),
        "contentType": content_type(a.extension),
        "lastModified": dates::nexus(a.at),
        "lastDownloaded": null,
        "uploader": "jenkins-ci",
        "uploaderIp": a.uploader_ip,
        "fileSize": a.size,
        "blobCreated": dates::nexus(a.at),
        "blobStoreName": "default",
        "maven2": {
            "extension": a.extension,
            "groupId": GROUP,
            "artifactId": a.artifact,
            "version": a.version,
            "baseVersion": a.base_version,
            "classifier": "",
        },
    })
}

/// Answers a request below `/nexus`.
pub(crate) fn handle(shared: &Shared, req: &ApiReq) -> Reply {
    let reply = route(shared, req);
    reply.header(header::SERVER, SERVER)
}

fn unauthorized() -> Reply {
    Reply::new(StatusCode::UNAUTHORIZED).header(
        header::WWW_AUTHENTICATE,
        "BASIC realm=\"Sonatype Nexus Repository Manager\"",
    )
}

fn ok(v: &Value) -> Reply {
    api::json(StatusCode::OK, CONTENT_TYPE, v)
}

fn validation(id: &str, message: &str) -> Reply {
    api::json(
        StatusCode::BAD_REQUEST,
        CONTENT_TYPE,
        &json!([{"id": id, "message": message}]),
    )
}

fn route(shared: &Shared, req: &ApiReq) -> Reply {
    let path = req.path.trim_end_matches('/');
    if path == "/service/rest/v1/status" {
        return Reply::new(StatusCode::OK);
    }
    if req.user.is_none() {
        return unauthorized();
    }
    if req.method != hyper::Method::GET && req.method != hyper::Method::HEAD {
        return Reply::new(StatusCode::METHOD_NOT_ALLOWED);
    }
    let w = lock(&shared.world);
    match path {
        "/service/rest/v1/search" => search(&w, &shared.opts, req, false),
        "/service/rest/v1/search/assets" => search(&w, &shared.opts, req, true),
        "/service/rest/v1/search/assets/download" => download_redirect(&w, req),
        "/service/rest/v1/repositories" => ok(&repositories(&w)),
        _ => match path.strip_prefix("/repository/") {
            Some(rest) => serve_file(&w, rest),
            None => Reply::new(StatusCode::NOT_FOUND),
        },
    }
}

fn repositories(w: &World) -> Value {
    let url = |name: &str| format!("{}/nexus/repository/{name}", w.base);
    json!([
        {"name": RELEASES, "format": "maven2", "type": "hosted", "url": url(RELEASES), "attributes": {}},
        {"name": SNAPSHOTS, "format": "maven2", "type": "hosted", "url": url(SNAPSHOTS), "attributes": {}},
        {"name": "maven-central", "format": "maven2", "type": "proxy", "url": url("maven-central"),
         "attributes": {"proxy": {"remoteUrl": "https://repo1.maven.org/maven2/"}}},
        {"name": "maven-public", "format": "maven2", "type": "group", "url": url("maven-public"), "attributes": {}},
    ])
}

/// The filters of a search; a parameter given with an empty value means
/// "must be empty", as on Nexus 3.57+.
fn matches(req: &ApiReq, a: &Asset) -> bool {
    let want = |names: &[&str], actual: &str| {
        names
            .iter()
            .filter_map(|n| req.query.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
            .all(|v| v == actual)
    };
    let q_ok = req.param("q").filter(|q| !q.is_empty()).is_none_or(|q| {
        let q = q.trim_matches('*').to_lowercase();
        a.artifact.contains(&q) || a.version.contains(&q) || GROUP.contains(&q)
    });
    q_ok && want(&["repository"], a.repository)
        && want(&["format"], "maven2")
        && want(&["group", "maven.groupId"], GROUP)
        && want(&["name", "maven.artifactId"], &a.artifact)
        && want(&["version"], &a.version)
        && want(&["maven.baseVersion"], &a.base_version)
        && want(&["maven.extension"], a.extension)
        && want(&["maven.classifier"], "")
        && req
            .param("prerelease")
            .is_none_or(|p| (p == "true") == (a.repository == SNAPSHOTS))
}

/// A fingerprint of the query a continuation token belongs to.
fn fingerprint(req: &ApiReq, assets: bool) -> u64 {
    let mut pairs: Vec<String> = req
        .query
        .iter()
        .filter(|(k, _)| k != "continuationToken")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.sort();
    pairs.push(if assets { "assets" } else { "components" }.to_string());
    let refs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    ids::hash(0, &refs)
}

fn token(fp: u64, offset: usize) -> String {
    format!("{fp:016x}{:016x}", (offset as u64) ^ (fp.rotate_left(17)))
}

fn parse_token(t: &str, fp: u64) -> Result<usize, &'static str> {
    if t.len() != 32 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("continuationToken is not valid");
    }
    let got = u64::from_str_radix(&t[..16], 16).map_err(|_| "continuationToken is not valid")?;
    if got != fp {
        return Err("continuationToken belongs to a different query");
    }
    let off = u64::from_str_radix(&t[16..], 16).map_err(|_| "continuationToken is not valid")? ^ fp.rotate_left(17);
    usize::try_from(off).map_err(|_| "continuationToken is not valid")
}

/// The matching assets, sorted as asked.
fn query(w: &World, req: &ApiReq) -> Result<Vec<Asset>, Reply> {
    let mut list: Vec<Asset> = assets(w).into_iter().filter(|a| matches(req, a)).collect();
    if let Some(sort) = req.param("sort").filter(|s| !s.is_empty()) {
        let key: fn(&Asset, &Asset) -> Ordering = match sort {
            "version" => |a, b| compare_versions(&a.version, &b.version),
            "name" => |a, b| a.artifact.cmp(&b.artifact),
            "group" => |_, _| Ordering::Equal,
            "repository" => |a, b| a.repository.cmp(b.repository),
            _ => {
                return Err(validation(
                    "sort",
                    "sort must be one of group, name, version, repository",
                ));
            }
        };
        let default_desc = sort == "version";
        let desc = match req.param("direction") {
            Some("desc") => true,
            Some("asc") => false,
            _ => default_desc,
        };
        list.sort_by(|a, b| {
            let o = key(a, b);
            let o = if desc { o.reverse() } else { o };
            o.then_with(|| a.extension.cmp(b.extension))
        });
    }
    Ok(list)
}

fn search(w: &World, opts: &SimOptions, req: &ApiReq, assets: bool) -> Reply {
    let list = match query(w, req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let fp = fingerprint(req, assets);
    let offset = match req.param("continuationToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => match parse_token(t, fp) {
            Ok(o) => o,
            Err(msg) => return validation("continuationToken", msg),
        },
    };
    let size = opts.nexus_page_size.max(1);
    let items: Vec<Value> = if assets {
        list.iter().skip(offset).take(size).map(|a| asset_json(w, a)).collect()
    } else {
        let mut comps: Vec<(String, Vec<&Asset>)> = Vec::new();
        for a in &list {
            let k = format!("{}\u{0}{}\u{0}{}", a.repository, a.artifact, a.version);
            match comps.iter_mut().find(|(key, _)| *key == k) {
                Some((_, v)) => v.push(a),
                None => comps.push((k, vec![a])),
            }
        }
        let total = comps.len();
        let page: Vec<Value> = comps
            .iter()
            .skip(offset)
            .take(size)
            .map(|(_, group)| {
                let a = group[0];
                json!({
                    "id": nexus_id(w.seed, a.repository, &[&a.artifact, &a.version, "component"]),
                    "repository": a.repository,
                    "format": "maven2",
                    "group": GROUP,
                    "name": a.artifact,
                    "version": a.version,
                    "assets": group.iter().map(|x| asset_json(w, x)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let next = (offset + size < total).then(|| token(fp, offset + size));
        return ok(&json!({"items": page, "continuationToken": next}));
    };
    let next = (offset + size < list.len()).then(|| token(fp, offset + size));
    ok(&json!({"items": items, "continuationToken": next}))
}

fn download_redirect(w: &World, req: &ApiReq) -> Reply {
    let list = match query(w, req) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let sorted = req.param("sort").is_some_and(|s| !s.is_empty());
    match list.first() {
        None => Reply::new(StatusCode::NOT_FOUND),
        Some(a) if sorted || list.len() == 1 => Reply::new(StatusCode::FOUND).header(
            header::LOCATION,
            format!("{}/nexus/repository/{}/{}", w.base, a.repository, a.path()),
        ),
        Some(_) => validation(
            "*",
            "Search returned multiple assets, please refine search criteria to find a single asset or use the sort \
             query parameter to retrieve the first result.",
        ),
    }
}

/// Downloads: the artifact stand-in, its pom, and `maven-metadata.xml`.
fn serve_file(w: &World, rest: &str) -> Reply {
    let Some((repository, path)) = rest.split_once('/') else {
        return Reply::new(StatusCode::NOT_FOUND);
    };
    let all = assets(w);
    if let Some(prefix) = path.strip_suffix("/maven-metadata.xml") {
        let artifact = prefix.rsplit('/').next().unwrap_or("");
        let mine: Vec<&Asset> = all
            .iter()
            .filter(|a| a.repository == repository && a.artifact == artifact && a.extension != "pom")
            .collect();
        let Some(last) = mine.last() else {
            return Reply::new(StatusCode::NOT_FOUND);
        };
        let versions: String = mine
            .iter()
            .map(|a| format!("      <version>{}</version>\n", a.base_version))
            .collect();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>{GROUP}</groupId>\n  \
             <artifactId>{artifact}</artifactId>\n  <versioning>\n    <latest>{v}</latest>\n    <release>{v}</release>\n    \
             <versions>\n{versions}    </versions>\n    <lastUpdated>{t}</lastUpdated>\n  </versioning>\n</metadata>\n",
            v = last.base_version,
            t = dates::maven_snapshot(last.at).replace('.', ""),
        );
        return Reply::new(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(body);
    }
    let Some(a) = all.iter().find(|a| a.repository == repository && a.path() == path) else {
        return Reply::new(StatusCode::NOT_FOUND);
    };
    let sha1 = checksum(w.seed, a)["sha1"].as_str().unwrap_or("").to_string();
    let r = Reply::new(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(a.extension))
        .header(header::ETAG, format!("\"{{SHA1{{{sha1}}}}}\""))
        .header(
            header::LAST_MODIFIED,
            chrono::DateTime::from_timestamp_millis(a.at)
                .unwrap_or_default()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        );
    if a.extension == "pom" {
        let packaging = packaging(&a.artifact);
        return r.body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  \
             <modelVersion>4.0.0</modelVersion>\n  <groupId>{GROUP}</groupId>\n  <artifactId>{}</artifactId>\n  \
             <version>{}</version>\n  <packaging>{packaging}</packaging>\n</project>\n",
            a.artifact, a.version
        ));
    }
    r.body(fake_archive(&a.artifact, &a.version))
}

/// A few bytes that start like a zip archive (the real artifact is tens of MB).
pub(crate) fn fake_archive(artifact: &str, version: &str) -> Vec<u8> {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend_from_slice(
        format!(
            "\nManifest-Version: 1.0\nImplementation-Title: {artifact}\nImplementation-Version: {version}\n\
             Created-By: Flightdeck simulated estate\n"
        )
        .as_bytes(),
    );
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("1.4.9", "1.4.57"), Ordering::Less);
        assert_eq!(compare_versions("1.3.120", "1.4.1"), Ordering::Less);
        assert_eq!(compare_versions("2.12.7", "2.12.7"), Ordering::Equal);
        assert_eq!(
            compare_versions("1.5.0-20261124.101530-3", "1.5.0-20261124.101530-12"),
            Ordering::Less
        );
    }

    #[test]
    fn tokens_belong_to_their_query() {
        let t = token(42, 10);
        assert_eq!(parse_token(&t, 42), Ok(10));
        assert!(parse_token(&t, 43).is_err());
        assert!(parse_token("zz", 42).is_err());
    }
}
