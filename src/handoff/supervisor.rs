//! `serve --workers N`: the echo service served by N worker processes. The supervisor
//! accepts and hands each socket over a private Unix socket (a 0700 directory and a random
//! authkey) to `netkit handoff worker` processes it starts by re-executing itself — no
//! `fork()` of a multi-threaded process.
//!
//! - A worker that dies is dropped from the pool at once and started again (after a
//!   pause if it died young, so a crash loop does not spin).
//! - SIGHUP starts a new generation; once it has registered the old one is retired (if
//!   it does not register in time, the old one stays): it gets no new client, its Unix socket is shut, and it exits after
//!   its connections finish. Clients never wait on a missing worker in between.
//! - Shutdown retires every worker and waits for them (their grace, plus a little).

use super::pool::{self, accept_workers, Admission, SocketFile, WorkerPool};
use super::service::{dispatch, DEFAULT_CLIENT_WAIT};
use crate::service::Lifecycle;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::signal::unix::Signal;
use tokio::task::JoinSet;

/// Environment variable carrying the private authkey to spawned workers (not argv,
/// which every user can read in `ps`).
pub const AUTHKEY_ENV: &str = "NETKIT_HANDOFF_AUTHKEY";
/// A worker that dies younger than this is restarted only after this long.
const YOUNG: Duration = Duration::from_secs(1);
/// How long a new generation gets to register before the old one is kept instead.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Supervisor {
    pub clients: TcpListener,
    pub workers: usize,
    /// Installed before the listening line is printed, so an early SIGHUP is not fatal.
    pub hangup: Signal,
    /// `handoff worker` flags for the service's settings (e.g. `--idle-timeout`).
    pub worker_args: Vec<String>,
    pub handshake_timeout: Duration,
    pub grace: Duration,
    /// The echo service's metrics: accepted clients and handoffs.
    pub metrics: crate::metrics::ServiceMetrics,
}

/// A private directory, removed with everything in it when dropped.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> io::Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
        let path =
            std::env::temp_dir().join(format!("netkit-{}-{}", std::process::id(), hex(&random)));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(PrivateDir(path))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

enum Event {
    Exited {
        pid: i64,
        generation: u64,
        started: Instant,
        status: io::Result<ExitStatus>,
    },
    Respawn,
}

struct Children {
    exe: PathBuf,
    socket: PathBuf,
    authkey: String,
    args: Vec<String>,
    generations: Arc<Mutex<HashMap<i64, u64>>>,
    running: JoinSet<Event>,
    alive: usize,
}

impl Children {
    fn spawn(&mut self, generation: u64) {
        let mut command = Command::new(&self.exe);
        command
            .args(["handoff", "worker", "--service", "echo", "--connect"])
            .arg(&self.socket)
            .args(&self.args)
            .env(AUTHKEY_ENV, &self.authkey)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(%error, "cannot start a worker; retrying");
                self.running.spawn(async {
                    tokio::time::sleep(YOUNG).await;
                    Event::Respawn
                });
                return;
            }
        };
        let Some(pid) = child.id().map(i64::from) else {
            return; // already reaped: cannot happen before wait
        };
        self.generations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid, generation);
        self.alive += 1;
        tracing::info!(pid, generation, "worker started");
        let started = Instant::now();
        self.running.spawn(async move {
            let status = child.wait().await;
            Event::Exited {
                pid,
                generation,
                started,
                status,
            }
        });
    }

    fn forget(&mut self, pid: i64) {
        self.alive -= 1;
        self.generations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid);
    }
}

pub async fn run(supervisor: Supervisor, lifecycle: Lifecycle) -> io::Result<()> {
    let Supervisor {
        clients,
        workers,
        mut hangup,
        worker_args,
        handshake_timeout,
        grace,
        metrics,
    } = supervisor;
    let dir = PrivateDir::create()?;
    let socket = dir.0.join("handoff.sock");
    let listener = pool::bind_unix(&socket)?;
    let _socket_file = SocketFile(socket.clone());
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| io::Error::other(e.to_string()))?;
    let authkey = hex(&key);
    let generations = Arc::new(Mutex::new(HashMap::new()));
    let pool = WorkerPool::new();
    let shutdown = lifecycle.shutdown.clone();
    let sessions = tokio_util::task::TaskTracker::new();
    sessions.spawn(accept_workers(
        listener,
        pool.clone(),
        Admission {
            authkey: Some(authkey.clone().into_bytes()),
            handshake_timeout,
            generations: Some(generations.clone()),
        },
        shutdown.clone(),
        sessions.clone(),
    ));
    let mut children = Children {
        exe: std::env::current_exe()?,
        socket,
        authkey,
        args: worker_args,
        generations,
        running: JoinSet::new(),
        alive: 0,
    };
    let mut current = 1u64;
    for _ in 0..workers {
        children.spawn(current);
    }

    let manage = async {
        loop {
            tokio::select! {
                Some(joined) = children.running.join_next() => match joined {
                    Ok(Event::Exited { pid, generation, started, status }) => {
                        children.forget(pid);
                        if generation != current {
                            tracing::info!(pid, generation, "retired worker exited");
                            continue;
                        }
                        tracing::warn!(pid, ?status, "worker died; starting another");
                        if started.elapsed() < YOUNG {
                            children.running.spawn(async {
                                tokio::time::sleep(YOUNG).await;
                                Event::Respawn
                            });
                        } else {
                            children.spawn(current);
                        }
                    }
                    Ok(Event::Respawn) => children.spawn(current),
                    Err(error) => tracing::error!(%error, "worker watcher failed"),
                },
                Some(()) = hangup.recv() => {
                    current += 1;
                    tracing::info!(generation = current, "SIGHUP: starting a new generation");
                    for _ in 0..workers {
                        children.spawn(current);
                    }
                    let pool = pool.clone();
                    let generation = current;
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        let ready = tokio::select! {
                            ready = pool.wait_for(workers, |w| w.generation == generation, REGISTER_TIMEOUT) => ready,
                            _ = shutdown.cancelled() => return,
                        };
                        if !ready {
                            // Retiring the old workers now could leave nobody to serve.
                            tracing::error!(generation, "new workers did not all register; keeping the old ones");
                            return;
                        }
                        let retired = pool.retire(|w| w.generation < generation);
                        tracing::info!(generation, retired, "old generation retired");
                    });
                }
                _ = shutdown.cancelled() => return,
            }
        }
    };
    let accept = dispatch(clients, &pool, DEFAULT_CLIENT_WAIT, &metrics, &lifecycle);
    let ((), accepted) = tokio::join!(manage, accept);
    if let Err(error) = accepted {
        tracing::error!(%error, "echo: accept loop failed");
    }

    // Shutdown: no new client anywhere; every worker finishes its connections and exits.
    pool.retire(|_| true);
    let limit = grace + Duration::from_secs(2);
    let drained = tokio::time::timeout(limit, async {
        while children.alive > 0 {
            match children.running.join_next().await {
                Some(Ok(Event::Exited { pid, .. })) => children.forget(pid),
                Some(_) => {}
                None => break,
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            workers = children.alive,
            "workers still running after the grace period; killing them"
        );
    }
    children.running.shutdown().await; // kills what is left (kill_on_drop)
    sessions.close();
    sessions.wait().await;
    Ok(())
}
