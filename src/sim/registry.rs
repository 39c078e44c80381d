//! An OCI Distribution (Docker Registry v2) subset at `/v2/` with Docker
//! Hub-style token auth at `/registry/token`.
//!
//! - Any `/v2/…` request without a valid Bearer answers 401 with
//!   `Www-Authenticate: Bearer realm="http://HOST/registry/token",service="flightdeck-sim",scope="repository:NAME:pull"`
//!   (`pull,push` for writes) and an `UNAUTHORIZED` error body. A valid token
//!   without the needed action answers 401 `DENIED` with
//!   `error="insufficient_scope"` in the challenge.
//! - `GET /registry/token?service=&scope=…` (scope may repeat): anonymous
//!   callers get `pull` only; Basic `flightdeck:<estate token>` gets
//!   `pull,push` (and `registry:catalog:*`). Tokens live 300 s of story time.
//! - Manifests (`GET|HEAD|PUT /v2/<name>/manifests/<tag|digest>`): bytes are
//!   stored and served exactly; OCI manifests and indexes only when `Accept`
//!   names their media type (else 404 `MANIFEST_UNKNOWN`, as distribution
//!   does); a PUT must reference blobs (or, for an index, manifests) that exist
//!   (else 400 `MANIFEST_BLOB_UNKNOWN`).
//! - Tags (`GET /v2/<name>/tags/list?n=&last=`) in lexical order with a
//!   `Link: <…>; rel="next"` header when more remain; `/v2/_catalog` alike.
//! - Blobs (`GET|HEAD /v2/<name>/blobs/<digest>`), uploads (`POST
//!   /v2/<name>/blobs/uploads/` — monolithic with `?digest=`, cross-repository
//!   `?mount=&from=`, or a session — then `PATCH` / `PUT …?digest=`).
//! - Errors are `{"errors":[{"code","message","detail"}]}`.

use base64::Engine;
use hyper::header::{self, HeaderName};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::SimOptions;
use super::api::hname;
use super::images::{
    DOCKER_LIST, DOCKER_MANIFEST, ImageState, ImgReq, OCI_INDEX, OCI_MANIFEST, StoredManifest, is_digest, sha256_digest,
};
use super::jenkins::Ms;
use super::routes::Reply;

pub(crate) const SERVICE: &str = "flightdeck-sim";
const TOKEN_TTL_SECS: i64 = 300;
const JSON: &str = "application/json; charset=utf-8";

fn api_version() -> (HeaderName, String) {
    (hname("docker-distribution-api-version"), "registry/2.0".to_string())
}

fn with_api(mut r: Reply) -> Reply {
    r.headers.push(api_version());
    r
}

/// A distribution error body.
fn error(status: StatusCode, code: &str, message: &str, detail: Value) -> Reply {
    let body = json!({"errors": [{"code": code, "message": message, "detail": detail}]});
    with_api(
        Reply::new(status)
            .header(header::CONTENT_TYPE, JSON)
            .body(body.to_string()),
    )
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Repository name components: `[a-z0-9]+([._-][a-z0-9]+)*`, joined by `/`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.starts_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.ends_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.chars()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, '.' | '_' | '-'))
        })
}

// ---- tokens ------------------------------------------------------------------

fn secret(seed: u64, opts: &SimOptions) -> String {
    super::ids::hex(seed, &["registry-token", &opts.token], 32)
}

fn sign(secret: &str, payload: &str) -> String {
    sha256_digest(format!("{secret}.{payload}").as_bytes())[7..51].to_string()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// Granted actions per (type, name).
#[derive(Debug, Default)]
struct Claims {
    access: Vec<(String, String, Vec<String>)>,
}

impl Claims {
    fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        self.access
            .iter()
            .any(|(t, n, a)| t == kind && n == name && a.iter().any(|x| x == action || x == "*"))
    }
}

