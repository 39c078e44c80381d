//! The image side of the story, shared by the OCI registry (`registry.rs`),
//! ECR (`ecr.rs`) and the build host's Docker engine (`engine.rs`): which
//! service is hosted where and built on which base, the bytes of every
//! manifest, config and layer (built deterministically, digests are the
//! real sha256 of the bytes), the vulnerability findings of each image and
//! the Trivy / Grype reports the Jenkins builds archive.
//!
//! Base images are "external" and independent of the seed: `library/tomcat`
//! `9.0-jdk17` is an OCI index (linux/amd64 + linux/arm64); `jboss/wildfly`
//! `26.1.3.Final` was re-pushed upstream, so the registry serves a newer
//! manifest than the one the build host pulled (and every WildFly-based
//! service image was built on the old one, as its `base.digest` label says).
//!
//! Service images are a function of the seed, the service, the version, the
//! commit and the time the "Docker build" stage ended: the Jenkins console's
//! pushed digest, the registry's and ECR's digests and the engine's image all
//! agree. ECR images use the Docker v2 media types, the OCI registry's the
//! OCI ones.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::facts::{
    BaseImageFact, GreenCandidateFact, HighFindingFact, ImageEnvFact, ImageHostingFact, StoryFacts, stage_ok,
};
use super::ids;
use super::jenkins::{Build, BuildResult, Ms, PlannedStage};
use super::story::{DAY, FOLDER, HOUR, MIN, SEC, World, spec_of};

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub(crate) const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

pub(crate) const LABEL_REVISION: &str = "org.opencontainers.image.revision";
pub(crate) const LABEL_VERSION: &str = "org.opencontainers.image.version";
pub(crate) const LABEL_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub(crate) const LABEL_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// The AWS account and region of the simulated ECR.
pub(crate) const ECR_ACCOUNT: &str = "314159265358";
pub(crate) const ECR_REGION: &str = "eu-west-1";

/// The base images, as repositories of the OCI registry.
pub(crate) const TOMCAT_REPO: &str = "library/tomcat";
pub(crate) const TOMCAT_TAG: &str = "9.0-jdk17";
pub(crate) const WILDFLY_REPO: &str = "jboss/wildfly";
pub(crate) const WILDFLY_TAG: &str = "26.1.3.Final";

/// The HIGH finding of the Tomcat base (Ubuntu 22.04's OpenSSL).
pub(crate) const TOMCAT_CVE: &str = "CVE-2023-0286";

/// `sha256:` + hex of the bytes.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in Sha256::digest(bytes) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A valid `sha256:<64 hex>` digest.
pub(crate) fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
}

// ---- who is hosted where ---------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hosting {
    Oci,
    Ecr,
}

