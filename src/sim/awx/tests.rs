//! The simulated AWX's story without HTTP: what it holds at start and how it moves.

use super::story::{AwxSim, Decision};
use crate::sim::images::ImageState;
use crate::sim::jenkins::Ms;
use crate::sim::story::{MIN, SEC, World};

fn sim() -> (AwxSim, Ms) {
    let world = World::new(7, "http://127.0.0.1:1".into(), false, 1_795_515_330_000);
    let images = ImageState::new(&world);
    (AwxSim::new(&world, &images), world.now)
}

#[test]
fn the_estate_starts_with_its_anomalies() {
    let (sim, now) = sim();
    let f = &sim.facts;
    assert_eq!(sim.status_of(f.running_job.id, now).as_deref(), Some("running"));
    assert_eq!(sim.status_of(f.failed_job.id, now).as_deref(), Some("failed"));
    assert_eq!(sim.status_of(f.pending_approval_id, now).as_deref(), Some("pending"));
    assert_eq!(
        sim.status_of(f.approved_approval_id, now).as_deref(),
        Some("successful")
    );
    assert_eq!(sim.status_of(f.timed_out_approval_id, now).as_deref(), Some("failed"));
    assert_eq!(f.pending_launched_by, "dmitri");
    assert!(!f.pinned_version.is_empty());
    assert!(!f.running_job.version.is_empty() && !f.failed_job.version.is_empty());
    // Ids grow with creation, per template.
    for t in &sim.templates {
        let jobs: Vec<_> = sim.jobs.iter().filter(|j| j.template == t.id).collect();
        assert!(
            jobs.windows(2)
                .all(|w| w[0].id < w[1].id && w[0].created <= w[1].created),
            "{}",
            t.name
        );
    }
    // The failed job's output ends in the failed task and the recap.
    let failed = sim.job(f.failed_job.id).unwrap();
    let out = failed.output_at(now);
    assert!(out.iter().any(|l| l.text.starts_with("fatal: [app-2]: FAILED! => {")));
    // The running job's output grows.
    let running = sim.job(f.running_job.id).unwrap();
    let before = running.output_at(now).len();
    assert!(before > 0);
    assert!(running.output_at(now + 5 * MIN).len() > before);
    assert_eq!(running.status(now + 20 * MIN), "successful");
}

#[test]
fn approvals_move_the_workflow() {
    let (mut sim, now) = sim();
    let f = sim.facts.clone();
    sim.decide(f.pending_approval_id, Decision::Approved, "flightdeck", now)
        .unwrap();
    assert_eq!(
        sim.decide(f.pending_approval_id, Decision::Denied, "flightdeck", now),
        Err("This workflow step has already been approved or denied.".to_string())
    );
    assert_eq!(
        sim.status_of(f.pending_workflow_job_id, now).as_deref(),
        Some("running")
    );
    assert_eq!(
        sim.status_of(f.pending_workflow_job_id, now + MIN).as_deref(),
        Some("successful")
    );
    let deploy = sim
        .jobs
        .iter()
        .find(|j| j.workflow == Some(f.pending_workflow_job_id))
        .unwrap();
    assert_eq!(deploy.launch_type, "workflow");
    assert_eq!(deploy.launched_by, "dmitri");
    // Left alone, an approval times out after a day and fails its workflow.
    let (mut sim, now) = self::sim();
    sim.settle(now + 25 * 60 * MIN);
    assert_eq!(
        sim.status_of(f.pending_approval_id, now + 25 * 60 * MIN).as_deref(),
        Some("failed")
    );
    assert_eq!(
        sim.status_of(f.pending_workflow_job_id, now + 25 * 60 * MIN).as_deref(),
        Some("failed")
    );
    let _ = SEC;
}
