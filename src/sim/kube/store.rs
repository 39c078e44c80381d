//! One cluster's object store, standing in for etcd and the API server's
//! watch cache: a cluster-wide resource version, every object's JSON
//! rendered once per change (lists and watches only copy bytes, so a large
//! estate stays cheap to serve), a bounded history of changes for watches
//! that resume from a resource version, and a broadcast of new changes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::objects::{Kind, Labels, Object};
use super::select::{FieldSelector, LabelSelector};

/// (kind, namespace, name): iteration order is the API server's list order.
pub(crate) type Key = (Kind, String, String);

struct Stored {
    labels: Labels,
    fields: Vec<(&'static str, String)>,
    /// The object's JSON without `kind`/`apiVersion`.
    body: Bytes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    fn word(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One change, ready to send to every watch it matches.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub kind: Kind,
    pub namespace: String,
    pub labels: Labels,
    pub fields: Vec<(&'static str, String)>,
    /// `{"type":…,"object":{…}}` and a newline.
    pub line: Bytes,
}

/// What a list or watch asks for.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub kind: Kind,
    pub namespace: String,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    fn admits(&self, labels: &Labels, fields: &[(&'static str, String)]) -> bool {
        self.labels.matches(labels) && self.fields.matches(fields)
    }

    pub(crate) fn admits_change(&self, c: &Change) -> bool {
        c.kind == self.kind && c.namespace == self.namespace && self.admits(&c.labels, &c.fields)
    }
}

/// Why a list or watch cannot be served from the requested version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TooOld {
    pub requested: u64,
    pub oldest: u64,
}

/// How many changes the watch cache keeps.
const HISTORY: usize = 4096;
/// How far a watch may lag behind before it is closed.
const BROADCAST: usize = 8192;

pub(crate) struct Store {
    rv: u64,
    objects: BTreeMap<Key, Stored>,
    history: VecDeque<Arc<Change>>,
    /// Watches from below this version get 410 Expired.
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
}

/// `{"kind":K,"apiVersion":V,` + the body without its opening brace.
pub(crate) fn with_type(kind: Kind, body: &[u8]) -> Bytes {
    let head = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\"",
        kind.name(),
        kind.api_version()
    );
    let mut out = BytesMut::with_capacity(head.len() + body.len() + 1);
    out.put_slice(head.as_bytes());
    let rest = body.strip_prefix(b"{").unwrap_or(body);
    if rest != b"}" {
        out.put_u8(b',');
    }
    out.put_slice(rest);
    out.freeze()
}

fn watch_line(kind_word: &str, object: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(object.len() + 32);
    out.put_slice(b"{\"type\":\"");
    out.put_slice(kind_word.as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(object);
    out.put_slice(b"}\n");
    out.freeze()
}

/// The line of a `BOOKMARK` at `rv` (with the streaming-list end marker if asked).
pub(crate) fn bookmark_line(kind: Kind, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object = json!({"kind": kind.name(), "apiVersion": kind.api_version(), "metadata": metadata});
    watch_line("BOOKMARK", object.to_string().as_bytes())
}

/// The line of an `ERROR` event carrying a `Status`.
pub(crate) fn error_line(status: &Value) -> Bytes {
    watch_line("ERROR", status.to_string().as_bytes())
}

/// A list page and how it continues.
pub(crate) struct Page {
    pub body: Bytes,
    pub items: usize,
}

impl Store {
    pub(crate) fn new() -> Store {
        let (tx, _) = broadcast::channel(BROADCAST);
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 1,
            tx,
        }
    }

    #[cfg(test)]
    pub(crate) fn resource_version(&self) -> u64 {
        self.rv
    }

    fn record(&mut self, kind: Kind, namespace: &str, change: ChangeType, stored: &Stored) {
        let c = Arc::new(Change {
            rv: self.rv,
            kind,
            namespace: namespace.to_string(),
            labels: stored.labels.clone(),
            fields: stored.fields.clone(),
            line: watch_line(change.word(), &with_type(kind, &stored.body)),
        });
        if self.history.len() >= HISTORY
            && let Some(old) = self.history.pop_front()
        {
            self.compacted = old.rv;
        }
        self.history.push_back(c.clone());
        // No receiver is not an error: nobody watches yet.
        let _ = self.tx.send(c);
    }

    fn stored<T: Object>(obj: &T) -> Stored {
        let m = obj.meta();
        let mut fields = vec![
            ("metadata.name", m.name.clone()),
            ("metadata.namespace", m.namespace.clone()),
        ];
        fields.extend(obj.fields());
        Stored {
            labels: m.labels.clone(),
            fields,
            body: Bytes::from(serde_json::to_vec(&obj.render()).unwrap_or_default()),
        }
    }

    /// Stores a new or changed object under a new resource version.
    pub(crate) fn commit<T: Object>(&mut self, obj: &mut T) {
        self.rv += 1;
        obj.meta_mut().resource_version = self.rv;
        let key = (T::KIND, obj.meta().namespace.clone(), obj.meta().name.clone());
        let stored = Self::stored(obj);
        let change = if self.objects.contains_key(&key) {
            ChangeType::Modified
        } else {
            ChangeType::Added
        };
        self.record(T::KIND, &key.1, change, &stored);
        self.objects.insert(key, stored);
    }

    /// Removes an object; watchers see its last state under a new version.
    pub(crate) fn delete<T: Object>(&mut self, obj: &mut T) {
        self.rv += 1;
        obj.meta_mut().resource_version = self.rv;
        let key = (T::KIND, obj.meta().namespace.clone(), obj.meta().name.clone());
        let stored = Self::stored(obj);
        self.objects.remove(&key);
        self.record(T::KIND, &key.1, ChangeType::Deleted, &stored);
    }

    /// Forgets the history: resuming from any earlier version is now 410,
    /// as after an API server restart.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    pub(crate) fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Bytes> {
        self.objects
            .get(&(kind, namespace.to_string(), name.to_string()))
            .map(|s| with_type(kind, &s.body))
    }

    /// The raw JSON of an object (no `kind`/`apiVersion`), parsed.
    pub(crate) fn value(&self, kind: Kind, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .get(&(kind, namespace.to_string(), name.to_string()))
            .and_then(|s| serde_json::from_slice(&s.body).ok())
    }

    fn range<'a>(&'a self, kind: Kind, namespace: &str) -> impl Iterator<Item = (&'a Key, &'a Stored)> + 'a {
        let start = (kind, namespace.to_string(), String::new());
        let ns = namespace.to_string();
        self.objects
            .range(start..)
            .take_while(move |((k, n, _), _)| *k == kind && *n == ns)
    }

    /// A list page. `limit` 0 means all; `cont` is a continue token.
    pub(crate) fn list(&self, f: &Filter, limit: usize, cont: Option<&str>) -> Result<Page, ListError> {
        let (list_rv, after) = match cont {
            Some(token) => {
                let (rv, after) = decode_continue(token).ok_or(ListError::BadContinue)?;
                if rv < self.compacted {
                    return Err(ListError::Expired);
                }
                (rv, Some(after))
            }
            None => (self.rv, None),
        };
        let mut items: Vec<&Bytes> = Vec::new();
        let mut last_name = String::new();
        let mut more = false;
        let mut remaining = 0usize;
        for ((_, _, name), s) in self.range(f.kind, &f.namespace) {
            if after.as_deref().is_some_and(|a| name.as_str() <= a) {
                continue;
            }
            if !f.admits(&s.labels, &s.fields) {
                continue;
            }
            if limit > 0 && items.len() >= limit {
                more = true;
                remaining += 1;
                continue;
            }
            items.push(&s.body);
            last_name = name.clone();
        }
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if more {
            metadata["continue"] = json!(encode_continue(list_rv, &last_name));
            let unfiltered = f.labels == LabelSelector::default() && f.fields == FieldSelector::default();
            if unfiltered {
                metadata["remainingItemCount"] = json!(remaining);
            }
        }
        let head = json!({
            "kind": format!("{}List", f.kind.name()),
            "apiVersion": f.kind.api_version(),
            "metadata": metadata,
        })
        .to_string();
        let size: usize = items.iter().map(|b| b.len() + 1).sum();
        let mut out = BytesMut::with_capacity(head.len() + size + 16);
        out.put_slice(&head.as_bytes()[..head.len() - 1]);
        out.put_slice(b",\"items\":[");
        for (i, b) in items.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            out.put_slice(b);
        }
        out.put_slice(b"]}");
        Ok(Page {
            body: out.freeze(),
            items: items.len(),
        })
    }

    /// Where a watch starts: the lines it sends first (every matching object
    /// as `ADDED` when `from` is None, else the changes after `from`), the
    /// version it has seen up to, and the feed of changes to come. Taken
    /// under the cluster's lock, so nothing falls between the two.
    pub(crate) fn watch_from(&self, f: &Filter, from: Option<u64>) -> Result<WatchStart, TooOld> {
        let lines: Vec<Bytes> = match from {
            None => self
                .range(f.kind, &f.namespace)
                .filter(|(_, s)| f.admits(&s.labels, &s.fields))
                .map(|(_, s)| watch_line("ADDED", &with_type(f.kind, &s.body)))
                .collect(),
            Some(rv) => {
                if rv < self.compacted {
                    return Err(TooOld {
                        requested: rv,
                        oldest: self.compacted,
                    });
                }
                self.history
                    .iter()
                    .filter(|c| c.rv > rv && f.admits_change(c))
                    .map(|c| c.line.clone())
                    .collect()
            }
        };
        Ok(WatchStart {
            lines,
            seen: self.rv,
            feed: self.tx.subscribe(),
        })
    }
}

