//! An OCI / Docker registry v2 through oci-client: tags, manifest digests, what a tag holds, and
//! retagging by PUT of the exact manifest bytes. oci-client does the token dance (`401` with
//! `Www-Authenticate: Bearer realm=…` → token → retry, or Basic); this module maps its errors
//! onto [`HttpError`] and keeps every manifest request's `Accept` to all four manifest types.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use oci_client::Reference;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;

use super::credentials::{self, Auth, Credentials};
use super::map::{self, MANIFEST_TYPES, Manifest};
use crate::config::RegistrySourceConfig;
use crate::model::ImageTag;
use crate::sources::http::HttpError;
use crate::sources::retag::RetagOutcome;

/// Tags asked for per page of `tags/list`.
const TAG_PAGE: usize = 1000;
/// Pages read at most (a runaway server, or one that ignores `last`).
const MAX_TAG_PAGES: usize = 100;
/// Config blobs larger than this are not read (they are a few KiB).
const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// Child manifests of an index read at once.
const CHILD_CONCURRENCY: usize = 4;

/// A parsed manifest, its digest and its length in bytes.
type Fetched = (Manifest, String, u64);

/// What a HEAD of a manifest says. oci-client answers a HEAD with the digest only, so the media
/// type and size are known only when a GET was needed (a registry without `Docker-Content-Digest`).
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestHead {
    pub digest: String,
    pub media_type: Option<String>,
    pub size: Option<u64>,
}

/// All tags of a repository, and whether the listing reached its end.
#[derive(Clone, Debug, PartialEq)]
pub struct TagListing {
    pub tags: Vec<String>,
    pub complete: bool,
}

pub struct RegistryClient {
    oci: oci_client::Client,
    /// `host[:port]` as references spell it (`docker.io` for Docker Hub).
    host: String,
    auth: RegistryAuth,
    credentials: Credentials,
    timeout: Duration,
    tag_page: usize,
}

impl RegistryClient {
    /// A client for a configured registry: http for an `http://` URL, https otherwise;
    /// credentials from the config, else the Docker config, else anonymous.
    pub fn new(cfg: &RegistrySourceConfig) -> Result<RegistryClient, String> {
        if cfg.url.host_str().is_none_or(str::is_empty) {
            return Err(format!("registry `{}`: {} has no host", cfg.name, cfg.url));
        }
        let host = cfg.host();
        let creds = credentials::resolve(
            &host,
            cfg.user.as_deref(),
            cfg.password.as_ref(),
            cfg.docker_config.as_deref(),
        );
        let protocol = if cfg.url.scheme() == "http" {
            ClientProtocol::Http
        } else {
            ClientProtocol::HttpsExcept(Vec::new())
        };
        Ok(RegistryClient::with(host, protocol, creds, cfg.timeout))
    }

    fn with(host: String, protocol: ClientProtocol, mut credentials: Credentials, timeout: Duration) -> RegistryClient {
        let auth = match &credentials.auth {
            Auth::Anonymous => RegistryAuth::Anonymous,
            Auth::Basic { user, password } => RegistryAuth::Basic(user.clone(), password.expose().to_string()),
            Auth::IdentityToken(_) => {
                // oci-client cannot trade an OAuth refresh token for a registry token.
                credentials.problem = Some(format!(
                    "{} holds an identity token, which is not supported: configure user and password",
                    credentials.origin
                ));
                RegistryAuth::Anonymous
            }
        };
        let config = ClientConfig {
            protocol,
            read_timeout: Some(timeout),
            connect_timeout: Some(timeout.min(Duration::from_secs(5))),
            user_agent: concat!("flightdeck/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        RegistryClient {
            oci: oci_client::Client::new(config),
            host,
            auth,
            credentials,
            timeout,
            tag_page: TAG_PAGE,
        }
    }

    /// Ask for `n` tags per page of `tags/list` (default 1000).
    pub fn with_tag_page(mut self, n: usize) -> RegistryClient {
        self.tag_page = n.max(1);
        self
    }

    /// `host[:port]` of the registry as image references spell it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where the credentials came from, and why they are anonymous if they should not be.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn reference(&self, repository: &str, tag_or_digest: &str) -> Reference {
        if tag_or_digest.contains(':') {
            Reference::with_digest(self.host.clone(), repository.to_string(), tag_or_digest.to_string())
        } else {
            Reference::with_tag(self.host.clone(), repository.to_string(), tag_or_digest.to_string())
        }
    }

