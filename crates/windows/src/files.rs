//! File security on the live system: descriptors read and written on a handle opened
//! with backup semantics (SeBackup/SeRestore let admu past the DACL) that does not follow
//! reparse points, by `\\?\` long path; file attributes; free space; admu's private
//! files.

use std::io;
use std::os::windows::fs::MetadataExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;

use ntsec::files::{FileSecurity, MAX_DESCRIPTOR};
use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::{
    DACL_SECURITY_INFORMATION, GROUP_SECURITY_INFORMATION, GetKernelObjectSecurity,
    GetSecurityDescriptorLength, LABEL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PROTECTED_SACL_SECURITY_INFORMATION,
    SACL_SECURITY_INFORMATION, SetKernelObjectSecurity,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_ARCHIVE, FILE_ATTRIBUTE_HIDDEN, FILE_ATTRIBUTE_NORMAL,
    FILE_ATTRIBUTE_NOT_CONTENT_INDEXED, FILE_ATTRIBUTE_OFFLINE, FILE_ATTRIBUTE_READONLY,
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_ATTRIBUTE_SYSTEM, FILE_ATTRIBUTE_TEMPORARY,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, GetDiskFreeSpaceExW, GetFileAttributesW, INVALID_FILE_ATTRIBUTES,
    OPEN_EXISTING, READ_CONTROL, SetFileAttributesW, WRITE_DAC, WRITE_OWNER,
};
use windows_sys::Win32::System::SystemServices::ACCESS_SYSTEM_SECURITY;

use crate::wide::{os_to_wide, to_wide};
use crate::win32::Win32Error;

/// `SE_SELF_RELATIVE`, `SE_DACL_PROTECTED`, `SE_SACL_PROTECTED` in a descriptor's control.
const SE_SELF_RELATIVE: u16 = 0x8000;
const SE_DACL_PROTECTED: u16 = 0x1000;
const SE_SACL_PROTECTED: u16 = 0x2000;

/// The file-security backend of the live host (`ntsec::FileSecurity`).
///
/// Descriptors are read and written whole: owner, group, DACL, and the SACL with the
/// mandatory label. Reading or writing a SACL needs SeSecurityPrivilege; when the token
/// does not hold it ([`Win32FileSecurity::with_sacl`] is false), descriptors are read
/// without their SACL and written leaving the file's SACL as it is (the mandatory label
/// is still read and written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Win32FileSecurity {
    sacl: bool,
}

impl Win32FileSecurity {
    pub fn new(sacl: bool) -> Win32FileSecurity {
        Win32FileSecurity { sacl }
    }

    /// Whether SACLs are read and written (SeSecurityPrivilege was enabled).
    pub fn with_sacl(&self) -> bool {
        self.sacl
    }
}

/// What a read asks for.
pub fn read_info(sacl: bool) -> u32 {
    let base = OWNER_SECURITY_INFORMATION
        | GROUP_SECURITY_INFORMATION
        | DACL_SECURITY_INFORMATION
        | LABEL_SECURITY_INFORMATION;
    if sacl {
        base | SACL_SECURITY_INFORMATION
    } else {
        base
    }
}

/// What a write of `descriptor` sets: everything a read returns, plus the protection of
/// the DACL (and SACL) as the descriptor's control says, so "do not inherit" survives.
pub fn write_info(descriptor: &[u8], sacl: bool) -> io::Result<u32> {
    if descriptor.len() < 20 || descriptor[0] != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a self-relative security descriptor (under 20 bytes, or not revision 1)",
        ));
    }
    let control = u16::from_le_bytes([descriptor[2], descriptor[3]]);
    if control & SE_SELF_RELATIVE == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the security descriptor is not self-relative",
        ));
    }
    let mut info = read_info(sacl);
    if control & SE_DACL_PROTECTED != 0 {
        info |= PROTECTED_DACL_SECURITY_INFORMATION;
    }
    if sacl && control & SE_SACL_PROTECTED != 0 {
        info |= PROTECTED_SACL_SECURITY_INFORMATION;
    }
    Ok(info)
}

/// The attributes `SetFileAttributesW` can set, from what `GetFileAttributesW` said.
pub fn settable_attributes(attributes: u32) -> u32 {
    let settable = attributes
        & (FILE_ATTRIBUTE_READONLY
            | FILE_ATTRIBUTE_HIDDEN
            | FILE_ATTRIBUTE_SYSTEM
            | FILE_ATTRIBUTE_ARCHIVE
            | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED
            | FILE_ATTRIBUTE_OFFLINE
            | FILE_ATTRIBUTE_TEMPORARY);
    if settable == 0 {
        FILE_ATTRIBUTE_NORMAL
    } else {
        settable
    }
}

