//! Which text to open for a failed stage: the failing step's node log when its tail already shows
//! an error (one small request), else the whole console.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;

use super::doc::Origin;
use super::rules::ErrorRules;
use super::source::LogSource;
use crate::sources::http::HttpError;
use crate::sources::jenkins::JenkinsClient;

/// What the operator asked to see.
#[derive(Clone)]
pub struct LogRequest {
    pub title: String,
    pub client: Arc<JenkinsClient>,
    /// The build's URL, ending in `/`.
    pub build_url: String,
    /// The stage whose log to open (its wfapi node id and name), when one failed.
    pub stage: Option<(String, String)>,
    pub rules: ErrorRules,
    /// Where `w` writes the whole log.
    pub save_path: std::path::PathBuf,
}

impl LogRequest {
    pub fn console(&self) -> LogSource {
        LogSource::Console {
            client: self.client.clone(),
            url: format!("{}logText/progressiveText", self.build_url),
        }
    }
}

#[derive(Deserialize)]
struct NodeDescribe {
    #[serde(default, rename = "stageFlowNodes")]
    stage_flow_nodes: Vec<FlowNode>,
}

#[derive(Deserialize)]
struct FlowNode {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default, rename = "parameterDescription")]
    description: Option<String>,
    #[serde(default, rename = "_links")]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Links {
    log: Option<Href>,
}

#[derive(Deserialize)]
struct Href {
    href: String,
}

/// `execution/node/ID/wfapi/log`.
#[derive(Deserialize, Debug)]
pub struct NodeLog {
    #[serde(default)]
    pub length: u64,
    #[serde(default, rename = "hasMore")]
    pub has_more: bool,
    #[serde(default)]
    pub text: String,
}

/// The failed step's node log as text, if it shows an error; `None` means "use the console".
pub async fn node_tail(req: &LogRequest, rules: &ErrorRules) -> Result<Option<(Bytes, Origin)>, HttpError> {
    let Some((stage_id, _)) = &req.stage else {
        return Ok(None);
    };
    let describe: NodeDescribe = req
        .client
        .get_json(&format!(
            "{}execution/node/{}/wfapi/describe",
            req.build_url,
            JenkinsClient::segment(stage_id)
        ))
        .await?;
    // The step that failed first; then the others from the last (an unstable stage's `junit`
    // step says little, the `mvn` step before it says why). A few small requests at most.
    let nodes = &describe.stage_flow_nodes;
    let failed = |n: &&FlowNode| n.status == "FAILED" || n.status == "UNSTABLE" || n.error.is_some();
    let candidates = nodes
        .iter()
        .rev()
        .filter(failed)
        .chain(nodes.iter().rev().filter(|n| !failed(n)))
        .take(MAX_STEPS_TRIED);
    for step in candidates {
        let url = match step.links.as_ref().and_then(|l| l.log.as_ref()) {
            Some(h) => absolute(req.client.base(), &h.href),
            None => format!(
                "{}execution/node/{}/wfapi/log",
                req.build_url,
                JenkinsClient::segment(&step.id)
            ),
        };
        let log: NodeLog = req.client.get_json(&url).await?;
        let text = html_to_text(&log.text);
        let has_error = text
            .split('\n')
            .any(|line| rules.classify_bytes(&super::text::visible(line.as_bytes())).is_some());
        if !has_error {
            continue;
        }
        let name = match &step.description {
            Some(d) if !d.is_empty() => format!("{}: {d}", step.name),
            _ => step.name.clone(),
        };
        return Ok(Some((
            Bytes::from(text),
            Origin::NodeTail {
                step: name,
                length: log.length,
                truncated: log.has_more,
            },
        )));
    }
    Ok(None)
}

/// Steps of the stage whose node logs are read before giving up for the console.
const MAX_STEPS_TRIED: usize = 3;

/// A link from a Jenkins payload (`/jenkins/job/x/…`, absolute path) against the server.
fn absolute(base: &url::Url, href: &str) -> String {
    base.join(href).map_or_else(|_| href.to_string(), |u| u.to_string())
}

/// The node log comes as console HTML (`writeHtmlTo`): drop the markup, decode the entities.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => {
                    let tag = rest[1..end].trim().to_ascii_lowercase();
                    if tag == "br" || tag == "br/" || tag == "br /" {
                        out.push('\n');
                    }
                    rest = &rest[end + 1..];
                }
                None => {
                    out.push_str(rest);
                    rest = "";
                }
            }
        } else {
            let end = rest[..rest.len().min(12)].find(';');
            let decoded = end.and_then(|e| entity(&rest[1..e]));
            match (end, decoded) {
                (Some(e), Some(c)) => {
                    out.push(c);
                    rest = &rest[e + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_html_becomes_text() {
        let html = "<span class=\"timestamp\"><b>03:12:45</b> </span>[ERROR] a &lt; b &amp;&amp; c&#39;s &#x41;\n\
<a href='/x'>link</a> &bogus; & done";
        assert_eq!(
            html_to_text(html),
            "03:12:45 [ERROR] a < b && c's A\nlink &bogus; & done"
        );
    }

    #[test]
    fn the_node_log_fixtures_parse() {
        for name in ["jenkins-wfapi-node-log.json", "jenkins-rest_pipelineNodeLog.json"] {
            let path = format!("{}/tests/fixtures/jenkins/{name}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap();
            let log: NodeLog = serde_json::from_str(&text).unwrap();
            assert_eq!(log.length, 295);
            assert!(!log.has_more);
            assert!(html_to_text(&log.text).contains("git rev-parse"));
        }
    }
}
