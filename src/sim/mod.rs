//! The simulated estate: one embedded HTTP server speaking the subsets of
//! Jenkins (core + Pipeline REST API "wfapi"), GitHub (Enterprise-style REST
//! under `/github/api/v3`), SonarQube (under `/sonar`) and Nexus Repository 3
//! (under `/nexus`) that Flightdeck uses, all driven by one scripted story
//! that moves in (scaled) real time. The systems agree with each other: the
//! commits Jenkins builds are the `master` history on GitHub (each the
//! squash-merge of a reviewed pull request), statuses on GitHub are what the
//! Jenkins builds posted, each finished "SonarQube analysis" stage is a Sonar
//! analysis of the build's SHA and version, each green "Publish to Nexus"
//! stage an upload to `maven-releases`.
//!
//! Used by `flightdeck --demo` and by tests. Tests steer it through
//! [`SimControl`] in process, or through `/__sim/*` on the same server:
//!
//! - `POST /__sim/fault` `{"path_contains":"…","fault":"latency"|"status"|"429"|"malformed"|"truncated"|"reset","ms":…,"status":…,"retry_after":…}`
//!   (faults match the path by substring: `/sonar/` breaks only SonarQube)
//! - `DELETE /__sim/fault` clears all faults
//! - `GET /__sim/requests` lists recorded requests; `DELETE /__sim/requests` forgets them
//! - `POST /__sim/tick?seconds=N` advances the story clock
//! - `GET /__sim/github` GitHub counters ([`GithubStats`]); `POST /__sim/github?remaining=N`
//!   sets the remaining rate limit; `DELETE /__sim/github` resets counters and limit
//! - `GET /__sim/facts` the [`StoryFacts`] as JSON
//! - `GET /__sim/registry` the OCI registry's and ECR's counters ([`RegistryStats`]);
//!   `POST /__sim/registry?fail_next_puts=N` fails the next N manifest PUTs and N ECR
//!   PutImage calls with 500; `DELETE /__sim/registry` zeroes the counters
//! - `GET /__sim/awx` the simulated AWX's facts ([`AwxFacts`]) and the launches it received
//! - `GET /__sim/big-console` where the big console is and its error lines ([`BigConsoleFact`]);
//!   404 when [`SimOptions::big_console_bytes`] is 0
//!
//! The Jenkins estate: folder `dominion` with a pipeline and a parameterised
//! deploy job per service, a multibranch project `dominion/checkout-web-pr`
//! (its `PR-41` is GitHub pull request #41 of checkout-web), a disabled
//! `dominion/legacy-reporting`, and the freestyle `db-nightly-backup`.
//! Builds that passed "Load tests" archive the JMeter report
//! `target/jmeter/statistics.json`, served with the jar under `artifact/`.
//!
//! GitHub: repositories `dominion/{service}` (plus `dominion/bulk-NNN` with
//! [`SimOptions::github_extra_repos`]), Bearer or `token` auth with the
//! estate token, ETags and 304s that spend nothing, a 5000-request window per
//! hour of *story* time, `Link` pagination. SonarQube: projects
//! `com.dominion:{service}`, gate "Sonar way". Nexus: group `com.dominion`,
//! artifact = service, repositories `maven-releases` and `maven-snapshots`.
//! See `github.rs`, `sonar.rs` and `nexus.rs` for the endpoints. AWX (API v2, see
//! `awx/mod.rs`) at `/awx`: deploy templates for payments-api and ledger-service, a release
//! workflow waiting at its approval, launches, approve and deny.
//!
//! Kubernetes (see `kube/`): two more servers on their own ports, a
//! kubeadm cluster (context `kubernetes-admin@kubernetes`, namespace
//! `shop-staging`) and an EKS cluster (context = its ARN, exec-plugin tokens,
//! namespace `shop-production`), with a small deployment controller on the
//! story clock; [`Estate::kubeconfig_yaml`] writes their kubeconfig and
//! [`SimControl::kube_facts`] names the anomalies they carry.
//!
//! Images (see `images.rs`, `registry.rs`, `ecr.rs`, `engine.rs`), on the same
//! port: an OCI registry at `/v2/` with Docker Hub-style token auth at
//! `/registry/token` (anonymous: pull; Basic `flightdeck:<token>`: pull and
//! push); the ECR API (AWS JSON 1.1, `POST /` with `X-Amz-Target`, SigV4 not
//! checked; faults match it as `/ecr/<Operation>`); the build host's Docker
//! engine (`/_ping`, `/version`, `/images/json`, `/images/{name}/json`, also
//! under `/v1.NN`). payments-api and ledger-service (Tomcat, basic scan) and
//! fraud-scoring (WildFly, enhanced scan) are on ECR; checkout-web (Tomcat,
//! Trivy), catalog-service (WildFly, Grype) and notification-worker (WildFly,
//! Trivy) on the OCI registry as `shop/{service}`: one tag per candidate
//! version, plus `staging` and `prod` on older good candidates. Digests are
//! the sha256 of the exact bytes; the Jenkins "Push image" stage prints the
//! same digest. A deploy job started by hand for `production` waits at
//! "Approve production" (one triggered by the pipeline was approved there).
//!
//! # Story facts
//!
//! Fixed when the estate starts, for any seed; the values in brackets are
//! those of the default seed 7 (whatever the start time). Read them at run
//! time with [`SimControl::story_facts`] (or `GET /__sim/facts`).
//!
//! 1. `payments-api`: its newest analysed build [#104, 1.4.104, SHA
//!    `0105aab2…`, paused at "Approve production"] has `new_coverage` exactly
//!    84.2: Sonar's gate is OK (threshold 80) while a 90 % policy fails.
//!    Other payments analyses have 81.0–88.0; other services 90.5–97.5;
//!    builds of the `FailQualityGate` scenario 55.0–68.0 (gate ERROR).
//!    → `facts.coverage`.
//! 2. `catalog-service`: the newest master commit at start [`695d4f4f…`,
//!    "Tighten CORS for the checkout origin"] was pushed straight to master
//!    (committer is the author, no pull request has it as
//!    `merge_commit_sha`); Jenkins built it [#136, rebuilt by timer as #137
//!    and #138, deployed to production]. Its protection has
//!    `enforce_admins.enabled = false`. Every other master commit of every
//!    repository is the squash-merge (committer "GitHub") of a closed pull
//!    request based on master, created before the merge and approved before
//!    it — except each repository's root commit "Initial import" (no
//!    parents; GitHub cannot take a pull request into an empty repository).
//!    → `facts.direct_push` (`sha`, `build_numbers`).
//! 3. `fraud-scoring`: its newest SUCCESS build [#74, 0.8.74] had a green
//!    "Publish to Nexus" stage but neither its jar nor its pom is in the
//!    index (the later UNSTABLE #75 did publish 0.8.75).
//!    → `facts.missing_artifact`.
//! 4. `ledger-service`: open pull request [#212] "Switch balance snapshots to
//!    event sourcing" by dmitri with reviews, in order: erin APPROVED, carol
//!    CHANGES_REQUESTED, erin COMMENTED; alice is still a requested reviewer.
//!    Latest non-COMMENTED review per reviewer: erin APPROVED, carol
//!    CHANGES_REQUESTED. → `facts.changes_requested.number`.
//! 5. `notification-worker`: its webhook's deliveries fail since 95 minutes
//!    before the start (502, 504 or "timed out" with status code 0; the last
//!    three at start are all failures, older ones are 200) and keep failing;
//!    the hook's `last_response` shows the failure. Jenkins therefore only
//!    sees its pushes by SCM polling (its newest build at start was started
//!    by hand). → `facts.failing_hook` (`hook_id`).
//! 6. `checkout-web`: every load test has p95 1220–1260 ms (threshold 800)
//!    and 0.35–0.45 % errors while the Jenkins stage stays green; the newest
//!    load-tested build at start [#98, 2.12.98] has `pct2ResTime` 1247.0 and
//!    `errorPct` 0.4. Other services stay under 600 ms.
//!    → `facts.slow_load_test`.
//! 7. `notification-worker`'s master is not protected: `GET
//!    …/branches/master/protection` answers 404 "Branch not protected".
//!    → `facts.unprotected_repo`.
//!
//! 8. `ledger-service`: its newest image [3.1.79, ECR] has a HIGH finding of
//!    the Tomcat base (CVE-2023-0286 in libssl3 3.0.2-0ubuntu1.7, fixed in
//!    3.0.2-0ubuntu1.8) in its basic scan; images scanned before the scanners
//!    knew of it are clean. → `facts.tomcat_high_finding`.
//! 9. `jboss/wildfly:26.1.3.Final` on the build host is older than the
//!    registry's tag (re-pushed since); WildFly-based images carry the old
//!    digest as `base.digest`. The Tomcat base is fresh.
//!    → `facts.stale_base`, `facts.fresh_base`.
//! 10. `notification-worker` [1.9.180, OCI, `retag`] and `fraud-scoring`
//!     [0.8.72, ECR, `both`] have a candidate green on every link with a clean
//!     scan, not yet in staging. → `facts.green_candidate`,
//!     `facts.green_ecr_candidate`; the env tags at start → `facts.image_envs`.
//!
//! 11. Failing consoles of every kind, listed with their job, build and
//!     failed stage in `facts.failed_consoles` [seed 7]: Maven unit tests
//!     (`ledger-service` #78, #80, #81: surefire's `<<< FAILURE!`, an
//!     `AssertionFailedError` and an `assertDoesNotThrow` failure with its
//!     `Caused by:`, `BUILD FAILURE`), a Sonar gate (`checkout-web-pr/PR-41`
//!     #2: `waitForQualityGate`, `Pipeline aborted due to quality gate
//!     failure: ERROR`), a BuildKit `RUN` failure in "Docker build"
//!     (`payments-api` #101, `catalog-service` #135: `#12 ERROR: process
//!     "/bin/sh -c mvn -B -q dependency:go-offline" did not complete
//!     successfully`, `ERROR: failed to solve`), an Ansible `fatal:` task in
//!     a deploy job (`notification-worker-deploy` #176, started by hand:
//!     `TASK [k8s_deploy : Apply deployment]`, `PLAY RECAP … failed=1`, exit
//!     code 2) and `kubectl rollout status` past its deadline
//!     (`catalog-service-deploy` #206). notification-worker's deploy job runs
//!     the `k8s_deploy` role ("Ansible deploy") where the others run Helm.
//!     ledger-service's and notification-worker-deploy's Jenkinsfiles use
//!     `ansiColor`: Maven and Ansible print SGR colours (the node logs carry
//!     the plugin's HTML instead). The raw consoles of ledger-service,
//!     fraud-scoring and catalog-service-deploy carry Jenkins' hidden console
//!     notes (`ESC[8mha:////4…ESC[0m`) before each `[Pipeline]` line.
//! 12. `fraud-scoring`'s newest build [#75] logs its "Regression tests" at
//!     DEBUG: its console has a generated region of
//!     [`SimOptions::big_console_bytes`] (201 MiB by default,
//!     `FLIGHTDECK_SIM_BIG_CONSOLE_MB` overrides it), made block by block as
//!     it is served, never held in memory. Every endpoint serves the same
//!     bytes: `consoleText`, `logText/progressiveText` from any `start`,
//!     the step's and the stage's `execution/node/ID/log` and `wfapi/log`
//!     (the last 10 KiB, `hasMore`). Its error lines (offsets and line
//!     numbers) → [`SimControl::big_console`].
//!
//! Also: checkout-web's open pull request #41 is built by the Jenkins job
//! `dominion/checkout-web-pr/PR-41` (status context
//! `continuous-integration/jenkins/pr-merge`, Sonar `pullRequest=41`, gate
//! ERROR); payments-api has an open draft pull request; each service has one
//! pull request in review that the next push of that service merges.
//!
//! # The running story
//!
//! A push picked by the Jenkins story merges the service's pull request in
//! review (the Jenkins commit takes its title and author) seconds before the
//! build is queued, with a `push` delivery and the `pull_request` "closed"
//! one; the build posts `pending` then its result on the commit
//! (`continuous-integration/jenkins/branch`, target = the build URL); the
//! Sonar analysis appears when "SonarQube analysis" ends and the Nexus upload
//! when "Publish to Nexus" ends. A new pull request opens 3–20 minutes after
//! the push and collects its reviews over the next half hour.

