//! The OCI / Docker registry fixtures (real examples from the image-spec and distribution docs,
//! see tests/fixtures/registry/PROVENANCE.md) through the registry source's own parsers.

use flightdeck::sources::http::HttpError;
use flightdeck::sources::registry::map::{self, Manifest};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/registry/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse(name: &str) -> Manifest {
    map::parse_manifest(&fixture(name), None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn oci_index_lists_platforms_and_picks_linux_amd64() {
    let m = parse("oci-image-index.json");
    assert!(m.is_index());
    assert_eq!(m.media_type(), map::OCI_INDEX);
    let Manifest::Index { manifests, .. } = &m else {
        unreachable!()
    };
    assert_eq!(map::platforms(manifests), ["linux/ppc64le", "linux/amd64"]);
    let picked = map::pick_platform(manifests).unwrap();
    assert_eq!(
        picked.digest,
        "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
    );
    assert_eq!(picked.media_type, map::OCI_MANIFEST);
    assert_eq!(picked.size, 7682);
}

#[test]
fn docker_manifest_list_is_an_index_too() {
    let m = parse("docker-manifest-list-v2-2.json");
    assert_eq!(m.media_type(), map::DOCKER_LIST);
    let Manifest::Index { manifests, .. } = &m else {
        unreachable!()
    };
    assert_eq!(map::platforms(manifests), ["linux/ppc64le", "linux/amd64"]);
    assert_eq!(map::pick_platform(manifests).unwrap().media_type, map::DOCKER_MANIFEST);
}

#[test]
fn image_manifests_sum_config_and_layers() {
    for (name, media_type, config_type) in [
        (
            "oci-image-manifest.json",
            map::OCI_MANIFEST,
            "application/vnd.oci.image.config.v1+json",
        ),
        (
            "docker-image-manifest-v2-2.json",
            map::DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
        ),
    ] {
        let m = parse(name);
        assert_eq!(m.media_type(), media_type, "{name}");
        let Manifest::Image { config, layers, .. } = &m else {
            panic!("{name} is an image")
        };
        assert_eq!(config.media_type, config_type);
        assert_eq!(config.size, 7023);
        assert_eq!(layers.len(), 3);
        assert_eq!(map::image_size(config, layers), 7023 + 32654 + 16724 + 73109, "{name}");
    }
}

#[test]
fn the_body_media_type_wins_over_a_vague_content_type() {
    let m = map::parse_manifest(&fixture("oci-image-manifest.json"), Some("application/json")).unwrap();
    assert_eq!(m.media_type(), map::OCI_MANIFEST);
}

#[test]
fn manifest_digest_is_the_sha256_of_the_exact_bytes() {
    let bytes = fixture("docker-image-manifest-v2-2.json");
    let digest = map::sha256_digest(&bytes);
    assert!(digest.starts_with("sha256:") && digest.len() == 71);
    // One byte of whitespace more is another manifest: never re-serialise.
    let mut other = bytes.clone();
    other.push(b'\n');
    assert_ne!(map::sha256_digest(&other), digest);
}

/// The 401 of the token flow: its header names the realm, service and scope oci-client asks
/// the token server for; its body is what the health line says.
#[test]
fn token_challenge_and_response() {
    let text = String::from_utf8(fixture("oci-token-challenge-401.http.txt")).unwrap();
    let header = text
        .lines()
        .find_map(|l| l.strip_prefix("Www-Authenticate: "))
        .expect("a challenge header");
    assert!(header.starts_with("Bearer "));
    for part in [
        r#"realm="https://auth.docker.io/token""#,
        r#"service="registry.docker.io""#,
        r#"scope="repository:samalba/my-app:pull,push""#,
    ] {
        assert!(header.contains(part), "{part}");
    }
    let body = text
        .lines()
        .find(|l| l.starts_with("{\"errors\""))
        .expect("an error body");
    let envelope: oci_client::errors::OciEnvelope = serde_json::from_str(body).unwrap();
    let e = map::oci_error(
        oci_client::errors::OciDistributionError::RegistryError {
            envelope,
            url: "https://registry-1.docker.io/v2/samalba/my-app/manifests/latest".into(),
        },
        "anonymous",
    );
    assert_eq!(e.status(), Some(401));
    assert!(
        e.to_string()
            .contains("access to the requested resource is not authorized"),
        "{e}"
    );
    assert!(matches!(e, HttpError::Status { retry_after: None, .. }));

    // The token answer, as oci-client reads it.
    let token: oci_client::token_cache::RegistryToken =
        serde_json::from_slice(&fixture("oci-token-response.json")).unwrap();
    assert!(token.token().starts_with("eyJ0eXAiOiJKV1Qi"));
    assert!(token.bearer_token().starts_with("Bearer eyJ"));
}
