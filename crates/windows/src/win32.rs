//! What every part of the host shares: Win32 errors with Windows' own text, buffers
//! that grow to what a call says it needs, SIDs in and out of Win32, account lookups,
//! and functions looked up at run time.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::path::PathBuf;

use ntsec::Sid;
use windows_sys::Win32::Foundation::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_NONE_MAPPED, FreeLibrary, GetLastError,
};
use windows_sys::Win32::Security::{
    GetLengthSid, IsValidSid, LookupAccountNameW, LookupAccountSidW, PSID, SID_NAME_USE,
    SidTypeAlias, SidTypeComputer, SidTypeDeletedAccount, SidTypeDomain, SidTypeGroup, SidTypeUser,
    SidTypeWellKnownGroup,
};
use windows_sys::Win32::System::Diagnostics::Debug::{
    FORMAT_MESSAGE_FROM_HMODULE, FORMAT_MESSAGE_FROM_SYSTEM, FORMAT_MESSAGE_IGNORE_INSERTS,
    FormatMessageW,
};
use windows_sys::Win32::System::Environment::ExpandEnvironmentStringsW;
use windows_sys::Win32::System::LibraryLoader::{
    GetProcAddress, LOAD_LIBRARY_AS_DATAFILE, LOAD_LIBRARY_SEARCH_SYSTEM32, LoadLibraryExW,
};
use windows_sys::Win32::System::SystemInformation::GetSystemWindowsDirectoryW;

use crate::wide::{from_wide, to_wide};

/// A Win32 call that failed: which API, on what (a key, a user, a file; may be empty),
/// and the Win32 error code. Shown as `API arg: Windows' text (code)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Win32Error {
    pub api: &'static str,
    pub arg: String,
    pub code: u32,
}

impl Win32Error {
    pub fn new(api: &'static str, arg: impl Into<String>, code: u32) -> Win32Error {
        Win32Error {
            api,
            arg: arg.into(),
            code,
        }
    }

    /// The calling thread's last error (`GetLastError`), right after `api` failed.
    pub fn last(api: &'static str, arg: impl Into<String>) -> Win32Error {
        // SAFETY: GetLastError only reads the calling thread's error slot.
        let code = unsafe { GetLastError() };
        Win32Error::new(api, arg, code)
    }

    /// For the local accounts (`Error::Accounts`).
    pub fn accounts(self) -> engine::Error {
        engine::Error::Accounts(self.to_string())
    }

    /// For anything that is not an account or a file (`Error::Invalid` carries the text).
    pub fn other(self) -> engine::Error {
        engine::Error::Invalid(self.to_string())
    }

    /// For a file or a registry key: the path, and an `io::Error` of the code's kind.
    pub fn at(self, path: impl Into<PathBuf>) -> engine::Error {
        engine::Error::Io {
            path: path.into(),
            source: self.into(),
        }
    }
}

impl fmt::Display for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = message(self.code);
        if self.arg.is_empty() {
            write!(f, "{}: {text} ({})", self.api, self.code)
        } else {
            write!(f, "{} {}: {text} ({})", self.api, self.arg, self.code)
        }
    }
}

impl std::error::Error for Win32Error {}

impl From<Win32Error> for io::Error {
    fn from(e: Win32Error) -> io::Error {
        let kind = io::Error::from_raw_os_error(e.code as i32).kind();
        io::Error::new(kind, e)
    }
}

/// Network management errors (`NERR_*`, 2100–2999) have their text in netmsg.dll, not
/// in the system's message table.
fn is_netapi_error(code: u32) -> bool {
    (2100..3000).contains(&code)
}

/// Windows' text for a Win32 error code, on one line; `error N` when it has none.
pub fn message(code: u32) -> String {
    let mut buf = [0u16; 1024];
    let mut module = std::ptr::null_mut();
    if is_netapi_error(code) {
        let name: Vec<u16> = "netmsg.dll\0".encode_utf16().collect();
        // SAFETY: `name` is NUL-terminated; loading as a data file runs no code.
        module = unsafe {
            LoadLibraryExW(
                name.as_ptr(),
                std::ptr::null_mut(),
                LOAD_LIBRARY_AS_DATAFILE | LOAD_LIBRARY_SEARCH_SYSTEM32,
            )
        };
    }
    let flags = FORMAT_MESSAGE_IGNORE_INSERTS
        | if module.is_null() {
            FORMAT_MESSAGE_FROM_SYSTEM
        } else {
            FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_FROM_SYSTEM
        };
    // SAFETY: `buf` is writable for its length in UTF-16 units; with IGNORE_INSERTS no
    // arguments are read; `module` is null or a module loaded just above.
    let n = unsafe {
        FormatMessageW(
            flags,
            module as *const _,
            code,
            0,
            buf.as_mut_ptr(),
            buf.len() as u32,
            std::ptr::null(),
        )
    };
    if !module.is_null() {
        // SAFETY: `module` was loaded above and nothing of it is used any more.
        unsafe { FreeLibrary(module) };
    }
    if n == 0 {
        return format!("error {code}");
    }
    clean_message(&String::from_utf16_lossy(
        &buf[..(n as usize).min(buf.len())],
    ))
}

