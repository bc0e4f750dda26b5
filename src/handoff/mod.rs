//! Recipe 11: passing accepted sockets between processes over a Unix socket, compatible
//! with Python's `multiprocessing.connection` + `multiprocessing.reduction.send_handle`.
//!
//! - [`scm`]: the fd messages themselves (SCM_RIGHTS, Python's byte format).
//! - [`pool`]: the accepting side's registry of workers and the round-robin handoff.
//! - [`service`]: `serve --handoff`, the TCP accept loop in front of the pool.
//! - [`worker`]: `netkit handoff worker`, which serves the sockets it is handed.
//! - [`supervisor`]: `serve --workers N`, worker processes spawned and restarted by netkit.

pub mod pool;
pub mod scm;
pub mod service;
pub mod supervisor;
pub mod worker;
