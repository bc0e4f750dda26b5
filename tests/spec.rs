//! `/spec.json` against the server it describes: `openapi-spec-validator` accepts it as
//! OpenAPI 3.1, and Schemathesis, generating requests from it (fixed seed, a fixed number
//! of examples per operation, tests/spec/schemathesis.toml), finds no server error and no
//! response whose status, media type, headers or JSON breaks the spec.
//!
//! Needs `pip install openapi-spec-validator schemathesis` for the Python in
//! `NETKIT_TEST_PYTHON` (default `python3`); without them this test fails and says so.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn python_with(modules: &str) -> String {
    let python = std::env::var("NETKIT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test needs {modules} for {python}: pip install openapi-spec-validator \
         schemathesis (or point NETKIT_TEST_PYTHON at a venv that has them)"
    );
    python
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn spec_is_valid_openapi_3_1_and_the_server_keeps_it() {
    let python = python_with("openapi_spec_validator, schemathesis");
    // Short sleeps: /delay, /drip and /sse would otherwise spend the run's time budget.
    let server = serve(&["--http", "127.0.0.1:0", "--http-max-delay", "1"], 1);
    let spec = format!("{}/spec.json", server.urls["http"]);

    let checked = run(Command::new(&python).args([
        "-c",
        "import sys, json, urllib.request\n\
         from openapi_spec_validator import validate, OpenAPIV31SpecValidator\n\
         spec = json.load(urllib.request.urlopen(sys.argv[1], timeout=30))\n\
         validate(spec, cls=OpenAPIV31SpecValidator)\n\
         print('valid', spec['openapi'], len(spec['paths']))",
        &spec,
    ]));
    assert!(checked.starts_with("valid 3.1.0 "), "{checked}");

    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec/schemathesis.toml");
    let reports = tempfile::tempdir().unwrap();
    let report = run(Command::new(&python)
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(&config)
        .args(["run", &spec, "--report-dir"])
        .arg(reports.path())
        // Schemathesis keeps a cache in its working directory: not in the repository.
        .current_dir(reports.path())
        .env("NO_COLOR", "1"));
    assert!(report.contains("No issues found"), "{report}");
    // Every operation of the spec was tried.
    let selected = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Selected: "))
        .and_then(|s| s.split('/').next());
    let tested = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "));
    assert!(selected.is_some() && selected == tested, "{report}");
}
