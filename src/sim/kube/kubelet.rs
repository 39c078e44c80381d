//! What the kubelet does with a scheduled pod, one step at a time: pull
//! each image (resolved against the estate's registries at that moment: a
//! tag or digest they do not hold is `ErrImagePull`, then
//! `ImagePullBackOff` with a doubling back-off), start the containers, and
//! either report them ready a few seconds after the pod was created or, for
//! an image that crashes, restart them in `CrashLoopBackOff`. Every step
//! emits the kubelet's events.

use super::super::jenkins::Ms;
use super::super::story::SEC;
use super::cluster::{Cluster, Job, NsName, Pull, Resolver};
use super::controller::container_id;
use super::objects::{ContainerState, Step, Terminated};

/// The kubelet's back-off: 10 s, doubling, at most 5 minutes.
fn back_off(failures: u32) -> Ms {
    let exp = failures.saturating_sub(1).min(5);
    (10 * SEC * (1 << exp)).min(300 * SEC)
}

/// A duration as Go prints one: `10s`, `1m20s`, `5m0s`.
pub(crate) fn go_duration(ms: Ms) -> String {
    let secs = ms / SEC;
    if secs < 60 {
        format!("{secs}s")
    } else {
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

fn digest_of(image_id: &str) -> &str {
    image_id.rsplit_once('@').map_or("", |(_, d)| d)
}

impl Cluster {
    pub(crate) fn kubelet_step(&mut self, key: &NsName, t: Ms, resolve: &mut Resolver<'_>) {
        let Some(pod) = self.pods.get(key) else { return };
        let Some((at, step)) = pod.next else { return };
        if at != t {
            return;
        }
        let mut pod = pod.clone();
        pod.next = None;
        let host = Some(pod.node.clone());
        let pod_ref = format!("{}_{}({})", pod.meta.name, pod.meta.namespace, pod.meta.uid);
        // Events are recorded after the pod is stored, with its new version.
        let mut events: Vec<(usize, bool, &'static str, String)> = Vec::new();
        match step {
            Step::Pull => {
                let mut all = true;
                for (i, c) in pod.containers.iter_mut().enumerate() {
                    if c.image_id.is_some() {
                        continue;
                    }
                    events.push((i, false, "Pulling", format!("Pulling image \"{}\"", c.image)));
                    match resolve(&c.image) {
                        Pull::Found { image_id } => {
                            if self.crashing.contains(digest_of(&image_id)) {
                                pod.crashes = true;
                            }
                            c.image_id = Some(image_id);
                            c.pull_failures = 0;
                            let took = 600 + (t % 900);
                            events.push((
                                i,
                                false,
                                "Pulled",
                                format!(
                                    "Successfully pulled image \"{}\" in {took}ms ({took}ms including waiting)",
                                    c.image
                                ),
                            ));
                        }
                        Pull::Missing { message } => {
                            all = false;
                            c.pull_failures += 1;
                            c.state = ContainerState::Waiting {
                                reason: "ErrImagePull".into(),
                                message: Some(message.clone()),
                            };
                            events.push((
                                i,
                                true,
                                "Failed",
                                format!("Failed to pull image \"{}\": {message}", c.image),
                            ));
                            events.push((i, true, "Failed", "Error: ErrImagePull".into()));
                        }
                    }
                }
                pod.next = Some(if all {
                    (t + SEC, Step::Start)
                } else {
                    (t + SEC, Step::PullBackOff)
                });
            }
            Step::PullBackOff => {
                let mut wait = 0;
                for (i, c) in pod.containers.iter_mut().enumerate() {
                    if c.image_id.is_some() {
                        continue;
                    }
                    c.state = ContainerState::Waiting {
                        reason: "ImagePullBackOff".into(),
                        message: Some(format!("Back-off pulling image \"{}\"", c.image)),
                    };
                    events.push((i, false, "BackOff", format!("Back-off pulling image \"{}\"", c.image)));
                    events.push((i, true, "Failed", "Error: ImagePullBackOff".into()));
                    wait = wait.max(back_off(c.pull_failures));
                }
                pod.next = Some((t + wait.max(SEC), Step::Pull));
            }
            Step::Start => {
                for (i, c) in pod.containers.iter_mut().enumerate() {
                    c.container_id = Some(container_id(&pod.meta.uid, &c.name, 0));
                    c.state = ContainerState::Running { since: t };
                    events.push((i, false, "Created", format!("Created container: {}", c.name)));
                    events.push((i, false, "Started", format!("Started container {}", c.name)));
                }
                pod.started.get_or_insert(t);
                pod.next = Some(if pod.crashes {
                    (
                        t + self.pick(&[&pod.meta.name, "crash", "0"], 2 * SEC, 4 * SEC),
                        Step::Crash,
                    )
                } else {
                    (pod.ready_at.max(t + SEC / 2), Step::Ready)
                });
            }
            Step::Ready => {
                for c in &mut pod.containers {
                    c.ready = true;
                }
                pod.ready_changed = t;
            }
            Step::Crash => {
                let mut wait = 0;
                for (i, c) in pod.containers.iter_mut().enumerate() {
                    let since = match c.state {
                        ContainerState::Running { since } => since,
                        _ => t,
                    };
                    c.crashes += 1;
                    c.ready = false;
                    c.last_terminated = Some(Terminated {
                        exit_code: 1,
                        reason: "Error".into(),
                        started: since,
                        finished: t,
                        container_id: c.container_id.clone().unwrap_or_default(),
                    });
                    let d = back_off(c.crashes);
                    wait = wait.max(d);
                    c.state = ContainerState::Waiting {
                        reason: "CrashLoopBackOff".into(),
                        message: Some(format!(
                            "back-off {} restarting failed container={} pod={pod_ref}",
                            go_duration(d),
                            c.name
                        )),
                    };
                    events.push((
                        i,
                        true,
                        "BackOff",
                        format!("Back-off restarting failed container {} in pod {pod_ref}", c.name),
                    ));
                }
                pod.next = Some((t + wait, Step::Restart));
            }
            Step::Restart => {
                for (i, c) in pod.containers.iter_mut().enumerate() {
                    c.restarts += 1;
                    c.container_id = Some(container_id(&pod.meta.uid, &c.name, c.restarts as u32));
                    c.state = ContainerState::Running { since: t };
                    events.push((
                        i,
                        false,
                        "Pulled",
                        format!("Container image \"{}\" already present on machine", c.image),
                    ));
                    events.push((i, false, "Created", format!("Created container: {}", c.name)));
                    events.push((i, false, "Started", format!("Started container {}", c.name)));
                }
                let n = pod.containers.first().map_or(0, |c| c.restarts).to_string();
                pod.next = Some((
                    t + self.pick(&[&pod.meta.name, "crash", &n], 2 * SEC, 4 * SEC),
                    Step::Crash,
                ));
            }
        }
        if let Some((next, _)) = pod.next {
            self.schedule(next, Job::Pod(key.clone()));
        }
        self.store.commit(&mut pod);
        for (i, warning, reason, message) in events {
            let field = pod.containers.get(i).map(|c| format!("spec.containers{{{}}}", c.name));
            self.record_event(
                Cluster::involved(&pod, field),
                warning,
                reason,
                message,
                "kubelet",
                host.clone(),
            );
        }
        let owner = pod.meta.owner.clone();
        self.pods.insert(key.clone(), pod);
        // The ReplicaSet's counts follow, and its Deployment takes a look.
        let rs_key = owner.map(|o| (key.0.clone(), o.name));
        if let Some(rs_key) = rs_key
            && self.refresh_rs_status(&rs_key)
            && let Some(d_key) = self.replicasets.get(&rs_key).and_then(|rs| self.owner_deployment(rs))
        {
            self.schedule(t, Job::Deployment(d_key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_to_five_minutes() {
        let secs: Vec<Ms> = (1..=8).map(|n| back_off(n) / SEC).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(go_duration(80 * SEC), "1m20s");
        assert_eq!(go_duration(300 * SEC), "5m0s");
        assert_eq!(go_duration(10 * SEC), "10s");
    }
}
