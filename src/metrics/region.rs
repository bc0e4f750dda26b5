//! A worker's counters in memory shared with its supervisor (`serve --workers`).
//!
//! The supervisor creates one region per worker it starts — an anonymous memory file
//! (memfd) holding one [`ServiceBlock`] per worker-served service — maps it, and lets the
//! worker inherit the file descriptor. The worker maps the same pages and counts into
//! them exactly as a single process counts into its heap: the same relaxed atomic adds,
//! no message, no copy. The supervisor reads the blocks at scrape time, and after the
//! worker has exited (even by `kill -9`) it still holds the mapping, so the worker's
//! final counts are read and kept.

use super::ServiceBlock;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;

/// `blocks` service blocks, mapped shared.
pub struct Region {
    map: memmap2::MmapRaw,
    blocks: usize,
}

impl Region {
    fn size(blocks: usize) -> u64 {
        (blocks * size_of::<ServiceBlock>()) as u64
    }

    /// A new zeroed region (every counter at 0) and its descriptor, close-on-exec: only
    /// the worker it is meant for may be given it.
    pub fn create(blocks: usize) -> io::Result<(Region, OwnedFd)> {
        use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
        let fd = memfd_create("netkit-worker-metrics", MemfdFlags::CLOEXEC)?;
        ftruncate(&fd, Self::size(blocks))?;
        let region = Self::map(&fd, blocks)?;
        Ok((region, fd))
    }

    /// Maps a region created by [`Region::create`] for `blocks` services; anything of
    /// another size is refused.
    pub fn open(fd: OwnedFd, blocks: usize) -> io::Result<Region> {
        let size = rustix::fs::fstat(&fd)?.st_size;
        if u64::try_from(size).ok() != Some(Self::size(blocks)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("metrics region is {size} bytes, not {}", Self::size(blocks)),
            ));
        }
        Self::map(&fd, blocks)
    }

    fn map(fd: &OwnedFd, blocks: usize) -> io::Result<Region> {
        // The mapping keeps the memory alive: the descriptor may be closed afterwards.
        let file = File::from(fd.as_fd().try_clone_to_owned()?);
        let map = memmap2::MmapRaw::map_raw(&file)?;
        if map.len() as u64 != Self::size(blocks) {
            return Err(io::Error::other("metrics region mapped short"));
        }
        Ok(Region { map, blocks })
    }

    /// Block `index`; `None` past the end.
    pub fn block(&self, index: usize) -> Option<NonNull<ServiceBlock>> {
        if index >= self.blocks {
            return None;
        }
        // In bounds (checked), page-aligned (an mmap), and a ServiceBlock is nothing but
        // atomics, valid for any bytes: a zeroed or foreign block is still one.
        let first = self.map.as_mut_ptr().cast::<ServiceBlock>();
        // SAFETY: `index < blocks`, and the mapping is `blocks` blocks long.
        NonNull::new(unsafe { first.add(index) })
    }

    /// Block `index`, for reading; `None` past the end.
    pub fn get(&self, index: usize) -> Option<&ServiceBlock> {
        // SAFETY: see `block`; the reference lives no longer than the mapping (`&self`),
        // and a block is only ever read or added to atomically, here as in the worker.
        self.block(index).map(|block| unsafe { block.as_ref() })
    }
}