fn verify(token: &str, seed: u64, opts: &SimOptions, now_s: i64) -> Option<Claims> {
    let rest = token.strip_prefix("fds.")?;
    let (payload, sig) = rest.rsplit_once('.')?;
    if sign(&secret(seed, opts), payload) != sig {
        return None;
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    if v.get("exp").and_then(Value::as_i64)? <= now_s {
        return None;
    }
    let access = v
        .get("access")?
        .as_array()?
        .iter()
        .filter_map(|a| {
            Some((
                a.get("type")?.as_str()?.to_string(),
                a.get("name")?.as_str()?.to_string(),
                a.get("actions")?
                    .as_array()?
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
            ))
        })
        .collect();
    Some(Claims { access })
}

/// The user named by valid Basic credentials; Err when credentials are present but wrong.
fn basic_user(authorization: Option<&str>, opts: &SimOptions) -> Result<Option<String>, ()> {
    let Some(raw) = authorization else {
        return Ok(None);
    };
    let Some(encoded) = raw.strip_prefix("Basic ") else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ())?;
    let text = String::from_utf8(decoded).map_err(|_| ())?;
    let (user, password) = text.split_once(':').ok_or(())?;
    if (user == "flightdeck" || user == opts.user) && password == opts.token {
        Ok(Some(user.to_string()))
    } else {
        Err(())
    }
}

/// `GET /registry/token`.
pub(crate) fn token(state: &mut ImageState, opts: &SimOptions, seed: u64, req: &ImgReq, now: Ms) -> Reply {
    state.stats.token_requests += 1;
    if req.method != Method::GET && req.method != Method::POST {
        return Reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"details": "method not allowed"}),
        );
    }
    let mut params: Vec<(String, String)> = req.query.clone();
    let mut authorization = req.authorization.clone();
    if req.method == Method::POST {
        // OAuth2 password grant, as `docker login` may send it.
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let (Some(u), Some(p)) = (get("username"), get("password")) {
            authorization = Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            ));
        }
        params.extend(form);
    }
    let user = match basic_user(authorization.as_deref(), opts) {
        Ok(u) => u,
        Err(()) => {
            return Reply::json(
                StatusCode::UNAUTHORIZED,
                &json!({"details": "incorrect username or password"}),
            );
        }
    };
    let mut access = Vec::new();
    for (_, scope) in params.iter().filter(|(k, _)| k == "scope") {
        for one in scope.split(' ').filter(|s| !s.is_empty()) {
            let Some((head, actions)) = one.rsplit_once(':') else {
                continue;
            };
            let Some((kind, name)) = head.split_once(':') else {
                continue;
            };
            let wanted: Vec<&str> = actions.split(',').collect();
            let granted: Vec<String> = match (kind, &user) {
                ("repository", None) => wanted.iter().filter(|a| **a == "pull").map(|a| a.to_string()).collect(),
                ("repository", Some(_)) => wanted
                    .iter()
                    .filter(|a| matches!(**a, "pull" | "push"))
                    .map(|a| a.to_string())
                    .collect(),
                ("registry", Some(_)) if name == "catalog" => vec!["*".to_string()],
                _ => Vec::new(),
            };
            access.push(json!({"type": kind, "name": name, "actions": granted}));
        }
    }
    let now_s = now.div_euclid(1000);
    let claims = json!({
        "iss": SERVICE,
        "sub": user.clone().unwrap_or_default(),
        "aud": SERVICE,
        "iat": now_s,
        "exp": now_s + TOKEN_TTL_SECS,
        "access": access,
    });
    let payload = b64(&claims.to_string());
    let token = format!("fds.{payload}.{}", sign(&secret(seed, opts), &payload));
    Reply::json(
        StatusCode::OK,
        &json!({
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_TTL_SECS,
            "issued_at": super::images::rfc3339_secs(now),
        }),
    )
}

// ---- routes ------------------------------------------------------------------

enum Route {
    Base,
    Catalog,
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Tags(String),
}

