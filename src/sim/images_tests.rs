//! The simulated OCI registry, ECR and Docker engine over real HTTP: the token
//! flow, `Accept` handling, digests, retags, pagination; ECR through the real
//! `aws-sdk-ecr` client; the engine through bollard.

use std::time::Duration;

use serde_json::Value;

use super::images::{OCI_INDEX, OCI_MANIFEST, sha256_digest};
use super::*;

const ALL_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

async fn estate() -> Estate {
    Estate::start(SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    })
    .await
    .expect("estate starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A token for `scope` (anonymous when `basic` is None).
async fn token(e: &Estate, scope: &str, basic: Option<(&str, &str)>) -> String {
    let mut req = http()
        .get(format!("{}/registry/token", e.registry_url()))
        .query(&[("service", "flightdeck-sim"), ("scope", scope)]);
    if let Some((u, p)) = basic {
        req = req.basic_auth(u, Some(p));
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 300);
    assert!(v["issued_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["token"], v["access_token"]);
    v["token"].as_str().unwrap().to_string()
}

fn error_code(v: &Value) -> &str {
    v["errors"][0]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn token_flow_challenges_then_admits() {
    let e = estate().await;
    let base = e.registry_url();
    let r = http().get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"http://{}/registry/token\",service=\"flightdeck-sim\"",
            e.registry_host()
        )
    );
    assert_eq!(error_code(&r.json().await.unwrap()), "UNAUTHORIZED");

    let path = format!("{base}/v2/shop/notification-worker/manifests/1.9.180");
    let r = http().get(&path).header("accept", ALL_TYPES).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .ends_with("scope=\"repository:shop/notification-worker:pull\"")
    );
    let r = http().put(&path).body("{}").send().await.unwrap();
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"repository:shop/notification-worker:pull,push\"")
    );

    // Anonymous: pull only.
    let anon = token(&e, "repository:shop/notification-worker:pull,push", None).await;
    let r = http()
        .get(format!("{base}/v2/"))
        .bearer_auth(&anon)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-distribution-api-version"], "registry/2.0");
    assert_eq!(r.text().await.unwrap(), "{}");
    let r = http()
        .get(&path)
        .bearer_auth(&anon)
        .header("accept", ALL_TYPES)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.unwrap();
    let r = http()
        .put(&path)
        .bearer_auth(&anon)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_eq!(error_code(&r.json().await.unwrap()), "DENIED");
    // Another repository is not in the token.
    let r = http()
        .get(format!("{base}/v2/shop/catalog-service/tags/list"))
        .bearer_auth(&anon)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Wrong credentials are refused; the estate's get push.
    let r = http()
        .get(format!("{base}/registry/token"))
        .query(&[("scope", "repository:shop/x:pull")])
        .basic_auth("flightdeck", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let push = token(
        &e,
        "repository:shop/notification-worker:pull,push",
        Some(("flightdeck", "demo-token")),
    )
    .await;
    let r = http()
        .put(format!("{base}/v2/shop/notification-worker/manifests/copy"))
        .bearer_auth(&push)
        .header("content-type", OCI_MANIFEST)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A garbled token is no token.
    let r = http()
        .get(format!("{base}/v2/"))
        .bearer_auth(format!("{push}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn tokens_expire_on_the_story_clock() {
    let e = estate().await;
    let t = token(&e, "repository:library/tomcat:pull", None).await;
    let url = format!("{}/v2/", e.registry_url());
    assert_eq!(http().get(&url).bearer_auth(&t).send().await.unwrap().status(), 200);
    e.control().tick(301.0);
    assert_eq!(http().get(&url).bearer_auth(&t).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn manifests_honour_accept_and_digest_the_exact_bytes() {
    let e = estate().await;
    let facts = e.control().story_facts();
    let base = e.registry_url();
    let t = token(&e, "repository:library/tomcat:pull", None).await;
    let url = format!("{base}/v2/library/tomcat/manifests/9.0-jdk17");
    // The tag is an index: a client that only takes image manifests gets 404.
    let r = http()
        .get(&url)
        .bearer_auth(&t)
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.json().await.unwrap()), "MANIFEST_UNKNOWN");
    let r = http().get(&url).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), 404, "no Accept: no OCI index");

    let r = http()
        .get(&url)
        .bearer_auth(&t)
        .header("accept", OCI_MANIFEST)
        .header("accept", OCI_INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    let digest = r.headers()["docker-content-digest"].to_str().unwrap().to_string();
    let len: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), len);
    assert_eq!(digest, sha256_digest(&body));
    assert_eq!(digest, facts.fresh_base.remote_digest);
    let index: Value = serde_json::from_slice(&body).unwrap();
    let arches: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["amd64", "arm64"]);

    // HEAD: the same digest and length, no body.
    let r = http()
        .head(&url)
        .bearer_auth(&t)
        .header("accept", ALL_TYPES)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"].to_str().unwrap(), digest);
    assert_eq!(r.headers()["content-length"].to_str().unwrap(), len.to_string());
    assert!(r.bytes().await.unwrap().is_empty());

    // A child by digest, and its config blob.
    let child = index["manifests"][0]["digest"].as_str().unwrap();
    let r = http()
        .get(format!("{base}/v2/library/tomcat/manifests/{child}"))
        .bearer_auth(&t)
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    let config = m["config"]["digest"].as_str().unwrap();
    let r = http()
        .get(format!("{base}/v2/library/tomcat/blobs/{config}"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(sha256_digest(&bytes), config);
    let cfg: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(cfg["architecture"], "amd64");

    // The re-pushed WildFly (Docker v2) is served without Accept; the old one by digest.
    let t = token(&e, "repository:jboss/wildfly:pull", None).await;
    let r = http()
        .get(format!("{base}/v2/jboss/wildfly/manifests/26.1.3.Final"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-content-digest"].to_str().unwrap(),
        facts.stale_base.remote_digest
    );
    let r = http()
        .get(format!(
            "{base}/v2/jboss/wildfly/manifests/{}",
            facts.stale_base.local_digest
        ))
        .bearer_auth(&t)
        .header("accept", ALL_TYPES)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http()
        .get(format!("{base}/v2/jboss/wildfly/manifests/9.9"))
        .bearer_auth(&t)
        .header("accept", ALL_TYPES)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let stats = e.control().registry_stats();
    assert_eq!((stats.manifest_gets, stats.manifest_heads, stats.blob_gets), (7, 1, 1));
}

#[tokio::test]
async fn candidate_images_carry_their_build() {
    let e = estate().await;
    let f = e.control().story_facts();
    let g = &f.green_candidate;
    assert_eq!(
        (g.service.as_str(), g.version.as_str(), g.registry.as_str()),
        ("notification-worker", "1.9.180", "oci")
    );
    let base = e.registry_url();
    let repo = &g.repository;
    let t = token(&e, &format!("repository:{repo}:pull"), None).await;
    let r = http()
        .get(format!("{base}/v2/{repo}/manifests/{}", g.version))
        .bearer_auth(&t)
        .header("accept", ALL_TYPES)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"].to_str().unwrap(), g.digest);
    let m: Value = r.json().await.unwrap();
    let config = m["config"]["digest"].as_str().unwrap();
    let cfg: Value = http()
        .get(format!("{base}/v2/{repo}/blobs/{config}"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let labels = &cfg["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.revision"], g.sha.as_str());
    assert_eq!(labels["org.opencontainers.image.version"], g.version.as_str());
    assert_eq!(
        labels["org.opencontainers.image.base.digest"],
        f.stale_base.local_digest.as_str()
    );
    assert!(cfg["created"].as_str().unwrap().ends_with('Z'));
    // Jenkins pushed that digest.
    let console = http()
        .get(format!(
            "{}/job/dominion/job/{}/{}/consoleText",
            e.jenkins_url(),
            g.service,
            g.build_number
        ))
        .basic_auth("demo", Some("demo-token"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(console.contains(&format!("{}: digest: {}", g.version, g.digest)));
    // The environments point at older candidates.
    let env = f.image_envs.iter().find(|x| x.service == g.service).unwrap();
    let staging = e.control().image_tag(repo, "staging").unwrap();
    assert_eq!(Some(staging.clone()), e.control().image_tag(repo, &env.staging));
    assert_ne!(staging, g.digest);
    assert!(e.control().image_tag(repo, "prod").is_some());
}

#[tokio::test]
async fn retag_puts_the_same_bytes_and_copies_no_blob() {
    let e = estate().await;
    let g = e.control().story_facts().green_candidate;
    let base = e.registry_url();
    let repo = &g.repository;
    let push = token(
        &e,
        &format!("repository:{repo}:pull,push"),
        Some(("flightdeck", "demo-token")),
    )
    .await;
    let r = http()
        .get(format!("{base}/v2/{repo}/manifests/{}", g.version))
        .bearer_auth(&push)
        .header("accept", ALL_TYPES)
        .send()
        .await
        .unwrap();
    let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
    let bytes = r.bytes().await.unwrap();
    e.control().reset_registry_stats();

    // Interrupted halfway: one failing PUT, then it goes through.
    e.control().fail_next_manifest_puts(1);
    let put = || {
        http()
            .put(format!("{base}/v2/{repo}/manifests/staging"))
            .bearer_auth(&push)
            .header("content-type", &ctype)
            .body(bytes.clone())
            .send()
    };
    let r = put().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_ne!(
        e.control().image_tag(repo, "staging").as_deref(),
        Some(g.digest.as_str())
    );
    let r = put().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"].to_str().unwrap(), g.digest);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/v2/{repo}/manifests/{}", g.digest)
    );
    assert_eq!(e.control().image_tag(repo, "staging"), Some(g.digest.clone()));
    let stats = e.control().registry_stats();
    assert_eq!(stats.manifest_puts, 2);
    assert_eq!(stats.injected_failures, 1);
    assert_eq!(stats.bytes_received, 2 * bytes.len() as u64);
    assert_eq!(
        (stats.blob_uploads, stats.blob_bytes_received, stats.blob_gets),
        (0, 0, 0)
    );

    // Re-serialised JSON is another manifest: another digest.
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let compact = v.to_string();
    let r = http()
        .put(format!("{base}/v2/{repo}/manifests/compact"))
        .bearer_auth(&push)
        .header("content-type", &ctype)
        .body(compact.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["docker-content-digest"].to_str().unwrap(),
        sha256_digest(compact.as_bytes())
    );
    // Missing blobs, bad JSON, mismatched digests are refused.
    let mut bad = v.clone();
    bad["config"]["digest"] = Value::String(format!("sha256:{}", "0".repeat(64)));
    let r = http()
        .put(format!("{base}/v2/{repo}/manifests/bad"))
        .bearer_auth(&push)
        .header("content-type", &ctype)
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.json().await.unwrap()), "MANIFEST_BLOB_UNKNOWN");
    let r = http()
        .put(format!("{base}/v2/{repo}/manifests/bad"))
        .bearer_auth(&push)
        .header("content-type", &ctype)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&r.json().await.unwrap()), "MANIFEST_INVALID");
    let r = http()
        .put(format!("{base}/v2/{repo}/manifests/sha256:{}", "1".repeat(64)))
        .bearer_auth(&push)
        .header("content-type", &ctype)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&r.json().await.unwrap()), "DIGEST_INVALID");
}

