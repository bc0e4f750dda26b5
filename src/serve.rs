//! `netkit serve`: binds every configured service before starting any (a port that can't
//! be bound leaves nothing half-started), prints one listening line per service, runs them
//! on one runtime, and on SIGINT/SIGTERM stops accepting and gives in-flight work
//! `--grace` to finish.

use crate::config::{Config, Service};
use crate::handoff::{self, pool::WorkerPool, supervisor::WorkerLink};
use crate::metrics::{self, HandshakeKind, Metrics, ServiceMetrics};
use crate::service::rpc::RpcServer;
use crate::service::{self, echo, Lifecycle, TcpOptions, TcpSource};
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
    #[error("xmlrpc: cannot open the store: {0}")]
    Store(crate::kv::StoreError),
    #[error("worker: {0}")]
    Worker(handoff::worker::WorkerError),
    #[error("worker: {0}")]
    WorkerLink(String),
    #[error("{service}: {source}")]
    Tls {
        service: &'static str,
        source: TlsError,
    },
}

/// A bound socket, by the service it is for.
enum Listener {
    Echo(TcpSource, TcpOptions),
    Time(UdpSocket, ServiceMetrics),
    Conn(TcpSource, TcpOptions),
    Rpc(TcpSource, TcpOptions),
    Xmlrpc(TcpSource, TcpOptions, crate::kv::Store),
    Http(TcpSource, TcpOptions),
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
}

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
        for (service, addr) in [
            (Service::Echo, &config.echo),
            (Service::Time, &config.time),
            (Service::Conn, &config.conn),
            (Service::Rpc, &config.rpc),
            (Service::Xmlrpc, &config.xmlrpc),
            (Service::Http, &config.http),
        ] {
            let Some(addr) = addr else { continue };
            if link.is_some() && !service.served_by_workers() {
                continue; // the supervisor serves it
            }
            let bind_error = |source| StartupError::Bind {
                service: service.name(),
                addr: addr.clone(),
                source,
            };
            if service == Service::Time {
                let socket_addr = resolve(service.name(), addr).await?;
                let socket = UdpSocket::bind(socket_addr).await.map_err(bind_error)?;
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
            let tls_acceptor = match config.tls_for(service) {
                Some(files) => {
                    // HTTP offers h2 first so that TLS clients that can get HTTP/2.
                    let alpn: &[&[u8]] = match service {
                        Service::Http => &[b"h2", b"http/1.1"],
                        _ => &[],
                    };
                    Some(TlsAcceptor::from(tls::server_config(files, alpn).map_err(
                        |source| StartupError::Tls {
                            service: service.name(),
                            source,
                        },
                    )?))
                }
                None => None,
            };
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
                max_connections: config.limits.max_connections,
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
                    let listener =
                        bind_tcp(resolve(service.name(), addr).await?).map_err(bind_error)?;
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
            let listener = match service {
                Service::Echo => Listener::Echo(source, tcp_options),
                Service::Conn => Listener::Conn(source, tcp_options),
                Service::Rpc => Listener::Rpc(source, tcp_options),
                Service::Http => Listener::Http(source, tcp_options),
                Service::Xmlrpc => {
                    // Opened before anything starts: a store that can't be opened (locked
                    // by another process, unreadable) stops the start like a busy port.
                    let store = crate::kv::Store::open(&config.kv_store)
                        .await
                        .map_err(StartupError::Store)?;
                    Listener::Xmlrpc(source, tcp_options, store)
                }
                Service::Time | Service::Handoff => continue,
            };
            services.push(BoundService {
                service,
                local_addr,
                tls,
                listener,
            });
        }
        if let (Some((addr, path)), None) = (&config.handoff, link) {
            let handoff_metrics = metrics.service(Service::Handoff.name(), false, None);
            let (listener, local_addr) = bind_handoff(&config, addr, path, handoff_metrics).await?;
            services.push(BoundService {
                service: Service::Handoff,
                local_addr,
                tls: false,
                listener,
            });
        }
        let supervisor = match config.workers {
            Some(workers) if !supervised.is_empty() => {
                Some(supervisor(&config, supervised, workers, &metrics)?)
            }
            _ => None,
        };
        // Only the supervisor serves --metrics, the workers' counts included.
        let metrics_listener = match (&config.metrics, link) {
            (Some(addr), None) => Some(bind_metrics(addr).await?),
            _ => None,
        };
        let server = Server {
            config,
            services,
            supervisor,
            metrics,
            metrics_listener,
        };
        Ok((server, senders))
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
                let scheme = match (bound.service, bound.tls) {
                    (Service::Time, _) => "udp",
                    (Service::Xmlrpc | Service::Http, false) => "http",
                    (Service::Xmlrpc | Service::Http, true) => "https",
                    (_, false) => "tcp",
                    (_, true) => "tls",
                };
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
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> usize {
        // Not a service: it answers until we return, through the drain (`/healthz` then
        // says `draining`), and is not waited for.
        let endpoint = self
            .metrics_listener
            .map(|(listener, _)| tokio::spawn(metrics::serve_http(listener, self.metrics.clone())));
        let cut = Self::run_services(
            self.services,
            self.supervisor,
            self.config,
            &self.metrics,
            stop,
        )
        .await;
        if let Some(endpoint) = endpoint {
            endpoint.abort();
        }
        cut
    }

    async fn run_services(
        bound_services: Vec<BoundService>,
        supervisor: Option<handoff::supervisor::Supervisor>,
        config: Config,
        metrics: &Metrics,
        stop: impl std::future::Future<Output = ()>,
    ) -> usize {
        let lifecycle = Lifecycle::default();
        let services = tokio_util::task::TaskTracker::new();
        for bound in bound_services {
            let lifecycle = lifecycle.clone();
            let config = config.clone();
            services.spawn(async move {
                let name = bound.service.name();
                let result = match bound.listener {
                    Listener::Echo(listener, tcp_options) => {
                        let options = echo::EchoOptions {
                            idle_timeout: config.limits.idle_timeout,
                            handshake_timeout: config.limits.handshake_timeout,
                            hmac: config.hmac.clone(),
                        };
                        echo::run(listener, tcp_options, options, lifecycle).await
                    }
                    Listener::Time(socket, metrics) => {
                        service::time::run(socket, Default::default(), metrics, lifecycle).await
                    }
                    Listener::Conn(listener, tcp_options) => {
                        let options = config.frame_options();
                        service::conn::run(listener, tcp_options, options, lifecycle, |frame| frame)
                            .await
                    }
                    Listener::Rpc(listener, tcp_options) => {
                        let options = config.frame_options();
                        let functions = std::sync::Arc::new(RpcServer::with_recipe_functions());
                        service::rpc::run(listener, tcp_options, options, functions, lifecycle)
                            .await
                    }
                    Listener::Xmlrpc(listener, tcp_options, store) => {
                        let options = service::xmlrpc::XmlRpcOptions {
                            limits: crate::proto::xmlrpc::Limits {
                                max_document_size: usize::try_from(config.limits.max_xmlrpc_size)
                                    .unwrap_or(usize::MAX),
                                ..Default::default()
                            },
                            idle_timeout: config.limits.idle_timeout,
                        };
                        service::xmlrpc::run(listener, tcp_options, options, store, lifecycle).await
                    }
                    Listener::Http(listener, tcp_options) => {
                        let options = config.http_options.clone();
                        service::http::run(listener, tcp_options, options, lifecycle).await
                    }
                    Listener::Handoff(bound) => handoff::service::run(bound, lifecycle).await,
                    Listener::Supervised => Ok(()),
                };
                if let Err(error) = result {
                    tracing::error!(service = name, %error, "service stopped");
                }
            });
        }
        if let Some(supervisor) = supervisor {
            let lifecycle = lifecycle.clone();
            services.spawn(async move {
                if let Err(error) = handoff::supervisor::run(supervisor, lifecycle).await {
                    tracing::error!(%error, "workers' supervisor stopped");
                }
            });
        }
        services.close();
        stop.await;
        metrics.set_draining();
        tracing::info!("shutting down: no new connections; draining");
        lifecycle.shutdown.cancel();
        services.wait().await; // the accept loops return at once on cancel
        lifecycle.tracker.close();
        let grace = config.grace;
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

/// `--workers`: the SIGHUP handler goes in now, before the listening line is printed.
fn supervisor(
    config: &Config,
    clients: Vec<(Service, TcpListener)>,
    workers: usize,
    metrics: &Arc<Metrics>,
) -> Result<handoff::supervisor::Supervisor, StartupError> {
    use tokio::signal::unix::{signal, SignalKind};
    let hangup = signal(SignalKind::hangup()).map_err(StartupError::Signals)?;
    let names: Vec<&'static str> = clients.iter().map(|(s, _)| s.name()).collect();
    let handoffs = metrics.serve_by_workers(&names);
    let clients = clients
        .into_iter()
        .zip(handoffs)
        .map(|((service, listener), handoffs)| (service, listener, handoffs))
        .collect();
    Ok(handoff::supervisor::Supervisor {
        clients,
        metrics: metrics.clone(),
        workers,
        hangup,
        handshake_timeout: config.limits.handshake_timeout,
        grace: config.grace,
        client_wait: config.handoff_wait,
    })
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

/// Binds, prints the listening lines to stdout, and serves until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), StartupError> {
    // Signal handlers go in before the listening lines: whoever reads a line may signal
    // at once, and the default action would kill us without draining.
    let stop = ShutdownSignal::install()?;
    if let Some(link) = WorkerLink::from_env() {
        let link = link.map_err(StartupError::WorkerLink)?;
        return run_worker(config, link, stop).await;
    }
    let server = Server::bind(config).await?;
    let mut stdout = std::io::stdout().lock();
    for line in server.listening() {
        // A closed stdout must not stop the service: the lines are for whoever watches.
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
    drop(stdout);
    server.run(stop.wait()).await;
    Ok(())
}

/// A `--workers` worker process: serves the sockets its supervisor hands over until the
/// supervisor retires it (closes the socket) or SIGINT/SIGTERM, then drains like `serve`.
async fn run_worker(
    config: Config,
    link: WorkerLink,
    stop: ShutdownSignal,
) -> Result<(), StartupError> {
    use tokio::signal::unix::{signal, SignalKind};
    // A terminal's SIGHUP reaches the whole process group; only the supervisor acts on it.
    let _hangup = signal(SignalKind::hangup()).map_err(StartupError::Signals)?;
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
        .run(async {
            tokio::select! {
                _ = stop.wait() => {}
                _ = feed => {}
            }
        })
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
