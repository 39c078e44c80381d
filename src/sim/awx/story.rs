//! The simulated AWX's contents and what happens to them: templates, the job history the estate
//! starts with, launches, approvals decided or timing out. Statuses are derived from the story
//! clock, so a job moves pending → waiting → running → its outcome as the clock moves.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::output::{self, Line, Step};
use crate::sim::ids;
use crate::sim::images::{self, ImageState};
use crate::sim::jenkins::Ms;
use crate::sim::story::{DAY, HOUR, MIN, SEC, World};

/// The user the estate's token (or Basic `flightdeck:<token>`) signs in as.
pub(crate) const API_USER: &str = "flightdeck";

/// Users by id: the estate's people, an admin and the cockpit's own account.
pub(crate) const USERS: [(u64, &str); 8] = [
    (1, "admin"),
    (2, "alice"),
    (3, "bob"),
    (4, "carol"),
    (5, "dmitri"),
    (6, "erin"),
    (7, "farah"),
    (8, API_USER),
];

pub(crate) fn user_id(name: &str) -> u64 {
    USERS.iter().find(|(_, n)| *n == name).map_or(1, |(id, _)| *id)
}

/// The services deployed through Ansible, and their environments.
pub(crate) const SERVICES: [&str; 2] = ["payments-api", "ledger-service"];
pub(crate) const ENVIRONMENTS: [&str; 2] = ["staging", "production"];

pub(crate) const WORKFLOW_NAME: &str = "release-payments-api-production";
pub(crate) const APPROVAL_NAME: &str = "Approve production change";
/// How long the approval node waits before it times out (the workflow then fails).
pub(crate) const APPROVAL_TIMEOUT_SECS: i64 = 24 * 3600;
pub(crate) const FORBIDDEN_TEMPLATE: &str = "rotate-ledger-credentials";

/// How long a job launched through the API takes, once running (story time).
const LAUNCHED_RUN: Ms = 8 * SEC;
/// From created: pending for a second, waiting for one more, then running.
const PENDING_FOR: Ms = SEC;
const WAITING_FOR: Ms = 2 * SEC;

pub(crate) fn template_name(service: &str, environment: &str) -> String {
    format!("deploy-{service}-{environment}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Job,
    Workflow,
}

#[derive(Clone, Debug)]
pub(crate) struct Question {
    pub variable: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Inventory {
    pub id: u64,
    pub name: String,
    pub hosts: Vec<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub id: u64,
    pub kind: Kind,
    pub name: String,
    pub description: String,
    /// Empty for a workflow.
    pub playbook: String,
    pub ask_variables: bool,
    pub survey: Vec<Question>,
    /// The template's own extra variables (YAML text).
    pub extra_vars: String,
    /// May the API user launch it?
    pub can_execute: bool,
    pub created: Ms,
    pub modified: Ms,
    pub inventory: Option<Inventory>,
    pub service: String,
    pub environment: String,
    /// A workflow's deploy node: the job template it runs after its approval node.
    pub then_template: Option<u64>,
}

impl Template {
    pub(crate) fn survey_enabled(&self) -> bool {
        !self.survey.is_empty()
    }

    /// Would a launch keep this variable (AWX's `_accept_or_ignore_job_kwargs`)?
    pub(crate) fn accepts(&self, var: &str) -> bool {
        self.ask_variables || self.survey.iter().any(|q| q.variable == var)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Successful,
    Failed,
    Canceled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Successful => "successful",
            Outcome::Failed => "failed",
            Outcome::Canceled => "canceled",
        }
    }
}

/// A playbook job or a workflow job (one id sequence, as AWX's unified jobs).
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub id: u64,
    pub kind: Kind,
    pub template: u64,
    pub name: String,
    pub launched_by: String,
    /// `manual` or `workflow`.
    pub launch_type: &'static str,
    pub extra_vars: Map<String, Value>,
    pub created: Ms,
    pub started: Ms,
    /// `None` while a workflow waits at its approval node.
    pub finished: Option<Ms>,
    pub outcome: Outcome,
    pub explanation: String,
    /// Output lines by offset from `started`.
    pub output: Vec<Line>,
    /// The workflow job that spawned it.
    pub workflow: Option<u64>,
    /// A workflow job's approval node.
    pub approval: Option<u64>,
}