impl Hosting {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Hosting::Oci => "oci",
            Hosting::Ecr => "ecr",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    Tomcat,
    Wildfly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scanning {
    /// No registry scan (OCI registry): the build archives a report.
    None,
    Basic,
    Enhanced,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReportKind {
    None,
    Trivy,
    Grype,
}

/// Where a service's image lives and what it is built on.
pub(crate) struct ImageSpec {
    pub service: &'static str,
    pub hosting: Hosting,
    pub base: Base,
    pub scanning: Scanning,
    pub report: ReportKind,
    /// The promotion strategy the demo config gives it.
    pub promotion: &'static str,
}

pub(crate) const IMAGE_SERVICES: [ImageSpec; 6] = [
    ImageSpec {
        service: "payments-api",
        hosting: Hosting::Ecr,
        base: Base::Tomcat,
        scanning: Scanning::Basic,
        report: ReportKind::None,
        promotion: "awx",
    },
    ImageSpec {
        service: "ledger-service",
        hosting: Hosting::Ecr,
        base: Base::Tomcat,
        scanning: Scanning::Basic,
        report: ReportKind::None,
        promotion: "awx",
    },
    ImageSpec {
        service: "checkout-web",
        hosting: Hosting::Oci,
        base: Base::Tomcat,
        scanning: Scanning::None,
        report: ReportKind::Trivy,
        promotion: "retag",
    },
    ImageSpec {
        service: "catalog-service",
        hosting: Hosting::Oci,
        base: Base::Wildfly,
        scanning: Scanning::None,
        report: ReportKind::Grype,
        promotion: "retag",
    },
    ImageSpec {
        service: "notification-worker",
        hosting: Hosting::Oci,
        base: Base::Wildfly,
        scanning: Scanning::None,
        report: ReportKind::Trivy,
        promotion: "kubernetes",
    },
    ImageSpec {
        service: "fraud-scoring",
        hosting: Hosting::Ecr,
        base: Base::Wildfly,
        scanning: Scanning::Enhanced,
        report: ReportKind::None,
        promotion: "both",
    },
];

pub(crate) fn image_spec(service: &str) -> Option<&'static ImageSpec> {
    IMAGE_SERVICES.iter().find(|s| s.service == service)
}

/// The repository of a service's image, in either registry.
pub(crate) fn repository(service: &str) -> String {
    format!("shop/{service}")
}

pub(crate) fn ecr_host() -> String {
    format!("{ECR_ACCOUNT}.dkr.ecr.{ECR_REGION}.amazonaws.com")
}

/// `host:port` of the estate (`http://127.0.0.1:41234` → `127.0.0.1:41234`).
pub(crate) fn host_of(base: &str) -> String {
    base.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

/// The base image as the build host and the demo config name it.
pub(crate) fn base_reference(host: &str, base: Base) -> String {
    match base {
        Base::Tomcat => format!("{host}/{TOMCAT_REPO}:{TOMCAT_TAG}"),
        Base::Wildfly => format!("{host}/{WILDFLY_REPO}:{WILDFLY_TAG}"),
    }
}

/// The base image as the service images' `base.name` label spells it (the
/// registry mirrors Docker Hub, so the bytes and digests are the same).
fn base_label_name(base: Base) -> &'static str {
    match base {
        Base::Tomcat => "docker.io/library/tomcat:9.0-jdk17",
        Base::Wildfly => "docker.io/jboss/wildfly:26.1.3.Final",
    }
}

// ---- bytes -----------------------------------------------------------------

/// Deterministic bytes that look like a gzip stream.
fn noise(parts: &[&str], len: usize) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
    let mut state = ids::hash(0, parts);
    while out.len() < len {
        state = ids::splitmix64(state);
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// One layer: its bytes (what a blob GET serves) and the command that made it.
#[derive(Clone)]
struct LayerSpec {
    bytes: Bytes,
    created_by: String,
}

impl LayerSpec {
    fn new(parts: &[&str], len: usize, created_by: &str) -> LayerSpec {
        LayerSpec {
            bytes: Bytes::from(noise(parts, len)),
            created_by: created_by.to_string(),
        }
    }
}

/// A manifest with everything it references.
#[derive(Clone, Debug)]
pub(crate) struct Built {
    pub media_type: &'static str,
    pub manifest: Bytes,
    pub digest: String,
    /// The config blob's digest (a local image's Id); for an index, its amd64 child's.
    pub config_digest: String,
    /// Config and layer blobs (of every child, for an index).
    pub blobs: Vec<(String, Bytes)>,
    /// An index's child manifests: digest, media type, bytes.
    pub children: Vec<(String, &'static str, Bytes)>,
    /// Config plus layers (an index: its amd64 child's).
    pub size: u64,
    /// Sizes of the layers alone.
    pub layer_bytes: u64,
    /// Uncompressed layer digests (the stand-in layers are their own "tar").
    pub diff_ids: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub created: Ms,
    pub architecture: &'static str,
}

fn rfc3339(ms: Ms) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.9fZ")
        .to_string()
}

pub(crate) fn rfc3339_secs(ms: Ms) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What goes into one image manifest.
struct ImagePlan {
    docker: bool,
    architecture: &'static str,
    variant: Option<&'static str>,
    created: Ms,
    env: Vec<String>,
    cmd: Vec<String>,
    workdir: &'static str,
    user: Option<&'static str>,
    port: &'static str,
    labels: BTreeMap<String, String>,
    layers: Vec<LayerSpec>,
}

fn build_image(plan: ImagePlan) -> Built {
    let (manifest_type, config_type, layer_type) = if plan.docker {
        (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER)
    } else {
        (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
    };
    let diff_ids: Vec<String> = plan.layers.iter().map(|l| sha256_digest(&l.bytes)).collect();
    let created = rfc3339(plan.created);
    let history: Vec<Value> = plan
        .layers
        .iter()
        .map(|l| json!({"created": created, "created_by": l.created_by, "comment": "buildkit.dockerfile.v0"}))
        .collect();
    let mut config = json!({
        "Env": plan.env,
        "Cmd": plan.cmd,
        "WorkingDir": plan.workdir,
        "ExposedPorts": { plan.port: {} },
        "Labels": plan.labels,
    });
    if let Some(u) = plan.user {
        config["User"] = json!(u);
    }
    let mut cfg = json!({
        "architecture": plan.architecture,
        "os": "linux",
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    if let Some(v) = plan.variant {
        cfg["variant"] = json!(v);
    }
    let config_bytes = Bytes::from(cfg.to_string());
    let config_digest = sha256_digest(&config_bytes);
    let mut blobs = vec![(config_digest.clone(), config_bytes.clone())];
    let mut layers = Vec::new();
    let mut layer_bytes = 0u64;
    for (l, _) in plan.layers.iter().zip(&diff_ids) {
        let d = sha256_digest(&l.bytes);
        layers.push((layer_type, l.bytes.len(), d.clone()));
        layer_bytes += l.bytes.len() as u64;
        blobs.push((d, l.bytes.clone()));
    }
    let manifest = Bytes::from(manifest_text(
        manifest_type,
        (config_type, config_bytes.len(), &config_digest),
        &layers,
    ));
    Built {
        media_type: manifest_type,
        digest: sha256_digest(&manifest),
        manifest,
        config_digest,
        size: config_bytes.len() as u64 + layer_bytes,
        layer_bytes,
        blobs,
        children: Vec::new(),
        diff_ids,
        labels: plan.labels,
        created: plan.created,
        architecture: plan.architecture,
    }
}

fn descriptor(
    indent: &str,
    media_type: &str,
    size: usize,
    digest: &str,
    platform: Option<(&str, Option<&str>)>,
) -> String {
    let mut s = format!(
        "{indent}{{\n{indent}   \"mediaType\": \"{media_type}\",\n{indent}   \"size\": {size},\n{indent}   \"digest\": \"{digest}\""
    );
    if let Some((arch, variant)) = platform {
        s.push_str(&format!(
            ",\n{indent}   \"platform\": {{\n{indent}      \"architecture\": \"{arch}\",\n{indent}      \"os\": \"linux\""
        ));
        if let Some(v) = variant {
            s.push_str(&format!(",\n{indent}      \"variant\": \"{v}\""));
        }
        s.push_str(&format!("\n{indent}   }}"));
    }
    s.push_str(&format!("\n{indent}}}"));
    s
}

/// An image manifest as `docker push` writes it (three-space indents, the
/// spec's key order).
fn manifest_text(media_type: &str, config: (&str, usize, &str), layers: &[(&str, usize, String)]) -> String {
    let layers: Vec<String> = layers
        .iter()
        .map(|(t, n, d)| descriptor("      ", t, *n, d, None))
        .collect();
    let config = descriptor("   ", config.0, config.1, config.2, None);
    let config = config.trim_start();
    let layers = layers.join(",\n");
    format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{media_type}\",\n   \"config\": {config},\n   \"layers\": [\n{layers}\n   ]\n}}"
    )
}

fn at(rfc: &str) -> Ms {
    chrono::DateTime::parse_from_rfc3339(rfc).map_or(0, |t| t.timestamp_millis())
}

fn tomcat_child(arch: &'static str) -> Built {
    let variant = if arch == "arm64" { Some("v8") } else { None };
    let layers = vec![
        LayerSpec::new(
            &["ubuntu", "jammy", arch],
            5_120,
            "/bin/sh -c #(nop) ADD file:ubuntu-22.04-rootfs.tar.gz in / ",
        ),
        LayerSpec::new(
            &["temurin", "17", arch],
            4_608,
            "RUN /bin/sh -c set -eux; apt-get update; apt-get install -y --no-install-recommends tzdata curl wget ca-certificates fontconfig locales; # buildkit",
        ),
        LayerSpec::new(
            &["temurin", "17", "jdk", arch],
            6_144,
            "COPY /opt/java/openjdk /opt/java/openjdk # buildkit",
        ),
        LayerSpec::new(
            &["tomcat", "9.0.111", arch],
            3_584,
            "COPY /usr/local/tomcat /usr/local/tomcat # buildkit",
        ),
    ];
    let mut labels = BTreeMap::new();
    labels.insert("org.opencontainers.image.ref.name".to_string(), "ubuntu".to_string());
    labels.insert(LABEL_VERSION.to_string(), "22.04".to_string());
    build_image(ImagePlan {
        docker: false,
        architecture: arch,
        variant,
        created: at("2025-10-21T08:14:03Z"),
        env: vec![
            "PATH=/usr/local/tomcat/bin:/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                .into(),
            "JAVA_HOME=/opt/java/openjdk".into(),
            "JAVA_VERSION=jdk-17.0.16+8".into(),
            "CATALINA_HOME=/usr/local/tomcat".into(),
            "TOMCAT_MAJOR=9".into(),
            "TOMCAT_VERSION=9.0.111".into(),
        ],
        cmd: vec!["catalina.sh".into(), "run".into()],
        workdir: "/usr/local/tomcat",
        user: None,
        port: "8080/tcp",
        labels,
        layers,
    })
}

/// `library/tomcat:9.0-jdk17`: an OCI index of linux/amd64 and linux/arm64.
pub(crate) fn tomcat() -> &'static Built {
    static TOMCAT: OnceLock<Built> = OnceLock::new();
    TOMCAT.get_or_init(|| {
        let children = [("amd64", None), ("arm64", Some("v8"))].map(|(arch, variant)| (tomcat_child(arch), variant));
        let manifests: Vec<String> = children
            .iter()
            .map(|(c, variant)| {
                descriptor(
                    "      ",
                    c.media_type,
                    c.manifest.len(),
                    &c.digest,
                    Some((c.architecture, *variant)),
                )
            })
            .collect();
        let text = format!(
            "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{OCI_INDEX}\",\n   \"manifests\": [\n{}\n   ],\n   \"annotations\": {{\n      \"org.opencontainers.image.ref.name\": \"{TOMCAT_TAG}\"\n   }}\n}}",
            manifests.join(",\n")
        );
        let bytes = Bytes::from(text);
        let amd = &children[0].0;
        Built {
            media_type: OCI_INDEX,
            digest: sha256_digest(&bytes),
            manifest: bytes,
            config_digest: amd.config_digest.clone(),
            blobs: children.iter().flat_map(|(c, _)| c.blobs.clone()).collect(),
            children: children
                .iter()
                .map(|(c, _)| (c.digest.clone(), c.media_type, c.manifest.clone()))
                .collect(),
            size: amd.size,
            layer_bytes: amd.layer_bytes,
            diff_ids: amd.diff_ids.clone(),
            labels: amd.labels.clone(),
            created: amd.created,
            architecture: "amd64",
        }
    })
}

fn wildfly_build(build: &str, created: &str) -> Built {
    let layers = vec![
        LayerSpec::new(
            &["centos", "7.9.2009"],
            5_632,
            "/bin/sh -c #(nop) ADD file:centos-7.9.2009-rootfs.tar.xz in / ",
        ),
        LayerSpec::new(
            &["jboss", "base", "yum"],
            3_072,
            "/bin/sh -c yum update -y && yum -y install xmlstarlet saxon augeas bsdtar unzip && yum clean all",
        ),
        LayerSpec::new(
            &["jboss", "openjdk11"],
            5_120,
            "/bin/sh -c yum -y install java-11-openjdk-devel && yum clean all",
        ),
        LayerSpec::new(
            &["wildfly", "26.1.3.Final", build],
            6_656,
            "/bin/sh -c cd $HOME && curl -L -O https://github.com/wildfly/wildfly/releases/download/26.1.3.Final/wildfly-26.1.3.Final.tar.gz && tar xf wildfly-26.1.3.Final.tar.gz",
        ),
    ];
    let mut labels = BTreeMap::new();
    labels.insert("org.label-schema.name".to_string(), "CentOS Base Image".to_string());
    labels.insert("org.label-schema.vendor".to_string(), "CentOS".to_string());
    labels.insert("org.label-schema.schema-version".to_string(), "1.0".to_string());
    labels.insert("org.label-schema.build-date".to_string(), build.to_string());
    build_image(ImagePlan {
        docker: true,
        architecture: "amd64",
        variant: None,
        created: at(created),
        env: vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "JAVA_HOME=/usr/lib/jvm/java".into(),
            "WILDFLY_VERSION=26.1.3.Final".into(),
            "JBOSS_HOME=/opt/jboss/wildfly".into(),
            "LAUNCH_JBOSS_IN_BACKGROUND=true".into(),
        ],
        cmd: vec![
            "/opt/jboss/wildfly/bin/standalone.sh".into(),
            "-b".into(),
            "0.0.0.0".into(),
        ],
        workdir: "/opt/jboss",
        user: Some("jboss"),
        port: "8080/tcp",
        labels,
        layers,
    })
}

/// `jboss/wildfly:26.1.3.Final` as the registry serves it now (re-pushed).
pub(crate) fn wildfly_current() -> &'static Built {
    static W: OnceLock<Built> = OnceLock::new();
    W.get_or_init(|| wildfly_build("20251104", "2025-11-04T06:41:22Z"))
}

/// `jboss/wildfly:26.1.3.Final` as the build host pulled it months ago.
pub(crate) fn wildfly_old() -> &'static Built {
    static W: OnceLock<Built> = OnceLock::new();
    W.get_or_init(|| wildfly_build("20250612", "2025-06-12T03:12:47Z"))
}

