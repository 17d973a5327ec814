//! Local accounts and logon rights: the Net* user and local-group functions and the LSA
//! policy. Builtin groups are always found by SID (`S-1-5-32-<rid>`), never by their
//! English name, which Windows translates.

use engine::error::{Error, Result};
use engine::host::{LocalUser, NewAccount};
use ntsec::Sid;
use windows_sys::Win32::Foundation::{
    ERROR_INVALID_LEVEL, ERROR_MEMBER_IN_ALIAS, ERROR_MEMBER_NOT_IN_ALIAS, ERROR_MORE_DATA,
    ERROR_NO_SUCH_MEMBER, STATUS_OBJECT_NAME_NOT_FOUND,
};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    FILTER_NORMAL_ACCOUNT, LOCALGROUP_INFO_0, LOCALGROUP_MEMBERS_INFO_0, MAX_PREFERRED_LENGTH,
    NERR_Success, NetApiBufferFree, NetLocalGroupAddMembers, NetLocalGroupDelMembers,
    NetLocalGroupEnum, NetLocalGroupGetMembers, NetUserAdd, NetUserDel, NetUserEnum,
    NetUserSetInfo, UF_ACCOUNTDISABLE, UF_NORMAL_ACCOUNT, UF_SCRIPT, USER_COMMENT_PARMNUM,
    USER_FLAGS_PARMNUM, USER_HOME_DIR_PARMNUM, USER_INFO_1, USER_INFO_3, USER_INFO_20,
    USER_INFO_1011, USER_NAME_PARMNUM, USER_PASSWORD_AGE_PARMNUM, USER_PASSWORD_PARMNUM,
    USER_PRIV_USER,
};
use windows_sys::Win32::Security::Authentication::Identity::{
    LSA_HANDLE, LSA_OBJECT_ATTRIBUTES, LSA_UNICODE_STRING, LsaAddAccountRights, LsaClose,
    LsaEnumerateAccountRights, LsaFreeMemory, LsaNtStatusToWinError, LsaOpenPolicy,
    LsaQueryInformationPolicy, LsaRemoveAccountRights, POLICY_ACCOUNT_DOMAIN_INFO,
    POLICY_CREATE_ACCOUNT, POLICY_LOOKUP_NAMES, POLICY_VIEW_LOCAL_INFORMATION,
    PolicyAccountDomainInformation,
};
use windows_sys::Win32::Security::SidTypeUser;
use windows_sys::Win32::System::SystemInformation::{ComputerNameNetBIOS, GetComputerNameExW};

use crate::wide::{SecretWide, from_pwstr, to_wide};
use crate::win32::{
    Account, Attempt, SidBuf, Win32Error, builtin_alias, builtin_rid, lookup_name, lookup_sid,
    sid_from_psid, sid_use_name, with_growing,
};

/// The first RID of an account that was not made by Windows Setup.
const FIRST_USER_RID: u32 = 1000;
/// Users and Administrators.
const USERS: u32 = 545;
const ADMINISTRATORS: u32 = 544;
/// The logon right that keeps an account from signing in at the console.
pub const DENY_INTERACTIVE: &str = "SeDenyInteractiveLogonRight";

/// A buffer the Net* functions allocated, freed when dropped.
struct NetBuf(*mut u8);

impl Drop for NetBuf {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a Net* function and is freed once.
            unsafe { NetApiBufferFree(self.0 as *const _) };
        }
    }
}

