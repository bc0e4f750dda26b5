//! systemd integration, through the `sd-notify` crate: socket activation (sockets systemd
//! bound for us, matched to services by name) and readiness notification (`READY=1` once
//! every listening line is out, `RELOADING=1` … `READY=1` around a reload, `STOPPING=1`
//! when draining, `WATCHDOG=1` when asked). Without systemd every call here does nothing.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// The sockets a socket unit passed us (`LISTEN_FDS`, `LISTEN_PID`), by the name each
/// carries (`LISTEN_FDNAMES`, the unit's `FileDescriptorName=`).
#[derive(Default)]
pub struct Activation {
    sockets: BTreeMap<String, OwnedFd>,
}

impl Activation {
    /// The sockets passed to this process, if any; call it once, at start. Children (the
    /// `--workers` processes) find none: LISTEN_PID is not theirs, and the descriptors
    /// are close-on-exec from here on.
    pub fn inherited() -> io::Result<Activation> {
        let mut sockets = BTreeMap::new();
        for (fd, name) in sd_notify::listen_fds_with_names()? {
            // SAFETY: systemd passed us these descriptors (LISTEN_PID is ours) and nothing
            // else in the process owns them; each is taken once, here.
            let socket = unsafe { OwnedFd::from_raw_fd(fd) };
            sockets.insert(name, socket);
        }
        Ok(Activation { sockets })
    }

    /// The TCP listener named `service`, if systemd passed one.
    pub fn take_tcp(&mut self, service: &str) -> Option<io::Result<tokio::net::TcpListener>> {
        let socket = self.take(service, socket2::Type::STREAM)?;
        Some(socket.and_then(|socket| {
            let listener = std::net::TcpListener::from(socket);
            listener.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(listener)
        }))
    }

    /// The UDP socket named `service`, if systemd passed one.
    pub fn take_udp(&mut self, service: &str) -> Option<io::Result<tokio::net::UdpSocket>> {
        let socket = self.take(service, socket2::Type::DGRAM)?;
        Some(socket.and_then(|socket| {
            let socket = std::net::UdpSocket::from(socket);
            socket.set_nonblocking(true)?;
            tokio::net::UdpSocket::from_std(socket)
        }))
    }

    fn take(&mut self, service: &str, kind: socket2::Type) -> Option<io::Result<OwnedFd>> {
        let fd = self.sockets.remove(service)?;
        let socket = socket2::Socket::from(fd);
        Some(match socket.r#type() {
            Ok(found) if found == kind => Ok(socket.into()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the inherited socket named {service} is not a {kind:?} socket"),
            )),
            Err(error) => Err(error),
        })
    }

    /// Sockets no started service took: a unit that names a service netkit does not run.
    pub fn warn_unused(self) {
        for name in self.sockets.keys() {
            tracing::warn!(
                name = name.as_str(),
                "an inherited socket's name matches no started service; closing it"
            );
        }
    }
}

fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(error) = sd_notify::notify(state) {
        tracing::debug!(%error, "sd_notify failed");
    }
}

/// Every listening line is out.
pub fn notify_ready() {
    notify(&[sd_notify::NotifyState::Ready]);
}

/// A reload begins; [`notify_ready`] ends it. systemd 253+ wants the monotonic time with it.
pub fn notify_reloading() {
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[sd_notify::NotifyState::Reloading, now]),
        Err(_) => notify(&[sd_notify::NotifyState::Reloading]),
    }
}

/// Draining for shutdown.
pub fn notify_stopping() {
    notify(&[sd_notify::NotifyState::Stopping]);
}

/// With `WatchdogSec=` (WATCHDOG_USEC), pings systemd at half the interval until dropped.
pub fn watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let interval = sd_notify::watchdog_enabled()? / 2;
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }))
}
