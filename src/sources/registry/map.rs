//! Pure helpers: manifests, indexes and image configs as the registry serves them, turned into
//! [`ImageTag`] fields; platform strings; size sums; the order of version-looking tags.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use oci_client::errors::{OciDistributionError, OciEnvelope, OciErrorCode};

use crate::model::{ImageTag, LABEL_BASE_DIGEST, LABEL_BASE_NAME, LABEL_REVISION, LABEL_VERSION};
use crate::sources::http::{HttpError, body_excerpt};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Every manifest type, for `Accept`: without the list types a registry may answer with one
/// platform's manifest instead of the index, and the digest changes.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// A content descriptor: a child manifest of an index, a config or a layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// `os/arch[/variant]`, for an index's children that say.
    pub platform: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Manifest {
    /// An OCI index or Docker manifest list: one manifest per platform.
    Index {
        media_type: String,
        manifests: Vec<Descriptor>,
    },
    /// One platform's image.
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
}

impl Manifest {
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Index { media_type, .. } | Manifest::Image { media_type, .. } => media_type,
        }
    }

    pub fn is_index(&self) -> bool {
        matches!(self, Manifest::Index { .. })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestJson {
    #[serde(default)]
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<DescriptorJson>>,
    #[serde(default)]
    config: Option<DescriptorJson>,
    #[serde(default)]
    layers: Option<Vec<DescriptorJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescriptorJson {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<PlatformJson>,
}

#[derive(Deserialize)]
struct PlatformJson {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl DescriptorJson {
    fn into_descriptor(self) -> Descriptor {
        Descriptor {
            platform: self
                .platform
                .map(|p| platform_string(&p.os, &p.architecture, p.variant.as_deref())),
            media_type: self.media_type,
            digest: self.digest,
            size: self.size,
        }
    }
}

/// `linux/arm64/v8`, `linux/amd64`.
pub fn platform_string(os: &str, architecture: &str, variant: Option<&str>) -> String {
    match variant.filter(|v| !v.is_empty()) {
        Some(v) => format!("{os}/{architecture}/{v}"),
        None => format!("{os}/{architecture}"),
    }
}

/// Parse a manifest as served. Its media type is the body's `mediaType`, else the response's
/// `Content-Type` when it is a manifest type, else what the shape says (OCI allows omitting it).
pub fn parse_manifest(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
    let json: ManifestJson = serde_json::from_slice(bytes).map_err(|e| format!("manifest: {e}"))?;
    if let Some(v) = json.schema_version
        && v != 2
    {
        return Err(format!("manifest schema version {v} is not supported"));
    }
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| MANIFEST_TYPES.contains(c));
    let declared = json
        .media_type
        .clone()
        .filter(|m| !m.is_empty())
        .or(content_type.map(str::to_string));
    if let Some(manifests) = json.manifests {
        return Ok(Manifest::Index {
            media_type: declared.unwrap_or_else(|| OCI_INDEX.to_string()),
            manifests: manifests.into_iter().map(DescriptorJson::into_descriptor).collect(),
        });
    }
    match json.config {
        Some(config) => Ok(Manifest::Image {
            media_type: declared.unwrap_or_else(|| OCI_MANIFEST.to_string()),
            config: config.into_descriptor(),
            layers: json
                .layers
                .unwrap_or_default()
                .into_iter()
                .map(DescriptorJson::into_descriptor)
                .collect(),
        }),
        None => Err("manifest has neither `manifests` nor `config`".to_string()),
    }
}

/// Is this an attestation or other non-runnable entry (`unknown/unknown`, as buildx adds)?
fn runnable(d: &Descriptor) -> bool {
    d.platform.as_deref().is_none_or(|p| !p.starts_with("unknown/"))
}

/// The platforms an index offers, in its order, without attestation entries.
pub fn platforms(manifests: &[Descriptor]) -> Vec<String> {
    manifests
        .iter()
        .filter(|d| runnable(d))
        .filter_map(|d| d.platform.clone())
        .collect()
}

/// The child to read the config of: linux/amd64, else the first runnable one.
pub fn pick_platform(manifests: &[Descriptor]) -> Option<&Descriptor> {
    manifests
        .iter()
        .find(|d| d.platform.as_deref() == Some("linux/amd64"))
        .or_else(|| manifests.iter().find(|d| runnable(d)))
}

/// The children of an index worth reading for sizes (attestations skipped).
pub fn runnable_children(manifests: &[Descriptor]) -> Vec<&Descriptor> {
    manifests.iter().filter(|d| runnable(d)).collect()
}

/// An image's bytes: its config and its layers.
pub fn image_size(config: &Descriptor, layers: &[Descriptor]) -> u64 {
    config.size + layers.iter().map(|l| l.size).sum::<u64>()
}

/// What an image config blob tells: when it was built and its labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageConfig {
    pub created: Option<DateTime<Utc>>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ConfigJson {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    config: Option<ContainerConfigJson>,
}

#[derive(Deserialize)]
struct ContainerConfigJson {
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

pub fn parse_config(bytes: &[u8]) -> Result<ImageConfig, String> {
    let json: ConfigJson = serde_json::from_slice(bytes).map_err(|e| format!("image config: {e}"))?;
    Ok(ImageConfig {
        created: json
            .created
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|d| d.with_timezone(&Utc)),
        labels: json.config.and_then(|c| c.labels).unwrap_or_default(),
    })
}

/// `sha256:<hex>` of the exact bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// A tag as the board shows it. `pushed_at` is the config's `created`: the registry API has no
/// push time, and the build time is the nearest it offers.
pub fn image_tag(
    tag: &str,
    digest: &str,
    media_type: &str,
    platforms: Vec<String>,
    size: Option<u64>,
    config: Option<&ImageConfig>,
) -> ImageTag {
    let label = |k: &str| config.and_then(|c| c.labels.get(k)).filter(|v| !v.is_empty()).cloned();
    ImageTag {
        tag: tag.to_string(),
        digest: digest.to_string(),
        media_type: media_type.to_string(),
        pushed_at: config.and_then(|c| c.created),
        size,
        platforms,
        revision: label(LABEL_REVISION),
        version: label(LABEL_VERSION),
        base_name: label(LABEL_BASE_NAME),
        base_digest: label(LABEL_BASE_DIGEST),
        scan: None,
    }
}

/// Does the tag look like a version (`1.4.2`, `v2.0.0-rc1`, `20240501`)?
pub fn looks_like_version(tag: &str) -> bool {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    t.starts_with(|c: char| c.is_ascii_digit())
}

enum Chunk<'a> {
    Num(&'a str),
    Text(&'a str),
}

fn chunks(s: &str) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = s.as_bytes();
    while start < bytes.len() {
        let digit = bytes[start].is_ascii_digit();
        let mut end = start;
        while end < bytes.len() && bytes[end].is_ascii_digit() == digit {
            end += 1;
        }
        let part = &s[start..end];
        out.push(if digit { Chunk::Num(part) } else { Chunk::Text(part) });
        start = end;
    }
    out
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Order tags oldest-looking first: versions above other names, versions by their numbers
/// (`1.10` after `1.9`), a pre-release (`1.4.2-rc1`) before its release; other names by name.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    match (looks_like_version(a), looks_like_version(b)) {
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => return b.cmp(a),
        (true, true) => {}
    }
    let ca = chunks(a.strip_prefix('v').unwrap_or(a));
    let cb = chunks(b.strip_prefix('v').unwrap_or(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let o = match (x, y) {
            (Chunk::Num(x), Chunk::Num(y)) => cmp_num(x, y),
            (Chunk::Text(x), Chunk::Text(y)) => x.cmp(y),
            (Chunk::Num(_), Chunk::Text(_)) => Ordering::Greater,
            (Chunk::Text(_), Chunk::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    let pre_release = |rest: &[Chunk]| matches!(rest.first(), Some(Chunk::Text(t)) if t.starts_with(['-', '~']));
    match ca.len().cmp(&cb.len()) {
        Ordering::Greater if pre_release(&ca[cb.len()..]) => Ordering::Less,
        Ordering::Less if pre_release(&cb[ca.len()..]) => Ordering::Greater,
        o => o.then_with(|| a.cmp(b)),
    }
}

/// The tags to read, at most `max`: the environments' tags first (those that exist), then the
/// newest-looking versions.
pub fn choose_tags<'a>(listed: &[String], env_tags: impl IntoIterator<Item = &'a str>, max: usize) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    for t in env_tags {
        if chosen.len() < max && listed.iter().any(|l| l == t) && !chosen.iter().any(|c| c == t) {
            chosen.push(t.to_string());
        }
    }
    let mut rest: Vec<&String> = listed.iter().filter(|t| !chosen.contains(t)).collect();
    rest.sort_by(|a, b| version_cmp(b, a));
    for t in rest {
        if chosen.len() >= max {
            break;
        }
        chosen.push(t.clone());
    }
    chosen
}

/// Newest push first (unknown times last), then the newest-looking tag.
pub fn sort_tags(tags: &mut [ImageTag]) {
    tags.sort_by(|a, b| match (a.pushed_at, b.pushed_at) {
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| version_cmp(&b.tag, &a.tag)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => version_cmp(&b.tag, &a.tag),
    });
}

fn status_of(code: &OciErrorCode) -> u16 {
    match code {
        OciErrorCode::Unauthorized => 401,
        OciErrorCode::Denied => 403,
        OciErrorCode::ManifestUnknown
        | OciErrorCode::NameUnknown
        | OciErrorCode::BlobUnknown
        | OciErrorCode::BlobUploadUnknown
        | OciErrorCode::NotFound => 404,
        OciErrorCode::Unsupported => 405,
        OciErrorCode::Toomanyrequests => 429,
        _ => 400,
    }
}

fn envelope_messages(envelope: &OciEnvelope) -> String {
    envelope
        .errors
        .iter()
        .map(|e| {
            if e.message.is_empty() {
                format!("{:?}", e.code)
            } else {
                e.message.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A status error; refusals say whose credentials were refused.
fn status(code: u16, detail: String, credentials: &str) -> HttpError {
    let detail = if matches!(code, 401 | 403) {
        format!("{detail} (credentials: {credentials})")
    } else {
        detail
    };
    HttpError::Status {
        code,
        retry_after: None,
        detail,
    }
}

/// oci-client's errors as the status line words them. oci-client keeps neither the status of an
/// error with an OCI error body nor any response header, so the status comes from the error code
/// and a 429 carries no `Retry-After` (the poller backs off by itself).
pub fn oci_error(e: OciDistributionError, credentials: &str) -> HttpError {
    match e {
        OciDistributionError::RequestError(e) => HttpError::from_reqwest(e),
        OciDistributionError::UnauthorizedError { .. } => HttpError::Status {
            code: 401,
            retry_after: None,
            detail: format!("not authorized (credentials: {credentials})"),
        },
        OciDistributionError::AuthenticationFailure(reason) => HttpError::Status {
            code: 401,
            retry_after: None,
            detail: format!("token refused: {} (credentials: {credentials})", body_excerpt(&reason)),
        },
        OciDistributionError::RegistryError { envelope, .. } => {
            let code = envelope.errors.first().map(|e| status_of(&e.code)).unwrap_or(400);
            status(code, envelope_messages(&envelope), credentials)
        }
        // Some paths (a manifest PUT) hand back the body unparsed: read the OCI errors out of it.
        OciDistributionError::ServerError { code, message, .. } => {
            let detail = match serde_json::from_str::<OciEnvelope>(&message) {
                Ok(envelope) if !envelope.errors.is_empty() => envelope_messages(&envelope),
                _ => body_excerpt(&message),
            };
            status(code, detail, credentials)
        }
        OciDistributionError::DigestError(e) => HttpError::Decode(format!("digest: {e}")),
        OciDistributionError::UrlParseError(e) => HttpError::Request(e),
        OciDistributionError::IoError(e) => HttpError::Transport(e.to_string()),
        OciDistributionError::RegistryNoDigestError
        | OciDistributionError::RegistryNoLocationError
        | OciDistributionError::SpecViolationError(_)
        | OciDistributionError::JsonError(_)
        | OciDistributionError::ManifestEncodingError(_)
        | OciDistributionError::ManifestParsingError(_)
        | OciDistributionError::VersionedParsingError(_)
        | OciDistributionError::RegistryTokenDecodeError(_)
        | OciDistributionError::HeaderValueError(_) => HttpError::Decode(e.to_string()),
        other => HttpError::Request(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_like_people_read_them() {
        let mut tags: Vec<String> = [
            "latest",
            "1.9.0",
            "1.10.0",
            "1.4.2",
            "1.4.2-rc1",
            "v2.0.0",
            "staging",
            "1.4.10",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        tags.sort_by(|a, b| version_cmp(b, a));
        assert_eq!(
            tags,
            [
                "v2.0.0",
                "1.10.0",
                "1.9.0",
                "1.4.10",
                "1.4.2",
                "1.4.2-rc1",
                "latest",
                "staging"
            ]
        );
        assert_eq!(version_cmp("1.4.2", "1.4.2.1"), Ordering::Less);
    }

    #[test]
    fn environment_tags_come_first_within_the_bound() {
        let listed: Vec<String> = ["1.0.0", "1.1.0", "1.2.0", "prod", "staging", "latest"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            choose_tags(&listed, ["staging", "prod", "dev"], 4),
            ["staging", "prod", "1.2.0", "1.1.0"]
        );
        assert_eq!(choose_tags(&listed, ["prod"], 1), ["prod"]);
        assert_eq!(choose_tags(&listed, [], 100).len(), 6);
    }

    #[test]
    fn manifests_without_media_type_are_told_by_their_shape() {
        let m = parse_manifest(br#"{"schemaVersion":2,"config":{"digest":"sha256:a","size":2},"layers":[{"digest":"sha256:b","size":40}]}"#, None).unwrap();
        assert_eq!(m.media_type(), OCI_MANIFEST);
        let Manifest::Image { config, layers, .. } = &m else {
            panic!()
        };
        assert_eq!(image_size(config, layers), 42);
        let m = parse_manifest(
            br#"{"schemaVersion":2,"manifests":[]}"#,
            Some(&format!("{DOCKER_LIST}; charset=utf-8")),
        )
        .unwrap();
        assert_eq!(m.media_type(), DOCKER_LIST);
        assert!(parse_manifest(br#"{"schemaVersion":1,"fsLayers":[]}"#, None).is_err());
        assert!(parse_manifest(b"{", None).is_err());
    }

    #[test]
    fn config_gives_created_and_labels() {
        let c = parse_config(
            br#"{"created":"2024-05-01T10:00:00.123456789Z","architecture":"amd64","os":"linux",
                "config":{"Labels":{"org.opencontainers.image.revision":"abc1234","org.opencontainers.image.version":"1.4.2"}}}"#,
        )
        .unwrap();
        assert_eq!(c.created.unwrap().to_rfc3339(), "2024-05-01T10:00:00.123456789+00:00");
        let t = image_tag("1.4.2", "sha256:x", OCI_MANIFEST, vec![], Some(3), Some(&c));
        assert_eq!(t.revision.as_deref(), Some("abc1234"));
        assert_eq!(t.version.as_deref(), Some("1.4.2"));
        assert_eq!(t.base_name, None);
        let bare = parse_config(br#"{"config":{"Labels":null}}"#).unwrap();
        assert_eq!(bare, ImageConfig::default());
    }

    #[test]
    fn attestations_are_not_platforms() {
        let idx = parse_manifest(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:arm","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
              {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:att","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}"#,
            None,
        )
        .unwrap();
        let Manifest::Index { manifests, .. } = &idx else {
            panic!()
        };
        assert_eq!(platforms(manifests), ["linux/arm64/v8"]);
        assert_eq!(pick_platform(manifests).unwrap().digest, "sha256:arm");
        assert_eq!(runnable_children(manifests).len(), 1);
    }

    #[test]
    fn digest_of_bytes() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