#[tokio::test]
async fn tags_paginate_with_link() {
    let e = estate().await;
    let base = e.registry_url();
    let repo = "shop/catalog-service";
    let t = token(&e, &format!("repository:{repo}:pull"), None).await;
    let all: Value = http()
        .get(format!("{base}/v2/{repo}/tags/list"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["name"], repo);
    let all: Vec<String> = all["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "lexical order");
    assert!(all.contains(&"staging".to_string()) && all.contains(&"prod".to_string()));
    assert!(all.len() > 4);

    let mut next = Some(format!("/v2/{repo}/tags/list?n=2"));
    let mut seen = Vec::new();
    while let Some(path) = next.take() {
        let r = http()
            .get(format!("{base}{path}"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        next = r.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.starts_with(&format!("</v2/{repo}/tags/list?n=2&last=")) && l.ends_with(">; rel=\"next\""));
            l[1..l.find('>').unwrap()].to_string()
        });
        let v: Value = r.json().await.unwrap();
        let page = v["tags"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|t| t.as_str().unwrap().to_string()));
    }
    assert_eq!(seen, all);
    let v: Value = http()
        .get(format!("{base}/v2/{repo}/tags/list?n=0"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"].as_array().unwrap().len(), 0);
    let r = http()
        .get(format!("{base}/v2/shop/nothing/tags/list"))
        .bearer_auth(token(&e, "repository:shop/nothing:pull", None).await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.json().await.unwrap()), "NAME_UNKNOWN");
}

#[tokio::test]
async fn blob_upload_and_mount() {
    let e = estate().await;
    let base = e.registry_url();
    let push = token(
        &e,
        "repository:shop/scratch:pull,push",
        Some(("flightdeck", "demo-token")),
    )
    .await;
    let data = b"hello layer".to_vec();
    let digest = sha256_digest(&data);
    let r = http()
        .post(format!("{base}/v2/shop/scratch/blobs/uploads/"))
        .bearer_auth(&push)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let r = http()
        .patch(format!("{base}{location}"))
        .bearer_auth(&push)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = http()
        .put(format!("{base}{location}?digest={digest}"))
        .bearer_auth(&push)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got = http()
        .get(format!("{base}/v2/shop/scratch/blobs/{digest}"))
        .bearer_auth(&push)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), data.as_slice());
    // Mounting a known blob copies nothing.
    let r = http()
        .post(format!(
            "{base}/v2/shop/scratch/blobs/uploads/?mount={digest}&from=shop/scratch"
        ))
        .bearer_auth(&push)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let s = e.control().registry_stats();
    assert_eq!(
        (s.blob_uploads, s.blob_mounts, s.blob_bytes_received),
        (1, 1, data.len() as u64)
    );
}

