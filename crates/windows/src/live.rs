//! What only a running Windows has: sessions, processes holding files (Restart
//! Manager), signing out, domain and Entra membership and leaving them, restarting.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use engine::error::{Error, Result};
use engine::live::{FileHolder, JoinState, Session};
use windows_sys::Win32::Foundation::{ERROR_MORE_DATA, ERROR_SUCCESS};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    DSREG_DEVICE_JOIN, DSREG_JOIN_INFO, DSREG_JOIN_TYPE, DSREG_WORKPLACE_JOIN, NERR_Success,
    NETSETUP_JOIN_STATUS, NetApiBufferFree, NetGetJoinInformation, NetSetupDomainName,
    NetSetupWorkgroupName,
};
use windows_sys::Win32::System::RemoteDesktop::{
    WTS_CONNECTSTATE_CLASS, WTS_CURRENT_SERVER_HANDLE, WTS_INFO_CLASS, WTS_SESSION_INFOW,
    WTSActive, WTSConnectQuery, WTSConnected, WTSDisconnected, WTSDomainName, WTSDown,
    WTSEnumerateSessionsW, WTSFreeMemory, WTSIdle, WTSInit, WTSListen, WTSLogoffSession,
    WTSQuerySessionInformationW, WTSReset, WTSShadow, WTSUserName,
};
use windows_sys::Win32::System::RestartManager::{
    CCH_RM_SESSION_KEY, RM_PROCESS_INFO, RmEndSession, RmGetList, RmRegisterResources,
    RmStartSession,
};
use windows_sys::Win32::System::Shutdown::{
    InitiateShutdownW, SHTDN_REASON_FLAG_PLANNED, SHTDN_REASON_MAJOR_OPERATINGSYSTEM,
    SHTDN_REASON_MINOR_RECONFIG, SHUTDOWN_RESTART,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, IsWow64Process};

use crate::token::{enable_privilege, process_user};
use crate::wide::{from_pwstr, from_wide, to_wide};
use crate::win32::{Attempt, Win32Error, lookup_name, system_proc, with_growing};

/// How long `logoff` waits for a session to end.
pub const LOGOFF_WAIT: Duration = Duration::from_secs(120);

/// A WTS connection state in words.
pub fn state_name(state: WTS_CONNECTSTATE_CLASS) -> &'static str {
    match state {
        WTSActive => "Active",
        WTSConnected => "Connected",
        WTSConnectQuery => "ConnectQuery",
        WTSShadow => "Shadow",
        WTSDisconnected => "Disconnected",
        WTSIdle => "Idle",
        WTSListen => "Listen",
        WTSReset => "Reset",
        WTSDown => "Down",
        WTSInit => "Init",
        _ => "Unknown",
    }
}

fn session_text(
    id: u32,
    class: WTS_INFO_CLASS,
    what: &str,
) -> std::result::Result<String, Win32Error> {
    let mut p: *mut u16 = std::ptr::null_mut();
    let mut bytes = 0u32;
    // SAFETY: `p` receives memory WTS allocated, freed below.
    let ok = unsafe {
        WTSQuerySessionInformationW(WTS_CURRENT_SERVER_HANDLE, id, class, &mut p, &mut bytes)
    };
    if ok == 0 {
        return Err(Win32Error::last(
            "WTSQuerySessionInformationW",
            format!("session {id} {what}"),
        ));
    }
    // SAFETY: WTS returned a NUL-terminated string (or null), freed once after reading.
    let text = unsafe {
        let text = from_pwstr(p);
        if !p.is_null() {
            WTSFreeMemory(p.cast());
        }
        text
    };
    Ok(text)
}

/// `DOMAIN\user`, or the user alone when there is no domain.
pub fn qualified(domain: &str, user: &str) -> String {
    if domain.is_empty() {
        user.to_string()
    } else {
        format!("{domain}\\{user}")
    }
}