/// A path for Win32 calls: absolute, in the `\\?\` long form, NUL-terminated.
pub fn win32_path(path: &Path) -> io::Result<Vec<u16>> {
    let absolute = std::path::absolute(path)?;
    Ok(match absolute.to_str() {
        Some(text) => to_wide(&engine::live::long_path(text))?,
        // Not valid Unicode (an unpaired surrogate): passed as it is.
        None => os_to_wide(absolute.as_os_str())?,
    })
}

/// Opens a file or folder for its descriptor only: no data access (so no sharing
/// violation with whoever has it open), backup semantics (folders, and past the DACL
/// with SeBackup/SeRestore), and the reparse point itself, never its target.
fn open_for_security(path: &Path, access: u32) -> io::Result<OwnedHandle> {
    let wpath = win32_path(path)?;
    // SAFETY: `wpath` is NUL-terminated; no security attributes or template.
    let handle = unsafe {
        CreateFileW(
            wpath.as_ptr(),
            access,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            std::ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(Win32Error::last("CreateFileW", "").into());
    }
    // SAFETY: a valid handle we own, closed once by OwnedHandle.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// Reads the descriptor parts `info` of `path` into `buf`; returns its length.
pub fn read_security(path: &Path, info: u32, buf: &mut [u8]) -> io::Result<usize> {
    let access = READ_CONTROL
        | if info & SACL_SECURITY_INFORMATION != 0 {
            ACCESS_SYSTEM_SECURITY
        } else {
            0
        };
    let handle = open_for_security(path, access)?;
    // The kernel wants the buffer 4-byte aligned; a Vec<u8> from the allocator always
    // is, anything else goes through an aligned copy.
    if buf.as_ptr().cast::<u32>().is_aligned() {
        return query(&handle, info, buf);
    }
    let mut aligned = vec![0u32; buf.len() / 4];
    // SAFETY: `aligned` owns `aligned.len() * 4` initialized bytes, viewed as bytes
    // only while it is borrowed here.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(aligned.as_mut_ptr().cast::<u8>(), aligned.len() * 4)
    };
    let n = query(&handle, info, bytes)?;
    buf[..n].copy_from_slice(&bytes[..n]);
    Ok(n)
}

fn query(handle: &OwnedHandle, info: u32, buf: &mut [u8]) -> io::Result<usize> {
    let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    let mut needed = 0u32;
    // SAFETY: `buf` is writable for `len` bytes and 4-byte aligned; the handle is open
    // with the access `info` needs.
    let ok = unsafe {
        GetKernelObjectSecurity(
            handle.as_raw_handle(),
            info,
            buf.as_mut_ptr().cast(),
            len,
            &mut needed,
        )
    };
    if ok == 0 {
        let e = Win32Error::last("GetKernelObjectSecurity", "");
        if e.code == ERROR_INSUFFICIENT_BUFFER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the descriptor of {needed} bytes does not fit a {len}-byte buffer"),
            ));
        }
        return Err(e.into());
    }
    // SAFETY: the buffer now holds a self-relative descriptor.
    let n = unsafe { GetSecurityDescriptorLength(buf.as_mut_ptr().cast()) } as usize;
    Ok(n.min(buf.len()))
}

/// Writes the descriptor parts `info` of `descriptor` to `path`.
pub fn write_security(path: &Path, info: u32, descriptor: &[u8]) -> io::Result<()> {
    let mut access = WRITE_DAC | WRITE_OWNER;
    if info & SACL_SECURITY_INFORMATION != 0 {
        access |= ACCESS_SYSTEM_SECURITY;
    }
    let handle = open_for_security(path, access)?;
    let mut aligned = vec![0u32; descriptor.len().div_ceil(4)];
    for (i, b) in descriptor.iter().enumerate() {
        aligned[i / 4] |= u32::from(*b) << (8 * (i % 4));
    }
    // SAFETY: `aligned` holds the descriptor's bytes, 4-byte aligned; the handle is open
    // with the access `info` needs.
    let ok = unsafe {
        SetKernelObjectSecurity(handle.as_raw_handle(), info, aligned.as_mut_ptr().cast())
    };
    if ok == 0 {
        return Err(Win32Error::last("SetKernelObjectSecurity", "").into());
    }
    Ok(())
}

impl FileSecurity for Win32FileSecurity {
    fn read_into(&self, path: &Path, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() < MAX_DESCRIPTOR {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "descriptor buffer under 64 KiB",
            ));
        }
        read_security(path, read_info(self.sacl), buf)
    }

    fn write(&self, path: &Path, descriptor: &[u8]) -> io::Result<()> {
        write_security(path, write_info(descriptor, self.sacl)?, descriptor)
    }
}

