//! The Jenkins data model of the simulated estate (jobs, builds, stages, steps,
//! inputs) and the engine that moves a running build through its stages.
//!
//! A build is planned up front (stage names, durations, outcomes) and then
//! replayed against the story clock: stage starts, console lines, step ends and
//! the final result all happen at precise simulated instants, so a big manual
//! `tick` lands in exactly the same state as many small ones.

use std::collections::VecDeque;

use super::console::{self, FailedCase, ScriptCtx, StepScript};

/// Simulated epoch milliseconds.
pub(crate) type Ms = i64;

/// Flow node id Jenkins gives the first stage of a typical declarative run.
const FIRST_STAGE_NODE_ID: u32 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobKind {
    Folder,
    MultiBranch,
    Pipeline,
    Freestyle,
}

impl JobKind {
    pub(crate) fn class(self) -> &'static str {
        match self {
            JobKind::Folder => "com.cloudbees.hudson.plugins.folder.Folder",
            JobKind::MultiBranch => "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject",
            JobKind::Pipeline => "org.jenkinsci.plugins.workflow.job.WorkflowJob",
            JobKind::Freestyle => "hudson.model.FreeStyleProject",
        }
    }

    pub(crate) fn build_class(self) -> &'static str {
        match self {
            JobKind::Freestyle => "hudson.model.FreeStyleBuild",
            _ => "org.jenkinsci.plugins.workflow.job.WorkflowRun",
        }
    }

    /// Folders (and multibranch projects, which are computed folders) hold jobs
    /// and have no colour or builds of their own.
    pub(crate) fn is_folder(self) -> bool {
        matches!(self, JobKind::Folder | JobKind::MultiBranch)
    }
}

/// Which stage plan a job's builds follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Template {
    None,
    Service,
    Deploy,
    Branch,
    Backup,
}

#[derive(Clone, Debug)]
pub(crate) enum ParamKind {
    Text,
    Choice(Vec<String>),
    Boolean,
}

#[derive(Clone, Debug)]
pub(crate) struct ParamDef {
    pub name: String,
    pub description: String,
    pub kind: ParamKind,
    /// Default as text; "true"/"false" for booleans, first choice for choices.
    pub default: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ParamValue {
    Text(String),
    Bool(bool),
}

impl ParamValue {
    pub(crate) fn as_text(&self) -> String {
        match self {
            ParamValue::Text(s) => s.clone(),
            ParamValue::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BuildResult {
    Success,
    Unstable,
    Failure,
    Aborted,
}

impl BuildResult {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BuildResult::Success => "SUCCESS",
            BuildResult::Unstable => "UNSTABLE",
            BuildResult::Failure => "FAILURE",
            BuildResult::Aborted => "ABORTED",
        }
    }

    /// Jenkins' BallColor for a finished build with this result.
    pub(crate) fn color(self) -> &'static str {
        match self {
            BuildResult::Success => "blue",
            BuildResult::Unstable => "yellow",
            BuildResult::Failure => "red",
            BuildResult::Aborted => "aborted",
        }
    }

    /// wfapi spells results differently from core (FAILED vs FAILURE).
    pub(crate) fn node_status(self) -> NodeStatus {
        match self {
            BuildResult::Success => NodeStatus::Success,
            BuildResult::Unstable => NodeStatus::Unstable,
            BuildResult::Failure => NodeStatus::Failed,
            BuildResult::Aborted => NodeStatus::Aborted,
        }
    }
}

/// `StatusExt` of the Pipeline REST API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeStatus {
    NotExecuted,
    Aborted,
    Success,
    InProgress,
    PausedPendingInput,
    Failed,
    Unstable,
}