fn parse(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let n = segs.len();
    let name = |k: usize| segs[..k].join("/");
    match segs.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Some(Route::Base),
        ["_catalog"] => Some(Route::Catalog),
        [.., "tags", "list"] if n > 2 => Some(Route::Tags(name(n - 2))),
        [.., "blobs", "uploads"] if n > 2 => Some(Route::UploadStart(name(n - 2))),
        [.., "blobs", "uploads", id] if n > 3 => Some(Route::Upload(name(n - 3), id.to_string())),
        [.., "manifests", r] if n > 2 => Some(Route::Manifest(name(n - 2), r.to_string())),
        [.., "blobs", d] if n > 2 => Some(Route::Blob(name(n - 2), d.to_string())),
        _ => None,
    }
}

fn challenge(host: &str, scope: Option<String>, insufficient: bool) -> String {
    let mut c = format!("Bearer realm=\"http://{host}/registry/token\",service=\"{SERVICE}\"");
    if let Some(s) = scope {
        c.push_str(&format!(",scope=\"{s}\""));
    }
    if insufficient {
        c.push_str(",error=\"insufficient_scope\"");
    }
    c
}

/// Handles `/v2/…` (authenticated by Bearer token).
pub(crate) fn handle(state: &mut ImageState, opts: &SimOptions, seed: u64, req: &ImgReq, now: Ms) -> Reply {
    let Some(route) = parse(&req.path) else {
        return with_api(
            Reply::new(StatusCode::NOT_FOUND)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body("404 page not found\n"),
        );
    };
    let write = matches!(req.method, Method::PUT | Method::POST | Method::PATCH | Method::DELETE);
    let (scope, need): (Option<(String, String)>, &str) = match &route {
        Route::Base => (None, ""),
        Route::Catalog => (Some(("registry".into(), "catalog".into())), "*"),
        Route::Manifest(n, _) | Route::Blob(n, _) | Route::UploadStart(n) | Route::Upload(n, _) | Route::Tags(n) => {
            if !valid_name(n) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "NAME_INVALID",
                    "invalid repository name",
                    json!({"name": n}),
                );
            }
            (
                Some(("repository".into(), n.clone())),
                if write { "push" } else { "pull" },
            )
        }
    };
    let scope_text = scope.as_ref().map(|(kind, name)| match kind.as_str() {
        "registry" => "registry:catalog:*".to_string(),
        _ => format!("{kind}:{name}:{}", if write { "pull,push" } else { "pull" }),
    });
    let claims = req
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .and_then(|t| verify(t.trim(), seed, opts, now.div_euclid(1000)));
    let Some(claims) = claims else {
        let detail = match &scope {
            Some((kind, name)) => json!([{"Type": kind, "Name": name, "Action": if write { "push" } else { "pull" }}]),
            None => Value::Null,
        };
        return error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
            detail,
        )
        .header(header::WWW_AUTHENTICATE, challenge(&state.host, scope_text, false));
    };
    if let Some((kind, name)) = &scope
        && !claims.allows(kind, name, need)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "DENIED",
            "requested access to the resource is denied",
            json!([{"Type": kind, "Name": name, "Action": need}]),
        )
        .header(header::WWW_AUTHENTICATE, challenge(&state.host, scope_text, true));
    }
    match route {
        Route::Base => match req.method {
            Method::GET | Method::HEAD => {
                with_api(Reply::new(StatusCode::OK).header(header::CONTENT_TYPE, JSON).body("{}"))
            }
            _ => unsupported(),
        },
        Route::Catalog => match req.method {
            Method::GET => catalog(state, req),
            _ => unsupported(),
        },
        Route::Tags(name) => match req.method {
            Method::GET => tags(state, req, &name),
            _ => unsupported(),
        },
        Route::Manifest(name, reference) => match req.method {
            Method::GET | Method::HEAD => get_manifest(state, req, &name, &reference),
            Method::PUT => put_manifest(state, req, &name, &reference),
            _ => unsupported(),
        },
        Route::Blob(name, digest) => match req.method {
            Method::GET | Method::HEAD => get_blob(state, req, &name, &digest),
            _ => unsupported(),
        },
        Route::UploadStart(name) => match req.method {
            Method::POST => start_upload(state, req, &name),
            _ => unsupported(),
        },
        Route::Upload(name, id) => match req.method {
            Method::PATCH | Method::PUT => continue_upload(state, req, &name, &id),
            _ => unsupported(),
        },
    }
}