async fn ecr_client(e: &Estate) -> aws_sdk_ecr::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(e.ecr_endpoint_url())
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "AKID", "SECRET", None, None, "sim",
        ))
        .load()
        .await;
    aws_sdk_ecr::Client::new(&conf)
}

#[tokio::test]
async fn ecr_through_the_aws_sdk() {
    use aws_sdk_ecr::types::{ImageIdentifier, TagStatus};

    let e = estate().await;
    let f = e.control().story_facts();
    let ecr = ecr_client(&e).await;

    let repos = ecr.describe_repositories().send().await.unwrap();
    let names: Vec<&str> = repos
        .repositories()
        .iter()
        .filter_map(|r| r.repository_name())
        .collect();
    assert_eq!(
        names,
        ["shop/fraud-scoring", "shop/ledger-service", "shop/payments-api"]
    );
    let uri = repos.repositories()[0].repository_uri().unwrap();
    assert_eq!(uri, "314159265358.dkr.ecr.eu-west-1.amazonaws.com/shop/fraud-scoring");
    let err = ecr
        .describe_repositories()
        .repository_names("shop/nope")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_repository_not_found_exception());

    // Paging through the images of the blocked candidate's repository.
    let high = &f.tomcat_high_finding;
    let repo = format!("shop/{}", high.service);
    let mut token = None;
    let mut details = Vec::new();
    loop {
        let page = ecr
            .describe_images()
            .repository_name(&repo)
            .max_results(2)
            .set_next_token(token.clone())
            .filter(
                aws_sdk_ecr::types::DescribeImagesFilter::builder()
                    .tag_status(TagStatus::Tagged)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        details.extend(page.image_details().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert!(details.len() >= 3);
    let blocked = details
        .iter()
        .find(|d| d.image_tags().iter().any(|t| t == &high.version))
        .expect("the blocked candidate's image");
    assert_eq!(blocked.image_digest(), Some(high.digest.as_str()));
    assert!(blocked.image_pushed_at().is_some() && blocked.image_size_in_bytes().unwrap() > 0);
    assert_eq!(
        blocked.image_manifest_media_type(),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
    let summary = blocked.image_scan_findings_summary().unwrap();
    assert_eq!(
        summary
            .finding_severity_counts()
            .unwrap()
            .get(&aws_sdk_ecr::types::FindingSeverity::High),
        Some(&1)
    );
    assert_eq!(
        blocked.image_scan_status().unwrap().status(),
        Some(&aws_sdk_ecr::types::ScanStatus::Complete)
    );

    // By tag and by digest; a missing tag is a failure, not an error.
    let got = ecr
        .batch_get_image()
        .repository_name(&repo)
        .image_ids(ImageIdentifier::builder().image_tag(&high.version).build())
        .image_ids(ImageIdentifier::builder().image_digest(&high.digest).build())
        .image_ids(ImageIdentifier::builder().image_tag("9.9.9").build())
        .accepted_media_types("application/vnd.docker.distribution.manifest.v2+json")
        .send()
        .await
        .unwrap();
    assert_eq!(got.images().len(), 2);
    let manifest = got.images()[0].image_manifest().unwrap().to_string();
    assert_eq!(sha256_digest(manifest.as_bytes()), high.digest);
    assert_eq!(got.failures().len(), 1);
    assert_eq!(
        got.failures()[0].failure_code(),
        Some(&aws_sdk_ecr::types::ImageFailureCode::ImageNotFound)
    );

    // Retag: move staging, then the same again is ImageAlreadyExistsException.
    let put = || {
        ecr.put_image()
            .repository_name(&repo)
            .image_manifest(&manifest)
            .image_manifest_media_type("application/vnd.docker.distribution.manifest.v2+json")
            .image_tag("staging")
            .image_digest(&high.digest)
            .send()
    };
    // The SDK retries a 500 (three attempts in all): fail them all.
    e.control().fail_next_manifest_puts(3);
    let err = put().await.unwrap_err().into_service_error();
    assert!(err.is_server_exception(), "{err:?}");
    let out = put().await.unwrap();
    assert_eq!(
        out.image().unwrap().image_id().unwrap().image_digest(),
        Some(high.digest.as_str())
    );
    assert_eq!(e.control().image_tag(&repo, "staging"), Some(high.digest.clone()));
    let err = put().await.unwrap_err().into_service_error();
    assert!(err.is_image_already_exists_exception(), "{err:?}");
    assert_eq!(
        err.meta().message(),
        Some(
            format!(
                "Image with digest '{}' and tag 'staging' already exists in the repository with name '{repo}' in registry with id '314159265358'",
                high.digest
            )
            .as_str()
        )
    );
    let err = ecr
        .put_image()
        .repository_name(&repo)
        .image_manifest(&manifest)
        .image_tag("x")
        .image_digest(format!("sha256:{}", "2".repeat(64)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_image_digest_does_not_match_exception());
    let s = e.control().registry_stats();
    assert_eq!((s.ecr_put_image, s.injected_failures), (6, 3));

    // BASIC findings of the blocked candidate.
    let scan = ecr
        .describe_image_scan_findings()
        .repository_name(&repo)
        .image_id(ImageIdentifier::builder().image_tag(&high.version).build())
        .send()
        .await
        .unwrap();
    let findings = scan.image_scan_findings().unwrap();
    let cve = findings
        .findings()
        .iter()
        .find(|x| x.name() == Some(high.cve.as_str()))
        .expect("the CVE");
    assert_eq!(cve.severity(), Some(&aws_sdk_ecr::types::FindingSeverity::High));
    let attr = |k: &str| {
        cve.attributes()
            .iter()
            .find(|a| a.key() == k)
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    assert_eq!(attr("package_name").as_deref(), Some(high.package.as_str()));
    assert_eq!(
        attr("package_version").as_deref(),
        Some(high.installed_version.as_str())
    );
    assert!(findings.enhanced_findings().is_empty());

    // ENHANCED findings of the green ECR candidate: nothing above MEDIUM.
    let g = &f.green_ecr_candidate;
    assert_eq!((g.service.as_str(), g.promotion.as_str()), ("fraud-scoring", "both"));
    let scan = ecr
        .describe_image_scan_findings()
        .repository_name(&g.repository)
        .image_id(ImageIdentifier::builder().image_digest(&g.digest).build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        scan.image_scan_status().unwrap().status(),
        Some(&aws_sdk_ecr::types::ScanStatus::Active)
    );
    let enhanced = scan.image_scan_findings().unwrap().enhanced_findings();
    assert!(!enhanced.is_empty());
    for x in enhanced {
        assert_eq!(x.status(), Some("ACTIVE"));
        let details = x.package_vulnerability_details().unwrap();
        assert!(details.vulnerability_id().unwrap().starts_with("CVE-"));
        assert!(!details.vulnerable_packages().is_empty());
        assert!(matches!(x.severity(), Some("MEDIUM" | "LOW")));
    }

    // Images pushed before scanning was turned on have no scan.
    let env = f.image_envs.iter().find(|x| x.service == g.service).unwrap();
    let err = ecr
        .describe_image_scan_findings()
        .repository_name(&g.repository)
        .image_id(ImageIdentifier::builder().image_tag(&env.production).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_scan_not_found_exception(), "{err:?}");
    let err = ecr
        .describe_images()
        .repository_name(&g.repository)
        .image_ids(ImageIdentifier::builder().image_tag("nope").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_image_not_found_exception());

    // ECR reads are POSTs, but not writes.
    let requests = e.control().requests();
    let op = |r: &RecordedRequest| {
        r.headers
            .iter()
            .find(|(k, _)| k == "x-amz-target")
            .map(|(_, v)| v.rsplit('.').next().unwrap_or_default().to_string())
    };
    assert!(requests.iter().all(|r| r.method == "POST"));
    for r in &requests {
        assert_eq!(r.is_write(), op(r).as_deref() == Some("PutImage"), "{:?}", op(r));
    }
    let auth = ecr.get_authorization_token().send().await.unwrap();
    let data = &auth.authorization_data()[0];
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token().unwrap())
        .unwrap();
    assert!(String::from_utf8(decoded).unwrap().starts_with("AWS:"));
    assert!(data.expires_at().is_some());
}

#[tokio::test]
async fn ecr_faults_match_per_operation() {
    let e = estate().await;
    let ecr = ecr_client(&e).await;
    e.control().set_fault("/ecr/DescribeImages", Fault::Status(503));
    assert!(ecr.describe_repositories().send().await.is_ok());
    assert!(
        ecr.describe_images()
            .repository_name("shop/payments-api")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn docker_engine_through_bollard() {
    let e = estate().await;
    let f = e.control().story_facts();
    let docker = bollard::Docker::connect_with_http(&e.docker_host(), 10, bollard::API_DEFAULT_VERSION).unwrap();
    assert_eq!(docker.ping().await.unwrap(), "OK");
    let v = docker.version().await.unwrap();
    assert!(v.api_version.is_some() && v.version.is_some());

    let images = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .unwrap();
    let host = e.registry_host();
    let tomcat = images
        .iter()
        .find(|i| i.repo_tags.contains(&f.fresh_base.reference))
        .expect("tomcat on the build host");
    assert_eq!(
        tomcat.repo_digests,
        [format!("{host}/library/tomcat@{}", f.fresh_base.remote_digest)]
    );
    let wildfly = images
        .iter()
        .find(|i| i.repo_tags.contains(&f.stale_base.reference))
        .expect("wildfly on the build host");
    assert_eq!(
        wildfly.repo_digests,
        [format!("{host}/jboss/wildfly@{}", f.stale_base.local_digest)]
    );
    assert_ne!(f.stale_base.local_digest, f.stale_base.remote_digest);
    let g = &f.green_candidate;
    let reference = format!("{host}/{}:{}", g.repository, g.version);
    let svc = images
        .iter()
        .find(|i| i.repo_tags.contains(&reference))
        .expect("the green candidate's image");
    assert_eq!(svc.labels["org.opencontainers.image.revision"], g.sha);
    assert_eq!(svc.repo_digests, [format!("{host}/{}@{}", g.repository, g.digest)]);
    assert!(
        images.iter().all(|i| !i.repo_tags.is_empty()),
        "no dangling without all"
    );

    let inspect = docker.inspect_image(&reference).await.unwrap();
    assert_eq!(inspect.id.as_deref(), Some(svc.id.as_str()));
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(labels["org.opencontainers.image.version"], g.version);
    assert!(inspect.created.is_some());
    let inspect = docker.inspect_image(&f.stale_base.reference).await.unwrap();
    assert_eq!(
        inspect.repo_digests.unwrap()[0],
        format!("{host}/jboss/wildfly@{}", f.stale_base.local_digest)
    );
    assert!(docker.inspect_image("nope:1").await.is_err());

    let filtered = docker
        .list_images(Some(bollard::query_parameters::ListImagesOptions {
            all: true,
            filters: Some([("reference".to_string(), vec![format!("{host}/library/*")])].into()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);

    // Versioned paths answer too.
    let r = http()
        .get(format!("{}/v1.47/images/json", e.registry_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["api-version"], "1.51");
}

#[tokio::test]
async fn builds_archive_scan_reports() {
    let e = estate().await;
    let f = e.control().story_facts();
    let jenkins = e.jenkins_url();
    let get = |path: String| {
        http()
            .get(format!("{jenkins}{path}"))
            .basic_auth("demo", Some("demo-token"))
            .send()
    };
    let g = &f.green_candidate;
    let build: Value = get(format!("/job/dominion/job/{}/{}/api/json", g.service, g.build_number))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: Vec<&str> = build["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["relativePath"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"target/trivy-report.json"), "{paths:?}");
    let trivy: Value = get(format!(
        "/job/dominion/job/{}/{}/artifact/target/trivy-report.json",
        g.service, g.build_number
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(trivy["SchemaVersion"], 2);
    assert_eq!(trivy["ArtifactType"], "container_image");
    assert_eq!(trivy["Results"][0]["Class"], "os-pkgs");
    let vulns = trivy["Results"][0]["Vulnerabilities"].as_array().unwrap();
    assert!(!vulns.is_empty());
    for v in vulns {
        assert!(matches!(v["Severity"].as_str(), Some("MEDIUM" | "LOW")));
        assert!(v["VulnerabilityID"].is_string() && v["PkgName"].is_string() && v["InstalledVersion"].is_string());
    }
    assert!(
        trivy["Metadata"]["RepoDigests"][0]
            .as_str()
            .unwrap()
            .ends_with(&g.digest)
    );

    // catalog-service archives Grype JSON instead.
    let catalog = f.image_envs.iter().find(|x| x.service == "catalog-service").unwrap();
    let number = catalog.staging.rsplit('.').next().unwrap();
    let grype: Value = get(format!(
        "/job/dominion/job/catalog-service/{number}/artifact/target/grype-report.json"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let m = &grype["matches"][0];
    assert!(m["vulnerability"]["id"].is_string() && m["vulnerability"]["fix"]["state"].is_string());
    assert!(m["artifact"]["name"].is_string() && m["artifact"]["version"].is_string());
    // ECR-hosted services archive none.
    let r = get(format!(
        "/job/dominion/job/{}/{}/artifact/target/trivy-report.json",
        f.tomcat_high_finding.service, f.tomcat_high_finding.build_number
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn new_builds_push_their_images() {
    let e = estate().await;
    let c = e.control();
    let repo = "shop/notification-worker";
    let before = c.image_tag(repo, "1.9.180");
    assert!(before.is_some());
    let r = http()
        .post(format!(
            "{}/job/dominion/job/notification-worker/build",
            e.jenkins_url()
        ))
        .basic_auth("demo", Some("demo-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    c.tick(15.0 * 60.0);
    let tags: Vec<String> = {
        let t = token(&e, &format!("repository:{repo}:pull"), None).await;
        let v: Value = http()
            .get(format!("{}/v2/{repo}/tags/list", e.registry_url()))
            .bearer_auth(t)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        tags.iter().any(|t| t.starts_with("1.9.") && t.as_str() > "1.9.181"),
        "{tags:?}"
    );
}

#[tokio::test]
async fn deploys_to_production_wait_for_approval() {
    let e = estate().await;
    let jenkins = e.jenkins_url();
    let f = e.control().story_facts();
    let g = &f.green_candidate;
    let job = format!("{jenkins}/job/dominion/job/{}-deploy", g.service);
    for env in ["staging", "production"] {
        let r = http()
            .post(format!("{job}/buildWithParameters"))
            .basic_auth("demo", Some("demo-token"))
            .form(&[
                ("VERSION", g.version.as_str()),
                ("DIGEST", g.digest.as_str()),
                ("ENVIRONMENT", env),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        e.control().tick(120.0);
        let last: Value = http()
            .get(format!("{job}/lastBuild/api/json"))
            .basic_auth("demo", Some("demo-token"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let number = last["number"].as_u64().unwrap();
        let pending: Value = http()
            .get(format!("{job}/{number}/wfapi/pendingInputActions"))
            .basic_auth("demo", Some("demo-token"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let waiting = !pending.as_array().unwrap().is_empty();
        assert_eq!(waiting, env == "production", "{env}");
        assert_eq!(last["building"], env == "production");
    }
}
