//! Pure mapping of what a Docker engine says: its version line, its images, and which base images
//! the services build on with the digest the host holds for each.

use std::collections::BTreeMap;

use bollard::models::{ImageSummary, SystemVersion};
use chrono::DateTime;

use crate::model::{LABEL_BASE_NAME, LocalImage, Service, normalise_reference, same_reference};

/// `Docker Engine 27.3.1`, `Podman Engine 4.3.1`: the engine component's name and version.
pub fn version_line(v: &SystemVersion) -> Option<String> {
    let components = v.components.as_deref().unwrap_or(&[]);
    if let Some(c) = components
        .iter()
        .find(|c| c.name == "Engine" || c.name.ends_with(" Engine"))
        .filter(|c| !c.version.is_empty())
    {
        let name = if c.name == "Engine" {
            "Docker Engine"
        } else {
            c.name.as_str()
        };
        return Some(format!("{name} {}", c.version));
    }
    let version = v.version.as_deref().filter(|s| !s.is_empty())?;
    let platform = v.platform.as_ref().map(|p| p.name.as_str()).unwrap_or("");
    let name = if platform.to_ascii_lowercase().contains("podman") {
        "Podman Engine"
    } else {
        "Docker Engine"
    };
    Some(format!("{name} {version}"))
}

pub fn local_image(s: &ImageSummary) -> LocalImage {
    LocalImage {
        id: s.id.clone(),
        // Docker lists `<none>:<none>` for untagged images.
        repo_tags: s
            .repo_tags
            .iter()
            .filter(|t| !t.starts_with("<none>"))
            .cloned()
            .collect(),
        repo_digests: s
            .repo_digests
            .iter()
            .filter(|d| !d.starts_with("<none>"))
            .cloned()
            .collect(),
        created: (s.created > 0)
            .then(|| DateTime::from_timestamp(s.created, 0))
            .flatten(),
        size: u64::try_from(s.size).ok().filter(|n| *n > 0),
        labels: labels(&s.labels),
    }
}

/// The fully qualified repository of a reference, without tag or digest:
/// `tomcat:9` → `docker.io/library/tomcat`.
pub fn repository_of(reference: &str) -> String {
    let full = normalise_reference(reference);
    let name = full.split('@').next().unwrap_or(&full);
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo.to_string(),
        _ => name.to_string(),
    }
}

/// Is `repo_tag` (`123.dkr.ecr…/shop/app:1.4.2`, `localhost/shop/app:1.4.2`) an image of the
/// repository `shop/app`?
pub fn tag_of_repository(repo_tag: &str, repository: &str) -> bool {
    let repository = repository.trim_matches('/');
    if repository.is_empty() {
        return false;
    }
    let repo = repository_of(repo_tag);
    repo == repository || repo.ends_with(&format!("/{repository}"))
}

/// The base images to check and the services building on each: a service's configured
/// `base_image`, else the `org.opencontainers.image.base.name` labels of its local images.
pub fn base_references(services: &[Service], images: &[LocalImage]) -> Vec<(String, Vec<String>)> {
    let mut bases: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |reference: &str, service: &str| {
        let reference = reference.trim();
        if reference.is_empty() {
            return;
        }
        match bases.iter_mut().find(|(r, _)| same_reference(r, reference)) {
            Some((_, used_by)) => {
                if !used_by.iter().any(|s| s == service) {
                    used_by.push(service.to_string());
                }
            }
            None => bases.push((reference.to_string(), vec![service.to_string()])),
        }
    };
    for s in services {
        let Some(image) = &s.image else { continue };
        if let Some(base) = &image.base_image {
            add(base, &s.name);
            continue;
        }
        for local in images {
            if local.repo_tags.iter().any(|t| tag_of_repository(t, &image.repository))
                && let Some(base) = local.label(LABEL_BASE_NAME)
            {
                add(base, &s.name);
            }
        }
    }
    for (_, used_by) in &mut bases {
        used_by.sort();
    }
    bases.sort_by(|a, b| a.0.cmp(&b.0));
    bases
}

/// The digests this host holds for `reference`: the registry digests (from RepoDigests) of the
/// local image tagged so. Podman lists every name of an image with every digest it has had, so
/// there may be more than one; the registry's current digest among them means the host has it.
/// `Err` says why there is none.
pub fn local_digests(images: &[LocalImage], reference: &str) -> Result<Vec<String>, String> {
    let repo = repository_of(reference);
    let digests_of = |i: &LocalImage| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (name, digest) in i.repo_digests.iter().filter_map(|d| d.split_once('@')) {
            if repository_of(name) == repo && !out.iter().any(|d| d == digest) {
                out.push(digest.to_string());
            }
        }
        out
    };
    // A reference pinned by digest is its own answer when the host holds that digest.
    if let Some((_, digest)) = normalise_reference(reference).split_once('@') {
        return if images.iter().any(|i| digests_of(i).iter().any(|d| d == digest)) {
            Ok(vec![digest.to_string()])
        } else {
            Err("not pulled on this host".into())
        };
    }
    let Some(image) = images
        .iter()
        .find(|i| i.repo_tags.iter().any(|t| same_reference(t, reference)))
    else {
        return Err("not pulled on this host".into());
    };
    let digests = digests_of(image);
    if digests.is_empty() {
        Err("built or loaded locally: no registry digest on this host".into())
    } else {
        Ok(digests)
    }
}