/// The interactive sessions with a signed-in user (session 0, the services', never has
/// one).
pub fn sessions() -> Result<Vec<Session>> {
    let mut list: *mut WTS_SESSION_INFOW = std::ptr::null_mut();
    let mut count = 0u32;
    // SAFETY: `list` and `count` receive memory WTS allocated, freed below.
    if unsafe { WTSEnumerateSessionsW(WTS_CURRENT_SERVER_HANDLE, 0, 1, &mut list, &mut count) } == 0
    {
        return Err(Win32Error::last("WTSEnumerateSessionsW", "").other());
    }
    let raw: Vec<(u32, WTS_CONNECTSTATE_CLASS)> = if list.is_null() {
        Vec::new()
    } else {
        // SAFETY: WTS returned `count` entries at `list`, copied before it is freed.
        unsafe {
            let ids = std::slice::from_raw_parts(list, count as usize)
                .iter()
                .map(|s| (s.SessionId, s.State))
                .collect();
            WTSFreeMemory(list.cast());
            ids
        }
    };
    let mut out = Vec::new();
    for (id, state) in raw {
        if id == 0 {
            continue;
        }
        // A session can end between the two calls: then it has no user any more.
        let Ok(user) = session_text(id, WTSUserName, "user") else {
            continue;
        };
        if user.is_empty() {
            continue;
        }
        let domain = session_text(id, WTSDomainName, "domain").unwrap_or_default();
        let user = qualified(&domain, &user);
        let sid = lookup_name(&user).ok().flatten().map(|a| a.sid);
        out.push(Session {
            id,
            user,
            sid,
            state: state_name(state).to_string(),
        });
    }
    Ok(out)
}

