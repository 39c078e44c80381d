//! `[log]`: the error rules of the log view (added to or thinning the shipped ones) and where `w`
//! writes logs.

use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::logview::rules::{ErrorRules, RuleSpec};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Rules tried before the shipped ones: `{ kind = "…", pattern = "regex" }`.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Shipped rules to switch off, by kind.
    #[serde(default)]
    pub disable: Vec<Spanned<String>>,
    /// Where `w` writes a log (default: the data directory's `logs/`).
    #[serde(default)]
    pub save_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub kind: Spanned<String>,
    pub pattern: Spanned<String>,
}

/// The log settings after validation.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    pub rules: ErrorRules,
    pub save_dir: Option<PathBuf>,
}

/// Compile the rules; a bad one is reported at its pattern with its key.
pub fn resolve(
    raw: LogConfig,
    located: &dyn Fn(Range<usize>, &str, String) -> super::ConfigError,
) -> Result<LogSettings, super::ConfigError> {
    let shipped = ErrorRules::default_specs();
    for d in &raw.disable {
        if !shipped.iter().any(|s| &s.kind == d.get_ref()) {
            let known: Vec<&str> = shipped.iter().map(|s| s.kind.as_str()).collect();
            return Err(located(
                d.span(),
                "log.disable",
                format!(
                    "no shipped rule is called `{}` (they are: {})",
                    d.get_ref(),
                    known.join(", ")
                ),
            ));
        }
    }
    let mut specs = Vec::new();
    for (i, r) in raw.rules.iter().enumerate() {
        let key = format!("log.rules[{i}]");
        if r.kind.get_ref().trim().is_empty() {
            return Err(located(
                r.kind.span(),
                &format!("{key}.kind"),
                "a rule needs a kind".into(),
            ));
        }
        let spec = RuleSpec {
            kind: r.kind.get_ref().clone(),
            pattern: r.pattern.get_ref().clone(),
        };
        if let Err(e) = ErrorRules::compile(std::slice::from_ref(&spec)) {
            return Err(located(
                r.pattern.span(),
                &format!("{key}.pattern"),
                format!("not a valid regex: {}", e.message),
            ));
        }
        specs.push(spec);
    }
    specs.extend(
        shipped
            .into_iter()
            .filter(|s| !raw.disable.iter().any(|d| d.get_ref() == &s.kind)),
    );
    let rules = ErrorRules::compile(&specs).map_err(|e| located(0..0, "log.rules", e.to_string()))?;
    Ok(LogSettings {
        rules,
        save_dir: raw.save_dir,
    })
}