impl Job {
    pub(crate) fn status(&self, now: Ms) -> &'static str {
        match self.finished {
            Some(f) if now >= f => self.outcome.as_str(),
            _ if now >= self.started => "running",
            _ if now >= self.created + PENDING_FOR => "waiting",
            _ => "pending",
        }
    }

    pub(crate) fn is_finished(&self, now: Ms) -> bool {
        self.finished.is_some_and(|f| now >= f)
    }

    pub(crate) fn failed(&self, now: Ms) -> bool {
        self.is_finished(now) && self.outcome != Outcome::Successful
    }

    /// Seconds it has run (or ran).
    pub(crate) fn elapsed(&self, now: Ms) -> f64 {
        if now < self.started {
            return 0.0;
        }
        let end = match self.finished {
            Some(f) if now >= f => f,
            _ => now,
        };
        (end - self.started) as f64 / 1000.0
    }

    /// The output printed by `now`.
    pub(crate) fn output_at(&self, now: Ms) -> Vec<&Line> {
        if now < self.started {
            return Vec::new();
        }
        let done = self.is_finished(now);
        self.output
            .iter()
            .filter(|l| done || self.started + l.at <= now)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Approved,
    Denied,
}

#[derive(Clone, Debug)]
pub(crate) struct Approval {
    pub id: u64,
    pub workflow_job: u64,
    pub name: String,
    pub description: String,
    pub created: Ms,
    /// Seconds; 0 waits forever.
    pub timeout: i64,
    pub decision: Option<(Decision, String, Ms)>,
}

impl Approval {
    pub(crate) fn expires_at(&self) -> Option<Ms> {
        (self.timeout > 0).then(|| self.created + self.timeout * 1000)
    }

    pub(crate) fn timed_out(&self, now: Ms) -> bool {
        self.decision.is_none() && self.expires_at().is_some_and(|e| now >= e)
    }

    pub(crate) fn status(&self, now: Ms) -> &'static str {
        match &self.decision {
            Some((Decision::Approved, _, _)) => "successful",
            Some((Decision::Denied, _, _)) => "failed",
            None if self.timed_out(now) => "failed",
            None => "pending",
        }
    }

    pub(crate) fn finished(&self, now: Ms) -> Option<Ms> {
        match &self.decision {
            Some((_, _, at)) => Some(*at),
            None => self.expires_at().filter(|e| now >= *e),
        }
    }
}

/// One launch through the API, as the test harness sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AwxLaunch {
    pub template_id: u64,
    pub template: String,
    pub job_id: u64,
    pub user: String,
    /// The extra variables as sent.
    pub extra_vars: Value,
    /// What AWX dropped (`ignored_fields` of the 201).
    pub ignored_fields: Value,
    pub at_ms: Ms,
}

/// A job in the story facts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AwxJobFact {
    pub id: u64,
    pub template: String,
    pub version: String,
    pub launched_by: String,
}

/// What the simulated AWX holds at start, for tests and the demo.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AwxFacts {
    /// `deploy-payments-api-staging`'s newest job, running at start; its output grows.
    pub running_job: AwxJobFact,
    /// `deploy-ledger-service-production`'s newest job: failed at `fatal: [app-2]`.
    pub failed_job: AwxJobFact,
    pub failed_host: String,
    /// The pending approval "Approve production change" of `release-payments-api-production`.
    pub pending_approval_id: u64,
    pub pending_workflow_job_id: u64,
    pub pending_launched_by: String,
    /// Older approvals of the same workflow: one approved, one timed out.
    pub approved_approval_id: u64,
    pub timed_out_approval_id: u64,
    /// `deploy-ledger-service-staging`: no `ask_variables_on_launch`, no survey; extra
    /// variables sent to it land in `ignored_fields`.
    pub ignoring_template_id: u64,
    pub ignoring_template: String,
    /// The version its own extra variables pin (every staging job ran with it).
    pub pinned_version: String,
    /// A template the API user may not launch (403).
    pub forbidden_template_id: u64,
    pub workflow_template_id: u64,
    /// Template ids by name.
    pub templates: BTreeMap<String, u64>,
}

