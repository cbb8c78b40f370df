//! A private PostgreSQL run from the machine's own binaries, for single-node use
//! without any database setup: created on first run, started and stopped with the service.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where Debian and Ubuntu install PostgreSQL's server binaries.
const PG_ROOT: &str = "/usr/lib/postgresql";
/// Database the service uses inside the private cluster.
/// (Also spelled out in the CREATE DATABASE statement below.)
pub const DATABASE: &str = "robotoff";
/// Port number naming the unix socket (the cluster listens on no TCP address).
const SOCKET_PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_DIR_LEN: usize = 90;

#[derive(Debug, thiserror::Error)]
pub enum LocalPgError {
    #[error(
        "no PostgreSQL server binaries found under {PG_ROOT}/*/bin: install PostgreSQL \
         (apt-get install postgresql) or set database.url"
    )]
    NoBinaries,
    #[error("cannot use {path} for the local PostgreSQL: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the local PostgreSQL directory {0} is too deep for a unix socket path; set database.local_dir to a shorter path")]
    PathTooLong(PathBuf),
    #[error("running as root, but there is no `postgres` user to run PostgreSQL as")]
    NoPostgresUser,
    #[error(
        "the postgres user cannot reach {0}: make its parent directories searchable \
         (chmod o+x) or set database.local_dir elsewhere"
    )]
    Unreachable(PathBuf),
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("could not create database {DATABASE}: {0}")]
    CreateDatabase(#[source] sqlx::Error),
}