/// A system message on one line, without the trailing line break.
pub fn clean_message(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One attempt of a call that says how big its buffer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt<T> {
    /// It worked.
    Done(T),
    /// The buffer was too small; the call needs this many elements (0 when it did not
    /// say).
    Need(usize),
}

/// How many attempts a growing buffer gets before giving up (a list that keeps growing
/// faster than we can ask, or a call that keeps asking for more).
pub const GROW_ATTEMPTS: usize = 8;

/// The next buffer length: what the call asked for plus `slack` (for lists that can grow
/// between two calls, such as processes), and at least twice the current length when it
/// did not ask for more than it had.
pub fn next_len(have: usize, need: usize, slack: usize) -> usize {
    let asked = need.saturating_add(slack);
    if need > have {
        asked
    } else {
        asked.max(have.saturating_mul(2)).max(1)
    }
}

/// Calls `call` with a buffer of `initial` elements, growing it to what the call needs
/// until it succeeds, at most [`GROW_ATTEMPTS`] times; then `exhausted(len)`.
pub fn with_growing<B, T, E>(
    initial: usize,
    slack: usize,
    mut call: impl FnMut(&mut Vec<B>) -> Result<Attempt<T>, E>,
    exhausted: impl FnOnce(usize) -> E,
) -> Result<T, E>
where
    B: Clone + Default,
{
    let mut buf = vec![B::default(); initial];
    for _ in 0..GROW_ATTEMPTS {
        match call(&mut buf)? {
            Attempt::Done(t) => return Ok(t),
            Attempt::Need(need) => {
                let len = next_len(buf.len(), need, slack);
                buf.clear();
                buf.resize(len, B::default());
            }
        }
    }
    Err(exhausted(buf.len()))
}

/// A SID as Win32 wants it: the bytes in a 4-byte aligned buffer (a SID's
/// subauthorities are DWORDs).
pub struct SidBuf(Vec<u32>);

impl SidBuf {
    pub fn new(sid: &Sid) -> SidBuf {
        let bytes = sid.to_bytes();
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        for (i, b) in bytes.iter().enumerate() {
            words[i / 4] |= u32::from(*b) << (8 * (i % 4));
        }
        SidBuf(words)
    }

    /// A `PSID` for Win32 input parameters (which are declared mutable but not written).
    pub fn as_psid(&self) -> PSID {
        self.0.as_ptr() as PSID
    }

    /// The bytes, as a check in tests.
    #[cfg(test)]
    fn bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

impl fmt::Debug for SidBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SidBuf")
    }
}

/// The SID at `psid`.
///
/// # Safety
/// `psid` is null or points to memory Windows filled with a SID (it is checked with
/// `IsValidSid` before its length is trusted).
pub unsafe fn sid_from_psid(psid: PSID) -> Option<Sid> {
    // SAFETY: IsValidSid reads the SID header and subauthority count the caller provides.
    if psid.is_null() || unsafe { IsValidSid(psid) } == 0 {
        return None;
    }
    // SAFETY: a valid SID's length covers exactly its readable bytes.
    let len = unsafe { GetLengthSid(psid) } as usize;
    // SAFETY: `len` bytes at `psid` are the SID just validated.
    let bytes = unsafe { std::slice::from_raw_parts(psid as *const u8, len) };
    Sid::from_bytes(bytes).ok().map(|(sid, _)| sid)
}

/// An account as `LookupAccountNameW`/`LookupAccountSidW` return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub sid: Sid,
    pub domain: String,
    pub name: String,
    pub kind: SID_NAME_USE,
}

