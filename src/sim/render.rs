//! JSON renderers: the simulated state shaped like Jenkins core and the
//! Pipeline REST API (wfapi) answer it, field names, nesting, `_class` values
//! and number-vs-string types included (see `shared/fixtures/jenkins-*`).

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::jenkins::{Build, Cause, Job, JobKind, Ms, NodeStatus, ParamKind, ParamValue, Stage, Step};
use super::story::{QueueItem, QueueState, World};

/// Characters Jenkins escapes in job names inside URLs.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// wfapi returns only the last 10 KiB of a node log.
const NODE_LOG_MAX: usize = 10 * 1024;

/// `/job/a/job/b/` for full name `a/b` (relative to the root, no host).
pub(crate) fn job_path(full_name: &str) -> String {
    let mut s = String::new();
    for seg in full_name.split('/') {
        s.push_str("/job/");
        s.push_str(&utf8_percent_encode(seg, SEGMENT).to_string());
    }
    s.push('/');
    s
}

pub(crate) fn job_url(w: &World, full_name: &str) -> String {
    format!("{}{}", w.base, job_path(full_name))
}

pub(crate) fn build_path(full_name: &str, number: u32) -> String {
    format!("{}{number}/", job_path(full_name))
}

pub(crate) fn build_url(w: &World, full_name: &str, number: u32) -> String {
    format!("{}{}", w.base, build_path(full_name, number))
}

/// Jenkins' "a » b" display form of a full name.
fn full_display_name(full_name: &str) -> String {
    full_name.replace('/', " » ")
}

fn build_ref(w: &World, job: &Job, b: &Build) -> Value {
    json!({
        "_class": job.kind.build_class(),
        "number": b.number,
        "url": build_url(w, &job.full_name, b.number),
    })
}

fn opt_build(w: &World, job: &Job, b: Option<&Build>, deep: bool) -> Value {
    match b {
        Some(b) if deep => build(w, job, b),
        Some(b) => build_ref(w, job, b),
        None => Value::Null,
    }
}

/// An entry of a `jobs` list: name, url, colour, and (for folders) the
/// folder's own jobs, as the cockpit asks with a nested `tree`.
pub(crate) fn job_entry(w: &World, job: &Job) -> Value {
    let mut m = Map::new();
    m.insert("_class".into(), json!(job.kind.class()));
    m.insert("name".into(), json!(job.name()));
    m.insert("url".into(), json!(job_url(w, &job.full_name)));
    if job.kind.is_folder() {
        let children: Vec<Value> = w
            .children(Some(&job.full_name))
            .into_iter()
            .map(|c| job_entry(w, c))
            .collect();
        m.insert("jobs".into(), Value::Array(children));
    } else {
        m.insert("color".into(), json!(job.color()));
    }
    Value::Object(m)
}

/// `GET /api/json` of the root. `deep` renders every nested object in full,
/// for `tree` requests to cut down.
pub(crate) fn root(w: &World, deep: bool) -> Value {
    let jobs: Vec<Value> = w
        .children(None)
        .into_iter()
        .map(|j| if deep { job(w, j, true) } else { job_entry(w, j) })
        .collect();
    let base = format!("{}/", w.base);
    json!({
        "_class": "hudson.model.Hudson",
        "assignedLabels": [{"name": "built-in"}],
        "mode": "EXCLUSIVE",
        "nodeDescription": "the Jenkins controller's built-in node",
        "nodeName": "",
        "numExecutors": 0,
        "description": null,
        "jobs": jobs,
        "overallLoad": {},
        "primaryView": {"_class": "hudson.model.AllView", "name": "all", "url": base},
        "quietDownReason": null,
        "quietingDown": false,
        "slaveAgentPort": 50000,
        "unlabeledLoad": {"_class": "jenkins.model.UnlabeledLoadStatistics"},
        "url": base,
        "useCrumbs": w.require_crumb,
        "useSecurity": true,
        "views": [{"_class": "hudson.model.AllView", "name": "all", "url": base}],
    })
}

fn health_report(job: &Job) -> Value {
    let recent: Vec<&Build> = job.builds.iter().rev().filter(|b| !b.building).take(5).collect();
    if recent.is_empty() {
        return json!([]);
    }
    let failed = recent
        .iter()
        .filter(|b| b.result != Some(super::jenkins::BuildResult::Success))
        .count();
    let n = recent.len();
    let score = 100 * (n - failed) / n;
    let description = match failed {
        0 => "Build stability: No recent builds failed.".to_string(),
        f if f == n => "Build stability: All recent builds failed.".to_string(),
        f => format!("Build stability: {f} out of the last {n} builds failed."),
    };
    let icon = match score {
        81.. => "health-80plus",
        61..=80 => "health-60to79",
        41..=60 => "health-40to59",
        21..=40 => "health-20to39",
        _ => "health-00to19",
    };
    json!([{
        "_class": "hudson.model.HealthReport",
        "description": description,
        "iconClassName": format!("icon-{icon}"),
        "iconUrl": format!("{icon}.png"),
        "score": score,
    }])
}

