//! NTFS security descriptors and attributes of a volume mounted on Linux, through the
//! extended attributes that ntfs-3g (`system.ntfs_acl`, `system.ntfs_attrib_be`) and the
//! kernel's ntfs3 driver (`system.ntfs_security`) expose: the [`ntsec::FileSecurity`]
//! backend of the offline host, the sample generator and `admu acl`.
//!
//! ```no_run
//! # #[cfg(target_os = "linux")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ntsec::FileSecurity;
//! use ntfs3g::NtfsXattr;
//!
//! let backend = NtfsXattr::detect("/mnt/windows/Users".as_ref())?;
//! let mut sd = Vec::new();
//! backend.read("/mnt/windows/Users/alice".as_ref(), &mut sd)?;
//! println!("{}", ntsec::SecurityDescriptor::from_bytes(&sd)?.to_sddl());
//! # Ok(())
//! # }
//! # #[cfg(not(target_os = "linux"))]
//! # fn main() {}
//! ```
#![cfg(target_os = "linux")]

use std::io;
use std::path::Path;

use ntsec::files::{FileSecurity, MAX_DESCRIPTOR};

/// ntfs-3g (FUSE) and the kernel's ntfs3 driver expose a file's self-relative
/// descriptor as an extended attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtfsXattr {
    name: &'static str,
}

impl NtfsXattr {
    /// ntfs-3g: `system.ntfs_acl`.
    pub const NTFS_3G: NtfsXattr = NtfsXattr {
        name: "system.ntfs_acl",
    };
    /// The kernel ntfs3 driver: `system.ntfs_security`.
    pub const NTFS3: NtfsXattr = NtfsXattr {
        name: "system.ntfs_security",
    };

    /// The attribute's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The backend that can read `path`'s descriptor, trying ntfs-3g first.
    pub fn detect(path: &Path) -> io::Result<NtfsXattr> {
        let mut buf = Vec::new();
        let mut last = None;
        for backend in [NtfsXattr::NTFS_3G, NtfsXattr::NTFS3] {
            match backend.read(path, &mut buf) {
                Ok(()) => return Ok(backend),
                Err(e) => last = Some(e),
            }
        }
        let cause = last.map(|e| e.to_string()).unwrap_or_default();
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{}: no NTFS security descriptor readable ({cause}); is it on an NTFS volume mounted \
                 with ntfs-3g or ntfs3, and are you root?",
                path.display()
            ),
        ))
    }
}

impl FileSecurity for NtfsXattr {
    fn read_into(&self, path: &Path, buf: &mut [u8]) -> io::Result<usize> {
        // One call into a buffer that is never too small: ntfs-3g answers EIO, not
        // ERANGE, to a short buffer, and a size probe would double the FUSE round trips.
        if buf.len() < MAX_DESCRIPTOR {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "descriptor buffer under 64 KiB",
            ));
        }
        Ok(rustix::fs::lgetxattr(path, self.name, buf)?)
    }

    fn write(&self, path: &Path, descriptor: &[u8]) -> io::Result<()> {
        rustix::fs::lsetxattr(path, self.name, descriptor, rustix::fs::XattrFlags::empty())?;
        Ok(())
    }
}

impl NtfsXattr {
    /// The xattr with a file's FILE_ATTRIBUTE_* bits (hidden, system, archive …).
    const ATTRIBUTES: &'static str = "system.ntfs_attrib";

    /// Gives `to` the security descriptor and the Windows attributes of `from`: a file
    /// written anew and renamed over an old one (a saved hive) must keep what Windows
    /// gave the old one, e.g. NTUSER.DAT's owner-only descriptor and its hidden bit.
    pub fn copy_metadata(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut sd = Vec::new();
        self.read(from, &mut sd)?;
        self.write(to, &sd)?;
        let mut attrib = [0u8; 4];
        if let Ok(4) = rustix::fs::lgetxattr(from, Self::ATTRIBUTES, &mut attrib) {
            rustix::fs::lsetxattr(
                to,
                Self::ATTRIBUTES,
                &attrib,
                rustix::fs::XattrFlags::empty(),
            )?;
        }
        Ok(())
    }
}
