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
    eprintln!("\n!!!! SKIPPED {test}: {why}\n!!!! (set FLIGHTDECK_REQUIRE_SERVERS=1 to make this a failure)\n");
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
