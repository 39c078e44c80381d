//! Promotion by retag against Debian's real `docker-registry`, side by side with `skopeo copy` of
//! the same tag, in one run. A realistic image (config with OCI labels, three layers of ~60 MB of
//! seeded pseudo-random bytes, OCI manifest under `1.4.2`) is seeded through the registry API; a
//! counting TCP proxy in front of the registry measures the bytes each promotion sends and
//! receives, and a clock its wall time. Every promotion goes to a fresh tag, and the new tag's
//! digest is checked against the source's after each one.
//!
//! Run: `cargo bench --bench promotion`. Figures are recorded in `docs/performance.md`.
//! Without `--bench` (as `cargo test --benches` runs it) one round is done, as a smoke check.
//! Without `/usr/bin/docker-registry` the bench says so and does nothing; without `skopeo` it
//! measures Flightdeck alone.

#[path = "../tests/common/servers.rs"]
mod servers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use flightdeck::config::RegistrySourceConfig;
use flightdeck::sources::registry::RegistryClient;
use flightdeck::sources::registry::map::OCI_MANIFEST;
use flightdeck::sources::retag::RetagOutcome;
use serde_json::json;
use sha2::{Digest, Sha256};

const NAME: &str = "promotion bench";
const REPO: &str = "shop/app";
const SOURCE_TAG: &str = "1.4.2";
/// Promotions measured per tool (after one unrecorded warm-up round).
const RUNS: usize = 20;
/// Layer sizes: ~60 MB in all, incompressible, as compressed layers are.
const LAYERS: [usize; 3] = [28 << 20, 20 << 20, 12 << 20];
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let runs = if bench_mode { RUNS } else { 1 };
    let Some(registry) = servers::docker_registry(NAME) else {
        return;
    };
    let skopeo = servers::which("skopeo");
    if skopeo.is_none() {
        servers::skip(NAME, "skopeo not installed: measuring Flightdeck's retag alone");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench(&registry, skopeo.as_deref(), runs));
}

async fn bench(registry: &servers::ChildServer, skopeo: Option<&Path>, runs: usize) {
    let direct = registry.url();
    let seeded = seed(&direct).await;
    let proxy = proxy(registry.port).await;
    let via_proxy = format!("http://127.0.0.1:{}", proxy.port);
    let host = format!("127.0.0.1:{}", proxy.port);
    // Checks go straight to the registry, past the proxy's counters.
    let checker = RegistryClient::new(&registry_config(&direct)).expect("registry client");
    let skopeo = skopeo.map(Skopeo::new);

    println!(
        "image {REPO}:{SOURCE_TAG} = {}: manifest {} bytes, config {} bytes, {} layers, {:.1} MB of blobs",
        seeded.digest,
        seeded.manifest_len,
        seeded.config_len,
        LAYERS.len(),
        seeded.blob_bytes as f64 / 1e6
    );
    println!("registry {direct}, counting proxy {via_proxy}, {runs} promotions per tool after a warm-up round");
    if let Some(s) = &skopeo {
        println!("{}", s.version().await);
    }

    // A running cockpit holds one client with a live connection: warm it as the cockpit would be.
    let warm = RegistryClient::new(&registry_config(&via_proxy)).expect("registry client");
    warm.head(REPO, SOURCE_TAG).await.expect("warm-up HEAD");

    let mut results: Vec<Series> = vec![
        Series::new("flightdeck retag, warm client"),
        Series::new("flightdeck retag, new client"),
    ];
    if skopeo.is_some() {
        results.push(Series::new("skopeo copy"));
    }
    let mut skopeo_start: Vec<f64> = Vec::new();
    // Round 0 is a warm-up (page cache, the skopeo binary, the registry's own caches), not recorded.
    for round in 0..=runs {
        let keep = round > 0;

        let tag = format!("staging-{round}");
        proxy.take();
        let started = Instant::now();
        let outcome = warm.retag(REPO, &seeded.digest, &tag).await.expect("retag");
        let wall = started.elapsed();
        let traffic = proxy.take();
        assert_eq!(outcome, RetagOutcome::Moved { previous: None });
        let digest = digest_of(&checker, &tag).await;
        if keep {
            results[0].push(wall, traffic, digest == seeded.digest);
        }

        let tag = format!("cold-{round}");
        proxy.take();
        let started = Instant::now();
        let client = RegistryClient::new(&registry_config(&via_proxy)).expect("registry client");
        let outcome = client.retag(REPO, &seeded.digest, &tag).await.expect("retag");
        let wall = started.elapsed();
        drop(client);
        let traffic = proxy.take();
        assert_eq!(outcome, RetagOutcome::Moved { previous: None });
        let digest = digest_of(&checker, &tag).await;
        if keep {
            results[1].push(wall, traffic, digest == seeded.digest);
        }

        if let Some(s) = &skopeo {
            let tag = format!("skopeo-{round}");
            proxy.take();
            let started = Instant::now();
            s.copy(&host, SOURCE_TAG, &tag).await;
            let wall = started.elapsed();
            let traffic = proxy.take();
            let digest = digest_of(&checker, &tag).await;
            if keep {
                results[2].push(wall, traffic, digest == seeded.digest);
            }
            // What starting the process costs by itself, to read skopeo's wall time against.
            let started = Instant::now();
            s.version().await;
            if keep {
                skopeo_start.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }

    for s in &results {
        assert!(
            s.name.starts_with("skopeo") || s.preserved == s.walls.len(),
            "{}: the new tag's digest differs from {}",
            s.name,
            seeded.digest
        );
    }
    report(&results, &seeded);
    if !skopeo_start.is_empty() {
        let (p50, p95) = median_p95(&skopeo_start);
        println!("skopeo process start alone (`skopeo --version`): p50 {p50:.1} ms, p95 {p95:.1} ms");
    }
}

// ---------------------------------------------------------------------------------------------
// Figures

#[derive(Default)]
struct Series {
    name: &'static str,
    walls: Vec<Duration>,
    up: Vec<u64>,
    down: Vec<u64>,
    /// Promotions whose new tag has the source's digest.
    preserved: usize,
    /// Requests of the first recorded promotion, grouped (`GET blobs` → 3).
    requests: BTreeMap<String, usize>,
}

impl Series {
    fn new(name: &'static str) -> Series {
        Series {
            name,
            ..Series::default()
        }
    }

    fn push(&mut self, wall: Duration, traffic: Traffic, preserved: bool) {
        if self.walls.is_empty() {
            for r in &traffic.requests {
                *self.requests.entry(request_kind(r)).or_default() += 1;
            }
        }
        self.walls.push(wall);
        self.up.push(traffic.sent);
        self.down.push(traffic.received);
        self.preserved += usize::from(preserved);
    }
}

/// `GET /v2/shop/app/blobs/sha256:… HTTP/1.1` → `GET blobs`.
fn request_kind(line: &str) -> String {
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("?");
    let path = parts.next().unwrap_or("");
    let what = if path.contains("/blobs/uploads") {
        "blob uploads"
    } else if path.contains("/blobs/") {
        "blobs"
    } else if path.contains("/manifests/") {
        "manifests"
    } else if path == "/v2/" {
        "/v2/"
    } else {
        "other"
    };
    format!("{method} {what}")
}

/// Median (mean of the middle two for an even count) and nearest-rank 95th percentile.
fn median_p95(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let median = if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    };
    let rank = (0.95 * n as f64).ceil() as usize;
    (median, v[rank.clamp(1, n) - 1])
}

fn bytes(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} MB", v / 1e6)
    } else {
        format!("{v:.0} B")
    }
}

