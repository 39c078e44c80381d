//! Wiring: from a validated config to the initial state, the source pollers, the action executor
//! and the channel that joins them. The same wiring serves the cockpit, `status` and `snapshot`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use crate::actions::{AuditLog, Executor};
use crate::config::Config;
use crate::model::{Environment, SourceHealth, State, Update};
use crate::sources::http::HttpError;
use crate::sources::jenkins::{JenkinsClient, JenkinsPoller, WatchedJob};

pub struct Runtime {
    pub state: State,
    pub tx: mpsc::UnboundedSender<Update>,
    pub rx: mpsc::UnboundedReceiver<Update>,
    pub executor: Executor,
    pub refresh: HashMap<String, Arc<Notify>>,
    pollers: Vec<JenkinsPoller>,
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
            pollers.push(JenkinsPoller::new(
                client.clone(),
                jobs,
                src.builds_per_job,
                src.poll_interval,
                tx.clone(),
                notify.clone(),
            ));
            clients.insert(src.name.clone(), client);
            refresh.insert(src.name.clone(), notify);
        }
        let executor = Executor::new(clients, refresh.clone(), AuditLog::new(audit_path), tx.clone());
        Ok(Runtime {
            state,
            tx,
            rx,
            executor,
            refresh,
            pollers,
        })
    }

    /// Start every poller as its own task. They run until the update channel closes.
    pub fn spawn_pollers(&mut self) {
        for poller in self.pollers.drain(..) {
            tokio::spawn(poller.run());
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