/// Calls a Net*Enum function until it has returned every entry, handing each entry of
/// type `T` to `each`.
///
/// # Safety
/// `T` is the entry type of the information level `call` asks for.
unsafe fn net_enum<T, R: Default>(
    api: &'static str,
    arg: &str,
    mut call: impl FnMut(*mut *mut u8, &mut u32, &mut u32, &mut R) -> u32,
    mut each: impl FnMut(&T),
) -> std::result::Result<(), Win32Error> {
    let mut resume = R::default();
    loop {
        let mut buf = NetBuf(std::ptr::null_mut());
        let (mut read, mut total) = (0u32, 0u32);
        let status = call(&mut buf.0, &mut read, &mut total, &mut resume);
        if status != NERR_Success && status != ERROR_MORE_DATA {
            return Err(Win32Error::new(api, arg, status));
        }
        if !buf.0.is_null() {
            // SAFETY: the function returned `read` entries of type `T` (the caller's
            // promise) in `buf`.
            let entries = unsafe { std::slice::from_raw_parts(buf.0 as *const T, read as usize) };
            entries.iter().for_each(&mut each);
        }
        if status != ERROR_MORE_DATA {
            return Ok(());
        }
        if read == 0 {
            // More to come but nothing returned: asking again would never end.
            return Err(Win32Error::new(api, arg, status));
        }
    }
}

/// A FILETIME from the seconds since 1970 that the Net* functions give; `None` for 0
/// (never).
pub fn unix_to_filetime(secs: u32) -> Option<u64> {
    const EPOCH_DIFF: u64 = 11_644_473_600;
    (secs != 0).then(|| (u64::from(secs) + EPOCH_DIFF) * 10_000_000)
}

/// A local user from what `NetUserEnum` level 3 says.
pub fn local_user(
    machine: &Sid,
    name: String,
    full_name: String,
    flags: u32,
    last_logon: u32,
    rid: u32,
) -> std::result::Result<LocalUser, String> {
    let sid = machine
        .with_rid(rid)
        .map_err(|e| format!("{name}: RID {rid} does not fit the machine SID {machine}: {e}"))?;
    Ok(LocalUser {
        name,
        rid,
        sid,
        full_name,
        disabled: flags & UF_ACCOUNTDISABLE != 0,
        last_logon: unix_to_filetime(last_logon),
    })
}

/// Which field of USER_INFO_1 Windows refused (`parm_err` of NetUserAdd).
pub fn user_info_1_field(parm_err: u32) -> Option<&'static str> {
    Some(match parm_err {
        USER_NAME_PARMNUM => "name",
        USER_PASSWORD_PARMNUM => "password",
        USER_PASSWORD_AGE_PARMNUM => "password age",
        USER_HOME_DIR_PARMNUM => "home folder",
        USER_COMMENT_PARMNUM => "comment",
        USER_FLAGS_PARMNUM => "flags",
        _ => return None,
    })
}

/// The LSA policy of this machine, closed when dropped.
struct Policy(LSA_HANDLE);

impl Drop for Policy {
    fn drop(&mut self) {
        // SAFETY: the handle came from LsaOpenPolicy and is closed once.
        unsafe { LsaClose(self.0) };
    }
}

/// An NTSTATUS from LSA as a Win32 error.
fn lsa_error(api: &'static str, arg: impl Into<String>, status: i32) -> Win32Error {
    // SAFETY: a pure conversion of a status code.
    let code = unsafe { LsaNtStatusToWinError(status) };
    Win32Error::new(api, arg, code)
}

fn open_policy(access: u32) -> std::result::Result<Policy, Win32Error> {
    let attributes = LSA_OBJECT_ATTRIBUTES::default();
    let mut handle: LSA_HANDLE = 0;
    // SAFETY: a null system name is this machine; the attributes are zeroed as LSA
    // requires; `handle` receives the policy handle.
    let status = unsafe { LsaOpenPolicy(std::ptr::null(), &attributes, access, &mut handle) };
    if status != 0 {
        return Err(lsa_error("LsaOpenPolicy", "", status));
    }
    Ok(Policy(handle))
}

/// An LSA string over `units` (UTF-16 without a NUL); it borrows them.
pub fn lsa_string(units: &mut [u16]) -> LSA_UNICODE_STRING {
    let bytes = (units.len() * 2).min(usize::from(u16::MAX - 1)) as u16;
    LSA_UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: units.as_mut_ptr(),
    }
}