fn unsupported() -> Reply {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "UNSUPPORTED",
        "The operation is unsupported.",
        Value::Null,
    )
}

fn param<'a>(req: &'a ImgReq, name: &str) -> Option<&'a str> {
    req.query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `n` and `last` of a paginated listing; Err(reply) on a bad `n`.
fn page(req: &ImgReq) -> Result<(Option<usize>, Option<String>), Reply> {
    let n = match param(req, "n") {
        None | Some("") => None,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => Some(n.min(1000)),
            Err(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    "invalid number of results requested",
                    json!({"n": s}),
                ));
            }
        },
    };
    Ok((n, param(req, "last").map(str::to_string)))
}

/// One page of sorted names, and the `Link` to the next.
fn paginate(all: Vec<String>, n: Option<usize>, last: Option<&str>, base: &str) -> (Vec<String>, Option<String>) {
    let after: Vec<String> = all
        .into_iter()
        .filter(|t| last.is_none_or(|l| t.as_str() > l))
        .collect();
    match n {
        Some(0) => (Vec::new(), None),
        Some(n) if after.len() > n => {
            let page: Vec<String> = after[..n].to_vec();
            let last = page.last().cloned().unwrap_or_default();
            let enc = url::form_urlencoded::byte_serialize(last.as_bytes()).collect::<String>();
            (page, Some(format!("<{base}?n={n}&last={enc}>; rel=\"next\"")))
        }
        _ => (after, None),
    }
}

fn listing(key: &str, name: Option<&str>, items: Vec<String>, link: Option<String>) -> Reply {
    let mut body = json!({ key: items });
    if let Some(n) = name {
        body["name"] = json!(n);
    }
    let mut r = with_api(
        Reply::new(StatusCode::OK)
            .header(header::CONTENT_TYPE, JSON)
            .body(body.to_string()),
    );
    if let Some(l) = link {
        r = r.header(header::LINK, l);
    }
    r
}

fn catalog(state: &ImageState, req: &ImgReq) -> Reply {
    let (n, last) = match page(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all: Vec<String> = state.oci.keys().cloned().collect();
    let (items, link) = paginate(all, n, last.as_deref(), "/v2/_catalog");
    listing("repositories", None, items, link)
}

fn name_unknown(name: &str) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        "repository name not known to registry",
        json!({"name": name}),
    )
}

fn tags(state: &ImageState, req: &ImgReq, name: &str) -> Reply {
    let Some(repo) = state.oci.get(name) else {
        return name_unknown(name);
    };
    let (n, last) = match page(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all: Vec<String> = repo.tags.keys().cloned().collect();
    let (items, link) = paginate(all, n, last.as_deref(), &format!("/v2/{name}/tags/list"));
    listing("tags", Some(name), items, link)
}

/// Media types the client accepts (parameters and q-values dropped).
fn accepted(req: &ImgReq) -> Vec<String> {
    req.accept
        .iter()
        .flat_map(|h| h.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn get_manifest(state: &mut ImageState, req: &ImgReq, name: &str, reference: &str) -> Reply {
    if req.method == Method::HEAD {
        state.stats.manifest_heads += 1;
    } else {
        state.stats.manifest_gets += 1;
    }
    let Some(repo) = state.oci.get(name) else {
        return name_unknown(name);
    };
    let digest = if reference.starts_with("sha256:") {
        if !is_digest(reference) {
            return error(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
                json!({"digest": reference}),
            );
        }
        reference.to_string()
    } else if valid_tag(reference) {
        match repo.tags.get(reference) {
            Some(d) => d.clone(),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "manifest unknown",
                    json!({"Tag": reference}),
                );
            }
        }
    } else {
        return error(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            "manifest tag did not match URI",
            json!({"Tag": reference}),
        );
    };
    let Some(m) = repo.manifests.get(&digest) else {
        return error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
            json!({"Digest": digest}),
        );
    };
    let accept = accepted(req);
    let explicit = accept.iter().any(|a| a == &m.media_type);
    let wildcard = accept.is_empty() || accept.iter().any(|a| a == "*/*");
    let ok = match m.media_type.as_str() {
        OCI_MANIFEST | OCI_INDEX | DOCKER_LIST => explicit,
        _ => explicit || wildcard || accept.iter().any(|a| a == DOCKER_MANIFEST),
    };
    if !ok {
        let msg = match m.media_type.as_str() {
            OCI_INDEX => "OCI index found, but accept header does not support OCI indexes",
            OCI_MANIFEST => "OCI manifest found, but accept header does not support OCI manifests",
            _ => "manifest list found, but accept header does not support manifest lists",
        };
        return error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            msg,
            json!({"Digest": digest}),
        );
    }
    with_api(
        Reply::new(StatusCode::OK)
            .header(header::CONTENT_TYPE, m.media_type.clone())
            .header(hname("docker-content-digest"), digest.clone())
            .header(header::ETAG, format!("\"{digest}\""))
            .header(header::CONTENT_LENGTH, m.bytes.len().to_string())
            .body(if req.method == Method::HEAD {
                bytes::Bytes::new()
            } else {
                m.bytes.clone()
            }),
    )
}