fn report(results: &[Series], seeded: &Seeded) {
    println!();
    println!(
        "promotion of {REPO}:{SOURCE_TAG} ({:.1} MB of blobs) to a fresh tag, {} runs each",
        seeded.blob_bytes as f64 / 1e6,
        results.first().map_or(0, |s| s.walls.len())
    );
    println!(
        "| {:<30} | {:>10} | {:>10} | {:>12} | {:>12} | {:>12} | {:>12} | {:>9} |",
        "tool", "wall p50", "wall p95", "up p50", "up p95", "down p50", "down p95", "digest ="
    );
    println!(
        "|{:-<32}|{:->12}|{:->12}|{:->14}|{:->14}|{:->14}|{:->14}|{:->11}|",
        "", "", "", "", "", "", "", ""
    );
    for s in results {
        let walls: Vec<f64> = s.walls.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        let up: Vec<f64> = s.up.iter().map(|&b| b as f64).collect();
        let down: Vec<f64> = s.down.iter().map(|&b| b as f64).collect();
        let (w50, w95) = median_p95(&walls);
        let (u50, u95) = median_p95(&up);
        let (d50, d95) = median_p95(&down);
        println!(
            "| {:<30} | {:>7.1} ms | {:>7.1} ms | {:>12} | {:>12} | {:>12} | {:>12} | {:>9} |",
            s.name,
            w50,
            w95,
            bytes(u50),
            bytes(u95),
            bytes(d50),
            bytes(d95),
            format!("{}/{}", s.preserved, s.walls.len())
        );
    }
    println!();
    for s in results {
        let requests: Vec<String> = s.requests.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        println!("{}: requests per promotion: {}", s.name, requests.join(", "));
    }
    if let Some(s) = results.iter().find(|s| s.name.starts_with("skopeo")) {
        println!(
            "skopeo {} the digest ({}/{} promotions kept {})",
            if s.preserved == s.walls.len() {
                "preserved"
            } else {
                "did NOT preserve"
            },
            s.preserved,
            s.walls.len(),
            seeded.digest
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Seeding through the registry API

struct Seeded {
    digest: String,
    manifest_len: usize,
    config_len: usize,
    blob_bytes: u64,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

async fn upload_blob(http: &reqwest::Client, base: &str, bytes: Vec<u8>) -> String {
    let digest = sha256(&bytes);
    let r = http
        .post(format!("{base}/v2/{REPO}/blobs/uploads/"))
        .send()
        .await
        .expect("start upload");
    assert_eq!(r.status(), 202, "start upload");
    let location = r.headers()["location"].to_str().expect("location").to_string();
    let location = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = http
        .put(format!("{location}{sep}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("finish upload");
    assert_eq!(r.status(), 201, "finish upload: {}", r.text().await.unwrap_or_default());
    digest
}

/// Three layers of seeded pseudo-random bytes (standing in for gzip, which is as incompressible),
/// a config with OCI labels, and the OCI manifest under `1.4.2`.
async fn seed(base: &str) -> Seeded {
    let http = reqwest::Client::new();
    let mut rng = fastrand::Rng::with_seed(0x00f1_16ad_ec4b);
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for size in LAYERS {
        let mut bytes = vec![0u8; size];
        rng.fill(&mut bytes);
        let digest = upload_blob(&http, base, bytes).await;
        diff_ids.push(digest.clone());
        layers.push(json!({ "mediaType": OCI_LAYER_GZIP, "digest": digest, "size": size }));
    }
    let config = serde_json::to_vec(&json!({
        "created": "2026-11-20T14:03:11Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "10001",
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "JAVA_HOME=/opt/java/openjdk"],
            "Entrypoint": ["/opt/app/bin/start"],
            "ExposedPorts": { "8080/tcp": {} },
            "Labels": {
                "org.opencontainers.image.source": "https://github.com/shop/app",
                "org.opencontainers.image.revision": "abc1234def5678abc1234def5678abc1234def56",
                "org.opencontainers.image.version": SOURCE_TAG,
                "org.opencontainers.image.created": "2026-11-20T14:03:11Z",
                "org.opencontainers.image.base.name": "docker.io/library/eclipse-temurin:21-jre",
                "org.opencontainers.image.base.digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111"
            }
        },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [
            { "created": "2026-11-01T00:00:00Z", "created_by": "base image" },
            { "created": "2026-11-20T14:02:50Z", "created_by": "COPY deps /opt/app/lib" },
            { "created": "2026-11-20T14:03:11Z", "created_by": "COPY app /opt/app" }
        ]
    }))
    .expect("config JSON");
    let config_len = config.len();
    let config_digest = upload_blob(&http, base, config).await;
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": config_digest, "size": config_len },
        "layers": layers
    }))
    .expect("manifest JSON");
    let r = http
        .put(format!("{base}/v2/{REPO}/manifests/{SOURCE_TAG}"))
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .expect("PUT manifest");
    assert_eq!(r.status(), 201, "PUT manifest: {}", r.text().await.unwrap_or_default());
    Seeded {
        digest: sha256(&manifest),
        manifest_len: manifest.len(),
        config_len,
        blob_bytes: (LAYERS.iter().sum::<usize>() + config_len) as u64,
    }
}

fn registry_config(url: &str) -> RegistrySourceConfig {
    RegistrySourceConfig {
        name: "registry".to_string(),
        url: url.parse().expect("registry URL"),
        user: None,
        password: None,
        password_origin: None,
        // Never the machine's own ~/.docker/config.json.
        docker_config: Some(PathBuf::from("/nonexistent/flightdeck/config.json")),
        poll_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(30),
        tags: 30,
    }
}

async fn digest_of(checker: &RegistryClient, tag: &str) -> String {
    checker
        .head(REPO, tag)
        .await
        .expect("HEAD the new tag")
        .unwrap_or_else(|| panic!("{REPO}:{tag} is not in the registry"))
        .digest
}

// ---------------------------------------------------------------------------------------------
// skopeo, isolated from the machine's containers configuration

struct Skopeo {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Skopeo {
    fn new(bin: &Path) -> Skopeo {
        let dir = tempfile::Builder::new()
            .prefix("flightdeck-skopeo-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(
            dir.path().join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .expect("policy.json");
        std::fs::create_dir_all(dir.path().join("registries.d")).expect("registries.d");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        Skopeo {
            bin: bin.to_path_buf(),
            dir,
        }
    }

    async fn version(&self) -> String {
        let out = tokio::process::Command::new(&self.bin)
            .arg("--version")
            .output()
            .await
            .expect("skopeo --version");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `skopeo copy docker://HOST/shop/app:FROM docker://HOST/shop/app:TO`, over plain HTTP.
    async fn copy(&self, host: &str, from: &str, to: &str) {
        let d = self.dir.path();
        let out = tokio::process::Command::new(&self.bin)
            .arg("--policy")
            .arg(d.join("policy.json"))
            .arg("--registries.d")
            .arg(d.join("registries.d"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args([
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--src-no-creds",
                "--dest-no-creds",
            ])
            .arg(format!("docker://{host}/{REPO}:{from}"))
            .arg(format!("docker://{host}/{REPO}:{to}"))
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy {from} → {to}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[path = "../tests/common/counting_proxy.rs"]
mod counting_proxy;
use counting_proxy::{Traffic, proxy};
