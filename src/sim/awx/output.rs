//! What `ansible-playbook` prints for a deploy, line by line with when each line appears, so a
//! running job's output grows with the story clock. Plain text for `format=txt`, Ansible's
//! colours for `format=ansi`.

use crate::sim::jenkins::Ms;

/// Ansible's colours: ok green, changed yellow, failed red, recap and banners plain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Colour {
    Plain,
    Ok,
    Changed,
    Failed,
    Skipped,
}

#[derive(Clone, Debug)]
pub(crate) struct Line {
    /// Milliseconds after the job started.
    pub at: Ms,
    pub colour: Colour,
    pub text: String,
}

impl Line {
    pub(crate) fn ansi(&self) -> String {
        let code = match self.colour {
            Colour::Plain => return self.text.clone(),
            Colour::Ok => "0;32",
            Colour::Changed => "0;33",
            Colour::Failed => "0;31",
            Colour::Skipped => "0;36",
        };
        format!("\u{1b}[{code}m{}\u{1b}[0m", self.text)
    }
}

/// How the run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Complete,
    /// The health check fails on this host (the others finish).
    FailAtHealth(&'static str),
    /// Canceled while pulling the image.
    Canceled,
}

pub(crate) struct Run<'a> {
    pub job_id: u64,
    pub service: &'a str,
    pub environment: &'a str,
    pub version: &'a str,
    pub digest: &'a str,
    /// Image repository without tag (`…/shop/payments-api`).
    pub image: &'a str,
    pub hosts: &'a [String],
    pub duration: Ms,
    pub step: Step,
    /// A play of another kind (its name), with one generic task.
    pub special: Option<&'a str>,
}

/// `TASK [name] *****…` padded with stars to 80 columns, as Ansible's banner does.
fn banner(text: &str) -> String {
    let stars = 79usize.saturating_sub(text.chars().count()).max(3);
    format!("{text} {}", "*".repeat(stars))
}

struct Out {
    lines: Vec<Line>,
}

impl Out {
    fn push(&mut self, at: Ms, colour: Colour, text: impl Into<String>) {
        // Output only ever grows: a line never appears before the one above it.
        let at = self.lines.last().map_or(at, |l| l.at.max(at));
        self.lines.push(Line {
            at,
            colour,
            text: text.into(),
        });
    }

    fn task(&mut self, at: Ms, name: &str) {
        self.push(at, Colour::Plain, "");
        self.push(at, Colour::Plain, banner(&format!("TASK [{name}]")));
    }
}

/// Per host: ok, changed, failed counts for the recap.
#[derive(Default, Clone, Copy)]
struct Tally {
    ok: u32,
    changed: u32,
    failed: u32,
    skipped: u32,
}