impl NodeStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NodeStatus::NotExecuted => "NOT_EXECUTED",
            NodeStatus::Aborted => "ABORTED",
            NodeStatus::Success => "SUCCESS",
            NodeStatus::InProgress => "IN_PROGRESS",
            NodeStatus::PausedPendingInput => "PAUSED_PENDING_INPUT",
            NodeStatus::Failed => "FAILED",
            NodeStatus::Unstable => "UNSTABLE",
        }
    }

    fn is_running(self) -> bool {
        matches!(self, NodeStatus::InProgress | NodeStatus::PausedPendingInput)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NodeError {
    pub message: String,
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    GitHubPush {
        login: String,
    },
    Scm,
    Timer,
    User {
        id: String,
        name: String,
    },
    Upstream {
        project: String,
        build: u32,
    },
    /// Multibranch: `jenkins.branch.BranchEventCause`.
    BranchEvent {
        description: String,
    },
}

impl Cause {
    pub(crate) fn short_description(&self) -> String {
        match self {
            Cause::GitHubPush { login } => format!("Started by GitHub push by {login}"),
            Cause::Scm => "Started by an SCM change".to_string(),
            Cause::Timer => "Started by timer".to_string(),
            Cause::User { name, .. } => format!("Started by user {name}"),
            Cause::Upstream { project, build } => {
                format!("Started by upstream project \"{project}\" build number {build}")
            }
            Cause::BranchEvent { description } => description.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Commit {
    pub id: String,
    pub msg: String,
    pub author_login: String,
    pub author_name: String,
    pub timestamp: Ms,
    pub paths: Vec<String>,
}

/// What JUnit recorded; Jenkins' TestResultAction has no pass count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TestCounts {
    pub total: u32,
    pub failed: u32,
    pub skipped: u32,
}

/// How a failing stage fails; picks the console text and the step error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailKind {
    UnitTests,
    QualityGate,
    ImageScan,
    Script,
    /// A `RUN` step of the Dockerfile fails (BuildKit's `ERROR: failed to solve`).
    DockerBuild,
    /// A task of the deploy playbook fails (`fatal: [host]: FAILED!`, exit code 2).
    Ansible,
    /// `kubectl rollout status` gives up (`exceeded its progress deadline`).
    Rollout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Fail(FailKind),
    Unstable,
    /// Waits for an `input` answer.
    Input,
}

#[derive(Clone, Debug)]
pub(crate) struct PlannedStage {
    pub name: String,
    pub duration: Ms,
    pub outcome: Outcome,
    /// What this stage's `junit` step records, if it runs tests.
    pub tests: Option<TestCounts>,
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub id: u32,
    pub name: String,
    pub description: Option<String>,
    pub status: NodeStatus,
    pub started: bool,
    pub start: Ms,
    pub end: Option<Ms>,
    pub pause: Ms,
    pub paused_since: Option<Ms>,
    pub error: Option<NodeError>,
    pub log: String,
    /// Where the generated region of the big console goes: offsets in the
    /// build's console and in this step's log.
    pub big_at: Option<(usize, usize)>,
    /// Status the script gives the step when it ends normally.
    end_status: NodeStatus,
    end_error: Option<NodeError>,
}

#[derive(Clone, Debug)]
enum EventKind {
    Console(String),
    StepStart(usize),
    StepLine(usize, String),
    StepEnd(usize),
}

#[derive(Clone, Debug)]
struct Event {
    at: Ms,
    kind: EventKind,
}

#[derive(Clone, Debug)]
pub(crate) struct Stage {
    pub id: u32,
    pub name: String,
    pub status: NodeStatus,
    pub start: Ms,
    pub end: Option<Ms>,
    pub pause: Ms,
    pub paused_since: Option<Ms>,
    pub error: Option<NodeError>,
    pub steps: Vec<Step>,
    planned_end: Ms,
    outcome: Outcome,
    tests: Option<TestCounts>,
    events: VecDeque<Event>,
}

impl Stage {
    pub(crate) fn duration(&self, now: Ms) -> Ms {
        (self.end.unwrap_or(now) - self.start).max(0)
    }

    pub(crate) fn pause_total(&self, now: Ms) -> Ms {
        self.pause + self.paused_since.map_or(0, |p| (now - p).max(0))
    }

    pub(crate) fn node(&self, id: u32) -> Option<&Step> {
        self.steps.iter().find(|s| s.started && s.id == id)
    }
}

impl Step {
    pub(crate) fn duration(&self, now: Ms) -> Ms {
        (self.end.unwrap_or(now) - self.start).max(0)
    }

    pub(crate) fn pause_total(&self, now: Ms) -> Ms {
        self.pause + self.paused_since.map_or(0, |p| (now - p).max(0))
    }
}

/// An `input` step waiting for an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingInput {
    /// As Jenkins reports it: first letter capitalised.
    pub id: String,
    pub message: String,
}

/// Things a build asks the rest of the estate to do (e.g. a deploy stage
/// triggering the service's deploy job).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Deploy { environment: String, at: Ms },
}