/// The text of an LSA string.
///
/// # Safety
/// `s.Buffer` is null or readable for `s.Length` bytes.
pub unsafe fn from_lsa_string(s: &LSA_UNICODE_STRING) -> String {
    if s.Buffer.is_null() {
        return String::new();
    }
    // SAFETY: the caller promises `Length` readable bytes at `Buffer`.
    let units = unsafe { std::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2) };
    String::from_utf16_lossy(units)
}

/// The machine SID (the local account domain's SID).
pub fn machine_sid() -> Result<Sid> {
    let policy = open_policy(POLICY_VIEW_LOCAL_INFORMATION as u32).map_err(Win32Error::accounts)?;
    let mut buf: *mut std::ffi::c_void = std::ptr::null_mut();
    // SAFETY: `policy` is open with POLICY_VIEW_LOCAL_INFORMATION; `buf` receives memory
    // LSA allocated.
    let status =
        unsafe { LsaQueryInformationPolicy(policy.0, PolicyAccountDomainInformation, &mut buf) };
    if status != 0 {
        return Err(lsa_error("LsaQueryInformationPolicy", "account domain", status).accounts());
    }
    // SAFETY: LSA returned a POLICY_ACCOUNT_DOMAIN_INFO whose SID lives in the same
    // allocation, read before it is freed.
    let sid = unsafe {
        let info = &*(buf as *const POLICY_ACCOUNT_DOMAIN_INFO);
        let sid = sid_from_psid(info.DomainSid);
        LsaFreeMemory(buf);
        sid
    };
    sid.ok_or_else(|| {
        Error::Accounts("LsaQueryInformationPolicy: the account domain has no SID".into())
    })
}

/// The NetBIOS name of this computer.
pub fn computer_name() -> Result<String> {
    with_growing(
        16,
        0,
        |buf: &mut Vec<u16>| {
            let mut len = buf.len() as u32;
            // SAFETY: `buf` is writable for `len` units.
            if unsafe { GetComputerNameExW(ComputerNameNetBIOS, buf.as_mut_ptr(), &mut len) } != 0 {
                return Ok(Attempt::Done(String::from_utf16_lossy(
                    &buf[..len as usize],
                )));
            }
            let e = Win32Error::last("GetComputerNameExW", "NetBIOS");
            if e.code == ERROR_MORE_DATA {
                return Ok(Attempt::Need(len as usize));
            }
            Err(e)
        },
        |_| Win32Error::new("GetComputerNameExW", "NetBIOS", ERROR_MORE_DATA),
    )
    .map_err(Win32Error::accounts)
}

/// Every local user (normal accounts, as `NetUserEnum` lists them): level 3, or level
/// 20 (without the last logon) where level 3 is not implemented (Wine).
pub fn users() -> Result<Vec<LocalUser>> {
    let machine = machine_sid()?;
    // SAFETY: level 3 returns USER_INFO_3 entries.
    let level3 = unsafe {
        enum_users::<USER_INFO_3>(&machine, 3, |u| {
            (
                u.usri3_name,
                u.usri3_full_name,
                u.usri3_flags,
                u.usri3_last_logon,
                u.usri3_user_id,
            )
        })
    };
    match level3 {
        // SAFETY: level 20 returns USER_INFO_20 entries.
        Err(e) if e.code == ERROR_INVALID_LEVEL => unsafe {
            enum_users::<USER_INFO_20>(&machine, 20, |u| {
                (
                    u.usri20_name,
                    u.usri20_full_name,
                    u.usri20_flags,
                    0,
                    u.usri20_user_id,
                )
            })
        }
        .map_err(Win32Error::accounts)?,
        other => other.map_err(Win32Error::accounts)?,
    }
    .map_err(Error::Accounts)
}

