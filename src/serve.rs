//! `netkit serve`: binds every configured service before starting any (a port that can't
//! be bound leaves nothing half-started), prints one listening line per service, runs them
//! on one runtime, and on SIGINT/SIGTERM stops accepting and gives in-flight work
//! `--grace` to finish.

use crate::config::{Config, Service};
use crate::handoff::{self, pool::WorkerPool, supervisor::WorkerLink};
use crate::metrics::{self, HandshakeKind, Metrics, ServiceMetrics};
use crate::service::http::driver::{self, DriverOptions, Handler};
use crate::service::rpc::RpcServer;
use crate::service::{self, echo, Lifecycle, TcpOptions, TcpSource};
use crate::systemd;
use crate::tls::{self, TlsError};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;

/// Why `netkit serve` could not start. The binary exits with code 2 for these.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{service}: cannot resolve {addr}: {source}")]
    Resolve {
        service: &'static str,
        addr: String,
        source: std::io::Error,
    },
    #[error("{service}: cannot bind {addr}: {source}")]
    Bind {
        service: &'static str,
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("socket activation: {0}")]
    Activation(std::io::Error),
    #[error("xmlrpc: cannot open the store: {0}")]
    Store(crate::kv::StoreError),
    #[error("worker: {0}")]
    Worker(handoff::worker::WorkerError),
    #[error("worker: {0}")]
    WorkerLink(String),
    #[error("{service}: {source}")]
    Tls {
        service: &'static str,
        source: Box<TlsError>,
    },
}

/// A bound socket, by the service it is for.
enum Listener {
    /// echo, conn, rpc, xmlrpc, http: the shared accept loop over a codec's handler.
    Tcp(TcpSource, TcpOptions),
    Time(UdpSocket, ServiceMetrics),
    Handoff(handoff::service::Handoff),
    /// Bound here, served by the `--workers` processes.
    Supervised,
}

struct BoundService {
    service: Service,
    local_addr: SocketAddr,
    tls: bool,
    listener: Listener,
}

/// Every configured service, bound and ready to run.
pub struct Server {
    config: Config,
    services: Vec<BoundService>,
    /// `--workers`: hands the supervised services' connections to worker processes.
    supervisor: Option<handoff::supervisor::Supervisor>,
    metrics: Arc<Metrics>,
    /// `--metrics ADDR`: the scrape endpoint's listener.
    metrics_listener: Option<(TcpListener, SocketAddr)>,
    /// The XML-RPC store, opened once and shared by every accept loop (reloads included).
    store: Option<crate::kv::Store>,
    /// Reads the configuration anew on SIGHUP; without one, SIGHUP is ignored.
    reloader: Option<Reloader>,
    /// `--workers`: asks the supervisor for a new generation of workers.
    generations: Option<tokio::sync::mpsc::UnboundedSender<()>>,
}

/// Makes a new [`Config`] from the same flags and `--config` file: what SIGHUP applies.
pub type Reloader = Box<dyn Fn() -> Result<Config, crate::config::ConfigError> + Send + Sync>;

/// Sockets handed to a worker process queue here for their service; past this many
/// waiting, the worker stops reading its handoff socket and the supervisor tries another
/// (see [`handoff::worker::receive`]).
const HANDED_QUEUE: usize = 1024;

/// In a worker process: where each handed socket goes, by service.
type HandedSenders = Vec<(
    Service,
    tokio::sync::mpsc::Sender<(tokio::net::TcpStream, SocketAddr)>,
)>;

/// One service's listening line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    pub service: &'static str,
    pub url: String,
}

impl std::fmt::Display for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "netkit: {} listening on {}", self.service, self.url)
    }
}

async fn resolve(service: &'static str, addr: &str) -> Result<SocketAddr, StartupError> {
    let resolve_error = |source| StartupError::Resolve {
        service,
        addr: addr.to_string(),
        source,
    };
    tokio::net::lookup_host(addr)
        .await
        .map_err(resolve_error)?
        .next()
        .ok_or_else(|| {
            resolve_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no address found",
            ))
        })
}

impl Server {
    /// Binds every service of `config`; the first failure returns an error and drops
    /// (closes) everything bound so far.
    pub async fn bind(config: Config) -> Result<Server, StartupError> {
        Ok(Self::bind_or_link(config, None).await?.0)
    }

