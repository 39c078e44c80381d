//! Promotion plans, as tables: which calls each strategy makes, where the candidate goes, and what
//! blocks it. Pure: the plan is a function of the state.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use flightdeck::actions::plan::plan;
use flightdeck::actions::promotion::{Direction, plan_promotion};
use flightdeck::actions::{ActionKind, ActionRequest, Confirm, Plan, PolicyContext, check};
use flightdeck::model::{
    Build, Candidate, Environment, ImageRef, ImageRepoState, ImageTag, Job, JobKind, Link, LinkKind, LinkStatus,
    PromotionStrategy, RegistryKind, Service, ServiceJobs, SourceHealth, State, Status,
};

const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const DEPLOY: &str = "shop/payments-api-deploy";

fn tag(tag: &str, digest: &str, revision: Option<&str>) -> ImageTag {
    ImageTag {
        tag: tag.into(),
        digest: digest.into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        pushed_at: None,
        size: Some(1000),
        platforms: vec![],
        revision: revision.map(str::to_string),
        version: None,
        base_name: None,
        base_digest: None,
        scan: None,
    }
}

fn candidate(version: &str, commit: &str, number: u64) -> Candidate {
    Candidate {
        service: "payments-api".into(),
        version: Some(version.into()),
        commit: Some(commit.into()),
        build_number: number,
        build_url: format!("http://jenkins/job/shop/job/payments-api/{number}/"),
        links: LinkKind::ALL
            .iter()
            .map(|&kind| Link {
                kind,
                status: LinkStatus::Pass,
                reason: "ok".into(),
                notes: vec![],
                checks: vec![],
                evidence: None,
                warnings: vec![],
            })
            .collect(),
    }
}

/// payments-api: 1.4.2 (digest A, newest) and 1.4.1 (digest B); staging and prod run B.
fn estate(registry: RegistryKind, strategy: PromotionStrategy) -> State {
    let source = if registry == RegistryKind::Ecr {
        "ecr"
    } else {
        "registry"
    };
    let mut env_tags = BTreeMap::new();
    env_tags.insert("staging".to_string(), "staging".to_string());
    env_tags.insert("production".to_string(), "prod".to_string());
    let mut service = Service::new(
        "payments-api",
        ServiceJobs {
            source: "jenkins".into(),
            build: Some("shop/payments-api".into()),
            deploy: Some(DEPLOY.into()),
            tests: vec![],
        },
    );
    service.image = Some(ImageRef {
        source: source.into(),
        registry: registry.clone(),
        repository: "shop/payments-api".into(),
        env_tags: env_tags.clone(),
        base_image: None,
        promotion: strategy,
    });
    let mut state = State {
        services: vec![service],
        environments: vec![
            Environment {
                name: "staging".into(),
                protected: false,
                read_only: false,
            },
            Environment {
                name: "production".into(),
                protected: true,
                read_only: false,
            },
        ],
        ..State::default()
    };
    state.sources.insert(
        source.into(),
        SourceHealth::new(source, "registry", "http://registry.shop:5000", 60),
    );
    state.sources.insert(
        "jenkins".into(),
        SourceHealth::new("jenkins", "jenkins", "http://jenkins/", 10),
    );
    state.images.insert(
        "payments-api".into(),
        ImageRepoState {
            registry,
            source: source.into(),
            reference: "registry.shop:5000/shop/payments-api".into(),
            repository: "shop/payments-api".into(),
            tags: vec![
                tag("1.4.2", A, Some("c2c2c2c2c2")),
                tag("1.4.1", B, Some("c1c1c1c1c1")),
                tag("staging", B, Some("c1c1c1c1c1")),
                tag("prod", B, Some("c1c1c1c1c1")),
            ],
            env_tags,
            complete: true,
            observed_at: Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
        },
    );
    state.chains.insert(
        "payments-api".into(),
        vec![
            candidate("1.4.2", "c2c2c2c2c2", 42),
            candidate("1.4.1", "c1c1c1c1c1", 41),
        ],
    );
    state
}

fn point(state: &mut State, env_tag: &str, digest: &str) {
    let repo = state.images.get_mut("payments-api").unwrap();
    repo.tags.iter_mut().find(|t| t.tag == env_tag).unwrap().digest = digest.into();
}

fn set_link(state: &mut State, index: usize, kind: LinkKind, status: LinkStatus, reason: &str) {
    let link = state.chains.get_mut("payments-api").unwrap()[index]
        .links
        .iter_mut()
        .find(|l| l.kind == kind)
        .unwrap();
    link.status = status;
    link.reason = reason.into();
}

