//! Access tokens: who a process runs as, whether it is elevated, and enabling the
//! privileges admu needs.

use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};

use engine::live::RunningAs;
use ntsec::Sid;
use windows_sys::Win32::Foundation::{
    ERROR_BAD_LENGTH, ERROR_INSUFFICIENT_BUFFER, ERROR_NOT_ALL_ASSIGNED, HANDLE, LUID,
};
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, CheckTokenMembership, GetTokenInformation, LUID_AND_ATTRIBUTES,
    LookupPrivilegeValueW, SE_PRIVILEGE_ENABLED, TOKEN_ACCESS_MASK, TOKEN_ADJUST_PRIVILEGES,
    TOKEN_ELEVATION, TOKEN_INFORMATION_CLASS, TOKEN_PRIVILEGES, TOKEN_QUERY, TOKEN_USER,
    TokenElevation, TokenUser,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

use crate::wide::to_wide;
use crate::win32::{Attempt, SidBuf, Win32Error, lookup_sid, sid_from_psid, with_growing};

/// The token of this process.
pub fn own_token(access: TOKEN_ACCESS_MASK) -> Result<OwnedHandle, Win32Error> {
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing.
    let process = unsafe { GetCurrentProcess() };
    process_token(process, access, "current process")
}

fn process_token(
    process: HANDLE,
    access: TOKEN_ACCESS_MASK,
    what: &str,
) -> Result<OwnedHandle, Win32Error> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is a process handle with query rights; `token` receives a new
    // handle on success.
    if unsafe { OpenProcessToken(process, access, &mut token) } == 0 {
        return Err(Win32Error::last("OpenProcessToken", what));
    }
    // SAFETY: `token` is a handle we now own and close exactly once, through OwnedHandle.
    Ok(unsafe { OwnedHandle::from_raw_handle(token) })
}

/// One class of token information, in an 8-byte aligned buffer.
fn token_info(token: &OwnedHandle, class: TOKEN_INFORMATION_CLASS) -> Result<Vec<u64>, Win32Error> {
    with_growing(
        8,
        0,
        |buf: &mut Vec<u64>| {
            let mut needed = 0u32;
            // SAFETY: `buf` is writable for the byte length passed; `token` is open with
            // TOKEN_QUERY.
            let ok = unsafe {
                GetTokenInformation(
                    token.as_raw_handle(),
                    class,
                    buf.as_mut_ptr().cast(),
                    (buf.len() * 8) as u32,
                    &mut needed,
                )
            };
            if ok != 0 {
                return Ok(Attempt::Done(std::mem::take(buf)));
            }
            let e = Win32Error::last("GetTokenInformation", format!("class {class}"));
            if e.code == ERROR_INSUFFICIENT_BUFFER || e.code == ERROR_BAD_LENGTH {
                return Ok(Attempt::Need((needed as usize).div_ceil(8)));
            }
            Err(e)
        },
        |_| {
            Win32Error::new(
                "GetTokenInformation",
                format!("class {class}"),
                ERROR_INSUFFICIENT_BUFFER,
            )
        },
    )
}

/// The user a token belongs to.
pub fn token_user(token: &OwnedHandle) -> Result<Sid, Win32Error> {
    let buf = token_info(token, TokenUser)?;
    // SAFETY: GetTokenInformation(TokenUser) wrote a TOKEN_USER at the start of the
    // (8-byte aligned) buffer, whose SID pointer points into the same buffer.
    let sid = unsafe {
        let user = &*(buf.as_ptr() as *const TOKEN_USER);
        sid_from_psid(user.User.Sid)
    };
    sid.ok_or_else(|| Win32Error::new("GetTokenInformation", "TokenUser", 1337))
}

/// Whether the token is elevated (UAC).
fn token_elevated(token: &OwnedHandle) -> Result<bool, Win32Error> {
    let buf = token_info(token, TokenElevation)?;
    // SAFETY: GetTokenInformation(TokenElevation) wrote a TOKEN_ELEVATION (4 bytes) at
    // the start of the buffer.
    let elevation = unsafe { &*(buf.as_ptr() as *const TOKEN_ELEVATION) };
    Ok(elevation.TokenIsElevated != 0)
}

/// Whether this thread's token has the Administrators group enabled (not deny-only, as
/// in a UAC-filtered token).
fn is_admin_member() -> Result<bool, Win32Error> {
    let admins = SidBuf::new(&Sid::builtin_administrators());
    let mut member = 0;
    // SAFETY: a null token means the calling thread's (impersonation or primary) token;
    // `admins` holds a valid SID.
    if unsafe { CheckTokenMembership(std::ptr::null_mut(), admins.as_psid(), &mut member) } == 0 {
        return Err(Win32Error::last("CheckTokenMembership", "S-1-5-32-544"));
    }
    Ok(member != 0)
}

