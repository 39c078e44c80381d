//! The AWX client and poller against the simulated estate's AWX (at `{estate}/awx`, so every
//! link carries a path prefix): templates and jobs, output tails, pending approvals, approve
//! and deny, launches (including the template that drops extra variables), and a garbled body.

use std::sync::Arc;
use std::time::Duration;

use flightdeck::config::{AwxAuth, AwxSourceConfig, Secret};
use flightdeck::model::{AwxJobStatus, AwxKind, AwxState, AwxTemplateRef, Update};
use flightdeck::runtime::Runtime;
use flightdeck::sim::{Estate, Fault, SimOptions};
use flightdeck::sources::awx::{AwxClient, AwxError, AwxPoller, WatchedTemplate, extra_vars};
use serde_json::json;
use tokio::sync::{Notify, mpsc};

async fn estate() -> (Estate, SimOptions) {
    let opts = SimOptions {
        speed: 0.0,
        ..SimOptions::default()
    };
    (Estate::start(opts.clone()).await.unwrap(), opts)
}

fn config(estate: &Estate, auth: AwxAuth) -> AwxSourceConfig {
    AwxSourceConfig {
        name: "awx".to_string(),
        url: estate.awx_url().parse().unwrap(),
        auth,
        identity: None,
        poll_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        jobs_per_template: 5,
        insecure_tls: false,
    }
}

fn client(estate: &Estate, opts: &SimOptions) -> Arc<AwxClient> {
    Arc::new(AwxClient::new(&config(estate, AwxAuth::Token(Secret::new(&opts.token)))).unwrap())
}

fn watched() -> Vec<WatchedTemplate> {
    let mut out = Vec::new();
    for service in ["payments-api", "ledger-service"] {
        for env in ["staging", "production"] {
            out.push(WatchedTemplate {
                service: service.to_string(),
                environment: env.to_string(),
                template: AwxTemplateRef {
                    source: "awx".to_string(),
                    template: format!("deploy-{service}-{env}"),
                    workflow: false,
                },
            });
        }
    }
    out.push(WatchedTemplate {
        service: "payments-api".to_string(),
        environment: "production".to_string(),
        template: AwxTemplateRef {
            source: "awx".to_string(),
            template: "release-payments-api-production".to_string(),
            workflow: true,
        },
    });
    out.push(WatchedTemplate {
        service: "checkout-web".to_string(),
        environment: "staging".to_string(),
        template: AwxTemplateRef {
            source: "awx".to_string(),
            template: "deploy-checkout-web-staging".to_string(),
            workflow: false,
        },
    });
    out
}

fn poller(client: Arc<AwxClient>) -> (AwxPoller, mpsc::UnboundedReceiver<Update>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let p = AwxPoller::new(
        client,
        "awx",
        watched(),
        5,
        Duration::from_secs(60),
        tx,
        Arc::new(Notify::new()),
    );
    (p, rx)
}

/// The AWX snapshot and the health verdict of one poll.
fn drain(rx: &mut mpsc::UnboundedReceiver<Update>) -> (Option<AwxState>, Option<Result<(), String>>) {
    let (mut state, mut health) = (None, None);
    while let Ok(u) = rx.try_recv() {
        match u {
            Update::Awx { source, state: s } => {
                assert_eq!(source, "awx");
                state = Some(s);
            }
            Update::SourceOk { .. } => health = Some(Ok(())),
            Update::SourceFailed { error, .. } => health = Some(Err(error)),
            _ => {}
        }
    }
    (state, health)
}

