//! Service metrics in one Prometheus registry, and the answers of the `serve --metrics
//! ADDR` endpoint (`GET /metrics`, `GET /healthz`; served by `serve.rs` on the shared HTTP
//! driver).
//!
//! Counting is on every request's path, so it must cost next to nothing: each service
//! gets a [`ServiceMetrics`] pointing at its [`ServiceBlock`], resolved once, at bind time
//! (no label lookup, no lock, no allocation per event — one relaxed atomic add each, and
//! for the per-message counts on the thread's own cache lines). Connection counts, TLS
//! handshake failures and bytes are counted once for every TCP service, in
//! [`crate::service::serve_tcp`] and [`crate::service::ServerStream`]; each service counts
//! its own requests, errors and latencies. A scrape adds the blocks up and renders every
//! family.
//!
//! # Under `serve --workers N`
//!
//! Each worker process counts into blocks in memory it shares with the supervisor (a
//! memfd per worker, see [`region`]), and the supervisor's scrape renders, for each
//! service the workers serve, the sum of its live workers' blocks and of its own block,
//! into which it folds a worker's final counts when that worker exits (killed, crashed or
//! retired by a SIGHUP): no counter ever goes backwards. Shared memory rather than
//! reports over the workers' private Unix socket, because:
//! - a worker counts exactly as a single process does (the same relaxed adds, into shared
//!   pages instead of heap pages): no message, batch or extra thread per event;
//! - a worker killed with `kill -9` loses nothing: every count it made is already in pages
//!   the supervisor holds. Reports would lose whatever came after the last one;
//! - a scrape only reads memory: it never waits on a busy, stuck or dying worker, and the
//!   handoff socket keeps carrying only sockets, one way.
//!
//! The supervisor's own work for those services, handing clients over, is counted apart
//! in `netkit_handoffs_total{service,result}` ([`HandoffMetrics`]).

mod region;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use region::Region;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

/// What a handshake failure was: the label `kind` of `netkit_handshake_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeKind {
    Tls,
    /// Recipe 9's HMAC challenge (echo with `--hmac-key`).
    Hmac,
    /// The multiprocessing authkey handshake (conn, rpc).
    Authkey,
}

impl HandshakeKind {
    fn label(self) -> &'static str {
        match self {
            HandshakeKind::Tls => "tls",
            HandshakeKind::Hmac => "hmac",
            HandshakeKind::Authkey => "authkey",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds: 50 µs (an echo on loopback) to 10 s.
const BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
/// The latency buckets and +Inf.
const BUCKET_SLOTS: usize = BUCKETS.len() + 1;

/// The same bounds in nanoseconds, for comparing without floating point.
const BUCKET_NANOS: [u64; 17] = {
    let mut nanos = [0u64; 17];
    let mut i = 0;
    while i < BUCKETS.len() {
        nanos[i] = (BUCKETS[i] * 1e9) as u64;
        i += 1;
    }
    nanos
};

/// Counts updated for every message are split in stripes, each on its own cache lines,
/// one per runtime thread (round robin): threads on different cores never write the same
/// line, so a count costs no cache-line transfer. A scrape adds the stripes up.
const STRIPES: usize = 8;

/// The current thread's stripe.
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

/// One thread's share of a service's per-message counts, alone on its cache lines
/// (128-byte aligned: adjacent-line prefetch pairs lines on x86). The counts of one
/// message (bytes, request, latency) sit together, so a message touches one or two lines.
#[derive(Debug, Default)]
#[repr(C, align(128))]
struct Stripe {
    requests: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
    duration_sum_nanos: AtomicU64,
    /// Requests per latency bucket (not cumulative); the last is +Inf.
    duration_buckets: [AtomicU64; BUCKET_SLOTS],
}

/// A service's per-connection counts: rarer, so one set for every thread.
#[derive(Debug, Default)]
#[repr(C, align(128))]
struct Connections {
    open: AtomicI64,
    total: AtomicU64,
    refused: AtomicU64,
    tls_failures: AtomicU64,
    auth_failures: AtomicU64,
    request_errors: AtomicU64,
}

/// Every count of one service: plain atomics in a fixed layout, valid when zeroed, so that
/// the same block can live on the heap (one process) or in memory a worker shares with
/// its supervisor (`--workers`).
#[derive(Debug, Default)]
#[repr(C)]
struct ServiceBlock {
    stripes: [Stripe; STRIPES],
    connections: Connections,
}

/// A service's counts added up: over stripes, and under `--workers` over processes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    open: i64,
    total: u64,
    refused: u64,
    tls_failures: u64,
    auth_failures: u64,
    request_errors: u64,
    requests: u64,
    received: u64,
    sent: u64,
    duration_sum_nanos: u64,
    duration_buckets: [u64; BUCKET_SLOTS],
}

impl ServiceBlock {
    /// Adds this block's counts to `totals`.
    fn add_to(&self, totals: &mut Totals) {
        let add = |sum: &mut u64, count: &AtomicU64| *sum = sum.wrapping_add(count.load(Relaxed));
        let c = &self.connections;
        totals.open = totals.open.wrapping_add(c.open.load(Relaxed));
        add(&mut totals.total, &c.total);
        add(&mut totals.refused, &c.refused);
        add(&mut totals.tls_failures, &c.tls_failures);
        add(&mut totals.auth_failures, &c.auth_failures);
        add(&mut totals.request_errors, &c.request_errors);
        for s in &self.stripes {
            add(&mut totals.requests, &s.requests);
            add(&mut totals.received, &s.received);
            add(&mut totals.sent, &s.sent);
            add(&mut totals.duration_sum_nanos, &s.duration_sum_nanos);
            for (sum, count) in totals.duration_buckets.iter_mut().zip(&s.duration_buckets) {
                add(sum, count);
            }
        }
    }

    fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        self.add_to(&mut totals);
        totals
    }

    /// Adds the final counts of an exited worker, all but its open connections (they
    /// closed with it).
    fn absorb(&self, exited: &Totals) {
        let add = |count: &AtomicU64, n: u64| count.fetch_add(n, Relaxed);
        let c = &self.connections;
        add(&c.total, exited.total);
        add(&c.refused, exited.refused);
        add(&c.tls_failures, exited.tls_failures);
        add(&c.auth_failures, exited.auth_failures);
        add(&c.request_errors, exited.request_errors);
        let s = &self.stripes[0];
        add(&s.requests, exited.requests);
        add(&s.received, exited.received);
        add(&s.sent, exited.sent);
        add(&s.duration_sum_nanos, exited.duration_sum_nanos);
        for (count, &n) in s.duration_buckets.iter().zip(&exited.duration_buckets) {
            add(count, n);
        }
    }
}

/// One service's counts: cloning shares them. Every method is a relaxed atomic add or two
/// on the service's block (for per-message counts, on the thread's own stripe).
#[derive(Clone)]
pub struct ServiceMetrics {
    block: NonNull<ServiceBlock>,
    /// What keeps the block alive and in place: its heap allocation, or a worker's
    /// shared region.
    _memory: Arc<dyn Send + Sync>,
}

// SAFETY: the block is nothing but atomics (Sync), and `_memory` keeps it alive and in
// place for as long as any clone of the handle exists.
unsafe impl Send for ServiceMetrics {}
unsafe impl Sync for ServiceMetrics {}

/// Handles registered nowhere, for streams and services that run without a registry
/// (`netkit handoff worker`'s connections, `bulk recv`, tests).
static DETACHED: LazyLock<ServiceMetrics> = LazyLock::new(ServiceMetrics::heap);

impl Default for ServiceMetrics {
    fn default() -> Self {
        DETACHED.clone()
    }
}

impl std::fmt::Debug for ServiceMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceMetrics")
    }
}

impl ServiceMetrics {
    fn heap() -> ServiceMetrics {
        let block = Arc::new(ServiceBlock::default());
        ServiceMetrics {
            block: NonNull::from(&*block),
            _memory: block,
        }
    }

    fn shared(region: &Arc<Region>, index: usize) -> Option<ServiceMetrics> {
        Some(ServiceMetrics {
            block: region.block(index)?,
            _memory: region.clone(),
        })
    }

    #[inline]
    fn counts(&self) -> &ServiceBlock {
        // SAFETY: see the Send/Sync impls: the block outlives every handle to it.
        unsafe { self.block.as_ref() }
    }

    #[inline]
    fn stripe(&self) -> &Stripe {
        &self.counts().stripes[stripe()]
    }

    /// A connection got a slot; it counts as open until the guard drops.
    pub fn connection_opened(&self) -> OpenConnection {
        let c = &self.counts().connections;
        c.total.fetch_add(1, Relaxed);
        c.open.fetch_add(1, Relaxed);
        OpenConnection(self.clone())
    }

