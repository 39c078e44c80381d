//! Which log lines are errors, and of what kind. Rules are regular expressions over the visible text
//! of a line (ANSI sequences and console notes already removed); the first rule that matches names
//! the line's kind, so the more specific rules come first.

use regex::bytes::{Regex, RegexSet};

/// One rule: a kind (the summary line counts per kind) and the pattern that recognises it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub kind: String,
    pub pattern: String,
}

/// What may precede a tool's own text on a console line: a Timestamper stamp (`21:53:25  `,
/// `[2026-11-25T03:12:45.123Z] `) and BuildKit's step and seconds (`#8 11.36 `).
const PREFIX: &str = r"^(?:\[?[\d:.TZ+-]{8,}\]?\s+)?(?:#\d+ )?(?:\d+\.\d+ )?";

/// The shipped rules, most specific first: (kind, pattern). `^` in a pattern stands for the
/// start of the line after [`PREFIX`]. Each is anchored on text these tools really print, so a
/// line that merely mentions "error" is not one.
pub const DEFAULT_RULES: &[(&str, &str)] = &[
    // Maven's reactor verdict.
    ("build-failure", r"BUILD FAILURE"),
    // Surefire/Failsafe counts with at least one failure or error ("Failures: 0, Errors: 0" is not).
    (
        "test-failures",
        r"Tests run: \d+, Failures: (?:[1-9]\d*, Errors: \d+|\d+, Errors: [1-9]\d*)",
    ),
    // sonar-scanner's wait, and the Jenkins waitForQualityGate step.
    (
        "quality-gate",
        r"QUALITY GATE STATUS: (?:FAILED|ERROR)|Pipeline aborted due to quality gate failure|(?i:quality gate (?:is |status:? )?'?(?:failed|error)\b)",
    ),
    // BuildKit ("#12 ERROR: …", "ERROR: failed to solve"), compose, and the legacy builder.
    (
        "docker",
        r"^(?:ERROR(?: \[[^\]]*\])?: |(?i:error): )?(?:failed to solve|process .* did not complete successfully|executor failed running)|returned a non-zero code: [1-9]",
    ),
    // Ansible task failures, unreachable hosts, the play's end, and a recap that counts failures.
    (
        "ansible",
        r"^(?:fatal|failed): \[[^\]]+\]|FAILED! =>|UNREACHABLE! =>|^ERROR! |^FATAL: all hosts have already failed|^\S+\s+: ok=\d+ .*(?:unreachable=[1-9]|failed=[1-9])",
    ),
    // kubectl and the API server.
    ("kubectl", r"^error: |^Error from server|exceeded its progress deadline"),
    // A failing `sh`/`bat` step as the Pipeline reports it.
    ("exit-code", r"script returned exit code [1-9]\d*"),
    ("caused-by", r"^\s*Caused by: "),
    // A Java exception header: a qualified class name ending in Exception/Error, at the line start
    // (or after Maven's "[ERROR] " or the JVM's "Exception in thread").
    (
        "exception",
        r#"^(?:\[ERROR\] )?(?:Exception in thread "[^"]*" )?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Failure|Throwable)(?::|$| )"#,
    ),
    // Everything else Maven marks as an error or worse.
    ("maven-error", r"^\s*\[(?:ERROR|FATAL)\]"),
    // An application's own log line at ERROR or FATAL (logback's and log4j's default layouts), as
    // tests and servers print them into the console.
    (
        "app-error",
        r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[.,]\d+\s+(?:\[[^\]]*\]\s+)?(?:ERROR|FATAL)\b",
    ),
];

/// A shipped pattern with its `^` anchors widened to allow the console prefixes.
fn with_prefix(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 64);
    let mut depth_escape = false;
    for c in pattern.chars() {
        if c == '^' && !depth_escape && !out.ends_with('[') {
            out.push_str(&format!("(?:{PREFIX})"));
        } else {
            out.push(c);
        }
        depth_escape = c == '\\' && !depth_escape;
    }
    out
}

/// The compiled rules. Matching is on bytes, so a line that is not valid UTF-8 is still judged.
#[derive(Clone, Debug)]
pub struct ErrorRules {
    kinds: Vec<String>,
    patterns: Vec<Regex>,
    /// One pass over a line says whether any rule matches: most lines match none.
    set: RegexSet,
}

