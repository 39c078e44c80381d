//! Every AWX fixture (real bodies from the AWX repository, see tests/fixtures/awx/PROVENANCE.md)
//! parsed by the cockpit's own payload types and mapped to the model.

use flightdeck::model::{AwxJobStatus, AwxKind, Status};
use flightdeck::sources::awx::api::{ApprovalJson, JobJson, PageJson, TemplateJson};
use flightdeck::sources::awx::map;

const BASE: &str = "https://tower.example.com/";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/awx/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn template_as_listed() {
    let t: TemplateJson = parse("awx_TemplateList_job_template.json");
    assert_eq!(t.id, 7);
    assert_eq!(t.kind, "job_template");
    let m = map::template(&t, BASE, AwxKind::Workflow, Vec::new(), vec![], vec![]);
    // The payload's own type wins over the caller's guess.
    assert_eq!(m.kind, AwxKind::Job);
    assert_eq!(m.name, "Mike's JT");
    assert_eq!(m.playbook, "ping.yml");
    assert!(!m.ask_variables_on_launch);
    assert!(m.survey_enabled);
    assert_eq!(m.last_status, AwxJobStatus::Successful);
    assert!(m.last_job_run.is_some());
    assert_eq!(m.url, "https://tower.example.com/#/templates/job_template/7/details");
    // A survey with no known questions keeps nothing: extra vars would be dropped.
    assert!(!m.accepts_variable("version"));
    assert_eq!(t.summary_fields.recent_jobs.len(), 1);
    assert_eq!(t.summary_fields.last_job.as_ref().and_then(|j| j.id), Some(12));
}

#[test]
fn template_in_detail() {
    let t: TemplateJson = parse("awx_shared_job_template.json");
    let m = map::template(
        &t,
        BASE,
        AwxKind::Job,
        vec!["version".into()],
        vec![("payments-api".into(), "staging".into())],
        vec![],
    );
    assert_eq!(m.id, t.id);
    assert!(m.survey_enabled && !m.ask_variables_on_launch);
    assert!(m.accepts_variable("version"));
    assert!(!m.accepts_variable("digest"));
    assert_eq!(m.used_by, vec![("payments-api".to_string(), "staging".to_string())]);
    assert!(t.related.contains_key("launch"));
}

#[test]
fn job_in_detail() {
    let j: JobJson = parse("awx_shared_job.json");
    let m = map::job(&j, BASE, AwxKind::Workflow);
    assert_eq!(m.id, 2);
    assert_eq!(m.kind, AwxKind::Job);
    assert_eq!(m.name, "Demo Job Template");
    assert_eq!(m.status, AwxJobStatus::Successful);
    assert_eq!(m.status.status(), Status::Ok);
    assert_eq!(m.template_id, Some(7));
    assert_eq!(m.elapsed, Some(31.79));
    let (started, finished) = (m.started.unwrap(), m.finished.unwrap());
    assert_eq!((finished - started).num_seconds(), 31);
    // No launched_by in this AWX version: who created it.
    assert_eq!(m.launched_by.as_deref(), Some("admin"));
    assert_eq!(m.launch_type, "manual");
    assert_eq!(m.job_explanation, "Job explanation placeholder");
    assert_eq!(m.var("num_messages"), Some("94"));
    assert_eq!(m.workflow_job_id, None);
    assert_eq!(m.url, "https://tower.example.com/#/jobs/playbook/2/output");
    assert!(j.related.contains_key("stdout"));
}

#[test]
fn workflow_approvals_page() {
    let page: PageJson<ApprovalJson> = parse("awx_WorkflowApproval_workflowApprovals.json");
    // The fixture's count and results disagree, and its `next` is the first page again.
    assert_eq!(page.count, Some(3));
    assert_eq!(page.results.len(), 4);
    assert_eq!(page.next.as_deref(), Some("/api/v2/workflow_approvals/"));
    let all: Vec<_> = page.results.iter().map(|a| map::approval(a, BASE, None)).collect();
    let statuses: Vec<AwxJobStatus> = all.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        vec![
            AwxJobStatus::Pending,
            AwxJobStatus::Failed,
            AwxJobStatus::Successful,
            AwxJobStatus::Successful
        ]
    );
    let pending: Vec<_> = all.iter().filter(|a| a.is_pending()).collect();
    assert_eq!(pending.len(), 1);
    let p = pending[0];
    assert_eq!(p.id, 218);
    assert_eq!(p.name, "approval");
    assert!(p.can_approve_or_deny);
    assert!(!p.timed_out);
    assert_eq!(p.approval_expiration, None);
    assert_eq!(p.workflow_job_id, Some(216));
    assert_eq!(p.workflow_job_name, "Approval @ 9:15:26 AM");
    assert_eq!(p.workflow_template_id, Some(9));
    assert_eq!(p.launched_by.as_deref(), Some("admin"));
    assert!(p.created.is_some());
    assert_eq!(p.url, "https://tower.example.com/#/workflow_approvals/218/details");
    // The expired one says so, and may no longer be decided.
    let expired = &all[1];
    assert!(expired.timed_out && !expired.can_approve_or_deny);
    assert_eq!(
        page.results[1].job_explanation.as_deref(),
        Some("The approval node approval copy (221) has expired after 30 seconds.")
    );
    // Who decided a finished one is in its summary.
    let decided = page.results[2].summary_fields.approved_or_denied_by.as_ref().unwrap();
    assert_eq!(decided.username, "admin");
    // A launcher read from the workflow job wins over the approval's creator.
    let with_launcher = map::approval(&page.results[0], BASE, Some("dmitri".into()));
    assert_eq!(with_launcher.launched_by.as_deref(), Some("dmitri"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(serde_json::from_str::<JobJson>("{\"jobs\": [ {\"name\": ").is_err());
    assert!(serde_json::from_str::<PageJson<ApprovalJson>>("\"Bad Gateway\"").is_err());
    assert!(serde_json::from_str::<PageJson<ApprovalJson>>("{\"results\": [{\"id\": \"x\"}]}").is_err());
    // An empty object is a page with nothing in it.
    let empty: PageJson<ApprovalJson> = serde_json::from_str("{}").unwrap();
    assert!(empty.results.is_empty());
}

/// Serves one body to every request (any path), counting them.
async fn serve(body: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        }
    });
    (url, count)
}

#[tokio::test]
async fn a_next_link_back_to_the_first_page_ends_the_list() {
    use flightdeck::config::{AwxAuth, AwxSourceConfig, Secret};
    use flightdeck::sources::awx::AwxClient;
    // The approvals fixture's `next` is the list itself: followed once, then recognised.
    let (url, count) = serve(fixture("awx_WorkflowApproval_workflowApprovals.json")).await;
    let client = AwxClient::new(&AwxSourceConfig {
        name: "awx".into(),
        url: url.parse().unwrap(),
        auth: AwxAuth::Token(Secret::new("t")),
        identity: None,
        poll_interval: std::time::Duration::from_secs(10),
        timeout: std::time::Duration::from_secs(5),
        jobs_per_template: 5,
        insecure_tls: false,
    })
    .unwrap();
    let pending = client.pending_approvals().await.unwrap();
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Pending only, each once, though both pages listed it.
    assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), vec![218]);
}
