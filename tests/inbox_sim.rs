//! The approvals inbox against the simulated estate: Jenkins inputs, AWX workflow approvals and
//! paused rollouts in one list, the four-eyes rule refusing the person who started a run, and a
//! decision executed through the one action path (plan → policy → execute → record).

use std::path::Path;

use flightdeck::actions::plan::plan;
use flightdeck::actions::{ActionKind, ActionRequest, PolicyContext, check};
use flightdeck::config::load_from_str;
use flightdeck::model::inbox::inbox;
use flightdeck::model::{FourEyes, InboxKind};
use flightdeck::runtime::Runtime;
use flightdeck::sim::{Estate, SimOptions};

async fn cockpit(estate: &Estate, audit: &Path, awx_identity: &str) -> Runtime {
    let token = SimOptions::default().token;
    let env = move |k: &str| (k == "FLIGHTDECK_DEMO_TOKEN").then(|| token.clone());
    let mut config = load_from_str(&estate.demo_config_toml(), Path::new("<demo>"), None, &env).unwrap();
    config.identities.insert("awx".into(), awx_identity.into());
    let mut rt = Runtime::new(&config, Some(audit.to_path_buf())).unwrap();
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

#[tokio::test]
async fn one_inbox_across_jenkins_awx_and_the_clusters() {
    let estate = Estate::start(frozen()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = cockpit(&estate, &dir.path().join("audit.jsonl"), "erin").await;
    let items = inbox(&rt.state);
    let kinds: Vec<&str> = items.iter().map(|i| i.kind.label()).collect();
    for kind in ["jenkins input", "awx approval", "paused rollout"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let facts = estate.control().awx_facts();
    let awx = items
        .iter()
        .find(|i| matches!(i.kind, InboxKind::AwxApproval { id, .. } if id == facts.pending_approval_id))
        .expect("the pending workflow approval");
    assert_eq!(awx.started_by.as_deref(), Some(facts.pending_launched_by.as_str()));
    assert_eq!(
        awx.service.as_deref(),
        Some("payments-api"),
        "{awx:?} {:?}",
        rt.state.services.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert_eq!(awx.environment.as_deref(), Some("production"));
    assert_eq!(awx.four_eyes, FourEyes::Clear);
    assert!(awx.flightdeck_enforces.iter().any(|s| s.contains("four-eyes")));
    assert!(awx.server_enforces.iter().any(|s| s.contains("AWX RBAC")));

    let paused = items
        .iter()
        .find(|i| matches!(i.kind, InboxKind::PausedRollout { .. }))
        .unwrap();
    assert_eq!(paused.environment.as_deref(), Some("production"));
    assert!(paused.can_reject.is_err(), "undo refuses a paused Deployment");
    let jenkins = items
        .iter()
        .find(|i| matches!(i.kind, InboxKind::JenkinsInput { .. }))
        .unwrap();
    assert!(jenkins.server_enforces.iter().any(|s| s.starts_with("Jenkins")));
}

#[tokio::test]
async fn the_launcher_cannot_approve_their_own_production_workflow() {
    let estate = Estate::start(frozen()).await.unwrap();
    let facts = estate.control().awx_facts();
    let dir = tempfile::tempdir().unwrap();
    // The operator is the one who launched the workflow.
    let rt = cockpit(&estate, &dir.path().join("audit.jsonl"), &facts.pending_launched_by).await;
    let request = ActionRequest {
        kind: ActionKind::AwxDecision {
            source: "awx".into(),
            id: facts.pending_approval_id,
            name: "Approve production change".into(),
            approve: true,
        },
        service: "payments-api".into(),
        source: "awx".into(),
        environment: Some("production".into()),
    };
    let p = plan(request.clone(), &rt.state);
    let verdict = check(
        &p,
        &PolicyContext {
            state: &rt.state,
            read_only: false,
        },
    );
    let why = verdict.unwrap_err();
    assert!(why.contains("four-eyes") && why.contains("another person"), "{why}");
    // Denying is not approving: the launcher may stop their own change.
    let mut deny = request.clone();
    deny.kind = ActionKind::AwxDecision {
        source: "awx".into(),
        id: facts.pending_approval_id,
        name: "Approve production change".into(),
        approve: false,
    };
    let p = plan(deny, &rt.state);
    check(
        &p,
        &PolicyContext {
            state: &rt.state,
            read_only: false,
        },
    )
    .unwrap();

    // Somebody else approves, through the executor, and AWX moves on.
    let rt = cockpit(&estate, &dir.path().join("audit.jsonl"), "erin").await;
    let p = plan(request, &rt.state);
    check(
        &p,
        &PolicyContext {
            state: &rt.state,
            read_only: false,
        },
    )
    .unwrap();
    let outcome = rt.executor.run(p).await;
    assert!(outcome.ok, "{}", outcome.detail);
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"awx_approve\""), "{audit}");
    // A second approval is refused by AWX itself, with its message.
    let again = plan(
        ActionRequest {
            kind: ActionKind::AwxDecision {
                source: "awx".into(),
                id: facts.pending_approval_id,
                name: "Approve production change".into(),
                approve: true,
            },
            service: "payments-api".into(),
            source: "awx".into(),
            environment: Some("production".into()),
        },
        &rt.state,
    );
    let outcome = rt.executor.run(again).await;
    assert!(!outcome.ok && outcome.detail.contains("already"), "{}", outcome.detail);
}
