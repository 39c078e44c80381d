//! Label and field selectors as the API server parses them from
//! `labelSelector=` and `fieldSelector=`: comma-separated requirements, all
//! of which must hold.

use std::collections::BTreeMap;

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelReq {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

/// A parsed `labelSelector`; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    reqs: Vec<LabelReq>,
}

/// Splits on commas that are not inside `( … )` (set-based values hold commas).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn set_values(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

impl LabelSelector {
    /// Parses the query value; the error is the API server's message.
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || format!("unable to parse requirement: found '{part}', expected: key");
            let req = if let Some(key) = part.strip_prefix('!') {
                LabelReq::Absent(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEquals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Equals(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                LabelReq::NotIn(k.trim().to_string(), set_values(rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                LabelReq::In(k.trim().to_string(), set_values(rest).ok_or_else(bad)?)
            } else {
                LabelReq::Exists(part.to_string())
            };
            let key = match &req {
                LabelReq::Equals(k, _)
                | LabelReq::NotEquals(k, _)
                | LabelReq::In(k, _)
                | LabelReq::NotIn(k, _)
                | LabelReq::Exists(k)
                | LabelReq::Absent(k) => k,
            };
            if !valid_key(key) {
                return Err(bad());
            }
            reqs.push(req);
        }
        Ok(LabelSelector { reqs })
    }

    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.reqs.iter().all(|r| match r {
            LabelReq::Equals(k, v) => labels.get(k) == Some(v),
            LabelReq::NotEquals(k, v) => labels.get(k) != Some(v),
            LabelReq::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            LabelReq::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            LabelReq::Exists(k) => labels.contains_key(k),
            LabelReq::Absent(k) => !labels.contains_key(k),
        })
    }
}

/// A parsed `fieldSelector`: `field=value`, `field==value`, `field!=value`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses the query value and checks every field is one `supported`
    /// offers; the error is the API server's message.
    pub(crate) fn parse(text: &str, supported: &[&str]) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, equal, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!("invalid selector: '{part}'; can't understand '{part}'"));
            };
            let field = field.trim();
            if !supported.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            reqs.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { reqs })
    }

    /// `fields` holds the object's selectable fields; a missing one reads as "".
    pub(crate) fn matches(&self, fields: &[(&'static str, String)]) -> bool {
        self.reqs.iter().all(|(name, equal, value)| {
            let actual = fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_requirements() {
        let l = labels(&[("app", "payments-api"), ("pod-template-hash", "abc")]);
        assert!(LabelSelector::parse("").unwrap().matches(&l));
        assert!(LabelSelector::parse("app=payments-api").unwrap().matches(&l));
        assert!(
            LabelSelector::parse("app==payments-api,pod-template-hash")
                .unwrap()
                .matches(&l)
        );
        assert!(!LabelSelector::parse("app=payments-api,tier=web").unwrap().matches(&l));
        assert!(LabelSelector::parse("app!=ledger").unwrap().matches(&l));
        assert!(
            LabelSelector::parse("app in (ledger, payments-api)")
                .unwrap()
                .matches(&l)
        );
        assert!(!LabelSelector::parse("app notin (payments-api),x").unwrap().matches(&l));
        assert!(LabelSelector::parse("!tier").unwrap().matches(&l));
        assert!(LabelSelector::parse("app=a,,").unwrap().reqs.len() == 1);
        assert!(LabelSelector::parse("a b").is_err());
    }

    #[test]
    fn field_requirements() {
        let supported = ["metadata.name", "type"];
        let f = vec![("metadata.name", "x".to_string()), ("type", "Warning".to_string())];
        assert!(FieldSelector::parse("type=Warning", &supported).unwrap().matches(&f));
        assert!(
            FieldSelector::parse("metadata.name==x,type!=Normal", &supported)
                .unwrap()
                .matches(&f)
        );
        assert!(!FieldSelector::parse("metadata.name=y", &supported).unwrap().matches(&f));
        assert_eq!(
            FieldSelector::parse("spec.foo=1", &supported).unwrap_err(),
            "field label not supported: spec.foo"
        );
    }
}