    /// In a `--workers` worker process: the supervised services, fed by the returned
    /// senders instead of listeners; the supervisor serves the rest.
    async fn link(
        config: Config,
        link: &WorkerLink,
    ) -> Result<(Server, HandedSenders), StartupError> {
        Self::bind_or_link(config, Some(link)).await
    }

    async fn bind_or_link(
        config: Config,
        link: Option<&WorkerLink>,
    ) -> Result<(Server, HandedSenders), StartupError> {
        // A worker counts into memory its supervisor reads: the supervisor's scrape shows
        // every worker's counts.
        let metrics = Arc::new(match link {
            Some(link) => link
                .metrics()
                .map_err(|e| StartupError::WorkerLink(format!("metrics region: {e}")))?,
            None => Metrics::new(),
        });
        let mut services = Vec::new();
        let mut supervised = Vec::new();
        let mut senders = Vec::new();
        let mut store = None;
        // Sockets systemd passed us (socket activation), by the service names they carry.
        let mut activation = match link {
            None => systemd::Activation::inherited().map_err(StartupError::Activation)?,
            Some(_) => systemd::Activation::default(),
        };
        for (&service, addr) in &config.services.0 {
            if service == Service::Handoff {
                continue; // bound below, with its workers' socket
            }
            if link.is_some() && !service.served_by_workers() {
                continue; // the supervisor serves it
            }
            let bind_error = |source| StartupError::Bind {
                service: service.name(),
                addr: addr.clone(),
                source,
            };
            if service == Service::Time {
                let socket = match activation.take_udp(service.name()) {
                    Some(inherited) => inherited.map_err(bind_error)?,
                    None => {
                        let socket_addr = resolve(service.name(), addr).await?;
                        UdpSocket::bind(socket_addr).await.map_err(bind_error)?
                    }
                };
                let local_addr = socket.local_addr().map_err(bind_error)?;
                let service_metrics = metrics.service(service.name(), false, None);
                services.push(BoundService {
                    service,
                    local_addr,
                    tls: false,
                    listener: Listener::Time(socket, service_metrics),
                });
                continue;
            }
            let tls_acceptor = tls_acceptor(&config, service)?;
            let tls = tls_acceptor.is_some();
            let auth = match service {
                Service::Echo if config.hmac.is_some() => Some(HandshakeKind::Hmac),
                Service::Conn | Service::Rpc if config.authkey.is_some() => {
                    Some(HandshakeKind::Authkey)
                }
                _ => None,
            };
            let service_metrics = metrics.service(service.name(), tls, auth);
            let tcp_options = TcpOptions {
                name: service.name(),
                tls: tls_acceptor,
                slots: Arc::new(tokio::sync::Semaphore::new(config.limits.max_connections)),
                handshake_timeout: config.limits.handshake_timeout,
                metrics: service_metrics.clone(),
            };
            let (source, local_addr) = match link {
                Some(link) => {
                    let Some(&(_, local_addr)) =
                        link.services.iter().find(|(handed, _)| *handed == service)
                    else {
                        continue;
                    };
                    let (sender, receiver) = tokio::sync::mpsc::channel(HANDED_QUEUE);
                    senders.push((service, sender));
                    (TcpSource::Handed(receiver), local_addr)
                }
                None => {
                    let listener = match activation.take_tcp(service.name()) {
                        Some(inherited) => inherited.map_err(bind_error)?,
                        None => {
                            bind_tcp(resolve(service.name(), addr).await?).map_err(bind_error)?
                        }
                    };
                    let local_addr = listener.local_addr().map_err(bind_error)?;
                    if config.workers.is_some() && service.served_by_workers() {
                        supervised.push((service, listener));
                        services.push(BoundService {
                            service,
                            local_addr,
                            tls,
                            listener: Listener::Supervised,
                        });
                        continue;
                    }
                    (TcpSource::from(listener), local_addr)
                }
            };
            if service == Service::Xmlrpc {
                // Opened before anything starts: a store that can't be opened (locked by
                // another process, unreadable) stops the start like a busy port.
                store = Some(
                    crate::kv::Store::open(&config.kv_store)
                        .await
                        .map_err(StartupError::Store)?,
                );
            }
            let listener = Listener::Tcp(source, tcp_options);
            services.push(BoundService {
                service,
                local_addr,
                tls,
                listener,
            });
        }
        if let (Some((addr, path)), None) = (config.handoff(), link) {
            let handoff_metrics = metrics.service(Service::Handoff.name(), false, None);
            let (listener, local_addr) = bind_handoff(&config, addr, path, handoff_metrics).await?;
            services.push(BoundService {
                service: Service::Handoff,
                local_addr,
                tls: false,
                listener,
            });
        }
        let (supervisor, generations) = match config.workers {
            Some(workers) if !supervised.is_empty() => {
                let (supervisor, generations) = supervisor(&config, supervised, workers, &metrics);
                (Some(supervisor), Some(generations))
            }
            _ => (None, None),
        };
        // Only the supervisor serves --metrics, the workers' counts included.
        let metrics_listener = match (&config.metrics, link) {
            (Some(addr), None) => Some(bind_metrics(addr).await?),
            _ => None,
        };
        activation.warn_unused();
        let server = Server {
            config,
            services,
            supervisor,
            metrics,
            metrics_listener,
            store,
            reloader: None,
            generations,
        };
        Ok((server, senders))
    }

