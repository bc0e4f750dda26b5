//! Completions and manual pages, generated from the clap definitions, work in the tools
//! that read them: bash completes with the script, man renders every page cleanly.

mod common;
use common::*;
use std::process::Command;

/// What bash's completion offers for `words` (the last one is being completed), called as
/// bash calls it: the command, the word being completed and the one before it.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = format!(
        "source {:?}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
         COMP_POINT=${{#COMP_LINE}}; _netkit netkit '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script,
        words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &line])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("netkit.bash");
    let out = netkit(&["completions", "bash"], b"");
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).unwrap();

    assert_eq!(bash_completes(&script, &["netkit", "se"]), vec!["serve"]);
    let http_flags = bash_completes(&script, &["netkit", "serve", "--ht"]);
    for flag in [
        "--http",
        "--http-max-body",
        "--http-max-headers",
        "--http-header-timeout",
        "--http-allow-redirect",
        "--http-decode-bodies",
    ] {
        assert!(
            http_flags.iter().any(|f| f == flag),
            "{flag} in {http_flags:?}"
        );
    }
    assert!(
        http_flags.iter().all(|f| f.starts_with("--ht")),
        "{http_flags:?}"
    );
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = netkit(&["completions", shell], b"");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("serve"), "{shell}");
        assert!(script.contains("http-max-body"), "{shell}");
    }
}

#[test]
fn man_renders_every_page_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let out = netkit(&["man", "--out", dir.path().to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // One page for netkit and each subcommand, nested ones included.
    for name in [
        "netkit",
        "netkit-serve",
        "netkit-http",
        "netkit-bulk-recv",
        "netkit-kv-get",
    ] {
        let path = dir.path().join(format!("{name}.1"));
        assert!(
            pages.contains(&path.display().to_string()),
            "{name}: {pages:?}"
        );
    }
    assert_eq!(pages.len(), std::fs::read_dir(dir.path()).unwrap().count());
    for page in &pages {
        let out = Command::new("man")
            .args(["--warnings", "-l", page])
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
            .expect("man (Debian's man-db)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{page}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{page}");
        assert!(text.contains("netkit"), "{page}: {text}");
    }
    let serve = std::fs::read_to_string(dir.path().join("netkit-serve.1")).unwrap();
    assert!(serve.contains("http\\-max\\-body"), "{serve}");
}
