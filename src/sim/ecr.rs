//! An Amazon ECR API subset in the AWS JSON 1.1 protocol: `POST /` (any
//! path) with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`.
//! SigV4 is not checked (any `Authorization` will do), so the AWS SDK can be
//! pointed here with `endpoint_url` and any static keys.
//!
//! Operations: DescribeRepositories, DescribeImages, BatchGetImage, PutImage,
//! DescribeImageScanFindings, GetAuthorizationToken. Errors are JSON
//! `{"__type","message"}` with status 400 (500 `ServerException` for the
//! injected PutImage failures). Timestamps are epoch seconds (floats), image
//! digests the sha256 of the manifest string.
//!
//! Repositories `shop/{service}` of the ECR-hosted services (see
//! `images.rs`): one tag per candidate version plus `staging` and `prod`.
//! `shop/payments-api` and `shop/ledger-service` scan on push (BASIC,
//! `findings`), `shop/fraud-scoring` is under ENHANCED scanning
//! (`enhancedFindings`); images pushed before scanning was turned on have no
//! scan (`ScanNotFoundException`).

use base64::Engine;
use hyper::StatusCode;
use hyper::header;
use serde_json::{Map, Value, json};

use super::api::hname;
use super::images::{
    ECR_ACCOUNT, ECR_REGION, EcrImage, EcrRepo, EcrScan, Finding, ImageState, ImgReq, Scanning, ecr_host, is_digest,
    severity_counts, sha256_digest,
};
use super::jenkins::Ms;
use super::routes::Reply;
use super::story::{HOUR, SEC};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
pub(crate) const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";

/// The operation named by `X-Amz-Target`, if it is ECR's.
pub(crate) fn operation(target: &str) -> Option<&str> {
    target.strip_prefix(TARGET_PREFIX)
}

fn secs(ms: Ms) -> Value {
    json!(ms as f64 / 1000.0)
}

fn reply(state: &mut ImageState, status: StatusCode, v: &Value) -> Reply {
    Reply::new(status)
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .header(hname("x-amzn-requestid"), state.request_id())
        .body(v.to_string())
}

fn error(state: &mut ImageState, kind: &str, message: String) -> Reply {
    let status = if kind == "ServerException" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    reply(state, status, &json!({"__type": kind, "message": message}))
}

fn registry_id(input: &Value) -> &str {
    input.get("registryId").and_then(Value::as_str).unwrap_or(ECR_ACCOUNT)
}

fn repo_not_found(state: &mut ImageState, name: &str, registry: &str) -> Reply {
    error(
        state,
        "RepositoryNotFoundException",
        format!("The repository with name '{name}' does not exist in the registry with id '{registry}'"),
    )
}

fn id_text(id: &Value) -> String {
    let part = |k: &str| {
        id.get(k)
            .and_then(Value::as_str)
            .map_or_else(|| "null".to_string(), |s| format!("'{s}'"))
    };
    format!("{{imageDigest:{}, imageTag:{}}}", part("imageDigest"), part("imageTag"))
}

/// Finds an image by `{imageTag|imageDigest}`; Err(failure code) if not.
fn find(repo: &EcrRepo, id: &Value) -> Result<usize, &'static str> {
    let tag = id.get("imageTag").and_then(Value::as_str);
    let digest = id.get("imageDigest").and_then(Value::as_str);
    match (tag, digest) {
        (None, None) => Err("MissingDigestAndTag"),
        (_, Some(d)) if !is_digest(d) => Err("InvalidImageDigest"),
        (Some(t), Some(d)) => match (repo.by_tag(t), repo.by_digest(d)) {
            (Some(a), Some(b)) if a == b => Ok(a),
            (Some(_), Some(_)) => Err("ImageTagDoesNotMatchDigest"),
            _ => Err("ImageNotFound"),
        },
        (Some(t), None) => repo.by_tag(t).ok_or("ImageNotFound"),
        (None, Some(d)) => repo.by_digest(d).ok_or("ImageNotFound"),
    }
}

