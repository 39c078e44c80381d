//! The kubeconfig of the simulated clusters, shaped as kubeadm's
//! `admin.conf` and `aws eks update-kubeconfig` write theirs.

use std::path::Path;

use super::KubeSim;

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

pub(crate) fn render(kube: &KubeSim, exec_program: &Path) -> String {
    let program = exec_program.to_string_lossy();
    let mut clusters = String::new();
    let mut contexts = String::new();
    let mut users = String::new();
    for c in &kube.clusters {
        clusters.push_str(&format!(
            "- cluster:\n    server: {}\n  name: {}\n",
            q(&c.url),
            q(&c.spec.name)
        ));
        contexts.push_str(&format!(
            "- context:\n    cluster: {}\n    user: {}\n  name: {}\n",
            q(&c.spec.name),
            q(&c.spec.user),
            q(&c.spec.context)
        ));
        if c.spec.eks {
            let args = [
                "sim-eks-token".to_string(),
                "--url".to_string(),
                format!("{}/__token", c.url),
                "--cluster".to_string(),
                c.spec.short.clone(),
            ];
            let args: String = args.iter().map(|a| format!("      - {}\n", q(a))).collect();
            users.push_str(&format!(
                "- name: {}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      args:\n{args}      interactiveMode: Never\n      provideClusterInfo: false\n",
                q(&c.spec.user),
                q(&program),
            ));
        } else {
            // kubeadm embeds a client certificate; the simulated API server
            // speaks plain HTTP, so a static token stands in for it.
            users.push_str(&format!(
                "- name: {}\n  user:\n    token: {}\n",
                q(&c.spec.user),
                q(&kube.static_token)
            ));
        }
    }
    let current = kube
        .clusters
        .first()
        .map(|c| c.spec.context.clone())
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\npreferences: {{}}\nclusters:\n{clusters}contexts:\n{contexts}current-context: {}\nusers:\n{users}",
        q(&current)
    )
}
