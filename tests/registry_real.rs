//! The registry source against Debian's real `docker-registry` (distribution 2.8) on a free port:
//! images seeded through the registry API with plain HTTP, then read, described and retagged
//! through `RegistryClient`, `remote_digest` and `RegistryPoller`. A small TCP proxy in front of
//! the registry counts requests and bytes, so "no PUT" and the cost of a retag are measured, not
//! assumed. Without the binary the tests skip loudly, unless `FLIGHTDECK_REQUIRE_SERVERS=1`.
//!
//! The retag figures: `cargo test --test registry_real retag -- --nocapture`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck::config::RegistrySourceConfig;
use flightdeck::model::{ImageRef, PromotionStrategy, RegistryKind, Service, ServiceJobs, Update};
use flightdeck::sources::http::HttpError;
use flightdeck::sources::registry::map::{self, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use flightdeck::sources::registry::{RegistryClient, RegistryPoller, remote_digest};
use flightdeck::sources::retag::RetagOutcome;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

const BINARY: &str = "/usr/bin/docker-registry";
const REPO: &str = "shop/payments-api";

// ---------------------------------------------------------------------------------------------
// The registry process

struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- docker-registry log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

impl Registry {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The registry on a free port with its storage in a temp dir, ready; `None` when the binary is
/// missing and servers are not required.
async fn start_registry(test: &str) -> Option<Registry> {
    let binary = std::env::var("FLIGHTDECK_DOCKER_REGISTRY").unwrap_or_else(|_| BINARY.to_string());
    if !Path::new(&binary).exists() {
        if std::env::var("FLIGHTDECK_REQUIRE_SERVERS").is_ok_and(|v| v.trim() == "1") {
            panic!("{test}: {binary} is not installed (FLIGHTDECK_REQUIRE_SERVERS=1)");
        }
        eprintln!(
            "\n!!!! SKIPPED {test}: {binary} is not installed (apt-get install docker-registry)\n\
             !!!! (set FLIGHTDECK_REQUIRE_SERVERS=1 to make this a failure)\n"
        );
        return None;
    }
    for _ in 0..3 {
        let dir = tempfile::Builder::new()
            .prefix("flightdeck-registry-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("registry.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(&binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let mut registry = Registry {
            child,
            port,
            _dir: dir,
            log,
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(r) = http.get(format!("{}/v2/", registry.url())).send().await
                && r.status() == 200
            {
                return Some(registry);
            }
            if let Ok(Some(_)) = registry.child.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(&registry.log).unwrap_or_default();
        eprintln!("docker-registry did not come up on {port}:\n{log}");
    }
    panic!("{test}: docker-registry would not start");
}

// ---------------------------------------------------------------------------------------------
// Seeding through the registry API, with plain reqwest

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

async fn upload_blob(http: &reqwest::Client, base: &str, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let r = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "start upload");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let location = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = http
        .put(format!("{location}{sep}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "finish upload: {}", r.text().await.unwrap_or_default());
    digest
}

async fn put_manifest(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> String {
    let r = http
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("content-type", media_type)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let digest = r
        .headers()
        .get("docker-content-digest")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        status,
        201,
        "PUT manifest {reference}: {}",
        r.text().await.unwrap_or_default()
    );
    let digest = digest.expect("Docker-Content-Digest");
    assert_eq!(digest, sha256(bytes));
    digest
}

/// One single-platform image: config (with labels) and one layer. Returns the manifest's bytes,
/// digest and size of config + layer.
#[allow(clippy::too_many_arguments)]
async fn seed_image(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    reference: &str,
    docker_types: bool,
    arch: &str,
    created: &str,
    labels: serde_json::Value,
) -> (Vec<u8>, String, u64) {
    let layer = format!("layer of {repo} {reference} {arch}").repeat(40).into_bytes();
    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": { "Labels": labels },
        "rootfs": { "type": "layers", "diff_ids": [sha256(&layer)] }
    }))
    .unwrap();
    let config_digest = upload_blob(http, base, repo, &config).await;
    let layer_digest = upload_blob(http, base, repo, &layer).await;
    let (media_type, config_type, layer_type) = if docker_types {
        (
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (
            OCI_MANIFEST,
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
    };
    // Pretty-printed on purpose: a client that re-serialised would change the digest.
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": { "mediaType": config_type, "digest": config_digest, "size": config.len() },
        "layers": [ { "mediaType": layer_type, "digest": layer_digest, "size": layer.len() } ]
    }))
    .unwrap();
    let digest = put_manifest(http, base, repo, reference, media_type, &manifest).await;
    (manifest, digest, (config.len() + layer.len()) as u64)
}

struct Seeded {
    /// `1.4.2`: an OCI image with revision and version labels.
    single: (Vec<u8>, String, u64),
    /// `1.4.1`: a Docker v2 schema 2 image, older.
    docker: (Vec<u8>, String, u64),
    /// `2.0.0`: an OCI index of linux/amd64 and linux/arm64/v8.
    index: (Vec<u8>, String),
    amd64_size: u64,
    arm64_size: u64,
}

async fn seed(base: &str) -> Seeded {
    let http = reqwest::Client::new();
    let labels = |rev: &str, version: &str| {
        json!({
            "org.opencontainers.image.revision": rev,
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.base.name": "docker.io/library/tomcat:9.0-jdk17",
            "org.opencontainers.image.base.digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"
        })
    };
    let single = seed_image(
        &http,
        base,
        REPO,
        "1.4.2",
        false,
        "amd64",
        "2024-05-02T10:00:00Z",
        labels("abc1234def5678", "1.4.2"),
    )
    .await;
    let docker = seed_image(
        &http,
        base,
        REPO,
        "1.4.1",
        true,
        "amd64",
        "2024-05-01T10:00:00Z",
        labels("0011223344", "1.4.1"),
    )
    .await;
    // The index's children go in by digest first, then the index under its tag.
    let (amd, amd_digest, amd64_size) = seed_image(
        &http,
        base,
        REPO,
        "tmp-amd64",
        false,
        "amd64",
        "2024-05-03T10:00:00Z",
        labels("feedfacecafe", "2.0.0"),
    )
    .await;
    let (arm, arm_digest, arm64_size) = seed_image(
        &http,
        base,
        REPO,
        "tmp-arm64",
        false,
        "arm64-a-longer-architecture-name",
        "2024-05-03T10:00:01Z",
        labels("feedfacecafe", "2.0.0"),
    )
    .await;
    let index = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            { "mediaType": OCI_MANIFEST, "digest": amd_digest, "size": amd.len(),
              "platform": { "architecture": "amd64", "os": "linux" } },
            { "mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm.len(),
              "platform": { "architecture": "arm64", "os": "linux", "variant": "v8" } }
        ]
    }))
    .unwrap();
    let index_digest = put_manifest(&http, base, REPO, "2.0.0", OCI_INDEX, &index).await;
    // The children keep their helper tags (`tmp-*`): they sort below the versions.
    Seeded {
        single,
        docker,
        index: (index, index_digest),
        amd64_size,
        arm64_size,
    }
}

