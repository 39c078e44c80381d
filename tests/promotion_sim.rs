//! Promotions executed for real against the simulated estate (its OCI registry with token auth,
//! its ECR API through the AWS SDK, its Jenkins): the tag moves without a blob, twice is a no-op,
//! an interruption halfway leaves a clear state and a retry completes, and the audit records it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flightdeck::actions::plan::plan;
use flightdeck::actions::promotion::{Direction, plan_promotion};
use flightdeck::actions::{ActionKind, ActionRequest, AuditRecord, Confirm, Plan, PolicyContext, check};
use flightdeck::config::load_from_str;
use flightdeck::model::{LinkStatus, PendingInput, QueueState};
use flightdeck::runtime::Runtime;
use flightdeck::sim::{Estate, SimOptions};

async fn cockpit(estate: &Estate, audit: &Path) -> Runtime {
    let token = SimOptions::default().token;
    let env = move |k: &str| (k == "FLIGHTDECK_DEMO_TOKEN").then(|| token.clone());
    let config = load_from_str(&estate.demo_config_toml(), Path::new("<demo>"), None, &env).unwrap();
    let mut rt = Runtime::new(&config, Some(audit.to_path_buf())).unwrap();
    // Jenkins, the registries and the rest answer concurrently; twice settles every chain.
    rt.poll_all_once().await;
    rt.poll_all_once().await;
    rt
}

fn frozen() -> SimOptions {
    SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    }
}

/// Plan the promotion of `service`'s candidate `version`, as `p` would.
fn promotion(rt: &Runtime, service: &str, version: &str) -> Plan {
    let chain = &rt.state.chains[service];
    let index = chain
        .iter()
        .position(|c| c.version.as_deref() == Some(version))
        .unwrap_or_else(|| panic!("{service} has no candidate {version}"));
    let p = plan_promotion(&rt.state, service, index, Direction::Forward).unwrap();
    let request = ActionRequest {
        source: p.registry_source.clone(),
        environment: Some(p.target.clone()),
        service: service.into(),
        kind: ActionKind::Promote(Box::new(p)),
    };
    plan(request, &rt.state)
}

fn audit_lines(path: &Path) -> Vec<AuditRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn audit_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("audit.jsonl")
}

#[tokio::test]
async fn a_green_candidate_goes_to_staging_then_production_by_retag() {
    let estate = Estate::start(frozen()).await.unwrap();
    let control = estate.control();
    let green = control.story_facts().green_candidate;
    let repo = format!("shop/{}", green.service);
    let dir = tempfile::tempdir().unwrap();
    let mut rt = cockpit(&estate, &audit_path(&dir)).await;

    let candidate = rt.state.chains[&green.service]
        .iter()
        .find(|c| c.version.as_deref() == Some(green.version.as_str()))
        .unwrap();
    assert_eq!(
        candidate.verdict(),
        LinkStatus::Pass,
        "{:#?}",
        candidate.blockers().collect::<Vec<_>>()
    );

    let to_staging = promotion(&rt, &green.service, &green.version);
    assert_eq!(to_staging.environment.as_ref().unwrap().name, "staging");
    assert_eq!(to_staging.confirm, Confirm::Yes);
    assert!(to_staging.blockers.is_empty(), "{:?}", to_staging.blockers);
    assert!(
        check(
            &to_staging,
            &PolicyContext {
                state: &rt.state,
                read_only: false
            }
        )
        .is_ok()
    );
    control.reset_registry_stats();
    let outcome = rt.executor.run(to_staging.clone()).await;
    assert!(outcome.ok, "{}", outcome.detail);
    assert!(outcome.detail.contains("staging moved from"), "{}", outcome.detail);
    assert!(outcome.detail.contains("checked: staging →"), "{}", outcome.detail);
    assert_eq!(
        control.image_tag(&repo, "staging").as_deref(),
        Some(green.digest.as_str())
    );
    let stats = control.registry_stats();
    assert_eq!(stats.manifest_puts, 1, "{stats:?}");
    assert_eq!(
        (stats.blob_gets, stats.blob_uploads, stats.blob_bytes_received),
        (0, 0, 0),
        "no blob is copied: {stats:?}"
    );

    // The same plan again: the tag is already there, nothing is written, and it says so.
    let again = rt.executor.run(to_staging).await;
    assert!(again.ok, "{}", again.detail);
    assert!(again.detail.contains("already pointed at"), "{}", again.detail);
    assert_eq!(control.registry_stats().manifest_puts, 1, "no second PUT");

    // Next stop: production, protected, by the same key.
    rt.poll_all_once().await;
    let to_production = promotion(&rt, &green.service, &green.version);
    assert_eq!(to_production.environment.as_ref().unwrap().name, "production");
    assert_eq!(to_production.confirm, Confirm::TypeName(green.service.clone()));
    assert!(to_production.blockers.is_empty(), "{:?}", to_production.blockers);
    let outcome = rt.executor.run(to_production).await;
    assert!(outcome.ok, "{}", outcome.detail);
    assert_eq!(control.image_tag(&repo, "prod").as_deref(), Some(green.digest.as_str()));

    let audit = audit_lines(&audit_path(&dir));
    assert_eq!(audit.len(), 3, "{audit:#?}");
    assert!(audit.iter().all(|r| r.action == "promote" && r.result == "ok"));
    assert_eq!(audit[2].environment.as_deref(), Some("production"));
    assert!(
        audit[2]
            .plan
            .iter()
            .any(|c| c.starts_with("PUT ") && c.contains("/manifests/prod")),
        "{:?}",
        audit[2].plan
    );
}

