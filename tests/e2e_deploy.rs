//! End to end on the clusters: the real binary in a pseudo-terminal against the simulated estate,
//! whose two Kubernetes API servers run a small deployment controller. Promote a candidate by
//! patching its Deployment, watch the rollout complete, then roll it back as `kubectl rollout
//! undo` does; and decide the inbox's items under the four-eyes rule.

mod common;

use std::time::{Duration, Instant};

use common::{Cockpit, write_config};
use flightdeck::sim::{Estate, SimOptions};

const T: Duration = Duration::from_secs(30);

struct Setup {
    estate: Estate,
    dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let estate = rt
        .block_on(Estate::start(SimOptions::default()))
        .expect("start the simulated estate");
    Setup {
        estate,
        dir: tempfile::tempdir().unwrap(),
        _rt: rt,
    }
}

impl Setup {
    fn cockpit(&self) -> Cockpit {
        let dir = self.dir.path();
        let config = write_config(dir, &self.estate.demo_config_toml());
        let data = dir.join("data");
        Cockpit::spawn(
            &["--config", config.to_str().unwrap()],
            &[
                ("FLIGHTDECK_DEMO_TOKEN", "demo-token"),
                ("XDG_DATA_HOME", data.to_str().unwrap()),
                ("XDG_CONFIG_HOME", dir.to_str().unwrap()),
            ],
            120,
            40,
        )
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("data/flightdeck/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Wait until the audit holds a line for `action` with `result`.
    fn wait_audit(&self, action: &str, result: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self
                .audit()
                .into_iter()
                .find(|l| l["action"] == action && l["result"] == result)
            {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no {action}/{result} in the audit: {:#?}",
                self.audit()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The digests the staging pods of a service run, straight from the simulated cluster through
/// kube-rs and the demo kubeconfig.
fn running_digests(estate: &Estate, service: &str) -> Vec<String> {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams};
    let yaml = estate.kubeconfig_yaml(std::path::Path::new(env!("CARGO_BIN_EXE_flightdeck")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
        let options = kube::config::KubeConfigOptions {
            context: Some(flightdeck::sim::KUBEADM_CONTEXT.to_string()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let pods: Api<Pod> = Api::namespaced(client, flightdeck::sim::STAGING_NAMESPACE);
        let list = pods
            .list(&ListParams::default().labels(&format!("app={service}")))
            .await
            .unwrap();
        let mut digests: Vec<String> = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| {
                p.status
                    .as_ref()?
                    .container_statuses
                    .as_ref()?
                    .first()
                    .map(|c| c.image_id.clone())
            })
            .filter(|id| !id.is_empty())
            .filter_map(|id| id.rsplit_once('@').map(|(_, d)| d.to_string()))
            .collect();
        digests.sort();
        digests.dedup();
        digests
    })
}

#[test]
fn promote_by_patch_watch_the_rollout_complete_then_roll_it_back() {
    let s = setup();
    let target = s.estate.control().kube_facts().promotion_target;
    let service = target.workload.service.clone();
    let version = target.candidate_version.clone();
    assert_eq!(
        running_digests(&s.estate, &service),
        vec![target.running_digest.clone()]
    );

    let mut c = s.cockpit();
    c.wait_for("Release board", T);
    c.wait_for("kubeadm ✔", T);
    c.send("/");
    c.send(&service);
    c.send("\r");
    let marked = format!("▸{version} ");
    for _ in 0..20 {
        if c.screen().contains(&marked) {
            break;
        }
        c.send("]");
        std::thread::sleep(Duration::from_millis(200));
    }
    c.wait_for(&marked, T);

    // The plan names the patch and the follow before anything happens.
    c.send("p");
    c.wait_for(&format!("Promote {service} {version} to staging"), T);
    c.wait_for("PATCH", T);
    c.wait_for("WATCH", T);
    c.send("\r");
    c.wait_for(&format!("✔ Promote {service} {version} to staging"), T);

    // The rollout is followed to its end and recorded; the pods then run the candidate's digest.
    let check = s.wait_audit("rollout_check", "ok", Duration::from_secs(90));
    assert!(
        check["detail"].as_str().unwrap().contains("successfully rolled out"),
        "{check}"
    );
    assert_eq!(
        running_digests(&s.estate, &service),
        vec![target.candidate_digest.clone()]
    );
    c.send("5");
    c.wait_for(&format!("{service} in staging"), T);
    c.wait_for("successfully rolled out", T);

    // Roll back as `kubectl rollout undo` does: the previous revision's template.
    c.send("r");
    c.wait_for("(kubectl rollout undo)", T);
    c.wait_for("json-patch", T);
    c.send("\r");
    let undo = s.wait_audit("rollout_undo", "ok", T);
    let detail = undo["detail"].as_str().unwrap();
    assert!(detail.contains("rolled back from revision"), "{detail}");
    assert!(detail.contains("points at"), "the staging tag follows: {detail}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while running_digests(&s.estate, &service) != vec![target.running_digest.clone()] {
        assert!(Instant::now() < deadline, "the rollback never completed");
        std::thread::sleep(Duration::from_millis(500));
    }
    let audit = s.audit();
    let actions: Vec<&str> = audit.iter().filter_map(|l| l["action"].as_str()).collect();
    assert!(
        actions.contains(&"promote") && actions.contains(&"rollout_undo"),
        "{actions:?}"
    );
    // The staging tag followed the rollback, so promoted and running agree again.
    let repo = format!("shop/{service}");
    assert_eq!(
        s.estate.control().image_tag(&repo, "staging").as_deref(),
        Some(target.running_digest.as_str())
    );
}