pub(crate) struct AwxSim {
    pub seed: u64,
    pub templates: Vec<Template>,
    pub jobs: Vec<Job>,
    pub approvals: Vec<Approval>,
    pub launches: Vec<AwxLaunch>,
    pub facts: AwxFacts,
    /// The ECR host, for image references in the output.
    registry: String,
    next_id: u64,
}

/// Image versions of a service as ECR holds them at start: (version, digest, pushed), oldest
/// first.
fn pushed_versions(images: &ImageState, service: &str) -> Vec<(String, String, Ms)> {
    let Some(repo) = images.ecr.get(&images::repository(service)) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String, Ms)> = repo
        .images
        .iter()
        .flat_map(|i| {
            i.tags
                .iter()
                .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
                .map(move |t| (t.clone(), i.digest.clone(), i.pushed_at))
        })
        .collect();
    out.sort_by_key(|(_, _, at)| *at);
    out
}

/// A version and digest of a service, `back` releases before `anchor` (clamped), made up when
/// the registry knows too few.
fn release(seed: u64, versions: &[(String, String, Ms)], anchor: Option<usize>, back: usize) -> (String, String) {
    match anchor {
        Some(i) if !versions.is_empty() => {
            let (v, d, _) = &versions[i.saturating_sub(back)];
            (v.clone(), d.clone())
        }
        _ => {
            let v = format!("0.0.{}", 100usize.saturating_sub(back));
            let d = ids::digest(seed, &["awx", &v]);
            (v, d)
        }
    }
}

