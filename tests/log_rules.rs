//! The shipped error rules on real build output: excerpts of public Maven, Jenkins, docker, kubectl
//! and Ansible logs, quoted as test data (sources in `tests/data/logs/PROVENANCE.md`), judged line
//! by line and by the per-kind count the summary line shows.
//!
//! Each excerpt records the kind every line deserves (ranges of 1-based line numbers; every other
//! line deserves none). Where the shipped rules give another answer today the line is listed as
//! disputed: the line-by-line test skips it and an ignored test asserts what it should be, so the
//! ignored tests are the list of rule changes wanted. A few lines are left open: neither a kind
//! nor `None` is asserted for them (a Jenkins verdict such as `Finished: FAILURE` has no kind yet).

use std::collections::BTreeMap;

use flightdeck::logview::rules::ErrorRules;

/// One excerpt and what the rules should make of it.
struct Case {
    file: &'static str,
    text: &'static str,
    /// Inclusive line ranges that deserve a kind, and the kind.
    expect: &'static [(usize, usize, &'static str)],
    /// Lines the shipped rules read otherwise (asserted only by the ignored tests).
    disputed: &'static [usize],
    /// Lines nothing is asserted about.
    open: &'static [usize],
    /// The summary's count per kind, as it should be (kinds with no line are left out).
    counts: &'static [(&'static str, usize)],
}

impl Case {
    fn lines(&self) -> Vec<&'static str> {
        self.text.lines().collect()
    }

    fn expected(&self, line: usize) -> Option<&'static str> {
        self.expect
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&line))
            .map(|(_, _, kind)| *kind)
    }
}

fn describe(case: &Case, line: usize, text: &str, want: Option<&str>, got: Option<&str>) -> String {
    format!("{}:{line}: want {want:?}, rules give {got:?}\n    {text}", case.file)
}

