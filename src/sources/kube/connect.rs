//! Reaching a cluster the way kubectl does: the configured kubeconfig, else `KUBECONFIG`, else
//! `~/.kube/config`; the configured context; its credentials, including exec plugins such as
//! `aws eks get-token`.
//!
//! Token refresh: kube-client keeps an exec plugin's token with its `expirationTimestamp` and runs
//! the plugin again (on the blocking pool) for any request made within 60 s of that expiry
//! (`RefreshableToken::Exec` in kube-client 5's `client/auth/mod.rs`). EKS tokens live about 15
//! minutes, so that is early enough. What kube does not handle is a token without an expiry, or
//! one the server stops accepting early: a 401 then makes [`LazyClient::invalidate`] drop the
//! client, and the next use builds a new one, which runs the plugin afresh.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ::kube::config::{ExecInteractiveMode, KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use tokio::sync::Mutex;

use super::error::KubeError;
use crate::config::KubeSourceConfig;

/// Read the kubeconfig: the given file, else what `KUBECONFIG` lists (merged), else
/// `~/.kube/config`.
pub fn read_kubeconfig(path: Option<&Path>) -> Result<Kubeconfig, KubeError> {
    let read = match path {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    };
    read.map_err(|e| KubeError::Config(format!("kubeconfig: {e}")))
}

/// The client config for one context of a kubeconfig. Exec plugins run non-interactively:
/// the cockpit owns the terminal, so a plugin must neither read the keyboard nor write over the
/// screen (its stderr is kept for the error message instead).
pub async fn client_config(mut kubeconfig: Kubeconfig, context: &str, timeout: Duration) -> Result<Config, KubeError> {
    let Some(ctx) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
        let known: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(KubeError::Config(if known.is_empty() {
            format!("the kubeconfig has no context `{context}` (it has none)")
        } else {
            format!(
                "the kubeconfig has no context `{context}` (it has: {})",
                known.join(", ")
            )
        }));
    };
    if let Some(user) = ctx.context.as_ref().and_then(|c| c.user.clone()) {
        for named in kubeconfig.auth_infos.iter_mut().filter(|a| a.name == user) {
            if let Some(exec) = named.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
                exec.interactive_mode = Some(ExecInteractiveMode::Never);
            }
        }
    }
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| KubeError::Config(format!("context `{context}`: {e}")))?;
    config.connect_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    // No read timeout: watches stay open for minutes (kube's watcher has its own idle timeout).
    config.read_timeout = None;
    // kube's own retry of 429/503/504 waits up to 15 times with delays growing to minutes, all
    // hidden from the health line; the watches back off themselves and say so.
    config.default_retry = false;
    Ok(config)
}

/// A client for the source's context. Building it may run the exec plugin, which blocks: that
/// happens on the blocking pool.
pub async fn connect(cfg: &KubeSourceConfig) -> Result<Client, KubeError> {
    let path = cfg.kubeconfig.clone();
    let kubeconfig = tokio::task::spawn_blocking(move || read_kubeconfig(path.as_deref()))
        .await
        .map_err(|e| KubeError::Config(format!("reading the kubeconfig: {e}")))??;
    let plugin = exec_command(&kubeconfig, &cfg.context);
    let config = client_config(kubeconfig, &cfg.context, cfg.timeout).await?;
    tokio::task::spawn_blocking(move || Client::try_from(config))
        .await
        .map_err(|e| KubeError::Config(format!("building the client: {e}")))?
        .map_err(|e| match (KubeError::from(e), plugin) {
            (KubeError::Config(m), Some(plugin)) => KubeError::Config(format!("`{plugin}`: {m}")),
            (other, _) => other,
        })
}

/// The exec plugin a context's user runs (`aws eks get-token`…), to name it in errors.
pub fn exec_command(kubeconfig: &Kubeconfig, context: &str) -> Option<String> {
    let user = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .user
        .clone()?;
    let exec = kubeconfig
        .auth_infos
        .iter()
        .find(|a| a.name == user)?
        .auth_info
        .as_ref()?
        .exec
        .as_ref()?;
    // The command and its subcommand words, without flags and their values (`aws eks get-token`).
    let mut words = vec![exec.command.clone()?];
    let mut flag_value = false;
    for arg in exec.args.iter().flatten() {
        if arg.starts_with('-') {
            flag_value = !arg.contains('=');
        } else if flag_value {
            flag_value = false;
        } else {
            words.push(arg.clone());
        }
    }
    Some(words.join(" "))
}

/// One cluster's client, built on first use and rebuilt after [`LazyClient::invalidate`].
pub struct LazyClient {
    cfg: KubeSourceConfig,
    client: Mutex<Option<Client>>,
}

