//! The three patch types `PATCH` accepts, applied to an object's JSON:
//! strategic merge patch (what `kubectl set image` and `kubectl rollout
//! pause/restart` send), JSON merge patch (RFC 7386) and JSON patch (RFC 6902,
//! what `kubectl rollout undo` sends).
//!
//! Strategic merge knows the merge keys of the lists a Deployment holds
//! (containers merge by `name`, ports by `containerPort`, …) by field name,
//! which is unambiguous within a Deployment; other lists are replaced. The
//! `$patch`, `$setElementOrder/…`, `$retainKeys` and
//! `$deleteFromPrimitiveList/…` directives are understood.

use serde_json::{Map, Value};

/// Which patch a `Content-Type` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Strategic,
    Merge,
    Json,
}

impl PatchKind {
    pub(crate) fn of(content_type: &str) -> Option<PatchKind> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/json-patch+json" => Some(PatchKind::Json),
            _ => None,
        }
    }
}

/// Why a patch could not be applied: the body is not a patch (400), or it
/// is one that does not apply to this object (422).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PatchError {
    Malformed(String),
    Unprocessable(String),
}

pub(crate) fn apply(kind: PatchKind, target: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| PatchError::Malformed(format!("couldn't get version/kind; json parse error: {e}")))?;
    match kind {
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(PatchError::Malformed("merge patch must be a JSON object".into()));
            }
            Ok(merge_patch(target, &patch))
        }
        PatchKind::Strategic => {
            let Value::Object(p) = &patch else {
                return Err(PatchError::Malformed(
                    "strategic merge patch must be a JSON object".into(),
                ));
            };
            let Value::Object(t) = target else {
                return Err(PatchError::Unprocessable("target is not an object".into()));
            };
            strategic_map(t, p).map(Value::Object)
        }
        PatchKind::Json => {
            let Value::Array(ops) = &patch else {
                return Err(PatchError::Malformed(
                    "json patch must be an array of operations".into(),
                ));
            };
            json_patch(target, ops)
        }
    }
}

// ---- RFC 7386 ---------------------------------------------------------------

pub(crate) fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            out.remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

// ---- strategic merge ----------------------------------------------------------

/// The merge key of a list field, by the field's name.
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

fn directive(map: &Map<String, Value>) -> Option<&str> {
    map.get("$patch").and_then(Value::as_str)
}

fn strategic_map(target: &Map<String, Value>, patch: &Map<String, Value>) -> Result<Map<String, Value>, PatchError> {
    match directive(patch) {
        Some("replace") => {
            let mut out = patch.clone();
            out.remove("$patch");
            return Ok(out);
        }
        Some("delete") => return Ok(Map::new()),
        Some(other) => return Err(PatchError::Unprocessable(format!("Unknown patch type: {other}"))),
        None => {}
    }
    let mut out = target.clone();
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    let mut orders: Vec<(&str, &Vec<Value>)> = Vec::new();
    for (k, v) in patch {
        if k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            if let Value::Array(order) = v {
                orders.push((field, order));
            }
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(gone)) = (out.get_mut(field), v) {
                list.retain(|x| !gone.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v) {
            (Some(Value::Object(t)), Value::Object(p)) => Value::Object(strategic_map(t, p)?),
            (_, Value::Object(p)) => {
                let mut fresh = strategic_map(&Map::new(), p)?;
                fresh.remove("$patch");
                Value::Object(fresh)
            }
            (Some(Value::Array(t)), Value::Array(p)) => Value::Array(strategic_list(k, t, p)?),
            (None, Value::Array(p)) => Value::Array(strategic_list(k, &[], p)?),
            (_, other) => other.clone(),
        };
        out.insert(k.clone(), merged);
    }
    for (field, order) in orders {
        if let (Some(key), Some(Value::Array(list))) = (merge_key(field), out.get_mut(field)) {
            reorder(list, key, order);
        }
    }
    Ok(out)
}

fn key_of<'a>(item: &'a Value, key: &str) -> Option<&'a Value> {
    item.as_object().and_then(|m| m.get(key))
}