mod accept;
mod api;
mod awx;
mod bigconsole;
mod console;
mod crumb;
mod dates;
mod demo_deploy;
mod ecr;
mod engine;
mod facts;
mod faults;
mod forge;
mod github;
mod ids;
mod images;
mod jenkins;
mod kube;
mod loadtest;
mod logtext;
mod nexus;
mod registry;
mod render;
mod routes;
mod server;
mod sonar;
mod story;
mod tree;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;

pub use self::kube::{
    CrashLoopFact, DeadlineExceededFact, DriftFact, EKS_CLUSTER_NAME, EKS_CONTEXT, KUBEADM_CONTEXT, KubeClusterFact,
    KubeDeploymentFact, KubeFacts, KubeStats, KubeWorkload, PRODUCTION_NAMESPACE, PausedRolloutFact,
    PromotionTargetFact, STAGING_NAMESPACE, fetch_exec_credential,
};
pub use awx::{AwxFacts, AwxJobFact, AwxLaunch};
pub use bigconsole::{BigConsoleFact, BigLineFact};
pub use facts::{
    BaseImageFact, ChangesRequestedFact, CoverageFact, DirectPushFact, FailedConsoleFact, FailingHookFact,
    GreenCandidateFact, HighFindingFact, ImageEnvFact, ImageHostingFact, LoadTestFact, MissingArtifactFact, StoryFacts,
};
pub use faults::Fault;
pub use github::GithubStats;
pub use images::RegistryStats;

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
    /// Jenkins and Nexus user (Basic `user:token`).
    pub user: String,
    /// The one token of the estate: Jenkins and Nexus password, GitHub and
    /// SonarQube token.
    pub token: String,
    pub seed: u64,
    /// SonarQube behaves like a server older than 10.0: `Bearer` is
    /// refused (401); Basic with the token as login still works.
    pub sonar_basic_only: bool,
    /// SonarQube answers new-code values in the pre-8.x form
    /// (`"periods":[{"index":1,"value":…}]` instead of `"period":{…}`).
    pub sonar_legacy_periods: bool,
    /// Adds this many static repositories `dominion/bulk-000`, … to GitHub.
    pub github_extra_repos: usize,
    /// Items per Nexus search page (the real server fixes 100).
    pub nexus_page_size: usize,
    /// Lifetime of the EKS cluster's exec-plugin tokens (wall clock; the
    /// real ones live about 15 minutes).
    pub kube_token_lifetime: Duration,
    /// How often watches that allow bookmarks get one (wall clock).
    pub kube_bookmark_interval: Duration,
    /// Adds this many steady Deployments `bulk-000`, … of ten pods each to
    /// both clusters.
    pub kube_extra_deployments: usize,
    /// Size of the generated region of the big console (fraud-scoring's
    /// newest build, see [`SimControl::big_console`]), rounded up to whole
    /// 64 KiB blocks; 0 leaves that console ordinary. The default is 201 MiB,
    /// or `FLIGHTDECK_SIM_BIG_CONSOLE_MB` (MiB) when set.
    pub big_console_bytes: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            require_crumb: false,
            speed: 1.0,
            user: "demo".to_string(),
            token: "demo-token".to_string(),
            seed: 7,
            sonar_basic_only: false,
            sonar_legacy_periods: false,
            github_extra_repos: 0,
            nexus_page_size: 10,
            kube_token_lifetime: Duration::from_secs(15 * 60),
            kube_bookmark_interval: Duration::from_secs(60),
            kube_extra_deployments: 0,
            big_console_bytes: bigconsole::bytes_from_env(),
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

