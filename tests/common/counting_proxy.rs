//! A TCP proxy in front of a test server that counts the bytes each way and records the HTTP
//! request lines: how a test or benchmark sees exactly what a client sent. Included by path from
//! the tests and benches that need it.
#![allow(dead_code)] // not every includer uses every helper

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default, Debug, Clone)]
pub struct Traffic {
    /// Request lines seen (`PUT /v2/shop/payments-api/manifests/staging HTTP/1.1`).
    pub requests: Vec<String>,
    /// Bytes client → server.
    pub sent: u64,
    /// Bytes server → client.
    pub received: u64,
}

impl Traffic {
    pub fn count(&self, method: &str, path_part: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(path_part))
            .count()
    }
}

pub struct Proxy {
    pub port: u16,
    traffic: Arc<Mutex<Traffic>>,
}

impl Proxy {
    /// What passed since the last call.
    pub fn take(&self) -> Traffic {
        std::mem::take(&mut *self.traffic.lock().expect("traffic lock"))
    }
}

const METHODS: [&str; 6] = ["GET ", "HEAD ", "PUT ", "POST ", "PATCH ", "DELETE "];

/// Listen on a free loopback port and forward every connection to `upstream`.
pub async fn proxy(upstream: u16) -> Proxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy");
    let port = listener.local_addr().expect("proxy").port();
    let traffic = Arc::new(Mutex::new(Traffic::default()));
    let t = traffic.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = t.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut line = Vec::new();
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    {
                        let mut tr = up.lock().expect("traffic lock");
                        tr.sent += n as u64;
                        for &b in &buf[..n] {
                            if b == b'\n' {
                                let l = String::from_utf8_lossy(&line).trim_end().to_string();
                                if METHODS.iter().any(|m| l.starts_with(m)) && l.ends_with("HTTP/1.1") {
                                    tr.requests.push(l);
                                }
                                line.clear();
                            } else if line.len() < 4096 {
                                line.push(b);
                            }
                        }
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
            });
            let down = t.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    down.lock().expect("traffic lock").received += n as u64;
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
            });
        }
    });
    Proxy { port, traffic }
}