fn planned(state: &State, direction: Direction) -> (Plan, Result<(), String>) {
    let p = plan_promotion(state, "payments-api", 0, direction).expect("a promotion can be planned");
    let request = ActionRequest {
        source: p.registry_source.clone(),
        environment: Some(p.target.clone()),
        service: "payments-api".into(),
        kind: ActionKind::Promote(Box::new(p)),
    };
    let plan = plan(request, state);
    let verdict = check(
        &plan,
        &PolicyContext {
            state,
            read_only: false,
        },
    );
    (plan, verdict)
}

/// `METHOD target` of each call, for compact comparison.
fn calls(plan: &Plan) -> Vec<String> {
    plan.calls
        .iter()
        .map(|c| {
            let tail = c
                .url
                .trim_start_matches("http://registry.shop:5000")
                .trim_start_matches("http://jenkins/");
            format!("{} {tail}", c.method)
        })
        .collect()
}

#[test]
fn each_strategy_makes_its_calls() {
    let oci_retag = vec![
        "HEAD /v2/shop/payments-api/manifests/staging".to_string(),
        format!("GET /v2/shop/payments-api/manifests/{A}"),
        "PUT /v2/shop/payments-api/manifests/staging".to_string(),
        "HEAD /v2/shop/payments-api/manifests/staging".to_string(),
    ];
    let ecr_retag: Vec<String> = vec![
        "ECR DescribeImages shop/payments-api tag staging".into(),
        "ECR BatchGetImage shop/payments-api sha256:aaaaaaaaaaaa".into(),
        "ECR PutImage shop/payments-api tag staging".into(),
        "ECR DescribeImages shop/payments-api tag staging".into(),
    ];
    let jenkins: Vec<String> = vec![
        "POST job/shop/job/payments-api-deploy/buildWithParameters".into(),
        "GET queue/item/<id>/api/json".into(),
        "GET job/shop/job/payments-api-deploy/<n>/api/json".into(),
    ];
    let table: Vec<(RegistryKind, PromotionStrategy, Vec<String>)> = vec![
        (RegistryKind::Oci, PromotionStrategy::Retag, oci_retag.clone()),
        (RegistryKind::Ecr, PromotionStrategy::Retag, ecr_retag.clone()),
        (RegistryKind::Oci, PromotionStrategy::Jenkins, jenkins.clone()),
        (
            RegistryKind::Oci,
            PromotionStrategy::Both,
            oci_retag.iter().chain(jenkins.iter()).cloned().collect(),
        ),
        (
            RegistryKind::Ecr,
            PromotionStrategy::Both,
            ecr_retag.iter().chain(jenkins.iter()).cloned().collect(),
        ),
    ];
    for (registry, strategy, expected) in table {
        let state = estate(registry.clone(), strategy);
        let (plan, verdict) = planned(&state, Direction::Forward);
        assert_eq!(calls(&plan), expected, "{registry:?} {strategy:?}");
        assert_eq!(plan.title, "Promote payments-api 1.4.2 to staging");
        assert_eq!(plan.confirm, Confirm::Yes, "staging is not protected");
        assert!(verdict.is_ok(), "{verdict:?}");
        assert_eq!(plan.gates.len(), LinkKind::ALL.iter().filter(|k| k.is_gate()).count());
        if strategy.deploys() {
            let why = &plan.calls.iter().find(|c| c.method == "POST").unwrap().why;
            assert!(
                why.contains("VERSION=1.4.2")
                    && why.contains(&format!("DIGEST={A}"))
                    && why.contains("ENVIRONMENT=staging"),
                "{why}"
            );
        }
    }
}

#[test]
fn the_candidate_goes_to_the_environment_after_the_last_that_runs_it() {
    let mut state = estate(RegistryKind::Oci, PromotionStrategy::Retag);
    point(&mut state, "staging", A);
    let (plan, verdict) = planned(&state, Direction::Forward);
    assert_eq!(plan.title, "Promote payments-api 1.4.2 to production");
    assert_eq!(
        plan.confirm,
        Confirm::TypeName("payments-api".into()),
        "production is protected"
    );
    assert!(verdict.is_ok());
    point(&mut state, "prod", A);
    let err = plan_promotion(&state, "payments-api", 0, Direction::Forward).unwrap_err();
    assert!(err.contains("already runs in production"), "{err}");
}

