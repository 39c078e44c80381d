//! The Docker engine source against Podman's Docker-compatible API (`podman system service`) on a
//! unix socket, with images made by `podman import`: version, images and labels, base-image checks
//! against unreachable registries and against a real loopback registry (fresh, then stale).

#[path = "common/servers.rs"]
mod servers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use flightdeck::config::EngineSourceConfig;
use flightdeck::model::{
    EngineState, ImageRef, LABEL_BASE_NAME, LABEL_REVISION, LABEL_VERSION, PromotionStrategy, RegistryKind, Service,
    ServiceJobs, Update,
};
use flightdeck::sources::engine::EnginePoller;
use flightdeck::sources::http::HttpError;
use servers::Podman;
use tokio::sync::{Notify, mpsc};

fn config(host: &str) -> EngineSourceConfig {
    EngineSourceConfig {
        name: "docker".into(),
        host: Some(host.into()),
        tls_cert_path: None,
        poll_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
    }
}

fn service(name: &str, repository: &str, base_image: Option<&str>) -> Service {
    let mut s = Service::new(name, ServiceJobs::default());
    s.image = Some(ImageRef {
        source: "ecr".into(),
        registry: RegistryKind::Ecr,
        repository: repository.into(),
        env_tags: BTreeMap::new(),
        base_image: base_image.map(str::to_string),
        promotion: PromotionStrategy::Retag,
    });
    s
}