#[tokio::test]
async fn an_interrupted_promotion_says_where_it_stopped_and_a_retry_completes_it() {
    let estate = Estate::start(frozen()).await.unwrap();
    let control = estate.control();
    let green = control.story_facts().green_candidate;
    let repo = format!("shop/{}", green.service);
    let before = control.image_tag(&repo, "staging");
    let dir = tempfile::tempdir().unwrap();
    let rt = cockpit(&estate, &audit_path(&dir)).await;
    let to_staging = promotion(&rt, &green.service, &green.version);

    // The registry answers the check and the manifest GET, then fails the PUT.
    control.fail_next_manifest_puts(1);
    let failed = rt.executor.run(to_staging.clone()).await;
    assert!(!failed.ok);
    assert!(failed.detail.contains("retag failed"), "{}", failed.detail);
    assert!(failed.detail.contains("promote again to retry"), "{}", failed.detail);
    assert_eq!(control.image_tag(&repo, "staging"), before, "nothing moved");

    let retried = rt.executor.run(to_staging).await;
    assert!(retried.ok, "{}", retried.detail);
    assert_eq!(
        control.image_tag(&repo, "staging").as_deref(),
        Some(green.digest.as_str())
    );
    let results: Vec<String> = audit_lines(&audit_path(&dir)).into_iter().map(|r| r.result).collect();
    assert_eq!(results, ["failed", "ok"]);
}