impl Account {
    /// `DOMAIN\name` (or `name` alone for accounts without a domain, like `Everyone`).
    pub fn qualified(&self) -> String {
        if self.domain.is_empty() {
            self.name.clone()
        } else {
            format!("{}\\{}", self.domain, self.name)
        }
    }
}

/// What kind of account a `SID_NAME_USE` is, in words.
pub fn sid_use_name(kind: SID_NAME_USE) -> &'static str {
    match kind {
        SidTypeUser => "user",
        SidTypeGroup => "group",
        SidTypeDomain => "domain",
        SidTypeAlias => "local group",
        SidTypeWellKnownGroup => "well-known group",
        SidTypeDeletedAccount => "deleted account",
        SidTypeComputer => "computer",
        _ => "account",
    }
}

/// Looks an account name up on this machine (`DOMAIN\name`, or a bare name, which
/// Windows looks for in well-known, builtin, local, then domain accounts). `None` when
/// Windows knows no such account.
pub fn lookup_name(name: &str) -> Result<Option<Account>, Win32Error> {
    let wname = to_wide(name).map_err(|_| Win32Error::new("LookupAccountNameW", name, 87))?;
    let mut sid = vec![0u32; 17];
    let mut domain = vec![0u16; 64];
    for _ in 0..GROW_ATTEMPTS {
        let mut sid_bytes = (sid.len() * 4) as u32;
        let mut domain_len = domain.len() as u32;
        let mut kind: SID_NAME_USE = 0;
        // SAFETY: every buffer is writable for the length passed with it; `wname` is
        // NUL-terminated.
        let ok = unsafe {
            LookupAccountNameW(
                std::ptr::null(),
                wname.as_ptr(),
                sid.as_mut_ptr() as PSID,
                &mut sid_bytes,
                domain.as_mut_ptr(),
                &mut domain_len,
                &mut kind,
            )
        };
        if ok != 0 {
            // SAFETY: Windows just wrote a SID into `sid`.
            let Some(parsed) = (unsafe { sid_from_psid(sid.as_mut_ptr() as PSID) }) else {
                return Ok(None);
            };
            let (domain_name, account) = match name.rsplit_once('\\') {
                Some((_, n)) => (from_wide(&domain), n.to_string()),
                None => (from_wide(&domain), name.to_string()),
            };
            return Ok(Some(Account {
                sid: parsed,
                domain: domain_name,
                name: account,
                kind,
            }));
        }
        let e = Win32Error::last("LookupAccountNameW", name);
        match e.code {
            ERROR_NONE_MAPPED => return Ok(None),
            ERROR_INSUFFICIENT_BUFFER => {
                sid.resize((sid_bytes as usize).div_ceil(4).max(sid.len()), 0);
                domain.resize((domain_len as usize).max(domain.len() * 2), 0);
            }
            _ => return Err(e),
        }
    }
    Err(Win32Error::new(
        "LookupAccountNameW",
        name,
        ERROR_INSUFFICIENT_BUFFER,
    ))
}

/// Looks a SID up on this machine; `None` when Windows cannot name it.
pub fn lookup_sid(sid: &Sid) -> Result<Option<Account>, Win32Error> {
    let buf = SidBuf::new(sid);
    let mut name = vec![0u16; 128];
    let mut domain = vec![0u16; 64];
    for _ in 0..GROW_ATTEMPTS {
        let mut name_len = name.len() as u32;
        let mut domain_len = domain.len() as u32;
        let mut kind: SID_NAME_USE = 0;
        // SAFETY: `buf` holds a valid SID; both buffers are writable for the lengths
        // passed.
        let ok = unsafe {
            LookupAccountSidW(
                std::ptr::null(),
                buf.as_psid(),
                name.as_mut_ptr(),
                &mut name_len,
                domain.as_mut_ptr(),
                &mut domain_len,
                &mut kind,
            )
        };
        if ok != 0 {
            return Ok(Some(Account {
                sid: sid.clone(),
                domain: from_wide(&domain),
                name: from_wide(&name),
                kind,
            }));
        }
        let e = Win32Error::last("LookupAccountSidW", sid.to_string());
        match e.code {
            ERROR_NONE_MAPPED => return Ok(None),
            ERROR_INSUFFICIENT_BUFFER => {
                name.resize((name_len as usize).max(name.len() * 2), 0);
                domain.resize((domain_len as usize).max(domain.len() * 2), 0);
            }
            _ => return Err(e),
        }
    }
    Err(Win32Error::new(
        "LookupAccountSidW",
        sid.to_string(),
        ERROR_INSUFFICIENT_BUFFER,
    ))
}