/// The users `NetUserEnum` lists at `level`, whose entries are `T`; `fields` picks name,
/// full name, flags, last logon (seconds since 1970) and RID out of an entry.
///
/// # Safety
/// `T` is the entry type of `level`.
unsafe fn enum_users<T>(
    machine: &Sid,
    level: u32,
    fields: impl Fn(&T) -> (*mut u16, *mut u16, u32, u32, u32),
) -> std::result::Result<std::result::Result<Vec<LocalUser>, String>, Win32Error> {
    let mut users = Vec::new();
    let mut bad = None;
    let call = |buf: *mut *mut u8, read: &mut u32, total: &mut u32, resume: &mut u32| {
        // SAFETY: every out pointer is writable; `buf` receives a buffer NetApiBufferFree
        // frees.
        unsafe {
            NetUserEnum(
                std::ptr::null(),
                level,
                FILTER_NORMAL_ACCOUNT,
                buf,
                MAX_PREFERRED_LENGTH,
                read,
                total,
                resume,
            )
        }
    };
    let each = |entry: &T| {
        let (name, full_name, flags, last_logon, rid) = fields(entry);
        // SAFETY: the strings of an entry live in the buffer being read.
        let (name, full_name) = unsafe { (from_pwstr(name), from_pwstr(full_name)) };
        match local_user(machine, name, full_name, flags, last_logon, rid) {
            Ok(user) => users.push(user),
            Err(e) => bad = Some(e),
        }
    };
    // SAFETY: the caller promises that `T` is the entry type of `level`.
    unsafe { net_enum("NetUserEnum", &format!("level {level}"), call, each)? };
    Ok(match bad {
        Some(e) => Err(e),
        None => Ok(users),
    })
}

/// The (translated) name of a builtin alias.
fn alias(rid: u32) -> Result<Account> {
    let sid = builtin_alias(rid);
    lookup_sid(&sid)
        .map_err(Win32Error::accounts)?
        .ok_or_else(|| Error::NotFound(format!("local accounts: there is no builtin group {sid}")))
}

fn members_of(alias_name: &str) -> Result<Vec<Sid>> {
    let wname = to_wide(alias_name)?;
    let mut members = Vec::new();
    let call = |buf: *mut *mut u8, read: &mut u32, total: &mut u32, resume: &mut usize| {
        // SAFETY: `wname` is NUL-terminated; every out pointer is writable.
        unsafe {
            NetLocalGroupGetMembers(
                std::ptr::null(),
                wname.as_ptr(),
                0,
                buf,
                MAX_PREFERRED_LENGTH,
                read,
                total,
                resume,
            )
        }
    };
    let each = |m: &LOCALGROUP_MEMBERS_INFO_0| {
        // SAFETY: the SID of an entry lives in the buffer being read.
        if let Some(sid) = unsafe { sid_from_psid(m.lgrmi0_sid) } {
            members.push(sid);
        }
    };
    // SAFETY: level 0 returns LOCALGROUP_MEMBERS_INFO_0 entries.
    unsafe { net_enum("NetLocalGroupGetMembers", alias_name, call, each) }
        .map_err(Win32Error::accounts)?;
    Ok(members)
}

/// Members of a builtin alias, foreign SIDs included.
pub fn alias_members(rid: u32) -> Result<Vec<Sid>> {
    members_of(&alias(rid)?.name)
}

/// The builtin aliases `sid` is a direct member of.
pub fn builtin_aliases_of(sid: &Sid) -> Result<Vec<u32>> {
    let mut names = Vec::new();
    let call = |buf: *mut *mut u8, read: &mut u32, total: &mut u32, resume: &mut usize| {
        // SAFETY: every out pointer is writable.
        unsafe {
            NetLocalGroupEnum(
                std::ptr::null(),
                0,
                buf,
                MAX_PREFERRED_LENGTH,
                read,
                total,
                resume,
            )
        }
    };
    // SAFETY: the name of an entry lives in the buffer being read.
    let each = |g: &LOCALGROUP_INFO_0| names.push(unsafe { from_pwstr(g.lgrpi0_name) });
    // SAFETY: level 0 returns LOCALGROUP_INFO_0 entries.
    unsafe { net_enum("NetLocalGroupEnum", "", call, each) }.map_err(Win32Error::accounts)?;
    let mut rids = Vec::new();
    for name in names {
        let Some(group) = lookup_name(&name).map_err(Win32Error::accounts)? else {
            continue;
        };
        let Some(rid) = builtin_rid(&group.sid) else {
            continue;
        };
        if members_of(&name)?.contains(sid) {
            rids.push(rid);
        }
    }
    rids.sort_unstable();
    Ok(rids)
}