/// The manifest a service image builds on (the amd64 child for Tomcat, the
/// stale local WildFly) and the digest its `base.digest` label records.
fn base_parts(base: Base) -> (Built, String) {
    match base {
        Base::Tomcat => (tomcat_child_amd64().clone(), tomcat().digest.clone()),
        Base::Wildfly => (wildfly_old().clone(), wildfly_old().digest.clone()),
    }
}

fn tomcat_child_amd64() -> &'static Built {
    static T: OnceLock<Built> = OnceLock::new();
    T.get_or_init(|| tomcat_child("amd64"))
}

/// The image of `service` at `version` built from commit `revision` when
/// the "Docker build" stage ended at `created`.
pub(crate) fn service_image(seed: u64, service: &str, version: &str, revision: &str, created: Ms) -> Option<Built> {
    let spec = image_spec(service)?;
    let (base, base_digest) = base_parts(spec.base);
    let seed_s = seed.to_string();
    let mut layers: Vec<LayerSpec> = base
        .blobs
        .iter()
        .skip(1)
        .map(|(_, bytes)| LayerSpec {
            bytes: bytes.clone(),
            created_by: "base layer".into(),
        })
        .collect();
    let (dir, file) = match spec.base {
        Base::Tomcat => (
            "/usr/local/tomcat/webapps",
            if service == "checkout-web" {
                "ROOT.war"
            } else {
                "app.jar"
            },
        ),
        Base::Wildfly => ("/opt/jboss/wildfly/standalone/deployments", "app.jar"),
    };
    layers.push(LayerSpec::new(
        &[&seed_s, service, "config"],
        1_536 + (ids::hash(seed, &[service, "cfg"]) % 512) as usize,
        &format!("COPY docker/conf/ {dir}/../conf/ # buildkit"),
    ));
    layers.push(LayerSpec::new(
        &[&seed_s, service, version, revision, "app"],
        7_168 + (ids::hash(seed, &[service, version, "app"]) % 2_048) as usize,
        &format!("COPY target/{service}-{version}.jar {dir}/{file} # buildkit"),
    ));
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_REVISION.to_string(), revision.to_string());
    labels.insert(LABEL_VERSION.to_string(), version.to_string());
    labels.insert(LABEL_BASE_NAME.to_string(), base_label_name(spec.base).to_string());
    labels.insert(LABEL_BASE_DIGEST.to_string(), base_digest);
    labels.insert("org.opencontainers.image.title".to_string(), service.to_string());
    labels.insert("org.opencontainers.image.created".to_string(), rfc3339_secs(created));
    labels.insert(
        "org.opencontainers.image.source".to_string(),
        format!("https://github.com/dominion/{service}"),
    );
    labels.insert("org.opencontainers.image.vendor".to_string(), "Dominion".to_string());
    let mut env = match spec.base {
        Base::Tomcat => vec![
            "PATH=/usr/local/tomcat/bin:/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            "JAVA_HOME=/opt/java/openjdk".to_string(),
            "CATALINA_HOME=/usr/local/tomcat".to_string(),
        ],
        Base::Wildfly => vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            "JAVA_HOME=/usr/lib/jvm/java".to_string(),
            "JBOSS_HOME=/opt/jboss/wildfly".to_string(),
        ],
    };
    env.push(format!("APP_VERSION={version}"));
    env.push("JAVA_OPTS=-XX:MaxRAMPercentage=75".to_string());
    let cmd = match spec.base {
        Base::Tomcat => vec!["catalina.sh".to_string(), "run".to_string()],
        Base::Wildfly => vec![
            "/opt/jboss/wildfly/bin/standalone.sh".to_string(),
            "-b".to_string(),
            "0.0.0.0".to_string(),
        ],
    };
    Some(build_image(ImagePlan {
        docker: spec.hosting == Hosting::Ecr,
        architecture: "amd64",
        variant: None,
        created,
        env,
        cmd,
        workdir: match spec.base {
            Base::Tomcat => "/usr/local/tomcat",
            Base::Wildfly => "/opt/jboss",
        },
        user: Some("1001"),
        port: "8080/tcp",
        labels,
        layers,
    }))
}

/// When the "Docker build" stage of a build with this plan ends.
pub(crate) fn image_created(start: Ms, plan: &[PlannedStage]) -> Ms {
    let mut t = start;
    for p in plan {
        t += p.duration;
        if p.name == "Docker build" {
            return t;
        }
    }
    t
}

/// The image a service build produces (whether or not it got that far).
pub(crate) fn build_image_of(seed: u64, b: &Build) -> Option<Built> {
    service_image(
        seed,
        &b.ctx.service,
        &b.ctx.version,
        &b.ctx.sha,
        image_created(b.start, &b.plan),
    )
}

