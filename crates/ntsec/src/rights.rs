//! Access mask bits used by files, registry keys and directory objects.
//!
//! Masks are plain `u32`s in this crate: translation never changes them, and SDDL renders
//! them with the names below.

/// Generic rights, mapped to object-specific ones by the object manager.
pub const GENERIC_READ: u32 = 0x8000_0000;
/// See [`GENERIC_READ`].
pub const GENERIC_WRITE: u32 = 0x4000_0000;
/// See [`GENERIC_READ`].
pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
/// See [`GENERIC_READ`].
pub const GENERIC_ALL: u32 = 0x1000_0000;

/// Standard rights shared by every object type.
pub const DELETE: u32 = 0x0001_0000;
/// See [`DELETE`].
pub const READ_CONTROL: u32 = 0x0002_0000;
/// See [`DELETE`].
pub const WRITE_DAC: u32 = 0x0004_0000;
/// See [`DELETE`].
pub const WRITE_OWNER: u32 = 0x0008_0000;
/// See [`DELETE`].
pub const SYNCHRONIZE: u32 = 0x0010_0000;
/// Right to read or write the SACL.
pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
/// Ask for every right the caller could get.
pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;

/// `FILE_ALL_ACCESS` (SDDL `FA`).
pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
/// `FILE_GENERIC_READ` (SDDL `FR`).
pub const FILE_GENERIC_READ: u32 = 0x0012_0089;
/// `FILE_GENERIC_WRITE` (SDDL `FW`).
pub const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
/// `FILE_GENERIC_EXECUTE` (SDDL `FX`).
pub const FILE_GENERIC_EXECUTE: u32 = 0x0012_00A0;

/// `KEY_ALL_ACCESS` (SDDL `KA`).
pub const KEY_ALL_ACCESS: u32 = 0x000F_003F;
/// `KEY_READ`, equal to `KEY_EXECUTE` (SDDL `KR`, `KX`).
pub const KEY_READ: u32 = 0x0002_0019;
/// `KEY_WRITE` (SDDL `KW`).
pub const KEY_WRITE: u32 = 0x0002_0006;

/// Mandatory label policy: no write up (SDDL `NW`).
pub const SYSTEM_MANDATORY_LABEL_NO_WRITE_UP: u32 = 0x1;
/// Mandatory label policy: no read up (SDDL `NR`).
pub const SYSTEM_MANDATORY_LABEL_NO_READ_UP: u32 = 0x2;
/// Mandatory label policy: no execute up (SDDL `NX`).
pub const SYSTEM_MANDATORY_LABEL_NO_EXECUTE_UP: u32 = 0x4;
