//! File descriptors over a Unix stream socket, in the format of Python's
//! `multiprocessing.reduction.sendfds`/`recvfds` on Linux: one data byte holding
//! `len(fds) % 256` and one `SCM_RIGHTS` control message with the fds as C ints. There is
//! no acknowledgement (only macOS's Python waits for one).

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;

/// Most fds taken from one message. Python sends one; a peer sending more than fit has
/// the rest closed by the kernel (MSG_CTRUNC), so nothing leaks.
pub const MAX_FDS: usize = 16;

/// Sends `fds` with their count byte. Never raises SIGPIPE: a dead peer is `EPIPE`.
/// On a non-blocking socket this fails with `WouldBlock` rather than waiting.
pub fn send_fds(socket: impl AsFd, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "send 1 to 16 fds at a time",
        ));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("control buffer too small"));
    }
    let count = [(fds.len() % 256) as u8];
    let sent = sendmsg(
        socket,
        &[IoSlice::new(&count)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    if sent != 1 {
        return Err(io::ErrorKind::WriteZero.into());
    }
    Ok(())
}

/// Receives one message: `Ok(None)` at end of stream, else the fds it carried (possibly
/// none, if the peer sent a bare byte). Received fds are close-on-exec.
pub fn recv_fds(socket: impl AsFd) -> io::Result<Option<Vec<OwnedFd>>> {
    let mut byte = [0u8; 1];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = recvmsg(
        socket,
        &mut [IoSliceMut::new(&mut byte)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    // Take ownership of every fd before anything else, so that each is closed if unused.
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    if received.bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    if usize::from(byte[0]) != fds.len() % 256 {
        tracing::debug!(
            announced = byte[0],
            received = fds.len(),
            "fd count byte does not match the fds received"
        );
    }
    Ok(Some(fds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_pipe_end_crosses_and_keeps_working() {
        let (a, b) = UnixStream::pair().unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        send_fds(&a, &[reader.as_fd()]).unwrap();
        drop(reader);
        let fds = recv_fds(&b).unwrap().unwrap();
        assert_eq!(fds.len(), 1);
        let flags = rustix::io::fcntl_getfd(&fds[0]).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        writer.write_all(b"crossed").unwrap();
        drop(writer);
        let mut text = String::new();
        std::fs::File::from(fds.into_iter().next().unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "crossed");
        drop(a);
        assert!(recv_fds(&b).unwrap().is_none());
    }

    #[test]
    fn wire_format_is_one_count_byte() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let (r1, _w1) = std::io::pipe().unwrap();
        let (r2, _w2) = std::io::pipe().unwrap();
        send_fds(&a, &[r1.as_fd(), r2.as_fd()]).unwrap();
        drop(a);
        // A reader that ignores control data sees only the count byte (and the kernel
        // closes the fds it was not given).
        let mut data = Vec::new();
        b.read_to_end(&mut data).unwrap();
        assert_eq!(data, [2]);
    }

    #[test]
    fn a_dead_peer_is_epipe_not_sigpipe() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let (r, _w) = std::io::pipe().unwrap();
        let error = send_fds(&a, &[r.as_fd()]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }
}
