//! `serve --workers N`: echo, conn, rpc and http served by N worker processes. The
//! supervisor binds and accepts, and hands each socket over a private Unix socket (a 0700
//! directory and a random authkey) to workers it starts by re-executing itself with the
//! same `serve` arguments — no `fork()` of a multi-threaded process. A worker is that same
//! `netkit serve` told by [`WorkerLink`] (environment variables) to take its connections
//! from the socket instead of binding: every limit, TLS and authentication setting applies
//! in the worker exactly as in a single process.
//!
//! - A worker that dies is dropped from the pool at once and started again (after a
//!   pause if it died young, so a crash loop does not spin).
//! - SIGHUP starts a new generation; once it has registered the old one is retired (if
//!   it does not register in time, the old one stays): it gets no new client, its Unix socket is shut, and it exits after
//!   its connections finish. Clients never wait on a missing worker in between.
//! - Shutdown retires every worker and waits for them (their grace, plus a little).
//! - Each worker counts its metrics into memory it shares with the supervisor (a memfd
//!   it inherits, see [`crate::metrics`]), which serves `/metrics` for all of them and
//!   keeps an exited worker's final counts.

use super::pool::{self, accept_workers, Admission, SocketFile, WorkerPool};
use super::service::{dispatch, Counting};
use crate::config::Service;
use crate::metrics::{HandoffMetrics, Metrics};
use crate::service::Lifecycle;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinSet;

/// Environment variable carrying the private authkey to spawned workers (not argv,
/// which every user can read in `ps`).
pub const AUTHKEY_ENV: &str = "NETKIT_HANDOFF_AUTHKEY";
/// The supervisor's Unix socket, for a worker to connect to.
pub const SOCKET_ENV: &str = "NETKIT_WORKER_SOCKET";
/// `service=ADDR,…`: which service each handed socket is for, by the address it was
/// accepted on.
pub const SERVICES_ENV: &str = "NETKIT_WORKER_SERVICES";
/// The inherited descriptor of the worker's metrics region, shared with the supervisor.
pub const METRICS_FD_ENV: &str = "NETKIT_WORKER_METRICS_FD";
/// A worker that dies younger than this is restarted only after this long.
const YOUNG: Duration = Duration::from_secs(1);
/// How long a new generation gets to register before the old one is kept instead.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Supervisor {
    /// The bound listeners of the services the workers serve, each with the
    /// supervisor's handoff counts (the rest is counted in the workers).
    pub clients: Vec<(Service, TcpListener, HandoffMetrics)>,
    /// Where the workers' counts are shown; [`Metrics::serve_by_workers`] has been
    /// called with `clients`' services, in order.
    pub metrics: Arc<Metrics>,
    pub workers: usize,
    /// A new generation of workers, each time `serve` has checked a SIGHUP's reload (the
    /// new workers read the configuration and TLS files anew).
    pub new_generation: tokio::sync::mpsc::UnboundedReceiver<()>,
    pub handshake_timeout: Duration,
    pub grace: Duration,
    /// How long an accepted client may wait for a worker.
    pub client_wait: Duration,
}

/// What a worker process learns from its supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerLink {
    pub socket: PathBuf,
    pub authkey: Vec<u8>,
    pub services: Vec<(Service, SocketAddr)>,
    /// The inherited descriptor of the metrics region (see [`WorkerLink::metrics`]).
    pub metrics_fd: RawFd,
}

impl WorkerLink {
    /// `None` in a process that is not a supervisor's worker.
    pub fn from_env() -> Option<Result<WorkerLink, String>> {
        let socket = std::env::var_os(SOCKET_ENV)?;
        Some(Self::parse(
            socket.into(),
            std::env::var(AUTHKEY_ENV).unwrap_or_default(),
            &std::env::var(SERVICES_ENV).unwrap_or_default(),
            &std::env::var(METRICS_FD_ENV).unwrap_or_default(),
        ))
    }