/// The local digest to show against the registry's: the registry's own when the host holds it,
/// else the first the host has.
pub fn pick_local(candidates: &[String], remote: Option<&str>) -> Option<String> {
    match remote {
        Some(r) if candidates.iter().any(|c| c == r) => Some(r.to_string()),
        _ => candidates.first().cloned(),
    }
}

/// Labels as the model keeps them.
pub fn labels(map: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ImageRef, PromotionStrategy, RegistryKind, ServiceJobs};
    use bollard::models::SystemVersionComponents;

    fn image(tags: &[&str], digests: &[&str], base: Option<&str>) -> LocalImage {
        LocalImage {
            id: "sha256:1".into(),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            created: None,
            size: None,
            labels: base
                .map(|b| BTreeMap::from([(LABEL_BASE_NAME.to_string(), b.to_string())]))
                .unwrap_or_default(),
        }
    }

    fn service(name: &str, repository: &str, base: Option<&str>) -> Service {
        let mut s = Service::new(name, ServiceJobs::default());
        s.image = Some(ImageRef {
            source: "ecr".into(),
            registry: RegistryKind::Ecr,
            repository: repository.into(),
            env_tags: BTreeMap::new(),
            base_image: base.map(str::to_string),
            promotion: PromotionStrategy::Retag,
        });
        s
    }

    #[test]
    fn version_lines() {
        let mut v = SystemVersion {
            components: Some(vec![SystemVersionComponents {
                name: "Engine".into(),
                version: "27.3.1".into(),
                details: None,
            }]),
            version: Some("27.3.1".into()),
            ..Default::default()
        };
        assert_eq!(version_line(&v).as_deref(), Some("Docker Engine 27.3.1"));
        v.components = Some(vec![SystemVersionComponents {
            name: "Podman Engine".into(),
            version: "4.3.1".into(),
            details: None,
        }]);
        assert_eq!(version_line(&v).as_deref(), Some("Podman Engine 4.3.1"));
        v.components = None;
        assert_eq!(version_line(&v).as_deref(), Some("Docker Engine 27.3.1"));
        v.version = None;
        assert_eq!(version_line(&v), None);
    }

    #[test]
    fn repositories() {
        assert_eq!(repository_of("tomcat:9"), "docker.io/library/tomcat");
        assert_eq!(repository_of("localhost:5000/shop/app"), "localhost:5000/shop/app");
        assert_eq!(repository_of("quay.io/a/b@sha256:00"), "quay.io/a/b");
        assert!(tag_of_repository(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app:1.4.2",
            "shop/app"
        ));
        assert!(tag_of_repository("localhost/shop/app:1.4.2", "shop/app"));
        assert!(!tag_of_repository("localhost/shop/app-worker:1", "shop/app"));
        assert!(!tag_of_repository("localhost/other/shop:1", "shop/app"));
    }

    #[test]
    fn bases_from_config_and_labels() {
        let images = vec![
            image(&["localhost/shop/app:1.4.2"], &[], Some("docker.io/library/tomcat:9")),
            image(&["localhost/shop/app:1.4.1"], &[], Some("tomcat:9")),
            image(&["localhost/shop/web:2"], &[], Some("nginx:1.27")),
        ];
        let services = vec![
            service("app", "shop/app", None),
            service("web", "shop/web", Some("nginx:1.27")),
            service("api", "shop/api", Some("tomcat:9")),
        ];
        let bases = base_references(&services, &images);
        assert_eq!(
            bases,
            vec![
                (
                    "docker.io/library/tomcat:9".to_string(),
                    vec!["api".to_string(), "app".to_string()]
                ),
                ("nginx:1.27".to_string(), vec!["web".to_string()]),
            ]
        );
    }

    #[test]
    fn local_digests_of_references() {
        let images = vec![
            image(
                &["tomcat:9", "localhost:5000/library/tomcat:9"],
                &[
                    "localhost:5000/library/tomcat@sha256:bbb",
                    "docker.io/library/tomcat@sha256:aaa",
                ],
                None,
            ),
            image(&["localhost/shop/base:1"], &[], None),
            // Podman: every name with every digest the image had.
            image(
                &["127.0.0.1:5000/library/jdk:17", "localhost/jdk:17"],
                &[
                    "127.0.0.1:5000/library/jdk@sha256:pushed",
                    "127.0.0.1:5000/library/jdk@sha256:local",
                    "localhost/jdk@sha256:pushed",
                    "localhost/jdk@sha256:local",
                ],
                None,
            ),
        ];
        let one = |d: &str| Ok(vec![d.to_string()]);
        assert_eq!(local_digests(&images, "docker.io/library/tomcat:9"), one("sha256:aaa"));
        assert_eq!(
            local_digests(&images, "localhost:5000/library/tomcat:9"),
            one("sha256:bbb")
        );
        assert!(
            local_digests(&images, "localhost/shop/base:1")
                .unwrap_err()
                .contains("no registry digest")
        );
        assert_eq!(local_digests(&images, "nginx:1"), Err("not pulled on this host".into()));
        assert_eq!(local_digests(&images, "tomcat@sha256:aaa"), one("sha256:aaa"));
        let jdk = local_digests(&images, "127.0.0.1:5000/library/jdk:17").unwrap();
        assert_eq!(jdk, ["sha256:pushed", "sha256:local"]);
        assert_eq!(pick_local(&jdk, Some("sha256:local")).as_deref(), Some("sha256:local"));
        assert_eq!(pick_local(&jdk, Some("sha256:new")).as_deref(), Some("sha256:pushed"));
        assert_eq!(pick_local(&jdk, None).as_deref(), Some("sha256:pushed"));
    }
}