#[tokio::test]
async fn poll_reads_templates_jobs_tails_and_pending_approvals() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let facts = control.awx_facts();
    let (mut p, mut rx) = poller(client(&estate, &opts));
    control.clear_requests();
    p.poll_once().await.unwrap();
    let (state, health) = drain(&mut rx);
    assert_eq!(health, Some(Ok(())));
    let state = state.expect("a snapshot");
    assert_eq!(state.url, format!("{}/", estate.awx_url()));

    // Templates as configured, with what a launch will keep.
    let pay = state.template("deploy-payments-api-staging").unwrap();
    assert_eq!(pay.kind, AwxKind::Job);
    assert!(pay.ask_variables_on_launch && pay.survey_enabled);
    assert_eq!(pay.survey_variables, vec!["version", "digest", "image", "environment"]);
    assert_eq!(pay.playbook, "playbooks/deploy-service.yml");
    assert_eq!(pay.used_by, vec![("payments-api".to_string(), "staging".to_string())]);
    let ledger = state.template_for("ledger-service", "staging").unwrap();
    assert_eq!(ledger.name, facts.ignoring_template);
    assert!(!ledger.ask_variables_on_launch && !ledger.survey_enabled);
    assert!(!ledger.accepts_variable("version"));
    let ledger_prod = state.template("deploy-ledger-service-production").unwrap();
    assert!(ledger_prod.accepts_variable("version") && !ledger_prod.ask_variables_on_launch);
    let wf = state.template("release-payments-api-production").unwrap();
    assert_eq!(wf.kind, AwxKind::Workflow);
    assert_eq!(wf.id, facts.workflow_template_id);
    assert_eq!(wf.last_status, AwxJobStatus::Running);
    // A template AWX does not list is reported, not an error.
    assert_eq!(state.missing.len(), 1);
    assert_eq!(state.missing[0].name, "deploy-checkout-web-staging");

    // Recent jobs, newest first, with who launched them and their variables.
    let jobs = state.jobs_of("deploy-payments-api-staging");
    assert_eq!(jobs.len(), 5);
    assert!(jobs.windows(2).all(|w| w[0].id > w[1].id));
    let running = &jobs[0];
    assert_eq!(running.id, facts.running_job.id);
    assert_eq!(running.status, AwxJobStatus::Running);
    assert_eq!(
        running.launched_by.as_deref(),
        Some(facts.running_job.launched_by.as_str())
    );
    assert_eq!(running.var("version"), Some(facts.running_job.version.as_str()));
    let running_tail = running.stdout_tail.clone().expect("a running job's tail");
    assert!(!running_tail.is_empty());
    let launchers: std::collections::BTreeSet<_> = jobs.iter().filter_map(|j| j.launched_by.clone()).collect();
    assert!(launchers.len() >= 3, "{launchers:?}");
    assert!(
        jobs[1..].iter().all(|j| j.stdout_tail.is_none()),
        "no tail for good finished jobs"
    );

    // The failed production deploy: its explanation-free failure is in the output's tail.
    let failed = &state.jobs_of("deploy-ledger-service-production")[0];
    assert_eq!(failed.id, facts.failed_job.id);
    assert_eq!(failed.status, AwxJobStatus::Failed);
    let tail = failed.stdout_tail.as_ref().expect("a failed job's tail");
    assert!(tail.len() <= 40);
    assert!(
        tail.iter().any(|l| l.starts_with("fatal: [app-2]: FAILED! => {")),
        "{tail:#?}"
    );
    assert!(tail.iter().any(|l| l.starts_with("PLAY RECAP")));
    assert!(tail.iter().any(|l| l.starts_with("app-2") && l.contains("failed=1")));
    let canceled = state
        .jobs_of(&facts.ignoring_template)
        .iter()
        .find(|j| j.status == AwxJobStatus::Canceled);
    assert!(canceled.is_some(), "ledger staging has a canceled job");

    // Only the pending approval is listed, with who launched its workflow.
    let approvals: Vec<_> = state.approvals().collect();
    assert_eq!(approvals.len(), 1);
    let a = approvals[0];
    assert_eq!(a.id, facts.pending_approval_id);
    assert_eq!(a.name, "Approve production change");
    assert!(a.can_approve_or_deny && !a.timed_out);
    assert!(
        a.approval_expiration.is_some_and(|e| e > chrono::Utc::now()),
        "expires in the future"
    );
    assert_eq!(a.workflow_job_id, Some(facts.pending_workflow_job_id));
    assert_eq!(a.workflow_job_name, "release-payments-api-production");
    assert_eq!(a.launched_by.as_deref(), Some("dmitri"));
    let of = state.template_of(a).expect("the approval's workflow template");
    assert_eq!(of.used_by, vec![("payments-api".to_string(), "production".to_string())]);

    // What went over the wire: the status filter, newest-first job lists, the prefix.
    let requests = control.requests();
    assert!(requests.iter().all(|r| r.path.starts_with("/awx/api/v2/")));
    assert!(requests.iter().all(|r| r.user.as_deref() == Some("flightdeck")));
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/awx/api/v2/workflow_approvals/" && r.query.contains("status=pending"))
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path.ends_with("/jobs/") && r.query.contains("order_by=-id"))
    );
    let stdout_of = |id: u64| format!("/awx/api/v2/jobs/{id}/stdout/");
    assert_eq!(requests.iter().filter(|r| r.path == stdout_of(failed.id)).count(), 1);

    // A second poll reads the running job's output again, not the failed one's; the output grew.
    control.clear_requests();
    control.tick(200.0);
    p.poll_once().await.unwrap();
    let (state, _) = drain(&mut rx);
    let state = state.unwrap();
    let requests = control.requests();
    assert_eq!(requests.iter().filter(|r| r.path == stdout_of(failed.id)).count(), 0);
    assert_eq!(requests.iter().filter(|r| r.path == stdout_of(running.id)).count(), 1);
    assert!(
        state.job(failed.id).unwrap().stdout_tail.is_some(),
        "the failed tail is remembered"
    );
    let grown = state.job(running.id).unwrap().stdout_tail.clone().unwrap();
    assert_ne!(grown, running_tail, "the running job's output grows");
    // Only the output's last lines were asked for (a negative `start_line`), and they are its end.
    let asked = requests.iter().find(|r| r.path == stdout_of(running.id)).unwrap();
    assert!(
        asked.query.contains("format=json") && asked.query.contains("start_line=-"),
        "{}",
        asked.query
    );
    let whole = |id: u64| {
        let url = format!(
            "{}/api/v2/jobs/{id}/stdout/?format=txt",
            estate.awx_url().trim_end_matches('/')
        );
        let token = opts.token.clone();
        async move {
            let r = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
            r.text().await.unwrap()
        }
    };
    assert_eq!(grown, flightdeck::sources::awx::map::tail(&whole(running.id).await, 40));
    // A tail much shorter than the output: the slice is the output's end, colour codes dropped.
    let failed_output = whole(failed.id).await;
    assert!(failed_output.lines().count() > 20);
    let short = client(&estate, &opts).stdout_tail(failed.id, 5).await.unwrap();
    assert_eq!(short, flightdeck::sources::awx::map::tail(&failed_output, 5));
    assert!(short.iter().all(|l| !l.contains('\x1b')), "{short:#?}");
    // Workflow launchers are read once.
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path.starts_with("/awx/api/v2/workflow_jobs/"))
            .count(),
        0
    );
}

