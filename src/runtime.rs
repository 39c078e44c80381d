//! Wiring: from a validated config to the initial state, the source pollers, the action executor
//! and the channel that joins them. The same wiring serves the cockpit, `status` and `snapshot`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use crate::actions::{AuditLog, Executor, ImageRegistry, LazyEcr};
use crate::config::Config;
use crate::model::{Environment, SourceHealth, State, Update};
use crate::sources::awx::{AwxClient, AwxPoller, WatchedTemplate};
use crate::sources::ecr::EcrPoller;
use crate::sources::engine::EnginePoller;
use crate::sources::github::{GithubClient, GithubPoller, WatchedRepo};
use crate::sources::http::HttpError;
use crate::sources::jenkins::{JenkinsClient, JenkinsPoller, WatchedJob};
use crate::sources::kube::{KubeClients, KubeSource};
use crate::sources::nexus::{NexusClient, NexusPoller, WatchedArtifact};
use crate::sources::poller;
use crate::sources::registry::RegistryPoller;
use crate::sources::sonar::{SonarClient, SonarPoller, WatchedProject};

/// Source names for the non-Jenkins systems (there is one of each).
pub const GITHUB: &str = "github";
pub const SONAR: &str = "sonarqube";
pub const NEXUS: &str = "nexus";

/// Every kind of poller the runtime drives.
enum AnyPoller {
    Jenkins(JenkinsPoller),
    Github(GithubPoller),
    Sonar(SonarPoller),
    Nexus(NexusPoller),
    Registry(RegistryPoller),
    Ecr(EcrPoller),
    Engine(EnginePoller),
    Awx(AwxPoller),
    /// Kubernetes watches (one source per kubeconfig context); `poll_once` lists once.
    Kube(KubeSource),
}

impl AnyPoller {
    async fn poll_once(&mut self) -> Result<(), HttpError> {
        match self {
            AnyPoller::Jenkins(p) => p.poll_once().await,
            AnyPoller::Github(p) => p.poll_once().await,
            AnyPoller::Sonar(p) => p.poll_once().await,
            AnyPoller::Nexus(p) => p.poll_once().await,
            AnyPoller::Registry(p) => p.poll_once().await,
            AnyPoller::Ecr(p) => p.poll_once().await,
            AnyPoller::Engine(p) => p.poll_once().await,
            AnyPoller::Awx(p) => p.poll_once().await,
            // The source reports its own health; the error is already on its line.
            AnyPoller::Kube(p) => p.list_once().await.map_err(|e| HttpError::Request(e.to_string())),
        }
    }

