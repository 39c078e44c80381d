//! Who may talk to the simulated clusters.
//!
//! The kubeadm cluster: a real `admin.conf` authenticates with an embedded
//! client certificate; the simulated API server is plain HTTP on 127.0.0.1
//! (no TLS, so no client certificates), so its kubeconfig carries a static
//! bearer token instead.
//!
//! The EKS cluster: `aws eks update-kubeconfig` writes an exec plugin that
//! runs `aws eks get-token` for a `k8s-aws-v1.` token living about 15
//! minutes. `aws` is not available here, so the exec command is the
//! flightdeck binary itself (`flightdeck sim-eks-token --url … --cluster …`),
//! which GETs the cluster's `/__token` and prints the `ExecCredential`. The
//! cluster remembers the tokens it issued and refuses unknown or expired
//! ones with 401. Token lifetimes are wall-clock time: kube-rs compares
//! `expirationTimestamp` with the real clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;

/// Tokens issued by one EKS cluster.
#[derive(Default)]
pub(crate) struct Tokens {
    issued: HashMap<String, Instant>,
}

impl Tokens {
    /// A new token valid for `lifetime`, as the `ExecCredential` JSON
    /// `aws eks get-token` prints.
    pub(crate) fn issue(&mut self, lifetime: Duration) -> String {
        let now = Instant::now();
        self.issued.retain(|_, expires| *expires > now);
        let expires_wall = chrono::Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or_default();
        let signature: String = (0..64)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect();
        // What the real token encodes: a presigned STS GetCallerIdentity URL.
        let presigned = format!(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15\
             &X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAUSERSIM{:08X}%2F{}%2Feu-west-1%2Fsts%2Faws4_request\
             &X-Amz-Date={}&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature={signature}",
            fastrand::u32(..),
            chrono::Utc::now().format("%Y%m%d"),
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        );
        let token = format!(
            "k8s-aws-v1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
        );
        self.issued.insert(token.clone(), now + lifetime);
        json!({
            "kind": "ExecCredential",
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "spec": {},
            "status": {
                "expirationTimestamp": expires_wall.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "token": token,
            },
        })
        .to_string()
    }

    pub(crate) fn valid(&self, token: &str) -> bool {
        self.issued.get(token).is_some_and(|expires| *expires > Instant::now())
    }
}

/// The bearer token of an `Authorization` header.
pub(crate) fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What the hidden `flightdeck sim-eks-token` subcommand prints: the
/// `ExecCredential` the simulated EKS cluster issues at `url` (its
/// `/__token`), for `cluster`.
pub async fn fetch_exec_credential(url: &str, cluster: Option<&str>) -> Result<String, String> {
    let mut target = url::Url::parse(url).map_err(|e| format!("bad token URL {url:?}: {e}"))?;
    if let Some(c) = cluster {
        target.query_pairs_mut().append_pair("cluster", c);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let resp = client
        .get(target.clone())
        .send()
        .await
        .map_err(|e| format!("cannot reach {target}: {e}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("cannot read the answer of {target}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{target} answered {status}: {}", body.trim()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire() {
        let mut t = Tokens::default();
        let cred: serde_json::Value = serde_json::from_str(&t.issue(Duration::from_millis(50))).unwrap();
        let token = cred["status"]["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("k8s-aws-v1."));
        assert!(t.valid(&token));
        assert!(!t.valid("k8s-aws-v1.forged"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!t.valid(&token));
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
    }
}