    /// Run one oci-client call within the timeout, with its error mapped.
    async fn call<T>(&self, fut: impl Future<Output = Result<T, OciDistributionError>>) -> Result<T, HttpError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(HttpError::Timeout),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.map_error(e)),
        }
    }

    /// As [`call`](Self::call), with "no such manifest" as `None`.
    async fn call_opt<T>(
        &self,
        fut: impl Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<Option<T>, HttpError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(HttpError::Timeout),
            Ok(Ok(v)) => Ok(Some(v)),
            Ok(Err(e)) if manifest_unknown(&e) => Ok(None),
            Ok(Err(e)) => Err(self.map_error(e)),
        }
    }

    fn map_error(&self, e: OciDistributionError) -> HttpError {
        let whose = || match &self.credentials.problem {
            Some(p) => format!("{}: {p}", self.credentials.origin),
            None => self.credentials.origin.clone(),
        };
        map::oci_error(e, &whose())
    }

    /// Every tag, following `n`/`last` pages until a page brings nothing new. oci-client does
    /// not show the `Link` header, and a registry may cap `n` below what was asked, so a short
    /// page does not prove the end; and some registries (distribution 2.8 as Debian ships it)
    /// ignore `n` and `last` and answer every tag unsorted each time, which ends the loop on the
    /// second page.
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<String>, HttpError> {
        Ok(self.tag_listing(repository).await?.tags)
    }

    /// As [`list_tags`](Self::list_tags), saying whether the listing reached its end.
    pub async fn tag_listing(&self, repository: &str) -> Result<TagListing, HttpError> {
        let r = self.reference(repository, "latest");
        let mut tags: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut last: Option<String> = None;
        for _ in 0..MAX_TAG_PAGES {
            let page = self
                .call(self.oci.list_tags(&r, &self.auth, Some(self.tag_page), last.as_deref()))
                .await?;
            let page_last = page.tags.last().cloned();
            let before = tags.len();
            for t in page.tags {
                if seen.insert(t.clone()) {
                    tags.push(t);
                }
            }
            match page_last {
                Some(l) if tags.len() > before => last = Some(l),
                _ => return Ok(TagListing { tags, complete: true }),
            }
        }
        tracing::warn!(%repository, "registry tag listing stopped after {MAX_TAG_PAGES} pages");
        Ok(TagListing { tags, complete: false })
    }

    /// The digest a tag (or digest) resolves to, from a HEAD with all four manifest types in
    /// `Accept`, so an index keeps its own digest. `None` when there is no such manifest.
    pub async fn head(&self, repository: &str, reference: &str) -> Result<Option<ManifestHead>, HttpError> {
        let r = self.reference(repository, reference);
        let digest = self.call_opt(self.oci.fetch_manifest_digest(&r, &self.auth)).await?;
        Ok(digest.map(|digest| ManifestHead {
            digest,
            media_type: None,
            size: None,
        }))
    }

    /// The raw manifest bytes and their digest (`Docker-Content-Digest`, checked against the
    /// bytes, or the bytes' sha256 when the registry sends none).
    async fn manifest_raw(&self, r: &Reference) -> Result<Option<(bytes::Bytes, String)>, HttpError> {
        let got = self
            .call_opt(self.oci.pull_manifest_raw(r, &self.auth, &MANIFEST_TYPES))
            .await?;
        let Some((bytes, digest)) = got else {
            return Ok(None);
        };
        if digest.starts_with("sha256:") {
            let actual = map::sha256_digest(&bytes);
            if actual != digest {
                return Err(HttpError::Decode(format!(
                    "manifest {r} was served as {digest} but its bytes are {actual}"
                )));
            }
        }
        Ok(Some((bytes, digest)))
    }

    async fn manifest(&self, r: &Reference) -> Result<Option<Fetched>, HttpError> {
        let Some((bytes, digest)) = self.manifest_raw(r).await? else {
            return Ok(None);
        };
        let manifest = map::parse_manifest(&bytes, None).map_err(|e| HttpError::Decode(format!("{r}: {e}")))?;
        Ok(Some((manifest, digest, bytes.len() as u64)))
    }

    async fn config(&self, repository: &str, config: &map::Descriptor) -> Result<Option<map::ImageConfig>, HttpError> {
        if config.size > MAX_CONFIG_BYTES {
            return Ok(None);
        }
        let r = self.reference(repository, &config.digest);
        let mut blob: Vec<u8> = Vec::with_capacity(config.size as usize);
        self.call(self.oci.pull_blob(&r, config.digest.as_str(), &mut blob))
            .await?;
        map::parse_config(&blob)
            .map(Some)
            .map_err(|e| HttpError::Decode(format!("{repository}@{}: {e}", config.digest)))
    }

    /// What a tag (or digest) holds: digest, media type, platforms, size, and from the image
    /// config its build time and OCI labels. For an index the config is the linux/amd64 child's
    /// (else the first's) and the size its largest platform's. `None` when there is no such tag.
    pub async fn describe(&self, repository: &str, tag: &str) -> Result<Option<ImageTag>, HttpError> {
        let r = self.reference(repository, tag);
        let Some((manifest, digest, _)) = self.manifest(&r).await? else {
            return Ok(None);
        };
        let media_type = manifest.media_type().to_string();
        match manifest {
            Manifest::Image { config, layers, .. } => {
                let cfg = self.config(repository, &config).await?;
                let size = map::image_size(&config, &layers);
                Ok(Some(map::image_tag(
                    tag,
                    &digest,
                    &media_type,
                    Vec::new(),
                    Some(size),
                    cfg.as_ref(),
                )))
            }
            Manifest::Index { manifests, .. } => {
                let platforms = map::platforms(&manifests);
                let picked = map::pick_platform(&manifests).map(|d| d.digest.clone());
                let child_digests: Vec<String> = map::runnable_children(&manifests)
                    .into_iter()
                    .map(|d| d.digest.clone())
                    .collect();
                let children: Vec<(String, Option<Fetched>)> = stream::iter(child_digests)
                    .map(|digest| async move {
                        let r = self.reference(repository, &digest);
                        self.manifest(&r).await.map(|m| (digest, m))
                    })
                    .buffered(CHILD_CONCURRENCY)
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<Result<_, _>>()?;
                let mut size: Option<u64> = None;
                let mut cfg = None;
                for (child_digest, child) in &children {
                    let Some((Manifest::Image { config, layers, .. }, _, _)) = child else {
                        continue;
                    };
                    let s = map::image_size(config, layers);
                    size = Some(size.map_or(s, |m| m.max(s)));
                    if picked.as_deref() == Some(child_digest.as_str()) {
                        cfg = self.config(repository, config).await?;
                    }
                }
                Ok(Some(map::image_tag(
                    tag,
                    &digest,
                    &media_type,
                    platforms,
                    size,
                    cfg.as_ref(),
                )))
            }
        }
    }

    /// Point `new_tag` at `digest`: the manifest's exact bytes, fetched by digest and checked,
    /// PUT under the new tag with its own media type. No blob is touched and the JSON is never
    /// re-serialised, so the digest cannot change. A tag already there is left alone.
    pub async fn retag(&self, repository: &str, digest: &str, new_tag: &str) -> Result<RetagOutcome, HttpError> {
        let previous = self.head(repository, new_tag).await?.map(|h| h.digest);
        if previous.as_deref() == Some(digest) {
            return Ok(RetagOutcome::AlreadyThere);
        }
        let source = self.reference(repository, digest);
        let Some((bytes, served)) = self.manifest_raw(&source).await? else {
            return Err(HttpError::Status {
                code: 404,
                retry_after: None,
                detail: format!("{repository}@{digest} is not in the registry"),
            });
        };
        let actual = map::sha256_digest(&bytes);
        if served != digest || actual != digest {
            return Err(HttpError::Decode(format!(
                "{repository}@{digest} came back as {actual}; not retagging"
            )));
        }
        let manifest = map::parse_manifest(&bytes, None).map_err(|e| HttpError::Decode(format!("{source}: {e}")))?;
        let content_type = http::HeaderValue::from_str(manifest.media_type())
            .map_err(|_| HttpError::Decode(format!("media type `{}` is not a header value", manifest.media_type())))?;
        let target = self.reference(repository, new_tag);
        let location = self
            .call(self.oci.push_manifest_raw(&target, bytes, content_type))
            .await?;
        let stored = match digest_in_location(&location) {
            Some(d) => d,
            // No digest in the Location: ask the registry what the tag holds now.
            None => self
                .head(repository, new_tag)
                .await?
                .map(|h| h.digest)
                .unwrap_or_default(),
        };
        if stored != digest {
            return Err(HttpError::Decode(format!(
                "the registry stored {repository}:{new_tag} as {stored}, not {digest}"
            )));
        }
        Ok(RetagOutcome::Moved { previous })
    }
}

