//! File security: reading and writing the self-relative descriptor of a file or folder
//! through a [`FileSecurity`] backend, and [`translate_tree`], which rewrites a whole
//! profile tree's descriptors.
//!
//! Backends: `ntfs3g::NtfsXattr` on Linux (ntfs-3g's `system.ntfs_acl`, the kernel ntfs3
//! driver's `system.ntfs_security`); the live Windows host implements the same trait
//! over `GetFileSecurityW`/`SetFileSecurityW` in its own crate.

mod tree;

use std::io;
use std::path::Path;

pub use tree::{PathError, Progress, TreeOptions, TreeReport, translate_tree};

/// No self-relative descriptor is larger than this (ACLs are capped at 64 KiB), so one
/// read into a buffer of this size always suffices.
pub const MAX_DESCRIPTOR: usize = 64 * 1024;

/// Reads and writes the security descriptor of a path, without following symlinks or
/// reparse points.
pub trait FileSecurity: Sync {
    /// Reads the descriptor into `buf` (at least [`MAX_DESCRIPTOR`] bytes, so one call
    /// always suffices) and returns its length. Hot loops keep one buffer for every
    /// file instead of clearing 64 KiB each time.
    fn read_into(&self, path: &Path, buf: &mut [u8]) -> io::Result<usize>;

    /// Reads the descriptor into `buf` (replacing its contents).
    fn read(&self, path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        buf.resize(MAX_DESCRIPTOR, 0);
        let n = self.read_into(path, buf)?;
        buf.truncate(n);
        Ok(())
    }

    /// Writes a descriptor (owner, group and both ACLs, exactly these bytes).
    fn write(&self, path: &Path, descriptor: &[u8]) -> io::Result<()>;
}