/// A scheduled history entry before ids are given out.
struct Planned {
    at: Ms,
    template: u64,
    user: &'static str,
    version: (String, String),
    run: Ms,
    outcome: Outcome,
    /// For a workflow: how its approval ends (None: still pending).
    decision: Option<Option<(Decision, &'static str, Ms)>>,
    extra: Option<Map<String, Value>>,
}

impl AwxSim {
    pub(crate) fn new(w: &World, images: &ImageState) -> AwxSim {
        let start = w.now;
        let mut sim = AwxSim {
            seed: w.seed,
            templates: Vec::new(),
            jobs: Vec::new(),
            approvals: Vec::new(),
            launches: Vec::new(),
            facts: AwxFacts::default(),
            registry: images::ecr_host(),
            next_id: 4100,
        };
        let envs: BTreeMap<&str, (String, String)> = w
            .facts
            .image_envs
            .iter()
            .filter(|e| SERVICES.contains(&e.service.as_str()))
            .map(|e| (e.service.as_str(), (e.staging.clone(), e.production.clone())))
            .collect();
        let versions: BTreeMap<&str, Vec<(String, String, Ms)>> =
            SERVICES.iter().map(|s| (*s, pushed_versions(images, s))).collect();
        let position = |svc: &str, v: &str| versions[svc].iter().position(|(x, _, _)| x == v);
        let newest = |svc: &str| versions[svc].len().checked_sub(1);
        let at = |svc: &str, which: usize| -> Option<usize> {
            let (stg, prod) = envs.get(svc).cloned().unwrap_or_default();
            let by_env = if which == 0 {
                position(svc, &stg)
            } else {
                position(svc, &prod)
            };
            by_env.or_else(|| newest(svc).map(|n| n.saturating_sub(which)))
        };
        let rel = |svc: &str, anchor: Option<usize>, back: usize| release(w.seed, &versions[svc], anchor, back);

        // Templates.
        let version_q = Question {
            variable: "version",
            name: "Version",
            description: "The release to deploy (as published to Nexus and ECR).",
            required: true,
        };
        let digest_q = Question {
            variable: "digest",
            name: "Image digest",
            description: "sha256:… of the image; the play refuses a tag that moved.",
            required: false,
        };
        let image_q = Question {
            variable: "image",
            name: "Image repository",
            description: "Where the image is pulled from (without tag or digest).",
            required: false,
        };
        let environment_q = Question {
            variable: "environment",
            name: "Environment",
            description: "The environment this deploy is for (a cross-check of the inventory).",
            required: false,
        };
        let survey = vec![version_q, digest_q, image_q, environment_q];
        let pinned = rel("ledger-service", at("ledger-service", 0), 0);
        let mut id = 10;
        for svc in SERVICES {
            for env in ENVIRONMENTS {
                let (ask, survey) = match (svc, env) {
                    ("payments-api", _) => (true, survey.clone()),
                    (_, "staging") => (false, Vec::new()),
                    _ => (false, survey.clone()),
                };
                let extra_vars = if svc == "ledger-service" && env == "staging" {
                    format!("---\nversion: \"{}\"\nsmoke_test: true\n", pinned.0)
                } else {
                    "---\nsmoke_test: true\n".to_string()
                };
                sim.templates.push(Template {
                    id,
                    kind: Kind::Job,
                    name: template_name(svc, env),
                    description: format!("Deploy {svc} to {env} (Docker on the app hosts, behind the load balancer)."),
                    playbook: "playbooks/deploy-service.yml".to_string(),
                    ask_variables: ask,
                    survey,
                    extra_vars,
                    can_execute: true,
                    created: start - 120 * DAY + id as Ms * HOUR,
                    modified: start - 6 * DAY - id as Ms * HOUR,
                    inventory: Some(Inventory {
                        id: 20 + id,
                        name: format!("{svc}-{env}"),
                        hosts: vec!["app-1".to_string(), "app-2".to_string()],
                    }),
                    service: svc.to_string(),
                    environment: env.to_string(),
                    then_template: None,
                });
                id += 1;
            }
        }
        sim.templates.push(Template {
            id,
            kind: Kind::Job,
            name: FORBIDDEN_TEMPLATE.to_string(),
            description: "Rotate the ledger database credentials (security team only).".to_string(),
            playbook: "playbooks/rotate-credentials.yml".to_string(),
            ask_variables: false,
            survey: Vec::new(),
            extra_vars: "---\n".to_string(),
            can_execute: false,
            created: start - 200 * DAY,
            modified: start - 40 * DAY,
            inventory: Some(Inventory {
                id: 40,
                name: "ledger-db".to_string(),
                hosts: vec!["db-1".to_string()],
            }),
            service: "ledger-service".to_string(),
            environment: "production".to_string(),
            then_template: None,
        });
        let forbidden = id;
        let payments_production = sim.id_of(&template_name("payments-api", "production"));
        sim.templates.push(Template {
            id: 30,
            kind: Kind::Workflow,
            name: WORKFLOW_NAME.to_string(),
            description: "Approve, then deploy payments-api to production.".to_string(),
            playbook: String::new(),
            ask_variables: true,
            survey: Vec::new(),
            extra_vars: "---\n".to_string(),
            can_execute: true,
            created: start - 90 * DAY,
            modified: start - 10 * DAY,
            inventory: None,
            service: "payments-api".to_string(),
            environment: "production".to_string(),
            then_template: payments_production,
        });

        // History, then ids in creation order.
        let t = |name: &str| sim.id_of(name).unwrap_or_default();
        let pay_stg = t(&template_name("payments-api", "staging"));
        let pay_prod = t(&template_name("payments-api", "production"));
        let led_stg = t(&template_name("ledger-service", "staging"));
        let led_prod = t(&template_name("ledger-service", "production"));
        let plan =
            |at: Ms, template: u64, user: &'static str, version: (String, String), run: Ms, outcome: Outcome| Planned {
                at,
                template,
                user,
                version,
                run,
                outcome,
                decision: None,
                extra: None,
            };
        let pay_staging_v = at("payments-api", 0);
        let pay_prod_v = at("payments-api", 1);
        let led_staging_v = at("ledger-service", 0);
        let led_prod_v = at("ledger-service", 1);
        let mut history = vec![
            // payments-api to staging: a release every day or two, then one running now.
            plan(
                start - 6 * DAY,
                pay_stg,
                "alice",
                rel("payments-api", pay_staging_v, 4),
                95 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 4 * DAY - 2 * HOUR,
                pay_stg,
                "bob",
                rel("payments-api", pay_staging_v, 3),
                101 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 2 * DAY - 5 * HOUR,
                pay_stg,
                "erin",
                rel("payments-api", pay_staging_v, 2),
                88 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - DAY - 3 * HOUR,
                pay_stg,
                "farah",
                rel("payments-api", pay_staging_v, 1),
                97 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 5 * HOUR,
                pay_stg,
                "carol",
                rel("payments-api", pay_staging_v, 0),
                92 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 100 * SEC,
                pay_stg,
                "bob",
                rel("payments-api", newest("payments-api"), 0),
                10 * MIN,
                Outcome::Successful,
            ),
            // payments-api to production: by hand once, then through the workflow.
            plan(
                start - 5 * DAY - 20 * HOUR,
                pay_prod,
                "erin",
                rel("payments-api", pay_prod_v, 1),
                110 * SEC,
                Outcome::Successful,
            ),
            // ledger-service to staging: always the version the template pins.
            plan(
                start - 5 * DAY,
                led_stg,
                "farah",
                pinned.clone(),
                84 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 3 * DAY,
                led_stg,
                "bob",
                pinned.clone(),
                40 * SEC,
                Outcome::Canceled,
            ),
            plan(
                start - 3 * DAY + 10 * MIN,
                led_stg,
                "bob",
                pinned.clone(),
                86 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - DAY - 4 * HOUR,
                led_stg,
                "alice",
                pinned.clone(),
                90 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 2 * HOUR - 20 * MIN,
                led_stg,
                "erin",
                pinned.clone(),
                83 * SEC,
                Outcome::Successful,
            ),
            // ledger-service to production: the newest one failed on app-2.
            plan(
                start - 4 * DAY,
                led_prod,
                "erin",
                rel("ledger-service", led_prod_v, 1),
                104 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 2 * DAY,
                led_prod,
                "farah",
                rel("ledger-service", led_prod_v, 0),
                99 * SEC,
                Outcome::Successful,
            ),
            plan(
                start - 50 * MIN,
                led_prod,
                "dmitri",
                rel("ledger-service", led_staging_v, 0),
                3 * MIN,
                Outcome::Failed,
            ),
            plan(
                start - 9 * DAY,
                forbidden,
                "admin",
                ("".into(), "".into()),
                35 * SEC,
                Outcome::Successful,
            ),
        ];
        // The release workflow: approved once (erin), timed out once, waiting now (dmitri's).
        let wf = 30;
        let mut approved = plan(
            start - 3 * DAY - 21 * HOUR,
            wf,
            "alice",
            rel("payments-api", pay_prod_v, 0),
            0,
            Outcome::Successful,
        );
        approved.decision = Some(Some((Decision::Approved, "erin", 25 * MIN)));
        let mut expired = plan(
            start - DAY - 8 * HOUR,
            wf,
            "carol",
            rel("payments-api", pay_staging_v, 1),
            0,
            Outcome::Failed,
        );
        expired.decision = Some(None);
        let mut waiting = plan(
            start - 25 * MIN,
            wf,
            "dmitri",
            rel("payments-api", pay_staging_v, 0),
            0,
            Outcome::Successful,
        );
        waiting.decision = Some(None);
        history.extend([approved, expired, waiting]);
        for p in &mut history {
            if p.template == led_stg {
                // The template's own variables; nothing else passes.
                p.extra = Some(vars(&[("version", &pinned.0), ("smoke_test", "true")]));
            }
        }
        history.sort_by_key(|p| p.at);
        for p in history {
            sim.replay(p);
        }
        sim.settle(start);
        sim.facts = sim.compute_facts(start, &pinned.0);
        sim
    }