pub(crate) struct WatchStart {
    pub lines: Vec<Bytes>,
    pub seen: u64,
    pub feed: broadcast::Receiver<Arc<Change>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ListError {
    BadContinue,
    Expired,
}

fn encode_continue(rv: u64, after: &str) -> String {
    let text = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{after}\u{0}")}).to_string();
    base64::engine::general_purpose::URL_SAFE.encode(text)
}

fn decode_continue(token: &str) -> Option<(u64, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let rv = v.get("rv")?.as_u64()?;
    let start = v.get("start")?.as_str()?;
    Some((rv, start.trim_end_matches('\u{0}').to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::objects::{Event, Involved, Meta};
    use super::*;

    fn event(name: &str, warning: bool) -> Event {
        Event {
            meta: Meta::new(name, "ns", format!("uid-{name}"), 0),
            involved: Involved {
                kind: Kind::Pod,
                name: "p".into(),
                namespace: "ns".into(),
                uid: "u".into(),
                resource_version: 1,
                field_path: None,
            },
            reason: "BackOff",
            message: "m".into(),
            warning,
            count: 1,
            first: 0,
            last: 0,
            component: "kubelet",
            host: None,
        }
    }

    fn filter(fields: &str) -> Filter {
        Filter {
            kind: Kind::Event,
            namespace: "ns".into(),
            labels: LabelSelector::default(),
            fields: FieldSelector::parse(fields, Kind::Event.selectable_fields()).unwrap(),
        }
    }

    #[test]
    fn lists_page_and_filter() {
        let mut s = Store::new();
        for (i, w) in [(1, true), (2, false), (3, true), (4, true)] {
            s.commit(&mut event(&format!("e{i}"), w));
        }
        let page = s.list(&filter("type=Warning"), 2, None).unwrap();
        let v: Value = serde_json::from_slice(&page.body).unwrap();
        assert_eq!(v["kind"], "EventList");
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        assert!(v["items"][0].get("kind").is_none());
        let token = v["metadata"]["continue"].as_str().unwrap().to_string();
        let page = s.list(&filter("type=Warning"), 2, Some(&token)).unwrap();
        let v: Value = serde_json::from_slice(&page.body).unwrap();
        assert_eq!(v["items"][0]["metadata"]["name"], "e4");
        assert!(v["metadata"].get("continue").is_none());
        assert_eq!(
            s.list(&filter(""), 0, Some("garbage")).err(),
            Some(ListError::BadContinue)
        );
    }

    #[test]
    fn watch_resumes_or_expires() {
        let mut s = Store::new();
        let mut e = event("e1", true);
        s.commit(&mut e);
        let rv = s.resource_version();
        s.commit(&mut e);
        let start = s.watch_from(&filter(""), Some(rv)).unwrap();
        assert_eq!(start.lines.len(), 1);
        assert!(start.lines[0].starts_with(b"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Event\""));
        s.compact();
        assert!(s.watch_from(&filter(""), Some(rv)).is_err());
        let start = s.watch_from(&filter(""), None).unwrap();
        assert!(start.lines[0].starts_with(b"{\"type\":\"ADDED\""));
        assert_eq!(
            &with_type(Kind::Pod, b"{}")[..],
            b"{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}"
        );
    }
}
