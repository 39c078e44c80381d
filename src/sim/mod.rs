//! The simulated estate's Jenkins: an embedded HTTP server speaking the subset
//! of the Jenkins REST API (core + Pipeline REST API "wfapi") that Flightdeck
//! uses, driven by a scripted story that moves in (scaled) real time.
//!
//! Used by `flightdeck --demo` and by tests. Tests steer it through
//! [`SimControl`] in process, or through `/__sim/*` on the same server:
//!
//! - `POST /__sim/fault` `{"path_contains":"…","fault":"latency"|"status"|"429"|"malformed"|"truncated"|"reset","ms":…,"status":…,"retry_after":…}`
//! - `DELETE /__sim/fault` clears all faults
//! - `GET /__sim/requests` lists recorded requests; `DELETE /__sim/requests` forgets them
//! - `POST /__sim/tick?seconds=N` advances the story clock
//!
//! The estate: folder `dominion` with a pipeline and a parameterised deploy
//! job per service, a multibranch project `dominion/checkout-web-pr`, a
//! disabled `dominion/legacy-reporting`, and the freestyle `db-nightly-backup`.

mod console;
mod crumb;
mod faults;
mod ids;
mod jenkins;
mod render;
mod routes;
mod server;
mod story;
mod tree;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;

pub use faults::Fault;

use faults::{FaultStore, lock};
use story::World;

/// How the simulated estate behaves.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Require a CSRF crumb on every POST (and serve `/crumbIssuer`).
    pub require_crumb: bool,
    /// Story clock speed: 1.0 is real time; 0.0 freezes it (only
    /// [`SimControl::tick`] moves it).
    pub speed: f64,
    pub user: String,
    pub token: String,
    pub seed: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            require_crumb: false,
            speed: 1.0,
            user: "demo".to_string(),
            token: "demo-token".to_string(),
            seed: 7,
        }
    }
}

/// One request as the simulated server received it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string (without `?`), empty if none.
    pub query: String,
    /// Decoded `application/x-www-form-urlencoded` body fields.
    pub form: Vec<(String, String)>,
    /// Raw body as text (lossy UTF-8).
    pub body: String,
    /// Request headers except `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The authenticated user, if the credentials were valid.
    pub user: Option<String>,
    /// Wall-clock arrival time.
    pub time: chrono::DateTime<chrono::Utc>,
    /// Story-clock time (epoch ms) at arrival.
    pub sim_time_ms: i64,
    /// Status answered; 0 when the connection was dropped (or still in progress).
    pub status: u16,
}

/// Recorded requests. A long demo must not grow without bound, so the
/// oldest half is dropped past a cap; `seq` numbers stay valid.
#[derive(Default)]
pub(crate) struct RequestLog {
    dropped: usize,
    pub(crate) items: Vec<RecordedRequest>,
}

const MAX_RECORDED: usize = 50_000;

impl RequestLog {
    /// Appends and returns the request's sequence number.
    pub(crate) fn push(&mut self, r: RecordedRequest) -> usize {
        if self.items.len() >= MAX_RECORDED {
            let n = MAX_RECORDED / 2;
            self.items.drain(..n);
            self.dropped += n;
        }
        self.items.push(r);
        self.dropped + self.items.len() - 1
    }

    pub(crate) fn get_mut(&mut self, seq: usize) -> Option<&mut RecordedRequest> {
        let i = seq.checked_sub(self.dropped)?;
        self.items.get_mut(i)
    }

    pub(crate) fn clear(&mut self) {
        self.dropped += self.items.len();
        self.items.clear();
    }
}

/// State shared by the server, the ticker and control handles.
pub(crate) struct Shared {
    pub(crate) world: Mutex<World>,
    pub(crate) faults: FaultStore,
    pub(crate) requests: Mutex<RequestLog>,
    pub(crate) opts: SimOptions,
}

