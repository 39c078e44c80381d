//! Console text of simulated builds: what a real Jenkins shows for a
//! declarative pipeline running Maven, Sonar, Docker, Trivy and Helm, so the
//! cockpit's log views and failure extraction meet realistic input.

use std::sync::Arc;

use base64::Engine;

use super::bigconsole::BigLog;
use super::ids;
use super::jenkins::{FailKind, Ms, NodeError, NodeStatus, Outcome, PlannedStage, TestCounts};
use super::loadtest;

/// The `input` step of "Approve production", as InputStep capitalises its id.
pub(crate) const INPUT_ID: &str = "Deploy-production";
pub(crate) const INPUT_MESSAGE: &str = "Deploy to production?";

const SHARED_LIBRARY: &str = "https://github.com/dominion/jenkins-shared-library.git";
const REGISTRY: &str = "registry.dominion.internal";
const NEXUS: &str = "https://nexus.dominion.internal/repository/maven-releases";
const SONAR: &str = "https://sonar.dominion.internal";

/// A step line that is not text: where the big console's generated region goes.
pub(crate) const BIG_MARKER: &str = "\u{0}flightdeck-sim:big-console\u{0}";

/// What console generation needs to know about a build.
#[derive(Clone, Debug)]
pub(crate) struct ScriptCtx {
    pub service: String,
    pub job: String,
    pub version: String,
    pub sha: String,
    pub commit_msg: String,
    pub branch: String,
    pub repo: String,
    pub digest: String,
    /// Deploy jobs: the target environment.
    pub environment: Option<String>,
    pub agent: String,
    pub seed: u64,
    /// The job's Jenkinsfile wraps its steps in `ansiColor('xterm')`: Maven
    /// and Ansible print in colour.
    pub ansi: bool,
    /// The console carries Jenkins' hidden console notes (`ESC[8mha:…ESC[0m`)
    /// before its `[Pipeline]` lines, as the raw log does.
    pub notes: bool,
    /// The big console's generator, for the one build whose regression suite
    /// logs at DEBUG.
    pub big: Option<Arc<BigLog>>,
}

impl ScriptCtx {
    fn workspace(&self) -> String {
        format!("/home/jenkins/workspace/{}", self.job.replace('/', "_"))
    }

    fn image(&self) -> String {
        format!("{REGISTRY}/dominion/{}:{}", self.service, self.version)
    }

    pub(crate) fn rand(&self, salt: &str, lo: u64, hi: u64) -> u64 {
        lo + ids::hash(self.seed, &[&self.job, &self.version, salt]) % (hi - lo + 1)
    }
}

/// A hidden console note as Jenkins writes it into the raw log:
/// `ESC[8m` `ha:////4…base64…` `ESC[0m` (a MAC, then a gzipped serialised
/// `ConsoleNote`). Deterministic for the build and `salt`.
pub(crate) fn console_note(ctx: &ScriptCtx, salt: &str) -> String {
    let mut bytes = vec![0xffu8, 0xff, 0xff, 0xe0];
    let mut x = ids::hash(ctx.seed, &[&ctx.job, &ctx.version, "note", salt]);
    let payload = 48 + (x % 96) as usize;
    // The MAC, the length, a gzip header, then the compressed note.
    for i in 0..31 + 4 + payload {
        if i % 8 == 0 {
            x = ids::splitmix64(x);
        }
        bytes.push((x >> ((i % 8) * 8)) as u8);
    }
    let len = (10 + payload) as u32;
    bytes[35..39].copy_from_slice(&len.to_be_bytes());
    bytes[39..49].copy_from_slice(&[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);
    format!(
        "\u{1b}[8mha:{}\u{1b}[0m",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    )
}

/// `[Pipeline] <text>` and a line break, behind a console note when the build has them.
pub(crate) fn pipeline_line(ctx: &ScriptCtx, text: &str, salt: usize) -> String {
    if ctx.notes {
        format!("{}[Pipeline] {text}\n", console_note(ctx, &format!("{text}@{salt}")))
    } else {
        format!("[Pipeline] {text}\n")
    }
}

/// One pipeline step of a stage and the lines it prints.
#[derive(Clone, Debug)]
pub(crate) struct StepScript {
    /// The `[Pipeline] <marker>` console line.
    pub marker: &'static str,
    /// The wfapi node name ("Shell Script", …).
    pub name: &'static str,
    pub description: Option<String>,
    /// Share of the stage duration.
    pub weight: u32,
    pub lines: Vec<String>,
    pub end_status: NodeStatus,
    pub error: Option<NodeError>,
}

impl StepScript {
    fn new(marker: &'static str, name: &'static str, weight: u32, lines: Vec<String>) -> Self {
        StepScript {
            marker,
            name,
            description: None,
            weight,
            lines,
            end_status: NodeStatus::Success,
            error: None,
        }
    }

    fn sh(cmd: &str, weight: u32, mut lines: Vec<String>) -> Self {
        lines.insert(0, format!("+ {cmd}"));
        let mut s = StepScript::new("sh", "Shell Script", weight, lines);
        s.description = Some(cmd.to_string());
        s
    }

    fn failed(mut self, message: &str) -> Self {
        self.end_status = NodeStatus::Failed;
        self.error = Some(NodeError {
            message: message.to_string(),
            kind: "hudson.AbortException".to_string(),
        });
        self
    }
}

/// Test classes of each service, and the two tests that break when its unit
/// tests fail (class, method, line, assertion message).
struct Code {
    package: &'static str,
    classes: &'static [&'static str],
    failing: [Failure; 2],
}

fn code(service: &str) -> Code {
    match service {
        "ledger-service" => Code {
            package: "com.dominion.ledger",
            classes: &[
                "posting.JournalPostingServiceTest",
                "posting.CurrencyRoundingTest",
                "account.AccountRepositoryTest",
                "account.BalanceProjectionTest",
                "api.LedgerControllerTest",
                "reconcile.ReconciliationJobTest",
            ],
            failing: [
                (
                    "posting.JournalPostingServiceTest",
                    "postsBalancedEntriesInSingleTransaction",
                    88,
                    "expected: <0.00> but was: <0.01>",
                ),
                (
                    "posting.CurrencyRoundingTest",
                    "roundsHalfEvenForJpy",
                    41,
                    "Unexpected exception thrown: java.lang.ArithmeticException: Rounding necessary",
                ),
            ],
        },
        "payments-api" => Code {
            package: "com.dominion.payments",
            classes: &[
                "api.PaymentControllerTest",
                "api.RefundControllerTest",
                "service.PaymentServiceTest",
                "service.IdempotencyKeyTest",
                "gateway.AcquirerClientTest",
            ],
            failing: [
                (
                    "service.IdempotencyKeyTest",
                    "rejectsReplayWithDifferentAmount",
                    57,
                    "expected: <409 CONFLICT> but was: <200 OK>",
                ),
                (
                    "api.RefundControllerTest",
                    "partialRefundKeepsCurrency",
                    112,
                    "expected: <EUR> but was: <null>",
                ),
            ],
        },
        "checkout-web" => Code {
            package: "com.dominion.checkout",
            classes: &[
                "web.CartPageTest",
                "web.CheckoutFlowTest",
                "session.BasketSessionTest",
                "pricing.PromotionEngineTest",
            ],
            failing: [
                (
                    "pricing.PromotionEngineTest",
                    "stacksPercentageAfterFixedDiscount",
                    73,
                    "expected: <17.10> but was: <17.00>",
                ),
                (
                    "web.CheckoutFlowTest",
                    "guestCheckoutRequiresEmail",
                    39,
                    "expected: <true> but was: <false>",
                ),
            ],
        },
        "catalog-service" => Code {
            package: "com.dominion.catalog",
            classes: &[
                "search.ProductSearchTest",
                "search.FacetBuilderTest",
                "product.ProductRepositoryTest",
                "api.CatalogControllerTest",
            ],
            failing: [
                (
                    "search.FacetBuilderTest",
                    "emptyFacetsAreOmitted",
                    64,
                    "expected: <[]> but was: <[brand]>",
                ),
                (
                    "api.CatalogControllerTest",
                    "returns404ForUnknownSku",
                    29,
                    "expected: <404> but was: <500>",
                ),
            ],
        },
        "notification-worker" => Code {
            package: "com.dominion.notify",
            classes: &[
                "consumer.OrderEventConsumerTest",
                "template.EmailTemplateTest",
                "sms.SmsGatewayClientTest",
            ],
            failing: [
                (
                    "template.EmailTemplateTest",
                    "rendersLocalisedSubject",
                    48,
                    "expected: <Ihre Bestellung> but was: <Your order>",
                ),
                (
                    "consumer.OrderEventConsumerTest",
                    "retriesTransientFailures",
                    95,
                    "expected: <3> but was: <1>",
                ),
            ],
        },
        "fraud-scoring" => Code {
            package: "com.dominion.fraud",
            classes: &[
                "model.ScoreModelTest",
                "rules.VelocityRuleTest",
                "rules.GeoMismatchRuleTest",
                "api.ScoringControllerTest",
            ],
            failing: [
                (
                    "rules.VelocityRuleTest",
                    "flagsFiveCardsInOneMinute",
                    66,
                    "expected: <HIGH> but was: <MEDIUM>",
                ),
                (
                    "model.ScoreModelTest",
                    "scoreIsMonotonicInAmount",
                    120,
                    "expected: <true> but was: <false>",
                ),
            ],
        },
        _ => Code {
            package: "com.dominion.app",
            classes: &["AppTest", "ConfigTest"],
            failing: [
                ("AppTest", "starts", 12, "expected: <true> but was: <false>"),
                ("ConfigTest", "loads", 20, "expected: <1> but was: <0>"),
            ],
        },
    }
}