#[tokio::test]
async fn an_ecr_candidate_is_retagged_then_deployed_by_jenkins_through_its_approval() {
    let estate = Estate::start(SimOptions::default()).await.unwrap();
    let control = estate.control();
    let green = control.story_facts().green_ecr_candidate;
    assert_eq!(green.promotion, "both");
    let repo = format!("shop/{}", green.service);
    let deploy_job = format!("dominion/{}-deploy", green.service);
    let dir = tempfile::tempdir().unwrap();
    let mut rt = cockpit(&estate, &audit_path(&dir)).await;

    // Staging: the pipeline already deployed this digest there, so only the tag moves.
    let to_staging = promotion(&rt, &green.service, &green.version);
    assert!(to_staging.blockers.is_empty(), "{:?}", to_staging.blockers);
    assert!(to_staging.calls.iter().any(|c| c.url.starts_with("PutImage")));
    let outcome = rt.executor.run(to_staging).await;
    assert!(outcome.ok, "{}", outcome.detail);
    assert_eq!(
        control.image_tag(&repo, "staging").as_deref(),
        Some(green.digest.as_str())
    );

    // Someone deploys the release production ran before (by hand, approved), so that Jenkins'
    // last production deploy is not the candidate's.
    let previous = control.image_tag(&repo, "prod").unwrap();
    let manual = plan(
        ActionRequest {
            kind: ActionKind::TriggerBuild {
                job: deploy_job.clone(),
                params: vec![
                    ("VERSION".into(), "previous".into()),
                    ("DIGEST".into(), previous.clone()),
                    ("ENVIRONMENT".into(), "production".into()),
                ],
                parameterised: true,
            },
            service: green.service.clone(),
            source: "jenkins".into(),
            environment: Some("production".into()),
        },
        &rt.state,
    );
    assert!(rt.executor.run(manual).await.ok);
    let (number, input) = waiting_for_approval(&mut rt, &deploy_job, &previous).await;
    approve(&rt, &deploy_job, number, &input, &green.service).await;

    // Production: retag, then the deploy job with VERSION, DIGEST and ENVIRONMENT.
    rt.poll_all_once().await;
    let to_production = promotion(&rt, &green.service, &green.version);
    assert_eq!(to_production.confirm, Confirm::TypeName(green.service.clone()));
    let trigger = to_production
        .calls
        .iter()
        .find(|c| c.url.ends_with("buildWithParameters"))
        .unwrap_or_else(|| panic!("{:#?}", to_production.calls));
    assert!(
        trigger.why.contains("ENVIRONMENT=production") && trigger.why.contains(&green.digest),
        "{}",
        trigger.why
    );
    let outcome = rt.executor.run(to_production).await;
    assert!(outcome.ok, "{}", outcome.detail);
    assert!(outcome.detail.contains("queued"), "{}", outcome.detail);
    let queue_url = outcome
        .detail
        .split("queued (")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    assert_eq!(control.image_tag(&repo, "prod").as_deref(), Some(green.digest.as_str()));

    // The queue item becomes a build (Jenkins may fold it into an identical waiting request);
    // when that build stops at its approval, the operator approves it through the action path.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let build = loop {
        rt.poll_all_once().await;
        let started = rt.state.queue.iter().find_map(|q| match &q.state {
            QueueState::Started { number, .. } if q.queue_url == queue_url => Some(*number),
            _ => None,
        });
        if let Some(n) = started {
            break n;
        }
        assert!(tokio::time::Instant::now() < deadline, "the deploy never started");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    loop {
        if audit_lines(&audit_path(&dir))
            .iter()
            .any(|r| r.action == "promote_check")
        {
            break;
        }
        rt.poll_all_once().await;
        let input = rt.state.jobs[&deploy_job]
            .build(build)
            .and_then(|b| b.pending_inputs.first().cloned());
        if let Some(input) = input {
            approve(&rt, &deploy_job, build, &input, &green.service).await;
        }
        assert!(tokio::time::Instant::now() < deadline, "the deploy did not end");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The follow-up check: the deploy job finished, recorded with the plan.
    let check = loop {
        if let Some(r) = audit_lines(&audit_path(&dir))
            .into_iter()
            .find(|r| r.action == "promote_check")
        {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deploy was not followed to its end"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(check.result, "ok", "{}", check.detail);
    // Which build number the follow names is not asserted: the simulated queue can hand the same
    // queue id to a history build (noted for the next session).
    assert!(
        check.detail.contains("finished success"),
        "approved #{build}; {}",
        check.detail
    );
    assert!(check.plan.iter().any(|c| c.contains("buildWithParameters")));
}

/// Poll until a build of `job` deploying `digest` waits at an input; its number and the input.
async fn waiting_for_approval(rt: &mut Runtime, job: &str, digest: &str) -> (u64, PendingInput) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        rt.poll_all_once().await;
        let waiting = rt.state.jobs.get(job).and_then(|j| {
            j.builds.iter().find_map(|b| {
                let ours = b.parameters.iter().any(|(k, v)| k == "DIGEST" && v == digest);
                (ours && !b.pending_inputs.is_empty()).then(|| (b.number, b.pending_inputs[0].clone()))
            })
        });
        if let Some(w) = waiting {
            return w;
        }
        assert!(tokio::time::Instant::now() < deadline, "{job} never asked for approval");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn approve(rt: &Runtime, job: &str, build: u64, input: &PendingInput, service: &str) {
    let approve = plan(
        ActionRequest {
            kind: ActionKind::ApproveInput {
                job: job.into(),
                build,
                input_id: input.id.clone(),
                message: input.message.clone(),
                params: vec![],
            },
            service: service.into(),
            source: "jenkins".into(),
            environment: Some("production".into()),
        },
        &rt.state,
    );
    let outcome = rt.executor.run(approve).await;
    assert!(outcome.ok, "{}", outcome.detail);
}