    fn id_of(&self, name: &str) -> Option<u64> {
        self.templates.iter().find(|t| t.name == name).map(|t| t.id)
    }

    pub(crate) fn template(&self, id: u64) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    pub(crate) fn job(&self, id: u64) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id)
    }

    pub(crate) fn approval(&self, id: u64) -> Option<&Approval> {
        self.approvals.iter().find(|a| a.id == id)
    }

    /// The status of a job, workflow job or approval, as the API says it.
    pub(crate) fn status_of(&self, id: u64, now: Ms) -> Option<String> {
        self.job(id)
            .map(|j| j.status(now))
            .or_else(|| self.approval(id).map(|a| a.status(now)))
            .map(str::to_string)
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// One planned history entry, made real.
    fn replay(&mut self, p: Planned) {
        let Some(template) = self.template(p.template).cloned() else {
            return;
        };
        let mut extra = p.extra.clone().unwrap_or_else(|| {
            if p.version.0.is_empty() {
                Map::new()
            } else {
                vars(&[("version", &p.version.0), ("digest", &p.version.1)])
            }
        });
        if template.kind == Kind::Workflow {
            let wf = self.new_workflow_job(&template, p.user, extra, p.at);
            if let Some(Some((decision, who, after))) = p.decision {
                self.decide_at(wf, decision, who, p.at + after);
            }
            return;
        }
        for (k, v) in parse_vars(&template.extra_vars) {
            extra.entry(k).or_insert(v);
        }
        let run = p.run.max(SEC);
        let id = self.take_id();
        let started = p.at + WAITING_FOR;
        let output = self.output(&template, id, &extra, p.outcome, run);
        // A job still running at start ends later in the story.
        let finished = Some(started + run);
        self.jobs.push(Job {
            id,
            kind: Kind::Job,
            template: template.id,
            name: template.name.clone(),
            launched_by: p.user.to_string(),
            launch_type: "manual",
            extra_vars: extra,
            created: p.at,
            started,
            finished,
            outcome: p.outcome,
            explanation: String::new(),
            output,
            workflow: None,
            approval: None,
        });
    }

    fn output(&self, t: &Template, id: u64, extra: &Map<String, Value>, outcome: Outcome, run: Ms) -> Vec<Line> {
        let text = |k: &str| extra.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let hosts = t
            .inventory
            .as_ref()
            .map(|i| i.hosts.clone())
            .unwrap_or_else(|| vec!["localhost".to_string()]);
        let step = match outcome {
            Outcome::Successful => Step::Complete,
            Outcome::Failed => Step::FailAtHealth("app-2"),
            Outcome::Canceled => Step::Canceled,
        };
        output::playbook(&output::Run {
            job_id: id,
            service: &t.service,
            environment: &t.environment,
            version: &text("version"),
            digest: &text("digest"),
            image: &format!("{}/{}", self.registry, images::repository(&t.service)),
            hosts: &hosts,
            duration: run,
            step,
            special: (t.name == FORBIDDEN_TEMPLATE).then_some("Rotate the ledger database credentials"),
        })
    }

    fn new_workflow_job(&mut self, template: &Template, user: &str, extra_vars: Map<String, Value>, at: Ms) -> u64 {
        let id = self.take_id();
        self.jobs.push(Job {
            id,
            kind: Kind::Workflow,
            template: template.id,
            name: template.name.clone(),
            launched_by: user.to_string(),
            launch_type: "manual",
            extra_vars,
            created: at,
            started: at + SEC,
            finished: None,
            outcome: Outcome::Successful,
            explanation: String::new(),
            output: Vec::new(),
            workflow: None,
            approval: None,
        });
        let approval = self.take_id();
        self.approvals.push(Approval {
            id: approval,
            workflow_job: id,
            name: APPROVAL_NAME.to_string(),
            description: format!(
                "A second person confirms the production change of {}.",
                template.service
            ),
            created: at + 2 * SEC,
            timeout: APPROVAL_TIMEOUT_SECS,
            decision: None,
        });
        if let Some(j) = self.jobs.iter_mut().find(|j| j.id == id) {
            j.approval = Some(approval);
        }
        id
    }

    /// Decide a workflow's approval at `at`: approved runs its deploy node, denied fails it.
    fn decide_at(&mut self, workflow_job: u64, decision: Decision, user: &str, at: Ms) {
        let Some(wf) = self.job(workflow_job).cloned() else {
            return;
        };
        let Some(approval) = wf.approval else {
            return;
        };
        if let Some(a) = self.approvals.iter_mut().find(|a| a.id == approval) {
            a.decision = Some((decision.clone(), user.to_string(), at));
        }
        let end = match decision {
            Decision::Denied => {
                self.finish_workflow(workflow_job, at, Outcome::Failed, String::new());
                return;
            }
            Decision::Approved => at,
        };
        let Some(deploy) = self
            .template(wf.template)
            .and_then(|t| t.then_template)
            .and_then(|id| self.template(id))
            .cloned()
        else {
            self.finish_workflow(workflow_job, end, Outcome::Successful, String::new());
            return;
        };
        let mut extra = wf.extra_vars.clone();
        for (k, v) in parse_vars(&deploy.extra_vars) {
            extra.entry(k).or_insert(v);
        }
        let id = self.take_id();
        let run = 10 * SEC + (ids::hash(self.seed, &["awx-run", &id.to_string()]) % 5) as Ms * SEC;
        let output = self.output(&deploy, id, &extra, Outcome::Successful, run);
        let created = end + SEC;
        let started = created + WAITING_FOR;
        self.jobs.push(Job {
            id,
            kind: Kind::Job,
            template: deploy.id,
            name: deploy.name.clone(),
            launched_by: wf.launched_by.clone(),
            launch_type: "workflow",
            extra_vars: extra,
            created,
            started,
            finished: Some(started + run),
            outcome: Outcome::Successful,
            explanation: String::new(),
            output,
            workflow: Some(workflow_job),
            approval: None,
        });
        self.finish_workflow(workflow_job, started + run + SEC, Outcome::Successful, String::new());
    }

    fn finish_workflow(&mut self, id: u64, at: Ms, outcome: Outcome, explanation: String) {
        if let Some(j) = self.jobs.iter_mut().find(|j| j.id == id) {
            j.finished = Some(at);
            j.outcome = outcome;
            j.explanation = explanation;
        }
    }

    /// Fails the workflows whose approval timed out by `now`.
    pub(crate) fn settle(&mut self, now: Ms) {
        let expired: Vec<(u64, u64, Ms)> = self
            .approvals
            .iter()
            .filter(|a| a.timed_out(now))
            .filter_map(|a| Some((a.workflow_job, a.id, a.expires_at()?)))
            .collect();
        for (wf, _, at) in expired {
            if self.job(wf).is_some_and(|j| j.finished.is_none()) {
                self.finish_workflow(wf, at, Outcome::Failed, String::new());
            }
        }
    }

    /// The job explanation of a timed-out approval, in AWX's words.
    pub(crate) fn expiry_explanation(a: &Approval) -> String {
        format!(
            "The approval node {} ({}) has expired after {} seconds.",
            a.name, a.id, a.timeout
        )
    }

    /// A launch through the API: the job (or workflow job) it created and what was dropped.
    pub(crate) fn launch(
        &mut self,
        template_id: u64,
        user: &str,
        sent: &Value,
        accepted: Map<String, Value>,
        ignored: Value,
        now: Ms,
    ) -> Option<u64> {
        let template = self.template(template_id)?.clone();
        let mut extra = accepted;
        let id = if template.kind == Kind::Workflow {
            self.new_workflow_job(&template, user, extra, now)
        } else {
            for (k, v) in parse_vars(&template.extra_vars) {
                extra.entry(k).or_insert(v);
            }
            let id = self.take_id();
            let output = self.output(&template, id, &extra, Outcome::Successful, LAUNCHED_RUN);
            let started = now + WAITING_FOR;
            self.jobs.push(Job {
                id,
                kind: Kind::Job,
                template: template.id,
                name: template.name.clone(),
                launched_by: user.to_string(),
                launch_type: "manual",
                extra_vars: extra,
                created: now,
                started,
                finished: Some(started + LAUNCHED_RUN),
                outcome: Outcome::Successful,
                explanation: String::new(),
                output,
                workflow: None,
                approval: None,
            });
            id
        };
        self.launches.push(AwxLaunch {
            template_id,
            template: template.name.clone(),
            job_id: id,
            user: user.to_string(),
            extra_vars: sent.clone(),
            ignored_fields: ignored,
            at_ms: now,
        });
        Some(id)
    }

    /// Approve or deny a pending approval now. `Err` with AWX's message when it is not pending.
    pub(crate) fn decide(&mut self, approval: u64, decision: Decision, user: &str, now: Ms) -> Result<(), String> {
        let Some(a) = self.approval(approval) else {
            return Err("Not found.".to_string());
        };
        if a.status(now) != "pending" {
            return Err("This workflow step has already been approved or denied.".to_string());
        }
        let wf = a.workflow_job;
        self.decide_at(wf, decision, user, now);
        Ok(())
    }

    fn compute_facts(&self, start: Ms, pinned: &str) -> AwxFacts {
        let newest = |name: &str| -> AwxJobFact {
            let Some(t) = self.id_of(name) else {
                return AwxJobFact::default();
            };
            self.jobs
                .iter()
                .filter(|j| j.template == t && j.created <= start)
                .max_by_key(|j| j.id)
                .map(|j| AwxJobFact {
                    id: j.id,
                    template: j.name.clone(),
                    version: j
                        .extra_vars
                        .get("version")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    launched_by: j.launched_by.clone(),
                })
                .unwrap_or_default()
        };
        let by_status = |s: &str| {
            self.approvals
                .iter()
                .filter(|a| a.status(start) == s)
                .map(|a| a.id)
                .max()
                .unwrap_or_default()
        };
        let pending = self.approvals.iter().find(|a| a.status(start) == "pending");
        let ledger_staging = template_name("ledger-service", "staging");
        AwxFacts {
            running_job: newest(&template_name("payments-api", "staging")),
            failed_job: newest(&template_name("ledger-service", "production")),
            failed_host: "app-2".to_string(),
            pending_approval_id: pending.map(|a| a.id).unwrap_or_default(),
            pending_workflow_job_id: pending.map(|a| a.workflow_job).unwrap_or_default(),
            pending_launched_by: pending
                .and_then(|a| self.job(a.workflow_job))
                .map(|j| j.launched_by.clone())
                .unwrap_or_default(),
            approved_approval_id: by_status("successful"),
            timed_out_approval_id: by_status("failed"),
            ignoring_template_id: self.id_of(&ledger_staging).unwrap_or_default(),
            ignoring_template: ledger_staging,
            pinned_version: pinned.to_string(),
            forbidden_template_id: self.id_of(FORBIDDEN_TEMPLATE).unwrap_or_default(),
            workflow_template_id: self.id_of(WORKFLOW_NAME).unwrap_or_default(),
            templates: self.templates.iter().map(|t| (t.name.clone(), t.id)).collect(),
        }
    }
}

fn vars(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            let value = match *v {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => Value::String(other.to_string()),
            };
            (k.to_string(), value)
        })
        .collect()
}

/// Extra variables as AWX accepts them: a JSON object, or JSON / YAML text (top-level
/// `key: value` lines only).
pub(crate) fn parse_vars_value(v: &Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) => Ok(parse_vars(s)),
        _ => Err("Must be a valid JSON or YAML dictionary.".to_string()),
    }
}

pub(crate) fn parse_vars(text: &str) -> Map<String, Value> {
    let text = text.trim();
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) {
        return m;
    }
    let mut out = Map::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t', '-', '#']) || line.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'');
        if v.is_empty() {
            continue;
        }
        out.extend(vars(&[(k.trim(), v)]));
    }
    out
}