/// Signs a session out and waits (at most [`LOGOFF_WAIT`]) until it has no user.
pub fn logoff(id: u32) -> Result<()> {
    // SAFETY: no pointers; TRUE waits for the sign-out to be carried out.
    if unsafe { WTSLogoffSession(WTS_CURRENT_SERVER_HANDLE, id, 1) } == 0 {
        return Err(Win32Error::last("WTSLogoffSession", format!("session {id}")).other());
    }
    let deadline = Instant::now() + LOGOFF_WAIT;
    loop {
        if !sessions()?.iter().any(|s| s.id == id) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Invalid(format!(
                "session {id} was signed out but still has its user after {} s; wait for it to \
                 end (or restart Windows), then run admu again",
                LOGOFF_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A Restart Manager entry as a file holder; `user` is who the process runs as, when it
/// could be found.
pub fn holder_from(info: &RM_PROCESS_INFO, user: Option<String>) -> FileHolder {
    let pid = info.Process.dwProcessId;
    let image = from_wide(&info.strAppName);
    let service = from_wide(&info.strServiceShortName);
    FileHolder {
        pid,
        image: if image.is_empty() {
            format!("process {pid}")
        } else {
            image
        },
        session: info.TSSessionId,
        user,
        service: (!service.is_empty()).then_some(service),
    }
}

/// A Restart Manager session, ended when dropped.
struct RmSession(u32);

impl Drop for RmSession {
    fn drop(&mut self) {
        // SAFETY: the handle came from RmStartSession and is ended once.
        unsafe { RmEndSession(self.0) };
    }
}

/// The processes that have any of `files` open, as Restart Manager sees them.
pub fn file_holders(files: &[&Path]) -> Result<Vec<FileHolder>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut handle = 0u32;
    let mut key = [0u16; CCH_RM_SESSION_KEY as usize + 1];
    // SAFETY: `handle` and `key` (CCH_RM_SESSION_KEY + 1 units) are writable.
    let status = unsafe { RmStartSession(&mut handle, 0, key.as_mut_ptr()) };
    if status != ERROR_SUCCESS {
        return Err(Win32Error::new("RmStartSession", "", status).other());
    }
    let session = RmSession(handle);
    let names = files
        .iter()
        .map(|f| crate::wide::os_to_wide(f.as_os_str()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let pointers: Vec<*const u16> = names.iter().map(|n| n.as_ptr()).collect();
    let shown = || {
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // SAFETY: `pointers` holds `files.len()` NUL-terminated paths alive for the call; no
    // applications or services are registered.
    let status = unsafe {
        RmRegisterResources(
            session.0,
            pointers.len() as u32,
            pointers.as_ptr(),
            0,
            std::ptr::null(),
            0,
            std::ptr::null(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(Win32Error::new("RmRegisterResources", shown(), status).other());
    }
    let infos = with_growing(
        8,
        4,
        |buf: &mut Vec<RM_PROCESS_INFO>| {
            let mut needed = 0u32;
            let mut have = buf.len() as u32;
            let mut reasons = 0u32;
            // SAFETY: `buf` holds `have` writable entries.
            let status = unsafe {
                RmGetList(
                    session.0,
                    &mut needed,
                    &mut have,
                    buf.as_mut_ptr(),
                    &mut reasons,
                )
            };
            match status {
                ERROR_SUCCESS => {
                    let n = (have as usize).min(buf.len());
                    Ok(Attempt::Done(buf[..n].to_vec()))
                }
                // Processes came or went between calls: ask again with room for them.
                ERROR_MORE_DATA => Ok(Attempt::Need(needed as usize)),
                code => Err(Win32Error::new("RmGetList", shown(), code)),
            }
        },
        |len| {
            Win32Error::new(
                "RmGetList",
                format!("{} (still growing at {len} entries)", shown()),
                ERROR_MORE_DATA,
            )
        },
    )
    .map_err(Win32Error::other)?;
    Ok(infos
        .iter()
        .map(|i| holder_from(i, process_user(i.Process.dwProcessId)))
        .collect())
}

/// Directory membership from `NetGetJoinInformation`.
pub fn join_from_status(status: NETSETUP_JOIN_STATUS, name: String) -> JoinState {
    let name = (!name.is_empty()).then_some(name);
    match status {
        NetSetupDomainName => JoinState {
            ad_domain: name,
            ..JoinState::default()
        },
        NetSetupWorkgroupName => JoinState {
            workgroup: name,
            ..JoinState::default()
        },
        _ => JoinState::default(),
    }
}

/// Entra membership from `NetGetAadJoinInformation`: the tenant (its display name, and
/// its id) when the device is joined, and whether it is only workplace-registered.
pub fn entra_from(
    join_type: DSREG_JOIN_TYPE,
    tenant_id: &str,
    display_name: &str,
) -> (Option<String>, bool) {
    match join_type {
        DSREG_DEVICE_JOIN => {
            let tenant = match (display_name.is_empty(), tenant_id.is_empty()) {
                (false, false) => format!("{display_name} ({tenant_id})"),
                (false, true) => display_name.to_string(),
                (true, false) => tenant_id.to_string(),
                (true, true) => "unknown tenant".to_string(),
            };
            (Some(tenant), false)
        }
        DSREG_WORKPLACE_JOIN => (None, true),
        _ => (None, false),
    }
}

type NetGetAadJoinInformationFn =
    unsafe extern "system" fn(*const u16, *mut *mut DSREG_JOIN_INFO) -> i32;
type NetFreeAadJoinInformationFn = unsafe extern "system" fn(*const DSREG_JOIN_INFO);
type NetUnjoinDomainFn = unsafe extern "system" fn(*const u16, *const u16, *const u16, u32) -> u32;

/// The Entra join of this device; nothing on Windows (or Wine) without the API.
fn entra() -> std::result::Result<(Option<String>, bool), Win32Error> {
    let (Some(get), Some(free)) = (
        system_proc("netapi32.dll", c"NetGetAadJoinInformation"),
        system_proc("netapi32.dll", c"NetFreeAadJoinInformation"),
    ) else {
        return Ok((None, false));
    };
    // SAFETY: both are netapi32's exports of these names, whose prototypes these types
    // restate (from lmjoin.h).
    let (get, free) = unsafe {
        (
            std::mem::transmute::<unsafe extern "system" fn() -> isize, NetGetAadJoinInformationFn>(
                get,
            ),
            std::mem::transmute::<unsafe extern "system" fn() -> isize, NetFreeAadJoinInformationFn>(
                free,
            ),
        )
    };
    let mut info: *mut DSREG_JOIN_INFO = std::ptr::null_mut();
    // SAFETY: a null tenant asks about the device's join; `info` receives memory freed
    // below.
    let hr = unsafe { get(std::ptr::null(), &mut info) };
    if hr < 0 {
        return Err(Win32Error::new("NetGetAadJoinInformation", "", hr as u32));
    }
    if info.is_null() {
        return Ok((None, false));
    }
    // SAFETY: `info` is the DSREG_JOIN_INFO just returned; its strings live in it until
    // it is freed, after reading.
    let result = unsafe {
        let i = &*info;
        let r = entra_from(
            i.joinType,
            &from_pwstr(i.pszTenantId),
            &from_pwstr(i.pszTenantDisplayName),
        );
        free(info);
        r
    };
    Ok(result)
}

/// The machine's domain, workgroup and Entra membership.
pub fn join_state() -> Result<JoinState> {
    let mut name: *mut u16 = std::ptr::null_mut();
    let mut status: NETSETUP_JOIN_STATUS = 0;
    // SAFETY: a null server is this machine; `name` receives a buffer freed below.
    let code = unsafe { NetGetJoinInformation(std::ptr::null(), &mut name, &mut status) };
    if code != NERR_Success {
        return Err(Win32Error::new("NetGetJoinInformation", "", code).other());
    }
    // SAFETY: `name` is a NUL-terminated buffer from NetGetJoinInformation, freed once.
    let text = unsafe {
        let text = from_pwstr(name);
        if !name.is_null() {
            NetApiBufferFree(name as *const _);
        }
        text
    };
    let mut state = join_from_status(status, text);
    let (tenant, workplace) = entra().map_err(Win32Error::other)?;
    state.entra_tenant = tenant;
    state.workplace_joined = workplace;
    Ok(state)
}

/// Leaves the Active Directory domain (the computer account is left as it is).
pub fn leave_ad_domain() -> Result<()> {
    let Some(unjoin) = system_proc("netapi32.dll", c"NetUnjoinDomain") else {
        return Err(Error::Invalid(
            "NetUnjoinDomain is not available on this Windows".into(),
        ));
    };
    // SAFETY: netapi32's export of this name, whose prototype this type restates.
    let unjoin = unsafe {
        std::mem::transmute::<unsafe extern "system" fn() -> isize, NetUnjoinDomainFn>(unjoin)
    };
    // SAFETY: null server, account and password: this machine, as the caller; no flags
    // (the computer account in the domain is not disabled).
    let code = unsafe { unjoin(std::ptr::null(), std::ptr::null(), std::ptr::null(), 0) };
    if code != NERR_Success {
        return Err(Win32Error::new("NetUnjoinDomain", "", code).other());
    }
    Ok(())
}

/// Where the 64-bit `dsregcmd.exe` is: a 32-bit process on 64-bit Windows sees
/// System32 redirected to SysWOW64, and must go through Sysnative.
pub fn dsregcmd_path(windows_dir: &Path, wow64: bool) -> PathBuf {
    windows_dir
        .join(if wow64 { "Sysnative" } else { "System32" })
        .join("dsregcmd.exe")
}

fn is_wow64() -> bool {
    let mut wow64 = 0;
    // SAFETY: the current-process pseudo-handle; `wow64` is writable.
    let ok = unsafe { IsWow64Process(GetCurrentProcess(), &mut wow64) };
    ok != 0 && wow64 != 0
}

/// Leaves Entra with `dsregcmd /leave` (it must run as SYSTEM to succeed).
pub fn leave_entra(windows_dir: &Path) -> Result<()> {
    let exe = dsregcmd_path(windows_dir, is_wow64());
    let out = engine::child_env::without_secrets(&mut std::process::Command::new(&exe))
        .arg("/leave")
        .output()
        .map_err(Error::io(&exe))?;
    if !out.status.success() {
        let text = format!(
            "{} {}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return Err(Error::Invalid(format!(
            "{} /leave failed ({}): {}",
            exe.display(),
            out.status,
            text.trim()
        )));
    }
    Ok(())
}

/// The reason recorded for admu's restart: planned operating system reconfiguration.
pub const REBOOT_REASON: u32 =
    SHTDN_REASON_MAJOR_OPERATINGSYSTEM | SHTDN_REASON_MINOR_RECONFIG | SHTDN_REASON_FLAG_PLANNED;

/// Restarts Windows after `delay_secs`, showing `reason` to whoever is signed in.
pub fn reboot(delay_secs: u32, reason: &str) -> Result<()> {
    match enable_privilege("SeShutdownPrivilege") {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::Refused(
                "SeShutdownPrivilege cannot be enabled: this account may not restart Windows"
                    .into(),
            ));
        }
        Err(e) => return Err(e.other()),
    }
    let message = to_wide(reason)?;
    // SAFETY: a null machine name is this machine; `message` is NUL-terminated.
    let code = unsafe {
        InitiateShutdownW(
            std::ptr::null(),
            message.as_ptr(),
            delay_secs,
            SHUTDOWN_RESTART,
            REBOOT_REASON,
        )
    };
    if code != ERROR_SUCCESS {
        return Err(Win32Error::new(
            "InitiateShutdownW",
            format!("restart in {delay_secs} s"),
            code,
        )
        .other());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rm(pid: u32, app: &str, service: &str, session: u32) -> RM_PROCESS_INFO {
        let mut info = RM_PROCESS_INFO::default();
        info.Process.dwProcessId = pid;
        for (dst, src) in info.strAppName.iter_mut().zip(app.encode_utf16()) {
            *dst = src;
        }
        for (dst, src) in info
            .strServiceShortName
            .iter_mut()
            .zip(service.encode_utf16())
        {
            *dst = src;
        }
        info.TSSessionId = session;
        info
    }

    #[test]
    fn restart_manager_entries_become_file_holders() {
        let h = holder_from(
            &rm(4242, "Microsoft OneDrive", "", 1),
            Some(r"CORP\alice".into()),
        );
        assert_eq!(
            h,
            FileHolder {
                pid: 4242,
                image: "Microsoft OneDrive".into(),
                session: 1,
                user: Some(r"CORP\alice".into()),
                service: None,
            }
        );
        let s = holder_from(&rm(900, "User Profile Service", "ProfSvc", 0), None);
        assert_eq!(s.service.as_deref(), Some("ProfSvc"));
        assert_eq!(s.user, None);
        let nameless = holder_from(&rm(7, "", "", 2), None);
        assert_eq!(nameless.image, "process 7");
        // A name filling the whole field (no NUL) is kept whole.
        let long = "x".repeat(256);
        assert_eq!(holder_from(&rm(8, &long, "", 0), None).image, long);
    }

    #[test]
    fn join_information_becomes_a_join_state() {
        let ad = join_from_status(NetSetupDomainName, "CORP".into());
        assert_eq!(ad.ad_domain.as_deref(), Some("CORP"));
        assert_eq!(ad.workgroup, None);
        let wg = join_from_status(NetSetupWorkgroupName, "WORKGROUP".into());
        assert_eq!(wg.workgroup.as_deref(), Some("WORKGROUP"));
        assert_eq!(join_from_status(0, String::new()), JoinState::default());

        let id = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(
            entra_from(DSREG_DEVICE_JOIN, id, "Contoso"),
            (Some(format!("Contoso ({id})")), false)
        );
        assert_eq!(
            entra_from(DSREG_DEVICE_JOIN, id, ""),
            (Some(id.to_string()), false)
        );
        assert_eq!(
            entra_from(DSREG_WORKPLACE_JOIN, id, "Contoso"),
            (None, true)
        );
        assert_eq!(entra_from(0, "", ""), (None, false));
    }

    #[test]
    fn the_64_bit_dsregcmd_is_run() {
        let w = Path::new(r"C:\Windows");
        assert_eq!(
            dsregcmd_path(w, false),
            Path::new(r"C:\Windows\System32\dsregcmd.exe")
        );
        assert_eq!(
            dsregcmd_path(w, true),
            Path::new(r"C:\Windows\Sysnative\dsregcmd.exe")
        );
    }

    #[test]
    fn sessions_and_reasons_read_as_windows_says_them() {
        assert_eq!(state_name(WTSActive), "Active");
        assert_eq!(state_name(WTSDisconnected), "Disconnected");
        assert_eq!(state_name(99), "Unknown");
        assert_eq!(qualified("CORP", "alice"), r"CORP\alice");
        assert_eq!(qualified("", "alice"), "alice");
        assert_eq!(REBOOT_REASON, 0x8002_0004);
    }
}
