//! The `tree` query parameter of Jenkins' remote API: keeps only the named
//! fields (nested with `[...]`, arrays sliced with `{from,to}`), and always
//! keeps `_class`, as Jenkins does.

use serde_json::{Map, Value};

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Field {
    name: String,
    children: Option<Vec<Field>>,
    range: Option<(Option<usize>, Option<usize>)>,
}

/// Parses `jobs[name,url,builds[number]{0,10}]`; `Err` on unbalanced input.
pub(crate) fn parse(tree: &str) -> Result<Vec<Field>, String> {
    let chars: Vec<char> = tree.chars().collect();
    let mut pos = 0;
    let fields = parse_list(&chars, &mut pos)?;
    if pos != chars.len() {
        return Err(format!("unexpected '{}' at {pos} in tree", chars[pos]));
    }
    Ok(fields)
}

fn parse_list(c: &[char], pos: &mut usize) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    loop {
        while *pos < c.len() && c[*pos].is_whitespace() {
            *pos += 1;
        }
        let start = *pos;
        while *pos < c.len() && !matches!(c[*pos], ',' | '[' | ']' | '{' | '}') {
            *pos += 1;
        }
        let name: String = c[start..*pos].iter().collect::<String>().trim().to_string();
        let mut children = None;
        if *pos < c.len() && c[*pos] == '[' {
            *pos += 1;
            children = Some(parse_list(c, pos)?);
            if *pos >= c.len() || c[*pos] != ']' {
                return Err("missing ']' in tree".into());
            }
            *pos += 1;
        }
        let mut range = None;
        if *pos < c.len() && c[*pos] == '{' {
            let open = *pos + 1;
            let close = c[open..]
                .iter()
                .position(|&ch| ch == '}')
                .ok_or("missing '}' in tree")?
                + open;
            let spec: String = c[open..close].iter().collect();
            range = Some(parse_range(&spec)?);
            *pos = close + 1;
        }
        if !name.is_empty() {
            out.push(Field { name, children, range });
        }
        if *pos < c.len() && c[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(out);
    }
}

fn parse_range(spec: &str) -> Result<(Option<usize>, Option<usize>), String> {
    let num = |s: &str| -> Result<Option<usize>, String> {
        let s = s.trim();
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| format!("bad range '{spec}'"))
        }
    };
    match spec.split_once(',') {
        Some((a, b)) => Ok((num(a)?, num(b)?)),
        // `{N}` is the single element N.
        None => {
            let n = num(spec)?;
            Ok((n, n.map(|n| n + 1)))
        }
    }
}

/// Applies the field list to a rendered value.
pub(crate) fn filter(value: &Value, fields: &[Field]) -> Value {
    match value {
        Value::Object(m) => {
            let mut out = Map::new();
            if let Some(c) = m.get("_class") {
                out.insert("_class".into(), c.clone());
            }
            for f in fields {
                if let Some(v) = m.get(&f.name) {
                    out.insert(f.name.clone(), apply(v, f));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| filter(v, fields)).collect()),
        other => other.clone(),
    }
}

fn apply(v: &Value, f: &Field) -> Value {
    let v = match (v, f.range) {
        (Value::Array(items), Some((from, to))) => {
            let from = from.unwrap_or(0).min(items.len());
            let to = to.unwrap_or(items.len()).clamp(from, items.len());
            Value::Array(items[from..to].to_vec())
        }
        _ => v.clone(),
    };
    match &f.children {
        Some(children) => filter(&v, children),
        None => leaf(&v),
    }
}

/// A field named without sub-fields: scalars as they are; objects of a Jenkins
/// class shrink to `{_class}` (Jenkins needs sub-fields to say more), plain
/// maps stay whole.
fn leaf(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.contains_key("_class") => filter(v, &[]),
        Value::Array(items) => Value::Array(items.iter().map(leaf).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_fields_and_ranges() {
        let v = json!({
            "_class": "hudson.model.Hudson",
            "mode": "EXCLUSIVE",
            "jobs": [
                {"_class": "F", "name": "a", "url": "u", "jobs": [{"_class": "J", "name": "b", "color": "blue"}]},
                {"_class": "J", "name": "c", "url": "u2", "color": "red",
                 "builds": [{"_class": "R", "number": 3}, {"_class": "R", "number": 2}, {"_class": "R", "number": 1}],
                 "lastBuild": {"_class": "R", "number": 3, "result": "SUCCESS"}}
            ]
        });
        let f = parse("jobs[name,color,jobs[name,color],builds[number]{0,2},lastBuild]").unwrap();
        let out = filter(&v, &f);
        assert_eq!(
            out,
            json!({
                "_class": "hudson.model.Hudson",
                "jobs": [
                    {"_class": "F", "name": "a", "jobs": [{"_class": "J", "name": "b", "color": "blue"}]},
                    {"_class": "J", "name": "c", "color": "red",
                     "builds": [{"_class": "R", "number": 3}, {"_class": "R", "number": 2}],
                     "lastBuild": {"_class": "R"}}
                ]
            })
        );
    }

    #[test]
    fn ranges_and_errors() {
        assert_eq!(parse_range("3").unwrap(), (Some(3), Some(4)));
        assert_eq!(parse_range(",5").unwrap(), (None, Some(5)));
        assert!(parse("jobs[name").is_err());
        assert!(parse("builds{x}").is_err());
        assert!(parse("a]").is_err());
    }
}