impl LazyClient {
    pub fn new(cfg: KubeSourceConfig) -> LazyClient {
        LazyClient {
            cfg,
            client: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &KubeSourceConfig {
        &self.cfg
    }

    /// The client, connecting first if there is none (a failed attempt is retried next call).
    pub async fn get(&self) -> Result<Client, KubeError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let client = connect(&self.cfg).await?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Forget the client (its credentials were refused); the next [`LazyClient::get`] builds
    /// a new one.
    pub async fn invalidate(&self) {
        *self.client.lock().await = None;
    }
}

/// Every configured cluster's client by source name, for the sources and the action executor.
#[derive(Clone, Default)]
pub struct KubeClients {
    clusters: Arc<HashMap<String, Arc<LazyClient>>>,
}

impl KubeClients {
    pub fn new(configs: &[KubeSourceConfig]) -> KubeClients {
        KubeClients {
            clusters: Arc::new(
                configs
                    .iter()
                    .map(|c| (c.name.clone(), Arc::new(LazyClient::new(c.clone()))))
                    .collect(),
            ),
        }
    }

    pub fn cluster(&self, name: &str) -> Option<Arc<LazyClient>> {
        self.clusters.get(name).cloned()
    }

    /// The connected client of a cluster source, connecting on first use.
    pub async fn client(&self, name: &str) -> Result<Client, KubeError> {
        match self.clusters.get(name) {
            Some(c) => c.get().await,
            None => Err(KubeError::Config(format!("no Kubernetes source named `{name}`"))),
        }
    }

    /// The operator's identity on that cluster, when configured.
    pub fn identity(&self, name: &str) -> Option<&str> {
        self.clusters.get(name)?.cfg.identity.as_deref()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.clusters.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(kubeconfig: &Path, context: &str) -> KubeSourceConfig {
        KubeSourceConfig {
            name: "test".into(),
            context: context.into(),
            kubeconfig: Some(kubeconfig.to_path_buf()),
            identity: None,
            timeout: Duration::from_secs(5),
        }
    }

    /// A kubeconfig whose one user runs `sh -c SCRIPT` as its exec plugin.
    fn exec_kubeconfig(dir: &Path, script: &str) -> std::path::PathBuf {
        let path = dir.join("config");
        let yaml = format!(
            r#"apiVersion: v1
kind: Config
clusters:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/shop
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/shop
  context:
    cluster: arn:aws:eks:eu-west-1:111122223333:cluster/shop
    user: eks-user
current-context: arn:aws:eks:eu-west-1:111122223333:cluster/shop
users:
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: sh
      args: ["-c", {script:?}]
"#
        );
        std::fs::write(&path, yaml).unwrap();
        path
    }

    const EKS: &str = "arn:aws:eks:eu-west-1:111122223333:cluster/shop";

    async fn connect_error(cfg: &KubeSourceConfig) -> KubeError {
        match connect(cfg).await {
            Ok(_) => panic!("connected"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn unreadable_kubeconfig_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = connect_error(&source(&missing, EKS)).await;
        assert!(matches!(err, KubeError::Config(_)), "{err:?}");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[tokio::test]
    async fn missing_context_lists_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = exec_kubeconfig(dir.path(), "exit 0");
        let err = connect_error(&source(&path, "kubernetes-admin@kubernetes")).await;
        assert_eq!(
            err.to_string(),
            format!("the kubeconfig has no context `kubernetes-admin@kubernetes` (it has: {EKS})")
        );
    }

    #[tokio::test]
    async fn failing_exec_plugin_says_what_it_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = exec_kubeconfig(dir.path(), "echo 'Unable to locate credentials' >&2; exit 253");
        let err = connect_error(&source(&path, EKS)).await;
        let text = err.to_string();
        assert!(matches!(err, KubeError::Config(_)), "{err:?}");
        assert!(
            text.contains("exec plugin") && text.contains("Unable to locate credentials"),
            "{text}"
        );
        assert!(text.contains("253"), "{text}");
        assert!(text.starts_with("`sh`: exec plugin failed"), "{text}");
    }

    #[tokio::test]
    async fn exec_plugin_token_builds_a_client() {
        let dir = tempfile::tempdir().unwrap();
        let credential = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"k8s-aws-v1.abc","expirationTimestamp":"2099-01-01T00:00:00Z"}}"#;
        let path = exec_kubeconfig(dir.path(), &format!("echo '{credential}'"));
        let clients = KubeClients::new(&[source(&path, EKS)]);
        assert!(clients.client("test").await.is_ok());
        assert!(clients.client("other").await.is_err());
    }

    /// The user entry `aws eks update-kubeconfig` writes (tests/fixtures/kube), as a kubeconfig.
    #[test]
    fn names_the_eks_plugin() {
        let yaml = r#"
apiVersion: v1
kind: Config
clusters: []
contexts:
- name: stage-eks-cluster
  context: {cluster: "arn:aws:eks:us-east-2:111122223333:cluster/my-eks-cluster", user: john}
users:
- name: john
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: [--region, us-east-2, eks, get-token, --cluster-name, my-eks-cluster, --output, json, --role, "arn:aws:iam::111122223333:role/x"]
      command: aws
"#;
        let kubeconfig = Kubeconfig::from_yaml(yaml).unwrap();
        assert_eq!(
            exec_command(&kubeconfig, "stage-eks-cluster").as_deref(),
            Some("aws eks get-token")
        );
        assert_eq!(exec_command(&kubeconfig, "other"), None);
    }
}