    pub fn connection_refused(&self) {
        self.counts().connections.refused.fetch_add(1, Relaxed);
    }

    /// Counted (and shown) only for a service registered with TLS.
    pub fn tls_handshake_failed(&self) {
        self.counts().connections.tls_failures.fetch_add(1, Relaxed);
    }

    /// The service's own handshake (HMAC challenge, authkey) failed.
    pub fn auth_handshake_failed(&self) {
        self.counts()
            .connections
            .auth_failures
            .fetch_add(1, Relaxed);
    }

    /// One request answered, `took` after it arrived.
    #[inline]
    pub fn request(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS.partition_point(|&bound| bound < nanos);
        let stripe = self.stripe();
        stripe.requests.fetch_add(1, Relaxed);
        stripe.duration_buckets[bucket].fetch_add(1, Relaxed);
        stripe.duration_sum_nanos.fetch_add(nanos, Relaxed);
    }

    #[inline]
    pub fn request_error(&self) {
        self.counts()
            .connections
            .request_errors
            .fetch_add(1, Relaxed);
    }

    #[inline]
    pub fn received(&self, bytes: usize) {
        self.stripe().received.fetch_add(bytes as u64, Relaxed);
    }

    #[inline]
    pub fn sent(&self, bytes: usize) {
        self.stripe().sent.fetch_add(bytes as u64, Relaxed);
    }
}

/// Counts a connection as open while it lives.
pub struct OpenConnection(ServiceMetrics);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.counts().connections.open.fetch_sub(1, Relaxed);
    }
}

/// `--workers`: the supervisor's own counts for one service the workers serve — clients
/// it handed to a worker, and clients it closed because no worker took them within
/// `--handoff-wait`. (The workers count the connections and everything in them.)
#[derive(Debug, Clone, Default)]
pub struct HandoffMetrics(Arc<HandoffCounts>);

#[derive(Debug, Default)]
struct HandoffCounts {
    handed: AtomicU64,
    no_worker: AtomicU64,
}

impl HandoffMetrics {
    pub fn handed(&self) {
        self.0.handed.fetch_add(1, Relaxed);
    }

    pub fn no_worker(&self) {
        self.0.no_worker.fetch_add(1, Relaxed);
    }
}

/// One service as a scrape shows it.
struct Registered {
    name: &'static str,
    tls: bool,
    auth: Option<HandshakeKind>,
    /// Its counts in this process; in a `--workers` supervisor, the final counts of the
    /// service's workers that have exited.
    counts: ServiceMetrics,
    /// `--workers`: where the service's block sits in a worker's region, and the
    /// supervisor's handoffs.
    workers: Option<(usize, HandoffMetrics)>,
}

#[derive(Default)]
struct State {
    services: Vec<Registered>,
    /// In a `--workers` supervisor: the live workers' regions, by pid.
    workers: Vec<(i64, Arc<Region>)>,
    /// Blocks in a worker's region: one per service the workers serve.
    worker_blocks: usize,
    /// In a worker: the region it shares with its supervisor, and the services whose
    /// blocks it holds, in order.
    shared: Option<(Arc<Region>, Vec<&'static str>)>,
}

/// The registry's one collector: renders every family from the blocks.
#[derive(Default)]
struct Collected(Mutex<State>);

impl std::fmt::Debug for Collected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Collected")
    }
}