/// A failing test: class (relative to the service package), method, line, message.
type Failure = (&'static str, &'static str, u32, &'static str);

/// A failed test case as the JUnit report lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FailedCase {
    pub class_name: String,
    pub name: String,
    pub message: String,
    pub trace: String,
}

fn unit_failures(ctx: &ScriptCtx, tests: TestCounts) -> Vec<Failure> {
    code(&ctx.service)
        .failing
        .iter()
        .take(tests.failed as usize)
        .copied()
        .collect()
}

fn it_suffix(profile: &str) -> &'static str {
    if profile == "functional" { "IT" } else { "RegressionIT" }
}

/// Integration suites reuse the first unit class names with an IT suffix.
fn it_classes(code: &Code) -> Vec<&'static str> {
    code.classes.iter().take(3).copied().collect()
}

fn it_failures(ctx: &ScriptCtx, tests: TestCounts) -> Vec<Failure> {
    let code = code(&ctx.service);
    let classes = it_classes(&code);
    let Some(first) = classes.first().copied() else {
        return Vec::new();
    };
    classes
        .iter()
        .zip(code.failing.iter())
        .map(|(c, f)| (*c, f.1, f.2 + 7, f.3))
        .chain(std::iter::repeat((
            first,
            "endToEndHappyPath",
            31,
            "expected: <200> but was: <504>",
        )))
        .take(tests.failed as usize)
        .collect()
}

/// The failed cases a stage's `junit` step records (for the test report).
pub(crate) fn failed_cases(ctx: &ScriptCtx, stage: &PlannedStage) -> Vec<FailedCase> {
    let Some(tests) = stage.tests else {
        return Vec::new();
    };
    if let (Some(big), "Regression tests") = (&ctx.big, stage.name.as_str()) {
        return big
            .failing_tests()
            .iter()
            .map(|f| FailedCase {
                class_name: f.fqcn(),
                name: f.method.to_string(),
                message: f.message.clone(),
                trace: f.trace.join("\n"),
            })
            .collect();
    }
    let code = code(&ctx.service);
    let (failures, suffix) = match stage.name.as_str() {
        "Build & unit tests" => (unit_failures(ctx, tests), ""),
        "Functional tests" => (it_failures(ctx, tests), it_suffix("functional")),
        "Regression tests" => (it_failures(ctx, tests), it_suffix("regression")),
        _ => return Vec::new(),
    };
    failures
        .into_iter()
        .map(|(class, method, line, message)| FailedCase {
            class_name: format!("{}.{class}{suffix}", code.package),
            name: method.to_string(),
            message: message.to_string(),
            trace: stack_trace(&code, &format!("{class}{suffix}"), method, line, message).join("\n"),
        })
        .collect()
}

fn iso(at: Ms) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn to_strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