#[derive(Clone, Debug)]
pub(crate) struct Build {
    pub number: u32,
    pub queue_id: u64,
    pub queued_at: Ms,
    pub start: Ms,
    pub end: Option<Ms>,
    pub building: bool,
    pub result: Option<BuildResult>,
    /// Result so far (UNSTABLE sticks once a stage went unstable).
    pub running_result: BuildResult,
    pub causes: Vec<Cause>,
    pub params: Vec<(String, ParamValue)>,
    pub ctx: ScriptCtx,
    pub lib_sha: String,
    pub branch: String,
    pub commits: Vec<Commit>,
    pub plan: Vec<PlannedStage>,
    pub stages: Vec<Stage>,
    pub tests: Option<TestCounts>,
    pub failed_cases: Vec<FailedCase>,
    pub console: String,
    pub input: Option<PendingInput>,
    /// True once an input step ran (Jenkins then lists an InputAction).
    pub had_input: bool,
    pub freestyle: bool,
    next_node_id: u32,
}

/// Everything needed to create a build; the plan comes from the story.
pub(crate) struct NewBuild {
    pub number: u32,
    pub queue_id: u64,
    pub queued_at: Ms,
    pub start: Ms,
    pub causes: Vec<Cause>,
    pub params: Vec<(String, ParamValue)>,
    pub ctx: ScriptCtx,
    pub lib_sha: String,
    pub branch: String,
    pub commits: Vec<Commit>,
    pub plan: Vec<PlannedStage>,
    pub freestyle: bool,
}

impl Build {
    /// Creates the build and starts it at `nb.start`; the caller then
    /// advances it to the present.
    pub(crate) fn start(nb: NewBuild) -> (Build, Vec<Effect>) {
        let mut b = Build {
            number: nb.number,
            queue_id: nb.queue_id,
            queued_at: nb.queued_at,
            start: nb.start,
            end: None,
            building: true,
            result: None,
            running_result: BuildResult::Success,
            causes: nb.causes,
            params: nb.params,
            ctx: nb.ctx,
            lib_sha: nb.lib_sha,
            branch: nb.branch,
            commits: nb.commits,
            plan: nb.plan,
            stages: Vec::new(),
            tests: None,
            failed_cases: Vec::new(),
            console: String::new(),
            input: None,
            had_input: false,
            freestyle: nb.freestyle,
            next_node_id: FIRST_STAGE_NODE_ID,
        };
        let causes: Vec<String> = b.causes.iter().map(Cause::short_description).collect();
        b.console
            .push_str(&console::build_header(&b.ctx, &causes, &b.lib_sha, b.freestyle));
        let mut effects = Vec::new();
        if b.plan.is_empty() {
            b.finish(b.start, BuildResult::Success);
        } else {
            b.start_stage(0, b.start, &mut effects);
        }
        (b, effects)
    }

    pub(crate) fn duration(&self, now: Ms) -> Ms {
        (self.end.unwrap_or(now) - self.start).max(0)
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.input.is_some()
    }

    pub(crate) fn head_sha(&self) -> &str {
        &self.ctx.sha
    }

    pub(crate) fn stage_by_node(&self, id: u32) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// Finds a step node anywhere in the run.
    pub(crate) fn step_by_node(&self, id: u32) -> Option<(&Stage, &Step)> {
        self.stages.iter().find_map(|st| st.node(id).map(|step| (st, step)))
    }

    /// Where the big console's generated region is spliced in (console
    /// offset, step log offset), once its step printed it.
    pub(crate) fn big_at(&self) -> Option<(usize, usize)> {
        self.stages.iter().flat_map(|s| s.steps.iter()).find_map(|s| s.big_at)
    }

    /// A `[Pipeline] …` line, with the hidden console note some builds carry.
    fn pipeline(&self, text: &str) -> String {
        console::pipeline_line(&self.ctx, text, self.console.len())
    }

