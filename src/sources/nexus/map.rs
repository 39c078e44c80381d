//! Pure mapping of Nexus assets to the model: Maven coordinates from the `maven2` block, or from
//! the repository path on servers that do not send it.

use chrono::{DateTime, Utc};

use super::api::AssetJson;
use crate::model::Asset;

/// `group/as/path/artifactId/version/artifactId-version[-classifier].ext` → (version,
/// classifier, extension). Snapshot files carry a timestamp instead of `-SNAPSHOT`.
pub fn coordinates_from_path(path: &str, artifact_id: &str) -> Option<(String, Option<String>, String)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let n = parts.len();
    if n < 3 || parts[n - 3] != artifact_id {
        return None;
    }
    let dir_version = parts[n - 2];
    let file = parts[n - 1];
    let rest = file.strip_prefix(artifact_id)?.strip_prefix('-')?;
    // Checksums and signatures are not artifacts.
    if [".sha1", ".md5", ".sha256", ".sha512", ".asc"]
        .iter()
        .any(|s| rest.ends_with(s))
    {
        return None;
    }
    let (stem, ext) = rest.rsplit_once('.')?;
    let base = dir_version.strip_suffix("-SNAPSHOT");
    // The file's version is the directory's, or (snapshots) the base plus a timestamp.
    let (version, tail) = if let Some(t) = stem.strip_prefix(dir_version) {
        (dir_version.to_string(), t)
    } else if let Some(base) = base {
        let after = stem.strip_prefix(base)?.strip_prefix('-')?;
        // 20261124.101530-3[-classifier]
        let mut bits = after.splitn(3, '-');
        let stamp = bits.next()?;
        let build = bits.next()?;
        let version = format!("{base}-{stamp}-{build}");
        let tail_start = base.len() + 1 + stamp.len() + 1 + build.len();
        (version, &stem[tail_start.min(stem.len())..])
    } else {
        return None;
    };
    let classifier = tail.strip_prefix('-').map(str::to_string).filter(|c| !c.is_empty());
    Some((version, classifier, ext.to_string()))
}

pub fn asset(json: &AssetJson, artifact_id: &str) -> Option<Asset> {
    let from_path = coordinates_from_path(&json.path, artifact_id);
    let m = json.maven2.as_ref();
    let version = m
        .and_then(|m| m.version.clone())
        .or_else(|| from_path.as_ref().map(|p| p.0.clone()))?;
    let extension = m
        .and_then(|m| m.extension.clone())
        .or_else(|| from_path.as_ref().map(|p| p.2.clone()));
    if extension
        .as_deref()
        .is_some_and(|e| ["sha1", "md5", "sha256", "sha512", "asc"].contains(&e))
    {
        return None;
    }
    let classifier = match m {
        Some(m) if m.extension.is_some() => m.classifier.clone().filter(|c| !c.is_empty()),
        _ => from_path.as_ref().and_then(|p| p.1.clone()),
    };
    let base_version = m.and_then(|m| m.base_version.clone()).or_else(|| {
        // 1.5.0-20261124.101530-3 → 1.5.0-SNAPSHOT
        let parts: Vec<&str> = version.rsplitn(3, '-').collect();
        (parts.len() == 3 && parts[1].contains('.') && parts[1].len() == 15).then(|| format!("{}-SNAPSHOT", parts[2]))
    });
    Some(Asset {
        path: json.path.clone(),
        download_url: json.download_url.clone(),
        version,
        base_version,
        extension,
        classifier,
        size: json.file_size,
        sha1: json.checksum.as_ref().and_then(|c| c.sha1.clone()),
        last_modified: json.last_modified.as_deref().and_then(|t| {
            DateTime::parse_from_rfc3339(t)
                .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }),
        uploader: json.uploader.clone().filter(|u| !u.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_and_classifier_paths() {
        assert_eq!(
            coordinates_from_path(
                "org/osgi/org.osgi.core/4.3.1/org.osgi.core-4.3.1-sources.jar",
                "org.osgi.core"
            ),
            Some(("4.3.1".into(), Some("sources".into()), "jar".into()))
        );
        assert_eq!(
            coordinates_from_path("com/dominion/payments-api/1.4.7/payments-api-1.4.7.pom", "payments-api"),
            Some(("1.4.7".into(), None, "pom".into()))
        );
        assert_eq!(
            coordinates_from_path(
                "com/dominion/payments-api/1.4.7/payments-api-1.4.7.jar.sha1",
                "payments-api"
            ),
            None
        );
        assert_eq!(coordinates_from_path("elsewhere/x.jar", "payments-api"), None);
    }

    #[test]
    fn snapshot_paths() {
        assert_eq!(
            coordinates_from_path(
                "com/dominion/ledger/1.5.0-SNAPSHOT/ledger-1.5.0-20261124.101530-3.war",
                "ledger"
            ),
            Some(("1.5.0-20261124.101530-3".into(), None, "war".into()))
        );
        let a = asset(
            &AssetJson {
                path: "com/dominion/ledger/1.5.0-SNAPSHOT/ledger-1.5.0-20261124.101530-3.war".into(),
                ..Default::default()
            },
            "ledger",
        )
        .unwrap();
        assert_eq!(a.base_version.as_deref(), Some("1.5.0-SNAPSHOT"));
    }
}