fn strategic_list(field: &str, target: &[Value], patch: &[Value]) -> Result<Vec<Value>, PatchError> {
    // `[{"$patch": "replace"}, …]` replaces the whole list with the rest.
    if patch
        .iter()
        .any(|p| p.as_object().is_some_and(|m| directive(m) == Some("replace")))
    {
        return Ok(patch
            .iter()
            .filter(|p| p.as_object().is_none_or(|m| directive(m).is_none()))
            .cloned()
            .collect());
    }
    let Some(key) = merge_key(field) else {
        return Ok(patch.to_vec());
    };
    let mut out = target.to_vec();
    for p in patch {
        let Some(pm) = p.as_object() else {
            return Ok(patch.to_vec());
        };
        let Some(id) = pm.get(key) else {
            return Err(PatchError::Unprocessable(format!(
                "map: {p} does not contain declared merge key: {key}"
            )));
        };
        let pos = out.iter().position(|t| key_of(t, key) == Some(id));
        match (directive(pm), pos) {
            (Some("delete"), Some(i)) => {
                out.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => {
                let merged = match &out[i] {
                    Value::Object(t) => Value::Object(strategic_map(t, pm)?),
                    _ => p.clone(),
                };
                out[i] = merged;
            }
            (_, None) => {
                let mut fresh = strategic_map(&Map::new(), pm)?;
                fresh.remove("$patch");
                out.push(Value::Object(fresh));
            }
        }
    }
    Ok(out)
}

/// Orders `list` as `$setElementOrder` says; items it does not name keep their place after.
fn reorder(list: &mut Vec<Value>, key: &str, order: &[Value]) {
    let mut rest = std::mem::take(list);
    for o in order {
        let Some(id) = key_of(o, key) else { continue };
        if let Some(i) = rest.iter().position(|t| key_of(t, key) == Some(id)) {
            list.push(rest.remove(i));
        }
    }
    list.append(&mut rest);
}

// ---- RFC 6902 -------------------------------------------------------------------

fn pointer_tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PatchError::Malformed(format!("invalid JSON pointer {path:?}")));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String], path: &str) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| PatchError::Unprocessable(format!("doc is missing path: {path:?}")))?;
    }
    Ok(cur)
}

fn get_at(doc: &Value, path: &str) -> Result<Value, PatchError> {
    let tokens = pointer_tokens(path)?;
    let mut cur = doc;
    for t in &tokens {
        cur = match cur {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| PatchError::Unprocessable(format!("doc is missing path: {path:?}")))?;
    }
    Ok(cur.clone())
}

fn add_at(doc: &mut Value, path: &str, value: Value, replace: bool) -> Result<(), PatchError> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    let parent = parent_mut(doc, parents, path)?;
    match parent {
        Value::Object(m) => {
            if replace && !m.contains_key(last) {
                return Err(PatchError::Unprocessable(format!(
                    "replace operation does not apply: doc is missing key: {path}"
                )));
            }
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if last == "-" && !replace {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| PatchError::Unprocessable(format!("invalid array index in {path:?}")))?;
                if replace {
                    let slot = a
                        .get_mut(i)
                        .ok_or_else(|| PatchError::Unprocessable(format!("index out of range in {path:?}")))?;
                    *slot = value;
                } else if i <= a.len() {
                    a.insert(i, value);
                } else {
                    return Err(PatchError::Unprocessable(format!("index out of range in {path:?}")));
                }
            }
        }
        _ => return Err(PatchError::Unprocessable(format!("doc is missing path: {path:?}"))),
    }
    Ok(())
}

fn remove_at(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        return Err(PatchError::Unprocessable("cannot remove the whole document".into()));
    };
    let missing = || {
        PatchError::Unprocessable(format!(
            "remove operation does not apply: doc is missing path: {path:?}"
        ))
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i < a.len() { Ok(a.remove(i)) } else { Err(missing()) }
        }
        _ => Err(missing()),
    }
}