/// A builtin alias's SID, `S-1-5-32-<rid>`.
pub fn builtin_alias(rid: u32) -> Sid {
    Sid::new(5, &[32, rid]).expect("two subauthorities are within the limit of fifteen")
}

/// The RID of a builtin alias SID (`S-1-5-32-<rid>`), `None` for any other SID.
pub fn builtin_rid(sid: &Sid) -> Option<u32> {
    match (sid.authority(), sid.sub_authorities()) {
        (5, [32, rid]) => Some(*rid),
        _ => None,
    }
}

/// `%VAR%` references expanded from the environment (`ExpandEnvironmentStringsW`);
/// unknown variables stay as they are.
pub fn expand_env(text: &str) -> Result<String, Win32Error> {
    let src = to_wide(text).map_err(|_| Win32Error::new("ExpandEnvironmentStringsW", text, 87))?;
    with_growing(
        src.len() + 64,
        0,
        |buf: &mut Vec<u16>| {
            // SAFETY: `src` is NUL-terminated; `buf` is writable for its length.
            let n = unsafe {
                ExpandEnvironmentStringsW(src.as_ptr(), buf.as_mut_ptr(), buf.len() as u32)
            } as usize;
            if n == 0 {
                return Err(Win32Error::last("ExpandEnvironmentStringsW", text));
            }
            if n > buf.len() {
                return Ok(Attempt::Need(n));
            }
            Ok(Attempt::Done(from_wide(&buf[..n])))
        },
        |_| Win32Error::new("ExpandEnvironmentStringsW", text, ERROR_INSUFFICIENT_BUFFER),
    )
}

/// The Windows folder (`C:\Windows`) from `GetSystemWindowsDirectoryW`, not from the
/// environment, which whoever starts admu can change.
pub fn windows_dir() -> Result<PathBuf, Win32Error> {
    with_growing(
        260,
        0,
        |buf: &mut Vec<u16>| {
            // SAFETY: `buf` is writable for its length.
            let n =
                unsafe { GetSystemWindowsDirectoryW(buf.as_mut_ptr(), buf.len() as u32) } as usize;
            if n == 0 {
                return Err(Win32Error::last("GetSystemWindowsDirectoryW", ""));
            }
            if n >= buf.len() {
                return Ok(Attempt::Need(n + 1));
            }
            Ok(Attempt::Done(PathBuf::from(from_wide(&buf[..n]))))
        },
        |_| Win32Error::new("GetSystemWindowsDirectoryW", "", ERROR_INSUFFICIENT_BUFFER),
    )
}