    fn spawn(self) {
        match self {
            AnyPoller::Jenkins(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Github(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Sonar(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Nexus(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Registry(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Ecr(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Engine(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Awx(p) => tokio::spawn(poller::run(p)),
            AnyPoller::Kube(p) => tokio::spawn(p.run()),
        };
    }
}

pub struct Runtime {
    pub state: State,
    pub tx: mpsc::UnboundedSender<Update>,
    pub rx: mpsc::UnboundedReceiver<Update>,
    pub executor: Executor,
    pub refresh: HashMap<String, Arc<Notify>>,
    /// AWX clients by source name (launch, approve, deny go through them).
    pub awx_clients: HashMap<String, Arc<AwxClient>>,
    /// Every configured cluster's client (connected on first use), for the action executor.
    pub kube_clients: KubeClients,
    /// Jenkins clients by source name (the log view reads consoles through them).
    pub jenkins_clients: HashMap<String, Arc<JenkinsClient>>,
    pollers: Vec<AnyPoller>,
}

impl Runtime {
    pub fn new(config: &Config, audit_path: Option<PathBuf>) -> Result<Runtime, HttpError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = State {
            services: config.services.clone(),
            environments: config
                .environments
                .iter()
                .map(|e| Environment {
                    name: e.name.clone(),
                    protected: e.protected,
                    read_only: e.read_only,
                })
                .collect(),
            approvals: crate::model::ApprovalPolicy {
                four_eyes: config.four_eyes,
                identities: config.identities.clone(),
            },
            ..State::default()
        };
        let mut clients = HashMap::new();
        let mut refresh = HashMap::new();
        let mut pollers = Vec::new();
        for src in &config.jenkins {
            let client = Arc::new(JenkinsClient::new(src)?);
            let notify = Arc::new(Notify::new());
            let mut jobs: Vec<WatchedJob> = Vec::new();
            for service in config.services.iter().filter(|s| s.jobs.source == src.name) {
                for job in service.jobs.all() {
                    if !jobs.iter().any(|j| &j.full_name == job) {
                        jobs.push(WatchedJob {
                            full_name: job.clone(),
                            repo: service.repo.clone(),
                            load_summary: service.chain.load_summary.clone(),
                            scan_report: service.chain.scan_report.clone(),
                        });
                    }
                }
            }
            state.apply(Update::SourceRegistered(SourceHealth::new(
                &src.name,
                "jenkins",
                client.base().as_str(),
                src.poll_interval.as_secs(),
            )));
            pollers.push(AnyPoller::Jenkins(JenkinsPoller::new(
                client.clone(),
                jobs,
                src.builds_per_job,
                src.poll_interval,
                tx.clone(),
                notify.clone(),
            )));
            clients.insert(src.name.clone(), client);
            refresh.insert(src.name.clone(), notify);
        }
        if let Some(cfg) = &config.github {
            let repos: Vec<WatchedRepo> = config
                .services
                .iter()
                .filter_map(|s| {
                    Some(WatchedRepo {
                        service: s.name.clone(),
                        github: s.github.clone()?,
                    })
                })
                .collect();
            let client = Arc::new(GithubClient::new(cfg)?);
            let notify = Arc::new(Notify::new());
            state.apply(Update::SourceRegistered(SourceHealth::new(
                GITHUB,
                "github",
                client.api_url().as_str(),
                cfg.poll_interval.as_secs(),
            )));
            pollers.push(AnyPoller::Github(GithubPoller::new(
                client,
                GITHUB,
                repos,
                cfg.commits,
                cfg.poll_interval,
                tx.clone(),
                notify.clone(),
            )));
            refresh.insert(GITHUB.to_string(), notify);
        }
        if let Some(cfg) = &config.sonar {
            let projects: Vec<WatchedProject> = config
                .services
                .iter()
                .filter_map(|s| {
                    Some(WatchedProject {
                        service: s.name.clone(),
                        sonar: s.sonar.clone()?,
                    })
                })
                .collect();
            let client = Arc::new(SonarClient::new(cfg)?);
            let notify = Arc::new(Notify::new());
            state.apply(Update::SourceRegistered(SourceHealth::new(
                SONAR,
                "sonarqube",
                client.base().as_str(),
                cfg.poll_interval.as_secs(),
            )));
            pollers.push(AnyPoller::Sonar(SonarPoller::new(
                client,
                SONAR,
                projects,
                cfg.analyses,
                cfg.poll_interval,
                tx.clone(),
                notify.clone(),
            )));
            refresh.insert(SONAR.to_string(), notify);
        }
        if let Some(cfg) = &config.nexus {
            let artifacts: Vec<WatchedArtifact> = config
                .services
                .iter()
                .filter_map(|s| {
                    Some(WatchedArtifact {
                        service: s.name.clone(),
                        nexus: s.nexus.clone()?,
                    })
                })
                .collect();
            let client = Arc::new(NexusClient::new(cfg)?);
            let notify = Arc::new(Notify::new());
            state.apply(Update::SourceRegistered(SourceHealth::new(
                NEXUS,
                "nexus",
                client.base().as_str(),
                cfg.poll_interval.as_secs(),
            )));
            pollers.push(AnyPoller::Nexus(NexusPoller::new(
                client,
                NEXUS,
                artifacts,
                cfg.max_pages,
                cfg.poll_interval,
                tx.clone(),
                notify.clone(),
            )));
            refresh.insert(NEXUS.to_string(), notify);
        }
        let mut registries = HashMap::new();
        for cfg in &config.registries {
            let notify = Arc::new(Notify::new());
            let p = RegistryPoller::new(cfg.clone(), config.services.clone(), tx.clone(), notify.clone())
                .map_err(HttpError::Request)?;
            state.apply(Update::SourceRegistered(SourceHealth::new(
                &cfg.name,
                "registry",
                cfg.url.as_str(),
                cfg.poll_interval.as_secs(),
            )));
            registries.insert(cfg.name.clone(), ImageRegistry::Oci(p.client()));
            pollers.push(AnyPoller::Registry(p));
            refresh.insert(cfg.name.clone(), notify);
        }
        if let Some(cfg) = &config.ecr {
            let notify = Arc::new(Notify::new());
            let url = match (&cfg.endpoint_url, &cfg.region) {
                (Some(u), _) => u.to_string(),
                (None, Some(r)) => format!("https://api.ecr.{r}.amazonaws.com"),
                (None, None) => "ECR (region from the AWS profile)".to_string(),
            };
            state.apply(Update::SourceRegistered(SourceHealth::new(
                &cfg.name,
                "ecr",
                &url,
                cfg.poll_interval.as_secs(),
            )));
            registries.insert(
                cfg.name.clone(),
                ImageRegistry::Ecr(Arc::new(LazyEcr::new(cfg.clone()))),
            );
            pollers.push(AnyPoller::Ecr(EcrPoller::new(
                cfg.clone(),
                config.services.clone(),
                tx.clone(),
                notify.clone(),
            )));
            refresh.insert(cfg.name.clone(), notify);
        }
        if let Some(cfg) = &config.engine {
            let notify = Arc::new(Notify::new());
            let host = cfg
                .host
                .clone()
                .or_else(|| std::env::var("DOCKER_HOST").ok())
                .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
            state.apply(Update::SourceRegistered(SourceHealth::new(
                &cfg.name,
                "docker",
                &host,
                cfg.poll_interval.as_secs(),
            )));
            // Base images are looked up with the same Docker config the registries use.
            let docker_config = config.registries.iter().find_map(|r| r.docker_config.clone());
            pollers.push(AnyPoller::Engine(EnginePoller::new(
                cfg.clone(),
                config.services.clone(),
                docker_config,
                tx.clone(),
                notify.clone(),
            )));
            refresh.insert(cfg.name.clone(), notify);
        }
        let kube_clients = KubeClients::new(&config.kubernetes);
        for cfg in &config.kubernetes {
            // Watch only the namespaces the services' workloads on this cluster live in.
            let namespaces: Vec<String> = config
                .services
                .iter()
                .flat_map(|s| s.deploy.values())
                .filter_map(|t| t.kubernetes.as_ref())
                .filter(|w| w.cluster == cfg.name)
                .map(|w| w.namespace.clone())
                .collect();
            state.apply(Update::SourceRegistered(SourceHealth::new(
                &cfg.name,
                "kubernetes",
                &cfg.context,
                crate::sources::kube::watch::HEARTBEAT.as_secs(),
            )));
            if let Some(client) = kube_clients.cluster(&cfg.name) {
                pollers.push(AnyPoller::Kube(KubeSource::new(
                    &cfg.name,
                    client,
                    namespaces,
                    tx.clone(),
                )));
            }
        }
        let mut awx_clients = HashMap::new();
        for cfg in &config.awx {
            // The templates services deploy with on this server, per environment.
            let templates: Vec<WatchedTemplate> = config
                .services
                .iter()
                .flat_map(|s| {
                    s.deploy.iter().filter_map(|(env, target)| {
                        let awx = target.awx.as_ref().filter(|a| a.source == cfg.name)?;
                        Some(WatchedTemplate {
                            service: s.name.clone(),
                            environment: env.clone(),
                            template: awx.clone(),
                        })
                    })
                })
                .collect();
            let client = Arc::new(AwxClient::new(cfg)?);
            let notify = Arc::new(Notify::new());
            state.apply(Update::SourceRegistered(SourceHealth::new(
                &cfg.name,
                "awx",
                client.base().as_str(),
                cfg.poll_interval.as_secs(),
            )));
            pollers.push(AnyPoller::Awx(AwxPoller::new(
                client.clone(),
                &cfg.name,
                templates,
                cfg.jobs_per_template,
                cfg.poll_interval,
                tx.clone(),
                notify.clone(),
            )));
            awx_clients.insert(cfg.name.clone(), client);
            refresh.insert(cfg.name.clone(), notify);
        }
        let jenkins_clients = clients.clone();
        let executor = Executor::new(clients, refresh.clone(), AuditLog::new(audit_path), tx.clone())
            .with_registries(registries)
            .with_deploy(kube_clients.clone(), awx_clients.clone());
        Ok(Runtime {
            state,
            tx,
            rx,
            executor,
            refresh,
            awx_clients,
            kube_clients,
            jenkins_clients,
            pollers,
        })
    }

    /// Start every poller as its own task. They run until the update channel closes.
    pub fn spawn_pollers(&mut self) {
        for poller in self.pollers.drain(..) {
            poller.spawn();
        }
    }

    /// Poll every source once, concurrently, and apply what they said (`status`, `snapshot`).
    pub async fn poll_all_once(&mut self) {
        let polls = self.pollers.iter_mut().map(|p| p.poll_once());
        let _ = futures::future::join_all(polls).await;
        while let Ok(update) = self.rx.try_recv() {
            self.state.apply(update);
        }
    }
}
