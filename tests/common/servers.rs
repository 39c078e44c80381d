//! Real servers for tests (moto_server, podman, docker-registry…): a free port, spawn, wait until
//! it answers, stop it on drop. A missing binary skips the test loudly, unless
//! `FLIGHTDECK_REQUIRE_SERVERS=1` says it must be there, then the test fails.
//!
//! Use from a test file with `#[path = "common/servers.rs"] mod servers;`.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Must the servers be there (CI)? Then a missing one fails the test instead of skipping it.
pub fn require_servers() -> bool {
    std::env::var("FLIGHTDECK_REQUIRE_SERVERS").is_ok_and(|v| v.trim() == "1")
}

/// Say loudly that a test is skipped, or panic when servers are required.
pub fn skip(test: &str, why: &str) {
    if require_servers() {
        panic!("{test}: {why} (FLIGHTDECK_REQUIRE_SERVERS=1)");
    }
    // Straight to stderr: the test harness captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!! SKIPPED {test}: {why}\n!!!! (set FLIGHTDECK_REQUIRE_SERVERS=1 to make this a failure)\n"
    );
}

/// The binary's path on `PATH`, if it is installed.
pub fn which(binary: &str) -> Option<PathBuf> {
    if binary.contains('/') {
        let p = PathBuf::from(binary);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(binary))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Every binary's path, or `None` after [`skip`] named the missing ones.
pub fn binaries_or_skip(test: &str, binaries: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = binaries.iter().map(|b| which(b)).collect();
    let missing: Vec<&str> = binaries
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(b, _)| *b)
        .collect();
    if missing.is_empty() {
        Some(found.into_iter().flatten().collect())
    } else {
        skip(test, &format!("{} not installed", missing.join(", ")));
        None
    }
}

/// A port nobody listens on right now (the OS picks it; there is a small race until the server
/// binds it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A server process of a test, in its own process group, stopped (TERM, then KILL) on drop.
pub struct ChildServer {
    name: String,
    child: Option<Child>,
    /// 0 for servers that listen on no TCP port (a unix socket).
    pub port: u16,
    /// Where its stdout and stderr go.
    pub log_path: PathBuf,
    /// Scratch directory, removed on drop after the process has stopped.
    dir: Option<tempfile::TempDir>,
}