/// The root of the drive Windows is on (`C:\`), from the Windows folder: what
/// `%SystemDrive%\` names, without trusting the environment.
pub fn drive_root(windows_dir: &std::path::Path) -> Option<PathBuf> {
    let text = windows_dir.to_str()?;
    let b = text.as_bytes();
    (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
        .then(|| PathBuf::from(format!("{}\\", &text[..2])))
}

/// A function of a system DLL looked up at run time, for functions that not every
/// Windows (nor Wine) exports: importing them would keep admu from starting there.
pub fn system_proc(dll: &str, name: &CStr) -> Option<unsafe extern "system" fn() -> isize> {
    let wdll = to_wide(dll).ok()?;
    // SAFETY: `wdll` is NUL-terminated; only System32 is searched. The module stays
    // loaded for the life of the process (admu imports these DLLs anyway).
    let module = unsafe {
        LoadLibraryExW(
            wdll.as_ptr(),
            std::ptr::null_mut(),
            LOAD_LIBRARY_SEARCH_SYSTEM32,
        )
    };
    if module.is_null() {
        return None;
    }
    // SAFETY: `module` is loaded and `name` is NUL-terminated.
    unsafe { GetProcAddress(module, name.as_ptr() as *const u8) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_grow_to_what_the_call_needs_and_give_up_in_time() {
        assert_eq!(next_len(0, 10, 0), 10);
        assert_eq!(
            next_len(4, 10, 3),
            13,
            "slack for lists that grow between calls"
        );
        assert_eq!(
            next_len(16, 10, 0),
            32,
            "a call asking for no more than it had: double"
        );
        assert_eq!(next_len(0, 0, 0), 1, "never stuck at zero");
        assert_eq!(
            next_len(usize::MAX, usize::MAX, 5),
            usize::MAX,
            "no overflow"
        );

        // A call that needs 100 elements, as RmGetList says with ERROR_MORE_DATA.
        let mut lens = Vec::new();
        let got: Result<usize, String> = with_growing(
            0,
            4,
            |buf: &mut Vec<u8>| {
                lens.push(buf.len());
                Ok(if buf.len() >= 100 {
                    Attempt::Done(buf.len())
                } else {
                    Attempt::Need(100)
                })
            },
            |n| format!("gave up at {n}"),
        );
        assert_eq!(got, Ok(104));
        assert_eq!(lens, vec![0, 104]);

        // A list that keeps growing: bounded.
        let mut need = 10;
        let mut calls = 0;
        let got: Result<(), String> = with_growing(
            1,
            0,
            |buf: &mut Vec<u16>| {
                calls += 1;
                need = buf.len() + 10;
                Ok(Attempt::Need(need))
            },
            |n| format!("gave up at {n}"),
        );
        assert!(got.unwrap_err().starts_with("gave up"));
        assert_eq!(calls, GROW_ATTEMPTS);

        // Errors stop the loop at once.
        let got: Result<(), &str> = with_growing(1, 0, |_: &mut Vec<u8>| Err("boom"), |_| "x");
        assert_eq!(got, Err("boom"));
    }

    #[test]
    fn sids_round_trip_through_an_aligned_buffer() {
        for text in [
            "S-1-5-18",
            "S-1-5-32-544",
            "S-1-5-21-1004336348-1177238915-682003330-1001",
        ] {
            let sid: Sid = text.parse().unwrap();
            let buf = SidBuf::new(&sid);
            assert_eq!(buf.as_psid() as usize % 4, 0);
            assert_eq!(&buf.bytes()[..sid.byte_len()], &sid.to_bytes()[..]);
            // SAFETY: the buffer holds the SID just written.
            let back = unsafe { sid_from_psid(buf.as_psid()) };
            assert_eq!(back, Some(sid));
        }
        // SAFETY: null is allowed.
        assert_eq!(unsafe { sid_from_psid(std::ptr::null_mut()) }, None);
    }

    #[test]
    fn builtin_aliases_are_recognised_by_sid() {
        assert_eq!(builtin_alias(544).to_string(), "S-1-5-32-544");
        assert_eq!(builtin_rid(&builtin_alias(545)), Some(545));
        assert_eq!(builtin_rid(&"S-1-5-21-1-2-3-544".parse().unwrap()), None);
        assert_eq!(builtin_rid(&"S-1-5-32".parse().unwrap()), None);
    }

    #[test]
    fn messages_are_one_line_and_name_api_argument_and_code() {
        assert_eq!(clean_message("Access is denied.\r\n"), "Access is denied.");
        assert_eq!(clean_message("a\r\nb  c"), "a b c");
        let e = Win32Error::new("NetUserAdd", "alice", 2224);
        let text = e.to_string();
        assert!(
            text.starts_with("NetUserAdd alice: ") && text.ends_with("(2224)"),
            "{text}"
        );
        let e = Win32Error::new("RegOpenKeyExW", "", 5);
        assert!(e.to_string().starts_with("RegOpenKeyExW: "), "{e}");
        let io: io::Error = Win32Error::new("CreateFileW", "", 2).into();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        let engine = Win32Error::new("CreateFileW", "", 5).at(r"C:\x");
        assert!(
            engine.to_string().starts_with(r"C:\x: CreateFileW: "),
            "{engine}"
        );
        assert!(is_netapi_error(2245) && !is_netapi_error(5));
        // Windows' own text (Wine has the system message table too).
        assert_ne!(message(5), "error 5");
        assert_ne!(
            message(2221),
            "error 2221",
            "NERR_* text comes from netmsg.dll"
        );
        assert_ne!(
            message(0x8007_0005),
            "error 2147942405",
            "HRESULTs of Win32 errors"
        );
        assert!(!message(5).contains('\n'));
    }

    #[test]
    fn the_system_drive_comes_from_the_windows_folder() {
        assert_eq!(
            drive_root(r"C:\Windows".as_ref()),
            Some(PathBuf::from(r"C:\"))
        );
        assert_eq!(
            drive_root(r"d:\WINNT".as_ref()),
            Some(PathBuf::from(r"d:\"))
        );
        assert_eq!(drive_root(r"\\srv\share".as_ref()), None);
    }
}
