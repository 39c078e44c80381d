//! Console text of simulated builds: what a real Jenkins shows for a
//! declarative pipeline running Maven, Sonar, Docker, Trivy and Helm, so the
//! cockpit's log views and failure extraction meet realistic input.

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
                    "expected: <125> but was: <124>",
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
            "[Pipeline] Start of Pipeline".to_string(),
            "[Pipeline] node".to_string(),
            format!("Running on {} in {}", ctx.agent, ctx.workspace()),
            "[Pipeline] {".to_string(),
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
        "Helm upgrade" => vec![helm(ctx, at)],
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
    lines.push("[INFO] ".to_string());
    lines.push("[INFO] Results:".to_string());
    lines.push("[INFO] ".to_string());
    if !failing.is_empty() {
        lines.push("[ERROR] Failures: ".to_string());
        for (c, m, line, msg) in failing.iter().map(|f| **f) {
            let simple = c.rsplit('.').next().unwrap_or(c);
            lines.push(format!("[ERROR]   {simple}{suffix}.{m}:{line} {msg}"));
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
    if fail.is_none() {
        return vec![wait];
    }
    let msg = "Pipeline aborted due to quality gate failure: ERROR";
    vec![wait, StepScript::new("error", "Error signal", 1, vec![]).failed(msg)]
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
    lines.extend(test_run(ctx, tests, &classes, &failing, suffix));
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
