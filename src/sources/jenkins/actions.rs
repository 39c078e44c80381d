//! The calls that change Jenkins. Only `crate::actions::execute` calls these, after plan, policy
//! and confirmation.

use std::time::Duration;

use chrono::Utc;

use super::JenkinsClient;
use super::api::{BuildJson, JobDetail, QueueItemJson};
use crate::model::{QueueState, Update};
use crate::sources::UpdateSender;
use crate::sources::http::HttpError;

/// Start a build. Returns the queue item URL Jenkins answered with (201 + Location).
pub async fn trigger(
    client: &JenkinsClient,
    job: &str,
    params: &[(String, String)],
    parameterised: bool,
) -> Result<String, HttpError> {
    let url = trigger_url(client, job, parameterised);
    let answer = client.post(&url, params).await?;
    let location = answer.location.ok_or_else(|| {
        HttpError::Decode(format!(
            "Jenkins answered {} without the queue item's Location",
            answer.status
        ))
    })?;
    Ok(queue_api_url(client, &location))
}

pub fn trigger_url(client: &JenkinsClient, job: &str, parameterised: bool) -> String {
    // A parameterised job's /build renders a form; buildWithParameters starts it.
    let verb = if parameterised { "buildWithParameters" } else { "build" };
    format!("{}{verb}", client.job_url(job))
}

/// The queue item's JSON URL on our configured base (Jenkins' own root URL may differ behind a proxy).
pub fn queue_api_url(client: &JenkinsClient, location: &str) -> String {
    match location.find("queue/item/") {
        Some(i) => {
            let tail = location[i..].trim_end_matches('/');
            client.root_url(&format!("{tail}/api/json"))
        }
        None => format!("{}/api/json", location.trim_end_matches('/')),
    }
}

/// Follow a queue item until it becomes a build, is cancelled, or is forgotten. Sends every change.
pub async fn follow_queue(client: &JenkinsClient, job: &str, queue_url: &str, tx: &UpdateSender) -> QueueState {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30 * 60);
    let mut last: Option<QueueState> = None;
    let mut errors = 0;
    while tokio::time::Instant::now() < deadline {
        let state = match client.get_json::<QueueItemJson>(queue_url).await {
            Ok(item) => queue_state(&item),
            Err(e) if e.status() == Some(404) => {
                // Left items are cached only minutes; look for the build that carries our queue id.
                match find_by_queue_id(client, job, queue_url).await {
                    Some(number) => QueueState::Started {
                        number,
                        url: client.build_url(job, number),
                    },
                    None => QueueState::Lost,
                }
            }
            Err(_) => {
                errors += 1;
                if errors > 30 {
                    QueueState::Lost
                } else {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            }
        };
        if last.as_ref() != Some(&state) {
            let _ = tx.send(Update::Queue {
                source: client.name.clone(),
                job: job.to_string(),
                queue_url: queue_url.to_string(),
                at: Utc::now(),
                state: state.clone(),
            });
            last = Some(state.clone());
        }
        if !matches!(state, QueueState::Waiting { .. }) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    QueueState::Lost
}

pub fn queue_state(item: &QueueItemJson) -> QueueState {
    if item.cancelled == Some(true) {
        return QueueState::Cancelled;
    }
    match &item.executable {
        Some(exe) => QueueState::Started {
            number: exe.number,
            url: exe.url.clone().unwrap_or_default(),
        },
        None => QueueState::Waiting { why: item.why.clone() },
    }
}

async fn find_by_queue_id(client: &JenkinsClient, job: &str, queue_url: &str) -> Option<u64> {
    let id: u64 = queue_url.split("queue/item/").nth(1)?.split('/').next()?.parse().ok()?;
    let url = super::poll::with_tree(
        &format!("{}api/json", client.job_url(job)),
        "builds[number,queueId]{0,20}",
    );
    let detail: JobDetail = client.get_json(&url).await.ok()?;
    detail
        .builds
        .iter()
        .find(|b: &&BuildJson| b.queue_id == Some(id))
        .map(|b| b.number)
}

pub fn input_url(client: &JenkinsClient, job: &str, number: u64, input_id: &str, verb: &str) -> String {
    format!(
        "{}input/{}/{verb}",
        client.build_url(job, number),
        JenkinsClient::segment(input_id)
    )
}

/// Approve an input: `proceedEmpty` without parameters, `proceed` with a `json` form otherwise.
pub async fn approve(
    client: &JenkinsClient,
    job: &str,
    number: u64,
    input_id: &str,
    params: &[(String, String)],
) -> Result<(), HttpError> {
    if params.is_empty() {
        client
            .post(&input_url(client, job, number, input_id, "proceedEmpty"), &[])
            .await?;
    } else {
        let json = serde_json::json!({
            "parameter": params.iter().map(|(k, v)| serde_json::json!({"name": k, "value": v})).collect::<Vec<_>>()
        });
        let form = vec![
            ("json".to_string(), json.to_string()),
            ("proceed".to_string(), "Proceed".to_string()),
        ];
        client
            .post(&input_url(client, job, number, input_id, "proceed"), &form)
            .await?;
    }
    Ok(())
}

pub async fn reject(client: &JenkinsClient, job: &str, number: u64, input_id: &str) -> Result<(), HttpError> {
    client
        .post(&input_url(client, job, number, input_id, "abort"), &[])
        .await?;
    Ok(())
}

pub fn stop_url(client: &JenkinsClient, job: &str, number: u64) -> String {
    format!("{}stop", client.build_url(job, number))
}

pub async fn abort(client: &JenkinsClient, job: &str, number: u64) -> Result<(), HttpError> {
    client.post(&stop_url(client, job, number), &[]).await?;
    Ok(())
}