impl RecordedRequest {
    /// Did the request ask for a change? Any POST, PUT, PATCH or DELETE,
    /// except ECR's reads: the AWS JSON protocol POSTs every call, so
    /// `Describe*`, `BatchGet*`, `Get*` and `List*` operations are reads.
    pub fn is_write(&self) -> bool {
        if !matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            return false;
        }
        let target = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
            .map(|(_, v)| v.as_str());
        match target.and_then(ecr::operation) {
            Some(op) => !["Describe", "BatchGet", "Get", "List"]
                .iter()
                .any(|p| op.starts_with(p)),
            None => true,
        }
    }
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
    pub(crate) github: Mutex<github::RateState>,
    /// The OCI registry's and ECR's contents, and their counters.
    pub(crate) images: Mutex<images::ImageState>,
    /// The simulated AWX (templates, jobs, approvals, launches).
    pub(crate) awx: Mutex<awx::AwxSim>,
    /// The two simulated Kubernetes clusters.
    pub(crate) kube: kube::KubeSim,
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
        let mut world =
            World::with_big_console(opts.seed, url.clone(), opts.require_crumb, now, opts.big_console_bytes);
        world.forge.add_bulk(opts.github_extra_repos);
        let mut image_state = images::ImageState::new(&world);
        let kube_listeners = kube::bind().await?;
        let kube = kube::KubeSim::new(&world, &mut image_state, &opts, &kube_listeners);
        let awx_state = awx::AwxSim::new(&world, &image_state);
        let shared = Arc::new(Shared {
            images: Mutex::new(image_state),
            awx: Mutex::new(awx_state),
            world: Mutex::new(world),
            faults: FaultStore::default(),
            requests: Mutex::new(RequestLog::default()),
            github: Mutex::new(github::RateState::default()),
            kube,
            opts,
        });
        let mut tasks = vec![tokio::spawn(server::serve(listener, shared.clone()))];
        tasks.extend(kube::serve(kube_listeners, &shared));
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

    /// GitHub REST base (Enterprise style), e.g. `http://127.0.0.1:41234/github/api/v3`.
    pub fn github_api_url(&self) -> String {
        format!("{}{}", self.url, api::GITHUB_PREFIX)
    }

    /// SonarQube base, e.g. `http://127.0.0.1:41234/sonar`.
    pub fn sonar_url(&self) -> String {
        format!("{}{}", self.url, api::SONAR_PREFIX)
    }

    /// Nexus Repository base, e.g. `http://127.0.0.1:41234/nexus`.
    pub fn nexus_url(&self) -> String {
        format!("{}{}", self.url, api::NEXUS_PREFIX)
    }

    /// AWX base, e.g. `http://127.0.0.1:41234/awx` (the API is below it at `/api/v2/`).
    pub fn awx_url(&self) -> String {
        format!("{}{}", self.url, awx::PREFIX)
    }

    /// `host:port` of the estate, as image references spell the OCI registry
    /// (`127.0.0.1:41234/shop/checkout-web:2.12.98`).
    pub fn registry_host(&self) -> String {
        images::host_of(&self.url)
    }

    /// The OCI registry's base URL (`/v2/` below it), the same as the estate's.
    pub fn registry_url(&self) -> String {
        self.url.clone()
    }

    /// The ECR endpoint (`endpoint_url` of the AWS SDK), the same as the estate's.
    pub fn ecr_endpoint_url(&self) -> String {
        self.url.clone()
    }

    /// The Docker engine, as `DOCKER_HOST` spells it: `tcp://127.0.0.1:41234`.
    pub fn docker_host(&self) -> String {
        format!("tcp://{}", self.registry_host())
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
        s.push_str(&format!(
            "[sources.github]\napi_url = \"{}\"\ntoken_env = \"FLIGHTDECK_DEMO_TOKEN\"\npoll_interval_secs = 10\n\n",
            self.github_api_url()
        ));
        s.push_str(&format!(
            "[sources.sonar]\nurl = \"{}\"\ntoken_env = \"FLIGHTDECK_DEMO_TOKEN\"\npoll_interval_secs = 5\n\n",
            self.sonar_url()
        ));
        s.push_str(&format!(
            "[sources.nexus]\nurl = \"{}\"\nuser = \"{}\"\npassword_env = \"FLIGHTDECK_DEMO_TOKEN\"\npoll_interval_secs = 5\n\n",
            self.nexus_url(),
            toml_escape(&self.shared.opts.user)
        ));
        let host = self.registry_host();
        s.push_str(&format!(
            "[[sources.registry]]\nname = \"registry\"\nurl = \"{url}\"\nuser = \"flightdeck\"\npassword_env = \"FLIGHTDECK_DEMO_TOKEN\"\npoll_interval_secs = 10\n\n\
             [sources.ecr]\nname = \"ecr\"\nregion = \"{region}\"\nendpoint_url = \"{url}\"\n\
             access_key_id_env = \"FLIGHTDECK_DEMO_TOKEN\"\nsecret_access_key_env = \"FLIGHTDECK_DEMO_TOKEN\"\npoll_interval_secs = 10\n\n\
             [sources.docker]\nhost = \"tcp://{host}\"\npoll_interval_secs = 10\n\n",
            url = self.url,
            region = images::ECR_REGION,
        ));
        let deploy_sources = self.deploy_sources_toml();
        let with_clusters = deploy_sources.contains("[[sources.kubernetes]]");
        s.push_str(&deploy_sources);
        s.push_str("[[environments]]\nname = \"staging\"\n\n");
        s.push_str("[[environments]]\nname = \"production\"\nprotected = true\n");
        for svc in &story::SERVICES {
            let name = svc.name;
            s.push_str(&format!(
                "\n[[services]]\nname = \"{name}\"\nrepo = \"https://github.com/dominion/{name}.git\"\n\
                 [services.jenkins]\nbuild = \"{folder}/{name}\"\ndeploy = \"{folder}/{name}-deploy\"\n\
                 [services.github]\nrepo = \"dominion/{name}\"\n\
                 [services.sonar]\nproject_key = \"com.dominion:{name}\"\n\
                 [services.nexus]\ngroup_id = \"com.dominion\"\nartifact_id = \"{name}\"\npackaging = \"{packaging}\"\n",
                folder = story::FOLDER,
                packaging = if name == "checkout-web" { "war" } else { "jar" },
            ));
            if let Some(img) = images::image_spec(name) {
                let source = match img.hosting {
                    images::Hosting::Oci => "registry",
                    images::Hosting::Ecr => "ecr",
                };
                s.push_str(&format!(
                    "[services.image]\nsource = \"{source}\"\nrepository = \"{repo}\"\n\
                     env_tags = {{ staging = \"staging\", production = \"prod\" }}\n\
                     base_image = \"{base}\"\npromotion = \"{promotion}\"\n",
                    repo = images::repository(name),
                    base = images::base_reference(&host, img.base),
                    promotion = match img.promotion {
                        "kubernetes" if !with_clusters => "retag",
                        p => p,
                    },
                ));
            }
            s.push_str(&self.service_deploy_toml(name, with_clusters));
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
        self.shared.kube.stop();
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
            kube::advance(&shared);
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

    /// GitHub request counters and the rate limit as it stands.
    pub fn github_stats(&self) -> GithubStats {
        github_stats(&self.shared)
    }

    /// Sets the remaining GitHub requests of the current window (at most
    /// 5000); 0 makes every further request a 403 until the window resets.
    pub fn set_github_rate_remaining(&self, n: u32) {
        let now = lock(&self.shared.world).now;
        lock(&self.shared.github).set_remaining(n, now);
    }

    /// Zeroes the GitHub counters and restores a full, unstarted window.
    pub fn reset_github_stats(&self) {
        lock(&self.shared.github).reset();
    }

    /// The next `n` manifest PUTs to the OCI registry and the next `n` ECR
    /// PutImage calls answer 500 (`UNKNOWN` / `ServerException`), as when a
    /// promotion is interrupted halfway.
    pub fn fail_next_manifest_puts(&self, n: u32) {
        fail_next_manifest_puts(&self.shared, n);
    }

    /// Counters of the OCI registry and ECR: manifest GET/HEAD/PUT, blob GETs,
    /// uploads and mounts, bytes received in PUT bodies, ECR calls.
    pub fn registry_stats(&self) -> RegistryStats {
        lock(&self.shared.images).stats.clone()
    }

    /// Zeroes the registry counters.
    pub fn reset_registry_stats(&self) {
        lock(&self.shared.images).stats = RegistryStats::default();
    }

    /// The digest a tag points at now, in the OCI registry or ECR
    /// (`repository` as `shop/payments-api` or `library/tomcat`).
    pub fn image_tag(&self, repository: &str, tag: &str) -> Option<String> {
        let world = lock(&self.shared.world);
        let mut st = lock(&self.shared.images);
        st.sync(&world);
        if let Some(d) = st.oci.get(repository).and_then(|r| r.tags.get(tag)) {
            return Some(d.clone());
        }
        let repo = st.ecr.get(repository)?;
        repo.by_tag(tag).map(|i| repo.images[i].digest.clone())
    }

    /// What the simulated AWX holds at start: the running and the failed job, the pending
    /// approval and who launched its workflow, the template that ignores extra variables.
    pub fn awx_facts(&self) -> AwxFacts {
        lock(&self.shared.awx).facts.clone()
    }

    /// Every launch the simulated AWX received, oldest first: template, job, user, the extra
    /// variables as sent and what AWX dropped into `ignored_fields`.
    pub fn awx_launches(&self) -> Vec<AwxLaunch> {
        lock(&self.shared.awx).launches.clone()
    }

    /// The status an AWX job (or workflow job, or approval) has now, as the API says it.
    pub fn awx_status(&self, id: u64) -> Option<String> {
        let now = lock(&self.shared.world).now;
        let mut awx = lock(&self.shared.awx);
        awx.settle(now);
        awx.status_of(id, now)
    }

    /// The story facts (which service, build, SHA or pull request carries
    /// which anomaly), fixed at start.
    pub fn story_facts(&self) -> StoryFacts {
        lock(&self.shared.world).facts.clone()
    }

    /// The big console (fraud-scoring's newest build, its "Regression tests"
    /// at DEBUG): where it is, its length, and the offsets and line numbers of
    /// its error lines. None when [`SimOptions::big_console_bytes`] is 0.
    /// The first call counts the generated region's lines (a fraction of a
    /// second for 1 GiB in a release build).
    pub fn big_console(&self) -> Option<BigConsoleFact> {
        bigconsole::fact(&lock(&self.shared.world))
    }

    /// Bytes `start..end` of a build's console exactly as `consoleText`
    /// serves it (the generated region included), without HTTP; None if
    /// there is no such build.
    pub fn console_bytes(&self, job: &str, number: u32, start: u64, end: u64) -> Option<Vec<u8>> {
        let world = lock(&self.shared.world);
        let b = world.jobs.get(job)?.build(number)?;
        Some(logtext::console_of(b).read(start, end))
    }
}

pub(crate) fn fail_next_manifest_puts(shared: &Shared, n: u32) {
    let mut st = lock(&shared.images);
    st.fail_oci_puts = n;
    st.fail_ecr_puts = n;
}

pub(crate) fn github_stats(shared: &Shared) -> GithubStats {
    let now = lock(&shared.world).now;
    lock(&shared.github).stats(now)
}

/// The longest single tick: a day of story is plenty for any test, and a
/// bigger jump would only spend time replaying pushes nobody looks at.
const MAX_TICK_SECS: f64 = 86_400.0;

pub(crate) fn tick(shared: &Shared, seconds: f64) {
    if !seconds.is_finite() || seconds <= 0.0 {
        return;
    }
    {
        let mut w = lock(&shared.world);
        w.advance((seconds.min(MAX_TICK_SECS) * 1000.0) as i64);
        if seconds >= 300.0 {
            let now = w.now;
            w.expire_crumbs(now);
        }
    }
    kube::advance(shared);
}

#[cfg(test)]
mod images_tests;
#[cfg(test)]
mod tests;