    /// Moves the build forward to `t`: reveals console lines, ends stages and
    /// starts the next ones, and stops at an input or at the end.
    pub(crate) fn advance(&mut self, t: Ms) -> Vec<Effect> {
        let mut effects = Vec::new();
        while self.building {
            let Some(stage) = self.stages.last_mut() else {
                break;
            };
            reveal(&mut self.console, stage, t);
            if stage.status == NodeStatus::PausedPendingInput || stage.planned_end > t {
                break;
            }
            let end = stage.planned_end;
            self.finish_stage(end, &mut effects);
        }
        effects
    }

    /// Answers the pending input with "Proceed". False if there is none with that id.
    pub(crate) fn approve(&mut self, input_id: &str, t: Ms, user: &str) -> Option<Vec<Effect>> {
        if self.input.as_ref().map(|i| i.id.as_str()) != Some(input_id) {
            return None;
        }
        self.input = None;
        let stage = self.stages.last_mut()?;
        end_pause(stage, t);
        stage.status = NodeStatus::InProgress;
        stage.planned_end = t;
        let last = stage.steps.len().saturating_sub(1);
        stage.events.push_back(Event {
            at: t,
            kind: EventKind::StepLine(last, format!("Approved by {user}")),
        });
        stage.events.push_back(Event {
            at: t,
            kind: EventKind::StepEnd(last),
        });
        Some(self.advance(t))
    }

    /// Answers the pending input with "Abort": the run ends ABORTED.
    pub(crate) fn abort_input(&mut self, input_id: &str, t: Ms, user: &str) -> bool {
        if self.input.as_ref().map(|i| i.id.as_str()) != Some(input_id) {
            return false;
        }
        self.input = None;
        self.interrupt(t, &[]);
        self.console.push_str(&format!("Rejected by {user}\n"));
        self.close(t, BuildResult::Aborted, None);
        true
    }

    /// The Stop button (`/stop`, `/term`, `/kill`): aborts whatever is running.
    pub(crate) fn stop(&mut self, t: Ms, user: &str) -> bool {
        if !self.building {
            return false;
        }
        self.input = None;
        let shell_running = self.stages.last().is_some_and(|s| {
            s.steps
                .iter()
                .any(|st| st.started && st.end.is_none() && st.name == "Shell Script")
        });
        let mut lines = vec![
            format!("Aborted by {user}"),
            "Sending interrupt signal to process".to_string(),
        ];
        if shell_running {
            lines.push("script returned exit code 143".to_string());
        }
        self.interrupt(t, &lines);
        self.close(t, BuildResult::Aborted, None);
        true
    }

    /// Marks the running stage and its running steps ABORTED at `t`.
    fn interrupt(&mut self, t: Ms, lines: &[String]) {
        let Some(stage) = self.stages.last_mut() else {
            return;
        };
        reveal(&mut self.console, stage, t);
        stage.events.clear();
        end_pause(stage, t);
        for l in lines {
            self.console.push_str(l);
            self.console.push('\n');
        }
        if let Some(step) = stage.steps.iter_mut().rev().find(|s| s.started && s.end.is_none()) {
            for l in lines {
                step.log.push_str(l);
                step.log.push('\n');
            }
        }
        for step in stage.steps.iter_mut().filter(|s| s.started && s.end.is_none()) {
            step.end = Some(t);
            step.status = NodeStatus::Aborted;
        }
        if stage.status.is_running() {
            stage.status = NodeStatus::Aborted;
            stage.end = Some(t);
        }
        if !self.freestyle {
            let lines = self.pipeline("}") + &self.pipeline("// stage");
            self.console.push_str(&lines);
        }
    }