    /// Re-reads the configuration with `reloader` on SIGHUP (see [`Server::run`]).
    pub fn reload_with(mut self, reloader: Reloader) -> Server {
        self.reloader = Some(reloader);
        self
    }

    /// The registry every service counts into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The listening lines, in the order the services were bound.
    pub fn listening(&self) -> Vec<Listening> {
        let metrics = self.metrics_listener.as_ref().map(|(_, addr)| Listening {
            service: "metrics",
            url: format!("http://{addr}"),
        });
        self.services
            .iter()
            .map(|bound| {
                let scheme = bound.service.spec().scheme.name(bound.tls);
                Listening {
                    service: bound.service.name(),
                    url: format!("{scheme}://{}", bound.local_addr),
                }
            })
            .chain(metrics)
            .collect()
    }

    /// Runs every service until `stop` completes, then stops accepting and waits up to
    /// the grace period for connections to finish. Returns how many were cut short.
    /// Each `hangup` (SIGHUP) reloads the configuration, when the server has a reloader.
    pub async fn run(
        self,
        stop: impl std::future::Future<Output = ()>,
        hangup: Option<tokio::signal::unix::Signal>,
    ) -> usize {
        // Not a service: it answers until the services have drained (`/healthz` then says
        // `draining`), and its scrapes are counted nowhere.
        let endpoint = Lifecycle::default();
        let endpoint_task = self.metrics_listener.map(|(listener, _)| {
            tokio::spawn(serve_metrics(
                listener,
                self.metrics.clone(),
                endpoint.clone(),
            ))
        });
        let running = Running {
            config: self.config,
            store: self.store,
            reloader: self.reloader,
            generations: self.generations,
            metrics: self.metrics,
            lifecycle: Lifecycle::default(),
            services: tokio_util::task::TaskTracker::new(),
            accept_loops: Vec::new(),
        };
        let cut = running
            .run(self.services, self.supervisor, stop, hangup)
            .await;
        if let Some(task) = endpoint_task {
            endpoint.shutdown.cancel();
            let _ = task.await; // the accept loop returns at once on cancel
            endpoint.tracker.close();
            // Idle scrape connections close at once; a scrape in flight gets a moment.
            let _ = tokio::time::timeout(SCRAPE_GRACE, endpoint.tracker.wait()).await;
        }
        cut
    }
}

/// A TCP service's accept loop, which a reload replaces with one of new settings.
struct AcceptLoop {
    service: Service,
    listener: Arc<TcpListener>,
    metrics: ServiceMetrics,
    /// The service's `--max-connections`, held by its connections of every generation.
    slots: Arc<tokio::sync::Semaphore>,
    /// Stops this loop only; its connections go on.
    accepting: tokio_util::sync::CancellationToken,
}

/// The services while they run: what a reload needs to start new accept loops.
struct Running {
    config: Config,
    store: Option<crate::kv::Store>,
    reloader: Option<Reloader>,
    generations: Option<tokio::sync::mpsc::UnboundedSender<()>>,
    metrics: Arc<Metrics>,
    lifecycle: Lifecycle,
    services: tokio_util::task::TaskTracker,
    accept_loops: Vec<AcceptLoop>,
}