/// Gives `to` the descriptor and the attributes (hidden, system, …) of `from`.
pub fn copy_metadata(backend: &Win32FileSecurity, from: &Path, to: &Path) -> io::Result<()> {
    let mut sd = Vec::new();
    backend.read(from, &mut sd)?;
    backend.write(to, &sd)?;
    let wfrom = win32_path(from)?;
    // SAFETY: `wfrom` is NUL-terminated.
    let attributes = unsafe { GetFileAttributesW(wfrom.as_ptr()) };
    if attributes == INVALID_FILE_ATTRIBUTES {
        return Err(Win32Error::last("GetFileAttributesW", "").into());
    }
    let wto = win32_path(to)?;
    // SAFETY: `wto` is NUL-terminated.
    if unsafe { SetFileAttributesW(wto.as_ptr(), settable_attributes(attributes)) } == 0 {
        return Err(Win32Error::last("SetFileAttributesW", "").into());
    }
    Ok(())
}

/// Free bytes for this process on the volume of `root`.
pub fn free_space(root: &Path) -> std::result::Result<u64, Win32Error> {
    let wroot =
        os_to_wide(root.as_os_str()).map_err(|_| Win32Error::new("GetDiskFreeSpaceExW", "", 87))?;
    let mut available = 0u64;
    // SAFETY: `wroot` is NUL-terminated; the totals not wanted are null.
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            wroot.as_ptr(),
            &mut available,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(Win32Error::last(
            "GetDiskFreeSpaceExW",
            root.display().to_string(),
        ));
    }
    Ok(available)
}

/// Gives a file or folder admu made the private descriptor (owner Administrators, a
/// protected DACL for SYSTEM and Administrators only).
pub fn make_private(path: &Path) -> io::Result<()> {
    let is_dir = std::fs::symlink_metadata(path)?.is_dir();
    let info = OWNER_SECURITY_INFORMATION
        | GROUP_SECURITY_INFORMATION
        | DACL_SECURITY_INFORMATION
        | PROTECTED_DACL_SECURITY_INFORMATION;
    write_security(path, info, &engine::private::descriptor(is_dir))
}

/// Whether only SYSTEM and Administrators can reach `path`.
pub fn check_private(path: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() || meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err("it is a symbolic link or junction (a reparse point)".into());
    }
    let mut buf = vec![0u8; MAX_DESCRIPTOR];
    let info = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    let n = read_security(path, info, &mut buf)
        .map_err(|e| format!("its security descriptor cannot be read: {e}"))?;
    engine::private::verify(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_keep_the_protection_the_descriptor_asks_for() {
        let protected = engine::private::descriptor(true);
        let info = write_info(&protected, true).unwrap();
        assert_ne!(info & PROTECTED_DACL_SECURITY_INFORMATION, 0);
        assert_ne!(info & SACL_SECURITY_INFORMATION, 0);
        assert_eq!(info & PROTECTED_SACL_SECURITY_INFORMATION, 0);
        let info = write_info(&protected, false).unwrap();
        assert_eq!(
            info & SACL_SECURITY_INFORMATION,
            0,
            "no SeSecurityPrivilege: no SACL"
        );
        let inherited = ntsec::SecurityDescriptor::from_sddl("O:BAG:SYD:AI(A;;FA;;;SY)S:P")
            .unwrap()
            .to_bytes()
            .unwrap();
        let info = write_info(&inherited, true).unwrap();
        assert_eq!(info & PROTECTED_DACL_SECURITY_INFORMATION, 0);
        assert_ne!(info & PROTECTED_SACL_SECURITY_INFORMATION, 0);
        assert!(write_info(b"junk", true).is_err());
        let mut absolute = protected.clone();
        absolute[3] &= 0x7F;
        assert!(write_info(&absolute, true).is_err(), "not self-relative");
        assert_ne!(read_info(false) & LABEL_SECURITY_INFORMATION, 0);
        assert_eq!(read_info(false) & SACL_SECURITY_INFORMATION, 0);
    }

    #[test]
    fn only_settable_attributes_are_copied() {
        let hive = FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM | FILE_ATTRIBUTE_ARCHIVE;
        assert_eq!(
            settable_attributes(hive | FILE_ATTRIBUTE_REPARSE_POINT),
            hive
        );
        assert_eq!(
            settable_attributes(0x10 /* directory */),
            FILE_ATTRIBUTE_NORMAL
        );
        assert_eq!(
            settable_attributes(FILE_ATTRIBUTE_NORMAL),
            FILE_ATTRIBUTE_NORMAL
        );
    }

    #[test]
    fn paths_get_the_long_form() {
        let w = win32_path(Path::new(r"C:\Users\alice\NTUSER.DAT")).unwrap();
        assert_eq!(crate::wide::from_wide(&w), r"\\?\C:\Users\alice\NTUSER.DAT");
        let w = win32_path(Path::new(r"C:\Users\alice\..\bob")).unwrap();
        assert_eq!(
            crate::wide::from_wide(&w),
            r"\\?\C:\Users\bob",
            "normalised first"
        );
    }
}
