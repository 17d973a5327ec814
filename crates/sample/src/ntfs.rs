//! What NTFS keeps outside a file's bytes: security descriptors, FILE_ATTRIBUTE_* bits
//! and junctions, through ntfs-3g's extended attributes (`system.ntfs_acl`,
//! `system.ntfs_attrib`, `system.ntfs_reparse_data`; formats.md §3). Elsewhere (another
//! file system, or not Linux) descriptors and attributes are skipped and junctions become
//! relative symlinks, and the report says so.

use std::path::Path;

use crate::error::Result;
#[cfg(target_os = "linux")]
use crate::error::io;

/// FILE_ATTRIBUTE_READONLY.
pub const READONLY: u32 = 0x1;
/// FILE_ATTRIBUTE_HIDDEN.
pub const HIDDEN: u32 = 0x2;
/// FILE_ATTRIBUTE_SYSTEM.
pub const SYSTEM: u32 = 0x4;
/// FILE_ATTRIBUTE_ARCHIVE.
pub const ARCHIVE: u32 = 0x20;
/// IO_REPARSE_TAG_MOUNT_POINT: a junction.
pub const MOUNT_POINT: u32 = 0xA000_0003;

/// How a junction ended up on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum JunctionKind {
    /// A real NTFS junction (reparse point).
    Junction,
    /// A relative symlink standing in for it.
    Symlink,
    /// Nothing could be made (not Linux).
    Skipped,
}

/// The reparse buffer of a junction to `target` (`C:\Users\alice\AppData\Roaming`).
pub fn mount_point_buffer(target: &str) -> Vec<u8> {
    let subst: Vec<u16> = format!("\\??\\{target}").encode_utf16().collect();
    let print: Vec<u16> = target.encode_utf16().collect();
    let (sl, pl) = (subst.len() * 2, print.len() * 2);
    let path_len = sl + 2 + pl + 2;
    let mut b = Vec::with_capacity(16 + path_len);
    b.extend_from_slice(&MOUNT_POINT.to_le_bytes());
    b.extend_from_slice(&((8 + path_len) as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    for v in [0, sl, sl + 2, pl] {
        b.extend_from_slice(&(v as u16).to_le_bytes());
    }
    for u in subst.iter().chain(&[0]).chain(&print).chain(&[0]) {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b
}

/// Writes NTFS metadata when the target is an NTFS volume mounted with ntfs-3g/ntfs3.
#[derive(Debug, Clone)]
pub struct Ntfs {
    #[cfg(target_os = "linux")]
    backend: Option<ntfs3g::NtfsXattr>,
    /// Why descriptors cannot be set, when they cannot.
    pub unavailable: Option<String>,
}

impl Ntfs {
    /// Probes `dir` (which must exist).
    pub fn detect(dir: &Path) -> Ntfs {
        #[cfg(target_os = "linux")]
        {
            match ntfs3g::NtfsXattr::detect(dir) {
                Ok(b) => Ntfs {
                    backend: Some(b),
                    unavailable: None,
                },
                Err(e) => Ntfs {
                    backend: None,
                    unavailable: Some(e.to_string()),
                },
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = dir;
            Ntfs {
                unavailable: Some(
                    "setting NTFS security descriptors offline needs Linux with ntfs-3g".into(),
                ),
            }
        }
    }

    /// Whether descriptors and attributes are written.
    pub fn enabled(&self) -> bool {
        self.unavailable.is_none()
    }

    /// Sets a path's security descriptor (no-op when disabled).
    pub fn set_sd(&self, path: &Path, sd: &[u8]) -> Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(b) = &self.backend {
            use ntsec::FileSecurity;
            b.write(path, sd).map_err(io(path))?;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (path, sd);
        Ok(())
    }

    /// Sets FILE_ATTRIBUTE_* bits (no-op when disabled).
    pub fn set_attributes(&self, path: &Path, attributes: u32) -> Result<()> {
        #[cfg(target_os = "linux")]
        if self.backend.is_some() {
            rustix::fs::lsetxattr(
                path,
                "system.ntfs_attrib",
                &attributes.to_le_bytes(),
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(std::io::Error::from)
            .map_err(io(path))?;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (path, attributes);
        Ok(())
    }

    /// Makes `path` a junction to `target` (absolute Windows path). `relative` is the
    /// same target relative to `path`'s parent, for the symlink fallback. The descriptor
    /// and attributes go on before the reparse point, which ntfs-3g then shows as a link.
    pub fn junction(
        &self,
        path: &Path,
        target: &str,
        relative: &str,
        sd: &[u8],
        attributes: u32,
    ) -> Result<JunctionKind> {
        #[cfg(target_os = "linux")]
        {
            if self.backend.is_some() {
                std::fs::create_dir(path).map_err(io(path))?;
                self.set_sd(path, sd)?;
                self.set_attributes(path, attributes)?;
                let made = rustix::fs::lsetxattr(
                    path,
                    "system.ntfs_reparse_data",
                    &mount_point_buffer(target),
                    rustix::fs::XattrFlags::empty(),
                );
                if made.is_ok() {
                    return Ok(JunctionKind::Junction);
                }
                std::fs::remove_dir(path).map_err(io(path))?;
            }
            std::os::unix::fs::symlink(relative.replace('\\', "/"), path).map_err(io(path))?;
            Ok(JunctionKind::Symlink)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (path, target, relative, sd, attributes);
            Ok(JunctionKind::Skipped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junction_buffer_layout() {
        let b = mount_point_buffer("C:\\Users\\a\\Documents");
        assert_eq!(&b[..4], &MOUNT_POINT.to_le_bytes());
        let data_len = u16::from_le_bytes([b[4], b[5]]) as usize;
        assert_eq!(b.len(), 8 + data_len);
        let subst_len = u16::from_le_bytes([b[10], b[11]]) as usize;
        assert_eq!(subst_len, "\\??\\C:\\Users\\a\\Documents".len() * 2);
    }
}
