//! Recipe 3: the UDP time service answers any datagram with ctime text, NTP client
//! requests with SNTP, and survives garbage; `netkit time` reads the recipe's server.

mod common;
use common::*;

const PY_CTIME_CLIENT: &str = r#"
import socket, sys, time
host, port = sys.argv[1].rsplit(':', 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
before = int(time.time())
s.sendto(b'', (host, int(port)))
reply, _ = s.recvfrom(8192)
after = int(time.time()) + 1
text = reply.decode('ascii')
stamp = time.mktime(time.strptime(text))
# Same layout as this interpreter's own ctime, and the server's clock agrees with ours.
assert len(text) == len(time.ctime()) == 24, text
assert text[8] != '0', text
assert before <= stamp <= after, (before, stamp, after)
print('ok')
"#;

#[test]
fn any_datagram_gets_ctime_that_python_parses() {
    let served = serve(&["--time", "127.0.0.1:0"], 1);
    for py in pythons() {
        assert_eq!(
            python(&py, PY_CTIME_CLIENT, &[served.addr("time")]),
            "ok\n",
            "{}",
            py.display()
        );
    }
}

const PY_SNTP_CLIENT: &str = r#"
import socket, struct, sys, time
host, port = sys.argv[1].rsplit(':', 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
NTP_DELTA = 2208988800
t1 = time.time()
secs = int(t1) + NTP_DELTA
frac = int((t1 % 1) * 2**32)
request = struct.pack('!B B b b 11I', (0 << 6) | (3 << 3) | 3, 0, 6, 0, *([0] * 9), secs, frac)
assert len(request) == 48
s.sendto(request, (host, int(port)))
reply, _ = s.recvfrom(1024)
t4 = time.time()
assert len(reply) == 48, len(reply)
li_vn_mode, stratum, poll, precision = struct.unpack('!B B b b', reply[:4])
assert li_vn_mode & 7 == 4, 'mode 4'
assert (li_vn_mode >> 3) & 7 == 3, 'version copied from the request'
assert 1 <= stratum <= 15, stratum
assert poll == 6
orig = struct.unpack('!II', reply[24:32])
assert orig == (secs, frac), 'originate is our transmit timestamp'
recv_s, recv_f, tx_s, tx_f = struct.unpack('!IIII', reply[32:48])
t2 = recv_s - NTP_DELTA + recv_f / 2**32
t3 = tx_s - NTP_DELTA + tx_f / 2**32
assert t1 - 1 <= t2 <= t3 <= t4 + 1, (t1, t2, t3, t4)
print('ok', reply[12:16].decode())
"#;

#[test]
fn ntp_client_requests_get_an_sntp_reply() {
    let served = serve(&["--time", "127.0.0.1:0"], 1);
    assert_eq!(
        python(&"python3".into(), PY_SNTP_CLIENT, &[served.addr("time")]),
        "ok LOCL\n"
    );
}

#[test]
fn netkit_time_client_both_modes() {
    let served = serve(&["--time", "127.0.0.1:0"], 1);
    let out = netkit(&["time", served.addr("time")], b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.len(), 25, "{text:?}");
    let out = netkit(&["time", served.addr("time"), "--sntp"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(" offset ") && text.contains(" stratum 10  ref LOCL"),
        "{text}"
    );
}

#[test]
fn garbage_of_any_size_never_stops_it() {
    let served = serve(&["--time", "127.0.0.1:0"], 1);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(served.addr("time")).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut sizes = vec![0usize, 1, 47, 48, 49, 512, 1472, 9000, 65_507];
    sizes.extend((0..200).map(|i| (i * 331) % 2048));
    let mut reply = [0u8; 2048];
    for size in sizes {
        let datagram: Vec<u8> = (0..size)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        socket.send(&datagram).unwrap();
        let n = socket.recv(&mut reply).unwrap();
        let is_ntp_request = size == 48 && datagram[0] & 7 == 3;
        assert_eq!(n, if is_ntp_request { 48 } else { 24 }, "size {size}");
    }
}

#[test]
fn netkit_time_reads_the_recipes_python_server() {
    let server = PythonServer::start(
        r#"
from socket import socket, AF_INET, SOCK_DGRAM
import time
sock = socket(AF_INET, SOCK_DGRAM)
sock.bind(('127.0.0.1', 0))
print(sock.getsockname()[1], flush=True)
while True:
    msg, addr = sock.recvfrom(8192)
    sock.sendto(time.ctime().encode('ascii'), addr)
"#,
        &[],
    );
    let out = netkit(&["time", &server.addr()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 25);
}

#[test]
fn no_answer_is_a_clear_error() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = netkit(
        &[
            "time",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "0.2",
            "--attempts",
            "2",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("netkit: "), "{stderr}");
}