#[tokio::test]
async fn lists_follow_next_links_below_the_prefix() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let client = client(&estate, &opts);
    control.clear_requests();
    let all: Vec<serde_json::Value> = client.list("jobs/?page_size=3&order_by=-id", 1000).await.unwrap();
    let pages = control.requests().len();
    assert!(pages >= 3, "{pages} pages for {} jobs", all.len());
    let ids: Vec<u64> = all.iter().map(|j| j["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    assert!(control.requests().iter().all(|r| r.path == "/awx/api/v2/jobs/"));
    // A limit stops early.
    let first: Vec<serde_json::Value> = client.list("jobs/?page_size=3", 4).await.unwrap();
    assert_eq!(first.len(), 4);
}

#[tokio::test]
async fn approve_once_then_again_is_refused() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let facts = control.awx_facts();
    let client = client(&estate, &opts);
    client.approve(facts.pending_approval_id).await.unwrap();
    let again = client.approve(facts.pending_approval_id).await.unwrap_err();
    assert_eq!(again.status(), Some(400));
    assert!(
        again
            .to_string()
            .contains("This workflow step has already been approved or denied."),
        "{again}"
    );
    assert!(client.pending_approvals().await.unwrap().is_empty());
    // The workflow goes on to its deploy node and succeeds.
    let launched = flightdeck::sources::awx::Launched {
        job_id: facts.pending_workflow_job_id,
        kind: AwxKind::Workflow,
        template_id: facts.workflow_template_id,
        template: "release-payments-api-production".into(),
        url: String::new(),
        api_url: String::new(),
    };
    let still = client
        .follow(&launched, Duration::from_millis(10), Duration::from_millis(30))
        .await
        .unwrap_err();
    assert!(matches!(still, AwxError::StillRunning(_)), "{still}");
    control.tick(60.0);
    let done = client
        .follow(&launched, Duration::from_millis(10), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.status, AwxJobStatus::Successful);
    assert_eq!(done.launched_by.as_deref(), Some("dmitri"));
    // Unknown approvals are refused with AWX's 404.
    let missing = client.deny(999_999).await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
}