impl Collected {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type ServiceLabel = [(&'static str, &'static str); 1];
type PairLabel = [(&'static str, &'static str); 2];

/// One counter family labelled by `service`: `value` of each row.
fn counter_family(
    encoder: &mut DescriptorEncoder,
    rows: &[(&Registered, Totals)],
    (name, help): (&str, &str),
    value: fn(&Totals) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (service, totals) in rows {
        let label: ServiceLabel = [("service", service.name)];
        family
            .encode_family(&label)?
            .encode_counter::<NoLabelSet, _, u64>(&value(totals), None)?;
    }
    Ok(())
}

impl Collector for Collected {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Under the lock, so that a worker's counts folded in as it exits are seen once:
        // in its region or in the supervisor's block, never in both or neither.
        let state = self.lock();
        let rows: Vec<(&Registered, Totals)> = state
            .services
            .iter()
            .map(|service| {
                let mut totals = service.counts.counts().totals();
                if let Some((index, _)) = &service.workers {
                    for block in state.workers.iter().filter_map(|(_, r)| r.get(*index)) {
                        block.add_to(&mut totals);
                    }
                }
                (service, totals)
            })
            .collect();
        let encoder = &mut encoder;
        // Counters are named without `_total`: the encoders append it.
        {
            let mut open = encoder.encode_descriptor(
                "connections_open",
                "Connections being served now",
                None,
                MetricType::Gauge,
            )?;
            for (service, totals) in &rows {
                let label: ServiceLabel = [("service", service.name)];
                open.encode_family(&label)?.encode_gauge(&totals.open)?;
            }
        }
        counter_family(
            encoder,
            &rows,
            ("connections", "Connections accepted and served"),
            |t| t.total,
        )?;
        counter_family(
            encoder,
            &rows,
            (
                "connections_refused",
                "Connections closed at once because --max-connections were open",
            ),
            |t| t.refused,
        )?;
        {
            let mut failures = encoder.encode_descriptor(
                "handshake_failures",
                "Failed TLS, HMAC or authkey handshakes",
                None,
                MetricType::Counter,
            )?;
            for (service, totals) in &rows {
                let tls = service
                    .tls
                    .then_some((HandshakeKind::Tls, totals.tls_failures));
                let auth = service.auth.map(|kind| (kind, totals.auth_failures));
                for (kind, value) in tls.into_iter().chain(auth) {
                    let label: PairLabel = [("service", service.name), ("kind", kind.label())];
                    failures
                        .encode_family(&label)?
                        .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
                }
            }
        }
        counter_family(
            encoder,
            &rows,
            (
                "requests",
                "Requests served (HTTP requests, RPC calls, frames, datagrams, echoed reads, handoffs)",
            ),
            |t| t.requests,
        )?;
        counter_family(
            encoder,
            &rows,
            (
                "request_errors",
                "Requests answered with an error or that could not be read",
            ),
            |t| t.request_errors,
        )?;
        counter_family(
            encoder,
            &rows,
            (
                "bytes_received",
                "Bytes received from clients (after TLS decryption)",
            ),
            |t| t.received,
        )?;
        counter_family(
            encoder,
            &rows,
            (
                "bytes_sent",
                "Bytes sent to clients (before TLS encryption)",
            ),
            |t| t.sent,
        )?;
        {
            let seconds = Unit::Seconds;
            let mut duration = encoder.encode_descriptor(
                "request_duration",
                "Time from a request's arrival to its answer",
                Some(&seconds),
                MetricType::Histogram,
            )?;
            for (service, totals) in &rows {
                let buckets: Vec<(f64, u64)> = BUCKETS
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .zip(totals.duration_buckets)
                    .collect();
                // The count is the buckets' sum, so `_count` always equals the +Inf bucket
                // even while observations race the scrape.
                let count =
                    (totals.duration_buckets.iter()).fold(0, |sum: u64, &n| sum.wrapping_add(n));
                let sum = totals.duration_sum_nanos as f64 / 1e9;
                let label: ServiceLabel = [("service", service.name)];
                duration
                    .encode_family(&label)?
                    .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
            }
        }
        let handed_off: Vec<(&'static str, &HandoffMetrics)> = rows
            .iter()
            .filter_map(|(s, _)| s.workers.as_ref().map(|(_, h)| (s.name, h)))
            .collect();
        if !handed_off.is_empty() {
            let mut handoffs = encoder.encode_descriptor(
                "handoffs",
                "Clients the --workers supervisor handed to a worker (ok), or closed because \
                 no worker took them within --handoff-wait (no_worker)",
                None,
                MetricType::Counter,
            )?;
            for (name, counts) in handed_off {
                let results = [("ok", &counts.0.handed), ("no_worker", &counts.0.no_worker)];
                for (result, value) in results {
                    let label: PairLabel = [("service", name), ("result", result)];
                    handoffs
                        .encode_family(&label)?
                        .encode_counter::<NoLabelSet, _, u64>(&value.load(Relaxed), None)?;
                }
            }
        }
        Ok(())
    }
}

/// The registry and every service's counts, labelled by `service`.
pub struct Metrics {
    registry: Registry,
    collected: Arc<Collected>,
    /// SIGHUP reloads by result: the supervisor's own (a worker never reloads).
    reloads: Family<ServiceLabel, Counter>,
    /// Set once shutdown begins: `/healthz` answers 503 from then on.
    draining: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::with_state(State::default())
    }