fn put_manifest(state: &mut ImageState, req: &ImgReq, name: &str, reference: &str) -> Reply {
    state.stats.manifest_puts += 1;
    state.stats.bytes_received += req.body.len() as u64;
    if state.fail_oci_puts > 0 {
        state.fail_oci_puts -= 1;
        state.stats.injected_failures += 1;
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "unknown error",
            json!({"reason": "simulated storage failure"}),
        );
    }
    let invalid = |why: &str| {
        error(
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
            "manifest invalid",
            json!({"reason": why}),
        )
    };
    let parsed: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return invalid("the manifest is not a JSON object"),
    };
    if parsed.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return invalid("schemaVersion must be 2");
    }
    let body_type = parsed.get("mediaType").and_then(Value::as_str);
    let header_type = req
        .content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    let media_type = match (body_type, header_type) {
        (Some(b), Some(h)) if b != h => return invalid(&format!("mediaType {b} does not match Content-Type {h}")),
        (Some(b), _) => b,
        (None, Some(h)) => h,
        (None, None) => return invalid("no mediaType and no Content-Type"),
    }
    .to_string();
    if ![OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].contains(&media_type.as_str()) {
        return invalid(&format!("unsupported manifest media type {media_type}"));
    }
    let digest = sha256_digest(&req.body);
    if reference.starts_with("sha256:") {
        if reference != digest {
            return error(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
                json!({"digest": reference, "computed": digest}),
            );
        }
    } else if !valid_tag(reference) {
        return error(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            "manifest tag did not match URI",
            json!({"Tag": reference}),
        );
    }
    // Everything it references must be there.
    let is_index = media_type == OCI_INDEX || media_type == DOCKER_LIST;
    let missing: Vec<String> = if is_index {
        let known = state.oci.get(name);
        parsed
            .get("manifests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("digest").and_then(Value::as_str))
            .filter(|d| known.is_none_or(|r| !r.manifests.contains_key(*d)))
            .map(str::to_string)
            .collect()
    } else {
        parsed
            .get("config")
            .into_iter()
            .chain(parsed.get("layers").and_then(Value::as_array).into_iter().flatten())
            .filter_map(|d| d.get("digest").and_then(Value::as_str))
            .filter(|d| !state.blobs.contains_key(*d))
            .map(str::to_string)
            .collect()
    };
    if let Some(first) = missing.first() {
        return error(
            StatusCode::BAD_REQUEST,
            "MANIFEST_BLOB_UNKNOWN",
            "blob unknown to registry",
            json!({"digest": first}),
        );
    }
    let repo = state.oci.entry(name.to_string()).or_default();
    repo.manifests.insert(
        digest.clone(),
        StoredManifest {
            media_type,
            bytes: req.body.clone(),
        },
    );
    if !reference.starts_with("sha256:") {
        repo.tags.insert(reference.to_string(), digest.clone());
    }
    with_api(
        Reply::new(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/manifests/{digest}"))
            .header(hname("docker-content-digest"), digest)
            .header(header::CONTENT_LENGTH, "0"),
    )
}

fn get_blob(state: &mut ImageState, req: &ImgReq, name: &str, digest: &str) -> Reply {
    if req.method == Method::HEAD {
        state.stats.blob_heads += 1;
    } else {
        state.stats.blob_gets += 1;
    }
    if !state.oci.contains_key(name) {
        return name_unknown(name);
    }
    if !is_digest(digest) {
        return error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
            json!({"digest": digest}),
        );
    }
    let Some(bytes) = state.blobs.get(digest) else {
        return error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
            json!({"digest": digest}),
        );
    };
    with_api(
        Reply::new(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(hname("docker-content-digest"), digest.to_string())
            .header(header::ETAG, format!("\"{digest}\""))
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::CONTENT_LENGTH, bytes.len().to_string())
            .body(if req.method == Method::HEAD {
                bytes::Bytes::new()
            } else {
                bytes.clone()
            }),
    )
}

