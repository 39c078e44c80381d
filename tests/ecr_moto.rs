//! The ECR source against moto_server: listing, tag lookup, retag (both idempotent paths), scan
//! findings, errors, and the poller end to end. moto's digests are not the sha256 of the
//! manifest, so digests are only compared with what moto itself said.

#[path = "common/servers.rs"]
mod servers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability};
use flightdeck::config::{EcrSourceConfig, Secret};
use flightdeck::model::{
    ImageRef, PromotionStrategy, RegistryKind, ScanState, Scanner, Service, ServiceJobs, Severity, Update,
};
use flightdeck::sources::ecr::{EcrClient, EcrPoller, put_image_outcome};
use flightdeck::sources::http::HttpError;
use flightdeck::sources::retag::RetagOutcome;
use servers::ChildServer;
use tokio::sync::{Notify, mpsc};

const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A docker v2 manifest; `n` varies its layer so each `n` is another image.
fn manifest(n: u8) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_V2}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331{n:x}"}}]}}"#
    )
}

fn config(server: &ChildServer) -> EcrSourceConfig {
    EcrSourceConfig {
        name: "ecr".into(),
        region: Some("us-east-1".into()),
        endpoint_url: Some(server.url().parse().unwrap()),
        profile: None,
        registry_id: None,
        static_credentials: Some(("testing".into(), Secret::new("testing"))),
        poll_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        images: 30,
    }
}

async fn start(test: &str) -> Option<(ChildServer, EcrClient)> {
    let server = servers::moto(test)?;
    let client = EcrClient::new(&config(&server)).await;
    Some((server, client))
}

async fn create_repo(client: &EcrClient, name: &str, immutable: bool) {
    let mut req = client.sdk().create_repository().repository_name(name);
    if immutable {
        req = req.image_tag_mutability(ImageTagMutability::Immutable);
    }
    req.send().await.expect("create repository");
}

/// Push a manifest under a tag; moto's digest of it.
async fn push(client: &EcrClient, repo: &str, manifest: &str, tag: &str) -> String {
    let out = client
        .sdk()
        .put_image()
        .repository_name(repo)
        .image_manifest(manifest)
        .image_manifest_media_type(DOCKER_V2)
        .image_tag(tag)
        .send()
        .await
        .expect("put image");
    out.image()
        .and_then(|i| i.image_id())
        .and_then(|i| i.image_digest())
        .expect("digest")
        .to_string()
}

