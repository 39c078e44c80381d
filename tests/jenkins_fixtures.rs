//! The Jenkins parsers on every real Jenkins body in tests/fixtures/jenkins (see its PROVENANCE.md).

use flightdeck::model::{Cause, ParamKind, Status};
use flightdeck::sources::jenkins::actions::queue_state;
use flightdeck::sources::jenkins::api::*;
use flightdeck::sources::jenkins::map;
use flightdeck::sources::jenkins::poll::walk;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/jenkins/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn build_info_with_parameters_and_user_cause() {
    let b: BuildJson = parse("jenkins-rest_build-info.json");
    let build = map::build(&b, None);
    assert_eq!(build.number, 10);
    assert_eq!(build.status, Status::Ok);
    assert_eq!(build.duration_ms, 60750);
    assert_eq!(build.estimated_duration_ms, Some(60258));
    assert_eq!(
        build.parameters,
        vec![("bear".into(), "true".into()), ("fish".into(), "salmon".into())]
    );
    assert_eq!(
        build.causes,
        vec![Cause::User {
            id: None,
            name: Some("anonymous".into())
        }]
    );
    assert_eq!(build.queue_id, Some(73));
}

#[test]
fn build_with_git_change_set() {
    let b: BuildJson = parse("jenkins-rest_build-info-git-commit.json");
    let build = map::build(&b, None);
    assert_eq!(build.status, Status::Ok);
}

#[test]
fn commit_from_build_data_chosen_by_remote() {
    let b: BuildJson = parse("jenkinsapi_build-scm-git.json");
    let build = map::build(&b, Some("git@github.com:salimfadhley/jenkinsapi.git"));
    assert_eq!(
        build.commit.as_deref(),
        Some("7def9ed6e92580f37d00e4980c36c4d36e68f702")
    );
    assert_eq!(build.branch.as_deref(), Some("origin/unstable"));
    assert_eq!(build.causes, vec![Cause::ScmPoll]);
}

#[test]
fn commit_ignores_the_shared_library_build_data() {
    let json = r#"{"number":5,"actions":[
        {"_class":"hudson.plugins.git.util.BuildData","lastBuiltRevision":{"SHA1":"aaaa","branch":[{"SHA1":"aaaa","name":"master"}]},"remoteUrls":["https://github.com/dominion/jenkins-shared-library.git"]},
        {},
        {"_class":"hudson.plugins.git.util.BuildData","lastBuiltRevision":{"SHA1":"bbbb","branch":[{"SHA1":"bbbb","name":"refs/remotes/origin/master"}]},"remoteUrls":["https://github.com/dominion/payments-api.git"]},
        {"_class":"hudson.tasks.junit.TestResultAction","failCount":2,"skipCount":3,"totalCount":412,"urlName":"testReport"},
        {"_class":"hudson.model.CauseAction","causes":[{"_class":"com.cloudbees.jenkins.GitHubPushCause","shortDescription":"Started by GitHub push by alice"}]}
    ]}"#;
    let b: BuildJson = serde_json::from_str(json).unwrap();
    let build = map::build(&b, Some("https://github.com/dominion/payments-api"));
    assert_eq!(build.commit.as_deref(), Some("bbbb"));
    let tests = build.tests.unwrap();
    assert_eq!(
        (tests.total, tests.failed, tests.skipped, tests.passed()),
        (412, 2, 3, 407)
    );
    assert_eq!(
        build.causes,
        vec![Cause::GithubPush {
            user: Some("alice".into())
        }]
    );
    // Without a way to tell them apart, better unknown than the library's commit.
    assert_eq!(map::build(&b, Some("https://github.com/other/repo")).commit, None);
}

#[test]
fn queue_items_pending_running_cancelled() {
    use flightdeck::model::QueueState;
    let pending: QueueItemJson = parse("jenkins-rest_queueItemPending.json");
    assert!(matches!(queue_state(&pending), QueueState::Waiting { why: Some(_) }));
    let running: QueueItemJson = parse("jenkins-rest_queueItemRunning.json");
    assert!(matches!(queue_state(&running), QueueState::Started { number: 14, .. }));
    let cancelled: QueueItemJson = parse("jenkins-rest_queueItemCancelled.json");
    assert_eq!(queue_state(&cancelled), QueueState::Cancelled);
}