impl ChildServer {
    /// Start `cmd` with its output in a log file in `dir` (made when `None`).
    pub fn spawn(name: &str, mut cmd: Command, port: u16, dir: Option<tempfile::TempDir>) -> ChildServer {
        let dir = match dir {
            Some(d) => d,
            None => tempfile::Builder::new()
                .prefix(&format!("flightdeck-{name}-"))
                .tempdir()
                .expect("temp dir"),
        };
        let log_path = dir.path().join(format!("{name}.log"));
        let log = File::create(&log_path).expect("server log file");
        let log2 = log.try_clone().expect("server log file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        ChildServer {
            name: name.to_string(),
            child: Some(child),
            port,
            log_path,
            dir: Some(dir),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("server dir").path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Poll `ready` every 100 ms until it says yes. Fails when the process exits or time runs out,
    /// with the server's log in the message.
    pub fn wait_ready(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "{} exited with {status} before it was ready:\n{}",
                    self.name,
                    self.log()
                ));
            }
            if start.elapsed() > timeout {
                return Err(format!("{} not ready after {:?}:\n{}", self.name, timeout, self.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until `GET path` on the port answers `status`.
    pub fn wait_http(&mut self, path: &str, status: u16, timeout: Duration) -> Result<(), String> {
        let port = self.port;
        let path = path.to_string();
        self.wait_ready(timeout, move || http_status(port, "GET", &path) == Some(status))
    }

    /// Stop the process group: TERM, up to three seconds to exit, then KILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.name, self.log());
        }
        if let Some(dir) = self.dir.take() {
            // Podman leaves read-only layers behind; make them writable before removing.
            let _ = Command::new("chmod")
                .args(["-R", "u+rwX"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = dir.close();
        }
    }
}

/// The status of a plain HTTP/1.0 request to 127.0.0.1:port, or `None` when nothing answers.
pub fn http_status(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    status_of(&mut s)
}

/// The status of `GET path` over a unix socket (a Docker or Podman API), or `None`.
pub fn unix_http_status(socket: &Path, path: &str) -> Option<u16> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    status_of(&mut s)
}

fn status_of(s: &mut impl Read) -> Option<u16> {
    let mut head = [0u8; 32];
    let mut n = 0;
    while n < 12 {
        let k = s.read(&mut head[n..]).ok()?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `moto_server` on a free port, ready; `None` (after [`skip`]) when it is not installed.
pub fn moto(test: &str) -> Option<ChildServer> {
    let bin = binaries_or_skip(test, &["moto_server"])?.remove(0);
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut server = ChildServer::spawn("moto_server", cmd, port, None);
    server
        .wait_http("/moto-api/", 200, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    Some(server)
}

/// `docker-registry serve` (distribution 2.8) on a free port with storage in its temp dir, ready;
/// `None` (after [`skip`]) when it is not installed.
pub fn docker_registry(test: &str) -> Option<ChildServer> {
    let bin = binaries_or_skip(test, &["docker-registry"])?.remove(0);
    let port = free_port();
    let dir = tempfile::Builder::new()
        .prefix("flightdeck-registry-")
        .tempdir()
        .expect("temp dir");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .expect("registry config");
    let mut cmd = Command::new(bin);
    cmd.arg("serve").arg(&config);
    let mut server = ChildServer::spawn("docker-registry", cmd, port, Some(dir));
    server
        .wait_http("/v2/", 200, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    Some(server)
}

/// Podman's Docker-compatible API on a unix socket, with all its state in a temp dir (root,
/// runroot, tmpdir; runc as the runtime; no search registries). As `test-services.md` says.
pub struct Podman {
    pub server: ChildServer,
    pub socket: PathBuf,
    bin: PathBuf,
}

impl Podman {
    /// Start it; `None` (after [`skip`]) when podman or runc is missing. `insecure` lists
    /// loopback registries (`127.0.0.1:PORT`) to reach over plain HTTP.
    pub fn start(test: &str, insecure: &[String]) -> Option<Podman> {
        let bins = binaries_or_skip(test, &["podman", "runc"])?;
        let dir = tempfile::Builder::new()
            .prefix("flightdeck-podman-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        std::fs::write(
            d.join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n",
        )
        .expect("containers.conf");
        let mut registries = String::from("unqualified-search-registries = []\n");
        for r in insecure {
            registries.push_str(&format!("\n[[registry]]\nlocation = \"{r}\"\ninsecure = true\n"));
        }
        std::fs::write(d.join("registries.conf"), registries).expect("registries.conf");
        for sub in ["root", "run", "tmp"] {
            std::fs::create_dir_all(d.join(sub)).expect("podman dirs");
        }
        let socket = d.join("podman.sock");
        let mut cmd = podman_command(&bins[0], d);
        cmd.args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()));
        let mut server = ChildServer::spawn("podman", cmd, 0, Some(dir));
        let s = socket.clone();
        server
            .wait_ready(Duration::from_secs(30), move || {
                s.exists() && unix_http_status(&s, "/_ping") == Some(200)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        Some(Podman {
            server,
            socket,
            bin: bins[0].clone(),
        })
    }

    /// `unix:///…/podman.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The podman CLI on this instance's storage.
    pub fn command(&self) -> Command {
        podman_command(&self.bin, self.server.dir())
    }

    /// Run the podman CLI; its stdout, or a panic with its stderr.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("run podman");
        assert!(
            out.status.success(),
            "podman {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Make an image from a tiny rootfs (one file holding `content`) with these labels:
    /// `podman import --change 'LABEL k=v' … ROOTFS.tar NAME`.
    pub fn import(&self, name: &str, content: &str, labels: &[(&str, &str)]) {
        let work = tempfile::tempdir().expect("temp dir");
        let rootfs = work.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).expect("rootfs");
        std::fs::write(rootfs.join("etc/flightdeck-test"), content).expect("rootfs file");
        let tar = work.path().join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("tar");
        assert!(status.success(), "tar the rootfs");
        let changes: Vec<String> = labels.iter().map(|(k, v)| format!("LABEL {k}={v}")).collect();
        let mut args: Vec<&str> = vec!["import"];
        for c in &changes {
            args.push("--change");
            args.push(c);
        }
        let tar = tar.to_string_lossy().into_owned();
        args.push(&tar);
        args.push(name);
        self.run(&args);
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Stop the service, then undo the mounts its overlay storage made (`root/overlay` is
        // bind-mounted onto itself), or the temp dir cannot be removed.
        self.server.stop();
        unmount_under(self.server.dir());
    }
}

/// Unmount everything mounted below `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount")
            .arg(p)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn podman_command(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_REGISTRIES_CONF", dir.join("registries.conf"))
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .arg("--tmpdir")
        .arg(dir.join("tmp"));
    cmd
}