fn json_patch(target: &Value, ops: &[Value]) -> Result<Value, PatchError> {
    let mut doc = target.clone();
    for op in ops {
        let field = |name: &str| -> Result<&str, PatchError> {
            op.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| PatchError::Malformed(format!("operation {op} has no {name:?}")))
        };
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| PatchError::Malformed(format!("operation {op} has no \"value\"")))
        };
        let path = field("path")?;
        match field("op")? {
            "add" => add_at(&mut doc, path, value()?, false)?,
            "replace" => add_at(&mut doc, path, value()?, true)?,
            "remove" => {
                remove_at(&mut doc, path)?;
            }
            "move" => {
                let v = remove_at(&mut doc, field("from")?)?;
                add_at(&mut doc, path, v, false)?;
            }
            "copy" => {
                let v = get_at(&doc, field("from")?)?;
                add_at(&mut doc, path, v, false)?;
            }
            "test" => {
                if get_at(&doc, path)? != value()? {
                    return Err(PatchError::Unprocessable(format!("testing value {path} failed")));
                }
            }
            other => return Err(PatchError::Malformed(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "x", "annotations": {"a": "1", "b": "2"}},
            "spec": {"paused": false, "template": {"spec": {"containers": [
                {"name": "app", "image": "r/app:1", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                 "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "r/side:1"}
            ]}}}
        })
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let patch = br#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"r/app:2"}]}}},
                         "metadata":{"annotations":{"c":"3","a":null}}}"#;
        let out = apply(PatchKind::Strategic, &deployment(), patch).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "r/app:2");
        assert_eq!(cs[0]["ports"][0]["containerPort"], 8080);
        assert_eq!(cs[1]["image"], "r/side:1");
        assert_eq!(out["metadata"]["annotations"], json!({"b": "2", "c": "3"}));
    }

    #[test]
    fn strategic_directives() {
        let patch = br#"{"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"sidecar"},{"name":"app"}],
            "containers":[{"name":"app","env":[{"name":"B","value":"2"}]},{"name":"gone","$patch":"delete"}]}}}}"#;
        let out = apply(PatchKind::Strategic, &deployment(), patch).unwrap();
        let cs = out["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs[0]["name"], "sidecar");
        assert_eq!(cs[1]["env"].as_array().unwrap().len(), 2);
        let patch = br#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}"#;
        let out = apply(PatchKind::Strategic, &deployment(), patch).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(),
            1
        );
        let patch = br#"{"metadata":{"annotations":{"$patch":"replace","z":"9"}}}"#;
        let out = apply(PatchKind::Strategic, &deployment(), patch).unwrap();
        assert_eq!(out["metadata"]["annotations"], json!({"z": "9"}));
        let patch = br#"{"spec":{"template":{"spec":{"containers":[{"image":"no-name"}]}}}}"#;
        assert!(matches!(
            apply(PatchKind::Strategic, &deployment(), patch),
            Err(PatchError::Unprocessable(_))
        ));
    }

    #[test]
    fn merge_patch_replaces_lists() {
        let patch = br#"{"spec":{"paused":true,"template":{"spec":{"containers":[{"name":"only","image":"i"}]}}}}"#;
        let out = apply(PatchKind::Merge, &deployment(), patch).unwrap();
        assert_eq!(out["spec"]["paused"], true);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(),
            1
        );
    }

    #[test]
    fn json_patch_ops() {
        let patch = br#"[
            {"op":"replace","path":"/spec/paused","value":true},
            {"op":"add","path":"/metadata/annotations/k8s.io~1x","value":"y"},
            {"op":"remove","path":"/metadata/annotations/b"},
            {"op":"test","path":"/metadata/name","value":"x"},
            {"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"c3","image":"i"}},
            {"op":"copy","from":"/metadata/name","path":"/metadata/copied"}
        ]"#;
        let out = apply(PatchKind::Json, &deployment(), patch).unwrap();
        assert_eq!(out["spec"]["paused"], true);
        assert_eq!(out["metadata"]["annotations"], json!({"a": "1", "k8s.io/x": "y"}));
        assert_eq!(out["spec"]["template"]["spec"]["containers"][2]["name"], "c3");
        assert_eq!(out["metadata"]["copied"], "x");
        let bad = br#"[{"op":"replace","path":"/spec/nothing","value":1}]"#;
        assert!(matches!(
            apply(PatchKind::Json, &deployment(), bad),
            Err(PatchError::Unprocessable(_))
        ));
        assert!(matches!(
            apply(PatchKind::Json, &deployment(), b"{}"),
            Err(PatchError::Malformed(_))
        ));
        assert_eq!(
            PatchKind::of("application/json-patch+json; charset=utf-8"),
            Some(PatchKind::Json)
        );
    }
}