#[test]
fn folders_and_filtered_tree() {
    let folder: JobList = parse("jenkins-rest_jobsInJenkinsFolder.json");
    assert_eq!(folder.jobs[0].name, "Test Project");
    assert_eq!(
        map::job_kind(&folder.jobs[0].class),
        flightdeck::model::JobKind::Freestyle
    );
    let tree: JobList = parse("jenkins-jobs-tree-filtered.json");
    let mut out = Vec::new();
    walk(&tree.jobs, "", &mut out);
    assert!(
        out.iter()
            .any(|(name, colour)| name == "1.iPhoneUnitTests" && colour == "blue")
    );
    assert!(out.iter().any(|(_, colour)| colour == "aborted"));
}

#[test]
fn wfapi_paused_run_and_history() {
    for name in ["jenkins-rest_workflow.json", "jenkins-wfapi-run-describe-paused.json"] {
        let run: RunDescribe = parse(name);
        assert_eq!(Status::from_wfapi(&run.status), Status::Paused, "{name}");
        let stages = map::stages(&run);
        assert!(stages.iter().any(|s| s.status == Status::Paused), "{name}");
    }
    let runs: Vec<RunDescribe> = parse("jenkins-rest_runHistory.json");
    assert!(!runs.is_empty());
    let job: serde_json::Value = parse("jenkins-wfapi-job-describe.json");
    assert!(job.get("name").is_some());
}

#[test]
fn failed_stage_error_comes_from_its_step() {
    let node: StageJson = parse("jenkins-wfapi-node-describe-failed.json");
    let stage = map::stage(&node);
    assert_eq!(stage.status, Status::Failed);
    let err = stage.error.unwrap();
    assert_eq!(err.message, "script returned exit code 1");
    assert_eq!(err.kind, "hudson.AbortException");
    let ok: StageJson = parse("jenkins-rest_pipeline-node.json");
    assert_eq!(map::stage(&ok).status, Status::Ok);
}

#[test]
fn pending_inputs_keep_their_ids_exactly() {
    let inputs: Vec<PendingInputJson> = parse("jenkins-wfapi-pendingInputActions.json");
    let i = map::pending_input(&inputs[0]);
    assert_eq!(i.id, "Ef95dd500ae6ed3b27b89fb852296d12");
    assert_eq!(i.message, "Is the build okay?");
    let inputs: Vec<PendingInputJson> = parse("jenkinsapi_pendingInputActions.json");
    let i = map::pending_input(&inputs[0]);
    assert_eq!(i.id, "Input-step-1");
    assert_eq!(i.message, "Deploy to production?");
    assert_eq!(i.inputs[0].name, "DEPLOY_ENV");
    assert_eq!(i.inputs[0].kind, ParamKind::String);
    assert_eq!(i.proceed_text.as_deref(), Some("Proceed"));
}

#[test]
fn node_logs_artifacts_and_test_report_parse() {
    for name in ["jenkins-wfapi-node-log.json", "jenkins-rest_pipelineNodeLog.json"] {
        let log: serde_json::Value = parse(name);
        assert!(log.get("text").is_some(), "{name}");
    }
    let artifacts: serde_json::Value = parse("jenkins-wfapi-artifacts.json");
    assert!(artifacts.is_array());
    let report: serde_json::Value = parse("jenkins-testReport.json");
    assert_eq!(report["failCount"], 4);
    assert!(!fixture("jenkins-rest_progressive-text.txt").is_empty());
}

#[test]
fn every_json_fixture_is_covered() {
    let dir = format!("{}/tests/fixtures/jenkins", env!("CARGO_MANIFEST_DIR"));
    let me = include_str!("jenkins_fixtures.rs");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json") || name.ends_with(".txt") {
            assert!(me.contains(&name), "fixture {name} has no parser test");
        }
    }
}