#[tokio::test]
async fn deny_fails_the_workflow() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let facts = control.awx_facts();
    let client = client(&estate, &opts);
    client.deny(facts.pending_approval_id).await.unwrap();
    let wf = client.workflow_job(facts.pending_workflow_job_id).await.unwrap();
    assert_eq!(wf.status, AwxJobStatus::Failed);
    assert_eq!(control.awx_status(facts.pending_approval_id).as_deref(), Some("failed"));
    let again = client.approve(facts.pending_approval_id).await.unwrap_err();
    assert!(matches!(again, AwxError::Refused { status: 400, .. }), "{again}");
}

#[tokio::test]
async fn launch_with_extra_vars_runs_to_success() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let facts = control.awx_facts();
    let client = client(&estate, &opts);
    let template = facts.templates["deploy-payments-api-staging"];
    let vars = extra_vars([("version", "1.4.200"), ("digest", "sha256:0123")]);
    let launched = client.launch(template, AwxKind::Job, &vars).await.unwrap();
    assert_eq!(launched.template, "deploy-payments-api-staging");
    assert_eq!(launched.kind, AwxKind::Job);
    assert!(
        launched
            .api_url
            .starts_with(&format!("{}/api/v2/jobs/", estate.awx_url()))
    );
    let record = control.awx_launches();
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].job_id, launched.job_id);
    assert_eq!(record[0].user, "flightdeck");
    assert_eq!(
        record[0].extra_vars,
        json!({"version": "1.4.200", "digest": "sha256:0123"})
    );
    assert_eq!(record[0].ignored_fields, json!({}));
    // Out-of-process tests see the same through the control API.
    let control_view: serde_json::Value = reqwest::get(format!("{}/__sim/awx", estate.jenkins_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(control_view["launches"][0]["job_id"], json!(launched.job_id));
    assert_eq!(
        control_view["facts"]["pending_approval_id"],
        json!(facts.pending_approval_id)
    );
    let job = client.job(launched.job_id).await.unwrap();
    assert_eq!(job.status, AwxJobStatus::Pending);
    control.tick(1.5);
    assert_eq!(client.job(launched.job_id).await.unwrap().status, AwxJobStatus::Waiting);
    control.tick(2.0);
    assert_eq!(client.job(launched.job_id).await.unwrap().status, AwxJobStatus::Running);
    let partial = client.stdout_tail(launched.job_id, 40).await.unwrap();
    control.tick(15.0);
    let done = client
        .follow(&launched, Duration::from_millis(10), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.status, AwxJobStatus::Successful);
    assert_eq!(done.var("version"), Some("1.4.200"));
    assert_eq!(done.launched_by.as_deref(), Some("flightdeck"));
    assert!(done.elapsed.is_some_and(|e| e > 1.0));
    let full = client.stdout_tail(launched.job_id, 40).await.unwrap();
    assert!(full.len() > partial.len());
    assert!(full.iter().any(|l| l.contains("sha256:0123")));

    // The production template does not ask for variables, but its survey defines them.
    let prod = facts.templates["deploy-ledger-service-production"];
    let ok = client
        .launch(
            prod,
            AwxKind::Job,
            &extra_vars([
                ("version", "3.1.90"),
                ("digest", "sha256:ab"),
                (
                    "image",
                    "314159265358.dkr.ecr.eu-west-1.amazonaws.com/shop/ledger-service",
                ),
                ("environment", "production"),
            ]),
        )
        .await
        .unwrap();
    assert!(ok.job_id > launched.job_id);

    // A workflow launch: a new approval waits.
    let wf = client
        .launch(
            facts.workflow_template_id,
            AwxKind::Workflow,
            &extra_vars([("version", "1.4.200")]),
        )
        .await
        .unwrap();
    assert_eq!(wf.kind, AwxKind::Workflow);
    control.tick(5.0);
    let pending = client.pending_approvals().await.unwrap();
    assert_eq!(pending.len(), 2);
    assert!(
        pending
            .iter()
            .any(|a| { a.summary_fields.source_workflow_job.as_ref().and_then(|w| w.id) == Some(wf.job_id) })
    );
}

#[tokio::test]
async fn extra_vars_the_template_would_drop_are_refused_or_reported() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let facts = control.awx_facts();
    let client = client(&estate, &opts);
    let vars = extra_vars([("version", "3.1.90"), ("digest", "sha256:ab")]);

    // Checked first: nothing is launched.
    control.clear_requests();
    let err = client
        .launch(facts.ignoring_template_id, AwxKind::Job, &vars)
        .await
        .unwrap_err();
    match &err {
        AwxError::WouldIgnore {
            template, variables, ..
        } => {
            assert_eq!(template, &facts.ignoring_template);
            assert_eq!(variables, &vec!["digest".to_string(), "version".to_string()]);
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(text.contains("digest, version"), "{text}");
    assert!(
        text.contains("does not ask for variables on launch and has no survey"),
        "{text}"
    );
    assert!(control.requests().iter().all(|r| r.method == "GET"));
    assert!(control.awx_launches().is_empty());

    // Posted anyway: AWX answers 201 and drops them; the job runs with the pinned version.
    let err = client
        .post_launch(
            facts.ignoring_template_id,
            AwxKind::Job,
            &facts.ignoring_template,
            &vars,
        )
        .await
        .unwrap_err();
    let launched = err.launched().cloned().expect("the job that runs anyway");
    match &err {
        AwxError::Ignored { fields, .. } => assert_eq!(fields, &vec!["digest".to_string(), "version".to_string()]),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("runs without them"), "{err}");
    let record = control.awx_launches();
    assert_eq!(record.len(), 1);
    assert_eq!(
        record[0].ignored_fields,
        json!({"extra_vars": {"version": "3.1.90", "digest": "sha256:ab"}})
    );
    let job = client.job(launched.job_id).await.unwrap();
    assert_eq!(job.var("version"), Some(facts.pinned_version.as_str()));
}

#[tokio::test]
async fn refusals_carry_awx_messages() {
    let (estate, opts) = estate().await;
    let facts = estate.control().awx_facts();
    let client = client(&estate, &opts);
    // The survey's required variable is missing.
    let err = client
        .launch(
            facts.templates["deploy-payments-api-staging"],
            AwxKind::Job,
            &serde_json::Value::Null,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("'version' value missing"), "{err}");
    // Not permitted.
    let err = client
        .launch(facts.forbidden_template_id, AwxKind::Job, &serde_json::Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("You do not have permission"), "{err}");
    // A workflow template is not a job template.
    let err = client
        .launch(facts.workflow_template_id, AwxKind::Job, &serde_json::Value::Null)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn credentials_basic_and_refused() {
    let (estate, opts) = estate().await;
    let basic = AwxClient::new(&config(
        &estate,
        AwxAuth::Basic {
            user: "flightdeck".into(),
            password: Secret::new(&opts.token),
        },
    ))
    .unwrap();
    assert_eq!(basic.whoami().await.unwrap(), "flightdeck");
    assert_eq!(basic.identity(), "flightdeck");
    let wrong = AwxClient::new(&config(&estate, AwxAuth::Token(Secret::new("nope")))).unwrap();
    let err = wrong.whoami().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("Invalid username/password."), "{err}");
}

#[tokio::test]
async fn a_garbled_answer_degrades_the_source_and_keeps_the_last_state() {
    let (estate, opts) = estate().await;
    let control = estate.control();
    let (mut p, mut rx) = poller(client(&estate, &opts));
    p.poll_once().await.unwrap();
    let (first, _) = drain(&mut rx);
    let first = first.unwrap();

    control.set_fault("/awx/", Fault::MalformedJson);
    assert!(p.poll_once().await.is_err());
    let (state, health) = drain(&mut rx);
    let error = health.unwrap().unwrap_err();
    assert!(error.contains("unreadable answer"), "{error}");
    assert!(state.is_none(), "nothing new to say");

    // One part broken: the rest is fresh, the broken part shows its last good value.
    control.clear_faults();
    control.set_fault("/awx/api/v2/workflow_approvals/", Fault::TruncatedBody);
    assert!(p.poll_once().await.is_err());
    let (state, health) = drain(&mut rx);
    assert!(health.unwrap().is_err());
    let state = state.unwrap();
    assert_eq!(state.approvals, first.approvals);
    assert_eq!(state.templates.len(), first.templates.len());

    control.clear_faults();
    p.poll_once().await.unwrap();
    let (_, health) = drain(&mut rx);
    assert_eq!(health, Some(Ok(())));
}

#[tokio::test]
async fn the_runtime_wires_each_awx_source_from_the_config() {
    let (estate, opts) = estate().await;
    let text = format!(
        r#"
[[sources.awx]]
name = "tower"
url = "{url}"
token_env = "AWX_TOKEN"
identity = "erin"
jobs_per_template = 3

[[environments]]
name = "staging"

[[environments]]
name = "production"
protected = true

[[services]]
name = "payments-api"
[services.deploy.staging]
awx = {{ template = "deploy-payments-api-staging" }}
[services.deploy.production]
awx = {{ source = "tower", template = "release-payments-api-production", workflow = true }}

[[services]]
name = "ledger-service"
[services.deploy.staging]
awx = {{ template = "deploy-ledger-service-staging" }}
"#,
        url = estate.awx_url()
    );
    let token = opts.token.clone();
    let env = move |k: &str| (k == "AWX_TOKEN").then(|| token.clone());
    let config = flightdeck::config::load_from_str(&text, std::path::Path::new("<awx>"), None, &env).unwrap();
    let mut rt = Runtime::new(&config, None).unwrap();
    assert!(rt.awx_clients.contains_key("tower"));
    assert_eq!(rt.awx_clients["tower"].identity(), "erin");
    assert_eq!(rt.state.sources["tower"].kind, "awx");
    rt.poll_all_once().await;
    let health = &rt.state.sources["tower"];
    assert!(health.last_success.is_some(), "{:?}", health.last_error);
    let awx = &rt.state.awx["tower"];
    assert_eq!(awx.templates.len(), 3);
    assert_eq!(awx.jobs_of("deploy-payments-api-staging").len(), 3);
    assert_eq!(
        awx.template_for("payments-api", "production").map(|t| t.kind),
        Some(AwxKind::Workflow)
    );
    assert_eq!(awx.approvals().count(), 1);
}
