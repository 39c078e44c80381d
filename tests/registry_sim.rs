//! The registry source against the simulated estate's OCI registry, which has what Debian's
//! `docker-registry` cannot give without a token server: Docker Hub-style token auth
//! (`401` + `Www-Authenticate: Bearer realm=…/registry/token` → token → retry), scopes (anonymous
//! callers may pull, `flightdeck:<token>` may push), and `n`/`last` paging in lexical order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flightdeck::config::{RegistrySourceConfig, Secret};
use flightdeck::model::{ImageRef, PromotionStrategy, RegistryKind, Service, ServiceJobs, Update};
use flightdeck::sim::{Estate, SimOptions};
use flightdeck::sources::registry::map::OCI_MANIFEST;
use flightdeck::sources::registry::{RegistryClient, RegistryPoller, remote_digest};
use flightdeck::sources::retag::RetagOutcome;
use tokio::sync::Notify;

async fn estate() -> (Estate, SimOptions) {
    let opts = SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    };
    (Estate::start(opts.clone()).await.unwrap(), opts)
}

fn config(estate: &Estate, user: Option<(&str, &str)>) -> RegistrySourceConfig {
    RegistrySourceConfig {
        name: "registry".to_string(),
        url: estate.registry_url().parse().unwrap(),
        user: user.map(|(u, _)| u.to_string()),
        password: user.map(|(_, p)| Secret::new(p)),
        password_origin: None,
        docker_config: Some(PathBuf::from("/nonexistent/flightdeck/config.json")),
        poll_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        tags: 30,
    }
}

#[tokio::test]
async fn token_flow_tags_describe_and_retag() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let green = control.story_facts().green_candidate;
    assert_eq!(green.registry, "oci", "the green candidate lives in the OCI registry");
    let client = RegistryClient::new(&config(&estate, Some(("flightdeck", &opts.token)))).unwrap();
    control.clear_requests();
    control.reset_registry_stats();

    // 401 → token → 200, done by oci-client.
    let tags = client.list_tags(&green.repository).await.unwrap();
    assert!(tags.contains(&green.version), "{tags:?}");
    let paths: Vec<String> = control.requests().into_iter().map(|r| r.path).collect();
    let token_at = paths
        .iter()
        .position(|p| p == "/registry/token")
        .expect("a token request");
    assert!(
        paths[..token_at].iter().any(|p| p == "/v2/"),
        "challenge first: {paths:?}"
    );
    assert!(
        paths[token_at..].iter().any(|p| p.ends_with("/tags/list")),
        "then the listing: {paths:?}"
    );
    assert!(control.registry_stats().token_requests >= 1);

    // HEAD and describe: the candidate's digest, its commit and version labels.
    let head = client.head(&green.repository, &green.version).await.unwrap().unwrap();
    assert_eq!(head.digest, green.digest);
    let t = client
        .describe(&green.repository, &green.version)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.digest, green.digest);
    assert_eq!(t.media_type, OCI_MANIFEST);
    let revision = t.revision.clone().expect("a revision label");
    assert!(
        green.sha.starts_with(&revision) || revision.starts_with(&green.sha),
        "{revision} vs {}",
        green.sha
    );
    assert_eq!(t.version.as_deref(), Some(green.version.as_str()));
    assert!(t.size.unwrap_or(0) > 0);
    assert!(t.pushed_at.is_some());

    // Retag to staging with push scope; then again, which writes nothing.
    let before = control.image_tag(&green.repository, "staging");
    assert_ne!(before.as_deref(), Some(green.digest.as_str()), "not yet in staging");
    control.reset_registry_stats();
    control.clear_requests();
    let started = std::time::Instant::now();
    let outcome = client.retag(&green.repository, &green.digest, "staging").await.unwrap();
    let wall = started.elapsed();
    let requests: Vec<String> = control
        .requests()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    eprintln!(
        "retag through token auth (pull token cached, push token fetched): {:.1} ms wall, {} requests, \
         {} bytes of PUT bodies: {requests:?}",
        wall.as_secs_f64() * 1000.0,
        requests.len(),
        control.registry_stats().bytes_received
    );
    assert_eq!(
        outcome,
        RetagOutcome::Moved {
            previous: before.clone()
        }
    );
    assert_eq!(
        control.image_tag(&green.repository, "staging").as_deref(),
        Some(green.digest.as_str())
    );
    let stats = control.registry_stats();
    assert_eq!(stats.manifest_puts, 1);
    assert_eq!(stats.blob_gets + stats.blob_heads + stats.blob_uploads, 0, "{stats:?}");
    control.reset_registry_stats();
    let again = client.retag(&green.repository, &green.digest, "staging").await.unwrap();
    assert_eq!(again, RetagOutcome::AlreadyThere);
    assert_eq!(control.registry_stats().manifest_puts, 0);
}