fn blob_created(name: &str, digest: &str) -> Reply {
    with_api(
        Reply::new(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/blobs/{digest}"))
            .header(hname("docker-content-digest"), digest.to_string())
            .header(header::CONTENT_LENGTH, "0"),
    )
}

/// Stores uploaded bytes if they hash to `expected`.
fn finish_blob(state: &mut ImageState, name: &str, bytes: Vec<u8>, expected: &str) -> Reply {
    let digest = sha256_digest(&bytes);
    if digest != expected {
        return error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
            json!({"digest": expected, "computed": digest}),
        );
    }
    state.blobs.insert(digest.clone(), bytes::Bytes::from(bytes));
    state.oci.entry(name.to_string()).or_default();
    blob_created(name, &digest)
}

fn start_upload(state: &mut ImageState, req: &ImgReq, name: &str) -> Reply {
    state.stats.bytes_received += req.body.len() as u64;
    state.stats.blob_bytes_received += req.body.len() as u64;
    if let Some(mount) = param(req, "mount")
        && state.blobs.contains_key(mount)
        && param(req, "from").is_none_or(|f| state.oci.contains_key(f))
    {
        state.stats.blob_mounts += 1;
        state.oci.entry(name.to_string()).or_default();
        return blob_created(name, mount);
    }
    if let Some(d) = param(req, "digest") {
        let d = d.to_string();
        state.stats.blob_uploads += 1;
        return finish_blob(state, name, req.body.to_vec(), &d);
    }
    state.stats.blob_uploads += 1;
    let id = super::ids::hex(state.next_upload, &["upload", name], 32);
    state.next_upload += 1;
    state.uploads.insert(id.clone(), (name.to_string(), req.body.to_vec()));
    with_api(
        Reply::new(StatusCode::ACCEPTED)
            .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
            .header(hname("docker-upload-uuid"), id)
            .header(header::RANGE, "0-0")
            .header(header::CONTENT_LENGTH, "0"),
    )
}

fn continue_upload(state: &mut ImageState, req: &ImgReq, name: &str, id: &str) -> Reply {
    state.stats.bytes_received += req.body.len() as u64;
    state.stats.blob_bytes_received += req.body.len() as u64;
    let Some((repo, bytes)) = state.uploads.get_mut(id) else {
        return error(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
            json!({"uuid": id}),
        );
    };
    if repo != name {
        return error(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
            json!({"uuid": id}),
        );
    }
    bytes.extend_from_slice(&req.body);
    let len = bytes.len();
    if req.method == Method::PATCH {
        return with_api(
            Reply::new(StatusCode::ACCEPTED)
                .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
                .header(hname("docker-upload-uuid"), id.to_string())
                .header(header::RANGE, format!("0-{}", len.saturating_sub(1)))
                .header(header::CONTENT_LENGTH, "0"),
        );
    }
    let Some(expected) = param(req, "digest").map(str::to_string) else {
        return error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "digest parameter is required",
            Value::Null,
        );
    };
    let (_, bytes) = state.uploads.remove(id).unwrap_or_default();
    finish_blob(state, name, bytes, &expected)
}