/// The whole output of one run, each line with its time.
pub(crate) fn playbook(run: &Run<'_>) -> Vec<Line> {
    let mut out = Out { lines: Vec::new() };
    let d = run.duration.max(1000);
    out.push(
        0,
        Colour::Plain,
        format!(
            "Identity added: /runner/artifacts/{id}/ssh_key_data (/runner/artifacts/{id}/ssh_key_data)",
            id = run.job_id
        ),
    );
    let mut tally: Vec<Tally> = vec![Tally::default(); run.hosts.len()];
    if let Some(play) = run.special {
        out.push(0, Colour::Plain, "");
        out.push(0, Colour::Plain, banner(&format!("PLAY [{play}]")));
        out.task(d / 10, "Gathering Facts");
        for (i, h) in run.hosts.iter().enumerate() {
            out.push(d / 3, Colour::Ok, format!("ok: [{h}]"));
            tally[i].ok += 1;
        }
        out.task(d / 2, "Rotate the password and update the vault");
        for (i, h) in run.hosts.iter().enumerate() {
            out.push(d * 9 / 10, Colour::Changed, format!("changed: [{h}]"));
            tally[i].changed += 1;
            tally[i].ok += 1;
        }
        recap(&mut out, d, run.hosts, &tally);
        return out.lines;
    }
    out.push(0, Colour::Plain, "");
    out.push(
        0,
        Colour::Plain,
        banner(&format!("PLAY [Deploy {} to {}]", run.service, run.environment)),
    );
    // Tasks with their share of the run (per mille), and whether they change things.
    let reference = if run.digest.is_empty() {
        format!("{}:{}", run.image, run.version)
    } else {
        format!("{}@{}", run.image, run.digest)
    };
    let tasks: [(&str, u64, bool); 9] = [
        ("Gathering Facts", 80, false),
        ("Check the requested release", 10, false),
        ("Log in to ECR", 30, false),
        (&format!("Pull {reference}"), 250, true),
        ("Take the host out of the load balancer", 40, true),
        (&format!("Render /etc/{}/application.yaml", run.service), 30, true),
        (&format!("Restart {}", run.service), 100, true),
        ("Wait for /actuator/health", 400, false),
        ("Put the host back in the load balancer", 40, true),
    ];
    let mut t = 0u64;
    let total = d as u64;
    for (n, (name, share, changes)) in tasks.iter().enumerate() {
        let begin = (total * t / 1000) as Ms;
        t += share;
        let end = (total * t.min(1000) / 1000) as Ms;
        out.task(begin, name);
        if run.step == Step::Canceled && n == 3 {
            // The pull was under way when somebody canceled the job.
            return out.lines;
        }
        if n == 1 {
            out.push(
                end,
                Colour::Ok,
                format!("ok: [{}] => {{", run.hosts.first().map_or("localhost", |h| h)),
            );
            let version = if run.version.is_empty() { "(unset)" } else { run.version };
            let msg = if run.digest.is_empty() {
                format!("{} {version}", run.service)
            } else {
                format!("{} {version} ({})", run.service, run.digest)
            };
            out.push(end, Colour::Ok, format!("    \"msg\": \"{msg}\""));
            out.push(end, Colour::Ok, "}");
            tally[0].ok += 1;
            for (i, h) in run.hosts.iter().enumerate().skip(1) {
                out.push(end, Colour::Skipped, format!("skipping: [{h}]"));
                tally[i].skipped += 1;
            }
            continue;
        }
        for (i, h) in run.hosts.iter().enumerate() {
            let at = end + i as Ms * 200;
            if n == 7
                && let Step::FailAtHealth(bad) = run.step
                && bad == h
            {
                out.push(
                    at,
                    Colour::Failed,
                    format!(
                        "fatal: [{h}]: FAILED! => {{\"attempts\": 12, \"changed\": false, \"elapsed\": 60, \
                         \"msg\": \"Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] \
                         Connection refused>\", \"redirected\": false, \"status\": -1, \
                         \"url\": \"http://{h}:8080/actuator/health\"}}"
                    ),
                );
                tally[i].failed += 1;
                continue;
            }
            if n == 8 && tally[i].failed > 0 {
                continue;
            }
            if *changes {
                out.push(at, Colour::Changed, format!("changed: [{h}]"));
                tally[i].changed += 1;
            } else {
                out.push(at, Colour::Ok, format!("ok: [{h}]"));
            }
            tally[i].ok += 1;
        }
        if n == 7 && matches!(run.step, Step::FailAtHealth(_)) {
            // The failed host is out of the play; the recap follows the last task.
            out.task(end + 500, "Put the host back in the load balancer");
            for (i, h) in run.hosts.iter().enumerate() {
                if tally[i].failed == 0 {
                    out.push(d - 1500, Colour::Changed, format!("changed: [{h}]"));
                    tally[i].changed += 1;
                    tally[i].ok += 1;
                }
            }
            recap(&mut out, d, run.hosts, &tally);
            // Ansible's last word on a failed run is the recap; the task that failed is above it.
            return out.lines;
        }
    }
    recap(&mut out, d, run.hosts, &tally);
    out.lines
}

fn recap(out: &mut Out, d: Ms, hosts: &[String], tally: &[Tally]) {
    let at = d - 200;
    out.push(at, Colour::Plain, "");
    out.push(at, Colour::Plain, banner("PLAY RECAP"));
    for (h, t) in hosts.iter().zip(tally) {
        let colour = if t.failed > 0 {
            Colour::Failed
        } else if t.changed > 0 {
            Colour::Changed
        } else {
            Colour::Ok
        };
        out.push(
            at,
            colour,
            format!(
                "{h:<26} : ok={:<4} changed={:<4} unreachable=0    failed={:<4} skipped={:<4} rescued=0    ignored=0   ",
                t.ok, t.changed, t.failed, t.skipped
            ),
        );
    }
    out.push(at, Colour::Plain, "");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(step: Step) -> Vec<Line> {
        let hosts = vec!["app-1".to_string(), "app-2".to_string()];
        playbook(&Run {
            job_id: 4200,
            service: "ledger-service",
            environment: "production",
            version: "3.1.79",
            digest: "sha256:abc",
            image: "314159265358.dkr.ecr.eu-west-1.amazonaws.com/shop/ledger-service",
            hosts: &hosts,
            duration: 180_000,
            step,
            special: None,
        })
    }

    #[test]
    fn a_failed_run_ends_with_the_fatal_task_then_the_recap() {
        let lines = run(Step::FailAtHealth("app-2"));
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        let fatal = text
            .iter()
            .position(|l| l.starts_with("fatal: [app-2]: FAILED! => {"))
            .unwrap();
        let recap = text.iter().position(|l| l.starts_with("PLAY RECAP")).unwrap();
        assert!(fatal < recap);
        assert!(text.iter().any(|l| l.starts_with("app-2") && l.contains("failed=1")));
        assert!(text.iter().any(|l| l.starts_with("app-1") && l.contains("failed=0")));
        // Lines come in time order, within the run.
        assert!(lines.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(lines.iter().all(|l| l.at < 180_000));
        assert_eq!(banner("TASK [x]").chars().count(), 80);
    }

    #[test]
    fn a_complete_run_changes_both_hosts() {
        let lines = run(Step::Complete);
        assert!(lines.iter().all(|l| !l.text.starts_with("fatal")));
        assert!(
            lines
                .iter()
                .any(|l| l.text.starts_with("app-2") && l.text.contains("changed=5"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.ansi().starts_with("\u{1b}[0;33mchanged: [app-1]"))
        );
        let canceled = run(Step::Canceled);
        assert!(canceled.last().unwrap().text.starts_with("TASK [Pull"));
    }
}