/// Who holds `name` among the local users, groups and aliases (not the domain's).
pub fn name_in_use(name: &str) -> Result<Option<String>> {
    let builtin = alias(ADMINISTRATORS)?.domain;
    for domain in [computer_name()?, builtin] {
        if let Some(found) =
            lookup_name(&format!("{domain}\\{name}")).map_err(Win32Error::accounts)?
        {
            return Ok(Some(format!(
                "{name:?} is taken by the local {} {} ({})",
                sid_use_name(found.kind),
                found.qualified(),
                found.sid
            )));
        }
    }
    Ok(None)
}

/// Adds `member` to a builtin alias; false when it already was one.
pub fn add_alias_member(rid: u32, member: &Sid) -> Result<bool> {
    let group = alias(rid)?;
    let wname = to_wide(&group.name)?;
    let sid = SidBuf::new(member);
    let entry = LOCALGROUP_MEMBERS_INFO_0 {
        lgrmi0_sid: sid.as_psid(),
    };
    // SAFETY: `wname` is NUL-terminated and `entry` is one level-0 entry whose SID
    // outlives the call.
    let status = unsafe {
        NetLocalGroupAddMembers(
            std::ptr::null(),
            wname.as_ptr(),
            0,
            &entry as *const _ as *const u8,
            1,
        )
    };
    match status {
        NERR_Success => Ok(true),
        ERROR_MEMBER_IN_ALIAS => Ok(false),
        code => Err(Win32Error::new(
            "NetLocalGroupAddMembers",
            format!("{} {member}", group.name),
            code,
        )
        .accounts()),
    }
}

/// Removes `member` from a builtin alias; false when it was not one.
pub fn remove_alias_member(rid: u32, member: &Sid) -> Result<bool> {
    let group = alias(rid)?;
    let wname = to_wide(&group.name)?;
    let sid = SidBuf::new(member);
    let entry = LOCALGROUP_MEMBERS_INFO_0 {
        lgrmi0_sid: sid.as_psid(),
    };
    // SAFETY: as in add_alias_member.
    let status = unsafe {
        NetLocalGroupDelMembers(
            std::ptr::null(),
            wname.as_ptr(),
            0,
            &entry as *const _ as *const u8,
            1,
        )
    };
    match status {
        NERR_Success => Ok(true),
        ERROR_MEMBER_NOT_IN_ALIAS | ERROR_NO_SUCH_MEMBER => Ok(false),
        code => Err(Win32Error::new(
            "NetLocalGroupDelMembers",
            format!("{} {member}", group.name),
            code,
        )
        .accounts()),
    }
}

fn delete_by_name(name: &str) -> Result<()> {
    let wname = to_wide(name)?;
    // SAFETY: `wname` is NUL-terminated.
    let status = unsafe { NetUserDel(std::ptr::null(), wname.as_ptr()) };
    if status != NERR_Success {
        return Err(Win32Error::new("NetUserDel", name, status).accounts());
    }
    Ok(())
}