/// Lines printed before the first stage.
pub(crate) fn build_header(ctx: &ScriptCtx, causes: &[String], lib_sha: &str, freestyle: bool) -> String {
    let mut out: Vec<String> = causes.to_vec();
    if freestyle {
        out.push("Running as SYSTEM".to_string());
        out.push(format!(
            "Building remotely on {} (linux backup) in workspace /var/lib/jenkins/workspace/{}",
            ctx.agent, ctx.job
        ));
    } else {
        out.extend([
            format!("Obtained Jenkinsfile from git {}", ctx.repo),
            "Loading library jenkins-shared-library@master".to_string(),
            "Attempting to resolve master from remote references...".to_string(),
            " > git --version # timeout=10".to_string(),
            " > git --version # 'git version 2.39.5'".to_string(),
            format!(" > git ls-remote -h -- {SHARED_LIBRARY} # timeout=10"),
            format!("Found match: refs/heads/master revision {lib_sha}"),
            "The recommended git tool is: NONE".to_string(),
            "using credential github-app-dominion".to_string(),
            format!("Cloning the remote Git repository\nCloning repository {SHARED_LIBRARY}"),
            format!("Checking out Revision {lib_sha} (master)"),
            "Commit message: \"vars/deployTo: wait for rollout before smoke tests\"".to_string(),
        ]);
        let pipeline = |text: &str, salt: usize| {
            let mut l = pipeline_line(ctx, text, salt);
            l.pop();
            l
        };
        out.extend([
            pipeline("Start of Pipeline", 0),
            pipeline("node", 1),
            format!("Running on {} in {}", ctx.agent, ctx.workspace()),
            pipeline("{", 2),
        ]);
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// The steps (and their output) of one stage.
pub(crate) fn stage_script(ctx: &ScriptCtx, stage: &PlannedStage, at: Ms) -> Vec<StepScript> {
    let fail = match stage.outcome {
        Outcome::Fail(kind) => Some(kind),
        _ => None,
    };
    let unstable = stage.outcome == Outcome::Unstable;
    let mut steps = steps_of(ctx, stage, fail, unstable, at);
    if ctx.ansi {
        for s in &mut steps {
            colourize(s);
        }
    }
    steps
}

fn steps_of(ctx: &ScriptCtx, stage: &PlannedStage, fail: Option<FailKind>, unstable: bool, at: Ms) -> Vec<StepScript> {
    match stage.name.as_str() {
        "Checkout" => vec![checkout(ctx)],
        "Build & unit tests" => unit_tests(ctx, stage.tests, fail, at),
        "SonarQube analysis" => sonar(ctx),
        "Quality gate" => quality_gate(ctx, fail),
        "Publish to Nexus" => vec![nexus(ctx, at)],
        "Functional tests" => integration_tests(ctx, "functional", stage.tests, unstable, fail, at),
        "Regression tests" => integration_tests(ctx, "regression", stage.tests, unstable, fail, at),
        "Penetration tests" => vec![zap(ctx)],
        "Load tests" => vec![jmeter(ctx)],
        "Docker build" if fail == Some(FailKind::DockerBuild) => vec![docker_build_failed(ctx)],
        "Docker build" => vec![docker_build(ctx)],
        "Image scan" => vec![trivy(ctx, fail.is_some(), at)],
        "Push image" => vec![docker_push(ctx)],
        "Deploy to staging" => deploy_stage(ctx, "staging"),
        "Deploy to production" => deploy_stage(ctx, "production"),
        "Approve production" => vec![StepScript::new(
            "input",
            "Wait for interactive input",
            1,
            vec![INPUT_MESSAGE.to_string(), "Proceed or Abort".to_string()],
        )],
        "Validate parameters" => vec![StepScript::new(
            "echo",
            "Print Message",
            1,
            vec![format!(
                "Deploying {} {} ({}) to {}",
                ctx.service,
                ctx.version,
                ctx.digest,
                ctx.environment.as_deref().unwrap_or("staging")
            )],
        )],
        "Pull image" => vec![pull_image(ctx)],
        "Helm upgrade" if fail == Some(FailKind::Rollout) => helm_then_rollout_timeout(ctx, at),
        "Helm upgrade" => vec![helm(ctx, at)],
        "Ansible deploy" => vec![ansible_deploy(ctx, fail == Some(FailKind::Ansible))],
        "Smoke tests" => vec![smoke(ctx, fail.is_some())],
        "Backup" => vec![backup(ctx, at)],
        other => vec![StepScript::sh(
            &format!("./ci/{}.sh", other.to_lowercase().replace(' ', "-")),
            1,
            vec!["done".to_string()],
        )],
    }
}

fn checkout(ctx: &ScriptCtx) -> StepScript {
    let ws = ctx.workspace();
    let repo = &ctx.repo;
    let sha = &ctx.sha;
    let branch = &ctx.branch;
    let mut s = StepScript::new(
        "checkout",
        "Git",
        1,
        vec![
            "The recommended git tool is: NONE".to_string(),
            "using credential github-app-dominion".to_string(),
            "Cloning the remote Git repository".to_string(),
            format!("Cloning repository {repo}"),
            format!(" > git init {ws} # timeout=10"),
            format!("Fetching upstream changes from {repo}"),
            " > git --version # timeout=10".to_string(),
            " > git --version # 'git version 2.39.5'".to_string(),
            "using GIT_ASKPASS to set credentials GitHub app for dominion".to_string(),
            format!(
                " > git fetch --tags --force --progress -- {repo} +refs/heads/*:refs/remotes/origin/* # timeout=10"
            ),
            format!(" > git config remote.origin.url {repo} # timeout=10"),
            " > git config --add remote.origin.fetch +refs/heads/*:refs/remotes/origin/* # timeout=10".to_string(),
            "Avoid second fetch".to_string(),
            format!(" > git rev-parse refs/remotes/origin/{branch}^{{commit}} # timeout=10"),
            format!("Checking out Revision {sha} (refs/remotes/origin/{branch})"),
            " > git config core.sparsecheckout # timeout=10".to_string(),
            format!(" > git checkout -f {sha} # timeout=10"),
            format!("Commit message: \"{}\"", ctx.commit_msg),
        ],
    );
    s.description = Some(repo.clone());
    s
}

fn maven_header(ctx: &ScriptCtx, packaging: &str) -> Vec<String> {
    let svc = &ctx.service;
    let title = format!("< com.dominion:{svc} >");
    let dashes = 72usize.saturating_sub(title.len()) / 2;
    vec![
        "[INFO] Scanning for projects...".to_string(),
        "[INFO] ".to_string(),
        format!(
            "[INFO] {}{}{}",
            "-".repeat(dashes),
            title,
            "-".repeat(72 - dashes - title.len().min(72))
        ),
        format!("[INFO] Building {svc} {}", ctx.version),
        "[INFO]   from pom.xml".to_string(),
        format!("[INFO] --------------------------------[ {packaging} ]---------------------------------"),
        "[INFO] ".to_string(),
    ]
}

fn maven_footer(ok: bool, secs: u64, at: Ms) -> Vec<String> {
    let rule = "[INFO] ------------------------------------------------------------------------";
    vec![
        rule.to_string(),
        format!("[INFO] BUILD {}", if ok { "SUCCESS" } else { "FAILURE" }),
        rule.to_string(),
        format!("[INFO] Total time:  {secs}.{:03} s", secs * 37 % 1000),
        format!("[INFO] Finished at: {}", iso(at)),
        rule.to_string(),
    ]
}

/// Splits `total` tests over the service's classes, deterministically.
fn split_tests(ctx: &ScriptCtx, classes: &[&'static str], total: u32, salt: &str) -> Vec<(&'static str, u32)> {
    let n = classes.len().max(1) as u32;
    let mut out = Vec::new();
    let mut left = total;
    for (i, c) in classes.iter().enumerate() {
        let count = if i as u32 + 1 == n {
            left
        } else {
            let share = total / n;
            let jitter = ctx.rand(&format!("{salt}{c}"), 0, u64::from(share / 3)) as u32;
            (share.saturating_sub(share / 6) + jitter).min(left)
        };
        left -= count;
        out.push((*c, count));
    }
    out
}

fn stack_trace(code: &Code, class: &str, method: &str, line: u32, message: &str) -> Vec<String> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    if let Some(cause) = message.strip_prefix("Unexpected exception thrown: ") {
        return does_not_throw_trace(code, class, method, line, cause);
    }
    vec![
        format!("org.opentest4j.AssertionFailedError: {message}"),
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)".to_string(),
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.buildAndThrow(AssertionFailureBuilder.java:132)"
            .to_string(),
        "\tat org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)".to_string(),
        "\tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:182)".to_string(),
        "\tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:1156)".to_string(),
        format!("\tat {}.{class}.{method}({simple}.java:{line})", code.package),
        "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)".to_string(),
        "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)".to_string(),
        "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)".to_string(),
    ]
}

/// `assertDoesNotThrow` failed: the assertion, then the exception the code threw.
fn does_not_throw_trace(code: &Code, class: &str, method: &str, line: u32, cause: &str) -> Vec<String> {
    let simple = class.rsplit('.').next().unwrap_or(class);
    let pkg = code.package;
    // The class under test: the test's name without "Test" (and its package).
    let tested = class.replace("Test", "");
    let tested_simple = tested.rsplit('.').next().unwrap_or(&tested).to_string();
    let mut out = vec![
        format!("org.opentest4j.AssertionFailedError: Unexpected exception thrown: {cause}"),
        "\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:152)".to_string(),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.createAssertionFailedError(AssertDoesNotThrow.java:84)"
            .to_string(),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.assertDoesNotThrow(AssertDoesNotThrow.java:53)".to_string(),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.assertDoesNotThrow(AssertDoesNotThrow.java:36)".to_string(),
        "\tat org.junit.jupiter.api.Assertions.assertDoesNotThrow(Assertions.java:3168)".to_string(),
        format!("\tat {pkg}.{class}.{method}({simple}.java:{line})"),
        "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)".to_string(),
        "\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)".to_string(),
        format!("Caused by: {cause}"),
    ];
    if cause.starts_with("java.lang.ArithmeticException") {
        out.extend([
            "\tat java.base/java.math.BigDecimal.commonNeedIncrement(BigDecimal.java:5310)".to_string(),
            "\tat java.base/java.math.BigDecimal.needIncrement(BigDecimal.java:5366)".to_string(),
            "\tat java.base/java.math.BigDecimal.divideAndRound(BigDecimal.java:5274)".to_string(),
            "\tat java.base/java.math.BigDecimal.setScale(BigDecimal.java:3010)".to_string(),
        ]);
    }
    out.extend([
        format!("\tat {pkg}.{tested}.round({tested_simple}.java:27)"),
        format!("\tat {pkg}.{class}.lambda${method}$0({simple}.java:{})", line + 1),
        "\tat org.junit.jupiter.api.AssertDoesNotThrow.assertDoesNotThrow(AssertDoesNotThrow.java:49)".to_string(),
        "\t... 6 more".to_string(),
    ]);
    out
}

/// Surefire/failsafe "T E S T S" section, results summary included.
fn test_run(
    ctx: &ScriptCtx,
    tests: TestCounts,
    classes: &[&'static str],
    failing: &[Failure],
    suffix: &str,
) -> Vec<String> {
    let code = code(&ctx.service);
    let mut lines = to_strings(&[
        "[INFO] ",
        "[INFO] -------------------------------------------------------",
        "[INFO]  T E S T S",
        "[INFO] -------------------------------------------------------",
    ]);
    let split = split_tests(ctx, classes, tests.total, suffix);
    let mut skipped_left = tests.skipped;
    let failing: Vec<_> = failing.iter().take(tests.failed as usize).collect();
    for (i, (class, count)) in split.iter().enumerate() {
        let fqcn = format!("{}.{class}{suffix}", code.package);
        let fails: Vec<_> = failing.iter().filter(|f| f.0 == *class).collect();
        let skipped = if i == 0 { skipped_left.min(*count) } else { 0 };
        skipped_left -= skipped;
        let secs = ctx.rand(class, 150, 4900);
        lines.push(format!("[INFO] Running {fqcn}"));
        let summary = format!(
            "Tests run: {count}, Failures: {}, Errors: 0, Skipped: {skipped}, Time elapsed: {}.{:03} s",
            fails.len(),
            secs / 1000,
            secs % 1000
        );
        if fails.is_empty() {
            lines.push(format!("[INFO] {summary} -- in {fqcn}"));
        } else {
            lines.push(format!("[ERROR] {summary} <<< FAILURE! -- in {fqcn}"));
            for (c, m, line, msg) in fails.iter().map(|f| ***f) {
                lines.push(format!(
                    "[ERROR] {}.{c}{suffix}.{m} -- Time elapsed: 0.{:03} s <<< FAILURE!",
                    code.package,
                    ctx.rand(m, 5, 400)
                ));
                lines.extend(stack_trace(&code, &format!("{c}{suffix}"), m, line, msg));
                lines.push(String::new());
            }
        }
    }
    let listed: Vec<(String, &str, u32, &str)> = failing
        .iter()
        .map(|f| {
            let (c, m, line, msg) = **f;
            let simple = c.rsplit('.').next().unwrap_or(c);
            (format!("{simple}{suffix}"), m, line, msg)
        })
        .collect();
    lines.extend(results(&listed, tests));
    lines
}

/// Surefire's "Results:" section: the failures, then the totals.
fn results(failing: &[(String, &str, u32, &str)], tests: TestCounts) -> Vec<String> {
    let mut lines = to_strings(&["[INFO] ", "[INFO] Results:", "[INFO] "]);
    if !failing.is_empty() {
        lines.push("[ERROR] Failures: ".to_string());
        for (c, m, line, msg) in failing {
            lines.push(format!("[ERROR]   {c}.{m}:{line} {msg}"));
        }
        lines.push("[INFO] ".to_string());
    }
    let level = if tests.failed > 0 {
        "[ERROR]"
    } else if tests.skipped > 0 {
        "[WARNING]"
    } else {
        "[INFO]"
    };
    lines.push(format!(
        "{level} Tests run: {}, Failures: {}, Errors: 0, Skipped: {}",
        tests.total, tests.failed, tests.skipped
    ));
    lines.push("[INFO] ".to_string());
    lines
}

fn junit_step(pattern: &str, unstable: bool) -> StepScript {
    let mut lines = vec!["Recording test results".to_string()];
    if unstable {
        lines.push("[Checks API] No suitable checks publisher found.".to_string());
        lines.push("Setting build result to UNSTABLE: there are test failures".to_string());
    } else {
        lines.push("[Checks API] No suitable checks publisher found.".to_string());
    }
    let mut s = StepScript::new("junit", "Archive JUnit-formatted test results", 1, lines);
    s.description = Some(pattern.to_string());
    if unstable {
        s.end_status = NodeStatus::Unstable;
    }
    s
}

fn unit_tests(ctx: &ScriptCtx, tests: Option<TestCounts>, fail: Option<FailKind>, at: Ms) -> Vec<StepScript> {
    let failing = fail == Some(FailKind::UnitTests);
    let tests = tests.unwrap_or(TestCounts {
        total: 120,
        failed: if failing { 2 } else { 0 },
        skipped: 0,
    });
    let svc = &ctx.service;
    let ws = ctx.workspace();
    let code = code(svc);
    let mut lines = maven_header(ctx, "jar");
    lines.extend([
        format!("[INFO] --- clean:3.3.2:clean (default-clean) @ {svc} ---"),
        format!("[INFO] --- resources:3.3.1:resources (default-resources) @ {svc} ---"),
        "[INFO] Copying 6 resources from src/main/resources to target/classes".to_string(),
        format!("[INFO] --- compiler:3.13.0:compile (default-compile) @ {svc} ---"),
        "[INFO] Recompiling the module because of changed source code.".to_string(),
        format!(
            "[INFO] Compiling {} source files with javac [debug release 21] to target/classes",
            ctx.rand("sources", 90, 260)
        ),
        format!("[INFO] --- compiler:3.13.0:testCompile (default-testCompile) @ {svc} ---"),
        format!(
            "[INFO] Compiling {} source files with javac [debug release 21] to target/test-classes",
            ctx.rand("testsources", 30, 90)
        ),
        format!("[INFO] --- surefire:3.2.5:test (default-test) @ {svc} ---"),
        "[INFO] Using auto detected provider org.apache.maven.surefire.junitplatform.JUnitPlatformProvider".to_string(),
    ]);
    lines.extend(test_run(ctx, tests, code.classes, &unit_failures(ctx, tests), ""));
    let secs = ctx.rand("mvn", 38, 70);
    if failing {
        lines.extend(maven_footer(false, secs, at));
        lines.extend([
            format!(
                "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test (default-test) on project {svc}: There are test failures."
            ),
            "[ERROR] ".to_string(),
            format!("[ERROR] Please refer to {ws}/target/surefire-reports for the individual test results."),
            "[ERROR] Please refer to dump files (if any exist) [date].dump, [date]-jvmRun[N].dump and [date].dumpstream."
                .to_string(),
            "[ERROR] -> [Help 1]".to_string(),
            "[ERROR] ".to_string(),
            "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.".to_string(),
            "[ERROR] Re-run Maven using the -X switch to enable full debug logging.".to_string(),
            "[ERROR] ".to_string(),
            "[ERROR] For more information about the errors and possible solutions, please read the following articles:"
                .to_string(),
            "[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/MojoFailureException".to_string(),
        ]);
    } else {
        lines.extend([
            format!("[INFO] --- jacoco:0.8.12:report (report) @ {svc} ---"),
            "[INFO] Loading execution data file target/jacoco.exec".to_string(),
            format!("[INFO] --- jar:3.4.1:jar (default-jar) @ {svc} ---"),
            format!("[INFO] Building jar: {ws}/target/{svc}-{}.jar", ctx.version),
        ]);
        lines.extend(maven_footer(true, secs, at));
    }
    let mut mvn = StepScript::sh("mvn -B -U -s $MAVEN_SETTINGS clean verify", 9, lines);
    if failing {
        mvn = mvn.failed("script returned exit code 1");
    }
    let mut steps = vec![mvn, junit_step("target/surefire-reports/*.xml", false)];
    if fail == Some(FailKind::Script) {
        steps[0] = steps[0].clone().failed("script returned exit code 1");
    }
    steps
}

fn sonar(ctx: &ScriptCtx) -> Vec<StepScript> {
    let svc = &ctx.service;
    let task = task_id(ctx);
    let mut env = StepScript::new(
        "withSonarQubeEnv",
        "Prepare SonarQube Scanner environment",
        1,
        vec!["Injecting SonarQube environment variables using the configuration: sonarqube".to_string()],
    );
    env.description = Some("sonarqube".to_string());
    let files = ctx.rand("sources", 90, 260);
    let mut lines = maven_header(ctx, "jar");
    lines.extend([
        format!("[INFO] --- sonar:4.0.0.4121:sonar (default-cli) @ {svc} ---"),
        "[INFO] User cache: /home/jenkins/.sonar/cache".to_string(),
        "[INFO] Communicating with SonarQube Server 10.7.0.96327".to_string(),
        "[INFO] Load global settings".to_string(),
        format!("[INFO] Load global settings (done) | time={}ms", ctx.rand("gs", 60, 190)),
        "[INFO] Server id: 147B411E-AZLxFtMhHSV3l1c3ADkP".to_string(),
        "[INFO] Loading required plugins".to_string(),
        format!("[INFO] Project key: com.dominion:{svc}"),
        format!("[INFO] Branch name: {}", ctx.branch),
        "[INFO] Load quality profiles".to_string(),
        format!("[INFO] Load quality profiles (done) | time={}ms", ctx.rand("qp", 40, 150)),
        "[INFO] Sensor JavaSensor [java]".to_string(),
        format!("[INFO] {files} source files to be analyzed"),
        format!("[INFO] {files}/{files} source files have been analyzed"),
        "[INFO] Sensor JavaSensor [java] (done) | time=14233ms".to_string(),
        "[INFO] Sensor JaCoCo XML Report Importer [jacoco]".to_string(),
        "[INFO] Importing 1 report(s). Turn your logs in debug mode in order to see the exhaustive list."
            .to_string(),
        "[INFO] Analysis report generated in 212ms, dir size=1.3 MB".to_string(),
        "[INFO] Analysis report uploaded in 95ms".to_string(),
        format!("[INFO] ANALYSIS SUCCESSFUL, you can find the results at: {SONAR}/dashboard?id=com.dominion%3A{svc}"),
        "[INFO] Note that you will be able to access the updated dashboard once the server has processed the submitted analysis report"
            .to_string(),
        format!("[INFO] More about the report processing at {SONAR}/api/ce/task?id={task}"),
    ]);
    lines.extend(maven_footer(true, ctx.rand("sonar", 18, 40), 0).into_iter().take(3));
    vec![
        env,
        StepScript::sh(
            &format!(
                "mvn -B sonar:sonar -Dsonar.projectKey=com.dominion:{svc} -Dsonar.branch.name={}",
                ctx.branch
            ),
            9,
            lines,
        ),
    ]
}

pub(crate) fn task_id(ctx: &ScriptCtx) -> String {
    format!(
        "AZ{}",
        ids::hex(ctx.seed, &[&ctx.job, &ctx.version, "ce"], 18).to_uppercase()
    )
}

fn quality_gate(ctx: &ScriptCtx, fail: Option<FailKind>) -> Vec<StepScript> {
    let task = task_id(ctx);
    let status = if fail.is_some() { "ERROR" } else { "OK" };
    let mut wait = StepScript::new(
        "waitForQualityGate",
        "Wait for SonarQube analysis to be completed",
        1,
        vec![
            format!("Checking status of SonarQube task '{task}' on server 'sonarqube'"),
            format!("SonarQube task '{task}' status is 'PENDING'"),
            format!("SonarQube task '{task}' status is 'IN_PROGRESS'"),
            format!("SonarQube task '{task}' status is 'SUCCESS'"),
            format!("SonarQube task '{task}' completed. Quality gate is '{status}'"),
        ],
    );
    wait.weight = 5;
    if fail.is_some() {
        // `waitForQualityGate abortPipeline: true` fails the step itself.
        wait = wait.failed("Pipeline aborted due to quality gate failure: ERROR");
    }
    vec![wait]
}

fn nexus(ctx: &ScriptCtx, at: Ms) -> StepScript {
    let svc = &ctx.service;
    let v = &ctx.version;
    let base = format!("{NEXUS}/com/dominion/{svc}");
    let ext = super::nexus::packaging(svc);
    let mut lines = maven_header(ctx, "jar");
    lines.extend([
        format!("[INFO] --- install:3.1.2:install (default-install) @ {svc} ---"),
        format!("[INFO] --- deploy:3.1.2:deploy (default-deploy) @ {svc} ---"),
        format!("Uploading to nexus: {base}/{v}/{svc}-{v}.pom"),
        format!("Uploaded to nexus: {base}/{v}/{svc}-{v}.pom (6.1 kB at 48 kB/s)"),
        format!("Uploading to nexus: {base}/{v}/{svc}-{v}.{ext}"),
        format!(
            "Uploaded to nexus: {base}/{v}/{svc}-{v}.{ext} ({} MB at 21 MB/s)",
            ctx.rand("jar", 38, 72)
        ),
        format!("Downloading from nexus: {base}/maven-metadata.xml"),
        format!("Downloaded from nexus: {base}/maven-metadata.xml (1.9 kB at 66 kB/s)"),
        format!("Uploading to nexus: {base}/maven-metadata.xml"),
        format!("Uploaded to nexus: {base}/maven-metadata.xml (2.0 kB at 71 kB/s)"),
    ]);
    lines.extend(maven_footer(true, ctx.rand("deploy", 9, 19), at));
    StepScript::sh(
        "mvn -B deploy -DskipTests -DaltDeploymentRepository=nexus::https://nexus.dominion.internal/repository/maven-releases/",
        1,
        lines,
    )
}

fn integration_tests(
    ctx: &ScriptCtx,
    profile: &str,
    tests: Option<TestCounts>,
    unstable: bool,
    fail: Option<FailKind>,
    at: Ms,
) -> Vec<StepScript> {
    let code = code(&ctx.service);
    let svc = &ctx.service;
    let tests = tests.unwrap_or(TestCounts {
        total: 60,
        failed: 0,
        skipped: 0,
    });
    let suffix = it_suffix(profile);
    let classes = it_classes(&code);
    let failing = it_failures(ctx, tests);
    let mut lines = maven_header(ctx, "jar");
    lines.push(format!(
        "[INFO] --- failsafe:3.2.5:integration-test (default) @ {svc} ---"
    ));
    lines.push(format!(
        "[INFO] Target environment: https://{svc}.staging.dominion.internal"
    ));
    match (&ctx.big, profile) {
        (Some(big), "regression") => {
            // The suite logs at DEBUG: its classes, their output and the
            // failing tests are the generated region; the results follow it.
            lines.extend(to_strings(&[
                "[INFO] ",
                "[INFO] -------------------------------------------------------",
                "[INFO]  T E S T S",
                "[INFO] -------------------------------------------------------",
            ]));
            lines.push(BIG_MARKER.to_string());
            let listed: Vec<(String, &str, u32, &str)> = big
                .failing_tests()
                .iter()
                .map(|f| (f.simple_class().to_string(), f.method, f.line, f.message.as_str()))
                .collect();
            lines.extend(results(&listed, tests));
        }
        _ => lines.extend(test_run(ctx, tests, &classes, &failing, suffix)),
    }
    lines.push(format!("[INFO] --- failsafe:3.2.5:verify (default) @ {svc} ---"));
    let hard_fail = fail.is_some();
    lines.extend(maven_footer(!hard_fail, ctx.rand(profile, 25, 80), at));
    let ignore = if hard_fail {
        ""
    } else {
        " -Dmaven.test.failure.ignore=true"
    };
    let mut mvn = StepScript::sh(&format!("mvn -B -P{profile} verify{ignore}"), 9, lines);
    if hard_fail {
        mvn = mvn.failed("script returned exit code 1");
    }
    vec![
        mvn,
        junit_step("target/failsafe-reports/*.xml", unstable && tests.failed > 0),
    ]
}

fn zap(ctx: &ScriptCtx) -> StepScript {
    let svc = &ctx.service;
    let target = format!("https://{svc}.staging.dominion.internal");
    let warn = ctx.rand("zapwarn", 0, 3);
    let mut lines = vec![
        format!("Using the Automation Framework"),
        format!("Total of {} URLs", ctx.rand("urls", 24, 90)),
        "PASS: Vulnerable JS Library (Powered by Retire.js) [10003]".to_string(),
        "PASS: In Page Banner Information Leak [10009]".to_string(),
        "PASS: Cookie No HttpOnly Flag [10010]".to_string(),
        "PASS: Cookie Without Secure Flag [10011]".to_string(),
        "PASS: Cross-Domain JavaScript Source File Inclusion [10017]".to_string(),
        "PASS: Content-Type Header Missing [10019]".to_string(),
        "PASS: Information Disclosure - Debug Error Messages [10023]".to_string(),
        "PASS: Private IP Disclosure [2]".to_string(),
    ];
    if warn > 0 {
        lines.push(format!(
            "WARN-NEW: Strict-Transport-Security Header Not Set [10035] x {warn} "
        ));
        lines.push(format!("\t{target}/actuator/health (200 OK)"));
    }
    if warn > 1 {
        lines.push("WARN-NEW: Permissions Policy Header Not Set [10063] x 1 ".to_string());
        lines.push(format!("\t{target}/ (200 OK)"));
    }
    lines.push(format!(
        "FAIL-NEW: 0\tFAIL-INPROG: 0\tWARN-NEW: {}\tWARN-INPROG: 0\tINFO: 0\tIGNORE: 0\tPASS: 64",
        warn.min(2)
    ));
    StepScript::sh(
        &format!(
            "docker run --rm -v {}:/zap/wrk:rw ghcr.io/zaproxy/zaproxy:stable zap-baseline.py -t {target} -J zap.json -I",
            ctx.workspace()
        ),
        1,
        lines,
    )
}

/// JMeter through the jmeter-maven-plugin; the numbers are those of the
/// `statistics.json` the build archives (see `loadtest`).
fn jmeter(ctx: &ScriptCtx) -> StepScript {
    let report = loadtest::report(ctx.seed, &ctx.service, &ctx.version);
    StepScript::sh(
        "mvn -B jmeter:configure jmeter:jmeter jmeter:results -Djmeter.testfile=peak-hour.jmx",
        1,
        loadtest::console_lines(&report, &ctx.service),
    )
}

fn docker_build(ctx: &ScriptCtx) -> StepScript {
    let image = ctx.image();
    let svc = &ctx.service;
    let img_id = ids::hex(ctx.seed, &[&ctx.job, &ctx.version, "imageid"], 64);
    let lines = vec![
        "#0 building with \"default\" instance using docker driver".to_string(),
        String::new(),
        "#1 [internal] load build definition from Dockerfile".to_string(),
        "#1 transferring dockerfile: 612B done".to_string(),
        "#1 DONE 0.0s".to_string(),
        String::new(),
        "#2 [internal] load metadata for docker.io/library/eclipse-temurin:21-jre-alpine".to_string(),
        "#2 DONE 1.2s".to_string(),
        String::new(),
        "#3 [internal] load .dockerignore".to_string(),
        "#3 transferring context: 2B done".to_string(),
        "#3 DONE 0.0s".to_string(),
        String::new(),
        "#4 [1/4] FROM docker.io/library/eclipse-temurin:21-jre-alpine@sha256:4e9ab608d97796571b1d5bbcd1c9f430a89a5f03fe5aa6c093888ceb6756c502".to_string(),
        "#4 CACHED".to_string(),
        String::new(),
        "#5 [internal] load build context".to_string(),
        format!("#5 transferring context: {}.31MB 0.4s done", ctx.rand("ctx", 38, 72)),
        "#5 DONE 0.5s".to_string(),
        String::new(),
        "#6 [2/4] RUN addgroup -S app && adduser -S app -G app".to_string(),
        "#6 CACHED".to_string(),
        String::new(),
        format!("#7 [3/4] COPY target/{svc}-{}.jar /app/app.jar", ctx.version),
        "#7 DONE 0.6s".to_string(),
        String::new(),
        "#8 [4/4] WORKDIR /app".to_string(),
        "#8 DONE 0.1s".to_string(),
        String::new(),
        "#9 exporting to image".to_string(),
        "#9 exporting layers 0.5s done".to_string(),
        format!("#9 writing image sha256:{img_id} done"),
        format!("#9 naming to {image} done"),
        "#9 DONE 0.6s".to_string(),
    ];
    StepScript::sh(
        &format!(
            "docker build --pull -t {image} --label org.opencontainers.image.revision={} .",
            ctx.sha
        ),
        1,
        lines,
    )
}

fn trivy(ctx: &ScriptCtx, fail: bool, at: Ms) -> StepScript {
    let image = ctx.image();
    let t = iso(at);
    let mut lines = vec![
        format!("{t}\tINFO\t[vuln] Vulnerability scanning is enabled"),
        format!("{t}\tINFO\tDetected OS\tfamily=\"alpine\" version=\"3.20.3\""),
        format!("{t}\tINFO\t[alpine] Detecting vulnerabilities...\tos_version=\"3.20\" repository=\"3.20\" pkg_num=19"),
        format!("{t}\tINFO\tNumber of language-specific files\tnum=1"),
        format!("{t}\tINFO\t[jar] Detecting vulnerabilities..."),
        String::new(),
        format!("{image} (alpine 3.20.3)"),
        "=".repeat(40),
    ];
    if fail {
        lines.extend([
            "Total: 1 (CRITICAL: 1)".to_string(),
            String::new(),
            "┌──────────────────────────────┬────────────────┬──────────┬────────┬───────────────────┬───────────────┐"
                .to_string(),
            "│           Library            │ Vulnerability  │ Severity │ Status │ Installed Version │ Fixed Version │"
                .to_string(),
            "├──────────────────────────────┼────────────────┼──────────┼────────┼───────────────────┼───────────────┤"
                .to_string(),
            "│ com.fasterxml.jackson.core:  │ CVE-2025-52999 │ CRITICAL │ fixed  │ 2.14.2            │ 2.15.0        │"
                .to_string(),
            "│ jackson-core (app.jar)       │                │          │        │                   │               │"
                .to_string(),
            "└──────────────────────────────┴────────────────┴──────────┴────────┴───────────────────┴───────────────┘"
                .to_string(),
        ]);
    } else {
        lines.push("Total: 0 (CRITICAL: 0)".to_string());
    }
    let s = StepScript::sh(
        &format!("trivy image --exit-code 1 --severity CRITICAL --no-progress {image}"),
        1,
        lines,
    );
    if fail {
        s.failed("script returned exit code 1")
    } else {
        s
    }
}

fn docker_push(ctx: &ScriptCtx) -> StepScript {
    let image = ctx.image();
    let layers: Vec<String> = (0..5)
        .map(|i| ids::hex(ctx.seed, &[&ctx.service, "layer", &i.to_string()], 12))
        .collect();
    let mut lines = vec![format!(
        "The push refers to repository [{REGISTRY}/dominion/{}]",
        ctx.service
    )];
    for l in &layers {
        lines.push(format!("{l}: Preparing"));
    }
    for (i, l) in layers.iter().enumerate() {
        lines.push(if i < 3 {
            format!("{l}: Layer already exists")
        } else {
            format!("{l}: Pushed")
        });
    }
    lines.push(format!("{}: digest: {} size: 1782", ctx.version, ctx.digest));
    StepScript::sh(&format!("docker push {image}"), 1, lines)
}

fn deploy_stage(ctx: &ScriptCtx, env: &str) -> Vec<StepScript> {
    let svc = &ctx.service;
    let mut trigger = StepScript::new(
        "build",
        "Build a job",
        1,
        vec![format!("Scheduling project: dominion » {svc}-deploy")],
    );
    trigger.description = Some(format!("dominion/{svc}-deploy"));
    let replicas = if env == "production" { 4 } else { 2 };
    let mut lines = Vec::new();
    for i in 1..replicas {
        lines.push(format!(
            "Waiting for deployment \"{svc}\" rollout to finish: {i} of {replicas} updated replicas are available..."
        ));
    }
    lines.push(format!("deployment \"{svc}\" successfully rolled out"));
    vec![
        trigger,
        StepScript::sh(
            &format!(
                "kubectl --context {env} -n {} rollout status deployment/{svc} --timeout=300s",
                namespace(svc)
            ),
            6,
            lines,
        ),
    ]
}

fn namespace(service: &str) -> &str {
    service.split('-').next().unwrap_or(service)
}

fn pull_image(ctx: &ScriptCtx) -> StepScript {
    let image = ctx.image();
    StepScript::sh(
        &format!("crane digest {image}"),
        1,
        vec![
            ctx.digest.clone(),
            format!("Image digest matches requested DIGEST {}", ctx.digest),
        ],
    )
}

fn helm(ctx: &ScriptCtx, at: Ms) -> StepScript {
    let svc = &ctx.service;
    let env = ctx.environment.as_deref().unwrap_or("staging");
    let ns = namespace(svc);
    let revision = ctx.rand("rev", 20, 140);
    let deployed = chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_default();
    StepScript::sh(
        &format!(
            "helm upgrade --install {svc} charts/{svc} --kube-context {env} --namespace {ns} --set image.tag={} --set image.digest={} --wait --timeout 5m",
            ctx.version, ctx.digest
        ),
        1,
        vec![
            format!("Release \"{svc}\" has been upgraded. Happy Helming!"),
            format!("NAME: {svc}"),
            format!("LAST DEPLOYED: {deployed}"),
            format!("NAMESPACE: {ns}"),
            "STATUS: deployed".to_string(),
            format!("REVISION: {revision}"),
            "TEST SUITE: None".to_string(),
        ],
    )
}

fn smoke(ctx: &ScriptCtx, fail: bool) -> StepScript {
    let svc = &ctx.service;
    let env = ctx.environment.as_deref().unwrap_or("staging");
    let url = format!("https://{svc}.{env}.dominion.internal/actuator/health");
    let lines = if fail {
        vec![
            "HTTP/2 503 ".to_string(),
            "{\"status\":\"DOWN\",\"components\":{\"db\":{\"status\":\"DOWN\"}}}".to_string(),
            "curl: (22) The requested URL returned error: 503".to_string(),
        ]
    } else {
        vec![
            "HTTP/2 200 ".to_string(),
            "{\"status\":\"UP\",\"groups\":[\"liveness\",\"readiness\"]}".to_string(),
        ]
    };
    let s = StepScript::sh(&format!("curl -fsS -i {url}"), 1, lines);
    if fail {
        s.failed("script returned exit code 22")
    } else {
        s
    }
}

fn backup(ctx: &ScriptCtx, at: Ms) -> StepScript {
    let day = chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let mut lines = vec![format!(
        "[{}] $ /bin/bash -xe /tmp/jenkins{}.sh",
        ctx.job,
        ctx.rand("tmp", 100_000_000, 999_999_999)
    )];
    for db in ["ledger", "payments", "catalog"] {
        lines.extend([
            format!("+ pg_dump --format=custom --no-owner --file=/backup/{db}-{day}.dump --host={db}-db.prod.dominion.internal {db}"),
            format!("+ aws s3 cp /backup/{db}-{day}.dump s3://dominion-db-backups/{db}/{day}.dump --sse aws:kms"),
            format!(
                "upload: ../../backup/{db}-{day}.dump to s3://dominion-db-backups/{db}/{day}.dump"
            ),
        ]);
    }
    lines.push("+ find /backup -name '*.dump' -mtime +7 -delete".to_string());
    let mut s = StepScript::new("sh", "Execute shell", 1, lines);
    s.description = Some("backup.sh".to_string());
    s
}

/// `docker build` (BuildKit, plain progress) of a multi-stage Dockerfile whose
/// dependency step cannot reach Nexus: the `RUN` fails, BuildKit cancels the
/// rest and prints the failing step's output and the Dockerfile excerpt.
fn docker_build_failed(ctx: &ScriptCtx) -> StepScript {
    let image = ctx.image();
    let svc = &ctx.service;
    let run = "mvn -B -q dependency:go-offline";
    let at = format!("{}.{:03}", ctx.rand("offline-s", 4, 11), ctx.rand("offline-ms", 0, 999));
    let maven_base = format!("sha256:{}", ids::hex(ctx.seed, &["maven:3.9.9-eclipse-temurin-21"], 64));
    let output = [
        format!(
            "[ERROR] Failed to execute goal on project {svc}: Could not resolve dependencies for project com.dominion:{svc}:jar:{}: \
             Failed to collect dependencies at com.dominion:platform-contracts:jar:2.3.0: Failed to read artifact descriptor for \
             com.dominion:platform-contracts:jar:2.3.0: The following artifacts could not be resolved: com.dominion:platform-contracts:pom:2.3.0 \
             (absent): Could not transfer artifact com.dominion:platform-contracts:pom:2.3.0 from/to nexus \
             (https://nexus.dominion.internal/repository/maven-public/): status code: 401, reason phrase: Unauthorized (401) -> [Help 1]",
            ctx.version
        ),
        "[ERROR] ".to_string(),
        "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.".to_string(),
        "[ERROR] Re-run Maven using the -X switch to enable full debug logging.".to_string(),
        "[ERROR] ".to_string(),
        "[ERROR] For more information about the errors and possible solutions, please read the following articles:"
            .to_string(),
        "[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/DependencyResolutionException".to_string(),
    ];
    let failed = format!("process \"/bin/sh -c {run}\" did not complete successfully: exit code: 1");
    let mut lines = vec![
        "#0 building with \"default\" instance using docker driver".to_string(),
        String::new(),
        "#1 [internal] load build definition from Dockerfile".to_string(),
        "#1 transferring dockerfile: 1.04kB done".to_string(),
        "#1 DONE 0.0s".to_string(),
        String::new(),
        "#2 [auth] library/maven:pull token for registry-1.docker.io".to_string(),
        "#2 DONE 0.0s".to_string(),
        String::new(),
        "#3 [auth] library/eclipse-temurin:pull token for registry-1.docker.io".to_string(),
        "#3 DONE 0.0s".to_string(),
        String::new(),
        "#4 [internal] load metadata for docker.io/library/maven:3.9.9-eclipse-temurin-21".to_string(),
        "#4 DONE 1.1s".to_string(),
        String::new(),
        "#5 [internal] load metadata for docker.io/library/eclipse-temurin:21-jre-alpine".to_string(),
        "#5 DONE 1.2s".to_string(),
        String::new(),
        "#6 [internal] load .dockerignore".to_string(),
        "#6 transferring context: 2B done".to_string(),
        "#6 DONE 0.0s".to_string(),
        String::new(),
        format!("#7 [builder 1/7] FROM docker.io/library/maven:3.9.9-eclipse-temurin-21@{maven_base}"),
        "#7 CACHED".to_string(),
        String::new(),
        "#8 [stage-1 1/4] FROM docker.io/library/eclipse-temurin:21-jre-alpine@sha256:4e9ab608d97796571b1d5bbcd1c9f430a89a5f03fe5aa6c093888ceb6756c502".to_string(),
        "#8 CACHED".to_string(),
        String::new(),
        "#9 [internal] load build context".to_string(),
        format!("#9 transferring context: {}.{}kB 0.1s done", ctx.rand("bctx", 180, 990), ctx.rand("bctx2", 10, 99)),
        "#9 DONE 0.1s".to_string(),
        String::new(),
        "#10 [builder 2/7] WORKDIR /build".to_string(),
        "#10 CACHED".to_string(),
        String::new(),
        "#11 [builder 3/7] COPY pom.xml ./".to_string(),
        "#11 DONE 0.1s".to_string(),
        String::new(),
        format!("#12 [builder 4/7] RUN {run}"),
    ];
    lines.extend(output.iter().map(|l| format!("#12 {at} {l}")));
    lines.extend([
        format!("#12 ERROR: {failed}"),
        String::new(),
        "#13 [stage-1 2/4] RUN addgroup -S app && adduser -S app -G app".to_string(),
        "#13 CANCELED".to_string(),
        "------".to_string(),
        format!(" > [builder 4/7] RUN {run}:"),
    ]);
    lines.extend(output.iter().map(|l| format!("{at} {l}")));
    lines.extend([
        "------".to_string(),
        "Dockerfile:7".to_string(),
        "--------------------".to_string(),
        "   5 |     WORKDIR /build".to_string(),
        "   6 |     COPY pom.xml ./".to_string(),
        format!("   7 | >>> RUN {run}"),
        "   8 |     COPY src ./src".to_string(),
        "   9 |     RUN mvn -B -q package -DskipTests".to_string(),
        "--------------------".to_string(),
        format!("ERROR: failed to solve: {failed}"),
    ]);
    StepScript::sh(
        &format!(
            "docker build --pull -t {image} --label org.opencontainers.image.revision={} .",
            ctx.sha
        ),
        1,
        lines,
    )
    .failed("script returned exit code 1")
}

/// `helm upgrade` without `--wait`, then `kubectl rollout status`, which
/// gives up when the new pods never become ready.
fn helm_then_rollout_timeout(ctx: &ScriptCtx, at: Ms) -> Vec<StepScript> {
    let svc = &ctx.service;
    let env = ctx.environment.as_deref().unwrap_or("staging");
    let ns = namespace(svc);
    let mut upgrade = helm(ctx, at);
    upgrade.description = Some(format!(
        "helm upgrade --install {svc} charts/{svc} --kube-context {env} --namespace {ns} --set image.tag={} --set image.digest={}",
        ctx.version, ctx.digest
    ));
    if let Some(first) = upgrade.lines.first_mut() {
        *first = format!("+ {}", upgrade.description.as_deref().unwrap_or_default());
    }
    let wait =
        format!("Waiting for deployment \"{svc}\" rollout to finish: 1 out of 2 new replicas have been updated...");
    let rollout = StepScript::sh(
        &format!("kubectl --context {env} -n {ns} rollout status deployment/{svc} --timeout=600s"),
        8,
        vec![
            wait.clone(),
            wait.clone(),
            wait,
            format!("error: deployment \"{svc}\" exceeded its progress deadline"),
        ],
    )
    .failed("script returned exit code 1");
    vec![upgrade, rollout]
}

/// Ansible's banner: `TASK [name] ****…` to 80 columns.
fn banner(text: &str) -> String {
    let stars = 79usize.saturating_sub(text.chars().count()).max(3);
    format!("{text} {}", "*".repeat(stars))
}

/// The deploy playbook (role `k8s_deploy`) run from the deploy job against
/// the cluster's control plane; when `fail`, applying the Deployment is
/// refused and `ansible-playbook` exits with 2.
fn ansible_deploy(ctx: &ScriptCtx, fail: bool) -> StepScript {
    let svc = &ctx.service;
    let env = ctx.environment.as_deref().unwrap_or("staging");
    let host = "k8s-master-1";
    let image = format!("{REGISTRY}/dominion/{svc}@{}", ctx.digest);
    let mut lines = vec![
        String::new(),
        banner(&format!("PLAY [Deploy {svc} {} to {env}]", ctx.version)),
        String::new(),
        banner("TASK [Gathering Facts]"),
        format!("ok: [{host}]"),
        String::new(),
        banner("TASK [k8s_deploy : Check the requested image]"),
        format!("ok: [{host}] => {{"),
        format!("    \"msg\": \"{image}\""),
        "}".to_string(),
        String::new(),
        banner("TASK [k8s_deploy : Render deployment manifest]"),
        format!("changed: [{host}]"),
        String::new(),
        banner("TASK [k8s_deploy : Apply deployment]"),
    ];
    let (ok, changed, failed) = if fail {
        lines.push(format!(
            "fatal: [{host}]: FAILED! => {{\"changed\": false, \"error\": 422, \"msg\": \"Failed to patch object: Deployment.apps \\\"{svc}\\\" is invalid: \
             spec.template.spec.containers[0].resources.requests: Invalid value: \\\"768Mi\\\": must be less than or equal to memory limit of 512Mi\", \
             \"reason\": \"Unprocessable Entity\", \"status\": 422}}"
        ));
        (3, 1, 1)
    } else {
        lines.extend([
            format!("changed: [{host}]"),
            String::new(),
            banner("TASK [k8s_deploy : Wait for the rollout]"),
            format!("ok: [{host}]"),
        ]);
        (5, 2, 0)
    };
    lines.extend([
        String::new(),
        banner("PLAY RECAP"),
        format!(
            "{host:<26} : ok={ok:<4} changed={changed:<4} unreachable=0    failed={failed:<4} skipped=0    rescued=0    ignored=0   "
        ),
        String::new(),
    ]);
    let s = StepScript::sh(
        &format!(
            "ansible-playbook -i inventories/{env}/hosts.yml playbooks/deploy.yml -e service={svc} -e version={} -e image_digest={}",
            ctx.version, ctx.digest
        ),
        1,
        lines,
    );
    if fail {
        s.failed("script returned exit code 2")
    } else {
        s
    }
}

const RESET: &str = "\u{1b}[m";

/// Colours a step's output as the tool prints it with colour forced:
/// Maven 3.9 (JAnsi) for `mvn`, Ansible's for `ansible-playbook`.
fn colourize(s: &mut StepScript) {
    let Some(cmd) = s.description.as_deref() else {
        return;
    };
    let colour: fn(&str) -> String = if cmd.starts_with("mvn ") {
        maven_colour
    } else if cmd.starts_with("ansible-playbook") {
        ansible_colour
    } else {
        return;
    };
    // The first line is the shell's `+ command` echo.
    for l in s.lines.iter_mut().skip(1) {
        *l = colour(l);
    }
}

fn bold(s: &str) -> String {
    format!("\u{1b}[1m{s}{RESET}")
}

fn sgr(code: &str, s: &str) -> String {
    format!("\u{1b}[{code}m{s}{RESET}")
}

/// `pkg.Class` with the simple class name in bold, as surefire prints it.
fn class_bold(fqcn: &str) -> String {
    match fqcn.rsplit_once('.') {
        Some((pkg, class)) => format!("{pkg}.{}", bold(class)),
        None => bold(fqcn),
    }
}

/// One Maven line in Maven 3.9's colours (levels, mojo headers, verdicts,
/// surefire's counts); lines without a level tag stay as they are.
pub(crate) fn maven_colour(line: &str) -> String {
    let (level, code, rest) = if let Some(r) = line.strip_prefix("[INFO]") {
        ("INFO", "1;34", r)
    } else if let Some(r) = line.strip_prefix("[WARNING]") {
        ("WARNING", "1;33", r)
    } else if let Some(r) = line.strip_prefix("[ERROR]") {
        ("ERROR", "1;31", r)
    } else {
        return line.to_string();
    };
    let tag = format!("[{}]", sgr(code, level));
    let Some(body) = rest.strip_prefix(' ') else {
        return format!("{tag}{rest}");
    };
    let coloured = if body == "BUILD SUCCESS" {
        sgr("1;32", body)
    } else if body == "BUILD FAILURE" {
        sgr("1;31", body)
    } else if body.starts_with("---") && body.ends_with("---") && body.contains(" @ ") {
        // `--- surefire:3.2.5:test (default-test) @ svc ---`
        let inner = body.trim_start_matches("--- ").trim_end_matches(" ---");
        match (inner.split_once(" ("), inner.split_once(") @ ")) {
            (Some((goal, _)), Some((left, project))) => {
                let id = left.split_once(" (").map_or("", |(_, id)| id);
                format!(
                    "\u{1b}[1m--- \u{1b}[0;32m{goal}{RESET} {} @ \u{1b}[36m{project}\u{1b}[0;1m ---{RESET}",
                    bold(&format!("({id})"))
                )
            }
            _ => bold(body),
        }
    } else if body.starts_with("---") || body.starts_with(" T E S T S") || body.starts_with("Building ") {
        bold(body)
    } else if let Some(class) = body.strip_prefix("Running ") {
        format!("Running {}", class_bold(class))
    } else if let Some(counts) = body.strip_prefix("Tests run: ") {
        tests_run_colour(level, counts)
    } else if let Some(goal) = body.strip_prefix("Failed to execute goal ") {
        match (goal.split_once(" ("), goal.split_once(") on project ")) {
            (Some((plugin, _)), Some((left, tail))) => {
                let id = left.split_once(" (").map_or("", |(_, id)| id);
                let (project, msg) = tail.split_once(": ").unwrap_or((tail, ""));
                format!(
                    "Failed to execute goal {} {} on project {}: {}",
                    sgr("32", plugin),
                    bold(&format!("({id})")),
                    sgr("36", project),
                    sgr("1;31", msg)
                )
            }
            _ => body.to_string(),
        }
    } else if body == "Failures: " {
        sgr("1;31", body)
    } else if let Some(failure) = body.strip_prefix("  ").filter(|_| level == "ERROR") {
        match failure.split_once(' ') {
            Some((name, msg)) => format!("  {} {msg}", sgr("1;31", name)),
            None => format!("  {}", sgr("1;31", failure)),
        }
    } else if let Some(head) = body.strip_suffix(" <<< FAILURE!") {
        format!("{head}{}", sgr("1;31", " <<< FAILURE!"))
    } else if body.ends_with("-> [Help 1]") {
        format!("{}{}", body.trim_end_matches("[Help 1]"), bold("[Help 1]"))
    } else {
        body.to_string()
    };
    format!("{tag} {coloured}")
}

/// Surefire's counts: green when all passed, red on failures, yellow when skipped.
fn tests_run_colour(level: &str, counts: &str) -> String {
    let (counts, class) = match counts.split_once(" -- in ") {
        Some((c, class)) => (c, Some(class)),
        None => (counts, None),
    };
    let Some(class) = class else {
        // The summary line: all of it in the level's colour.
        let code = match level {
            "ERROR" => "1;31",
            "WARNING" => "1;33",
            _ => "1;32",
        };
        return sgr(code, &format!("Tests run: {counts}"));
    };
    let (counts, failure) = match counts.strip_suffix(" <<< FAILURE!") {
        Some(c) => (c, true),
        None => (counts, false),
    };
    let mut parts: Vec<String> = counts.split(", ").map(str::to_string).collect();
    if let Some(first) = parts.first_mut() {
        *first = sgr(if failure { "1;31" } else { "1;32" }, &format!("Tests run: {first}"));
    }
    for p in parts.iter_mut().skip(1) {
        let nonzero = p.split(": ").nth(1).is_some_and(|n| n != "0");
        if nonzero && (p.starts_with("Failures") || p.starts_with("Errors")) {
            *p = sgr("1;31", p);
        } else if nonzero && p.starts_with("Skipped") {
            *p = sgr("1;33", p);
        }
    }
    let mut out = parts.join(", ");
    if failure {
        out.push_str(&sgr("1;31", " <<< FAILURE!"));
    }
    format!("{out} -- in {}", class_bold(class))
}

/// Ansible's colours with `ANSIBLE_FORCE_COLOR`: ok green, changed yellow,
/// failures red; the recap colours each host by its worst count.
fn ansible_colour(line: &str) -> String {
    let c = |code: &str| format!("\u{1b}[{code}m{line}\u{1b}[0m");
    if line.starts_with("ok: ") || line.starts_with("    \"msg\"") || line == "}" {
        c("0;32")
    } else if line.starts_with("changed: ") {
        c("0;33")
    } else if line.starts_with("fatal: ") || line.starts_with("failed: ") {
        c("0;31")
    } else if let Some((host, counts)) = line.split_once(" : ok=") {
        let code = if counts.contains("failed=0") { "0;33" } else { "0;31" };
        let host_end = host.trim_end();
        let pad = &host[host_end.len()..];
        format!("\u{1b}[{code}m{host_end}\u{1b}[0m{pad} : ok={counts}")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(service: &str) -> ScriptCtx {
        ScriptCtx {
            service: service.into(),
            job: format!("dominion/{service}"),
            version: "2.3.41".into(),
            sha: "d".repeat(40),
            commit_msg: "Fix rounding".into(),
            branch: "master".into(),
            repo: format!("https://github.com/dominion/{service}.git"),
            digest: ids::digest(1, &["x"]),
            environment: None,
            agent: "agent-linux-02".into(),
            seed: 7,
            ansi: false,
            notes: false,
            big: None,
        }
    }

    #[test]
    fn failing_unit_tests_read_like_maven() {
        let stage = PlannedStage {
            name: "Build & unit tests".into(),
            duration: 60_000,
            outcome: Outcome::Fail(FailKind::UnitTests),
            tests: Some(TestCounts {
                total: 412,
                failed: 2,
                skipped: 3,
            }),
        };
        let steps = stage_script(&ctx("ledger-service"), &stage, 1_700_000_000_000);
        let text = steps[0].lines.join("\n");
        assert!(text.contains("[ERROR] Tests run: 412, Failures: 2, Errors: 0, Skipped: 3"));
        assert!(text.contains("BUILD FAILURE"));
        assert!(text.contains("\tat com.dominion.ledger.posting.JournalPostingServiceTest"));
        assert_eq!(steps[0].end_status, NodeStatus::Failed);
        assert_eq!(
            steps[0].error.as_ref().map(|e| e.message.as_str()),
            Some("script returned exit code 1")
        );
        // Per-class counts add up to the total.
        let sum: u32 = text
            .lines()
            .filter(|l| l.contains("-- in com."))
            .filter_map(|l| l.split("Tests run: ").nth(1)?.split(',').next()?.parse::<u32>().ok())
            .sum();
        assert_eq!(sum, 412);
    }

    fn failing(name: &str, kind: FailKind) -> PlannedStage {
        PlannedStage {
            name: name.into(),
            duration: 30_000,
            outcome: Outcome::Fail(kind),
            tests: None,
        }
    }

    fn text_of(steps: &[StepScript]) -> String {
        steps
            .iter()
            .flat_map(|s| s.lines.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn docker_build_fails_like_buildkit() {
        let steps = stage_script(&ctx("payments-api"), &failing("Docker build", FailKind::DockerBuild), 0);
        assert_eq!(steps.len(), 1);
        let text = text_of(&steps);
        let run = "RUN mvn -B -q dependency:go-offline";
        assert!(text.contains(&format!("\n#12 [builder 4/7] {run}\n#12 ")));
        assert!(text.contains(
            "\n#12 ERROR: process \"/bin/sh -c mvn -B -q dependency:go-offline\" did not complete successfully: exit code: 1\n"
        ));
        assert!(text.contains(&format!("\n------\n > [builder 4/7] {run}:\n")));
        assert!(text.ends_with(
            "\nERROR: failed to solve: process \"/bin/sh -c mvn -B -q dependency:go-offline\" did not complete successfully: exit code: 1"
        ));
        assert_eq!(steps[0].end_status, NodeStatus::Failed);
        assert_eq!(
            steps[0].error.as_ref().map(|e| e.message.as_str()),
            Some("script returned exit code 1")
        );
    }

    #[test]
    fn ansible_deploy_fails_with_a_fatal_task_and_exit_code_2() {
        let mut c = ctx("notification-worker");
        c.environment = Some("staging".into());
        let steps = stage_script(&c, &failing("Ansible deploy", FailKind::Ansible), 0);
        let text = text_of(&steps);
        assert!(text.contains("\nTASK [k8s_deploy : Apply deployment] ***"));
        assert!(text.contains("\nfatal: [k8s-master-1]: FAILED! => {\"changed\": false, \"error\": 422, \"msg\": \"Failed to patch object: "));
        assert!(
            text.contains("\nk8s-master-1               : ok=3    changed=1    unreachable=0    failed=1    skipped=0")
        );
        assert_eq!(
            steps[0].error.as_ref().map(|e| e.message.as_str()),
            Some("script returned exit code 2")
        );
        // Every banner is 80 columns.
        assert!(
            text.lines()
                .filter(|l| l.ends_with("***"))
                .all(|l| l.chars().count() == 80)
        );
        let ok = stage_script(
            &c,
            &PlannedStage {
                outcome: Outcome::Success,
                ..failing("Ansible deploy", FailKind::Ansible)
            },
            0,
        );
        assert!(text_of(&ok).contains(" failed=0 "));
        assert_eq!(ok[0].end_status, NodeStatus::Success);
    }

    #[test]
    fn a_rollout_past_its_deadline_fails_the_helm_stage() {
        let steps = stage_script(&ctx("catalog-service"), &failing("Helm upgrade", FailKind::Rollout), 0);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].end_status, NodeStatus::Success);
        assert!(!steps[0].lines[0].contains("--wait"));
        let last = steps[1].lines.last().unwrap();
        assert_eq!(
            last,
            "error: deployment \"catalog-service\" exceeded its progress deadline"
        );
        assert_eq!(steps[1].end_status, NodeStatus::Failed);
    }

    #[test]
    fn maven_in_colour_keeps_its_words() {
        let strip = |s: &str| {
            let mut out = String::new();
            let mut rest = s;
            while let Some(i) = rest.find('\u{1b}') {
                out.push_str(&rest[..i]);
                let end = rest[i..].find('m').unwrap();
                rest = &rest[i + end + 1..];
            }
            out + rest
        };
        for line in [
            "[INFO] --- surefire:3.2.5:test (default-test) @ ledger-service ---",
            "[ERROR] Tests run: 59, Failures: 1, Errors: 0, Skipped: 3, Time elapsed: 2.455 s <<< FAILURE! -- in com.dominion.ledger.posting.JournalPostingServiceTest",
            "[INFO] Tests run: 74, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.436 s -- in com.dominion.ledger.account.AccountRepositoryTest",
            "[ERROR] Tests run: 412, Failures: 2, Errors: 0, Skipped: 3",
            "[INFO] BUILD FAILURE",
            "[INFO]   from pom.xml",
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test (default-test) on project ledger-service: There are test failures.",
            "[ERROR]   CurrencyRoundingTest.roundsHalfEvenForJpy:41 Unexpected exception thrown: java.lang.ArithmeticException: Rounding necessary",
            "\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)",
        ] {
            let c = maven_colour(line);
            assert_eq!(strip(&c), line);
            assert_eq!(c.contains('\u{1b}'), line.starts_with('['), "{c:?}");
        }
        assert_eq!(
            maven_colour("[INFO] BUILD FAILURE"),
            "[\u{1b}[1;34mINFO\u{1b}[m] \u{1b}[1;31mBUILD FAILURE\u{1b}[m"
        );
        assert_eq!(
            maven_colour("[INFO]   from pom.xml"),
            "[\u{1b}[1;34mINFO\u{1b}[m]   from pom.xml"
        );
    }

    #[test]
    fn console_notes_hide_before_pipeline_lines() {
        let mut c = ctx("ledger-service");
        assert_eq!(pipeline_line(&c, "sh", 1), "[Pipeline] sh\n");
        c.notes = true;
        let l = pipeline_line(&c, "sh", 1);
        assert!(l.starts_with("\u{1b}[8mha:////4"), "{l}");
        assert!(l.ends_with("\u{1b}[0m[Pipeline] sh\n"), "{l}");
        assert_eq!(l, pipeline_line(&c, "sh", 1));
        assert_ne!(l, pipeline_line(&c, "sh", 2));
        let b64 = &l[l.find("ha:").unwrap() + 3..l.find("\u{1b}[0m").unwrap()];
        assert!(b64.contains("H4sIAAAAAAAA"), "a gzip header: {b64}");
    }

    #[test]
    fn every_pipeline_stage_has_steps() {
        for (name, _, _) in super::super::story::PIPELINE {
            let stage = PlannedStage {
                name: name.into(),
                duration: 10_000,
                outcome: Outcome::Success,
                tests: None,
            };
            let steps = stage_script(&ctx("payments-api"), &stage, 0);
            assert!(!steps.is_empty(), "{name}");
            assert!(steps.iter().all(|s| s.end_status == NodeStatus::Success), "{name}");
        }
    }
}