impl Running {
    async fn run(
        mut self,
        bound_services: Vec<BoundService>,
        supervisor: Option<handoff::supervisor::Supervisor>,
        stop: impl std::future::Future<Output = ()>,
        mut hangup: Option<tokio::signal::unix::Signal>,
    ) -> usize {
        for bound in bound_services {
            let name = bound.service.name();
            let lifecycle = self.lifecycle.clone();
            match bound.listener {
                Listener::Tcp(source, options) => {
                    self.start_accepting(bound.service, source, options)
                }
                Listener::Time(socket, metrics) => {
                    self.services.spawn(logged(
                        name,
                        service::time::run(socket, Default::default(), metrics, lifecycle),
                    ));
                }
                Listener::Handoff(bound) => {
                    self.services
                        .spawn(logged(name, handoff::service::run(bound, lifecycle)));
                }
                Listener::Supervised => {}
            }
        }
        if let Some(supervisor) = supervisor {
            let lifecycle = self.lifecycle.clone();
            self.services.spawn(async move {
                if let Err(error) = handoff::supervisor::run(supervisor, lifecycle).await {
                    tracing::error!(%error, "workers' supervisor stopped");
                }
            });
        }
        tokio::pin!(stop);
        loop {
            let hup = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => break,
                _ = hup => self.reload(),
            }
        }
        self.drain().await
    }

    /// Starts `service`'s accept loop over `source` with `options` and the configuration's
    /// current settings.
    fn start_accepting(&mut self, service: Service, source: TcpSource, options: TcpOptions) {
        let lifecycle = self.lifecycle.next_generation();
        if let TcpSource::Listener(listener) = &source {
            self.accept_loops.push(AcceptLoop {
                service,
                listener: listener.clone(),
                metrics: options.metrics.clone(),
                slots: options.slots.clone(),
                accepting: lifecycle.accepting.clone(),
            });
        }
        let serving = serve_tcp_service(
            service,
            source,
            options,
            &self.config,
            self.store.clone(),
            lifecycle,
        );
        self.services.spawn(logged(service.name(), serving));
    }

    /// SIGHUP: reads the configuration and TLS files anew and, if they are good, serves
    /// new connections with them; connections already open keep what they had. A bad
    /// file changes nothing. Addresses and the set of services need a restart.
    fn reload(&mut self) {
        let Some(reloader) = &self.reloader else {
            tracing::info!("SIGHUP: nothing to reload");
            return;
        };
        systemd::notify_reloading();
        let outcome = reloader().map_err(|e| e.to_string()).and_then(|config| {
            // Every service's TLS files are read before anything changes, those of the
            // services in --workers processes too (their new generation reads them next).
            let mut acceptors = std::collections::HashMap::new();
            for service in config.services.0.keys().copied() {
                acceptors.insert(
                    service,
                    tls_acceptor(&config, service).map_err(|e| e.to_string())?,
                );
            }
            let options = self
                .accept_loops
                .iter()
                .map(|running| TcpOptions {
                    name: running.service.name(),
                    tls: acceptors.remove(&running.service).flatten(),
                    slots: running.slots.clone(),
                    handshake_timeout: config.limits.handshake_timeout,
                    metrics: running.metrics.clone(),
                })
                .collect::<Vec<_>>();
            Ok((config, options))
        });
        match outcome {
            Err(error) => {
                self.metrics.reloaded(false);
                tracing::error!(%error, "reload failed; serving goes on with the settings before it");
            }
            Ok((config, options)) => {
                let (config, restart_needed) = keep_restart_settings(&self.config, config);
                for restart in restart_needed {
                    tracing::warn!("reload: {restart} changed: needs a restart; kept as it was");
                }
                self.config = config;
                let old = std::mem::take(&mut self.accept_loops);
                for (running, options) in old.iter().zip(options) {
                    let source = TcpSource::Listener(running.listener.clone());
                    self.start_accepting(running.service, source, options);
                }
                // The new loops are accepting: the old ones stop, their connections stay.
                for running in old {
                    running.accepting.cancel();
                }
                if let Some(generations) = &self.generations {
                    let _ = generations.send(());
                }
                self.metrics.reloaded(true);
                tracing::info!("reloaded the configuration and TLS files");
            }
        }
        systemd::notify_ready();
    }

    async fn drain(self) -> usize {
        systemd::notify_stopping();
        self.services.close();
        self.metrics.set_draining();
        tracing::info!("shutting down: no new connections; draining");
        let lifecycle = self.lifecycle;
        lifecycle.shutdown.cancel();
        self.services.wait().await; // the accept loops return at once on cancel
        lifecycle.tracker.close();
        let grace = self.config.grace;
        if tokio::time::timeout(grace, lifecycle.tracker.wait())
            .await
            .is_err()
        {
            let cut = lifecycle.tracker.len();
            tracing::warn!(
                connections = cut,
                ?grace,
                "grace period over; closing the rest"
            );
            return cut;
        }
        0
    }
}