/// Creates a local user, a member of Users (and of Administrators when asked). All or
/// nothing: when a later part fails, the user is deleted again.
pub fn create_user(new: &NewAccount<'_>) -> Result<LocalUser> {
    let mut wname = to_wide(new.name)?;
    let mut wcomment = to_wide(new.comment)?;
    let mut password =
        SecretWide::new(new.password).map_err(|e| Error::Accounts(format!("the password {e}")))?;
    let info = USER_INFO_1 {
        usri1_name: wname.as_mut_ptr(),
        usri1_password: password.as_mut_ptr(),
        usri1_password_age: 0,
        usri1_priv: USER_PRIV_USER,
        usri1_home_dir: std::ptr::null_mut(),
        usri1_comment: wcomment.as_mut_ptr(),
        usri1_flags: UF_SCRIPT | UF_NORMAL_ACCOUNT,
        usri1_script_path: std::ptr::null_mut(),
    };
    let mut parm_err = 0u32;
    // SAFETY: `info` is a complete USER_INFO_1 whose strings are NUL-terminated and
    // outlive the call.
    let status = unsafe {
        NetUserAdd(
            std::ptr::null(),
            1,
            &info as *const _ as *const u8,
            &mut parm_err,
        )
    };
    // The password's only copy is zeroed now, whatever happened.
    drop(password);
    if status != NERR_Success {
        let mut e = Win32Error::new("NetUserAdd", new.name, status).to_string();
        if let Some(field) = user_info_1_field(parm_err) {
            e.push_str(&format!(" (Windows refused the {field})"));
        }
        return Err(Error::Accounts(e));
    }
    let finish = || -> Result<LocalUser> {
        if !new.full_name.is_empty() {
            let mut wfull = to_wide(new.full_name)?;
            let full = USER_INFO_1011 {
                usri1011_full_name: wfull.as_mut_ptr(),
            };
            let mut parm = 0u32;
            // SAFETY: `wname` and `wfull` are NUL-terminated and outlive the call.
            let status = unsafe {
                NetUserSetInfo(
                    std::ptr::null(),
                    wname.as_ptr(),
                    1011,
                    &full as *const _ as *const u8,
                    &mut parm,
                )
            };
            if status != NERR_Success {
                return Err(Win32Error::new(
                    "NetUserSetInfo",
                    format!("{} full name", new.name),
                    status,
                )
                .accounts());
            }
        }
        let qualified = format!("{}\\{}", computer_name()?, new.name);
        let account = lookup_name(&qualified)
            .map_err(Win32Error::accounts)?
            .filter(|a| a.kind == SidTypeUser)
            .ok_or_else(|| {
                Error::Accounts(format!(
                    "{qualified} was created but Windows cannot find it"
                ))
            })?;
        add_alias_member(USERS, &account.sid)?;
        if new.admin {
            add_alias_member(ADMINISTRATORS, &account.sid)?;
        }
        Ok(LocalUser {
            name: new.name.to_string(),
            rid: account.sid.rid().unwrap_or_default(),
            sid: account.sid,
            full_name: new.full_name.to_string(),
            disabled: false,
            last_logon: None,
        })
    };
    finish().map_err(|e| match delete_by_name(new.name) {
        Ok(()) => e,
        Err(d) => Error::Accounts(format!(
            "{e}; deleting the half-made account failed too: {d}"
        )),
    })
}

/// Deletes the local user with this RID (never one Windows Setup made).
pub fn delete_user(rid: u32) -> Result<()> {
    if rid < FIRST_USER_RID {
        return Err(Error::Refused(format!(
            "local accounts: RID {rid} is a built-in account and is never deleted"
        )));
    }
    let sid = machine_sid()?
        .with_rid(rid)
        .map_err(|e| Error::Accounts(e.to_string()))?;
    let account = lookup_sid(&sid)
        .map_err(Win32Error::accounts)?
        .filter(|a| a.kind == SidTypeUser)
        .ok_or_else(|| Error::NotFound(format!("local accounts: there is no local user {sid}")))?;
    delete_by_name(&account.name)
}

fn deny_right() -> Vec<u16> {
    DENY_INTERACTIVE.encode_utf16().collect()
}

