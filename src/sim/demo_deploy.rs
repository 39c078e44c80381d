//! The deploy side of the demo config: the two simulated clusters through a kubeconfig written
//! for the demo, the simulated AWX, and where each service runs.

use std::path::{Path, PathBuf};

use super::Estate;

/// The services deployed through Ansible (AWX launches), the rest by patching the Deployment.
pub(crate) const AWX_SERVICES: [&str; 2] = ["payments-api", "ledger-service"];

/// The flightdeck binary that serves as the EKS context's exec plugin: this program itself, or,
/// when this is a test harness in `target/*/deps/`, the binary cargo built beside it.
pub(crate) fn exec_program() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("flightdeck"));
    let in_deps = exe.parent().and_then(Path::file_name).is_some_and(|d| d == "deps");
    if in_deps && let Some(target) = exe.parent().and_then(Path::parent) {
        let candidate = target.join(format!("flightdeck{}", std::env::consts::EXE_SUFFIX));
        if candidate.exists() {
            return candidate;
        }
    }
    exe
}

impl Estate {
    /// Writes the demo kubeconfig (both clusters, the EKS one through the exec plugin) into a
    /// directory of its own and returns its path.
    pub fn write_demo_kubeconfig(&self) -> std::io::Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!(
            "flightdeck-demo-{}",
            super::images::host_of(&self.url).replace([':', '.'], "-")
        ));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("kubeconfig");
        std::fs::write(&path, self.kubeconfig_yaml(&exec_program()))?;
        Ok(path)
    }

    /// `[[sources.kubernetes]]`, `[[sources.awx]]` and `[approvals]` of the demo config.
    pub(crate) fn deploy_sources_toml(&self) -> String {
        let mut s = String::new();
        match self.write_demo_kubeconfig() {
            Ok(path) => {
                for (name, context) in [("kubeadm", super::KUBEADM_CONTEXT), ("eks", super::EKS_CONTEXT)] {
                    s.push_str(&format!(
                        "[[sources.kubernetes]]\nname = \"{name}\"\ncontext = \"{context}\"\nkubeconfig = \"{}\"\n\n",
                        super::toml_escape(&path.to_string_lossy())
                    ));
                }
            }
            Err(e) => tracing::warn!("cannot write the demo kubeconfig: {e}; the demo runs without clusters"),
        }
        s.push_str(&format!(
            "[[sources.awx]]\nname = \"awx\"\nurl = \"{}\"\ntoken_env = \"FLIGHTDECK_DEMO_TOKEN\"\npoll_interval_secs = 5\n\n",
            self.awx_url()
        ));
        s
    }

    /// `[services.deploy.*]` of one demo service.
    pub(crate) fn service_deploy_toml(&self, service: &str, with_clusters: bool) -> String {
        let mut s = String::new();
        for (env, cluster, namespace) in [
            ("staging", "kubeadm", super::STAGING_NAMESPACE),
            ("production", "eks", super::PRODUCTION_NAMESPACE),
        ] {
            let mut parts = Vec::new();
            if with_clusters {
                parts.push(format!(
                    "kubernetes = {{ cluster = \"{cluster}\", namespace = \"{namespace}\", deployment = \"{service}\", container = \"{service}\" }}"
                ));
            }
            if AWX_SERVICES.contains(&service) {
                parts.push(format!(
                    "awx = {{ source = \"awx\", template = \"deploy-{service}-{env}\" }}"
                ));
            }
            if !parts.is_empty() {
                s.push_str(&format!("[services.deploy.{env}]\n{}\n", parts.join("\n")));
            }
        }
        s
    }
}