#[path = "common/counting_proxy.rs"]
mod counting_proxy;
use counting_proxy::proxy;

fn registry_config(url: &str) -> RegistrySourceConfig {
    RegistrySourceConfig {
        name: "registry".to_string(),
        url: url.parse().unwrap(),
        user: None,
        password: None,
        password_origin: None,
        // Never the machine's own ~/.docker/config.json.
        docker_config: Some(PathBuf::from("/nonexistent/flightdeck/config.json")),
        poll_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        tags: 30,
    }
}

async fn raw_manifest(base: &str, repo: &str, reference: &str) -> (Vec<u8>, String) {
    let r = reqwest::Client::new()
        .get(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("accept", map::MANIFEST_TYPES.join(", "))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    (r.bytes().await.unwrap().to_vec(), ct)
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tags_heads_and_descriptions() {
    let Some(registry) = start_registry("tags_heads_and_descriptions").await else {
        return;
    };
    let seeded = seed(&registry.url()).await;
    let client = RegistryClient::new(&registry_config(&registry.url())).unwrap();
    assert_eq!(client.host(), format!("127.0.0.1:{}", registry.port));

    let mut tags = client.list_tags(REPO).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["1.4.1", "1.4.2", "2.0.0", "tmp-amd64", "tmp-arm64"]);

    // HEAD: the index keeps its own digest; a missing tag is None.
    let head = client.head(REPO, "1.4.2").await.unwrap().unwrap();
    assert_eq!(head.digest, seeded.single.1);
    assert_eq!(
        client.head(REPO, "2.0.0").await.unwrap().unwrap().digest,
        seeded.index.1
    );
    assert_eq!(client.head(REPO, "9.9.9").await.unwrap(), None);
    assert_eq!(
        client.head(REPO, &seeded.single.1).await.unwrap().unwrap().digest,
        seeded.single.1
    );

    // One OCI image: labels, build time, size, digest = sha256 of the exact bytes.
    let t = client.describe(REPO, "1.4.2").await.unwrap().unwrap();
    assert_eq!(t.tag, "1.4.2");
    assert_eq!(t.digest, seeded.single.1);
    assert_eq!(t.digest, map::sha256_digest(&seeded.single.0));
    assert_eq!(t.media_type, OCI_MANIFEST);
    assert_eq!(t.revision.as_deref(), Some("abc1234def5678"));
    assert_eq!(t.version.as_deref(), Some("1.4.2"));
    assert_eq!(t.base_name.as_deref(), Some("docker.io/library/tomcat:9.0-jdk17"));
    assert!(t.base_digest.as_deref().unwrap().starts_with("sha256:1111"));
    assert_eq!(t.size, Some(seeded.single.2));
    assert_eq!(t.pushed_at.unwrap().to_rfc3339(), "2024-05-02T10:00:00+00:00");
    assert!(t.platforms.is_empty());
    assert_eq!(t.scan, None);

    // A Docker v2 schema 2 image keeps its media type.
    let d = client.describe(REPO, "1.4.1").await.unwrap().unwrap();
    assert_eq!(d.media_type, DOCKER_MANIFEST);
    assert_eq!(d.digest, seeded.docker.1);
    assert_eq!(d.version.as_deref(), Some("1.4.1"));

    // The index: its own digest, both platforms, amd64's labels, the larger platform's size.
    let i = client.describe(REPO, "2.0.0").await.unwrap().unwrap();
    assert_eq!(i.digest, seeded.index.1);
    assert_eq!(i.digest, map::sha256_digest(&seeded.index.0));
    assert_eq!(i.media_type, OCI_INDEX);
    assert_eq!(i.platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(i.revision.as_deref(), Some("feedfacecafe"));
    assert_eq!(i.pushed_at.unwrap().to_rfc3339(), "2024-05-03T10:00:00+00:00");
    assert!(seeded.arm64_size > seeded.amd64_size);
    assert_eq!(i.size, Some(seeded.arm64_size));

    assert_eq!(client.describe(REPO, "9.9.9").await.unwrap(), None);
    // An unknown repository is an error the health line can show, not an empty one.
    let e = client.list_tags("shop/nope").await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
}

#[tokio::test]
async fn tag_listing_follows_pages() {
    let Some(registry) = start_registry("tag_listing_follows_pages").await else {
        return;
    };
    let seeded = seed(&registry.url()).await;
    let http = reqwest::Client::new();
    for t in ["a1", "a2", "a3", "a4", "a5", "a6"] {
        put_manifest(&http, &registry.url(), REPO, t, OCI_MANIFEST, &seeded.single.0).await;
    }
    let proxy = proxy(registry.port).await;
    let client = RegistryClient::new(&registry_config(&format!("http://127.0.0.1:{}", proxy.port)))
        .unwrap()
        .with_tag_page(4);
    let listing = client.tag_listing(REPO).await.unwrap();
    assert!(listing.complete);
    assert_eq!(listing.tags.len(), 11, "{:?}", listing.tags);
    let mut unique = listing.tags.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 11);
    let traffic = proxy.take();
    let pages = traffic.count("GET", "/tags/list");
    let first_page = reqwest::get(format!("{}/v2/{REPO}/tags/list?n=4", registry.url()))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["tags"]
        .as_array()
        .unwrap()
        .len();
    if first_page > 4 {
        // This registry ignores `n` and `last` (Debian's distribution 2.8 does): the second,
        // identical page brings nothing new and ends the listing.
        assert_eq!(pages, 2, "{:?}", traffic.requests);
    } else {
        // 11 tags by 4: three pages with tags and the empty one that proves the end.
        assert_eq!(pages, 4, "{:?}", traffic.requests);
    }
}

#[tokio::test]
async fn retag_moves_once_then_is_already_there() {
    let Some(registry) = start_registry("retag_moves_once_then_is_already_there").await else {
        return;
    };
    let seeded = seed(&registry.url()).await;
    let proxy = proxy(registry.port).await;
    let client = RegistryClient::new(&registry_config(&format!("http://127.0.0.1:{}", proxy.port))).unwrap();
    let digest = seeded.single.1.clone();

    // Warm the connection and the client as a running cockpit would be; measure the retag alone.
    client.head(REPO, "1.4.2").await.unwrap();
    proxy.take();
    let started = Instant::now();
    let outcome = client.retag(REPO, &digest, "staging").await.unwrap();
    let wall = started.elapsed();
    let traffic = proxy.take();
    assert_eq!(outcome, RetagOutcome::Moved { previous: None });
    eprintln!(
        "retag (HEAD staging, GET by digest, PUT staging) of a {}-byte manifest: {:.1} ms wall, \
         {} bytes sent, {} bytes received, {} requests: {:?}",
        seeded.single.0.len(),
        wall.as_secs_f64() * 1000.0,
        traffic.sent,
        traffic.received,
        traffic.requests.len(),
        traffic.requests
    );
    assert_eq!(traffic.count("PUT", "/manifests/staging"), 1);
    assert_eq!(traffic.count("GET", &format!("/manifests/{digest}")), 1);
    assert_eq!(traffic.count("GET", "/blobs/"), 0, "a retag reads no blob");
    assert_eq!(traffic.count("HEAD", "/blobs/"), 0, "a retag touches no blob");

    // The registry stored the exact bytes under the new tag.
    assert_eq!(client.head(REPO, "staging").await.unwrap().unwrap().digest, digest);
    let (bytes, content_type) = raw_manifest(&registry.url(), REPO, "staging").await;
    assert_eq!(bytes, seeded.single.0);
    assert_eq!(content_type, OCI_MANIFEST);

    // Again: nothing to do, and nothing written.
    proxy.take();
    let again = client.retag(REPO, &digest, "staging").await.unwrap();
    assert_eq!(again, RetagOutcome::AlreadyThere);
    let traffic = proxy.take();
    assert_eq!(traffic.count("PUT", ""), 0, "{:?}", traffic.requests);
    assert_eq!(traffic.count("GET", "/manifests/"), 0, "{:?}", traffic.requests);

    // Promote the multi-arch index over it: the index's digest survives, the previous is told.
    let moved = client.retag(REPO, &seeded.index.1, "staging").await.unwrap();
    assert_eq!(
        moved,
        RetagOutcome::Moved {
            previous: Some(digest.clone())
        }
    );
    assert_eq!(
        client.head(REPO, "staging").await.unwrap().unwrap().digest,
        seeded.index.1
    );
    let (bytes, content_type) = raw_manifest(&registry.url(), REPO, "staging").await;
    assert_eq!(bytes, seeded.index.0);
    assert_eq!(content_type, OCI_INDEX);

    // A Docker v2 manifest keeps its media type when moved.
    client.retag(REPO, &seeded.docker.1, "prod").await.unwrap();
    let (bytes, content_type) = raw_manifest(&registry.url(), REPO, "prod").await;
    assert_eq!(bytes, seeded.docker.0);
    assert_eq!(content_type, DOCKER_MANIFEST);

    // A digest the registry does not have is refused before anything is written.
    proxy.take();
    let missing = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let e = client.retag(REPO, missing, "staging").await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    assert_eq!(proxy.take().count("PUT", ""), 0);
    assert_eq!(
        client.head(REPO, "staging").await.unwrap().unwrap().digest,
        seeded.index.1
    );
}

#[tokio::test]
async fn remote_digest_of_a_loopback_reference() {
    let Some(registry) = start_registry("remote_digest_of_a_loopback_reference").await else {
        return;
    };
    let seeded = seed(&registry.url()).await;
    let no_config = Path::new("/nonexistent/flightdeck/config.json");
    let timeout = Duration::from_secs(5);
    let reference = format!("127.0.0.1:{}/{REPO}:1.4.2", registry.port);
    assert_eq!(
        remote_digest(&reference, Some(no_config), timeout).await.unwrap(),
        Some(seeded.single.1.clone())
    );
    let index = format!("localhost:{}/{REPO}:2.0.0", registry.port);
    assert_eq!(
        remote_digest(&index, Some(no_config), timeout).await.unwrap(),
        Some(seeded.index.1.clone())
    );
    let missing = format!("127.0.0.1:{}/{REPO}:0.0.1", registry.port);
    assert_eq!(remote_digest(&missing, Some(no_config), timeout).await.unwrap(), None);
    // Nothing listening: an error, not a panic and not "no such tag".
    let port = free_port();
    let down = format!("127.0.0.1:{port}/{REPO}:1.4.2");
    let e = remote_digest(&down, Some(no_config), timeout).await.unwrap_err();
    assert!(matches!(e, HttpError::Connect(_) | HttpError::Transport(_)), "{e:?}");
}

fn service(name: &str, repository: &str, env_tags: &[(&str, &str)]) -> Service {
    let mut s = Service::new(name, ServiceJobs::default());
    s.image = Some(ImageRef {
        source: "registry".to_string(),
        registry: RegistryKind::Oci,
        repository: repository.to_string(),
        env_tags: env_tags
            .iter()
            .map(|(e, t)| (e.to_string(), t.to_string()))
            .collect::<BTreeMap<_, _>>(),
        base_image: None,
        promotion: PromotionStrategy::Retag,
    });
    s
}

#[tokio::test]
async fn poller_sends_the_repository_and_describes_each_digest_once() {
    let Some(registry) = start_registry("poller_sends_the_repository").await else {
        return;
    };
    let seeded = seed(&registry.url()).await;
    let proxy = proxy(registry.port).await;
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let cfg = registry_config(&url);
    RegistryClient::new(&cfg)
        .unwrap()
        .retag(REPO, &seeded.single.1, "staging")
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let services = vec![
        service("payments-api", REPO, &[("staging", "staging"), ("production", "prod")]),
        service("ghost", "shop/ghost", &[]),
        {
            let mut elsewhere = service("on-ecr", REPO, &[]);
            elsewhere.image.as_mut().unwrap().source = "ecr".to_string();
            elsewhere
        },
    ];
    let mut poller = RegistryPoller::new(cfg, services, tx, Arc::new(Notify::new())).unwrap();
    proxy.take();

    // The ghost repository fails; payments-api is still delivered.
    let e = poller.poll_once().await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    let mut images = None;
    let mut failed = None;
    while let Ok(u) = rx.try_recv() {
        match u {
            Update::Images { service, images: i } => {
                assert_eq!(service, "payments-api", "only watched services of this source");
                images = Some(i);
            }
            Update::SourceFailed { source, error, .. } => failed = Some((source, error)),
            other => panic!("unexpected {other:?}"),
        }
    }
    let images = images.expect("an Images update");
    let (source, error) = failed.expect("a failure report");
    assert_eq!(source, "registry");
    assert!(error.contains("404"), "{error}");

    assert_eq!(images.registry, RegistryKind::Oci);
    assert_eq!(images.source, "registry");
    assert_eq!(images.reference, format!("127.0.0.1:{}/{REPO}", proxy.port));
    assert_eq!(images.repository, REPO);
    assert!(images.complete, "every listed tag was read");
    assert_eq!(images.env_tags.get("production").map(String::as_str), Some("prod"));
    let order: Vec<&str> = images.tags.iter().map(|t| t.tag.as_str()).collect();
    // Newest build first (the arm64 child was built a second after amd64), then by tag.
    assert_eq!(order, ["tmp-arm64", "2.0.0", "tmp-amd64", "1.4.2", "staging", "1.4.1"]);
    assert_eq!(images.env_digest("staging"), Some(seeded.single.1.as_str()));
    assert_eq!(images.env_digest("production"), None);
    let staging = images.tag("staging").unwrap();
    assert_eq!(staging.revision.as_deref(), Some("abc1234def5678"));
    assert_eq!(images.image_for(Some("1.4.2"), Some("abc1234")).unwrap().tag, "1.4.2");
    assert_eq!(
        images.tag("2.0.0").unwrap().platforms,
        ["linux/amd64", "linux/arm64/v8"]
    );

    // First poll: one description per digest (1.4.2 and staging share one).
    let first = proxy.take();
    assert_eq!(
        first.count("GET", &format!("/manifests/{}", seeded.single.1)),
        1,
        "{:?}",
        first.requests
    );

    // Second poll: listing and HEADs only, nothing described again.
    let _ = poller.poll_once().await;
    let second = proxy.take();
    assert_eq!(second.count("GET", "/manifests/"), 0, "{:?}", second.requests);
    assert_eq!(second.count("GET", "/blobs/"), 0, "{:?}", second.requests);
    assert_eq!(second.count("HEAD", "/manifests/"), 6, "{:?}", second.requests);

    // A bound of three tags: environment tags first, then the newest versions; not complete.
    let mut cfg = registry_config(&url);
    cfg.tags = 3;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let services = vec![service(
        "payments-api",
        REPO,
        &[("staging", "staging"), ("production", "prod")],
    )];
    let mut bounded = RegistryPoller::new(cfg, services, tx, Arc::new(Notify::new())).unwrap();
    bounded.poll_once().await.unwrap();
    let Some(Update::Images { images, .. }) = rx.recv().await else {
        panic!("an Images update")
    };
    let mut tags: Vec<&str> = images.tags.iter().map(|t| t.tag.as_str()).collect();
    tags.sort();
    assert_eq!(tags, ["1.4.2", "2.0.0", "staging"]);
    assert!(!images.complete);
    assert!(matches!(rx.recv().await, Some(Update::SourceOk { .. })));
}