/// Whether `sid` holds SeDenyInteractiveLogonRight.
pub fn logon_denied(sid: &Sid) -> Result<bool> {
    let policy = open_policy(POLICY_LOOKUP_NAMES as u32).map_err(Win32Error::accounts)?;
    let psid = SidBuf::new(sid);
    let mut rights: *mut LSA_UNICODE_STRING = std::ptr::null_mut();
    let mut count = 0u32;
    // SAFETY: `policy` is open with POLICY_LOOKUP_NAMES, `psid` holds a valid SID, and
    // `rights`/`count` receive memory LSA allocated.
    let status =
        unsafe { LsaEnumerateAccountRights(policy.0, psid.as_psid(), &mut rights, &mut count) };
    if status == STATUS_OBJECT_NAME_NOT_FOUND {
        return Ok(false);
    }
    if status != 0 {
        return Err(lsa_error("LsaEnumerateAccountRights", sid.to_string(), status).accounts());
    }
    // SAFETY: LSA returned `count` strings at `rights`, read before they are freed.
    let names: Vec<String> = unsafe {
        let names = if rights.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(rights, count as usize)
                .iter()
                .map(|s| from_lsa_string(s))
                .collect()
        };
        if !rights.is_null() {
            LsaFreeMemory(rights as *const _);
        }
        names
    };
    Ok(names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(DENY_INTERACTIVE)))
}

/// Grants or removes SeDenyInteractiveLogonRight.
pub fn set_logon_denied(sid: &Sid, denied: bool) -> Result<()> {
    let policy = open_policy((POLICY_LOOKUP_NAMES | POLICY_CREATE_ACCOUNT) as u32)
        .map_err(Win32Error::accounts)?;
    let psid = SidBuf::new(sid);
    let mut units = deny_right();
    let right = lsa_string(&mut units);
    let (api, status) = if denied {
        // SAFETY: `policy` is open with the rights adding needs; `psid` and `right` are
        // valid for the call.
        ("LsaAddAccountRights", unsafe {
            LsaAddAccountRights(policy.0, psid.as_psid(), &right, 1)
        })
    } else {
        // SAFETY: as above; only this one right is removed.
        ("LsaRemoveAccountRights", unsafe {
            LsaRemoveAccountRights(policy.0, psid.as_psid(), false, &right, 1)
        })
    };
    match status {
        0 => Ok(()),
        // Removing a right from an account that has none: it is already so.
        STATUS_OBJECT_NAME_NOT_FOUND if !denied => Ok(()),
        s => Err(lsa_error(api, format!("{sid} {DENY_INTERACTIVE}"), s).accounts()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_user_entries_become_local_users() {
        let machine: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let u = local_user(
            &machine,
            "alice".into(),
            "Alice A".into(),
            UF_SCRIPT | UF_NORMAL_ACCOUNT,
            0,
            1001,
        )
        .unwrap();
        assert_eq!(u.sid.to_string(), "S-1-5-21-1-2-3-1001");
        assert_eq!((u.rid, u.disabled, u.last_logon), (1001, false, None));
        let g = local_user(
            &machine,
            "Guest".into(),
            String::new(),
            UF_ACCOUNTDISABLE | UF_SCRIPT,
            1_700_000_000,
            501,
        )
        .unwrap();
        assert!(g.disabled);
        // 2023-11-14T22:13:20Z as a FILETIME.
        assert_eq!(g.last_logon, Some(133_444_736_000_000_000));
        assert_eq!(unix_to_filetime(1), Some(116_444_736_010_000_000));
    }

    #[test]
    fn refused_fields_are_named() {
        assert_eq!(user_info_1_field(USER_PASSWORD_PARMNUM), Some("password"));
        assert_eq!(user_info_1_field(USER_NAME_PARMNUM), Some("name"));
        assert_eq!(user_info_1_field(0), None);
    }

    #[test]
    fn lsa_strings_are_counted_in_bytes_without_a_nul() {
        let mut units = deny_right();
        let s = lsa_string(&mut units);
        assert_eq!(usize::from(s.Length), DENY_INTERACTIVE.len() * 2);
        // SAFETY: `s` borrows `units`, alive here.
        assert_eq!(unsafe { from_lsa_string(&s) }, DENY_INTERACTIVE);
        let empty = LSA_UNICODE_STRING {
            Length: 0,
            MaximumLength: 0,
            Buffer: std::ptr::null_mut(),
        };
        // SAFETY: a null buffer is allowed.
        assert_eq!(unsafe { from_lsa_string(&empty) }, "");
    }
}