/// A running simulated estate. Dropping it stops the server and the story.
pub struct Estate {
    shared: Arc<Shared>,
    url: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Estate {
    /// Starts the simulated Jenkins on 127.0.0.1 with a random free port, plus
    /// the story ticker task. Must be called inside a tokio runtime.
    pub async fn start(opts: SimOptions) -> std::io::Result<Estate> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        tracing::info!("simulated Jenkins listening on {url}");
        let now = chrono::Utc::now().timestamp_millis();
        let world = World::new(opts.seed, url.clone(), opts.require_crumb, now);
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            faults: FaultStore::default(),
            requests: Mutex::new(RequestLog::default()),
            opts,
        });
        let mut tasks = vec![tokio::spawn(server::serve(listener, shared.clone()))];
        let speed = shared.opts.speed;
        if speed.is_finite() && speed > 0.0 {
            tasks.push(tokio::spawn(ticker(shared.clone(), speed)));
        }
        Ok(Estate { shared, url, tasks })
    }

    /// Base URL of the simulated Jenkins, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn jenkins_url(&self) -> String {
        self.url.clone()
    }

    /// A cheap handle to steer the estate (faults, clock, recorded requests).
    pub fn control(&self) -> SimControl {
        SimControl {
            shared: self.shared.clone(),
        }
    }

    /// A complete Flightdeck config (TOML) pointing at this estate. The
    /// caller sets `FLIGHTDECK_DEMO_TOKEN` to the estate's token.
    pub fn demo_config_toml(&self) -> String {
        let mut s = String::new();
        s.push_str("# Generated by flightdeck --demo for the embedded simulated estate.\n");
        s.push_str("[[sources.jenkins]]\n");
        s.push_str("name = \"jenkins\"\n");
        s.push_str(&format!("url = \"{}\"\n", self.url));
        s.push_str(&format!("user = \"{}\"\n", toml_escape(&self.shared.opts.user)));
        s.push_str("token_env = \"FLIGHTDECK_DEMO_TOKEN\"\n");
        s.push_str("poll_interval_secs = 2\n\n");
        s.push_str("[[environments]]\nname = \"staging\"\n\n");
        s.push_str("[[environments]]\nname = \"production\"\nprotected = true\n");
        for svc in &story::SERVICES {
            let name = svc.name;
            s.push_str(&format!(
                "\n[[services]]\nname = \"{name}\"\nrepo = \"https://github.com/dominion/{name}.git\"\n\
                 [services.jenkins]\nbuild = \"{folder}/{name}\"\ndeploy = \"{folder}/{name}-deploy\"\n",
                folder = story::FOLDER
            ));
        }
        s.push_str(&format!(
            "\n[[services]]\nname = \"{b}\"\n[services.jenkins]\nbuild = \"{b}\"\n",
            b = story::BACKUP_JOB
        ));
        s
    }
}

impl Drop for Estate {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Moves the story clock with real time scaled by `speed`.
async fn ticker(shared: Arc<Shared>, speed: f64) {
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut carry = 0.0_f64;
    loop {
        interval.tick().await;
        let now = Instant::now();
        carry += now.duration_since(last).as_secs_f64() * 1000.0 * speed;
        last = now;
        let whole = carry.floor();
        if whole >= 1.0 {
            carry -= whole;
            lock(&shared.world).advance(whole as i64);
        }
    }
}

/// Handle to steer a running estate; cheap to clone.
#[derive(Clone)]
pub struct SimControl {
    shared: Arc<Shared>,
}

impl SimControl {
    /// Applies `fault` to every request whose path contains `path_contains`
    /// (not to `/__sim/*`). The newest matching fault wins.
    pub fn set_fault(&self, path_contains: &str, fault: Fault) {
        self.shared.faults.set(path_contains, fault);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Every request received so far (except `/__sim/*`), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).items.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Advances the story clock by hand (at most a day per call). Ticks of
    /// 300 s or more also expire every crumb.
    pub fn tick(&self, seconds: f64) {
        tick(&self.shared, seconds);
    }

    /// The story clock, epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        lock(&self.shared.world).now
    }
}

/// The longest single tick: a day of story is plenty for any test, and a
/// bigger jump would only spend time replaying pushes nobody looks at.
const MAX_TICK_SECS: f64 = 86_400.0;

pub(crate) fn tick(shared: &Shared, seconds: f64) {
    if !seconds.is_finite() || seconds <= 0.0 {
        return;
    }
    let mut w = lock(&shared.world);
    w.advance((seconds.min(MAX_TICK_SECS) * 1000.0) as i64);
    if seconds >= 300.0 {
        let now = w.now;
        w.expire_crumbs(now);
    }
}

#[cfg(test)]
mod tests;
