//! `netkit cidr …` end to end: the built binary, its output, exit codes and error lines.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

fn netkit(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netkit"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run netkit");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// Runs `netkit cidr ARGS`, expects success, returns stdout.
fn ok(args: &[&str]) -> String {
    ok_in(args, "")
}

fn ok_in(args: &[&str], stdin: &str) -> String {
    let mut full = vec!["cidr"];
    full.extend_from_slice(args);
    let out = netkit(&full, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `netkit cidr ARGS`, expects exit code 2, returns (stdout, stderr).
fn fails(args: &[&str], stdin: &str) -> (String, String) {
    let mut full = vec!["cidr"];
    full.extend_from_slice(args);
    let out = netkit(&full, stdin);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} should exit 2; stdout {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_lines_and_json() {
    let text = ok(&["info", "123.45.67.64/27"]);
    assert_eq!(
        text,
        "network: 123.45.67.64/27\nversion: 4\nnetwork_address: 123.45.67.64\nbroadcast_address: 123.45.67.95\n\
         netmask: 255.255.255.224\nhostmask: 0.0.0.31\nprefixlen: 27\nnum_addresses: 32\n\
         with_netmask: 123.45.67.64/255.255.255.224\nwith_hostmask: 123.45.67.64/0.0.0.31\n\
         exploded: 123.45.67.64/27\nis_private: false\nis_global: true\nis_multicast: false\n\
         is_loopback: false\nis_link_local: false\nis_reserved: false\nis_unspecified: false\n"
    );
    let json = ok(&["info", "--json", "::/0"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["network"], "::/0");
    assert_eq!(v["hostmask"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_eq!(
        (&v["is_reserved"], &v["is_global"]),
        (&false.into(), &true.into())
    );
    assert_eq!(v["ipv4_mapped"], serde_json::Value::Null);
    // 2**128 does not fit serde_json's numbers: check the digits as written.
    assert!(
        json.contains("\"num_addresses\":340282366920938463463374607431768211456,"),
        "{json}"
    );
}

#[test]
fn info_of_an_interface_with_no_strict() {
    let text = ok(&["--no-strict", "info", "123.45.67.73/27"]);
    assert!(
        text.starts_with(
            "interface: 123.45.67.73/27\nip: 123.45.67.73\nnetwork: 123.45.67.64/27\n"
        ),
        "{text}"
    );
    // The flag also works after the subcommand.
    let json = ok(&["info", "fe80::1%eth0/64", "--no-strict", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["interface"], "fe80::1%eth0/64");
    assert_eq!(v["network"], "fe80::/64");
    assert_eq!(v["scope_id"], "eth0");
    assert_eq!(v["is_link_local"], true);
}

#[test]
fn strict_error_names_the_fix() {
    let (out, err) = fails(&["info", "123.45.67.73/27"], "");
    assert_eq!(out, "");
    assert_eq!(err, "netkit cidr: error: 123.45.67.73/27 has host bits set; use 123.45.67.64/27 or --no-strict\n");
    let (_, err) = fails(&["list", "1.2.3.4/33"], "");
    assert_eq!(
        err,
        "netkit cidr: error: \"1.2.3.4/33\" does not appear to be an IPv4 or IPv6 network (\"33\" is not a valid netmask)\n"
    );
    let (_, err) = fails(&["hosts", "010.0.0.0/8"], "");
    assert!(
        err.contains("Leading zeros are not permitted in \"010\""),
        "{err}"
    );
}

#[test]
fn list_and_hosts() {
    assert_eq!(
        ok(&["list", "12:3456:78:90ab:cd:ef01:23:30/125"]),
        (0x30..=0x37)
            .map(|i| format!("12:3456:78:90ab:cd:ef01:23:{i:x}\n"))
            .collect::<String>()
    );
    assert_eq!(ok(&["hosts", "192.0.2.0/30"]), "192.0.2.1\n192.0.2.2\n");
    assert_eq!(ok(&["hosts", "192.0.2.0/31"]), "192.0.2.0\n192.0.2.1\n");
    assert_eq!(ok(&["hosts", "192.0.2.7/32"]), "192.0.2.7\n");
    assert_eq!(
        ok(&["hosts", "2001:db8::/126"]),
        "2001:db8::1\n2001:db8::2\n2001:db8::3\n"
    );
    assert_eq!(
        ok(&["hosts", "2001:db8::/127"]),
        "2001:db8::\n2001:db8::1\n"
    );
    assert_eq!(ok(&["hosts", "fe80::1%eth0/128"]), "fe80::1%eth0\n");
    assert_eq!(
        ok(&["--no-strict", "list", "::ffff:1.2.3.5/127"]),
        "::ffff:1.2.3.4\n::ffff:1.2.3.5\n"
    );
    assert_eq!(
        ok(&["list", "10.0.0.0/255.255.255.254"]),
        "10.0.0.0\n10.0.0.1\n"
    );
}

#[test]
fn huge_listing_streams_and_a_closed_pipe_is_quiet() {
    for net in ["10.0.0.0/8", "2001:db8::/64", "::/0"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netkit"))
            .args(["cidr", "list", net])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run netkit");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("a line").expect("utf-8");
        let second = lines.next().expect("a line").expect("utf-8");
        assert_eq!(
            (first.as_str(), second.as_str()),
            match net {
                "10.0.0.0/8" => ("10.0.0.0", "10.0.0.1"),
                "2001:db8::/64" => ("2001:db8::", "2001:db8::1"),
                _ => ("::", "::1"),
            }
        );
        drop(lines); // closes the pipe, as `| head` does
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{net}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{net}");
    }
}

#[test]
fn contains_arguments_and_file() {
    assert_eq!(
        ok(&[
            "contains",
            "123.45.67.64/27",
            "123.45.67.73",
            "10.0.0.1",
            "::1",
            "0:0:0:0:0:0:0:1"
        ]),
        "123.45.67.73 true\n10.0.0.1 false\n::1 false\n::1 false\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("addrs.txt");
    std::fs::write(&f, "# addresses\n10.1.2.3\n\n  11.0.0.1  # outside\n").expect("write");
    assert_eq!(
        ok(&[
            "contains",
            "10.0.0.0/8",
            "--file",
            f.to_str().expect("path")
        ]),
        "10.1.2.3 true\n11.0.0.1 false\n"
    );
    assert_eq!(
        ok_in(&["contains", "10.0.0.0/8", "--file", "-"], "10.0.0.1\r\n"),
        "10.0.0.1 true\n"
    );
    let (out, err) = fails(
        &["contains", "10.0.0.0/8", "--file", "-"],
        "10.0.0.1\nbogus\n10.0.0.2\n",
    );
    assert_eq!(out, "10.0.0.1 true\n");
    assert!(
        err.starts_with("netkit cidr: error: <stdin> line 2: \"bogus\" does not appear to be"),
        "{err}"
    );
    let out = netkit(
        &[
            "cidr",
            "contains",
            "10.0.0.0/8",
            "--skip-invalid",
            "--file",
            "-",
        ],
        "10.0.0.1\nbogus\n10.0.0.2\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "10.0.0.1 true\n10.0.0.2 true\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: <stdin> line 2: \"bogus\""));
}

#[test]
fn index_counts_from_either_end() {
    assert_eq!(ok(&["index", "123.45.67.64/27", "0"]), "123.45.67.64\n");
    assert_eq!(ok(&["index", "123.45.67.64/27", "-1"]), "123.45.67.95\n");
    assert_eq!(ok(&["index", "123.45.67.64/27", "-32"]), "123.45.67.64\n");
    assert_eq!(
        ok(&["index", "::/0", "-340282366920938463463374607431768211456"]),
        "::\n"
    );
    assert_eq!(
        ok(&["index", "::/0", "340282366920938463463374607431768211455"]),
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n"
    );
    let (_, err) = fails(&["index", "123.45.67.64/27", "32"], "");
    assert_eq!(
        err,
        "netkit cidr: error: address out of range: index 32 in 123.45.67.64/27\n"
    );
    let (_, err) = fails(&["index", "123.45.67.64/27", "-33"], "");
    assert!(err.contains("address out of range"), "{err}");
    let (_, err) = fails(
        &["index", "::/0", "-340282366920938463463374607431768211457"],
        "",
    );
    assert!(err.contains("address out of range"), "{err}");
    let (_, err) = fails(&["index", "10.0.0.0/8", "1e3"], "");
    assert_eq!(err, "netkit cidr: error: index \"1e3\" is not an integer\n");
}

#[test]
fn aggregate_stdin_file_comments_and_errors() {
    let list = "# blocklist\n192.0.2.0/25\n\n192.0.2.128/25   # second half\n10.0.0.1\n10.0.0.0/31\n198.51.100.0/24\n198.51.101.0/24\n";
    let want = "10.0.0.0/31\n192.0.2.0/24\n198.51.100.0/23\n";
    assert_eq!(ok_in(&["aggregate"], list), want);
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("list.txt");
    std::fs::write(&f, list).expect("write");
    assert_eq!(ok(&["aggregate", f.to_str().expect("path")]), want);
    assert_eq!(ok_in(&["aggregate", "-"], ""), "");

    let (out, err) = fails(&["aggregate"], "10.0.0.0/8\n10.0.0.1/33\n");
    assert_eq!(out, "");
    assert_eq!(
        err,
        "netkit cidr: error: <stdin> line 2: \"10.0.0.1/33\" does not appear to be an IPv4 or IPv6 network (\"33\" is not a valid netmask)\n"
    );
    let (_, err) = fails(&["aggregate"], "10.0.0.0/8\n# x\n2001:db8::/32\n");
    assert_eq!(
        err,
        "netkit cidr: error: <stdin> line 3: 2001:db8::/32 is IPv6 but line 1 (10.0.0.0/8) is IPv4; collapse_addresses needs one IP version\n"
    );
    let (_, err) = fails(&["aggregate"], "10.0.0.1/8\n");
    assert_eq!(err, "netkit cidr: error: <stdin> line 1: 10.0.0.1/8 has host bits set; use 10.0.0.0/8 or --no-strict\n");
    assert_eq!(
        ok_in(&["--no-strict", "aggregate"], "10.0.0.1/8\n10.200.0.0/9\n"),
        "10.0.0.0/8\n"
    );

    let out = netkit(
        &["cidr", "aggregate", "--skip-invalid"],
        "garbage\n10.0.0.0/9\n10.128.0.0/9\n::/0\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "10.0.0.0/8\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("<stdin> line 1: \"garbage\""), "{err}");
    assert!(err.contains("<stdin> line 4: ::/0 is IPv6"), "{err}");

    let (_, err) = fails(&["aggregate", "/nonexistent/list.txt"], "");
    assert!(
        err.starts_with("netkit cidr: error: cannot read /nonexistent/list.txt:"),
        "{err}"
    );
}

#[test]
fn exclude_subnets_supernet_range() {
    assert_eq!(
        ok(&["exclude", "192.0.2.0/28", "192.0.2.1/32"]),
        "192.0.2.0/32\n192.0.2.2/31\n192.0.2.4/30\n192.0.2.8/29\n"
    );
    assert_eq!(ok(&["exclude", "10.0.0.0/8", "10.0.0.0/8"]), "");
    let (_, err) = fails(&["exclude", "10.0.0.0/8", "11.0.0.0/8"], "");
    assert_eq!(
        err,
        "netkit cidr: error: 11.0.0.0/8 not contained in 10.0.0.0/8\n"
    );
    let (_, err) = fails(&["exclude", "10.0.0.0/8", "::/0"], "");
    assert_eq!(
        err,
        "netkit cidr: error: 10.0.0.0/8 and ::/0 are not of the same version\n"
    );

    assert_eq!(
        ok(&["subnets", "10.0.0.0/24", "--new-prefix", "26"]),
        "10.0.0.0/26\n10.0.0.64/26\n10.0.0.128/26\n10.0.0.192/26\n"
    );
    assert_eq!(
        ok(&["subnets", "10.0.0.0/24", "--prefixlen-diff", "1"]),
        "10.0.0.0/25\n10.0.0.128/25\n"
    );
    assert_eq!(
        ok(&["subnets", "2001:db8::/32"]),
        "2001:db8::/33\n2001:db8:8000::/33\n"
    );
    assert_eq!(
        ok(&["subnets", "10.0.0.1/32", "--new-prefix", "8"]),
        "10.0.0.1/32\n"
    );
    let (_, err) = fails(&["subnets", "10.0.0.0/24", "--new-prefix", "23"], "");
    assert_eq!(
        err,
        "netkit cidr: error: new prefix /23 must be longer than the prefix of 10.0.0.0/24\n"
    );
    let (_, err) = fails(&["subnets", "10.0.0.0/24", "--new-prefix", "33"], "");
    assert_eq!(
        err,
        "netkit cidr: error: prefix length diff 33 is invalid for netblock 10.0.0.0/24\n"
    );
    let out = netkit(
        &[
            "cidr",
            "subnets",
            "10.0.0.0/24",
            "--new-prefix",
            "25",
            "--prefixlen-diff",
            "1",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "clap refuses both");

    assert_eq!(
        ok(&["supernet", "10.1.2.0/24", "--new-prefix", "16"]),
        "10.1.0.0/16\n"
    );
    assert_eq!(ok(&["supernet", "10.1.2.0/24"]), "10.1.2.0/23\n");
    assert_eq!(ok(&["supernet", "0.0.0.0/0"]), "0.0.0.0/0\n");
    let (_, err) = fails(&["supernet", "10.1.2.0/24", "--prefixlen-diff", "25"], "");
    assert_eq!(
        err,
        "netkit cidr: error: current prefixlen is 24, cannot have a prefixlen_diff of 25\n"
    );

    assert_eq!(
        ok(&["range", "192.0.2.0", "192.0.2.130"]),
        "192.0.2.0/25\n192.0.2.128/31\n192.0.2.130/32\n"
    );
    assert_eq!(ok(&["range", "::", "::"]), "::/128\n");
    let (_, err) = fails(&["range", "192.0.2.9", "192.0.2.1"], "");
    assert_eq!(
        err,
        "netkit cidr: error: last IP address must be greater than first (192.0.2.9 > 192.0.2.1)\n"
    );
    let (_, err) = fails(&["range", "192.0.2.1", "::1"], "");
    assert_eq!(
        err,
        "netkit cidr: error: 192.0.2.1 and ::1 are not of the same version\n"
    );
}

#[test]
fn every_subcommand_has_an_example() {
    for sub in [
        "info",
        "list",
        "hosts",
        "contains",
        "index",
        "aggregate",
        "exclude",
        "subnets",
        "supernet",
        "range",
    ] {
        let out = netkit(&["cidr", sub, "--help"], "");
        assert!(out.status.success(), "{sub}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example:\n  ") && help.contains("netkit cidr"),
            "{sub}: {help}"
        );
    }
    let out = netkit(&["cidr", "bogus"], "");
    assert_eq!(out.status.code(), Some(2));
}