    fn parse(
        socket: PathBuf,
        authkey: String,
        services: &str,
        metrics_fd: &str,
    ) -> Result<WorkerLink, String> {
        let services = services
            .split(',')
            .map(|item| {
                let (name, addr) = item.split_once('=').unwrap_or((item, ""));
                let service = Service::from_name(name).filter(|s| s.served_by_workers());
                match (service, addr.parse::<SocketAddr>()) {
                    (Some(service), Ok(addr)) => Ok((service, addr)),
                    _ => Err(format!("{SERVICES_ENV}: bad entry {item:?}")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if authkey.is_empty() {
            return Err(format!("{AUTHKEY_ENV} is not set"));
        }
        let metrics_fd = metrics_fd
            .parse::<RawFd>()
            .ok()
            .filter(|&fd| fd > 2)
            .ok_or_else(|| format!("{METRICS_FD_ENV}: bad descriptor {metrics_fd:?}"))?;
        Ok(WorkerLink {
            socket,
            authkey: authkey.into_bytes(),
            services,
            metrics_fd,
        })
    }

    /// The worker's registry, counting into the region its supervisor passed it.
    pub fn metrics(&self) -> io::Result<Metrics> {
        // A copy of the inherited descriptor (the original stays open, unowned): mapping
        // it twice or never cannot close a descriptor something else owns.
        rustix::io::fcntl_getfd(unsafe_borrow(self.metrics_fd))?;
        let fd = unsafe_borrow(self.metrics_fd).try_clone_to_owned()?;
        let names: Vec<&'static str> = self.services.iter().map(|(s, _)| s.name()).collect();
        Metrics::for_worker(fd, &names)
    }

    fn services_value(clients: &[(Service, SocketAddr)]) -> String {
        clients
            .iter()
            .map(|(service, addr)| format!("{}={addr}", service.name()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The service a socket accepted on `local` belongs to. A listener on an unspecified
    /// address (0.0.0.0, ::) sees its connections arrive on a concrete one.
    pub fn service_at(&self, local: SocketAddr) -> Option<Service> {
        self.services
            .iter()
            .find(|(_, addr)| {
                addr.port() == local.port()
                    && (addr.ip() == local.ip() || addr.ip().is_unspecified())
            })
            .map(|(service, _)| *service)
    }
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

/// The descriptor `fd`, borrowed for one call.
fn unsafe_borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: only ever used for a single fcntl or dup of an inherited descriptor, which
    // nothing in this process closes; a closed one makes the call fail with EBADF.
    unsafe { BorrowedFd::borrow_raw(fd) }
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
    /// [`SERVICES_ENV`]'s value.
    services: String,
    generations: Arc<Mutex<HashMap<i64, u64>>>,
    metrics: Arc<Metrics>,
    running: JoinSet<Event>,
    alive: usize,
}

impl Children {
    fn spawn(&mut self, generation: u64) {
        let (region, region_fd) = match self.metrics.worker_region() {
            Ok(region) => region,
            Err(error) => {
                return self.retry(format_args!(
                    "cannot create a worker's metrics region: {error}"
                ))
            }
        };
        let mut command = Command::new(&self.exe);
        // The supervisor's own arguments: the worker builds the very same configuration.
        command
            .args(std::env::args_os().skip(1))
            .env(SOCKET_ENV, &self.socket)
            .env(SERVICES_ENV, &self.services)
            .env(AUTHKEY_ENV, &self.authkey)
            .env(METRICS_FD_ENV, region_fd.as_raw_fd().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let raw = region_fd.as_raw_fd();
        // SAFETY: runs in the child between fork and exec and makes a single fcntl, which
        // is async-signal-safe. The region is close-on-exec everywhere else: only this
        // worker inherits it.
        unsafe {
            command.pre_exec(move || {
                rustix::io::fcntl_setfd(unsafe_borrow(raw), rustix::io::FdFlags::empty())
                    .map_err(io::Error::from)
            });
        }
        let spawned = command.spawn();
        drop(region_fd); // the worker has its copy; the mapping is ours
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => return self.retry(format_args!("cannot start a worker: {error}")),
        };
        let Some(pid) = child.id().map(i64::from) else {
            return; // already reaped: cannot happen before wait
        };
        self.metrics.worker_started(pid, region);
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

    /// Logs why a worker could not start, and tries again after a pause.
    fn retry(&mut self, why: std::fmt::Arguments) {
        tracing::error!("{why}; retrying");
        self.running.spawn(async {
            tokio::time::sleep(YOUNG).await;
            Event::Respawn
        });
    }

    /// The worker `pid` has exited (its final counts are kept).
    fn forget(&mut self, pid: i64) {
        self.metrics.worker_exited(pid);
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
        metrics,
        workers,
        mut new_generation,
        handshake_timeout,
        grace,
        client_wait,
    } = supervisor;
    let addrs = clients
        .iter()
        .map(|(service, listener, _)| Ok((*service, listener.local_addr()?)))
        .collect::<io::Result<Vec<_>>>()?;
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
        services: WorkerLink::services_value(&addrs),
        generations,
        metrics,
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
                // First: a worker that exits because the whole group got SIGTERM is not
                // a death to repair.
                biased;
                _ = shutdown.cancelled() => return,
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
                Some(()) = new_generation.recv() => {
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
            }
        }
    };
    let accept =
        futures_util::future::join_all(clients.into_iter().map(|(service, clients, handoffs)| {
            let (pool, lifecycle) = (&pool, &lifecycle);
            let counting = Counting::Workers(handoffs);
            async move {
                if let Err(error) = dispatch(clients, pool, client_wait, &counting, lifecycle).await
                {
                    tracing::error!(service = service.name(), %error, "accept loop failed");
                }
            }
        }));
    tokio::join!(manage, accept);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_link_round_trips_and_finds_services_by_address() {
        let addrs = [
            (Service::Echo, "127.0.0.1:7001".parse().unwrap()),
            (Service::Http, "[::]:7002".parse().unwrap()),
        ];
        let value = WorkerLink::services_value(&addrs);
        assert_eq!(value, "echo=127.0.0.1:7001,http=[::]:7002");
        let link = WorkerLink::parse("/s".into(), "k".into(), &value, "7").unwrap();
        assert_eq!(link.services, addrs);
        assert_eq!(link.metrics_fd, 7);
        let at = |a: &str| link.service_at(a.parse().unwrap());
        assert_eq!(at("127.0.0.1:7001"), Some(Service::Echo));
        assert_eq!(at("127.0.0.2:7001"), None);
        assert_eq!(at("[::1]:7002"), Some(Service::Http));
        assert_eq!(at("127.0.0.1:7003"), None);
    }

    #[test]
    fn a_bad_worker_link_is_refused() {
        for (key, services, fd) in [
            ("k", "time=127.0.0.1:1", "7"),
            ("k", "echo=x", "7"),
            ("", "echo=127.0.0.1:1", "7"),
            ("k", "echo=127.0.0.1:1", ""),
            ("k", "echo=127.0.0.1:1", "2"),
            ("k", "echo=127.0.0.1:1", "-1"),
        ] {
            assert!(
                WorkerLink::parse("/s".into(), key.into(), services, fd).is_err(),
                "{services} {fd}"
            );
        }
    }
}