#[test]
fn what_blocks_a_promotion() {
    // (link, status, to production?, blocked?)
    let table = [
        (LinkKind::Scan, LinkStatus::Fail, false, true),
        (LinkKind::Scan, LinkStatus::Fail, true, true),
        (LinkKind::Load, LinkStatus::Unknown, false, false),
        (LinkKind::Load, LinkStatus::Unknown, true, true),
        (LinkKind::Quality, LinkStatus::Pending, true, true),
        (LinkKind::Functional, LinkStatus::Running, false, false),
        (LinkKind::Functional, LinkStatus::Running, true, true),
    ];
    for (kind, status, production, blocked) in table {
        let mut state = estate(RegistryKind::Oci, PromotionStrategy::Retag);
        if production {
            point(&mut state, "staging", A);
        }
        set_link(&mut state, 0, kind, status, "1 high: CVE-2024-0001 in openssl");
        let (plan, verdict) = planned(&state, Direction::Forward);
        assert_eq!(
            !plan.blockers.is_empty(),
            blocked,
            "{kind:?} {status:?} production={production}: {:?}",
            plan.blockers
        );
        assert_eq!(verdict.is_err(), blocked, "policy agrees with the blockers");
        if blocked {
            assert!(plan.blockers[0].contains(kind.title()), "{:?}", plan.blockers);
            // The plan still lists its calls and gates, so the operator sees what would happen.
            assert_eq!(plan.calls.len(), 4);
            assert!(plan.gates.iter().any(|g| g.kind == kind && g.status == status));
        }
    }
}

#[test]
fn a_candidate_without_an_image_or_a_read_only_target_is_blocked() {
    let mut state = estate(RegistryKind::Oci, PromotionStrategy::Retag);
    state
        .images
        .get_mut("payments-api")
        .unwrap()
        .tags
        .retain(|t| t.tag != "1.4.2");
    let (plan, verdict) = planned(&state, Direction::Forward);
    assert!(
        plan.blockers.iter().any(|b| b.contains("no image of 1.4.2")),
        "{:?}",
        plan.blockers
    );
    assert!(verdict.is_err());

    let mut state = estate(RegistryKind::Oci, PromotionStrategy::Retag);
    state.environments[0].read_only = true;
    let (_, verdict) = planned(&state, Direction::Forward);
    assert!(verdict.unwrap_err().contains("read-only"));
}

#[test]
fn rollback_goes_to_the_previous_good_candidate() {
    let mut state = estate(RegistryKind::Oci, PromotionStrategy::Retag);
    point(&mut state, "staging", A);
    point(&mut state, "prod", A);
    let (plan, verdict) = planned(
        &state,
        Direction::Rollback {
            environment: "production".into(),
        },
    );
    assert_eq!(plan.title, "Roll back payments-api in production to 1.4.1");
    assert_eq!(plan.request.kind.name(), "rollback");
    assert_eq!(plan.confirm, Confirm::TypeName("payments-api".into()));
    assert!(verdict.is_ok(), "{verdict:?}");
    assert_eq!(calls(&plan)[1], format!("GET /v2/shop/payments-api/manifests/{B}"));
    assert_eq!(calls(&plan)[2], "PUT /v2/shop/payments-api/manifests/prod");

    // An older candidate that is not good is skipped; with none left, nothing to roll back to.
    set_link(&mut state, 1, LinkKind::Scan, LinkStatus::Fail, "critical");
    let err = plan_promotion(
        &state,
        "payments-api",
        0,
        Direction::Rollback {
            environment: "production".into(),
        },
    )
    .unwrap_err();
    assert!(err.contains("nothing to roll back to"), "{err}");
}

#[test]
fn a_deploy_that_already_ran_is_not_triggered_again() {
    let mut state = estate(RegistryKind::Oci, PromotionStrategy::Jenkins);
    let build = Build {
        parameters: vec![
            ("VERSION".into(), "1.4.2".into()),
            ("DIGEST".into(), A.into()),
            ("ENVIRONMENT".into(), "staging".into()),
        ],
        number: 7,
        status: Status::Ok,
        ..Build::default()
    };
    state.jobs.insert(
        DEPLOY.into(),
        Job {
            full_name: DEPLOY.into(),
            source: "jenkins".into(),
            url: "http://jenkins/job/shop/job/payments-api-deploy/".into(),
            kind: JobKind::Pipeline,
            color: None,
            buildable: true,
            parameters: vec![],
            builds: vec![build],
            observed_at: Utc::now(),
        },
    );
    let (plan, _) = planned(&state, Direction::Forward);
    assert_eq!(calls(&plan), vec!["— job/shop/job/payments-api-deploy/7/".to_string()]);
    assert!(plan.calls[0].why.contains("not triggered again"));
}