#[tokio::test]
async fn list_tag_retag_and_scan() {
    let Some((_server, ecr)) = start("ecr_moto::list_tag_retag_and_scan").await else {
        return;
    };
    create_repo(&ecr, "shop/app", false).await;
    let digest = push(&ecr, "shop/app", &manifest(0), "1.4.2").await;
    assert!(digest.starts_with("sha256:"), "{digest}");

    let tags = ecr.list_images("shop/app", 30).await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].tag, "1.4.2");
    assert_eq!(tags[0].digest, digest);
    assert_eq!(tags[0].media_type, DOCKER_V2);
    assert!(tags[0].pushed_at.is_some());
    assert!(tags[0].size.is_some());
    // moto's DescribeImages says nothing of scans.
    assert_eq!(tags[0].scan, None);

    assert_eq!(
        ecr.tag_digest("shop/app", "1.4.2").await.unwrap().as_deref(),
        Some(digest.as_str())
    );
    assert_eq!(ecr.tag_digest("shop/app", "staging").await.unwrap(), None);

    // Retag: a new tag, the same digest.
    assert_eq!(
        ecr.retag("shop/app", &digest, "staging").await.unwrap(),
        RetagOutcome::Moved { previous: None }
    );
    assert_eq!(
        ecr.tag_digest("shop/app", "staging").await.unwrap().as_deref(),
        Some(digest.as_str())
    );
    let tags = ecr.list_images("shop/app", 30).await.unwrap();
    let mut names: Vec<&str> = tags.iter().map(|t| t.tag.as_str()).collect();
    names.sort();
    assert_eq!(names, ["1.4.2", "staging"]);
    assert!(tags.iter().all(|t| t.digest == digest));

    // Again: the pre-check sees the tag there and writes nothing.
    assert_eq!(
        ecr.retag("shop/app", &digest, "staging").await.unwrap(),
        RetagOutcome::AlreadyThere
    );
    // The same PutImage made anyway: ECR (and moto) answer ImageAlreadyExistsException, a success.
    let again = ecr
        .sdk()
        .put_image()
        .repository_name("shop/app")
        .image_manifest(manifest(0))
        .image_manifest_media_type(DOCKER_V2)
        .image_tag("staging")
        .image_digest(&digest)
        .send()
        .await;
    assert!(
        again
            .as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_image_already_exists_exception()),
        "{again:?}"
    );
    assert_eq!(
        put_image_outcome(again, "shop/app", None).unwrap(),
        RetagOutcome::AlreadyThere
    );

    // No scan yet: no report.
    assert_eq!(ecr.scan_findings("shop/app", &digest).await.unwrap(), None);
    ecr.sdk()
        .start_image_scan()
        .repository_name("shop/app")
        .image_id(ImageIdentifier::builder().image_digest(&digest).build())
        .send()
        .await
        .expect("start scan");
    let report = ecr.scan_findings("shop/app", &digest).await.unwrap().expect("a report");
    assert_eq!(report.scanner, Scanner::EcrBasic);
    assert_eq!(report.state, ScanState::Complete);
    assert!(report.completed_at.is_some());
    assert_eq!(report.counts.high, 1);
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!(f.id, "CVE-9999-9999");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.package, "moto_fake");
    assert_eq!(f.installed.as_deref(), Some("9.9.9"));
    assert!(f.url.as_deref().is_some_and(|u| u.contains("CVE-9999-9999")));
    // A stand-in endpoint: no console link.
    assert_eq!(report.url, None);
}

#[tokio::test]
async fn retag_moves_a_tag_and_respects_immutable_repositories() {
    let Some((_server, ecr)) = start("ecr_moto::retag_moves_a_tag").await else {
        return;
    };
    create_repo(&ecr, "shop/app", false).await;
    let old = push(&ecr, "shop/app", &manifest(1), "1.4.1").await;
    let new = push(&ecr, "shop/app", &manifest(2), "1.4.2").await;
    assert_ne!(old, new);
    ecr.retag("shop/app", &old, "production").await.unwrap();
    assert_eq!(
        ecr.retag("shop/app", &new, "production").await.unwrap(),
        RetagOutcome::Moved {
            previous: Some(old.clone())
        }
    );
    assert_eq!(
        ecr.tag_digest("shop/app", "production").await.unwrap(),
        Some(new.clone())
    );

    // An unknown digest: a 4xx naming the failure, nothing written.
    let err = ecr
        .retag(
            "shop/app",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "qa",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Status { code: 400..=499, .. }), "{err}");
    assert_eq!(ecr.tag_digest("shop/app", "qa").await.unwrap(), None);

    create_repo(&ecr, "shop/locked", true).await;
    let a = push(&ecr, "shop/locked", &manifest(3), "1.0.0").await;
    let b = push(&ecr, "shop/locked", &manifest(4), "1.0.1").await;
    ecr.retag("shop/locked", &a, "production").await.unwrap();
    let err = ecr.retag("shop/locked", &b, "production").await.unwrap_err();
    assert!(err.to_string().contains("tags are immutable in shop/locked"), "{err}");
}