    fn start_stage(&mut self, idx: usize, at: Ms, effects: &mut Vec<Effect>) {
        let planned = self.plan[idx].clone();
        let scripts = console::stage_script(&self.ctx, &planned, at + planned.duration);
        let id = self.next_node_id;
        self.next_node_id += 1;
        let mut steps = Vec::with_capacity(scripts.len());
        for s in &scripts {
            steps.push(Step {
                id: self.next_node_id,
                name: s.name.to_string(),
                description: s.description.clone(),
                status: NodeStatus::InProgress,
                started: false,
                start: at,
                end: None,
                pause: 0,
                paused_since: None,
                error: None,
                log: String::new(),
                big_at: None,
                end_status: s.end_status,
                end_error: s.error.clone(),
            });
            self.next_node_id += 1;
        }
        // Jenkins allocates a few bookkeeping nodes per stage; keep ids sparse.
        self.next_node_id += 2;
        let is_input = planned.outcome == Outcome::Input;
        let events = schedule(&self.ctx, &scripts, at, planned.duration, is_input, self.freestyle);
        if !self.freestyle {
            let lines = self.pipeline("stage") + &self.pipeline(&format!("{{ ({})", planned.name));
            self.console.push_str(&lines);
        }
        let mut stage = Stage {
            id,
            name: planned.name.clone(),
            status: NodeStatus::InProgress,
            start: at,
            end: None,
            pause: 0,
            paused_since: None,
            error: None,
            steps,
            planned_end: at + planned.duration,
            outcome: planned.outcome,
            tests: planned.tests,
            events,
        };
        if is_input {
            // The input step prints its prompt and then waits for an answer.
            reveal(&mut self.console, &mut stage, at);
            stage.status = NodeStatus::PausedPendingInput;
            stage.paused_since = Some(at);
            stage.planned_end = Ms::MAX;
            if let Some(step) = stage.steps.last_mut() {
                step.status = NodeStatus::PausedPendingInput;
                step.paused_since = Some(at);
            }
            self.input = Some(PendingInput {
                id: console::INPUT_ID.to_string(),
                message: console::INPUT_MESSAGE.to_string(),
            });
            self.had_input = true;
        }
        if let Some(env) = deploy_environment(&planned.name) {
            effects.push(Effect::Deploy {
                environment: env.to_string(),
                at,
            });
        }
        self.stages.push(stage);
    }

    fn finish_stage(&mut self, end: Ms, effects: &mut Vec<Effect>) {
        let Some(idx) = self.stages.len().checked_sub(1) else {
            return;
        };
        let stage = &mut self.stages[idx];
        reveal(&mut self.console, stage, Ms::MAX);
        stage.end = Some(end);
        for step in stage.steps.iter_mut().filter(|s| s.started && s.end.is_none()) {
            step.end = Some(end);
            step.status = step.end_status;
            step.error = step.end_error.clone();
        }
        let outcome = stage.outcome;
        if let Some(t) = stage.tests {
            let acc = self.tests.get_or_insert_with(TestCounts::default);
            acc.total += t.total;
            acc.failed += t.failed;
            acc.skipped += t.skipped;
            if let Some(planned) = self.plan.get(idx) {
                self.failed_cases.extend(console::failed_cases(&self.ctx, planned));
            }
        }
        let failed = match outcome {
            Outcome::Success | Outcome::Input => {
                stage.status = NodeStatus::Success;
                false
            }
            Outcome::Unstable => {
                stage.status = NodeStatus::Unstable;
                self.running_result = BuildResult::Unstable;
                false
            }
            Outcome::Fail(_) => {
                stage.status = NodeStatus::Failed;
                let error = stage.steps.iter().find_map(|s| s.error.clone());
                stage.error = error.or_else(|| {
                    Some(NodeError {
                        message: "script returned exit code 1".to_string(),
                        kind: "hudson.AbortException".to_string(),
                    })
                });
                true
            }
        };
        if !self.freestyle {
            let lines = self.pipeline("}") + &self.pipeline("// stage");
            self.console.push_str(&lines);
        }
        let next = self.stages.len();
        let remaining: Vec<String> = self.plan[next.min(self.plan.len())..]
            .iter()
            .map(|p| p.name.clone())
            .collect();
        if failed {
            let msg = self
                .stages
                .last()
                .and_then(|s| s.error.as_ref())
                .map(|e| e.message.clone())
                .unwrap_or_default();
            self.skip(&remaining, "earlier failure(s)");
            self.close(end, BuildResult::Failure, Some(msg));
            return;
        }
        if remaining.is_empty() {
            let r = self.running_result;
            self.close(end, r, None);
            return;
        }
        // Later stages are guarded by `when { currentBuild == SUCCESS }`.
        if self.running_result != BuildResult::Success {
            self.skip(&remaining, "when conditional");
            let r = self.running_result;
            self.close(end, r, None);
            return;
        }
        self.start_stage(next, end, effects);
    }