/// One poll; the engine it reported (and that health was reported ok).
async fn poll(host: &str, services: Vec<Service>) -> EngineState {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut poller = EnginePoller::new(config(host), services, None, tx, Arc::new(Notify::new()));
    poller.poll_once().await.expect("a healthy poll");
    let mut engine = None;
    let mut ok = false;
    while let Ok(u) = rx.try_recv() {
        match u {
            Update::Engine { source, engine: e } => {
                assert_eq!(source, "docker");
                engine = Some(e);
            }
            Update::SourceOk { source, .. } => {
                assert_eq!(source, "docker");
                ok = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(ok, "health reported");
    engine.expect("an engine update")
}

#[tokio::test]
async fn lists_images_labels_and_checks_bases() {
    let Some(podman) = Podman::start("engine_podman::lists_images_labels_and_checks_bases", &[]) else {
        return;
    };
    let dead = servers::free_port();
    let unreachable_base = format!("127.0.0.1:{dead}/library/tomcat:9");
    podman.import(
        "localhost/shop/app:1.4.2",
        "app",
        &[
            (LABEL_REVISION, "abc123"),
            (LABEL_VERSION, "1.4.2"),
            (LABEL_BASE_NAME, &unreachable_base),
        ],
    );
    podman.import("localhost/shop/base:1", "base", &[]);

    let started = std::time::Instant::now();
    let engine = poll(
        &podman.host(),
        vec![
            // Its base from the image's label.
            service("app", "shop/app", None),
            // Its base from the config; the host has it, its registry (localhost:443) is not there.
            service("api", "shop/api", Some("localhost/shop/base:1")),
        ],
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());

    assert_eq!(engine.host, podman.host());
    let version = engine.version.as_deref().unwrap();
    assert!(version.starts_with("Podman Engine "), "{version}");

    let app = engine
        .images
        .iter()
        .find(|i| i.repo_tags.iter().any(|t| t == "localhost/shop/app:1.4.2"))
        .expect("the imported image listed");
    assert_eq!(app.label(LABEL_REVISION), Some("abc123"));
    assert_eq!(app.label(LABEL_VERSION), Some("1.4.2"));
    assert_eq!(app.label(LABEL_BASE_NAME), Some(unreachable_base.as_str()));
    assert!(app.id.starts_with("sha256:") || !app.id.is_empty());
    assert!(app.created.is_some());
    assert!(app.size.is_some());

    // The same image inspected through the API says the same.
    let docker = bollard::Docker::connect_with_unix(&podman.host(), 10, bollard::API_DEFAULT_VERSION).unwrap();
    let inspect = docker.inspect_image("localhost/shop/app:1.4.2").await.unwrap();
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get(LABEL_REVISION).map(String::as_str), Some("abc123"));
    assert_eq!(inspect.id.as_deref(), Some(app.id.as_str()));

    assert_eq!(engine.bases.len(), 2, "{:#?}", engine.bases);
    let from_label = engine.base(&unreachable_base).expect("the label's base");
    assert_eq!(from_label.used_by, ["app"]);
    assert_eq!(from_label.local_digest, None);
    assert_eq!(from_label.remote_digest, None);
    assert_eq!(from_label.stale(), None);
    let problem = from_label.problem.as_deref().unwrap();
    assert!(problem.contains("not pulled on this host"), "{problem}");
    assert!(problem.contains("registry: "), "{problem}");

    let configured = engine.base("localhost/shop/base:1").expect("the configured base");
    assert_eq!(configured.used_by, ["api"]);
    assert!(
        configured
            .local_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{configured:?}"
    );
    assert_eq!(configured.remote_digest, None);
    assert!(configured.problem.as_deref().unwrap().contains("registry: "));
}

#[tokio::test]
async fn base_image_fresh_then_stale() {
    let test = "engine_podman::base_image_fresh_then_stale";
    let Some(registry) = servers::docker_registry(test) else {
        return;
    };
    let at = format!("127.0.0.1:{}", registry.port);
    let Some(podman) = Podman::start(test, std::slice::from_ref(&at)) else {
        return;
    };
    let base = format!("{at}/library/tomcat:9");
    podman.import("localhost/base:one", "one", &[]);
    podman.run(&["push", "--tls-verify=false", "localhost/base:one", &base]);
    // Pulled as builds pull it: the host records the registry digest.
    podman.run(&["pull", "--tls-verify=false", "-q", &base]);
    podman.import("localhost/shop/app:2.0.0", "app", &[(LABEL_BASE_NAME, &base)]);

    let engine = poll(&podman.host(), vec![service("app", "shop/app", None)]).await;
    let check = engine.base(&base).expect("the base checked");
    assert_eq!(check.problem, None, "{check:?}");
    assert!(check.local_digest.is_some());
    assert_eq!(check.local_digest, check.remote_digest);
    assert_eq!(check.stale(), Some(false));

    // The registry's tag moves on; the host keeps what it pulled.
    podman.import("localhost/base:two", "two", &[]);
    podman.run(&["push", "--tls-verify=false", "localhost/base:two", &base]);
    let engine = poll(&podman.host(), vec![service("app", "shop/app", None)]).await;
    let check = engine.base(&base).expect("the base checked");
    assert_eq!(check.problem, None, "{check:?}");
    assert_ne!(check.local_digest, check.remote_digest);
    assert_eq!(check.stale(), Some(true));
}

#[tokio::test]
async fn unreachable_engines_read_well() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut poller = EnginePoller::new(
        config("unix:///nonexistent/flightdeck/docker.sock"),
        vec![],
        None,
        tx,
        Arc::new(Notify::new()),
    );
    let err = poller.poll_once().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot connect: no Docker socket at /nonexistent/flightdeck/docker.sock (is the engine running?)"
    );
    match rx.try_recv().unwrap() {
        Update::SourceFailed { source, error, .. } => {
            assert_eq!(source, "docker");
            assert!(error.contains("no Docker socket"), "{error}");
        }
        other => panic!("unexpected {other:?}"),
    }

    let port = servers::free_port();
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut poller = EnginePoller::new(
        config(&format!("tcp://127.0.0.1:{port}")),
        vec![],
        None,
        tx,
        Arc::new(Notify::new()),
    );
    let err = poller.poll_once().await.unwrap_err();
    assert!(
        matches!(&err, HttpError::Connect(m) if m.contains("refused")),
        "{err:?}"
    );

    // A socket that is not an engine's (a plain file): a clear error, no panic.
    let dir = tempfile::tempdir().unwrap();
    let not_socket = dir.path().join("docker.sock");
    std::fs::write(&not_socket, "").unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut poller = EnginePoller::new(
        config(&format!("unix://{}", not_socket.display())),
        vec![],
        None,
        tx,
        Arc::new(Notify::new()),
    );
    let err = poller.poll_once().await.unwrap_err();
    assert!(matches!(err, HttpError::Connect(_)), "{err:?}");
}