/// `new` with what only a restart can change put back as it is in `old`, and the flags of
/// those that differed (each setting named once, so the two cannot drift apart).
fn keep_restart_settings(old: &Config, mut new: Config) -> (Config, Vec<String>) {
    let mut changed = Vec::new();
    for spec in &crate::config::SERVICES {
        let (before, after) = (old.addr(spec.service), new.addr(spec.service));
        if before != after {
            changed.push(format!(
                "{} ({} -> {})",
                spec.flag,
                before.unwrap_or("not started"),
                after.unwrap_or("not started")
            ));
        }
    }
    new.services = old.services.clone();
    fn keep<T: PartialEq + Clone>(changed: &mut Vec<String>, flag: &str, old: &T, new: &mut T) {
        if old != new {
            changed.push(flag.to_string());
            *new = old.clone();
        }
    }
    // The cap counts the connections of every accept loop, so it keeps its size.
    keep(
        &mut changed,
        "--max-connections",
        &old.limits.max_connections,
        &mut new.limits.max_connections,
    );
    keep(
        &mut changed,
        "--handoff-socket",
        &old.handoff_socket,
        &mut new.handoff_socket,
    );
    keep(&mut changed, "--workers", &old.workers, &mut new.workers);
    keep(&mut changed, "--threads", &old.threads, &mut new.threads);
    keep(&mut changed, "--metrics", &old.metrics, &mut new.metrics);
    keep(&mut changed, "--kv-store", &old.kv_store, &mut new.kv_store);
    (new, changed)
}

/// A service's run, with its failure logged.
async fn logged(name: &'static str, run: impl std::future::Future<Output = std::io::Result<()>>) {
    if let Err(error) = run.await {
        tracing::error!(service = name, %error, "service stopped");
    }
}

/// The TLS acceptor of `service`, from the files `config` names (read now).
fn tls_acceptor(config: &Config, service: Service) -> Result<Option<TlsAcceptor>, StartupError> {
    let Some(files) = config.tls_for(service) else {
        return Ok(None);
    };
    // HTTP services offer h2 first so that TLS clients that can get HTTP/2.
    let alpn: &[&[u8]] = match service {
        Service::Http | Service::Xmlrpc => &[b"h2", b"http/1.1"],
        _ => &[],
    };
    let server_config = tls::server_config(files, alpn).map_err(|source| StartupError::Tls {
        service: service.name(),
        source: Box::new(source),
    })?;
    Ok(Some(TlsAcceptor::from(server_config)))
}