/// A running private PostgreSQL cluster.
#[derive(Debug)]
pub struct LocalPostgres {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres_user: bool,
    /// Whether this process stops the server when done.
    started_here: bool,
    stopped: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` with a server in it.
pub fn find_binaries() -> Result<PathBuf, LocalPgError> {
    find_binaries_in(Path::new(PG_ROOT))
}

fn find_binaries_in(root: &Path) -> Result<PathBuf, LocalPgError> {
    let entries = std::fs::read_dir(root).map_err(|_| LocalPgError::NoBinaries)?;
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let bin = e.path().join("bin");
            let ok = ["postgres", "initdb", "pg_ctl"]
                .iter()
                .all(|b| bin.join(b).is_file());
            let version = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|p| p.parse::<u32>().unwrap_or(0))
                .collect::<Vec<_>>();
            ok.then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(LocalPgError::NoBinaries)
}

fn is_root() -> bool {
    // SAFETY-free check: /proc/self/status has the effective uid on its Uid: line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

impl LocalPostgres {
    /// Starts (initialising on first use) the cluster under `dir`, or uses the server
    /// already running there, and makes sure the `robotoff` database exists. A server
    /// found running (left by a killed service, or used by a running one) is stopped
    /// at the end only if `stop_found_running` is set.
    pub async fn start(
        dir: &Path,
        stop_found_running: bool,
    ) -> Result<LocalPostgres, LocalPgError> {
        let bin = find_binaries()?;
        std::fs::create_dir_all(dir).map_err(|source| LocalPgError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| LocalPgError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        if dir.as_os_str().len() + "/socket".len() > MAX_SOCKET_DIR_LEN {
            return Err(LocalPgError::PathTooLong(dir));
        }
        // The socket accepts anyone who can reach it (trust authentication): it lives in
        // a directory only the server's user may enter.
        let socket_dir = dir.join("socket");
        std::fs::create_dir_all(&socket_dir).map_err(|source| LocalPgError::Dir {
            path: socket_dir.clone(),
            source,
        })?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| LocalPgError::Dir {
                    path: socket_dir.clone(),
                    source,
                },
            )?;
        }
        let as_postgres_user = is_root();
        let mut pg = LocalPostgres {
            bin,
            dir,
            as_postgres_user,
            started_here: false,
            stopped: false,
        };
        if as_postgres_user {
            pg.hand_over_to_postgres_user()?;
        }
        let data = pg.data_dir();
        if !data.join("PG_VERSION").is_file() {
            let log = pg.dir.join("initdb.log");
            pg.run(
                "initdb",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-U".as_ref(),
                    "postgres".as_ref(),
                    "--auth=trust".as_ref(),
                    "-E".as_ref(),
                    "UTF8".as_ref(),
                ],
                Some(&log),
            )?;
        }
        if !pg.is_running() {
            let options = format!(
                "-k {} -p {SOCKET_PORT} -c listen_addresses='' -c max_connections=200",
                pg.socket_dir().display()
            );
            let log = pg.dir.join("postgres.log");
            pg.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "start".as_ref(),
                ],
                None,
            )?;
            pg.started_here = true;
        } else {
            tracing::info!(dir = %pg.dir.display(), "using the local PostgreSQL already running");
            pg.started_here = stop_found_running;
        }
        pg.create_database().await?;
        Ok(pg)
    }

    /// The directory of the unix socket (mode 0700, the server's user only).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("socket")
    }

    /// Connection options for the service's database, over the unix socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(self.socket_dir())
            .port(SOCKET_PORT)
            .username("postgres")
            .database(DATABASE)
    }

    /// A URL for the service's database (socket path as the host).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost:{SOCKET_PORT}/{DATABASE}?host={}",
            self.socket_dir().display()
        )
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn is_running(&self) -> bool {
        let data = self.data_dir();
        matches!(
            self.output("pg_ctl", &["-D".as_ref(), data.as_os_str(), "status".as_ref()]),
            Ok(out) if out.status.success()
        )
    }

    async fn create_database(&self) -> Result<(), LocalPgError> {
        let admin = self
            .connect_options()
            .database("postgres")
            .log_statements(tracing::log::LevelFilter::Off);
        let mut conn = sqlx::PgConnection::connect_with(&admin)
            .await
            .map_err(LocalPgError::CreateDatabase)?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await
                .map_err(LocalPgError::CreateDatabase)?;
        if !exists {
            sqlx::query("CREATE DATABASE robotoff")
                .execute(&mut conn)
                .await
                .map_err(LocalPgError::CreateDatabase)?;
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// Stops the server if this process started or adopted it (fast shutdown).
    pub fn stop(&mut self) -> Result<(), LocalPgError> {
        if self.stopped || !self.started_here {
            return Ok(());
        }
        self.stopped = true;
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
            None,
        )
    }

    fn hand_over_to_postgres_user(&self) -> Result<(), LocalPgError> {
        let known = Command::new("id").arg("-u").arg("postgres").output();
        if !matches!(known, Ok(ref o) if o.status.success()) {
            return Err(LocalPgError::NoPostgresUser);
        }
        let out = Command::new("chown")
            .arg("-R")
            .arg("postgres:postgres")
            .arg(&self.dir)
            .output()
            .map_err(|e| LocalPgError::Command {
                command: "chown".into(),
                detail: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(LocalPgError::Command {
                command: "chown".into(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let reachable = Command::new("runuser")
            .args(["-u", "postgres", "--", "test", "-w"])
            .arg(&self.dir)
            .status();
        if !matches!(reachable, Ok(s) if s.success()) {
            return Err(LocalPgError::Unreachable(self.dir.clone()));
        }
        Ok(())
    }

    fn output(&self, program: &str, args: &[&std::ffi::OsStr]) -> std::io::Result<Output> {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.arg("-u").arg("postgres").arg("--").arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir(&self.dir).output()
    }

    fn run(
        &self,
        program: &str,
        args: &[&std::ffi::OsStr],
        log: Option<&Path>,
    ) -> Result<(), LocalPgError> {
        let out = self
            .output(program, args)
            .map_err(|e| LocalPgError::Command {
                command: program.to_string(),
                detail: e.to_string(),
            })?;
        if let Some(log) = log {
            let _ = std::fs::write(log, [out.stdout.as_slice(), out.stderr.as_slice()].concat());
        }
        if out.status.success() {
            return Ok(());
        }
        let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        let server_log = self.dir.join("postgres.log");
        if let Ok(text) = std::fs::read_to_string(&server_log) {
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            detail = format!("{detail}\n{}", tail.join("\n"));
        }
        Err(LocalPgError::Command {
            command: program.to_string(),
            detail,
        })
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::warn!(error = %err, "could not stop the local PostgreSQL");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_are_a_clear_error() {
        let empty = tempfile::tempdir().expect("temp dir");
        let err = find_binaries_in(empty.path()).unwrap_err();
        assert!(
            err.to_string().contains("no PostgreSQL server binaries"),
            "{err}"
        );
        assert!(matches!(
            find_binaries_in(Path::new("/nonexistent")),
            Err(LocalPgError::NoBinaries)
        ));
    }

    #[test]
    fn newest_version_wins() {
        let root = tempfile::tempdir().expect("temp dir");
        for v in ["9.6", "15", "13"] {
            let bin = root.path().join(v).join("bin");
            std::fs::create_dir_all(&bin).expect("mkdir");
            for b in ["postgres", "initdb", "pg_ctl"] {
                std::fs::write(bin.join(b), "").expect("write");
            }
        }
        let found = find_binaries_in(root.path()).expect("found");
        assert!(found.ends_with("15/bin"), "{}", found.display());
    }
}
