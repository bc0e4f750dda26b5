//! `serve --metrics ADDR` (Prometheus scrape and /healthz) and `--log-format json`: known
//! work against real services, then the scrape parsed by the Prometheus project's own
//! Python parsers and checked to the exact count.

mod common;
use common::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Fetches /metrics twice, as Prometheus text 0.0.4 and as OpenMetrics 1.0.0, checks each
/// Content-Type, parses each with prometheus_client's parser for that format, checks that
/// both say the same, and prints the samples as JSON.
const SCRAPE: &str = r#"
import json, sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families as prometheus
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics

url = sys.argv[1]

def fetch(accept=None):
    request = urllib.request.Request(url)
    if accept:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()

def samples(families):
    types, values = {}, {}
    for family in families:
        types[family.name] = family.type
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            # The two parsers spell bucket bounds differently (1.0 and 1): compare numbers.
            labels = {k: (repr(float(v)) if k == "le" else v) for k, v in s.labels.items()}
            labels = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
            values[f"{s.name}{{{labels}}}"] = s.value
    return types, values

content_type, text = fetch()
assert content_type == "text/plain; version=0.0.4; charset=utf-8", content_type
types, values = samples(prometheus(text))

content_type, text = fetch("application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
assert content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8", content_type
om_types, om_values = samples(openmetrics(text))
assert om_values == values, (om_values, values)
assert om_types == types, (om_types, types)
print(json.dumps({"types": types, "values": values}))
"#;

struct Scrape {
    types: HashMap<String, String>,
    values: HashMap<String, f64>,
}

impl Scrape {
    /// The value of a sample, e.g. `netkit_connections_total{service=echo}`.
    fn value(&self, sample: &str) -> f64 {
        *self
            .values
            .get(sample)
            .unwrap_or_else(|| panic!("no sample {sample} in {:?}", self.values.keys()))
    }
}

fn scrape(metrics_addr: &str) -> Scrape {
    let out = python(
        &test_python(),
        SCRAPE,
        &[&format!("http://{metrics_addr}/metrics")],
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let map = |key: &str| json[key].as_object().unwrap().clone();
    Scrape {
        types: map("types")
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
            .collect(),
        values: map("values")
            .into_iter()
            .map(|(k, v)| (k, v.as_f64().unwrap()))
            .collect(),
    }
}

const CONN_CLIENTS: &str = r#"
import sys
from multiprocessing.connection import Client, AuthenticationError
host, port = sys.argv[1].rsplit(":", 1)
try:
    Client((host, int(port)), authkey=b"wrong")
    sys.exit("a wrong authkey was accepted")
except AuthenticationError:
    pass
with Client((host, int(port)), authkey=b"peekaboo") as c:
    c.send("hello")
    assert c.recv() == "hello"
print("ok")
"#;

/// The services of the exact-count tests, with their metrics endpoint (4 lines).
const COUNTED: [&str; 9] = [
    "--echo",
    "127.0.0.1:0",
    "--http",
    "127.0.0.1:0",
    "--conn",
    "127.0.0.1:0",
    "--authkey",
    "peekaboo",
    "--metrics",
];

/// One round of known work: 3 echo connections of 10 bytes, 5 HTTP requests, a conn
/// client with a wrong authkey and one with the right one sending one frame.
fn known_work(served: &Served) {
    // 3 echo connections, 10 bytes each, one write each.
    for i in 0..3u8 {
        let mut echo = TcpStream::connect(served.addr("echo")).unwrap();
        echo.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let message = [b'0' + i; 10];
        echo.write_all(&message).unwrap();
        let mut back = [0u8; 10];
        echo.read_exact(&mut back).unwrap();
        assert_eq!(back, message);
        echo.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        echo.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
    // 5 HTTP requests, one connection each.
    for _ in 0..5 {
        assert_eq!(get(served.addr("http"), "/get").0, 200);
    }
    // One wrong authkey, then one good client sending one frame.
    let out = python(&test_python(), CONN_CLIENTS, &[served.addr("conn")]);
    assert_eq!(out.trim(), "ok");
}

/// Scrapes once every connection has closed (on the server's side a moment after the
/// client sees the end).
fn scrape_settled(metrics: &str) -> Scrape {
    let mut after = scrape(metrics);
    eventually(Duration::from_secs(10), "every connection closed", || {
        after = scrape(metrics);
        ["echo", "http", "conn"]
            .iter()
            .all(|s| after.value(&format!("netkit_connections_open{{service={s}}}")) == 0.0)
    });
    after
}

/// The counts of `rounds` rounds of [`known_work`], exactly.
fn assert_known_counts(after: &Scrape, rounds: f64) {
    let expected = [
        ("netkit_connections_total{service=echo}", 3.0),
        ("netkit_bytes_received_total{service=echo}", 30.0),
        ("netkit_bytes_sent_total{service=echo}", 30.0),
        ("netkit_requests_total{service=echo}", 3.0),
        ("netkit_request_errors_total{service=echo}", 0.0),
        ("netkit_connections_refused_total{service=echo}", 0.0),
        ("netkit_connections_total{service=http}", 5.0),
        ("netkit_requests_total{service=http}", 5.0),
        ("netkit_request_errors_total{service=http}", 0.0),
        ("netkit_request_duration_seconds_count{service=http}", 5.0),
        (
            "netkit_request_duration_seconds_bucket{le=inf,service=http}",
            5.0,
        ),
        ("netkit_connections_total{service=conn}", 2.0),
        (
            "netkit_handshake_failures_total{kind=authkey,service=conn}",
            1.0,
        ),
        ("netkit_requests_total{service=conn}", 1.0),
        ("netkit_request_errors_total{service=conn}", 0.0),
    ];
    for (sample, value) in expected {
        assert_eq!(after.value(sample), value * rounds, "{sample}");
    }
    // Every HTTP request sent its headers and got an answer: bytes both ways.
    assert!(after.value("netkit_bytes_received_total{service=http}") > 0.0);
    assert!(after.value("netkit_bytes_sent_total{service=http}") > 0.0);
    for (family, kind) in [
        ("netkit_connections", "counter"),
        ("netkit_connections_open", "gauge"),
        ("netkit_handshake_failures", "counter"),
        ("netkit_request_duration_seconds", "histogram"),
    ] {
        assert_eq!(after.types[family], kind, "{family}");
    }
    // No TLS and no HMAC configured: no series for them.
    assert!(!after.values.keys().any(|k| k.contains("kind=tls")));
}

#[test]
fn counters_move_as_expected() {
    let mut args = COUNTED.to_vec();
    args.push("127.0.0.1:0");
    let served = serve(&args, 4);
    let metrics = served.addr("metrics");
    assert_eq!(
        served.lines[3],
        format!("netkit: metrics listening on http://{metrics}")
    );

    // Before any traffic every series is there, at zero.
    let before = scrape(metrics);
    for service in ["echo", "http", "conn"] {
        assert_eq!(
            before.value(&format!("netkit_connections_total{{service={service}}}")),
            0.0
        );
    }
    known_work(&served);
    let after = scrape_settled(metrics);
    assert_known_counts(&after, 1.0);
    // Only --workers hands clients off.
    assert!(!after.values.keys().any(|k| k.contains("handoffs")));

    assert_eq!(get(metrics, "/healthz"), (200, "ok\n".into()));
    assert_eq!(get(metrics, "/nope").0, 404);
}

/// Every counter sample (all but the open-connections gauge) is at least what it was.
fn assert_never_decreased(earlier: &Scrape, later: &Scrape) {
    for (sample, &value) in &earlier.values {
        if sample.starts_with("netkit_connections_open{") {
            continue;
        }
        let now = later.value(sample);
        assert!(now >= value, "{sample} went from {value} to {now}");
    }
}

/// Every counter sample of the services is exactly what it was (the histograms' sums
/// included); the reload counters count SIGHUPs, not work, and are checked on their own.
fn assert_same_counters(earlier: &Scrape, later: &Scrape) {
    let work = |scrape: &Scrape| Scrape {
        types: scrape.types.clone(),
        values: scrape
            .values
            .iter()
            .filter(|(sample, _)| !sample.starts_with("netkit_reloads_total{"))
            .map(|(sample, value)| (sample.clone(), *value))
            .collect(),
    };
    let (earlier, later) = (work(earlier), work(later));
    assert_never_decreased(&earlier, &later);
    assert_never_decreased(&later, &earlier);
}

#[test]
fn workers_counts_add_up_across_workers_generations_and_restarts() {
    let mut args = COUNTED.to_vec();
    args.extend(["127.0.0.1:0", "--workers", "2", "--grace", "5"]);
    let served = serve(&args, 4);
    let metrics = served.addr("metrics").to_string();
    let supervisor = served.pid() as u32;
    eventually(Duration::from_secs(20), "two workers", || {
        children(supervisor).len() == 2
    });
    let before = scrape(&metrics);
    for service in ["echo", "http", "conn"] {
        assert_eq!(
            before.value(&format!("netkit_connections_total{{service={service}}}")),
            0.0
        );
        for result in ["ok", "no_worker"] {
            assert_eq!(
                before.value(&format!(
                    "netkit_handoffs_total{{result={result},service={service}}}"
                )),
                0.0
            );
        }
    }
    assert_eq!(before.types["netkit_handoffs"], "counter");

    // Round 1: the workers' own counts, summed; a handoff is counted apart.
    known_work(&served);
    let first = scrape_settled(&metrics);
    assert_known_counts(&first, 1.0);
    for (service, clients) in [("echo", 3.0), ("http", 5.0), ("conn", 2.0)] {
        let sample = format!("netkit_handoffs_total{{result=ok,service={service}}}");
        assert_eq!(first.value(&sample), clients, "{sample}");
    }
    assert_never_decreased(&before, &first);

    // SIGHUP: a new generation; the old one exits, and its counts stay.
    let generation_one = children(supervisor);
    served.signal("HUP");
    eventually(Duration::from_secs(30), "old generation gone", || {
        let now = children(supervisor);
        now.len() == 2 && generation_one.iter().all(|pid| !now.contains(pid))
    });
    let retired = scrape_settled(&metrics);
    assert_same_counters(&first, &retired);
    assert_eq!(retired.value("netkit_reloads_total{result=ok}"), 1.0);
    assert_eq!(retired.value("netkit_reloads_total{result=error}"), 0.0);
    known_work(&served);
    let second = scrape_settled(&metrics);
    assert_known_counts(&second, 2.0);
    assert_never_decreased(&retired, &second);

    // kill -9 of a worker: it is replaced, and whatever it counted stays counted.
    let generation_two = children(supervisor);
    let status = std::process::Command::new("kill")
        .args(["-9", &generation_two[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually(Duration::from_secs(20), "a replacement worker", || {
        let now = children(supervisor);
        now.len() == 2 && !now.contains(&generation_two[0])
    });
    let killed = scrape_settled(&metrics);
    assert_same_counters(&second, &killed);
    known_work(&served);
    let third = scrape_settled(&metrics);
    assert_known_counts(&third, 3.0);
    assert_never_decreased(&killed, &third);
    // HTTP's byte counts are the same every round, whichever worker served it.
    for sample in [
        "netkit_bytes_received_total{service=http}",
        "netkit_bytes_sent_total{service=http}",
    ] {
        assert_eq!(third.value(sample), 3.0 * first.value(sample), "{sample}");
    }
}

#[test]
fn healthz_says_draining_during_the_grace_period() {
    let mut served = serve(
        &[
            "--conn",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--grace",
            "3",
        ],
        2,
    );
    let metrics = served.addr("metrics").to_string();
    assert_eq!(get(&metrics, "/healthz"), (200, "ok\n".into()));

    // Half a frame (a 100-byte header, 10 bytes of it): in flight, so shutdown waits for it
    // until the grace period ends.
    let mut held = TcpStream::connect(served.addr("conn")).unwrap();
    held.write_all(&[0, 0, 0, 100]).unwrap();
    held.write_all(&[7; 10]).unwrap();
    eventually(Duration::from_secs(10), "connection accepted", || {
        get(&metrics, "/metrics")
            .1
            .contains("netkit_connections_open{service=\"conn\"} 1\n")
    });

    served.signal("TERM");
    eventually(Duration::from_secs(3), "healthz says draining", || {
        get(&metrics, "/healthz") == (503, "draining\n".into())
    });
    let (code, stderr) = served.wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    drop(held);
}

#[test]
fn json_logs_are_one_object_a_line() {
    let mut served = serve(
        &[
            "--echo",
            "127.0.0.1:0",
            "--max-connections",
            "1",
            "--metrics",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "-v",
        ],
        2,
    );
    // The first client holds the only slot (echoed once, so it is being served) ...
    let mut first = TcpStream::connect(served.addr("echo")).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    first.write_all(b"hi").unwrap();
    let mut back = [0u8; 2];
    first.read_exact(&mut back).unwrap();
    // ... so the second is accepted and closed at once, which is logged.
    let mut second = TcpStream::connect(served.addr("echo")).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = second.read_to_end(&mut rest); // EOF, or a reset
    assert!(rest.is_empty());
    assert_eq!(
        scrape(served.addr("metrics")).value("netkit_connections_refused_total{service=echo}"),
        1.0
    );

    served.signal("TERM");
    let (code, stderr) = served.wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    for line in &lines {
        for key in ["timestamp", "level", "target", "fields"] {
            assert!(line.get(key).is_some(), "no {key} in {line}");
        }
        assert!(line["fields"]["message"].is_string(), "{line}");
    }
    let said = |level: &str, text: &str| {
        lines.iter().any(|l| {
            l["level"] == level
                && l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(text))
        })
    };
    assert!(said("WARN", "refused over --max-connections"), "{stderr}");
    assert!(said("INFO", "shutting down"), "{stderr}");
    let refused = lines
        .iter()
        .find(|l| l["level"] == "WARN")
        .expect("a warning");
    assert_eq!(refused["fields"]["service"], "echo");
    assert_eq!(refused["fields"]["total"], 1);
    assert_eq!(refused["target"], "netkit::service");
}

#[test]
fn a_busy_metrics_port_stops_the_start() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let output = netkit(&["serve", "--echo", "127.0.0.1:0", "--metrics", &addr], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing half-started");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("netkit: metrics: cannot bind {addr}: ")),
        "{stderr}"
    );
}

#[test]
fn metrics_in_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("netkit.toml");
    std::fs::write(
        &config,
        "echo = \"127.0.0.1:0\"\nmetrics = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let served = serve(&["--config", config.to_str().unwrap()], 2);
    assert_eq!(get(served.addr("metrics"), "/healthz").0, 200);
    let (status, body) = get(served.addr("metrics"), "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("netkit_connections_total{service=\"echo\"} 0\n"),
        "{body}"
    );
}