/// Every line that is neither disputed nor open gets exactly the kind the table says.
fn check_lines(case: &Case) {
    let rules = ErrorRules::defaults();
    let mut wrong = Vec::new();
    for (i, text) in case.lines().into_iter().enumerate() {
        let line = i + 1;
        if case.disputed.contains(&line) || case.open.contains(&line) {
            continue;
        }
        let want = case.expected(line);
        let got = rules.classify(text);
        if got != want {
            wrong.push(describe(case, line, text, want, got));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} line(s) misread:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The disputed lines get the kind they deserve (fails while the rules still disagree).
fn check_disputed(case: &Case) {
    let rules = ErrorRules::defaults();
    let lines = case.lines();
    let mut wrong = Vec::new();
    for &line in case.disputed {
        let text = lines[line - 1];
        let want = case.expected(line);
        let got = rules.classify(text);
        if got != want {
            wrong.push(describe(case, line, text, want, got));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} line(s) misread:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn tally<'a>(kinds: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for kind in kinds {
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
}

/// The summary line's count per kind, over the whole excerpt (open lines included).
fn check_summary(case: &Case) {
    let rules = ErrorRules::defaults();
    let lines = case.lines();
    let got = tally(lines.iter().filter_map(|text| rules.classify(text)));
    let want: BTreeMap<&str, usize> = case.counts.iter().copied().collect();
    assert_eq!(got, want, "{}: count per kind", case.file);
}

// ---------------------------------------------------------------------------------------------
// Maven

/// Surefire 3.1.2, JUnit 5 + Mockito: one class errors, Results block, BUILD FAILURE.
const MAVEN_SUREFIRE_FAILURE: Case = Case {
    file: "maven-surefire-failure.log",
    text: include_str!("data/logs/maven-surefire-failure.log"),
    expect: &[
        (35, 35, "test-failures"), // [ERROR] Tests run: 2, Failures: 0, Errors: 1, … <<< FAILURE!
        (36, 36, "maven-error"),   // [ERROR] …softDeleteRecord_Success -- Time elapsed … <<< ERROR!
        (37, 37, "exception"),     // org.mockito.exceptions.misusing.UnnecessaryStubbingException:
        (51, 52, "maven-error"),   // [ERROR] Errors: / the failing test
        (59, 59, "test-failures"), // [ERROR] Tests run: 6, Failures: 0, Errors: 1, Skipped: 0
        (62, 62, "build-failure"),
        (67, 77, "maven-error"), // Failed to execute goal …maven-surefire-plugin… and Maven's advice
    ],
    disputed: &[],
    open: &[],
    counts: &[
        ("build-failure", 1),
        ("exception", 1),
        ("maven-error", 14),
        ("test-failures", 2),
    ],
};

#[test]
fn maven_surefire_failure() {
    check_lines(&MAVEN_SUREFIRE_FAILURE);
    check_summary(&MAVEN_SUREFIRE_FAILURE);
}

#[test]
fn surefire_lines_the_on_call_engineer_needs() {
    let rules = ErrorRules::defaults();
    let lines = MAVEN_SUREFIRE_FAILURE.lines();
    // The passing class's count line and the JVM's agent warnings are not errors.
    assert!(lines[32].starts_with("[INFO] Tests run: 4, Failures: 0, Errors: 0"));
    assert_eq!(rules.classify(lines[32]), None);
    assert!(lines[27].starts_with("WARNING: A Java agent"));
    assert_eq!(rules.classify(lines[27]), None);
    // Stack frames (tab-indented) and Mockito's "  1. -> at …" pointer are not headers.
    assert!(lines[43].starts_with("\tat "));
    assert_eq!(rules.classify(lines[43]), None);
    assert!(lines[41].starts_with("  1. -> at "));
    assert_eq!(rules.classify(lines[41]), None);
    // The first error of the build is the failing class's count line.
    let first = lines.iter().position(|l| rules.classify(l).is_some()).unwrap() + 1;
    assert_eq!(first, 35);
}

/// maven-compiler-plugin 3.11.0 on JDK 17: COMPILATION WARNING block, then `cannot find symbol`
/// with javac's unprefixed `symbol:`/`location:` continuation lines, reactor summary, BUILD FAILURE.
const MAVEN_COMPILATION_ERROR: Case = Case {
    file: "maven-compilation-error.log",
    text: include_str!("data/logs/maven-compilation-error.log"),
    expect: &[
        (11, 11, "maven-error"), // [ERROR] COMPILATION ERROR :
        (13, 13, "maven-error"), // [ERROR] /C:/…/EncoderUtils.java:[30,9] cannot find symbol
        (29, 29, "build-failure"),
        (34, 48, "maven-error"),
    ],
    disputed: &[],
    open: &[],
    counts: &[("build-failure", 1), ("maven-error", 17)],
};

#[test]
fn maven_compilation_error() {
    check_lines(&MAVEN_COMPILATION_ERROR);
    check_summary(&MAVEN_COMPILATION_ERROR);
}

/// maven-compiler-plugin 2.3.2 on Java 7: the `…:[36,22] error: cannot find symbol` form.
const MAVEN_COMPILATION_ERROR_JAVAC7: Case = Case {
    file: "maven-compilation-error-javac7.log",
    text: include_str!("data/logs/maven-compilation-error-javac7.log"),
    expect: &[
        (4, 4, "maven-error"),
        (6, 6, "maven-error"),
        (10, 10, "build-failure"),
        (16, 18, "maven-error"),
    ],
    disputed: &[],
    open: &[],
    counts: &[("build-failure", 1), ("maven-error", 5)],
};

#[test]
fn maven_compilation_error_javac7() {
    check_lines(&MAVEN_COMPILATION_ERROR_JAVAC7);
    check_summary(&MAVEN_COMPILATION_ERROR_JAVAC7);
}

/// `Could not resolve dependencies` (DependencyResolutionException), Maven 3.6 layout.
const MAVEN_DEPENDENCY_RESOLUTION: Case = Case {
    file: "maven-dependency-resolution.log",
    text: include_str!("data/logs/maven-dependency-resolution.log"),
    expect: &[(2, 2, "build-failure"), (7, 13, "maven-error")],
    disputed: &[],
    open: &[],
    counts: &[("build-failure", 1), ("maven-error", 7)],
};

#[test]
fn maven_dependency_resolution() {
    check_lines(&MAVEN_DEPENDENCY_RESOLUTION);
    check_summary(&MAVEN_DEPENDENCY_RESOLUTION);
}

/// `mvn -e`: LifecycleExecutionException with Maven's `    at pkg.Class.method (File.java:n)`
/// frames and two `Caused by:` levels, then the closing [ERROR] advice.
const MAVEN_E_STACKTRACE: Case = Case {
    file: "maven-e-stacktrace.log",
    text: include_str!("data/logs/maven-e-stacktrace.log"),
    expect: &[
        (1, 1, "exception"),   // org.apache.maven.lifecycle.LifecycleExecutionException: …
        (23, 23, "caused-by"), // Caused by: org.apache.maven.plugin.PluginExecutionException: …
        (46, 46, "caused-by"), // Caused by: java.lang.NullPointerException
        (76, 80, "maven-error"),
    ],
    disputed: &[],
    open: &[],
    counts: &[("caused-by", 2), ("exception", 1), ("maven-error", 5)],
};

#[test]
fn maven_e_stacktrace() {
    check_lines(&MAVEN_E_STACKTRACE);
    check_summary(&MAVEN_E_STACKTRACE);
}

/// A JVM stack trace: header, tab-indented frames, two `Caused by:` and `... N more`.
const JAVA_STACKTRACE_CAUSED_BY: Case = Case {
    file: "java-stacktrace-caused-by.log",
    text: include_str!("data/logs/java-stacktrace-caused-by.log"),
    expect: &[
        (1, 1, "exception"), // java.lang.reflect.InvocationTargetException (no message)
        (8, 8, "caused-by"),
        (11, 11, "caused-by"),
    ],
    disputed: &[],
    open: &[],
    counts: &[("caused-by", 2), ("exception", 1)],
};

#[test]
fn java_stacktrace_caused_by() {
    check_lines(&JAVA_STACKTRACE_CAUSED_BY);
    check_summary(&JAVA_STACKTRACE_CAUSED_BY);
    let lines = JAVA_STACKTRACE_CAUSED_BY.lines();
    assert_eq!(lines[9], "\t... 6 more");
    assert_eq!(lines[14], "\t... 7 more");
}

/// A clean module of a Maven 3.9 reactor: tests pass, `[WARNING]` lines, nothing fires.
const MAVEN_SUCCESS_MODULE: Case = Case {
    file: "maven-success-module.log",
    text: include_str!("data/logs/maven-success-module.log"),
    expect: &[],
    disputed: &[],
    open: &[],
    counts: &[],
};

#[test]
fn maven_success_module() {
    check_lines(&MAVEN_SUCCESS_MODULE);
    check_summary(&MAVEN_SUCCESS_MODULE);
    let text = MAVEN_SUCCESS_MODULE.text;
    assert!(text.contains("[INFO] Tests run: 1, Failures: 0, Errors: 0, Skipped: 0\n"));
    assert!(text.contains("[WARNING] Skipping Delombok; no source to process.\n"));
}

/// The end of the same reactor: 22 modules SUCCESS, BUILD SUCCESS, nothing fires.
const MAVEN_SUCCESS_REACTOR: Case = Case {
    file: "maven-success-reactor.log",
    text: include_str!("data/logs/maven-success-reactor.log"),
    expect: &[],
    disputed: &[],
    open: &[],
    counts: &[],
};

#[test]
fn maven_success_reactor() {
    check_lines(&MAVEN_SUCCESS_REACTOR);
    check_summary(&MAVEN_SUCCESS_REACTOR);
    assert!(MAVEN_SUCCESS_REACTOR.text.contains("[INFO] BUILD SUCCESS\n"));
}

// ---------------------------------------------------------------------------------------------
// Jenkins

/// A declarative Pipeline: helm upgrade, `kubectl rollout status` times out, the `sh` step fails.
const JENKINS_KUBECTL_EXIT_CODE: Case = Case {
    file: "jenkins-kubectl-exit-code.log",
    text: include_str!("data/logs/jenkins-kubectl-exit-code.log"),
    expect: &[
        (32, 32, "kubectl"),   // error: deployment "mern-frontend" exceeded its progress deadline
        (60, 60, "exit-code"), // ERROR: script returned exit code 1
    ],
    disputed: &[],
    // `Finished: FAILURE`: Jenkins' verdict; no kind claims it today (see the report).
    open: &[61],
    counts: &[("exit-code", 1), ("kubectl", 1)],
};

#[test]
fn jenkins_kubectl_exit_code() {
    check_lines(&JENKINS_KUBECTL_EXIT_CODE);
    check_summary(&JENKINS_KUBECTL_EXIT_CODE);
    // helm's and Jenkins' warnings are not errors.
    let rules = ErrorRules::defaults();
    let lines = JENKINS_KUBECTL_EXIT_CODE.lines();
    assert!(lines[18].starts_with("coalesce.go:319: warning:"));
    assert_eq!(rules.classify(lines[18]), None);
    assert!(lines[6].starts_with("Warning: A secret was passed"));
    assert_eq!(rules.classify(lines[6]), None);
}

/// waitForQualityGate with abortPipeline: the gate is ERROR, the Pipeline is aborted.
const JENKINS_QUALITY_GATE: Case = Case {
    file: "jenkins-quality-gate.log",
    text: include_str!("data/logs/jenkins-quality-gate.log"),
    expect: &[
        (7, 7, "quality-gate"),   // SonarQube task '…' completed. Quality gate is 'ERROR'
        (23, 23, "quality-gate"), // ERROR: Pipeline aborted due to quality gate failure: ERROR
    ],
    disputed: &[],
    open: &[24], // Finished: FAILURE
    counts: &[("quality-gate", 2)],
};

#[test]
fn jenkins_quality_gate() {
    check_lines(&JENKINS_QUALITY_GATE);
}

#[test]
fn jenkins_quality_gate_disputed() {
    check_disputed(&JENKINS_QUALITY_GATE);
    check_summary(&JENKINS_QUALITY_GATE);
}

/// A freestyle job running an Ansible playbook (Ansible plugin): the play aborts, the build step
/// fails with hudson.AbortException.
const JENKINS_ANSIBLE: Case = Case {
    file: "jenkins-ansible.log",
    text: include_str!("data/logs/jenkins-ansible.log"),
    expect: &[
        (4, 4, "ansible"),     // FATAL: all hosts have already failed -- aborting
        (9, 9, "ansible"),     // localhost : ok=17 changed=8 unreachable=0 failed=1
        (12, 12, "exception"), // hudson.AbortException: Ansible playbook execution failed
    ],
    disputed: &[],
    // `FATAL: command execution failed` and `ERROR: Ansible playbook execution failed`: Jenkins'
    // own step-failure lines; no kind claims them today (see the report).
    open: &[11, 25],
    counts: &[("ansible", 2), ("exception", 1)],
};

#[test]
fn jenkins_ansible() {
    check_lines(&JENKINS_ANSIBLE);
}

#[test]
fn jenkins_ansible_disputed() {
    check_disputed(&JENKINS_ANSIBLE);
    check_summary(&JENKINS_ANSIBLE);
}

/// BuildKit output inside a Jenkins console copied with Timestamper's `HH:MM:SS  ` prefix.
const JENKINS_DOCKER_TIMESTAMPS: Case = Case {
    file: "jenkins-docker-timestamps.log",
    text: include_str!("data/logs/jenkins-docker-timestamps.log"),
    expect: &[
        (1, 11, "maven-error"),  // 21:53:25  #18 130.8 [ERROR] …
        (12, 12, "docker"),      // 21:53:25  #18 ERROR: process "…" did not complete successfully: …
        (15, 17, "maven-error"), // 21:53:25  130.8 [ERROR] …
    ],
    disputed: &[],
    open: &[],
    counts: &[("docker", 1), ("maven-error", 14)],
};

#[test]
fn jenkins_docker_timestamps() {
    check_lines(&JENKINS_DOCKER_TIMESTAMPS);
}

#[test]
fn jenkins_docker_timestamps_disputed() {
    check_disputed(&JENKINS_DOCKER_TIMESTAMPS);
    check_summary(&JENKINS_DOCKER_TIMESTAMPS);
}

// ---------------------------------------------------------------------------------------------
// docker, Ansible

/// `docker build` (BuildKit, plain progress) of a Maven image: Maven's lines carry the step
/// number and elapsed seconds.
const DOCKER_BUILDKIT_MAVEN: Case = Case {
    file: "docker-buildkit-maven.log",
    text: include_str!("data/logs/docker-buildkit-maven.log"),
    expect: &[
        (2, 2, "build-failure"), // #8 11.36 [INFO] BUILD FAILURE
        (7, 13, "maven-error"),  // #8 11.36 [ERROR] Failed to execute goal …
    ],
    disputed: &[],
    open: &[],
    counts: &[("build-failure", 1), ("maven-error", 7)],
};

#[test]
fn docker_buildkit_maven() {
    check_lines(&DOCKER_BUILDKIT_MAVEN);
}

#[test]
fn docker_buildkit_maven_disputed() {
    check_disputed(&DOCKER_BUILDKIT_MAVEN);
    check_summary(&DOCKER_BUILDKIT_MAVEN);
}

/// `docker compose` (BuildKit) failing a RUN step: the Dockerfile snippet and compose's verdict.
const DOCKER_COMPOSE_FAILED_TO_SOLVE: Case = Case {
    file: "docker-compose-failed-to-solve.log",
    text: include_str!("data/logs/docker-compose-failed-to-solve.log"),
    expect: &[(17, 17, "docker")], // failed to solve: process "…" did not complete successfully: exit code: 2
    disputed: &[],
    open: &[],
    counts: &[("docker", 1)],
};

#[test]
fn docker_compose_failed_to_solve() {
    check_lines(&DOCKER_COMPOSE_FAILED_TO_SOLVE);
}

#[test]
fn docker_compose_failed_to_solve_disputed() {
    check_disputed(&DOCKER_COMPOSE_FAILED_TO_SOLVE);
    check_summary(&DOCKER_COMPOSE_FAILED_TO_SOLVE);
}

/// ansible-playbook: one host unreachable, the play stops, a PLAY RECAP with no failures.
const ANSIBLE_UNREACHABLE: Case = Case {
    file: "ansible-unreachable.log",
    text: include_str!("data/logs/ansible-unreachable.log"),
    expect: &[(1, 1, "ansible")], // fatal: [10.5.9.185]: UNREACHABLE! => {…}
    disputed: &[],
    open: &[],
    counts: &[("ansible", 1)],
};

#[test]
fn ansible_unreachable() {
    check_lines(&ANSIBLE_UNREACHABLE);
    check_summary(&ANSIBLE_UNREACHABLE);
}

// ---------------------------------------------------------------------------------------------
// The excerpts themselves

const CASES: &[&Case] = &[
    &MAVEN_SUREFIRE_FAILURE,
    &MAVEN_COMPILATION_ERROR,
    &MAVEN_COMPILATION_ERROR_JAVAC7,
    &MAVEN_DEPENDENCY_RESOLUTION,
    &MAVEN_E_STACKTRACE,
    &JAVA_STACKTRACE_CAUSED_BY,
    &MAVEN_SUCCESS_MODULE,
    &MAVEN_SUCCESS_REACTOR,
    &JENKINS_KUBECTL_EXIT_CODE,
    &JENKINS_QUALITY_GATE,
    &JENKINS_ANSIBLE,
    &JENKINS_DOCKER_TIMESTAMPS,
    &DOCKER_BUILDKIT_MAVEN,
    &DOCKER_COMPOSE_FAILED_TO_SOLVE,
    &ANSIBLE_UNREACHABLE,
];

/// Every excerpt is 10–80 lines, its tables stay inside it and agree with each other, and every
/// disputed line really is read otherwise today (so the ignored tests list only real gaps).
#[test]
fn cases_are_well_formed() {
    let rules = ErrorRules::defaults();
    for case in CASES {
        let lines = case.lines();
        let n = lines.len();
        assert!((10..=80).contains(&n), "{}: {n} lines", case.file);
        for &(first, last, kind) in case.expect {
            assert!(
                1 <= first && first <= last && last <= n,
                "{}: range {first}-{last}",
                case.file
            );
            assert!(
                rules.kinds().iter().any(|k| k == kind),
                "{}: unknown kind {kind}",
                case.file
            );
        }
        for &line in case.disputed.iter().chain(case.open) {
            assert!((1..=n).contains(&line), "{}: line {line}", case.file);
        }
        for &line in case.disputed {
            assert_ne!(
                rules.classify(lines[line - 1]),
                case.expected(line),
                "{}:{line} is no longer disputed: move it out of `disputed` and un-ignore the test",
                case.file
            );
        }
        // The counts are the table's, line for line.
        let from_table = tally((1..=n).filter_map(|line| case.expected(line)));
        let counts: BTreeMap<&str, usize> = case.counts.iter().copied().collect();
        assert_eq!(from_table, counts, "{}: counts vs table", case.file);
    }
}

/// Every excerpt on disk has a case and a provenance entry, and every case's file is on disk.
#[test]
fn every_excerpt_is_tested_and_sourced() {
    let dir = format!("{}/tests/data/logs", env!("CARGO_MANIFEST_DIR"));
    let provenance = std::fs::read_to_string(format!("{dir}/PROVENANCE.md")).unwrap();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".log"))
        .collect();
    on_disk.sort();
    let mut cased: Vec<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    cased.sort();
    assert_eq!(on_disk, cased);
    for name in &on_disk {
        assert!(
            provenance.contains(&format!("`{name}`")),
            "{name} is not in PROVENANCE.md"
        );
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let case = CASES.iter().find(|c| c.file == name).unwrap();
        assert_eq!(text, case.text, "{name}: include_str! and the file differ");
    }
}