/// The digest at the end of a manifest `Location` (`/v2/name/manifests/sha256:…`).
fn digest_in_location(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next().unwrap_or(location);
    let last = path.rsplit('/').next()?;
    (last.starts_with("sha256:") || last.starts_with("sha512:")).then(|| last.to_string())
}

fn manifest_unknown(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NotFound)),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        _ => false,
    }
}

/// Is this registry host on this machine (plain http, as local registries are)?
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The digest a registry serves now for any image reference (`tomcat:9.0-jdk17`,
/// `quay.io/wildfly/wildfly:26.1.3.Final`, `127.0.0.1:5000/library/tomcat:9.0-jdk17`):
/// anonymous or with the Docker config's credentials for its host; http for loopback hosts,
/// https otherwise. `None` when the registry has no such tag.
pub async fn remote_digest(
    reference: &str,
    docker_config: Option<&Path>,
    timeout: Duration,
) -> Result<Option<String>, HttpError> {
    let normalised = crate::model::normalise_reference(reference);
    let (host, rest) = normalised
        .split_once('/')
        .ok_or_else(|| HttpError::Request(format!("`{reference}` is not an image reference")))?;
    let (repository, tag_or_digest) = match rest.split_once('@') {
        Some((name, digest)) => (name.to_string(), digest.to_string()),
        None => match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
            _ => (rest.to_string(), "latest".to_string()),
        },
    };
    if repository.is_empty() || tag_or_digest.is_empty() {
        return Err(HttpError::Request(format!("`{reference}` is not an image reference")));
    }
    let host = host.to_string();
    let config = docker_config.map(Path::to_path_buf);
    let lookup_host = host.clone();
    // Credential helpers are processes: keep them off the async threads.
    let creds = tokio::task::spawn_blocking(move || credentials::resolve(&lookup_host, None, None, config.as_deref()))
        .await
        .unwrap_or_else(|e| Credentials::anonymous(Some(format!("credential lookup failed: {e}"))));
    let protocol = if is_loopback(&host) {
        ClientProtocol::HttpsExcept(vec![host.clone()])
    } else {
        ClientProtocol::Https
    };
    let client = RegistryClient::with(host, protocol, creds, timeout);
    Ok(client.head(&repository, &tag_or_digest).await?.map(|h| h.digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:5000",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
            "127.0.0.1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["docker.io", "quay.io", "10.0.0.1:5000", "registry.local:5000"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn digest_from_location() {
        assert_eq!(
            digest_in_location("http://127.0.0.1:5000/v2/shop/app/manifests/sha256:abc").as_deref(),
            Some("sha256:abc")
        );
        assert_eq!(digest_in_location("/v2/shop/app/manifests/staging"), None);
    }

    #[test]
    fn errors_map_to_statuses() {
        let envelope: oci_client::errors::OciEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
        )
        .unwrap();
        let e = map::oci_error(
            OciDistributionError::RegistryError {
                envelope,
                url: String::new(),
            },
            "anonymous",
        );
        assert_eq!(e.status(), Some(403));
        assert!(
            e.to_string().contains("requested access to the resource is denied"),
            "{e}"
        );
        let e = map::oci_error(
            OciDistributionError::UnauthorizedError { url: String::new() },
            "docker config auths",
        );
        assert_eq!(e.status(), Some(401));
        assert!(e.to_string().contains("docker config auths"));
        let tmr: oci_client::errors::OciEnvelope =
            serde_json::from_str(r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}"#).unwrap();
        let e = map::oci_error(
            OciDistributionError::RegistryError {
                envelope: tmr,
                url: String::new(),
            },
            "anonymous",
        );
        assert_eq!(e.status(), Some(429));
    }
}