/// Who admu runs as, from what the token says.
pub fn classify(user: &Sid, elevated: bool, admin_member: bool) -> RunningAs {
    if *user == Sid::local_system() {
        RunningAs::System
    } else if elevated && admin_member {
        RunningAs::Administrator
    } else {
        RunningAs::NotElevated
    }
}

/// Who this process runs as.
pub fn running_as() -> Result<RunningAs, Win32Error> {
    let token = own_token(TOKEN_QUERY)?;
    let user = token_user(&token)?;
    let elevated = token_elevated(&token)?;
    let admin = is_admin_member()?;
    Ok(classify(&user, elevated, admin))
}

/// `DOMAIN\user` of another process, when this process may look at its token.
pub fn process_user(pid: u32) -> Option<String> {
    // SAFETY: OpenProcess has no preconditions; failure is a null handle.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return None;
    }
    // SAFETY: `process` is a handle we own and close once, through OwnedHandle.
    let process = unsafe { OwnedHandle::from_raw_handle(process) };
    let token = process_token(process.as_raw_handle(), TOKEN_QUERY, "process").ok()?;
    let sid = token_user(&token).ok()?;
    lookup_sid(&sid).ok().flatten().map(|a| a.qualified())
}

/// Enables a privilege on this process's token; `Ok(false)` when the token does not
/// hold it (not elevated, or not granted to the account).
pub fn enable_privilege(name: &str) -> Result<bool, Win32Error> {
    let token = own_token(TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY)?;
    let wname = to_wide(name).map_err(|_| Win32Error::new("LookupPrivilegeValueW", name, 87))?;
    let mut luid = LUID::default();
    // SAFETY: `wname` is NUL-terminated; `luid` is writable.
    if unsafe { LookupPrivilegeValueW(std::ptr::null(), wname.as_ptr(), &mut luid) } == 0 {
        return Err(Win32Error::last("LookupPrivilegeValueW", name));
    }
    let privileges = TOKEN_PRIVILEGES {
        PrivilegeCount: 1,
        Privileges: [LUID_AND_ATTRIBUTES {
            Luid: luid,
            Attributes: SE_PRIVILEGE_ENABLED,
        }],
    };
    // SAFETY: `token` is open with TOKEN_ADJUST_PRIVILEGES; `privileges` is a complete
    // TOKEN_PRIVILEGES; the previous state is not asked for.
    let ok = unsafe {
        AdjustTokenPrivileges(
            token.as_raw_handle(),
            0,
            &privileges,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    // AdjustTokenPrivileges succeeds even when it enabled nothing; the last error says.
    let e = Win32Error::last("AdjustTokenPrivileges", name);
    if ok == 0 {
        return Err(e);
    }
    Ok(e.code != ERROR_NOT_ALL_ASSIGNED)
}

/// What enabling the file-security privileges came to: whether SACLs can be read and
/// written, or the error naming the privileges that are missing. SeSecurityPrivilege
/// alone may be missing: descriptors are then read and written without their SACL.
pub fn file_privileges_outcome(enabled: &[(&str, bool)]) -> Result<bool, String> {
    let missing: Vec<&str> = enabled
        .iter()
        .filter(|(name, ok)| !ok && *name != "SeSecurityPrivilege")
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} cannot be enabled: this process's token does not hold {}. admu reads and \
             writes file security and the registry of other accounts; run it from an \
             elevated prompt (Run as administrator) or as SYSTEM",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    Ok(enabled
        .iter()
        .any(|(name, ok)| *name == "SeSecurityPrivilege" && *ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_as_is_decided_from_user_elevation_and_membership() {
        let system = Sid::local_system();
        let alice: Sid = "S-1-5-21-1-2-3-1001".parse().unwrap();
        assert_eq!(classify(&system, false, false), RunningAs::System);
        assert_eq!(classify(&alice, true, true), RunningAs::Administrator);
        assert_eq!(classify(&alice, false, false), RunningAs::NotElevated);
        assert_eq!(
            classify(&alice, true, false),
            RunningAs::NotElevated,
            "elevated, not admin"
        );
        assert_eq!(
            classify(&alice, false, true),
            RunningAs::NotElevated,
            "admin by membership but the token is not elevated"
        );
    }

    #[test]
    fn only_se_security_may_be_missing() {
        let all = engine::live::FILE_SECURITY_PRIVILEGES.map(|p| (p, true));
        assert_eq!(file_privileges_outcome(&all), Ok(true));
        let no_sacl =
            engine::live::FILE_SECURITY_PRIVILEGES.map(|p| (p, p != "SeSecurityPrivilege"));
        assert_eq!(file_privileges_outcome(&no_sacl), Ok(false));
        let none = engine::live::FILE_SECURITY_PRIVILEGES.map(|p| (p, false));
        let e = file_privileges_outcome(&none).unwrap_err();
        assert!(
            e.starts_with("SeBackupPrivilege, SeRestorePrivilege, SeTakeOwnershipPrivilege cannot")
                && e.contains("elevated"),
            "{e}"
        );
        assert!(!e.contains("SeSecurityPrivilege"), "{e}");
    }
}