    /// Declarative pipelines still print a block for each skipped stage.
    fn skip(&mut self, stages: &[String], why: &str) {
        if self.freestyle {
            return;
        }
        for name in stages {
            let mut block = self.pipeline("stage");
            block += &self.pipeline(&format!("{{ ({name})"));
            block += &format!("Stage \"{name}\" skipped due to {why}\n");
            block += &self.pipeline("}");
            block += &self.pipeline("// stage");
            self.console.push_str(&block);
        }
    }

    /// Ends the run: pipeline epilogue, the error if any, and `Finished:`.
    fn close(&mut self, t: Ms, result: BuildResult, error: Option<String>) {
        if !self.freestyle {
            let lines = self.pipeline("}") + &self.pipeline("// node") + &self.pipeline("End of Pipeline");
            self.console.push_str(&lines);
        }
        if let Some(msg) = error {
            self.console.push_str(&format!("ERROR: {msg}\n"));
        }
        self.finish(t, result);
    }

    fn finish(&mut self, t: Ms, result: BuildResult) {
        self.console.push_str(&format!("Finished: {}\n", result.as_str()));
        self.building = false;
        self.end = Some(t);
        self.result = Some(result);
        self.input = None;
    }
}

/// Which environment a stage deploys to, if it is a deploy stage.
fn deploy_environment(stage: &str) -> Option<&'static str> {
    match stage {
        "Deploy to staging" => Some("staging"),
        "Deploy to production" => Some("production"),
        _ => None,
    }
}

fn end_pause(stage: &mut Stage, t: Ms) {
    if let Some(p) = stage.paused_since.take() {
        stage.pause += (t - p).max(0);
    }
    for step in stage.steps.iter_mut() {
        if let Some(p) = step.paused_since.take() {
            step.pause += (t - p).max(0);
            step.status = NodeStatus::InProgress;
        }
    }
}

/// Spreads a stage's steps over its duration by weight, and each step's
/// lines evenly over the step, so the console grows while the stage runs.
fn schedule(
    ctx: &console::ScriptCtx,
    scripts: &[StepScript],
    at: Ms,
    duration: Ms,
    input: bool,
    freestyle: bool,
) -> VecDeque<Event> {
    let mut events = VecDeque::new();
    let total: u64 = scripts.iter().map(|s| u64::from(s.weight.max(1))).sum::<u64>().max(1);
    let duration = duration.max(0);
    let mut cursor = at;
    for (i, s) in scripts.iter().enumerate() {
        let span = if input {
            0
        } else {
            (duration as i128 * i128::from(s.weight.max(1)) / i128::from(total)) as Ms
        };
        if !freestyle {
            let mut line = console::pipeline_line(ctx, s.marker, i + at as usize);
            line.pop();
            events.push_back(Event {
                at: cursor,
                kind: EventKind::Console(line),
            });
        }
        events.push_back(Event {
            at: cursor,
            kind: EventKind::StepStart(i),
        });
        let n = s.lines.len() as i64;
        for (k, line) in s.lines.iter().enumerate() {
            let offset = if n == 0 { 0 } else { span * k as i64 / n };
            events.push_back(Event {
                at: cursor + offset,
                kind: EventKind::StepLine(i, line.clone()),
            });
        }
        cursor += span;
        // The input step ends only when answered; every other step ends on time.
        if !(input && i + 1 == scripts.len()) {
            events.push_back(Event {
                at: cursor.min(at + duration),
                kind: EventKind::StepEnd(i),
            });
        }
    }
    events
}

