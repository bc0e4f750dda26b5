//! Service metrics in one Prometheus registry, and the answers of the `serve --metrics
//! ADDR` endpoint (`GET /metrics`, `GET /healthz`; served by `serve.rs` on the shared HTTP
//! driver).
//!
//! Counting is on every request's path, so it must cost next to nothing: each service
//! gets a [`ServiceMetrics`] whose counters are resolved once, at bind time (no label
//! lookup, no lock, no allocation per event — one relaxed atomic add each, and for the
//! per-message counters on the thread's own cache line). Connection
//! counts, TLS handshake failures and bytes are counted once for every TCP service, in
//! [`crate::service::serve_tcp`] and [`crate::service::ServerStream`]; each service counts
//! its own requests, errors and latencies.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

type ServiceLabel = [(&'static str, &'static str); 1];
type KindLabel = [(&'static str, &'static str); 2];

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

/// The registry and every metric family, labelled by `service`.
pub struct Metrics {
    registry: Registry,
    open: Family<ServiceLabel, Gauge>,
    total: Family<ServiceLabel, Counter>,
    refused: Family<ServiceLabel, Counter>,
    handshake_failures: Family<KindLabel, Counter>,
    requests: Family<ServiceLabel, StripedCounter>,
    errors: Family<ServiceLabel, Counter>,
    received: Family<ServiceLabel, StripedCounter>,
    sent: Family<ServiceLabel, StripedCounter>,
    duration: Family<ServiceLabel, LatencyHistogram>,
    reloads: Family<[(&'static str, &'static str); 1], Counter>,
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
        let mut registry = Registry::with_prefix("netkit");
        let open = Family::default();
        let total = Family::default();
        let refused = Family::default();
        let handshake_failures = Family::default();
        let requests = Family::default();
        let errors = Family::default();
        let received = Family::default();
        let sent = Family::default();
        let duration = Family::default();
        let reloads: Family<[(&'static str, &'static str); 1], Counter> = Family::default();
        for result in ["ok", "error"] {
            let _ = reloads.get_or_create(&[("result", result)]); // 0 until the first reload
        }
        // Counters are registered without `_total`: the encoders append it.
        registry.register(
            "connections_open",
            "Connections being served now",
            open.clone(),
        );
        registry.register(
            "connections",
            "Connections accepted and served",
            total.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed at once because --max-connections were open",
            refused.clone(),
        );
        registry.register(
            "handshake_failures",
            "Failed TLS, HMAC or authkey handshakes",
            handshake_failures.clone(),
        );
        registry.register(
            "requests",
            "Requests served (HTTP requests, RPC calls, frames, datagrams, echoed reads, handoffs)",
            requests.clone(),
        );
        registry.register(
            "request_errors",
            "Requests answered with an error or that could not be read",
            errors.clone(),
        );
        registry.register(
            "bytes_received",
            "Bytes received from clients (after TLS decryption)",
            received.clone(),
        );
        registry.register(
            "bytes_sent",
            "Bytes sent to clients (before TLS encryption)",
            sent.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from a request's arrival to its answer",
            Unit::Seconds,
            duration.clone(),
        );
        registry.register(
            "reloads",
            "SIGHUP reloads of the configuration and TLS files, by result (ok, error)",
            reloads.clone(),
        );
        Metrics {
            registry,
            open,
            total,
            refused,
            handshake_failures,
            requests,
            errors,
            received,
            sent,
            duration,
            reloads,
            draining: AtomicBool::new(false),
        }
    }

    /// Counts a SIGHUP reload.
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&[("result", result)]).inc();
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
        let label = [("service", service)];
        let failures = |kind: HandshakeKind| {
            self.handshake_failures
                .get_or_create_owned(&[("service", service), ("kind", kind.label())])
        };
        ServiceMetrics(Arc::new(Handles {
            open: self.open.get_or_create_owned(&label),
            total: self.total.get_or_create_owned(&label),
            refused: self.refused.get_or_create_owned(&label),
            tls_failures: if tls {
                failures(HandshakeKind::Tls)
            } else {
                Counter::default() // counted nowhere, shown nowhere
            },
            auth_failures: auth.map(failures).unwrap_or_default(),
            requests: self.requests.get_or_create_owned(&label),
            errors: self.errors.get_or_create_owned(&label),
            received: self.received.get_or_create_owned(&label),
            sent: self.sent.get_or_create_owned(&label),
            duration: self.duration.get_or_create_owned(&label),
        }))
    }

    /// Marks the start of shutdown (for `/healthz`).
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
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