#[tokio::test]
async fn errors_read_well() {
    let Some((server, ecr)) = start("ecr_moto::errors_read_well").await else {
        return;
    };
    let err = ecr.list_images("no/such-repo", 30).await.unwrap_err();
    match &err {
        HttpError::Status { code, detail, .. } => {
            assert_eq!(*code, 400);
            assert!(detail.starts_with("RepositoryNotFoundException: "), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // Nobody listening: a connection error, quickly.
    let mut cfg = config(&server);
    cfg.endpoint_url = Some(format!("http://127.0.0.1:{}", servers::free_port()).parse().unwrap());
    cfg.timeout = Duration::from_secs(3);
    let dead = EcrClient::new(&cfg).await;
    let started = std::time::Instant::now();
    let err = dead.list_images("shop/app", 30).await.unwrap_err();
    assert!(
        matches!(&err, HttpError::Connect(m) if m.contains("refused")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

fn service(name: &str, repository: &str, source: &str, registry: RegistryKind) -> Service {
    let mut s = Service::new(name, ServiceJobs::default());
    s.image = Some(ImageRef {
        source: source.into(),
        registry,
        repository: repository.into(),
        env_tags: BTreeMap::from([
            ("staging".to_string(), "staging".to_string()),
            ("production".to_string(), "production".to_string()),
        ]),
        base_image: None,
        promotion: PromotionStrategy::Retag,
    });
    s
}

#[tokio::test]
async fn poller_end_to_end() {
    let Some((server, ecr)) = start("ecr_moto::poller_end_to_end").await else {
        return;
    };
    create_repo(&ecr, "shop/app", false).await;
    let digest = push(&ecr, "shop/app", &manifest(5), "1.4.2").await;
    ecr.retag("shop/app", &digest, "staging").await.unwrap();
    ecr.sdk()
        .start_image_scan()
        .repository_name("shop/app")
        .image_id(ImageIdentifier::builder().image_tag("1.4.2").build())
        .send()
        .await
        .unwrap();

    let (tx, mut rx) = mpsc::unbounded_channel();
    let services = vec![
        service("app", "shop/app", "ecr", RegistryKind::Ecr),
        // Another registry's service: not this poller's.
        service("web", "shop/web", "registry", RegistryKind::Oci),
        // Its repository does not exist: the poll fails for it, the others still arrive.
        service("gone", "shop/gone", "ecr", RegistryKind::Ecr),
    ];
    let mut poller = EcrPoller::new(config(&server), services, tx, Arc::new(Notify::new()));
    assert_eq!(poller.services().len(), 2);
    let err = poller.poll_once().await.unwrap_err();
    assert!(err.to_string().contains("RepositoryNotFoundException"), "{err}");

    let mut images = None;
    let mut failed = None;
    while let Ok(u) = rx.try_recv() {
        match u {
            Update::Images { service, images: i } => {
                assert_eq!(service, "app");
                images = Some(i);
            }
            Update::SourceFailed { source, error, .. } => {
                assert_eq!(source, "ecr");
                failed = Some(error);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let images = images.expect("the app's images");
    assert!(failed.is_some_and(|e| e.contains("RepositoryNotFoundException")));
    assert_eq!(images.registry, RegistryKind::Ecr);
    assert_eq!(images.source, "ecr");
    assert_eq!(images.repository, "shop/app");
    assert_eq!(
        images.reference,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/app"
    );
    assert!(images.complete);
    assert_eq!(images.env_digest("staging"), Some(digest.as_str()));
    assert_eq!(images.env_digest("production"), None);
    assert_eq!(images.tags.len(), 2);
    for t in &images.tags {
        let scan = t.scan.as_ref().expect("the full report attached");
        assert_eq!(scan.counts.high, 1);
        assert_eq!(scan.findings[0].id, "CVE-9999-9999");
    }

    // Second poll, only the good service: findings come from the cache, health is ok.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut poller = EcrPoller::with_client(
        config(&server),
        Arc::new(EcrClient::new(&config(&server)).await),
        vec![service("app", "shop/app", "ecr", RegistryKind::Ecr)],
        tx,
        Arc::new(Notify::new()),
    );
    poller.poll_once().await.unwrap();
    poller.poll_once().await.unwrap();
    let updates: Vec<Update> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(updates.iter().filter(|u| matches!(u, Update::Images { .. })).count(), 2);
    assert_eq!(
        updates.iter().filter(|u| matches!(u, Update::SourceOk { .. })).count(),
        2
    );
}