/// When the build's "Push image" stage ended, if it passed by `now`.
pub(crate) fn pushed_at(b: &Build, now: Ms) -> Option<Ms> {
    if !stage_ok(b, "Push image") {
        return None;
    }
    b.stages
        .iter()
        .find(|s| s.name == "Push image")
        .and_then(|s| s.end)
        .filter(|e| *e <= now)
}

/// When the build's "Docker build" stage ended, if it passed by `now`.
pub(crate) fn docker_built_at(b: &Build, now: Ms) -> Option<Ms> {
    if !stage_ok(b, "Docker build") {
        return None;
    }
    b.stages
        .iter()
        .find(|s| s.name == "Docker build")
        .and_then(|s| s.end)
        .filter(|e| *e <= now)
}

/// When the build's "Image scan" stage ended (passed or failed), by `now`.
pub(crate) fn scanned_at(b: &Build, now: Ms) -> Option<Ms> {
    b.stages
        .iter()
        .find(|s| s.name == "Image scan")
        .and_then(|s| s.end)
        .filter(|e| *e <= now)
}

/// Releases older than the builds Jenkins keeps (as in Nexus): the one
/// before the first kept build and the one six before that, with their push
/// times and commits.
pub(crate) fn prehistory(w: &World, service: &str) -> Vec<(String, String, Ms)> {
    let Some(spec) = spec_of(service) else {
        return Vec::new();
    };
    let builds = service_builds(w, service);
    let first = builds.first().map_or(40, |b| b.number);
    let first_at = builds.first().map_or(w.now, |b| b.start);
    let mut out = Vec::new();
    for k in 0..2u32 {
        let n = first.saturating_sub(1 + 6 * k);
        if n > 0 {
            let version = format!("{}.{}.{n}", spec.major, spec.minor);
            let sha = ids::sha(w.seed, &[service, &version, "release"]);
            out.push((version, sha, first_at - (1 + k as Ms) * 2 * DAY));
        }
    }
    out
}

pub(crate) fn service_builds<'a>(w: &'a World, service: &str) -> &'a [Build] {
    w.jobs
        .get(&format!("{FOLDER}/{service}"))
        .map(|j| j.builds.as_slice())
        .unwrap_or_default()
}

// ---- findings --------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PkgClass {
    Os,
    Java,
}

/// One vulnerability in one package of an image.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    pub id: &'static str,
    pub package: &'static str,
    pub installed: &'static str,
    pub fixed: Option<&'static str>,
    pub severity: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub cvss: f64,
    pub class: PkgClass,
}

impl Finding {
    pub(crate) fn url(&self) -> String {
        format!("https://avd.aquasec.com/nvd/{}", self.id.to_lowercase())
    }
}

const LIBSSL_HIGH: Finding = Finding {
    id: TOMCAT_CVE,
    package: "libssl3",
    installed: "3.0.2-0ubuntu1.7",
    fixed: Some("3.0.2-0ubuntu1.8"),
    severity: "HIGH",
    title: "openssl: X.400 address type confusion in X.509 GeneralName",
    description: "A type confusion in the processing of X.400 addresses inside an X.509 GeneralName lets an attacker who supplies both a certificate chain and a CRL read memory contents or cause a denial of service.",
    cvss: 7.4,
    class: PkgClass::Os,
};

const COREUTILS_LOW: Finding = Finding {
    id: "CVE-2016-2781",
    package: "coreutils",
    installed: "8.32-4.1ubuntu1.2",
    fixed: None,
    severity: "LOW",
    title: "coreutils: Non-privileged session can escape to the parent session in chroot",
    description: "chroot in GNU coreutils, when used with --userspec, allows local users to escape to the parent session via a crafted TIOCSTI ioctl call.",
    cvss: 6.5,
    class: PkgClass::Os,
};

const SYSTEMD_MEDIUM: Finding = Finding {
    id: "CVE-2021-3997",
    package: "systemd",
    installed: "219-78.el7_9.7",
    fixed: None,
    severity: "MEDIUM",
    title: "systemd: Uncontrolled recursion in systemd-tmpfiles when removing files",
    description: "An uncontrolled recursion in systemd-tmpfiles may lead to a denial of service at boot time when too many nested directories are created in /tmp.",
    cvss: 5.5,
    class: PkgClass::Os,
};

const LIBGCRYPT_LOW: Finding = Finding {
    id: "CVE-2019-12904",
    package: "libgcrypt",
    installed: "1.5.3-14.el7",
    fixed: None,
    severity: "LOW",
    title: "libgcrypt: flush-and-reload side-channel attack on the AES implementation",
    description: "In Libgcrypt 1.8.4, the C implementation of AES is vulnerable to a flush-and-reload side-channel attack because physical addresses are available to other processes.",
    cvss: 5.9,
    class: PkgClass::Os,
};

const JACKSON_CRITICAL: Finding = Finding {
    id: "CVE-2025-52999",
    package: "com.fasterxml.jackson.core:jackson-core",
    installed: "2.14.2",
    fixed: Some("2.15.0"),
    severity: "CRITICAL",
    title: "jackson-core: Stack overflow on deeply nested input",
    description: "jackson-core before 2.15.0 may throw a StackoverflowError when parsing deeply nested input, which can be used for a denial of service.",
    cvss: 8.7,
    class: PkgClass::Java,
};

/// What a scan at `scanned` finds in the image of `service` (`failed_scan`:
/// the build's own Trivy step failed on the CRITICAL jackson-core).
/// `cve_known_since`: when the scanners' databases learnt of the Tomcat base's
/// OpenSSL CVE.
pub(crate) fn findings(service: &str, scanned: Ms, cve_known_since: Ms, failed_scan: bool) -> Vec<Finding> {
    let Some(spec) = image_spec(service) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if failed_scan {
        out.push(JACKSON_CRITICAL);
    }
    match spec.base {
        Base::Tomcat => {
            if scanned >= cve_known_since {
                out.push(LIBSSL_HIGH);
            }
            out.push(COREUTILS_LOW);
        }
        Base::Wildfly => {
            out.push(SYSTEMD_MEDIUM);
            out.push(LIBGCRYPT_LOW);
        }
    }
    out
}

/// Counts per severity, as ECR's `findingSeverityCounts`.
pub(crate) fn severity_counts(findings: &[Finding]) -> BTreeMap<&'static str, u32> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.severity).or_insert(0) += 1;
    }
    m
}

fn failed_scan(b: &Build) -> bool {
    b.stages
        .iter()
        .any(|s| s.name == "Image scan" && s.status == super::jenkins::NodeStatus::Failed)
}

/// What the build's "Image scan" stage found, if it ran.
pub(crate) fn build_findings(w: &World, b: &Build) -> Option<Vec<Finding>> {
    let at = scanned_at(b, w.now)?;
    Some(findings(
        &b.ctx.service,
        at,
        w.facts.tomcat_high_finding.known_since_ms,
        failed_scan(b),
    ))
}

// ---- archived reports ------------------------------------------------------

/// The report a service build archives once its "Image scan" stage ended:
/// (file name, relative path), if its service archives one.
pub(crate) fn report_artifact(b: &Build) -> Option<(&'static str, &'static str)> {
    let spec = image_spec(&b.ctx.service)?;
    if !b.ctx.job.ends_with(&format!("/{}", b.ctx.service)) {
        return None;
    }
    if !b.stages.iter().any(|s| s.name == "Image scan" && s.end.is_some()) {
        return None;
    }
    match spec.report {
        ReportKind::Trivy => Some(("trivy-report.json", "target/trivy-report.json")),
        ReportKind::Grype => Some(("grype-report.json", "target/grype-report.json")),
        ReportKind::None => None,
    }
}

fn os_of(base: Base) -> (&'static str, &'static str, &'static str) {
    match base {
        Base::Tomcat => ("ubuntu", "22.04", "Ubuntu 22.04.5 LTS"),
        Base::Wildfly => ("centos", "7.9.2009", "CentOS Linux 7 (Core)"),
    }
}