fn param_definitions(job: &Job) -> Value {
    let defs: Vec<Value> = job
        .params
        .iter()
        .map(|p| {
            let (class, ty, value_class) = match p.kind {
                ParamKind::Text => (
                    "hudson.model.StringParameterDefinition",
                    "StringParameterDefinition",
                    "hudson.model.StringParameterValue",
                ),
                ParamKind::Choice(_) => (
                    "hudson.model.ChoiceParameterDefinition",
                    "ChoiceParameterDefinition",
                    "hudson.model.StringParameterValue",
                ),
                ParamKind::Boolean => (
                    "hudson.model.BooleanParameterDefinition",
                    "BooleanParameterDefinition",
                    "hudson.model.BooleanParameterValue",
                ),
            };
            let default = match p.kind {
                ParamKind::Boolean => json!(p.default == "true"),
                _ => json!(p.default),
            };
            let mut m = Map::new();
            m.insert("_class".into(), json!(class));
            m.insert(
                "defaultParameterValue".into(),
                json!({"_class": value_class, "name": p.name, "value": default}),
            );
            m.insert("description".into(), json!(p.description));
            m.insert("name".into(), json!(p.name));
            m.insert("type".into(), json!(ty));
            if let ParamKind::Choice(choices) = &p.kind {
                m.insert("choices".into(), json!(choices));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "_class": "hudson.model.ParametersDefinitionProperty",
        "parameterDefinitions": defs,
    })
}

fn job_properties(job: &Job) -> Value {
    let mut props = Vec::new();
    if job.kind == JobKind::Pipeline {
        if job.full_name.starts_with(super::story::MULTIBRANCH) {
            props.push(json!({"_class": "org.jenkinsci.plugins.workflow.multibranch.BranchJobProperty"}));
        } else {
            props.push(json!({"_class": "jenkins.model.BuildDiscarderProperty"}));
            if job.repo.is_some() {
                props.push(json!({"_class": "com.coravy.hudson.plugins.github.GithubProjectProperty"}));
            }
        }
    }
    if job.is_parameterised() {
        props.push(param_definitions(job));
    }
    Value::Array(props)
}

/// `GET /job/X/api/json`. Folders list their jobs; buildable jobs carry
/// builds (the ten newest, in full, as the cockpit's brief asks), permalinks
/// and the waiting queue item.
pub(crate) fn job(w: &World, job: &Job, deep: bool) -> Value {
    let mut m = Map::new();
    m.insert("_class".into(), json!(job.kind.class()));
    m.insert(
        "actions".into(),
        json!([{}, {"_class": "com.cloudbees.plugins.credentials.ViewCredentialsAction"}]),
    );
    m.insert("description".into(), json!(job.description));
    m.insert("displayName".into(), json!(job.name()));
    m.insert("displayNameOrNull".into(), Value::Null);
    m.insert("fullDisplayName".into(), json!(full_display_name(&job.full_name)));
    m.insert("fullName".into(), json!(job.full_name));
    m.insert("name".into(), json!(job.name()));
    m.insert("url".into(), json!(job_url(w, &job.full_name)));
    m.insert("healthReport".into(), health_report(job));
    if job.kind.is_folder() {
        let jobs: Vec<Value> = w
            .children(Some(&job.full_name))
            .into_iter()
            .map(|c| if deep { self::job(w, c, true) } else { job_entry(w, c) })
            .collect();
        m.insert("jobs".into(), Value::Array(jobs));
        let view_url = job_url(w, &job.full_name);
        m.insert(
            "primaryView".into(),
            json!({"_class": "hudson.model.AllView", "name": "All", "url": view_url}),
        );
        m.insert(
            "views".into(),
            json!([{"_class": "hudson.model.AllView", "name": "All", "url": view_url}]),
        );
        return Value::Object(m);
    }
    // Jenkins exports at most 100 builds (`allBuilds` has the rest).
    let limit = if deep { 100 } else { 10 };
    let builds: Vec<Value> = job.builds.iter().rev().take(limit).map(|b| build(w, job, b)).collect();
    m.insert("buildable".into(), json!(!job.disabled));
    m.insert("builds".into(), Value::Array(builds));
    m.insert("color".into(), json!(job.color()));
    for (key, link) in [
        ("firstBuild", "firstBuild"),
        ("lastBuild", "lastBuild"),
        ("lastCompletedBuild", "lastCompletedBuild"),
        ("lastFailedBuild", "lastFailedBuild"),
        ("lastStableBuild", "lastStableBuild"),
        ("lastSuccessfulBuild", "lastSuccessfulBuild"),
        ("lastUnstableBuild", "lastUnstableBuild"),
        ("lastUnsuccessfulBuild", "lastUnsuccessfulBuild"),
    ] {
        m.insert(key.into(), opt_build(w, job, job.permalink(link), deep));
    }
    let waiting = w.waiting_item_for(&job.full_name);
    m.insert("inQueue".into(), json!(waiting.is_some()));
    m.insert("keepDependencies".into(), json!(false));
    m.insert("nextBuildNumber".into(), json!(job.next_build_number));
    m.insert("property".into(), job_properties(job));
    m.insert("queueItem".into(), waiting.map_or(Value::Null, |q| queue_item(w, q)));
    m.insert("concurrentBuild".into(), json!(job.kind == JobKind::Pipeline));
    if job.kind == JobKind::Freestyle {
        m.insert("disabled".into(), json!(job.disabled));
        m.insert("downstreamProjects".into(), json!([]));
        m.insert("labelExpression".into(), json!("backup"));
        m.insert("scm".into(), json!({"_class": "hudson.scm.NullSCM"}));
        m.insert("upstreamProjects".into(), json!([]));
    } else {
        m.insert("disabled".into(), json!(job.disabled));
        m.insert("resumeBlocked".into(), json!(false));
    }
    Value::Object(m)
}

fn cause_json(w: &World, c: &Cause) -> Value {
    let d = c.short_description();
    match c {
        Cause::GitHubPush { .. } => {
            json!({"_class": "com.cloudbees.jenkins.GitHubPushCause", "shortDescription": d})
        }
        Cause::Scm => {
            json!({"_class": "hudson.triggers.SCMTrigger$SCMTriggerCause", "shortDescription": d})
        }
        Cause::Timer => {
            json!({"_class": "hudson.triggers.TimerTrigger$TimerTriggerCause", "shortDescription": d})
        }
        Cause::User { id, name } => json!({
            "_class": "hudson.model.Cause$UserIdCause",
            "shortDescription": d,
            "userId": id,
            "userName": name,
        }),
        Cause::Upstream { project, build } => json!({
            "_class": "hudson.model.Cause$UpstreamCause",
            "shortDescription": d,
            "upstreamBuild": build,
            "upstreamProject": project,
            "upstreamUrl": job_path(project).trim_start_matches('/'),
        }),
        Cause::BranchEvent { .. } => {
            let _ = w;
            json!({"_class": "jenkins.branch.BranchEventCause", "shortDescription": d})
        }
    }
}

fn causes_action(w: &World, causes: &[Cause]) -> Value {
    let causes: Vec<Value> = causes.iter().map(|c| cause_json(w, c)).collect();
    json!({"_class": "hudson.model.CauseAction", "causes": causes})
}

fn param_value_json(name: &str, v: &ParamValue) -> Value {
    match v {
        ParamValue::Text(s) => {
            json!({"_class": "hudson.model.StringParameterValue", "name": name, "value": s})
        }
        ParamValue::Bool(b) => {
            json!({"_class": "hudson.model.BooleanParameterValue", "name": name, "value": b})
        }
    }
}

fn params_action(params: &[(String, ParamValue)]) -> Value {
    let ps: Vec<Value> = params.iter().map(|(n, v)| param_value_json(n, v)).collect();
    json!({"_class": "hudson.model.ParametersAction", "parameters": ps})
}

fn build_data(number: u32, sha: &str, branch: &str, remote: &str) -> Value {
    let branch_name = format!("refs/remotes/origin/{branch}");
    let revision = json!({"SHA1": sha, "branch": [{"SHA1": sha, "name": branch_name}]});
    json!({
        "_class": "hudson.plugins.git.util.BuildData",
        "buildsByBranchName": {
            branch_name.clone(): {
                "_class": "hudson.plugins.git.util.Build",
                "buildNumber": number,
                "buildResult": null,
                "marked": revision,
                "revision": revision,
            }
        },
        "lastBuiltRevision": revision,
        "remoteUrls": [remote],
        "scmName": "",
    })
}

fn change_sets(w: &World, b: &Build) -> Value {
    if b.commits.is_empty() {
        return json!([]);
    }
    let items: Vec<Value> = b
        .commits
        .iter()
        .map(|c| {
            let date = chrono::DateTime::from_timestamp_millis(c.timestamp)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000").to_string())
                .unwrap_or_default();
            let paths: Vec<Value> = c.paths.iter().map(|p| json!({"editType": "edit", "file": p})).collect();
            json!({
                "_class": "hudson.plugins.git.GitChangeSet",
                "affectedPaths": c.paths,
                "commitId": c.id,
                "timestamp": c.timestamp,
                "author": {
                    "absoluteUrl": format!("{}/user/{}", w.base, c.author_login),
                    "fullName": c.author_name,
                },
                "authorEmail": format!("{}@dominion.example", c.author_login),
                "comment": format!("{}\n", c.msg),
                "date": date,
                "id": c.id,
                "msg": c.msg,
                "paths": paths,
            })
        })
        .collect();
    json!([{"_class": "hudson.plugins.git.GitChangeSetList", "items": items, "kind": "git"}])
}

fn culprits(w: &World, b: &Build) -> Value {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for c in &b.commits {
        if !seen.contains(&c.author_login.as_str()) {
            seen.push(&c.author_login);
            out.push(json!({
                "absoluteUrl": format!("{}/user/{}", w.base, c.author_login),
                "fullName": c.author_name,
            }));
        }
    }
    Value::Array(out)
}

/// A file a build archived.
pub(crate) struct Artifact {
    pub file_name: String,
    pub relative_path: String,
    pub kind: ArtifactKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArtifactKind {
    /// The service's jar (a small stand-in).
    Archive,
    /// The JMeter `statistics.json`.
    LoadReport,
    /// The Trivy or Grype JSON report of the image scan.
    ScanReport,
}

impl Artifact {
    /// A JSON report (rather than the service archive).
    pub(crate) fn is_report(&self) -> bool {
        self.kind != ArtifactKind::Archive
    }
}

/// What a build archived: the jar once "Build & unit tests" passed, the
/// JMeter `statistics.json` once "Load tests" passed, and (services on the
/// OCI registry) the Trivy or Grype report once "Image scan" ended.
pub(crate) fn artifacts(b: &Build) -> Vec<Artifact> {
    let passed = |name: &str| {
        b.stages
            .iter()
            .any(|s| s.name == name && s.status == NodeStatus::Success)
    };
    let mut out = Vec::new();
    if passed("Build & unit tests") {
        let file = format!("{}-{}.jar", b.ctx.service, b.ctx.version);
        out.push(Artifact {
            relative_path: format!("target/{file}"),
            file_name: file,
            kind: ArtifactKind::Archive,
        });
    }
    if passed("Load tests") {
        out.push(Artifact {
            file_name: "statistics.json".to_string(),
            relative_path: "target/jmeter/statistics.json".to_string(),
            kind: ArtifactKind::LoadReport,
        });
    }
    if let Some((file, path)) = super::images::report_artifact(b) {
        out.push(Artifact {
            file_name: file.to_string(),
            relative_path: path.to_string(),
            kind: ArtifactKind::ScanReport,
        });
    }
    out
}

/// The content of an archived file: a report, or a small stand-in for the jar.
pub(crate) fn artifact_body(w: &World, b: &Build, a: &Artifact) -> Vec<u8> {
    match a.kind {
        ArtifactKind::LoadReport => {
            let report = super::loadtest::report(b.ctx.seed, &b.ctx.service, &b.ctx.version);
            let mut text = serde_json::to_string_pretty(&super::loadtest::statistics_json(&report)).unwrap_or_default();
            text.push('\n');
            text.into_bytes()
        }
        ArtifactKind::ScanReport => super::images::report_body(w, b),
        ArtifactKind::Archive => super::nexus::fake_archive(&b.ctx.service, &b.ctx.version),
    }
}

/// `GET /job/X/N/api/json`.
pub(crate) fn build(w: &World, job: &Job, b: &Build) -> Value {
    let freestyle = job.kind == JobKind::Freestyle;
    let mut actions = vec![causes_action(w, &b.causes)];
    if !b.params.is_empty() {
        actions.push(params_action(&b.params));
    }
    if freestyle {
        actions.push(json!({}));
    } else {
        actions.push(json!({"_class": "jenkins.metrics.impl.TimeInQueueAction",
            "blockedDurationMillis": 0,
            "blockedTimeMillis": 0,
            "buildableDurationMillis": 0,
            "buildableTimeMillis": 0,
            "buildingDurationMillis": b.duration(w.now),
            "executingTimeMillis": b.duration(w.now),
            "executorUtilization": 1.0,
            "subTaskCount": 0,
            "waitingDurationMillis": (b.start - b.queued_at).max(0),
            "waitingTimeMillis": (b.start - b.queued_at).max(0),
        }));
        actions.push(json!({"_class": "org.jenkinsci.plugins.workflow.libs.LibrariesAction"}));
        actions.push(build_data(
            b.number,
            &b.lib_sha,
            "master",
            "https://github.com/dominion/jenkins-shared-library.git",
        ));
        if let Some(repo) = &job.repo {
            actions.push(build_data(b.number, b.head_sha(), &b.branch, repo));
        }
        actions.push(json!({}));
        actions.push(json!({}));
    }
    if let Some(t) = b.tests {
        actions.push(json!({
            "_class": "hudson.tasks.junit.TestResultAction",
            "failCount": t.failed,
            "skipCount": t.skipped,
            "totalCount": t.total,
            "urlName": "testReport",
        }));
    }
    if b.had_input {
        actions.push(json!({"_class": "org.jenkinsci.plugins.workflow.support.steps.input.InputAction"}));
    }
    if !freestyle {
        actions.push(json!({"_class": "org.jenkinsci.plugins.pipeline.modeldefinition.actions.RestartDeclarativePipelineAction"}));
        actions.push(json!({}));
        actions.push(json!({"_class": "org.jenkinsci.plugins.workflow.job.views.FlowGraphAction"}));
        actions.push(json!({}));
    }
    actions.push(json!({"_class": "org.jenkinsci.plugins.displayurlapi.actions.RunDisplayAction"}));

    let artifacts: Vec<Value> = artifacts(b)
        .iter()
        .map(|a| json!({"displayPath": a.file_name, "fileName": a.file_name, "relativePath": a.relative_path}))
        .collect();
    let idx = job.builds.iter().position(|x| x.number == b.number);
    let prev = idx.and_then(|i| i.checked_sub(1)).and_then(|i| job.builds.get(i));
    let next = idx.and_then(|i| job.builds.get(i + 1));
    let link = |x: Option<&Build>| {
        x.map_or(
            Value::Null,
            |x| json!({"number": x.number, "url": build_url(w, &job.full_name, x.number)}),
        )
    };
    let mut m = Map::new();
    m.insert("_class".into(), json!(job.kind.build_class()));
    m.insert("actions".into(), Value::Array(actions));
    m.insert("artifacts".into(), Value::Array(artifacts));
    m.insert("building".into(), json!(b.building));
    m.insert("description".into(), Value::Null);
    m.insert("displayName".into(), json!(format!("#{}", b.number)));
    m.insert("duration".into(), json!(if b.building { 0 } else { b.duration(w.now) }));
    m.insert("estimatedDuration".into(), json!(job.estimated_duration()));
    m.insert(
        "executor".into(),
        if b.building {
            json!({"_class": if freestyle { "hudson.model.Executor" } else { "hudson.model.OneOffExecutor" }})
        } else {
            Value::Null
        },
    );
    m.insert(
        "fullDisplayName".into(),
        json!(format!("{} #{}", full_display_name(&job.full_name), b.number)),
    );
    m.insert("id".into(), json!(b.number.to_string()));
    m.insert("keepLog".into(), json!(false));
    m.insert("number".into(), json!(b.number));
    m.insert("queueId".into(), json!(b.queue_id));
    m.insert("result".into(), b.result.map_or(Value::Null, |r| json!(r.as_str())));
    m.insert("timestamp".into(), json!(b.start));
    m.insert("url".into(), json!(build_url(w, &job.full_name, b.number)));
    if freestyle {
        m.insert("builtOn".into(), json!(b.ctx.agent));
        m.insert(
            "changeSet".into(),
            json!({"_class": "hudson.scm.EmptyChangeLogSet", "items": [], "kind": null}),
        );
    } else {
        m.insert("changeSets".into(), change_sets(w, b));
    }
    m.insert("culprits".into(), culprits(w, b));
    if !freestyle {
        m.insert("inProgress".into(), json!(b.building));
    }
    m.insert("nextBuild".into(), link(next));
    m.insert("previousBuild".into(), link(prev));
    Value::Object(m)
}

/// `params` of a queue item: "\nNAME=value" per parameter.
fn params_text(params: &[(String, ParamValue)]) -> String {
    params.iter().map(|(n, v)| format!("\n{n}={}", v.as_text())).collect()
}

/// `GET /queue/item/N/api/json`.
pub(crate) fn queue_item(w: &World, q: &QueueItem) -> Value {
    let job = w.jobs.get(&q.job);
    let task = match job {
        Some(j) => json!({
            "_class": j.kind.class(),
            "name": j.name(),
            "url": job_url(w, &j.full_name),
            "color": j.color(),
        }),
        None => Value::Null,
    };
    let mut actions = Vec::new();
    if !q.params.is_empty() {
        actions.push(params_action(&q.params));
    }
    actions.push(causes_action(w, &q.causes));
    let class = match q.state {
        QueueState::Waiting => "hudson.model.Queue$WaitingItem",
        _ => "hudson.model.Queue$LeftItem",
    };
    let mut m = Map::new();
    m.insert("_class".into(), json!(class));
    m.insert("actions".into(), Value::Array(actions));
    m.insert("blocked".into(), json!(false));
    m.insert("buildable".into(), json!(false));
    m.insert("id".into(), json!(q.id));
    m.insert("inQueueSince".into(), json!(q.since));
    m.insert("params".into(), json!(params_text(&q.params)));
    m.insert("stuck".into(), json!(false));
    m.insert("task".into(), task);
    m.insert("url".into(), json!(format!("queue/item/{}/", q.id)));
    match &q.state {
        QueueState::Waiting => {
            let left = (q.start_at - w.now).max(0) as f64 / 1000.0;
            m.insert(
                "why".into(),
                json!(format!("In the quiet period. Expires in {left:.1} sec")),
            );
            m.insert("timestamp".into(), json!(q.start_at));
        }
        QueueState::Left { number, .. } => {
            m.insert("why".into(), Value::Null);
            m.insert("cancelled".into(), json!(false));
            let exe = job.map_or(Value::Null, |j| {
                json!({
                    "_class": j.kind.build_class(),
                    "number": number,
                    "url": build_url(w, &j.full_name, *number),
                })
            });
            m.insert("executable".into(), exe);
        }
        QueueState::Cancelled { .. } => {
            m.insert("why".into(), Value::Null);
            m.insert("cancelled".into(), json!(true));
            m.insert("executable".into(), Value::Null);
        }
    }
    Value::Object(m)
}

/// `GET /queue/api/json`: the waiting items.
pub(crate) fn queue(w: &World) -> Value {
    let items: Vec<Value> = w
        .queue
        .values()
        .filter(|q| q.state == QueueState::Waiting)
        .map(|q| queue_item(w, q))
        .collect();
    json!({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items})
}

// ---- Pipeline REST API (wfapi) -----------------------------------------------

fn run_status(b: &Build) -> NodeStatus {
    if b.building {
        if b.is_paused() {
            NodeStatus::PausedPendingInput
        } else {
            NodeStatus::InProgress
        }
    } else {
        b.result.map_or(NodeStatus::NotExecuted, |r| r.node_status())
    }
}

fn href(path: String) -> Value {
    json!({"href": path})
}

fn stage_json(job: &Job, b: &Build, s: &Stage, now: Ms) -> Value {
    let base = build_path(&job.full_name, b.number);
    let mut m = Map::new();
    m.insert(
        "_links".into(),
        json!({"self": href(format!("{base}execution/node/{}/wfapi/describe", s.id))}),
    );
    m.insert("id".into(), json!(s.id.to_string()));
    m.insert("name".into(), json!(s.name));
    m.insert("execNode".into(), json!(""));
    m.insert("status".into(), json!(s.status.as_str()));
    if let Some(e) = &s.error
        && s.status == NodeStatus::Failed
    {
        m.insert("error".into(), json!({"message": e.message, "type": e.kind}));
    }
    m.insert("startTimeMillis".into(), json!(s.start));
    m.insert("durationMillis".into(), json!(s.duration(now)));
    m.insert("pauseDurationMillis".into(), json!(s.pause_total(now)));
    Value::Object(m)
}

fn step_json(job: &Job, b: &Build, stage: &Stage, step: &Step, now: Ms) -> Value {
    let base = build_path(&job.full_name, b.number);
    let parent = stage
        .steps
        .iter()
        .take_while(|s| s.id != step.id)
        .filter(|s| s.started)
        .last()
        .map_or(stage.id, |s| s.id);
    let mut m = Map::new();
    m.insert(
        "_links".into(),
        json!({
            "self": href(format!("{base}execution/node/{}/wfapi/describe", step.id)),
            "log": href(format!("{base}execution/node/{}/wfapi/log", step.id)),
        }),
    );
    m.insert("id".into(), json!(step.id.to_string()));
    m.insert("name".into(), json!(step.name));
    m.insert("execNode".into(), json!(""));
    m.insert("status".into(), json!(step.status.as_str()));
    if let Some(d) = &step.description {
        m.insert("parameterDescription".into(), json!(d));
    }
    if let Some(e) = &step.error {
        m.insert("error".into(), json!({"message": e.message, "type": e.kind}));
    }
    m.insert("startTimeMillis".into(), json!(step.start));
    m.insert("durationMillis".into(), json!(step.duration(now)));
    m.insert("pauseDurationMillis".into(), json!(step.pause_total(now)));
    m.insert("parentNodes".into(), json!([parent.to_string()]));
    Value::Object(m)
}

/// `GET /job/X/N/wfapi/describe`. Stages not started yet are not listed.
pub(crate) fn run_describe(w: &World, job: &Job, b: &Build) -> Value {
    let now = w.now;
    let base = build_path(&job.full_name, b.number);
    let mut links = Map::new();
    links.insert("self".into(), href(format!("{base}wfapi/describe")));
    if b.is_paused() {
        links.insert(
            "pendingInputActions".into(),
            href(format!("{base}wfapi/pendingInputActions")),
        );
    }
    if !b.building {
        links.insert("artifacts".into(), href(format!("{base}wfapi/artifacts")));
    }
    let end = b.end.unwrap_or(now);
    let stages: Vec<Value> = b.stages.iter().map(|s| stage_json(job, b, s, now)).collect();
    let pause: Ms = b.stages.iter().map(|s| s.pause_total(now)).sum();
    json!({
        "_links": links,
        "id": b.number.to_string(),
        "name": format!("#{}", b.number),
        "status": run_status(b).as_str(),
        "startTimeMillis": b.start,
        "endTimeMillis": end,
        "durationMillis": (end - b.start).max(0),
        "queueDurationMillis": (b.start - b.queued_at).max(0),
        "pauseDurationMillis": pause,
        "stages": stages,
    })
}

/// `GET /job/X/wfapi/runs`: newest first, ten at most.
pub(crate) fn runs(w: &World, job: &Job) -> Value {
    Value::Array(
        job.builds
            .iter()
            .rev()
            .take(10)
            .map(|b| run_describe(w, job, b))
            .collect(),
    )
}

/// `GET /job/X/wfapi/describe`.
pub(crate) fn job_wfapi(job: &Job) -> Value {
    let base = job_path(&job.full_name);
    json!({
        "_links": {
            "self": href(format!("{base}wfapi/describe")),
            "runs": href(format!("{base}wfapi/runs")),
        },
        "name": job.name(),
        "runCount": job.builds.len(),
    })
}

/// `GET /job/X/N/execution/node/ID/wfapi/describe`: a stage with its
/// `stageFlowNodes`, or a single step node.
pub(crate) fn node_describe(w: &World, job: &Job, b: &Build, id: u32) -> Option<Value> {
    let now = w.now;
    if let Some(stage) = b.stage_by_node(id) {
        let mut v = stage_json(job, b, stage, now);
        let nodes: Vec<Value> = stage
            .steps
            .iter()
            .filter(|s| s.started)
            .map(|s| step_json(job, b, stage, s, now))
            .collect();
        if let Value::Object(m) = &mut v {
            m.insert("stageFlowNodes".into(), Value::Array(nodes));
        }
        return Some(v);
    }
    let (stage, step) = b.step_by_node(id)?;
    Some(step_json(job, b, stage, step, now))
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The AnsiColor plugin's HTML for a log: SGR sequences become `<b>` and
/// `<span style="color: …;">` (its xterm colours) until the next reset;
/// other escape sequences are dropped.
fn ansi_to_html(s: &str) -> String {
    const XTERM: [&str; 8] = [
        "#000000", "#CD0000", "#00CD00", "#CDCD00", "#1E90FF", "#CD00CD", "#00CDCD", "#E5E5E5",
    ];
    let mut out = String::with_capacity(s.len());
    let mut open: Vec<&str> = Vec::new();
    let close_all = |out: &mut String, open: &mut Vec<&str>| {
        while let Some(tag) = open.pop() {
            out.push_str(tag);
        }
    };
    let mut rest = s;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let Some(csi) = rest.strip_prefix('[') else {
            continue;
        };
        let Some(end) = csi.find(|c: char| ('@'..='~').contains(&c)) else {
            rest = "";
            break;
        };
        let (params, last) = (&csi[..end], &csi[end..=end]);
        rest = &csi[end + 1..];
        if last != "m" {
            continue;
        }
        for p in params.split(';') {
            match p.parse::<u8>().unwrap_or(0) {
                0 => close_all(&mut out, &mut open),
                1 => {
                    out.push_str("<b>");
                    open.push("</b>");
                }
                c @ 30..=37 => {
                    out.push_str(&format!("<span style=\"color: {};\">", XTERM[usize::from(c - 30)]));
                    open.push("</span>");
                }
                _ => {}
            }
        }
    }
    out.push_str(rest);
    close_all(&mut out, &mut open);
    out
}

/// `GET /job/X/N/execution/node/ID/wfapi/log`: the last 10 KiB, as HTML
/// (with the AnsiColor plugin's markup for coloured output).
pub(crate) fn node_log(job: &Job, b: &Build, id: u32) -> Option<Value> {
    let text = super::logtext::node_of(b, id)?;
    let status = b
        .stage_by_node(id)
        .map(|s| s.status)
        .or_else(|| b.step_by_node(id).map(|(_, s)| s.status))?;
    let len = text.len();
    let has_more = len > NODE_LOG_MAX as u64;
    let start = len.saturating_sub(NODE_LOG_MAX as u64);
    let bytes = text.read(start, len);
    // Start on a character, not inside one.
    let skip = if start > 0 {
        bytes.iter().take(3).take_while(|c| (**c & 0xC0) == 0x80).count()
    } else {
        0
    };
    let tail = String::from_utf8_lossy(&bytes[skip..]);
    Some(json!({
        "nodeId": id.to_string(),
        "nodeStatus": status.as_str(),
        "length": len,
        "hasMore": has_more,
        "text": ansi_to_html(&html_escape(&tail)),
        "consoleUrl": format!("{}execution/node/{id}/log", build_path(&job.full_name, b.number)),
    }))
}

/// `GET /job/X/N/wfapi/pendingInputActions`.
pub(crate) fn pending_inputs(job: &Job, b: &Build) -> Value {
    let base = build_path(&job.full_name, b.number);
    match &b.input {
        Some(i) => json!([{
            "id": i.id,
            "proceedText": "Proceed",
            "message": i.message,
            "inputs": [],
            "proceedUrl": format!("{base}wfapi/inputSubmit?inputId={}", i.id),
            "abortUrl": format!("{base}input/{}/abort", i.id),
            "redirectApprovalUrl": format!("{base}input/"),
        }]),
        None => json!([]),
    }
}

/// `GET /job/X/N/testReport/api/json`: counts, and the failed cases in full
/// (passing cases are not itemised by the simulator).
pub(crate) fn test_report(b: &Build) -> Option<Value> {
    let t = b.tests?;
    let mut suites: Vec<(String, Vec<Value>)> = Vec::new();
    for c in &b.failed_cases {
        let case = json!({
            "_class": "hudson.tasks.junit.CaseResult",
            "age": 1,
            "className": c.class_name,
            "duration": 0.087,
            "errorDetails": c.message,
            "errorStackTrace": c.trace,
            "failedSince": b.number,
            "name": c.name,
            "skipped": false,
            "skippedMessage": null,
            "status": "FAILED",
            "stderr": null,
            "stdout": null,
        });
        match suites.iter_mut().find(|(n, _)| *n == c.class_name) {
            Some((_, cases)) => cases.push(case),
            None => suites.push((c.class_name.clone(), vec![case])),
        }
    }
    let suites: Vec<Value> = suites
        .into_iter()
        .map(|(name, cases)| {
            json!({
                "_class": "hudson.tasks.junit.SuiteResult",
                "cases": cases,
                "duration": 1.9,
                "id": null,
                "name": name,
                "stderr": null,
                "stdout": null,
                "timestamp": null,
            })
        })
        .collect();
    Some(json!({
        "_class": "hudson.tasks.junit.TestResult",
        "testActions": [],
        "duration": (t.total as f64) * 0.11,
        "empty": t.total == 0,
        "failCount": t.failed,
        "passCount": t.total.saturating_sub(t.failed).saturating_sub(t.skipped),
        "skipCount": t.skipped,
        "suites": suites,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_paths_nest_and_escape() {
        assert_eq!(job_path("a/b c"), "/job/a/job/b%20c/");
        assert_eq!(build_path("dominion/x", 12), "/job/dominion/job/x/12/");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(html_escape("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
    }

    #[test]
    fn ansi_becomes_the_plugins_markup() {
        let line = "[\u{1b}[1;31mERROR\u{1b}[m] \u{1b}[1;31mTests run: 3\u{1b}[m, done\u{1b}[2K";
        assert_eq!(
            ansi_to_html(line),
            "[<b><span style=\"color: #CD0000;\">ERROR</span></b>] \
             <b><span style=\"color: #CD0000;\">Tests run: 3</span></b>, done"
        );
        assert_eq!(
            ansi_to_html("\u{1b}[36mopen"),
            "<span style=\"color: #00CDCD;\">open</span>"
        );
    }
}