    fn with_state(state: State) -> Self {
        let collected = Arc::new(Collected(Mutex::new(state)));
        let mut registry = Registry::with_prefix("netkit");
        let reloads: Family<ServiceLabel, Counter> = Family::default();
        for result in ["ok", "error"] {
            let _ = reloads.get_or_create(&[("result", result)]); // 0 until the first reload
        }
        registry.register(
            "reloads",
            "SIGHUP reloads of the configuration and TLS files, by result (ok, error)",
            reloads.clone(),
        );
        registry.register_collector(Box::new(collected.clone()));
        Metrics {
            registry,
            collected,
            reloads,
            draining: AtomicBool::new(false),
        }
    }

    /// Counts a SIGHUP reload.
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&[("result", result)]).inc();
    }

    /// A `--workers` worker's registry: `services` (those its supervisor hands it, in the
    /// supervisor's order) count into the region `fd` shares with the supervisor.
    pub fn for_worker(fd: OwnedFd, services: &[&'static str]) -> std::io::Result<Self> {
        let region = Region::open(fd, services.len())?;
        Ok(Self::with_state(State {
            shared: Some((Arc::new(region), services.to_vec())),
            ..State::default()
        }))
    }

    /// The handles of one service, resolved now; every series it names appears in the
    /// output from now on, at zero until counted. `auth` is the service's own handshake
    /// (if one is configured), `tls` whether it speaks TLS.
    pub fn service(
        &self,
        service: &'static str,
        tls: bool,
        auth: Option<HandshakeKind>,
    ) -> ServiceMetrics {
        let mut state = self.collected.lock();
        if let Some(known) = state.services.iter_mut().find(|s| s.name == service) {
            known.tls |= tls;
            known.auth = known.auth.or(auth);
            return known.counts.clone();
        }
        let shared = state.shared.as_ref().and_then(|(region, names)| {
            let index = names.iter().position(|&name| name == service)?;
            ServiceMetrics::shared(region, index)
        });
        let counts = shared.unwrap_or_else(ServiceMetrics::heap);
        state.services.push(Registered {
            name: service,
            tls,
            auth,
            counts: counts.clone(),
            workers: None,
        });
        counts
    }

    /// `--workers`, in the supervisor: `services` (already resolved with
    /// [`Metrics::service`]) are served by worker processes, each with a region made by
    /// [`Metrics::worker_region`] holding their blocks in this order. From now on their
    /// series are the sums over the workers. Returns each one's handoff counts.
    pub fn serve_by_workers(&self, services: &[&'static str]) -> Vec<HandoffMetrics> {
        let mut state = self.collected.lock();
        state.worker_blocks = services.len();
        services
            .iter()
            .enumerate()
            .map(|(index, &name)| {
                let handoffs = HandoffMetrics::default();
                match state.services.iter_mut().find(|s| s.name == name) {
                    Some(service) => service.workers = Some((index, handoffs.clone())),
                    None => state.services.push(Registered {
                        name,
                        tls: false,
                        auth: None,
                        counts: ServiceMetrics::heap(),
                        workers: Some((index, handoffs.clone())),
                    }),
                }
                handoffs
            })
            .collect()
    }

    /// A zeroed region for a worker about to start, and its descriptor (close-on-exec) to
    /// pass to that worker.
    pub fn worker_region(&self) -> std::io::Result<(WorkerRegion, OwnedFd)> {
        let blocks = self.collected.lock().worker_blocks;
        let (region, fd) = Region::create(blocks)?;
        Ok((WorkerRegion(Arc::new(region)), fd))
    }

    /// The worker `pid` started with `region`: its counts show from now on.
    pub fn worker_started(&self, pid: i64, region: WorkerRegion) {
        self.collected.lock().workers.push((pid, region.0));
    }

    /// The worker `pid` has exited: its final counts are kept in the supervisor's blocks,
    /// and its region is released.
    pub fn worker_exited(&self, pid: i64) {
        let mut state = self.collected.lock();
        let Some(at) = state.workers.iter().position(|(p, _)| *p == pid) else {
            return;
        };
        let (_, region) = state.workers.swap_remove(at);
        for service in &state.services {
            let Some((index, _)) = &service.workers else {
                continue;
            };
            if let Some(block) = region.get(*index) {
                service.counts.counts().absorb(&block.totals());
            }
        }
    }

    /// Marks the start of shutdown (for `/healthz`).
    pub fn set_draining(&self) {
        self.draining.store(true, Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Relaxed)
    }

    /// The registry in the Prometheus text format 0.0.4 (what Prometheus scrapes by
    /// default, and what `prometheus_client.parser` reads).
    pub fn encode_prometheus(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; our metrics encode no fallible values.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// The registry in the OpenMetrics text format 1.0.0 (with `# EOF`).
    pub fn encode_openmetrics(&self) -> String {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// A worker's counts, in memory shared with it (see [`Metrics::worker_region`]).
pub struct WorkerRegion(Arc<Region>);

/// Content-Type of [`Metrics::encode_prometheus`].
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// Content-Type of [`Metrics::encode_openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Reply = hyper::Response<http_body_util::Full<bytes::Bytes>>;

/// The answer to one request of the metrics endpoint. Its requests have no body worth
/// reading: anything sent with a GET is ignored.
pub fn answer<B>(request: &hyper::Request<B>, metrics: &Metrics) -> Reply {
    use hyper::{Method, StatusCode};
    let reply = |status: StatusCode, content_type: &'static str, body: String| {
        let mut response = hyper::Response::new(http_body_util::Full::new(body.into()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(content_type),
        );
        response
    };
    let text = "text/plain; charset=utf-8";
    let path = request.uri().path();
    if !matches!(path, "/metrics" | "/healthz") {
        return reply(StatusCode::NOT_FOUND, text, "not found\n".into());
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, text, "use GET\n".into());
        response.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return response;
    }
    if path == "/healthz" {
        return if metrics.is_draining() {
            reply(StatusCode::SERVICE_UNAVAILABLE, text, "draining\n".into())
        } else {
            reply(StatusCode::OK, text, "ok\n".into())
        };
    }
    // Prometheus asks for OpenMetrics in its Accept header; everything else (curl, older
    // scrapers, Python's prometheus_client.parser) gets the classic text format.
    let wants_openmetrics = request
        .headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"));
    if wants_openmetrics {
        reply(
            StatusCode::OK,
            OPENMETRICS_CONTENT_TYPE,
            metrics.encode_openmetrics(),
        )
    } else {
        reply(
            StatusCode::OK,
            PROMETHEUS_CONTENT_TYPE,
            metrics.encode_prometheus(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_exist_at_zero_once_a_service_is_resolved() {
        let metrics = Metrics::new();
        let echo = metrics.service("echo", false, Some(HandshakeKind::Hmac));
        let text = metrics.encode_prometheus();
        assert!(
            text.contains("netkit_requests_total{service=\"echo\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("netkit_handshake_failures_total{service=\"echo\",kind=\"hmac\"} 0\n")
        );
        // No TLS on this service: no tls series.
        assert!(!text.contains("kind=\"tls\""), "{text}");
        echo.auth_handshake_failed();
        echo.tls_handshake_failed(); // detached: counted nowhere
        let guard = echo.connection_opened();
        echo.received(10);
        echo.sent(7);
        let text = metrics.encode_prometheus();
        for line in [
            "netkit_handshake_failures_total{service=\"echo\",kind=\"hmac\"} 1\n",
            "netkit_connections_total{service=\"echo\"} 1\n",
            "netkit_connections_open{service=\"echo\"} 1\n",
            "netkit_bytes_received_total{service=\"echo\"} 10\n",
            "netkit_bytes_sent_total{service=\"echo\"} 7\n",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        drop(guard);
        assert!(metrics
            .encode_prometheus()
            .contains("netkit_connections_open{service=\"echo\"} 0\n"));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_count_matches() {
        let metrics = Metrics::new();
        let http = metrics.service("http", false, None);
        http.request(Duration::from_micros(10)); // first bucket
        http.request(Duration::from_millis(1)); // exactly on the 1 ms bound
        http.request(Duration::from_secs(60)); // +Inf only
        let text = metrics.encode_prometheus();
        for line in [
            "netkit_request_duration_seconds_bucket{service=\"http\",le=\"5e-05\"} 1\n",
            "netkit_request_duration_seconds_bucket{service=\"http\",le=\"0.001\"} 2\n",
            "netkit_request_duration_seconds_bucket{service=\"http\",le=\"10\"} 2\n",
            "netkit_request_duration_seconds_bucket{service=\"http\",le=\"+Inf\"} 3\n",
            "netkit_request_duration_seconds_count{service=\"http\"} 3\n",
            "netkit_request_duration_seconds_sum{service=\"http\"} 60.00101\n",
            "netkit_requests_total{service=\"http\"} 3\n",
        ] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        assert!(metrics.encode_openmetrics().ends_with("# EOF\n"));
    }

    /// Whether `text` has exactly this line.
    fn has(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    #[test]
    fn a_supervisor_sums_its_workers_and_keeps_an_exited_workers_counts() {
        let supervisor = Metrics::new();
        let _ = supervisor.service("echo", false, Some(HandshakeKind::Hmac));
        let _ = supervisor.service("http", true, None);
        let time = supervisor.service("time", false, None); // the supervisor's own
        let handoffs = supervisor.serve_by_workers(&["echo", "http"]);
        // What spawning a worker does, without the process: a region for it, mapped again
        // from its descriptor as the worker maps it.
        let start = |pid: i64| {
            let (region, fd) = supervisor.worker_region().unwrap();
            supervisor.worker_started(pid, region);
            Metrics::for_worker(fd, &["echo", "http"]).unwrap()
        };
        let (one, two) = (start(1), start(2));
        let echo = one.service("echo", false, Some(HandshakeKind::Hmac));
        let http_one = one.service("http", true, None);
        let http_two = two.service("http", true, None);
        echo.received(10);
        echo.request(Duration::from_micros(10));
        echo.auth_handshake_failed();
        http_one.request(Duration::from_millis(1));
        http_one.tls_handshake_failed();
        http_two.request(Duration::from_secs(60));
        let open = http_two.connection_opened();
        time.request(Duration::from_micros(10));
        handoffs[0].handed();
        handoffs[1].no_worker();
        let text = supervisor.encode_prometheus();
        for line in [
            "netkit_requests_total{service=\"echo\"} 1",
            "netkit_bytes_received_total{service=\"echo\"} 10",
            "netkit_handshake_failures_total{service=\"echo\",kind=\"hmac\"} 1",
            "netkit_requests_total{service=\"http\"} 2",
            "netkit_handshake_failures_total{service=\"http\",kind=\"tls\"} 1",
            "netkit_connections_total{service=\"http\"} 1",
            "netkit_connections_open{service=\"http\"} 1",
            "netkit_request_duration_seconds_bucket{service=\"http\",le=\"0.001\"} 1",
            "netkit_request_duration_seconds_bucket{service=\"http\",le=\"+Inf\"} 2",
            "netkit_request_duration_seconds_count{service=\"http\"} 2",
            "netkit_request_duration_seconds_sum{service=\"http\"} 60.001",
            "netkit_requests_total{service=\"time\"} 1",
            "netkit_handoffs_total{service=\"echo\",result=\"ok\"} 1",
            "netkit_handoffs_total{service=\"echo\",result=\"no_worker\"} 0",
            "netkit_handoffs_total{service=\"http\",result=\"no_worker\"} 1",
        ] {
            assert!(has(&text, line), "{line} not in {text}");
        }
        assert!(!text.contains("service=\"time\",result"), "{text}");

        // Worker 2 dies with a connection open: its counts stay, its connection does not.
        supervisor.worker_exited(2);
        drop((open, two));
        // And one that was never started changes nothing.
        supervisor.worker_exited(7);
        let exited = supervisor.encode_prometheus();
        for line in [
            "netkit_requests_total{service=\"http\"} 2",
            "netkit_connections_total{service=\"http\"} 1",
            "netkit_connections_open{service=\"http\"} 0",
            "netkit_request_duration_seconds_bucket{service=\"http\",le=\"+Inf\"} 2",
            "netkit_request_duration_seconds_sum{service=\"http\"} 60.001",
        ] {
            assert!(has(&exited, line), "{line} not in {exited}");
        }
        // Its replacement starts from zero and adds to them.
        let three = start(3);
        three
            .service("http", true, None)
            .request(Duration::from_micros(10));
        let replaced = supervisor.encode_prometheus();
        assert!(has(&replaced, "netkit_requests_total{service=\"http\"} 3"));
        assert!(has(&replaced, "netkit_requests_total{service=\"echo\"} 1"));
    }

    #[test]
    fn a_region_of_the_wrong_size_is_refused() {
        let (_region, fd) = Region::create(2).unwrap();
        let error = Metrics::for_worker(fd, &["echo"]).err().unwrap();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    }
}