/// Handles one ECR call. `now` is the story clock.
pub(crate) fn handle(state: &mut ImageState, req: &ImgReq, now: Ms) -> Reply {
    let op = req
        .target
        .as_deref()
        .and_then(operation)
        .unwrap_or_default()
        .to_string();
    if req.method != hyper::Method::POST {
        return error(state, "UnknownOperationException", "POST only".into());
    }
    let input: Value = if req.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return error(
                    state,
                    "SerializationException",
                    "Start of structure or map found where not expected.".into(),
                );
            }
        }
    };
    match op.as_str() {
        "DescribeRepositories" => describe_repositories(state, &input),
        "DescribeImages" => describe_images(state, &input, now),
        "BatchGetImage" => batch_get_image(state, &input, now),
        "PutImage" => put_image(state, &input, now),
        "DescribeImageScanFindings" => scan_findings(state, &input, now),
        "GetAuthorizationToken" => authorization_token(state, now),
        other => error(
            state,
            "UnknownOperationException",
            format!("Operation {other} is not supported by this simulator"),
        ),
    }
}

fn repository_json(name: &str, repo: &EcrRepo) -> Value {
    json!({
        "repositoryArn": format!("arn:aws:ecr:{ECR_REGION}:{ECR_ACCOUNT}:repository/{name}"),
        "registryId": ECR_ACCOUNT,
        "repositoryName": name,
        "repositoryUri": format!("{}/{name}", ecr_host()),
        "createdAt": secs(repo.created_at),
        "imageTagMutability": "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": repo.scanning == Scanning::Basic},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    })
}

fn max_results(input: &Value, default: usize) -> Result<usize, String> {
    match input.get("maxResults") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
            _ => Err(format!(
                "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000"
            )),
        },
    }
}

fn encode_token(kind: &str, offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}|{offset}"))
}

fn decode_token(kind: &str, input: &Value) -> Result<usize, String> {
    let Some(t) = input.get("nextToken").and_then(Value::as_str) else {
        return Ok(0);
    };
    let text = base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| "Invalid NextToken".to_string())?;
    match text.rsplit_once('|') {
        Some((k, n)) if k == kind => n.parse().map_err(|_| "Invalid NextToken".to_string()),
        _ => Err("Invalid NextToken".to_string()),
    }
}