/// One TCP service's accept loop and handler, with the settings of `config`.
fn serve_tcp_service(
    service: Service,
    source: TcpSource,
    tcp_options: TcpOptions,
    config: &Config,
    store: Option<crate::kv::Store>,
    lifecycle: Lifecycle,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>> {
    match service {
        Service::Echo => {
            let options = echo::EchoOptions {
                idle_timeout: config.limits.idle_timeout,
                handshake_timeout: config.limits.handshake_timeout,
                hmac: config.hmac.clone(),
            };
            Box::pin(echo::run(source, tcp_options, options, lifecycle))
        }
        Service::Conn => Box::pin(service::conn::run(
            source,
            tcp_options,
            config.frame_options(),
            lifecycle,
            |frame| frame,
        )),
        Service::Rpc => {
            let functions = Arc::new(RpcServer::with_recipe_functions());
            Box::pin(service::rpc::run(
                source,
                tcp_options,
                config.frame_options(),
                functions,
                lifecycle,
            ))
        }
        Service::Xmlrpc => {
            let options = service::xmlrpc::XmlRpcOptions {
                limits: crate::proto::xmlrpc::Limits {
                    max_document_size: usize::try_from(config.limits.max_xmlrpc_size)
                        .unwrap_or(usize::MAX),
                    ..Default::default()
                },
                idle_timeout: config.limits.idle_timeout,
            };
            match store {
                Some(store) => Box::pin(service::xmlrpc::run(
                    source,
                    tcp_options,
                    options,
                    store,
                    lifecycle,
                )),
                None => Box::pin(async { Ok(()) }),
            }
        }
        Service::Http => Box::pin(service::http::run(
            source,
            tcp_options,
            config.http_options.clone(),
            lifecycle,
        )),
        Service::Time | Service::Handoff => Box::pin(async { Ok(()) }),
    }
}

/// Connections the kernel queues for accept: bursts of thousands of connects (10,000
/// clients arriving at once) must wait in the queue, not be refused.
const LISTEN_BACKLOG: i32 = 4096;

/// A TCP listener like tokio's `bind` (SO_REUSEADDR), with a deeper accept queue.
fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// The TCP listener and the workers' Unix socket of `--handoff`.
async fn bind_handoff(
    config: &Config,
    addr: &str,
    path: &std::path::Path,
    metrics: ServiceMetrics,
) -> Result<(Listener, SocketAddr), StartupError> {
    let service = Service::Handoff;
    let socket_addr = resolve(service.name(), addr).await?;
    let bind_error = |addr: String| {
        move |source| StartupError::Bind {
            service: service.name(),
            addr,
            source,
        }
    };
    let clients = bind_tcp(socket_addr).map_err(bind_error(addr.to_string()))?;
    let local_addr = clients.local_addr().map_err(bind_error(addr.to_string()))?;
    let workers = handoff::pool::bind_unix(path).map_err(bind_error(path.display().to_string()))?;
    let handoff = handoff::service::Handoff {
        clients,
        workers,
        socket_file: handoff::pool::SocketFile(path.to_path_buf()),
        pool: WorkerPool::new(),
        admission: handoff::pool::Admission {
            authkey: config.authkey.clone(),
            handshake_timeout: config.limits.handshake_timeout,
            generations: None,
        },
        client_wait: config.handoff_wait,
        metrics,
    };
    Ok((Listener::Handoff(handoff), local_addr))
}

/// `--workers`: the supervisor, and where a checked SIGHUP asks it for a new generation.
fn supervisor(
    config: &Config,
    clients: Vec<(Service, TcpListener)>,
    workers: usize,
    metrics: &Arc<Metrics>,
) -> (
    handoff::supervisor::Supervisor,
    tokio::sync::mpsc::UnboundedSender<()>,
) {
    let (generations, new_generation) = tokio::sync::mpsc::unbounded_channel();
    let names: Vec<&'static str> = clients.iter().map(|(s, _)| s.name()).collect();
    let handoffs = metrics.serve_by_workers(&names);
    let clients = clients
        .into_iter()
        .zip(handoffs)
        .map(|((service, listener), handoffs)| (service, listener, handoffs))
        .collect();
    let supervisor = handoff::supervisor::Supervisor {
        clients,
        metrics: metrics.clone(),
        workers,
        new_generation,
        handshake_timeout: config.limits.handshake_timeout,
        grace: config.grace,
        client_wait: config.handoff_wait,
    };
    (supervisor, generations)
}

/// The `--metrics ADDR` listener. Bound like a service (after them, all-or-nothing).
async fn bind_metrics(addr: &str) -> Result<(TcpListener, SocketAddr), StartupError> {
    let service = "metrics";
    let error = |source| StartupError::Bind {
        service,
        addr: addr.to_string(),
        source,
    };
    let listener = bind_tcp(resolve(service, addr).await?).map_err(error)?;
    let local_addr = listener.local_addr().map_err(error)?;
    Ok((listener, local_addr))
}

/// Scrapers served at once; more are accepted and closed (the endpoint must not become a
/// way to exhaust the server).
const MAX_SCRAPERS: usize = 64;
/// Time a scraper gets to send a request's head.
const SCRAPE_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a scrape in flight at exit may take to finish.
const SCRAPE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The `--metrics` endpoint as a handler of the shared HTTP driver.
struct MetricsEndpoint(Arc<Metrics>);

impl Handler for MetricsEndpoint {
    type Body = http_body_util::Full<bytes::Bytes>;

    async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
        _peer: SocketAddr,
    ) -> hyper::Response<Self::Body> {
        metrics::answer(&request, &self.0)
    }
}