/// The report body (Trivy or Grype JSON) of a build, pretty-printed.
pub(crate) fn report_body(w: &World, b: &Build) -> Vec<u8> {
    let Some(spec) = image_spec(&b.ctx.service) else {
        return b"{}\n".to_vec();
    };
    let host = host_of(&w.base);
    let found = build_findings(w, b).unwrap_or_default();
    let image = build_image_of(w.seed, b);
    let at = scanned_at(b, w.now).unwrap_or(w.now);
    let repo_host = match spec.hosting {
        Hosting::Oci => host.clone(),
        Hosting::Ecr => ecr_host(),
    };
    let name = format!("{repo_host}/{}", repository(&b.ctx.service));
    let reference = format!("{name}:{}", b.ctx.version);
    let v = match spec.report {
        ReportKind::Grype => grype_json(spec, &reference, &name, image.as_ref(), &found, at),
        _ => trivy_json(spec, &reference, &name, image.as_ref(), &found, at),
    };
    let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

fn trivy_vuln(f: &Finding, layer: Option<(&String, &String)>, os_family: &str) -> Value {
    let mut v = json!({
        "VulnerabilityID": f.id,
        "PkgID": format!("{}@{}", f.package, f.installed),
        "PkgName": f.package,
        "InstalledVersion": f.installed,
        "Status": if f.fixed.is_some() { "fixed" } else { "affected" },
        "SeveritySource": if f.class == PkgClass::Os { os_family } else { "ghsa" },
        "PrimaryURL": f.url(),
        "DataSource": if f.class == PkgClass::Os {
            json!({"ID": os_family, "Name": format!("{os_family} security tracker"), "URL": "https://git.launchpad.net/ubuntu-cve-tracker"})
        } else {
            json!({"ID": "ghsa", "Name": "GitHub Security Advisory Maven", "URL": "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Amaven"})
        },
        "Title": f.title,
        "Description": f.description,
        "Severity": f.severity,
        "CVSS": {"nvd": {"V3Score": f.cvss}},
    });
    if let Some(fixed) = f.fixed {
        v["FixedVersion"] = json!(fixed);
    }
    if let Some((digest, diff)) = layer {
        v["Layer"] = json!({"Digest": digest, "DiffID": diff});
    }
    v
}

fn trivy_json(
    spec: &ImageSpec,
    reference: &str,
    name: &str,
    image: Option<&Built>,
    found: &[Finding],
    at: Ms,
) -> Value {
    let (family, version, _) = os_of(spec.base);
    let base_layer = image.and_then(|i| i.blobs.get(1).map(|(d, _)| d).zip(i.diff_ids.first()));
    let app_layer = image.and_then(|i| i.blobs.last().map(|(d, _)| d).zip(i.diff_ids.last()));
    let os_vulns: Vec<Value> = found
        .iter()
        .filter(|f| f.class == PkgClass::Os)
        .map(|f| trivy_vuln(f, base_layer, family))
        .collect();
    let java_vulns: Vec<Value> = found
        .iter()
        .filter(|f| f.class == PkgClass::Java)
        .map(|f| trivy_vuln(f, app_layer, family))
        .collect();
    let mut os_result = json!({
        "Target": format!("{reference} ({family} {version})"),
        "Class": "os-pkgs",
        "Type": family,
    });
    if !os_vulns.is_empty() {
        os_result["Vulnerabilities"] = Value::Array(os_vulns);
    }
    let mut java_result = json!({"Target": "Java", "Class": "lang-pkgs", "Type": "jar"});
    if !java_vulns.is_empty() {
        java_result["Vulnerabilities"] = Value::Array(java_vulns);
    }
    json!({
        "SchemaVersion": 2,
        "CreatedAt": rfc3339(at),
        "ArtifactName": reference,
        "ArtifactType": "container_image",
        "Metadata": {
            "Size": image.map_or(0, |i| i.layer_bytes),
            "OS": {"Family": family, "Name": version},
            "ImageID": image.map(|i| i.config_digest.clone()),
            "DiffIDs": image.map(|i| i.diff_ids.clone()).unwrap_or_default(),
            "RepoTags": [reference],
            "RepoDigests": image.map(|i| vec![format!("{name}@{}", i.digest)]).unwrap_or_default(),
            "ImageConfig": {
                "architecture": "amd64",
                "os": "linux",
                "created": image.map(|i| rfc3339(i.created)),
                "config": {"Labels": image.map(|i| i.labels.clone()).unwrap_or_default()},
            },
        },
        "Results": [os_result, java_result],
    })
}

fn grype_json(
    spec: &ImageSpec,
    reference: &str,
    name: &str,
    image: Option<&Built>,
    found: &[Finding],
    at: Ms,
) -> Value {
    let (family, version, pretty) = os_of(spec.base);
    let layer = image.and_then(|i| i.diff_ids.first().cloned()).unwrap_or_default();
    let matches: Vec<Value> = found
        .iter()
        .map(|f| {
            let (kind, purl, path, namespace) = match f.class {
                PkgClass::Os => (
                    if family == "centos" { "rpm" } else { "deb" },
                    format!(
                        "pkg:{}/{family}/{}@{}",
                        if family == "centos" { "rpm" } else { "deb" },
                        f.package,
                        f.installed
                    ),
                    if family == "centos" {
                        "/var/lib/rpm/Packages"
                    } else {
                        "/var/lib/dpkg/status"
                    },
                    format!("redhat:distro:redhat:{}", version.split('.').next().unwrap_or(version)),
                ),
                PkgClass::Java => (
                    "java-archive",
                    format!("pkg:maven/{}@{}", f.package.replace(':', "/"), f.installed),
                    "/opt/jboss/wildfly/standalone/deployments/app.jar",
                    "github:language:java".to_string(),
                ),
            };
            let severity = match f.severity {
                "CRITICAL" => "Critical",
                "HIGH" => "High",
                "MEDIUM" => "Medium",
                "LOW" => "Low",
                _ => "Negligible",
            };
            json!({
                "vulnerability": {
                    "id": f.id,
                    "dataSource": format!("https://nvd.nist.gov/vuln/detail/{}", f.id),
                    "namespace": namespace,
                    "severity": severity,
                    "urls": [format!("https://nvd.nist.gov/vuln/detail/{}", f.id)],
                    "description": f.description,
                    "cvss": [{"version": "3.1", "metrics": {"baseScore": f.cvss}}],
                    "fix": {
                        "versions": f.fixed.map(|v| vec![v]).unwrap_or_default(),
                        "state": if f.fixed.is_some() { "fixed" } else { "not-fixed" },
                    },
                    "advisories": [],
                },
                "relatedVulnerabilities": [],
                "matchDetails": [{
                    "type": "exact-direct-match",
                    "matcher": if f.class == PkgClass::Os { "rpm-matcher" } else { "java-matcher" },
                    "searchedBy": {"namespace": namespace, "package": {"name": f.package, "version": f.installed}},
                    "found": {"vulnerabilityID": f.id},
                }],
                "artifact": {
                    "id": ids::hex(0, &[f.package, f.installed], 16),
                    "name": f.package,
                    "version": f.installed,
                    "type": kind,
                    "locations": [{"path": path, "layerID": layer}],
                    "language": if f.class == PkgClass::Java { "java" } else { "" },
                    "licenses": [],
                    "cpes": [],
                    "purl": purl,
                    "upstreams": [],
                },
            })
        })
        .collect();
    json!({
        "matches": matches,
        "source": {
            "type": "image",
            "target": {
                "userInput": reference,
                "imageID": image.map(|i| i.config_digest.clone()),
                "manifestDigest": image.map(|i| i.digest.clone()),
                "mediaType": image.map(|i| i.media_type),
                "tags": [reference],
                "imageSize": image.map_or(0, |i| i.layer_bytes),
                "repoDigests": image.map(|i| vec![format!("{name}@{}", i.digest)]).unwrap_or_default(),
                "architecture": "amd64",
                "os": "linux",
                "labels": image.map(|i| i.labels.clone()).unwrap_or_default(),
            },
        },
        "distro": {"name": family, "version": version, "idLike": ["rhel", "fedora"], "prettyName": pretty},
        "descriptor": {
            "name": "grype",
            "version": "0.86.1",
            "timestamp": rfc3339(at),
            "db": {"schemaVersion": 5, "built": rfc3339_secs(at - 6 * HOUR)},
        },
    })
}

// ---- story facts -----------------------------------------------------------

/// The image facts, fixed at start; see `facts.rs`.
pub(crate) struct ImageFacts {
    pub high: HighFindingFact,
    pub stale_base: BaseImageFact,
    pub fresh_base: BaseImageFact,
    pub green: GreenCandidateFact,
    pub green_ecr: GreenCandidateFact,
    pub envs: Vec<ImageEnvFact>,
    pub hosting: Vec<ImageHostingFact>,
}

/// Would this build pass everything the simulator decides (finished green,
/// an image, a merged pull request, its Nexus artifact, a clean scan)?
fn good(w: &World, f: &StoryFacts, b: &Build, known_since: Ms) -> bool {
    if b.result != Some(BuildResult::Success) || pushed_at(b, w.now).is_none() {
        return false;
    }
    if b.ctx.sha == w.forge.direct_push_sha {
        return false;
    }
    let missing = &f.missing_artifact;
    if b.ctx.service == missing.service && b.number == missing.build_number {
        return false;
    }
    let at = scanned_at(b, w.now).unwrap_or(w.now);
    findings(&b.ctx.service, at, known_since, failed_scan(b))
        .iter()
        .all(|f| f.severity != "HIGH" && f.severity != "CRITICAL")
}

/// Green on every chain link, also coverage and load (payments-api and
/// checkout-web never are).
fn green(w: &World, f: &StoryFacts, b: &Build, known_since: Ms) -> bool {
    good(w, f, b, known_since) && b.ctx.service != f.coverage.service && b.ctx.service != f.slow_load_test.service
}

fn green_fact(w: &World, b: &Build) -> GreenCandidateFact {
    let spec = image_spec(&b.ctx.service);
    let image = build_image_of(w.seed, b);
    GreenCandidateFact {
        service: b.ctx.service.clone(),
        version: b.ctx.version.clone(),
        build_number: b.number,
        sha: b.ctx.sha.clone(),
        digest: image.map(|i| i.digest).unwrap_or_default(),
        registry: spec.map_or("", |s| s.hosting.label()).to_string(),
        repository: repository(&b.ctx.service),
        promotion: spec.map_or("", |s| s.promotion).to_string(),
    }
}

/// `facts` must already hold the Jenkins/GitHub/Nexus facts (they decide what is green).
pub(crate) fn compute_facts(w: &World, f: &StoryFacts) -> ImageFacts {
    let host = host_of(&w.base);
    // The blocked candidate: the newest green-so-far image of an ECR-hosted,
    // basic-scanned Tomcat service. The scanners learnt of the OpenSSL CVE
    // 90 minutes before it was pushed, so older images scanned clean.
    let mut blocked: Option<&Build> = None;
    for spec in IMAGE_SERVICES
        .iter()
        .filter(|s| s.hosting == Hosting::Ecr && s.base == Base::Tomcat && s.scanning == Scanning::Basic)
    {
        let candidate = service_builds(w, spec.service)
            .iter()
            .rev()
            .find(|b| good(w, f, b, Ms::MAX) && b.ctx.service != f.coverage.service);
        if candidate.is_some() {
            blocked = candidate;
            break;
        }
    }
    let known_since = blocked
        .and_then(|b| pushed_at(b, w.now))
        .map_or(w.now - 12 * HOUR, |t| t - 90 * MIN);
    let high = match blocked {
        Some(b) => HighFindingFact {
            service: b.ctx.service.clone(),
            version: b.ctx.version.clone(),
            build_number: b.number,
            digest: build_image_of(w.seed, b).map(|i| i.digest).unwrap_or_default(),
            registry: "ecr".into(),
            cve: TOMCAT_CVE.into(),
            package: LIBSSL_HIGH.package.into(),
            installed_version: LIBSSL_HIGH.installed.into(),
            fixed_version: LIBSSL_HIGH.fixed.unwrap_or_default().into(),
            severity: LIBSSL_HIGH.severity.into(),
            base: base_reference(&host, Base::Tomcat),
            known_since_ms: known_since,
        },
        None => HighFindingFact {
            cve: TOMCAT_CVE.into(),
            known_since_ms: known_since,
            ..HighFindingFact::default()
        },
    };

    let mut envs = Vec::new();
    for spec in &IMAGE_SERVICES {
        let goods: Vec<&Build> = service_builds(w, spec.service)
            .iter()
            .filter(|b| good(w, f, b, known_since))
            .collect();
        // The newest good build stays out of the environments: the next to promote.
        let mut picks: Vec<String> = goods
            .iter()
            .rev()
            .skip(1)
            .take(2)
            .map(|b| b.ctx.version.clone())
            .collect();
        for (v, _, _) in prehistory(w, spec.service) {
            if picks.len() < 2 {
                picks.push(v);
            }
        }
        let staging = picks.first().cloned().unwrap_or_default();
        let production = picks.get(1).cloned().unwrap_or_else(|| staging.clone());
        envs.push(ImageEnvFact {
            service: spec.service.into(),
            registry: spec.hosting.label().into(),
            repository: repository(spec.service),
            staging,
            production,
        });
    }
    // The green candidates: preferably of a service promoted through Jenkins
    // too (`both`), then one whose newest image is green.
    let pick_green = |hosting: Hosting| -> GreenCandidateFact {
        let specs = || {
            let both = IMAGE_SERVICES
                .iter()
                .filter(move |s| s.hosting == hosting && s.promotion == "both");
            both.chain(
                IMAGE_SERVICES
                    .iter()
                    .filter(move |s| s.hosting == hosting && s.promotion != "both"),
            )
        };
        let newest_green = specs().find_map(|s| {
            service_builds(w, s.service)
                .iter()
                .rev()
                .find(|b| pushed_at(b, w.now).is_some())
                .filter(|b| green(w, f, b, known_since))
        });
        let any_green = || {
            specs().find_map(|s| {
                service_builds(w, s.service)
                    .iter()
                    .rev()
                    .find(|b| green(w, f, b, known_since))
            })
        };
        newest_green
            .or_else(any_green)
            .map(|b| green_fact(w, b))
            .unwrap_or_default()
    };
    let green_oci = pick_green(Hosting::Oci);
    let green_ecr = pick_green(Hosting::Ecr);
    let hosting = IMAGE_SERVICES
        .iter()
        .map(|s| ImageHostingFact {
            service: s.service.into(),
            registry: s.hosting.label().into(),
            repository: repository(s.service),
            base: base_reference(&host, s.base),
            scanning: match s.scanning {
                Scanning::None => "none",
                Scanning::Basic => "basic",
                Scanning::Enhanced => "enhanced",
            }
            .into(),
            report: match s.report {
                ReportKind::None => "",
                ReportKind::Trivy => "trivy",
                ReportKind::Grype => "grype",
            }
            .into(),
            promotion: s.promotion.into(),
        })
        .collect();
    let wildfly_users = IMAGE_SERVICES
        .iter()
        .filter(|s| s.base == Base::Wildfly)
        .map(|s| s.service.to_string())
        .collect();
    let tomcat_users = IMAGE_SERVICES
        .iter()
        .filter(|s| s.base == Base::Tomcat)
        .map(|s| s.service.to_string())
        .collect();
    ImageFacts {
        high,
        stale_base: BaseImageFact {
            reference: base_reference(&host, Base::Wildfly),
            local_digest: wildfly_old().digest.clone(),
            remote_digest: wildfly_current().digest.clone(),
            used_by: wildfly_users,
        },
        fresh_base: BaseImageFact {
            reference: base_reference(&host, Base::Tomcat),
            local_digest: tomcat().digest.clone(),
            remote_digest: tomcat().digest.clone(),
            used_by: tomcat_users,
        },
        green: green_oci,
        green_ecr,
        envs,
        hosting,
    }
}

// ---- the registries' mutable state ----------------------------------------

/// A manifest stored in the OCI registry.
#[derive(Clone, Debug)]
pub(crate) struct StoredManifest {
    pub media_type: String,
    pub bytes: Bytes,
}

/// One repository of the OCI registry.
#[derive(Clone, Debug, Default)]
pub(crate) struct OciRepo {
    pub tags: BTreeMap<String, String>,
    pub manifests: HashMap<String, StoredManifest>,
}

/// How an ECR image was scanned.
#[derive(Clone, Debug)]
pub(crate) struct EcrScan {
    pub kind: Scanning,
    pub completed_at: Ms,
    pub findings: Vec<Finding>,
}

/// One image (digest) of an ECR repository.
#[derive(Clone, Debug)]
pub(crate) struct EcrImage {
    pub digest: String,
    pub manifest: String,
    pub media_type: String,
    pub artifact_media_type: Option<String>,
    pub tags: Vec<String>,
    pub pushed_at: Ms,
    pub size: u64,
    pub scan: Option<EcrScan>,
    pub last_pull: Option<Ms>,
}

#[derive(Clone, Debug)]
pub(crate) struct EcrRepo {
    pub created_at: Ms,
    pub scanning: Scanning,
    /// In push order.
    pub images: Vec<EcrImage>,
}

impl EcrRepo {
    pub(crate) fn by_digest(&self, digest: &str) -> Option<usize> {
        self.images.iter().position(|i| i.digest == digest)
    }

    pub(crate) fn by_tag(&self, tag: &str) -> Option<usize> {
        self.images.iter().position(|i| i.tags.iter().any(|t| t == tag))
    }

    /// Points `tag` at image `idx`, taking it off any other image.
    pub(crate) fn move_tag(&mut self, tag: &str, idx: usize) {
        for img in &mut self.images {
            img.tags.retain(|t| t != tag);
        }
        if let Some(img) = self.images.get_mut(idx) {
            img.tags.push(tag.to_string());
        }
    }
}

/// Counters for tests ("no blob was copied", "one PUT per promotion").
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RegistryStats {
    pub manifest_gets: u64,
    pub manifest_heads: u64,
    pub manifest_puts: u64,
    pub blob_gets: u64,
    pub blob_heads: u64,
    /// Blob upload sessions started (`POST …/blobs/uploads/`, mounts excluded).
    pub blob_uploads: u64,
    /// Cross-repository mounts that succeeded.
    pub blob_mounts: u64,
    /// Bytes received in PUT (and PATCH/POST upload) bodies: manifests and blobs.
    pub bytes_received: u64,
    /// Of which blob bytes.
    pub blob_bytes_received: u64,
    pub token_requests: u64,
    pub ecr_describe_images: u64,
    pub ecr_batch_get_image: u64,
    pub ecr_put_image: u64,
    pub ecr_scan_findings: u64,
    /// Manifest PUTs and ECR PutImage calls answered 500 on purpose.
    pub injected_failures: u64,
}

/// Everything the registries hold, plus the bookkeeping that follows the
/// Jenkins story (which builds' images were pushed already).
pub(crate) struct ImageState {
    pub host: String,
    pub blobs: HashMap<String, Bytes>,
    pub oci: BTreeMap<String, OciRepo>,
    pub ecr: BTreeMap<String, EcrRepo>,
    pub stats: RegistryStats,
    pub fail_oci_puts: u32,
    pub fail_ecr_puts: u32,
    /// Blob uploads in progress: id → (repository, bytes so far).
    pub uploads: HashMap<String, (String, Vec<u8>)>,
    pub next_upload: u64,
    pub next_request: u64,
    /// Builds whose image is in its registry already.
    synced: HashSet<(String, u32)>,
    /// Built images by (service, build number).
    cache: HashMap<(String, u32), Built>,
    cve_known_since: Ms,
}

impl ImageState {
    /// The registries as they stand when the estate starts.
    pub(crate) fn new(w: &World) -> ImageState {
        let mut s = ImageState {
            host: host_of(&w.base),
            blobs: HashMap::new(),
            oci: BTreeMap::new(),
            ecr: BTreeMap::new(),
            stats: RegistryStats::default(),
            fail_oci_puts: 0,
            fail_ecr_puts: 0,
            uploads: HashMap::new(),
            next_upload: 1,
            next_request: 1,
            synced: HashSet::new(),
            cache: HashMap::new(),
            cve_known_since: w.facts.tomcat_high_finding.known_since_ms,
        };
        // Base images (the registry mirrors Docker Hub).
        let t = tomcat();
        s.add_blobs(t);
        let repo = s.oci.entry(TOMCAT_REPO.to_string()).or_default();
        for (d, mt, bytes) in &t.children {
            repo.manifests.insert(
                d.clone(),
                StoredManifest {
                    media_type: mt.to_string(),
                    bytes: bytes.clone(),
                },
            );
        }
        repo.manifests.insert(
            t.digest.clone(),
            StoredManifest {
                media_type: t.media_type.to_string(),
                bytes: t.manifest.clone(),
            },
        );
        repo.tags.insert(TOMCAT_TAG.to_string(), t.digest.clone());
        for old in [wildfly_old(), wildfly_current()] {
            s.add_blobs(old);
            let repo = s.oci.entry(WILDFLY_REPO.to_string()).or_default();
            repo.manifests.insert(
                old.digest.clone(),
                StoredManifest {
                    media_type: old.media_type.to_string(),
                    bytes: old.manifest.clone(),
                },
            );
            repo.tags.insert(WILDFLY_TAG.to_string(), old.digest.clone());
        }
        // Service repositories, with their releases older than the kept builds.
        let start = w.now;
        for spec in &IMAGE_SERVICES {
            let repo = repository(spec.service);
            match spec.hosting {
                Hosting::Oci => {
                    s.oci.entry(repo.clone()).or_default();
                }
                Hosting::Ecr => {
                    s.ecr.insert(
                        repo.clone(),
                        EcrRepo {
                            created_at: start - 400 * DAY - (ids::hash(w.seed, &[&repo]) % 1000) as Ms * HOUR,
                            scanning: spec.scanning,
                            images: Vec::new(),
                        },
                    );
                }
            }
            for (version, sha, pushed) in prehistory(w, spec.service).into_iter().rev() {
                if let Some(img) = service_image(w.seed, spec.service, &version, &sha, pushed - 4 * MIN) {
                    // Pushed before scan-on-push was turned on: no scan.
                    s.push(spec, &version, &img, pushed, None);
                }
            }
        }
        s.sync(w);
        // Environment tags at start (see the facts).
        for e in &w.facts.image_envs {
            let Some(spec) = image_spec(&e.service) else { continue };
            for (tag, version) in [("prod", &e.production), ("staging", &e.staging)] {
                if version.is_empty() {
                    continue;
                }
                match spec.hosting {
                    Hosting::Oci => {
                        if let Some(repo) = s.oci.get_mut(&e.repository)
                            && let Some(d) = repo.tags.get(version.as_str()).cloned()
                        {
                            repo.tags.insert(tag.to_string(), d);
                        }
                    }
                    Hosting::Ecr => {
                        if let Some(repo) = s.ecr.get_mut(&e.repository)
                            && let Some(i) = repo.by_tag(version)
                        {
                            repo.move_tag(tag, i);
                        }
                    }
                }
            }
        }
        s
    }

    fn add_blobs(&mut self, b: &Built) {
        for (d, bytes) in &b.blobs {
            self.blobs.entry(d.clone()).or_insert_with(|| bytes.clone());
        }
    }

    /// Stores an image under `tag` in its service's registry.
    fn push(&mut self, spec: &ImageSpec, tag: &str, img: &Built, pushed: Ms, scan: Option<EcrScan>) {
        self.add_blobs(img);
        let repo = repository(spec.service);
        match spec.hosting {
            Hosting::Oci => {
                let r = self.oci.entry(repo).or_default();
                r.manifests.insert(
                    img.digest.clone(),
                    StoredManifest {
                        media_type: img.media_type.to_string(),
                        bytes: img.manifest.clone(),
                    },
                );
                r.tags.insert(tag.to_string(), img.digest.clone());
            }
            Hosting::Ecr => {
                let Some(r) = self.ecr.get_mut(&repo) else { return };
                let idx = match r.by_digest(&img.digest) {
                    Some(i) => i,
                    None => {
                        r.images.push(EcrImage {
                            digest: img.digest.clone(),
                            manifest: String::from_utf8_lossy(&img.manifest).into_owned(),
                            media_type: img.media_type.to_string(),
                            artifact_media_type: Some(DOCKER_CONFIG.to_string()),
                            tags: Vec::new(),
                            pushed_at: pushed,
                            size: img.layer_bytes,
                            scan,
                            last_pull: None,
                        });
                        r.images.len() - 1
                    }
                };
                r.move_tag(tag, idx);
            }
        }
    }

    /// The image a build produced (cached).
    pub(crate) fn built(&mut self, seed: u64, b: &Build) -> Option<Built> {
        let key = (b.ctx.service.clone(), b.number);
        if let Some(i) = self.cache.get(&key) {
            return Some(i.clone());
        }
        let img = build_image_of(seed, b)?;
        self.cache.insert(key, img.clone());
        Some(img)
    }

    /// Pushes the images of builds whose "Push image" stage ended since the last call.
    pub(crate) fn sync(&mut self, w: &World) {
        for spec in &IMAGE_SERVICES {
            for b in service_builds(w, spec.service) {
                let key = (spec.service.to_string(), b.number);
                if self.synced.contains(&key) {
                    continue;
                }
                let Some(pushed) = pushed_at(b, w.now) else {
                    continue;
                };
                self.synced.insert(key);
                let Some(img) = self.built(w.seed, b) else {
                    continue;
                };
                let scan = match spec.scanning {
                    Scanning::None => None,
                    kind => Some(EcrScan {
                        kind,
                        completed_at: pushed + 40 * SEC,
                        findings: findings(spec.service, pushed, self.cve_known_since, failed_scan(b)),
                    }),
                };
                self.push(spec, &b.ctx.version, &img, pushed, scan);
            }
        }
    }

    pub(crate) fn request_id(&mut self) -> String {
        let n = self.next_request;
        self.next_request += 1;
        let h = ids::hex(n, &["request"], 32);
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

// ---- requests ----------------------------------------------------------------

/// A request to the registry, ECR or the engine, as the server read it.
pub(crate) struct ImgReq {
    pub method: hyper::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Every `Accept` header line.
    pub accept: Vec<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    /// `X-Amz-Target`.
    pub target: Option<String>,
    pub body: Bytes,
}

/// Which image system a request is for, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImageSystem {
    Registry,
    Token,
    Ecr,
    Engine,
}

impl ImageSystem {
    pub(crate) fn of(method: &hyper::Method, path: &str, amz_target: Option<&str>) -> Option<ImageSystem> {
        if *method == hyper::Method::POST && amz_target.is_some_and(|t| super::ecr::operation(t).is_some()) {
            return Some(ImageSystem::Ecr);
        }
        if path == "/v2" || path.starts_with("/v2/") {
            return Some(ImageSystem::Registry);
        }
        if path == "/registry/token" {
            return Some(ImageSystem::Token);
        }
        super::engine::engine_path(path).map(|_| ImageSystem::Engine)
    }

    /// The path faults are matched against: ECR calls all go to `/`, so they
    /// match as `/ecr/<Operation>` (a fault on `/ecr/PutImage` breaks only PutImage).
    pub(crate) fn fault_path(self, path: &str, amz_target: Option<&str>) -> String {
        match self {
            ImageSystem::Ecr => format!(
                "/ecr/{}",
                amz_target.and_then(super::ecr::operation).unwrap_or_default()
            ),
            _ => path.to_string(),
        }
    }
}

/// Answers a request for the registry, ECR or the engine.
pub(crate) fn handle(shared: &super::Shared, system: ImageSystem, req: &ImgReq) -> super::routes::Reply {
    let world = super::faults::lock(&shared.world);
    let mut state = super::faults::lock(&shared.images);
    state.sync(&world);
    let now = world.now;
    match system {
        ImageSystem::Registry => super::registry::handle(&mut state, &shared.opts, world.seed, req, now),
        ImageSystem::Token => super::registry::token(&mut state, &shared.opts, world.seed, req, now),
        ImageSystem::Ecr => super::ecr::handle(&mut state, req, now),
        ImageSystem::Engine => super::engine::handle(&mut state, &world, req),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_of_the_bytes() {
        let t = tomcat();
        assert_eq!(t.digest, sha256_digest(&t.manifest));
        let index: Value = serde_json::from_slice(&t.manifest).unwrap();
        assert!(
            std::str::from_utf8(&t.manifest)
                .unwrap()
                .starts_with("{\n   \"schemaVersion\": 2,")
        );
        assert_eq!(index["manifests"][1]["platform"]["architecture"], "arm64");
        for (d, _, bytes) in &t.children {
            assert_eq!(d, &sha256_digest(bytes));
        }
        for (d, bytes) in &t.blobs {
            assert_eq!(d, &sha256_digest(bytes));
        }
        assert_ne!(wildfly_old().digest, wildfly_current().digest);
        assert!(is_digest(&t.digest));
        assert!(!is_digest("sha256:abc"));
    }

    #[test]
    fn service_images_are_deterministic_and_labelled() {
        let a = service_image(7, "notification-worker", "1.9.180", "abc123", 1_764_000_000_000).unwrap();
        let b = service_image(7, "notification-worker", "1.9.180", "abc123", 1_764_000_000_000).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.media_type, OCI_MANIFEST);
        assert_eq!(a.labels[LABEL_REVISION], "abc123");
        assert_eq!(a.labels[LABEL_BASE_DIGEST], wildfly_old().digest);
        let e = service_image(7, "payments-api", "1.4.1", "abc", 1_764_000_000_000).unwrap();
        assert_eq!(e.media_type, DOCKER_MANIFEST);
        assert_eq!(e.labels[LABEL_BASE_DIGEST], tomcat().digest);
        let m: Value = serde_json::from_slice(&e.manifest).unwrap();
        assert_eq!(m["config"]["digest"], e.config_digest.as_str());
        assert!(service_image(7, "db-nightly-backup", "1", "a", 0).is_none());
    }
}