/// Applies every event of the stage due at or before `t`.
fn reveal(console: &mut String, stage: &mut Stage, t: Ms) {
    while stage.events.front().is_some_and(|e| e.at <= t) {
        let Some(ev) = stage.events.pop_front() else {
            break;
        };
        match ev.kind {
            EventKind::Console(line) => {
                console.push_str(&line);
                console.push('\n');
            }
            EventKind::StepStart(i) => {
                if let Some(step) = stage.steps.get_mut(i) {
                    step.started = true;
                    step.start = ev.at;
                }
            }
            EventKind::StepLine(i, line) if line == console::BIG_MARKER => {
                // The generated region is not text of the build: note where it goes.
                if let Some(step) = stage.steps.get_mut(i) {
                    step.big_at = Some((console.len(), step.log.len()));
                }
            }
            EventKind::StepLine(i, line) => {
                console.push_str(&line);
                console.push('\n');
                if let Some(step) = stage.steps.get_mut(i) {
                    step.log.push_str(&line);
                    step.log.push('\n');
                }
            }
            EventKind::StepEnd(i) => {
                if let Some(step) = stage.steps.get_mut(i) {
                    step.end = Some(ev.at);
                    step.status = step.end_status;
                    step.error = step.end_error.clone();
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub full_name: String,
    pub kind: JobKind,
    pub template: Template,
    pub description: String,
    pub params: Vec<ParamDef>,
    pub disabled: bool,
    /// Ascending by number.
    pub builds: Vec<Build>,
    pub next_build_number: u32,
    /// The service this job builds or deploys (console text, artifact names).
    pub service: String,
    pub repo: Option<String>,
}

impl Job {
    pub(crate) fn new(full_name: &str, kind: JobKind, template: Template) -> Job {
        Job {
            full_name: full_name.to_string(),
            kind,
            template,
            description: String::new(),
            params: Vec::new(),
            disabled: false,
            builds: Vec::new(),
            next_build_number: 1,
            service: String::new(),
            repo: None,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.full_name.rsplit('/').next().unwrap_or(&self.full_name)
    }

    pub(crate) fn parent(&self) -> Option<&str> {
        self.full_name.rsplit_once('/').map(|(p, _)| p)
    }

    pub(crate) fn build(&self, number: u32) -> Option<&Build> {
        self.builds.iter().find(|b| b.number == number)
    }

    pub(crate) fn build_mut(&mut self, number: u32) -> Option<&mut Build> {
        self.builds.iter_mut().find(|b| b.number == number)
    }

    pub(crate) fn is_building(&self) -> bool {
        self.builds.iter().any(|b| b.building)
    }

    /// Resolves `lastBuild`, `lastSuccessfulBuild`, … or a number.
    pub(crate) fn permalink(&self, name: &str) -> Option<&Build> {
        let completed = |b: &&Build| !b.building;
        let with = |r: BuildResult| move |b: &&Build| b.result == Some(r);
        let rev = self.builds.iter().rev();
        match name {
            "lastBuild" => self.builds.last(),
            "lastCompletedBuild" => rev.clone().find(completed),
            "lastSuccessfulBuild" | "lastStableBuild" => rev.clone().find(with(BuildResult::Success)),
            "lastFailedBuild" => rev.clone().find(with(BuildResult::Failure)),
            "lastUnstableBuild" => rev.clone().find(with(BuildResult::Unstable)),
            "lastUnsuccessfulBuild" => rev
                .clone()
                .find(|b| !b.building && b.result != Some(BuildResult::Success)),
            "firstBuild" => self.builds.first(),
            _ => None,
        }
    }

    /// BallColor: the last build's colour, `_anime` while it runs (then the
    /// colour is the previous build's, as Jenkins does).
    pub(crate) fn color(&self) -> String {
        if self.disabled {
            return "disabled".to_string();
        }
        let Some(last) = self.builds.last() else {
            return "notbuilt".to_string();
        };
        if last.building {
            let base = self
                .builds
                .iter()
                .rev()
                .find(|b| !b.building)
                .and_then(|b| b.result)
                .map_or("notbuilt", BuildResult::color);
            format!("{base}_anime")
        } else {
            last.result.map_or("notbuilt", BuildResult::color).to_string()
        }
    }

    /// Average of the last (up to) three successful or unstable builds, -1 if none.
    pub(crate) fn estimated_duration(&self) -> Ms {
        let recent: Vec<Ms> = self
            .builds
            .iter()
            .rev()
            .filter(|b| matches!(b.result, Some(BuildResult::Success) | Some(BuildResult::Unstable)))
            .filter_map(|b| b.end.map(|e| e - b.start))
            .take(3)
            .collect();
        if recent.is_empty() {
            -1
        } else {
            recent.iter().sum::<Ms>() / recent.len() as Ms
        }
    }

    pub(crate) fn is_parameterised(&self) -> bool {
        !self.params.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ScriptCtx {
        ScriptCtx {
            service: "payments-api".into(),
            job: "dominion/payments-api".into(),
            version: "1.4.7".into(),
            sha: "a".repeat(40),
            commit_msg: "Tidy".into(),
            branch: "master".into(),
            repo: "https://github.com/dominion/payments-api.git".into(),
            digest: format!("sha256:{}", "b".repeat(64)),
            environment: None,
            agent: "agent-linux-01".into(),
            seed: 1,
            ansi: false,
            notes: false,
            big: None,
        }
    }

    fn plan(outcomes: &[(&str, Outcome)]) -> Vec<PlannedStage> {
        outcomes
            .iter()
            .map(|(n, o)| PlannedStage {
                name: n.to_string(),
                duration: 10_000,
                outcome: *o,
                tests: None,
            })
            .collect()
    }

    fn new_build(p: Vec<PlannedStage>) -> Build {
        Build::start(NewBuild {
            number: 1,
            queue_id: 1,
            queued_at: 0,
            start: 1_000,
            causes: vec![Cause::Scm],
            params: vec![],
            ctx: ctx(),
            lib_sha: "c".repeat(40),
            branch: "master".into(),
            commits: vec![],
            plan: p,
            freestyle: false,
        })
        .0
    }

    #[test]
    fn stages_run_in_order_and_pause_at_input() {
        let mut b = new_build(plan(&[
            ("Checkout", Outcome::Success),
            ("Approve production", Outcome::Input),
            ("Deploy to production", Outcome::Success),
        ]));
        b.advance(5_000);
        assert_eq!(b.stages.len(), 1);
        assert_eq!(b.stages[0].status, NodeStatus::InProgress);
        b.advance(1_000_000);
        assert_eq!(b.stages.len(), 2);
        assert!(b.building);
        assert_eq!(b.stages[1].status, NodeStatus::PausedPendingInput);
        assert_eq!(b.input.as_ref().unwrap().id, "Deploy-production");
        assert!(b.approve("deploy-production", 1_000_000, "demo").is_none());
        let fx = b.approve("Deploy-production", 1_000_000, "demo").unwrap();
        assert_eq!(fx.len(), 1);
        assert_eq!(b.stages[1].status, NodeStatus::Success);
        assert!(b.stages[1].pause > 0);
        b.advance(2_000_000);
        assert!(!b.building);
        assert_eq!(b.result, Some(BuildResult::Success));
        assert!(b.console.ends_with("Finished: SUCCESS\n"));
    }

    #[test]
    fn failing_stage_fails_the_run_and_stops() {
        let mut b = new_build(plan(&[
            ("Checkout", Outcome::Success),
            ("Build & unit tests", Outcome::Fail(FailKind::UnitTests)),
            ("Docker build", Outcome::Success),
        ]));
        b.advance(100_000);
        assert_eq!(b.result, Some(BuildResult::Failure));
        assert_eq!(b.stages.len(), 2);
        let err = b.stages[1].error.clone().unwrap();
        assert_eq!(err.message, "script returned exit code 1");
        assert_eq!(err.kind, "hudson.AbortException");
        assert_eq!(b.end, Some(21_000));
    }

    #[test]
    fn stop_aborts_running_stage() {
        let mut b = new_build(plan(&[
            ("Checkout", Outcome::Success),
            ("Load tests", Outcome::Success),
        ]));
        b.advance(15_000);
        assert!(b.stop(15_000, "demo"));
        assert_eq!(b.result, Some(BuildResult::Aborted));
        assert_eq!(b.stages[1].status, NodeStatus::Aborted);
        assert!(b.console.contains("Aborted by demo"));
        assert!(!b.stop(16_000, "demo"));
    }

    #[test]
    fn unstable_skips_deploy_stages() {
        let mut b = new_build(plan(&[
            ("Regression tests", Outcome::Unstable),
            ("Deploy to staging", Outcome::Success),
        ]));
        b.advance(100_000);
        assert_eq!(b.result, Some(BuildResult::Unstable));
        assert_eq!(b.stages.len(), 1);
        assert!(b.console.contains("skipped due to when conditional"));
    }
}