fn describe_repositories(state: &mut ImageState, input: &Value) -> Reply {
    let registry = registry_id(input).to_string();
    let names: Option<Vec<String>> = input
        .get("repositoryNames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect());
    let selected: Vec<Value> = match &names {
        Some(names) => {
            let mut out = Vec::new();
            for n in names {
                match state.ecr.get(n) {
                    Some(r) if registry == ECR_ACCOUNT => out.push(repository_json(n, r)),
                    _ => return repo_not_found(state, n, &registry),
                }
            }
            out
        }
        None => state.ecr.iter().map(|(n, r)| repository_json(n, r)).collect(),
    };
    let limit = match max_results(input, 100) {
        Ok(n) => n,
        Err(m) => return error(state, "InvalidParameterException", m),
    };
    let offset = match decode_token("repositories", input) {
        Ok(n) => n,
        Err(m) => return error(state, "InvalidParameterException", m),
    };
    let page: Vec<Value> = selected.iter().skip(offset).take(limit).cloned().collect();
    let mut out = json!({"repositories": page});
    if offset + limit < selected.len() {
        out["nextToken"] = json!(encode_token("repositories", offset + limit));
    }
    reply(state, StatusCode::OK, &out)
}

fn counts_json(findings: &[Finding]) -> Value {
    let mut m = Map::new();
    for (k, v) in severity_counts(findings) {
        m.insert(k.to_string(), json!(v));
    }
    Value::Object(m)
}

/// `IN_PROGRESS` until the scan completes; enhanced scans are `ACTIVE`.
fn scan_status(scan: &EcrScan, now: Ms) -> (&'static str, &'static str) {
    if now < scan.completed_at {
        return ("IN_PROGRESS", "The scan is in progress.");
    }
    match scan.kind {
        Scanning::Enhanced => ("ACTIVE", "Continuous scan is selected for image."),
        _ => ("COMPLETE", "The scan was completed successfully."),
    }
}

fn image_detail(name: &str, img: &EcrImage, now: Ms) -> Value {
    let mut d = json!({
        "registryId": ECR_ACCOUNT,
        "repositoryName": name,
        "imageDigest": img.digest,
        "imageSizeInBytes": img.size,
        "imagePushedAt": secs(img.pushed_at),
        "imageManifestMediaType": img.media_type,
        "imageStatus": "ACTIVE",
    });
    if !img.tags.is_empty() {
        d["imageTags"] = json!(img.tags);
    }
    if let Some(a) = &img.artifact_media_type {
        d["artifactMediaType"] = json!(a);
    }
    if let Some(t) = img.last_pull {
        d["lastRecordedPullTime"] = secs(t);
    }
    if let Some(scan) = &img.scan {
        let (status, description) = scan_status(scan, now);
        d["imageScanStatus"] = json!({"status": status, "description": description});
        if now >= scan.completed_at {
            d["imageScanFindingsSummary"] = json!({
                "imageScanCompletedAt": secs(scan.completed_at),
                "vulnerabilitySourceUpdatedAt": secs(scan.completed_at - 3 * HOUR),
                "findingSeverityCounts": counts_json(&scan.findings),
            });
        }
    }
    d
}

fn describe_images(state: &mut ImageState, input: &Value, now: Ms) -> Reply {
    state.stats.ecr_describe_images += 1;
    let registry = registry_id(input).to_string();
    let Some(name) = input.get("repositoryName").and_then(Value::as_str).map(str::to_string) else {
        return error(state, "InvalidParameterException", "repositoryName is required".into());
    };
    if registry != ECR_ACCOUNT || !state.ecr.contains_key(&name) {
        return repo_not_found(state, &name, &registry);
    }
    let ids = input.get("imageIds").and_then(Value::as_array).cloned();
    if ids.is_some() && input.get("nextToken").is_some_and(|t| !t.is_null()) {
        return error(
            state,
            "InvalidParameterException",
            "Invalid parameter at 'nextToken' failed to satisfy constraint: 'nextToken cannot be specified with imageIds'".into(),
        );
    }
    let repo = &state.ecr[&name];
    if let Some(ids) = ids {
        let mut out = Vec::new();
        for id in &ids {
            match find(repo, id) {
                Ok(i) => {
                    let d = image_detail(&name, &repo.images[i], now);
                    if !out.contains(&d) {
                        out.push(d);
                    }
                }
                Err(_) => {
                    let msg = format!(
                        "The image with imageId {} does not exist within the repository with name '{name}' in the registry with id '{registry}'",
                        id_text(id)
                    );
                    return error(state, "ImageNotFoundException", msg);
                }
            }
        }
        return reply(state, StatusCode::OK, &json!({"imageDetails": out}));
    }
    let tag_status = input
        .pointer("/filter/tagStatus")
        .and_then(Value::as_str)
        .unwrap_or("ANY")
        .to_string();
    let all: Vec<Value> = repo
        .images
        .iter()
        .filter(|i| match tag_status.as_str() {
            "TAGGED" => !i.tags.is_empty(),
            "UNTAGGED" => i.tags.is_empty(),
            _ => true,
        })
        .map(|i| image_detail(&name, i, now))
        .collect();
    let limit = match max_results(input, 100) {
        Ok(n) => n,
        Err(m) => return error(state, "InvalidParameterException", m),
    };
    let kind = format!("images:{name}:{tag_status}");
    let offset = match decode_token(&kind, input) {
        Ok(n) => n,
        Err(m) => return error(state, "InvalidParameterException", m),
    };
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let mut out = json!({"imageDetails": page});
    if offset + limit < all.len() {
        out["nextToken"] = json!(encode_token(&kind, offset + limit));
    }
    reply(state, StatusCode::OK, &out)
}

fn batch_get_image(state: &mut ImageState, input: &Value, now: Ms) -> Reply {
    state.stats.ecr_batch_get_image += 1;
    let registry = registry_id(input).to_string();
    let Some(name) = input.get("repositoryName").and_then(Value::as_str).map(str::to_string) else {
        return error(state, "InvalidParameterException", "repositoryName is required".into());
    };
    let Some(ids) = input.get("imageIds").and_then(Value::as_array).cloned() else {
        return error(state, "InvalidParameterException", "imageIds is required".into());
    };
    if registry != ECR_ACCOUNT || !state.ecr.contains_key(&name) {
        return repo_not_found(state, &name, &registry);
    }
    let Some(repo) = state.ecr.get_mut(&name) else {
        return Reply::new(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut images = Vec::new();
    let mut failures = Vec::new();
    for id in &ids {
        match find(repo, id) {
            Ok(i) => {
                let img = &mut repo.images[i];
                img.last_pull = Some(now);
                let mut image_id = json!({"imageDigest": img.digest});
                if let Some(t) = id.get("imageTag").and_then(Value::as_str) {
                    image_id["imageTag"] = json!(t);
                }
                images.push(json!({
                    "registryId": ECR_ACCOUNT,
                    "repositoryName": name,
                    "imageId": image_id,
                    "imageManifest": img.manifest,
                    "imageManifestMediaType": img.media_type,
                }));
            }
            Err(code) => {
                let reason = match code {
                    "ImageNotFound" => "Requested image not found",
                    "ImageTagDoesNotMatchDigest" => "Invalid parameter: imageTag and imageDigest do not match",
                    "InvalidImageDigest" => "Invalid image digest",
                    _ => "Missing both imageDigest and imageTag",
                };
                failures.push(json!({"imageId": id, "failureCode": code, "failureReason": reason}));
            }
        }
    }
    reply(state, StatusCode::OK, &json!({"images": images, "failures": failures}))
}

fn put_image(state: &mut ImageState, input: &Value, now: Ms) -> Reply {
    state.stats.ecr_put_image += 1;
    let registry = registry_id(input).to_string();
    let Some(name) = input.get("repositoryName").and_then(Value::as_str).map(str::to_string) else {
        return error(state, "InvalidParameterException", "repositoryName is required".into());
    };
    if registry != ECR_ACCOUNT || !state.ecr.contains_key(&name) {
        return repo_not_found(state, &name, &registry);
    }
    if state.fail_ecr_puts > 0 {
        state.fail_ecr_puts -= 1;
        state.stats.injected_failures += 1;
        return error(
            state,
            "ServerException",
            "An internal error occurred (simulated).".into(),
        );
    }
    let Some(manifest) = input.get("imageManifest").and_then(Value::as_str).map(str::to_string) else {
        return error(state, "InvalidParameterException", "imageManifest is required".into());
    };
    let tag = input.get("imageTag").and_then(Value::as_str).map(str::to_string);
    if let Some(t) = &tag
        && !super::registry::valid_tag(t)
    {
        return error(
            state,
            "InvalidParameterException",
            format!("Invalid parameter at 'imageTag' failed to satisfy constraint: '{t}' is not a valid tag"),
        );
    }
    let parsed: Value = match serde_json::from_str(&manifest) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return error(
                state,
                "InvalidParameterException",
                "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'".into(),
            );
        }
    };
    let digest = sha256_digest(manifest.as_bytes());
    if let Some(d) = input.get("imageDigest").and_then(Value::as_str)
        && d != digest
    {
        return error(
            state,
            "ImageDigestDoesNotMatchException",
            format!(
                "Invalid parameter at 'imageDigest' failed to satisfy constraint: '{d}' does not match the digest of the manifest, '{digest}'"
            ),
        );
    }
    let media_type = input
        .get("imageManifestMediaType")
        .and_then(Value::as_str)
        .or_else(|| parsed.get("mediaType").and_then(Value::as_str))
        .unwrap_or(super::images::DOCKER_MANIFEST)
        .to_string();
    let referenced: Vec<String> = parsed
        .get("config")
        .into_iter()
        .chain(parsed.get("layers").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|d| d.get("digest").and_then(Value::as_str).map(str::to_string))
        .collect();
    let missing: Vec<&String> = referenced.iter().filter(|d| !state.blobs.contains_key(*d)).collect();
    if !missing.is_empty() {
        let list = missing.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ");
        return error(
            state,
            "LayersNotFoundException",
            format!(
                "Layers with digests '[{list}]' required for pushing image into repository with name '{name}' in the registry with id '{registry}' do not exist"
            ),
        );
    }
    let size: u64 = parsed
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("size").and_then(Value::as_u64))
        .sum();
    let Some(repo) = state.ecr.get_mut(&name) else {
        return Reply::new(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let existing = repo.by_digest(&digest);
    if let Some(i) = existing
        && tag.as_ref().is_none_or(|t| repo.images[i].tags.contains(t))
    {
        let t = tag.as_deref().unwrap_or("null");
        let msg = format!(
            "Image with digest '{digest}' and tag '{t}' already exists in the repository with name '{name}' in registry with id '{registry}'"
        );
        return error(state, "ImageAlreadyExistsException", msg);
    }
    let idx = match existing {
        Some(i) => i,
        None => {
            repo.images.push(EcrImage {
                digest: digest.clone(),
                manifest: manifest.clone(),
                media_type: media_type.clone(),
                artifact_media_type: parsed
                    .pointer("/config/mediaType")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                tags: Vec::new(),
                pushed_at: now,
                size,
                // Scan on push: the basic scanner takes a few seconds.
                scan: (repo.scanning == Scanning::Basic).then(|| EcrScan {
                    kind: Scanning::Basic,
                    completed_at: now + 20 * SEC,
                    findings: Vec::new(),
                }),
                last_pull: None,
            });
            repo.images.len() - 1
        }
    };
    if let Some(t) = &tag {
        repo.move_tag(t, idx);
    }
    let mut image_id = json!({"imageDigest": digest});
    if let Some(t) = &tag {
        image_id["imageTag"] = json!(t);
    }
    let out = json!({"image": {
        "registryId": ECR_ACCOUNT,
        "repositoryName": name,
        "imageId": image_id,
        "imageManifest": manifest,
        "imageManifestMediaType": media_type,
    }});
    reply(state, StatusCode::OK, &out)
}

fn basic_finding(f: &Finding) -> Value {
    json!({
        "name": f.id,
        "description": f.description,
        "uri": format!("https://ubuntu.com/security/{}", f.id),
        "severity": f.severity,
        "attributes": [
            {"key": "package_version", "value": f.installed},
            {"key": "package_name", "value": f.package},
            {"key": "CVSS3_SCORE", "value": format!("{:.1}", f.cvss)},
        ],
    })
}

fn enhanced_finding(name: &str, img: &EcrImage, f: &Finding, scan: &EcrScan) -> Value {
    let arn_id = super::ids::hex(0, &[name, &img.digest, f.id], 32);
    let mut package = json!({
        "name": f.package,
        "version": f.installed.split('-').next().unwrap_or(f.installed),
        "release": f.installed.split_once('-').map_or("", |(_, r)| r),
        "arch": "X86_64",
        "packageManager": "OS",
        "epoch": 0,
    });
    if let Some(fixed) = f.fixed {
        package["fixedInVersion"] = json!(fixed);
    }
    json!({
        "awsAccountId": ECR_ACCOUNT,
        "description": f.description,
        "findingArn": format!("arn:aws:inspector2:{ECR_REGION}:{ECR_ACCOUNT}:finding/{arn_id}"),
        "firstObservedAt": secs(scan.completed_at),
        "lastObservedAt": secs(scan.completed_at),
        "updatedAt": secs(scan.completed_at),
        "packageVulnerabilityDetails": {
            "vulnerabilityId": f.id,
            "source": "NVD",
            "sourceUrl": format!("https://nvd.nist.gov/vuln/detail/{}", f.id),
            "vendorSeverity": f.severity,
            "referenceUrls": [f.url()],
            "cvss": [{"baseScore": f.cvss, "scoringVector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", "source": "NVD", "version": "3.1"}],
            "vulnerablePackages": [package],
        },
        "remediation": {"recommendation": {"text": match f.fixed {
            Some(v) => format!("Upgrade {} to {v}", f.package),
            None => "None Provided".to_string(),
        }}},
        "resources": [{
            "id": format!("arn:aws:ecr:{ECR_REGION}:{ECR_ACCOUNT}:repository/{name}/{}", img.digest),
            "type": "AWS_ECR_CONTAINER_IMAGE",
            "details": {"awsEcrContainerImage": {
                "architecture": "amd64",
                "imageHash": img.digest,
                "imageTags": img.tags,
                "platform": "CENTOS_7",
                "pushedAt": secs(img.pushed_at),
                "registry": ECR_ACCOUNT,
                "repositoryName": name,
            }},
        }],
        "score": f.cvss,
        "scoreDetails": {"cvss": {"score": f.cvss, "scoreSource": "NVD", "scoringVector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H", "version": "3.1"}},
        "severity": f.severity,
        "status": "ACTIVE",
        "title": format!("{} - {}", f.id, f.package),
        "type": "PACKAGE_VULNERABILITY",
        "fixAvailable": if f.fixed.is_some() { "YES" } else { "NO" },
        "exploitAvailable": "NO",
    })
}

fn scan_findings(state: &mut ImageState, input: &Value, now: Ms) -> Reply {
    state.stats.ecr_scan_findings += 1;
    let registry = registry_id(input).to_string();
    let Some(name) = input.get("repositoryName").and_then(Value::as_str).map(str::to_string) else {
        return error(state, "InvalidParameterException", "repositoryName is required".into());
    };
    let id = input.get("imageId").cloned().unwrap_or(json!({}));
    if registry != ECR_ACCOUNT || !state.ecr.contains_key(&name) {
        return repo_not_found(state, &name, &registry);
    }
    let repo = &state.ecr[&name];
    let idx = match find(repo, &id) {
        Ok(i) => i,
        Err(_) => {
            let msg = format!(
                "The image with imageId {} does not exist within the repository with name '{name}' in the registry with id '{registry}'",
                id_text(&id)
            );
            return error(state, "ImageNotFoundException", msg);
        }
    };
    let img = repo.images[idx].clone();
    let Some(scan) = img.scan.clone() else {
        let msg = format!(
            "Image scan does not exist for the image with '{}' in the repository with name '{name}' in the registry with id '{registry}'",
            id_text(&id)
        );
        return error(state, "ScanNotFoundException", msg);
    };
    let (status, description) = scan_status(&scan, now);
    let mut image_id = json!({"imageDigest": img.digest});
    if let Some(t) = id.get("imageTag").and_then(Value::as_str) {
        image_id["imageTag"] = json!(t);
    }
    let mut out = json!({
        "registryId": ECR_ACCOUNT,
        "repositoryName": name,
        "imageId": image_id,
        "imageScanStatus": {"status": status, "description": description},
    });
    if now >= scan.completed_at {
        let mut findings = json!({
            "imageScanCompletedAt": secs(scan.completed_at),
            "vulnerabilitySourceUpdatedAt": secs(scan.completed_at - 3 * HOUR),
            "findingSeverityCounts": counts_json(&scan.findings),
        });
        match scan.kind {
            Scanning::Enhanced => {
                findings["enhancedFindings"] = Value::Array(
                    scan.findings
                        .iter()
                        .map(|f| enhanced_finding(&name, &img, f, &scan))
                        .collect(),
                );
            }
            _ => {
                findings["findings"] = Value::Array(scan.findings.iter().map(basic_finding).collect());
            }
        }
        out["imageScanFindings"] = findings;
    }
    reply(state, StatusCode::OK, &out)
}

fn authorization_token(state: &mut ImageState, now: Ms) -> Reply {
    let password = super::ids::hex(0, &["ecr-password", &state.host], 64);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let out = json!({"authorizationData": [{
        "authorizationToken": token,
        "expiresAt": secs(now + 12 * HOUR),
        "proxyEndpoint": format!("https://{}", ecr_host()),
    }]});
    reply(state, StatusCode::OK, &out)
}