#[tokio::test]
async fn anonymous_may_pull_but_not_push_and_bad_passwords_are_told() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let green = control.story_facts().green_candidate;

    let anonymous = RegistryClient::new(&config(&estate, None)).unwrap();
    let tags = anonymous.list_tags(&green.repository).await.unwrap();
    assert!(tags.contains(&green.version));
    let before = control.image_tag(&green.repository, "staging");
    control.reset_registry_stats();
    let e = anonymous
        .retag(&green.repository, &green.digest, "staging")
        .await
        .unwrap_err();
    assert!(matches!(e.status(), Some(401 | 403)), "{e}");
    assert!(
        e.to_string().contains("anonymous"),
        "the health line says whose credentials: {e}"
    );
    assert_eq!(control.image_tag(&green.repository, "staging"), before, "nothing moved");

    let wrong = RegistryClient::new(&config(&estate, Some(("flightdeck", "not-the-token")))).unwrap();
    let e = wrong.list_tags(&green.repository).await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(e.to_string().contains("config"), "{e}");

    // The right token still works on the same estate.
    let right = RegistryClient::new(&config(&estate, Some(("flightdeck", &opts.token)))).unwrap();
    assert!(!right.list_tags(&green.repository).await.unwrap().is_empty());
}

#[tokio::test]
async fn tags_page_by_n_and_last() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let green = control.story_facts().green_candidate;
    let client = RegistryClient::new(&config(&estate, Some(("flightdeck", &opts.token)))).unwrap();
    let all = client.list_tags(&green.repository).await.unwrap();
    assert!(all.len() >= 3, "{all:?}");
    control.clear_requests();
    let paged = client.with_tag_page(2).tag_listing(&green.repository).await.unwrap();
    assert!(paged.complete);
    assert_eq!(paged.tags, all);
    let pages = control
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/tags/list"))
        .count();
    // Full pages of two, then the short or empty one that ends the listing.
    assert!(pages == all.len() / 2 + 1, "{pages} pages for {} tags", all.len());
}

#[tokio::test]
async fn base_image_digests_through_anonymous_tokens() {
    let (estate, _) = estate().await;
    let facts = estate.control().story_facts();
    let no_config = PathBuf::from("/nonexistent/flightdeck/config.json");
    for base in [&facts.stale_base, &facts.fresh_base] {
        let d = remote_digest(&base.reference, Some(&no_config), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(d.as_deref(), Some(base.remote_digest.as_str()), "{}", base.reference);
    }
    assert_ne!(facts.stale_base.local_digest, facts.stale_base.remote_digest);
}

#[tokio::test]
async fn poller_over_token_auth() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let facts = control.story_facts();
    let green = facts.green_candidate.clone();
    let mut service = Service::new(&green.service, ServiceJobs::default());
    service.image = Some(ImageRef {
        source: "registry".to_string(),
        registry: RegistryKind::Oci,
        repository: green.repository.clone(),
        env_tags: [("staging", "staging"), ("production", "prod")]
            .iter()
            .map(|(e, t)| (e.to_string(), t.to_string()))
            .collect(),
        base_image: None,
        promotion: PromotionStrategy::Retag,
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = config(&estate, Some(("flightdeck", &opts.token)));
    let mut poller = RegistryPoller::new(cfg, vec![service], tx, Arc::new(Notify::new())).unwrap();
    poller.poll_once().await.unwrap();
    let Some(Update::Images { service, images }) = rx.recv().await else {
        panic!("an Images update")
    };
    assert_eq!(service, green.service);
    assert_eq!(
        images.reference,
        format!("{}/{}", estate.registry_host(), green.repository)
    );
    assert!(
        images.tag(&green.version).is_some(),
        "{:?}",
        images.tags.iter().map(|t| &t.tag).collect::<Vec<_>>()
    );
    let staging = images.env_digest("staging").expect("a staging digest");
    assert_eq!(
        Some(staging.to_string()),
        control.image_tag(&green.repository, "staging")
    );
    assert!(images.complete);
    assert!(matches!(rx.recv().await, Some(Update::SourceOk { .. })));

    // The second poll reuses the token and the descriptions: HEADs and a listing only.
    control.reset_registry_stats();
    poller.poll_once().await.unwrap();
    let stats = control.registry_stats();
    assert_eq!(stats.manifest_gets, 0, "{stats:?}");
    assert_eq!(stats.blob_gets, 0, "{stats:?}");
    assert_eq!(stats.token_requests, 0, "{stats:?}");
}
