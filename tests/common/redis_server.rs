//! A Redis server of a test's own, to stop and start in the middle of a test.

use super::wait_until;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A Redis of the test's own (persistent, so a restart keeps the streams).
pub struct OwnRedis {
    port: u16,
}

impl OwnRedis {
    pub fn start(dir: &std::path::Path, port: u16) -> OwnRedis {
        let status = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--daemonize",
                "yes",
                "--appendonly",
                "yes",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--pidfile")
            .arg(dir.join("redis.pid"))
            .stdout(Stdio::null())
            .status()
            .expect("redis-server");
        assert!(status.success());
        OwnRedis { port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "save"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until the Redis at `url` answers PING (accepts connections and has loaded
/// its data).
pub async fn redis_ready(url: &str, what: &str) {
    wait_until(Duration::from_secs(20), what, || {
        let url = url.to_string();
        async move {
            let client = redis::Client::open(url).ok()?;
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
            (pong == "PONG").then_some(())
        }
    })
    .await;
}