/// Serves `GET /metrics` and `GET /healthz` until `lifecycle` shuts it down.
async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>, lifecycle: Lifecycle) {
    let tcp = TcpOptions {
        name: "metrics",
        tls: None,
        slots: Arc::new(tokio::sync::Semaphore::new(MAX_SCRAPERS)),
        handshake_timeout: SCRAPE_HEADER_TIMEOUT,
        metrics: ServiceMetrics::default(),
    };
    let options = DriverOptions {
        header_timeout: SCRAPE_HEADER_TIMEOUT,
        max_header_bytes: 16 * 1024,
        max_headers: 100,
        h2c_upgrade: true,
    };
    let endpoint = MetricsEndpoint(metrics);
    if let Err(error) = driver::serve(listener, tcp, options, endpoint, lifecycle).await {
        tracing::error!(service = "metrics", %error, "metrics endpoint stopped");
    }
}

/// Binds, prints the listening lines to stdout, and serves until SIGINT or SIGTERM; each
/// SIGHUP re-reads the configuration with `reloader` (or is ignored without one).
pub async fn run(config: Config, reloader: Option<Reloader>) -> Result<(), StartupError> {
    use tokio::signal::unix::{signal, SignalKind};
    // Signal handlers go in before the listening lines: whoever reads a line may signal
    // at once, and the default action would kill us without draining.
    let stop = ShutdownSignal::install()?;
    // A terminal's SIGHUP reaches the whole process group; in a worker it is ignored.
    let hangup = signal(SignalKind::hangup()).map_err(StartupError::Signals)?;
    if let Some(link) = WorkerLink::from_env() {
        let link = link.map_err(StartupError::WorkerLink)?;
        return run_worker(config, link, stop).await;
    }
    let mut server = Server::bind(config).await?;
    if let Some(reloader) = reloader {
        server = server.reload_with(reloader);
    }
    let mut stdout = std::io::stdout().lock();
    for line in server.listening() {
        // A closed stdout must not stop the service: the lines are for whoever watches.
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
    drop(stdout);
    systemd::notify_ready();
    let _watchdog = systemd::watchdog();
    server.run(stop.wait(), Some(hangup)).await;
    Ok(())
}

/// A `--workers` worker process: serves the sockets its supervisor hands over until the
/// supervisor retires it (closes the socket) or SIGINT/SIGTERM, then drains like `serve`.
async fn run_worker(
    config: Config,
    link: WorkerLink,
    stop: ShutdownSignal,
) -> Result<(), StartupError> {
    let (server, senders) = Server::link(config, &link).await?;
    let handshake_timeout = server.config.limits.handshake_timeout;
    let stream = handoff::worker::register(&link.socket, Some(&link.authkey), handshake_timeout)
        .await
        .map_err(StartupError::Worker)?;
    let feed = handoff::worker::receive(stream, std::future::pending(), async |tcp, peer| {
        let service = tcp
            .local_addr()
            .ok()
            .and_then(|local| link.service_at(local));
        match senders.iter().find(|(s, _)| Some(*s) == service) {
            // A full queue holds us here (backpressure); a send fails only once the
            // service has stopped, when the socket may as well close.
            Some((_, sender)) => {
                let _ = sender.send((tcp, peer)).await;
            }
            None => tracing::warn!(?service, "handed a socket for no service of this worker"),
        }
    });
    server
        .run(
            async {
                tokio::select! {
                    _ = stop.wait() => {}
                    _ = feed => {}
                }
            },
            None,
        )
        .await;
    Ok(())
}

/// SIGINT and SIGTERM: the first starts a graceful shutdown, a second ends the process.
struct ShutdownSignal {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> Result<Self, StartupError> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(ShutdownSignal {
            interrupt: signal(SignalKind::interrupt()).map_err(StartupError::Signals)?,
            terminate: signal(SignalKind::terminate()).map_err(StartupError::Signals)?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
            tracing::warn!("second signal: exiting without waiting");
            std::process::exit(130);
        });
    }
}