/// Content-Type of [`Metrics::encode_prometheus`].
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
/// Content-Type of [`Metrics::encode_openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct Handles {
    open: Gauge,
    total: Counter,
    refused: Counter,
    tls_failures: Counter,
    auth_failures: Counter,
    requests: StripedCounter,
    errors: Counter,
    received: StripedCounter,
    sent: StripedCounter,
    duration: LatencyHistogram,
}

/// One service's metric handles: cloning shares them (one `Arc`).
#[derive(Clone)]
pub struct ServiceMetrics(Arc<Handles>);

/// Handles registered nowhere, for streams and services that run without a registry
/// (a handoff worker's connections, `bulk recv`, tests).
static DETACHED: LazyLock<ServiceMetrics> = LazyLock::new(|| {
    ServiceMetrics(Arc::new(Handles {
        open: Gauge::default(),
        total: Counter::default(),
        refused: Counter::default(),
        tls_failures: Counter::default(),
        auth_failures: Counter::default(),
        requests: StripedCounter::default(),
        errors: Counter::default(),
        received: StripedCounter::default(),
        sent: StripedCounter::default(),
        duration: LatencyHistogram::default(),
    }))
});

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
    /// A connection got a slot; it counts as open until the guard drops.
    pub fn connection_opened(&self) -> OpenConnection {
        self.0.total.inc();
        self.0.open.inc();
        OpenConnection(self.clone())
    }

    pub fn connection_refused(&self) {
        self.0.refused.inc();
    }

    pub fn tls_handshake_failed(&self) {
        self.0.tls_failures.inc();
    }

    /// The service's own handshake (HMAC challenge, authkey) failed.
    pub fn auth_handshake_failed(&self) {
        self.0.auth_failures.inc();
    }

    /// One request answered, `took` after it arrived.
    #[inline]
    pub fn request(&self, took: Duration) {
        self.0.requests.inc_by(1);
        self.0.duration.observe(took);
    }

    #[inline]
    pub fn request_error(&self) {
        self.0.errors.inc();
    }

    #[inline]
    pub fn received(&self, bytes: usize) {
        self.0.received.inc_by(bytes as u64);
    }

    #[inline]
    pub fn sent(&self, bytes: usize) {
        self.0.sent.inc_by(bytes as u64);
    }
}

/// Counts a connection as open while it lives.
pub struct OpenConnection(ServiceMetrics);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0 .0.open.dec();
    }
}

/// Upper bounds of the latency buckets, in seconds: 50 µs (an echo on loopback) to 10 s.
const BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

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

/// Counters updated for every message are split in stripes, each on its own cache line,
/// one per runtime thread (round robin): threads on different cores never write the same
/// line, so the count costs no cache-line transfer. A scrape adds the stripes up.
const STRIPES: usize = 8;

/// The current thread's stripe.
#[inline]
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

/// One stripe of a counter, alone on its cache line (128 bytes: adjacent-line prefetch
/// pairs lines on x86).
#[derive(Debug, Default)]
#[repr(align(128))]
struct CounterStripe(AtomicU64);

/// A counter for per-message events: see [`STRIPES`].
#[derive(Debug, Clone, Default)]
pub struct StripedCounter(Arc<[CounterStripe; STRIPES]>);

impl StripedCounter {
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0[stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

impl TypedMetric for StripedCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for StripedCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A fixed-bucket histogram of durations on striped atomics. prometheus-client's own
/// `Histogram` takes a mutex on every observation, which every connection of a service
/// would contend for; this one does two relaxed atomic adds on the thread's own stripe.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram(Arc<[HistogramStripe; STRIPES]>);

#[derive(Debug, Default)]
#[repr(align(128))]
struct HistogramStripe {
    /// Observations per bucket (not cumulative); the last is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    #[inline]
    pub fn observe(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS.partition_point(|&bound| bound < nanos);
        let stripe = &self.0[stripe()];
        stripe.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        stripe.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .enumerate()
            .map(|(i, bound)| {
                let count = self.0.iter().map(|s| s.buckets[i].load(Ordering::Relaxed));
                (bound, count.fold(0, u64::wrapping_add))
            })
            .collect();
        // The count is the buckets' sum, so `_count` always equals the +Inf bucket even
        // while observations race the scrape.
        let count = buckets.iter().map(|&(_, n)| n).fold(0, u64::wrapping_add);
        let sum_nanos = self
            .0
            .iter()
            .map(|s| s.sum_nanos.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add);
        let sum = sum_nanos as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

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
}