/// A rule that did not compile, with the pattern's index for the config error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub index: usize,
    pub kind: String,
    pub message: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule {:?}: {}", self.kind, self.message)
    }
}

impl ErrorRules {
    /// The shipped rules.
    pub fn defaults() -> ErrorRules {
        Self::compile(&default_specs()).expect("the shipped rules compile")
    }

    /// The shipped rules as specs, for the config to extend or thin out.
    pub fn default_specs() -> Vec<RuleSpec> {
        default_specs()
    }

    pub fn compile(specs: &[RuleSpec]) -> Result<ErrorRules, RuleError> {
        let mut patterns = Vec::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            let re = Regex::new(&spec.pattern).map_err(|e| RuleError {
                index,
                kind: spec.kind.clone(),
                message: first_line(&e.to_string()),
            })?;
            patterns.push(re);
        }
        let set = RegexSet::new(specs.iter().map(|s| s.pattern.as_str())).map_err(|e| RuleError {
            index: 0,
            kind: String::new(),
            message: first_line(&e.to_string()),
        })?;
        Ok(ErrorRules {
            kinds: specs.iter().map(|s| s.kind.clone()).collect(),
            patterns,
            set,
        })
    }

    /// The kind of the first rule that matches this line's visible text, if any.
    pub fn classify(&self, line: &str) -> Option<&str> {
        self.classify_bytes(line.as_bytes()).map(|i| self.kinds[i].as_str())
    }

    /// As [`classify`](Self::classify), on raw bytes, giving the rule's index.
    pub fn classify_bytes(&self, line: &[u8]) -> Option<usize> {
        if !self.set.is_match(line) {
            return None;
        }
        self.set.matches(line).into_iter().next()
    }

    pub fn kind(&self, index: usize) -> &str {
        &self.kinds[index]
    }

    pub fn kinds(&self) -> &[String] {
        &self.kinds
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The pattern of rule `index` (to highlight what matched).
    pub fn pattern(&self, index: usize) -> &Regex {
        &self.patterns[index]
    }
}

impl Default for ErrorRules {
    fn default() -> Self {
        Self::defaults()
    }
}

fn default_specs() -> Vec<RuleSpec> {
    DEFAULT_RULES
        .iter()
        .map(|(kind, pattern)| RuleSpec {
            kind: (*kind).to_string(),
            pattern: with_prefix(pattern),
        })
        .collect()
}

fn first_line(s: &str) -> String {
    // regex's messages draw a caret under the pattern over several lines; the last line says why.
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(line: &str) -> Option<String> {
        ErrorRules::defaults().classify(line).map(str::to_string)
    }

    #[test]
    fn test_counts_with_failures_are_errors_and_clean_counts_are_not() {
        assert_eq!(
            kind("[ERROR] Tests run: 12, Failures: 2, Errors: 0, Skipped: 1").as_deref(),
            Some("test-failures")
        );
        assert_eq!(
            kind("Tests run: 12, Failures: 0, Errors: 3, Skipped: 0").as_deref(),
            Some("test-failures")
        );
        assert_eq!(kind("[INFO] Tests run: 12, Failures: 0, Errors: 0, Skipped: 0"), None);
    }

    #[test]
    fn exception_headers_but_not_frames_or_prose() {
        assert_eq!(
            kind("java.lang.IllegalStateException: ledger closed").as_deref(),
            Some("exception")
        );
        assert_eq!(
            kind("Exception in thread \"main\" java.lang.NullPointerException").as_deref(),
            Some("exception")
        );
        assert_eq!(
            kind("Caused by: java.sql.SQLException: timeout").as_deref(),
            Some("caused-by")
        );
        assert_eq!(kind("\tat com.dominion.Ledger.post(Ledger.java:42)"), None);
        assert_eq!(kind("no errors were found in java.lang"), None);
    }

    #[test]
    fn a_bad_pattern_names_its_rule() {
        let err = ErrorRules::compile(&[RuleSpec {
            kind: "mine".into(),
            pattern: "(unclosed".into(),
        }])
        .unwrap_err();
        assert_eq!(err.kind, "mine");
        assert!(err.message.contains("unclosed"), "{}", err.message);
    }
}
