//! The machine registry through the registry API, always in the 64-bit view
//! (`KEY_WOW64_64KEY`), so a 32-bit admu sees what Windows sees.

use engine::error::{Error, Result};
use engine::host::{MachineHive, RegEdit, RegKey, RegValue};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_SUCCESS,
    FILETIME,
};
use windows_sys::Win32::Storage::FileSystem::DELETE;
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, HKEY_USERS, KEY_ENUMERATE_SUB_KEYS, KEY_QUERY_VALUE, KEY_READ,
    KEY_SET_VALUE, KEY_WOW64_64KEY, KEY_WRITE, REG_OPTION_NON_VOLATILE, REG_SAM_FLAGS, RegCloseKey,
    RegCreateKeyExW, RegDeleteKeyExW, RegDeleteTreeW, RegDeleteValueW, RegEnumKeyExW,
    RegEnumValueW, RegOpenKeyExW, RegQueryInfoKeyW, RegRenameKey, RegSetValueExW,
};

use crate::wide::to_wide;
use crate::win32::{GROW_ATTEMPTS, Win32Error};

/// An open registry key, closed when dropped.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed once.
        unsafe { RegCloseKey(self.0) };
    }
}

/// The key below `HKEY_LOCAL_MACHINE` where a machine hive is loaded.
pub fn hive_key(which: MachineHive) -> &'static str {
    match which {
        MachineHive::Software => "SOFTWARE",
        MachineHive::System => "SYSTEM",
        MachineHive::Sam => "SAM",
        MachineHive::Security => "SECURITY",
    }
}

/// A key path in a hive (`Microsoft\Windows NT`) as a path below `HKEY_LOCAL_MACHINE`
/// (`SOFTWARE\Microsoft\Windows NT`); surrounding and doubled backslashes are dropped.
pub fn machine_path(which: MachineHive, path: &str) -> String {
    let mut out = hive_key(which).to_string();
    for part in path.split('\\').filter(|p| !p.is_empty()) {
        out.push('\\');
        out.push_str(part);
    }
    out
}

/// The key as people write it, for messages (`HKLM\SOFTWARE\…`).
pub fn display_path(which: MachineHive, path: &str) -> String {
    format!(r"HKLM\{}", machine_path(which, path))
}

/// A FILETIME as one number.
pub fn filetime(ft: FILETIME) -> u64 {
    (u64::from(ft.dwHighDateTime) << 32) | u64::from(ft.dwLowDateTime)
}

/// A value as `RegEnumValueW` returns it: the name (UTF-16, its length in units), the
/// type and the raw data, kept byte for byte (a REG_SZ keeps its NUL, if it has one).
pub fn value_from(name: &[u16], kind: u32, data: &[u8]) -> RegValue {
    RegValue {
        name: String::from_utf16_lossy(name),
        kind,
        data: data.to_vec(),
    }
}

fn open(
    root: HKEY,
    path: &str,
    access: REG_SAM_FLAGS,
) -> std::result::Result<Option<Key>, Win32Error> {
    let wpath = to_wide(path).map_err(|_| Win32Error::new("RegOpenKeyExW", path, 87))?;
    let mut key: HKEY = std::ptr::null_mut();
    // SAFETY: `root` is a predefined key, `wpath` is NUL-terminated, `key` receives the
    // handle on success.
    let status =
        unsafe { RegOpenKeyExW(root, wpath.as_ptr(), 0, access | KEY_WOW64_64KEY, &mut key) };
    match status {
        ERROR_SUCCESS => Ok(Some(Key(key))),
        ERROR_FILE_NOT_FOUND => Ok(None),
        code => Err(Win32Error::new("RegOpenKeyExW", "", code)),
    }
}

/// Counts and sizes of a key.
#[derive(Debug, Default)]
struct Info {
    subkeys: u32,
    max_subkey: u32,
    values: u32,
    max_value_name: u32,
    max_value_data: u32,
    last_written: u64,
}

fn info(key: &Key) -> std::result::Result<Info, Win32Error> {
    let mut i = Info::default();
    let mut ft = FILETIME::default();
    // SAFETY: every out pointer is a writable local or null where the value is not
    // wanted; the class is not asked for.
    let status = unsafe {
        RegQueryInfoKeyW(
            key.0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null(),
            &mut i.subkeys,
            &mut i.max_subkey,
            std::ptr::null_mut(),
            &mut i.values,
            &mut i.max_value_name,
            &mut i.max_value_data,
            std::ptr::null_mut(),
            &mut ft,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(Win32Error::new("RegQueryInfoKeyW", "", status));
    }
    i.last_written = filetime(ft);
    Ok(i)
}

fn subkey_names(key: &Key, max_len: u32) -> std::result::Result<Vec<String>, Win32Error> {
    let mut names = Vec::new();
    let mut buf = vec![0u16; max_len.max(255) as usize + 1];
    let mut index = 0u32;
    let mut retries = 0;
    loop {
        let mut len = buf.len() as u32;
        // SAFETY: `buf` is writable for `len` units; class and time are not asked for.
        let status = unsafe {
            RegEnumKeyExW(
                key.0,
                index,
                buf.as_mut_ptr(),
                &mut len,
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        match status {
            ERROR_SUCCESS => {
                names.push(String::from_utf16_lossy(
                    &buf[..(len as usize).min(buf.len())],
                ));
                index += 1;
                retries = 0;
            }
            ERROR_NO_MORE_ITEMS => return Ok(names),
            // The key changed since RegQueryInfoKeyW: a longer name appeared.
            ERROR_MORE_DATA if retries < GROW_ATTEMPTS => {
                retries += 1;
                let len = buf.len() * 2;
                buf.resize(len, 0);
            }
            code => return Err(Win32Error::new("RegEnumKeyExW", format!("#{index}"), code)),
        }
    }
}

fn values(key: &Key, i: &Info) -> std::result::Result<Vec<RegValue>, Win32Error> {
    let mut out = Vec::with_capacity(i.values as usize);
    let mut name = vec![0u16; i.max_value_name as usize + 1];
    let mut data = vec![0u8; (i.max_value_data as usize).max(16)];
    let mut index = 0u32;
    let mut retries = 0;
    loop {
        let mut name_len = name.len() as u32;
        let mut data_len = data.len() as u32;
        let mut kind = 0u32;
        // SAFETY: `name` is writable for `name_len` units and `data` for `data_len`
        // bytes.
        let status = unsafe {
            RegEnumValueW(
                key.0,
                index,
                name.as_mut_ptr(),
                &mut name_len,
                std::ptr::null(),
                &mut kind,
                data.as_mut_ptr(),
                &mut data_len,
            )
        };
        match status {
            ERROR_SUCCESS => {
                out.push(value_from(
                    &name[..(name_len as usize).min(name.len())],
                    kind,
                    &data[..(data_len as usize).min(data.len())],
                ));
                index += 1;
                retries = 0;
            }
            ERROR_NO_MORE_ITEMS => return Ok(out),
            // The value changed since RegQueryInfoKeyW: a longer name or more data.
            ERROR_MORE_DATA if retries < GROW_ATTEMPTS => {
                retries += 1;
                let (n, d) = (name.len() * 2, (data_len as usize).max(data.len() * 2));
                name.resize(n, 0);
                data.resize(d, 0);
            }
            code => return Err(Win32Error::new("RegEnumValueW", format!("#{index}"), code)),
        }
    }
}

/// The SAM and SECURITY hives are readable by SYSTEM only.
fn refused_unless_system(which: MachineHive, path: &str, e: Win32Error) -> Error {
    if e.code == ERROR_ACCESS_DENIED && matches!(which, MachineHive::Sam | MachineHive::Security) {
        return Error::Refused(format!(
            "{}: only SYSTEM can read the {} hive of a running Windows; run admu as SYSTEM \
             (a JumpCloud Command, Intune, an RMM, or `psexec -s`)",
            display_path(which, path),
            hive_key(which)
        ));
    }
    e.at(display_path(which, path))
}

/// The key at `path` of a machine hive, or `None` when it does not exist.
pub fn read(which: MachineHive, path: &str) -> Result<Option<RegKey>> {
    let full = machine_path(which, path);
    let fail = |e| refused_unless_system(which, path, e);
    let Some(key) = open(HKEY_LOCAL_MACHINE, &full, KEY_READ).map_err(fail)? else {
        return Ok(None);
    };
    let i = info(&key).map_err(fail)?;
    let subkeys = subkey_names(&key, i.max_subkey).map_err(fail)?;
    let values = values(&key, &i).map_err(fail)?;
    let name = full.rsplit('\\').next().unwrap_or(&full).to_string();
    Ok(Some(RegKey {
        name,
        last_written: i.last_written,
        values,
        subkeys,
    }))
}

/// The subkeys of `HKEY_USERS`: the loaded user hives.
pub fn loaded_hives() -> Result<Vec<String>> {
    let fail = |e: Win32Error| e.at("HKEY_USERS");
    // A predefined key: nothing was opened, so nothing is closed.
    let users = std::mem::ManuallyDrop::new(Key(HKEY_USERS));
    let i = info(&users).map_err(fail)?;
    subkey_names(&users, i.max_subkey).map_err(fail)
}

/// The edit that brings a key back to how it was before `edit`, from what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Before a CreateKey: the first key of its path that did not exist (it and all below
    /// it are new), or `None` when the key existed.
    FirstMissing(Option<String>),
    /// Before a SetValue or DeleteValue: the value, if there was one.
    Value(Option<RegValue>),
    /// Before a DeleteKey: the edits that build the key again (keys, then values), or
    /// nothing when there was no key.
    Tree(Vec<RegEdit>),
    /// Before a RenameKey: whether there was a key to rename.
    Existed(bool),
}

/// The edits that undo `edit`, given the state before it.
pub fn inverse(edit: &RegEdit, before: Before) -> Vec<RegEdit> {
    match (edit, before) {
        (RegEdit::CreateKey { .. }, Before::FirstMissing(first)) => first
            .map(|path| vec![RegEdit::DeleteKey { path }])
            .unwrap_or_default(),
        (
            RegEdit::SetValue { path, name, .. } | RegEdit::DeleteValue { path, name },
            Before::Value(old),
        ) => vec![match old {
            Some(v) => RegEdit::SetValue {
                path: path.clone(),
                name: v.name,
                kind: v.kind,
                data: v.data,
            },
            None => RegEdit::DeleteValue {
                path: path.clone(),
                name: name.clone(),
            },
        }],
        (RegEdit::DeleteKey { .. }, Before::Tree(edits)) => edits,
        (RegEdit::RenameKey { path, new_name }, Before::Existed(true)) => {
            let (parent, old) = split_parent(path);
            vec![RegEdit::RenameKey {
                path: match parent {
                    Some(p) => format!("{p}\\{new_name}"),
                    None => new_name.clone(),
                },
                new_name: old.to_string(),
            }]
        }
        _ => Vec::new(),
    }
}

/// A key path's parent (`None` at the top of the hive) and last name.
pub fn split_parent(path: &str) -> (Option<&str>, &str) {
    let path = path.trim_matches('\\');
    match path.rsplit_once('\\') {
        Some((parent, name)) => (Some(parent), name),
        None => (None, path),
    }
}

/// The first prefix of `path` (`A`, `A\B`, `A\B\C`) for which `exists` is false.
pub fn first_missing(
    path: &str,
    mut exists: impl FnMut(&str) -> Result<bool>,
) -> Result<Option<String>> {
    let parts: Vec<&str> = path.split('\\').filter(|p| !p.is_empty()).collect();
    for n in 1..=parts.len() {
        let prefix = parts[..n].join("\\");
        if !exists(&prefix)? {
            return Ok(Some(prefix));
        }
    }
    Ok(None)
}

/// The edits that build the key at `path` and everything below it again.
fn snapshot(which: MachineHive, path: &str, out: &mut Vec<RegEdit>) -> Result<()> {
    let Some(key) = read(which, path)? else {
        return Ok(());
    };
    out.push(RegEdit::CreateKey {
        path: path.to_string(),
    });
    for v in key.values {
        out.push(RegEdit::SetValue {
            path: path.to_string(),
            name: v.name,
            kind: v.kind,
            data: v.data,
        });
    }
    for sub in key.subkeys {
        snapshot(which, &format!("{path}\\{sub}"), out)?;
    }
    Ok(())
}

fn before(which: MachineHive, edit: &RegEdit) -> Result<Before> {
    Ok(match edit {
        RegEdit::CreateKey { path } => {
            Before::FirstMissing(first_missing(path, |p| Ok(read(which, p)?.is_some()))?)
        }
        RegEdit::SetValue { path, name, .. } | RegEdit::DeleteValue { path, name } => {
            Before::Value(read(which, path)?.and_then(|k| k.value(name).cloned()))
        }
        RegEdit::DeleteKey { path } => {
            let mut edits = Vec::new();
            snapshot(which, path, &mut edits)?;
            Before::Tree(edits)
        }
        RegEdit::RenameKey { path, .. } => Before::Existed(read(which, path)?.is_some()),
        RegEdit::SetKeySecurity { path, .. } => return Err(key_security_unsupported(which, path)),
    })
}

fn apply_one(which: MachineHive, edit: &RegEdit) -> Result<()> {
    match edit {
        RegEdit::CreateKey { path } => {
            let full = machine_path(which, path);
            let wfull = to_wide(&full)?;
            let mut key: HKEY = std::ptr::null_mut();
            // SAFETY: `wfull` is NUL-terminated; default security; `key` receives the
            // handle, closed by `Key`.
            let status = unsafe {
                RegCreateKeyExW(
                    HKEY_LOCAL_MACHINE,
                    wfull.as_ptr(),
                    0,
                    std::ptr::null(),
                    REG_OPTION_NON_VOLATILE,
                    KEY_QUERY_VALUE | KEY_WOW64_64KEY,
                    std::ptr::null(),
                    &mut key,
                    std::ptr::null_mut(),
                )
            };
            if status != ERROR_SUCCESS {
                return Err(
                    Win32Error::new("RegCreateKeyExW", "", status).at(display_path(which, path))
                );
            }
            drop(Key(key));
            Ok(())
        }
        RegEdit::DeleteKey { path } => {
            let full = machine_path(which, path);
            if full == hive_key(which) {
                return Err(Error::Invalid(format!(
                    "{}: refusing to delete the root of a machine hive",
                    display_path(which, path)
                )));
            }
            let fail = |e: Win32Error| e.at(display_path(which, path));
            let access = DELETE | KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE | KEY_SET_VALUE;
            let Some(key) = open(HKEY_LOCAL_MACHINE, &full, access).map_err(fail)? else {
                return Ok(());
            };
            // SAFETY: `key` is open with the rights RegDeleteTreeW needs; a null subkey
            // deletes what is below the key, in the key's (64-bit) view.
            let status = unsafe { RegDeleteTreeW(key.0, std::ptr::null()) };
            if status != ERROR_SUCCESS {
                return Err(fail(Win32Error::new("RegDeleteTreeW", "", status)));
            }
            drop(key);
            let wfull = to_wide(&full)?;
            // SAFETY: `wfull` is NUL-terminated.
            let status =
                unsafe { RegDeleteKeyExW(HKEY_LOCAL_MACHINE, wfull.as_ptr(), KEY_WOW64_64KEY, 0) };
            match status {
                ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
                code => Err(fail(Win32Error::new("RegDeleteKeyExW", "", code))),
            }
        }
        RegEdit::SetValue {
            path,
            name,
            kind,
            data,
        } => {
            let fail = |e: Win32Error| e.at(display_path(which, path));
            let Some(key) = open(
                HKEY_LOCAL_MACHINE,
                &machine_path(which, path),
                KEY_SET_VALUE,
            )
            .map_err(fail)?
            else {
                return Err(Error::NotFound(format!(
                    "{}: the key does not exist, so value {name:?} cannot be set",
                    display_path(which, path)
                )));
            };
            let wname = to_wide(name)?;
            let len = u32::try_from(data.len()).map_err(|_| {
                Error::Invalid(format!(
                    "{}: value {name:?} is too large",
                    display_path(which, path)
                ))
            })?;
            // SAFETY: `key` is open with KEY_SET_VALUE, `wname` is NUL-terminated and
            // `data` is readable for `len` bytes.
            let status =
                unsafe { RegSetValueExW(key.0, wname.as_ptr(), 0, *kind, data.as_ptr(), len) };
            if status != ERROR_SUCCESS {
                return Err(fail(Win32Error::new(
                    "RegSetValueExW",
                    name.clone(),
                    status,
                )));
            }
            Ok(())
        }
        RegEdit::DeleteValue { path, name } => {
            let fail = |e: Win32Error| e.at(display_path(which, path));
            // A missing key has no such value either.
            let Some(key) = open(
                HKEY_LOCAL_MACHINE,
                &machine_path(which, path),
                KEY_SET_VALUE,
            )
            .map_err(fail)?
            else {
                return Ok(());
            };
            let wname = to_wide(name)?;
            // SAFETY: `key` is open with KEY_SET_VALUE and `wname` is NUL-terminated.
            let status = unsafe { RegDeleteValueW(key.0, wname.as_ptr()) };
            match status {
                ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
                code => Err(fail(Win32Error::new("RegDeleteValueW", name.clone(), code))),
            }
        }
        RegEdit::RenameKey { path, new_name } => {
            let fail = |e: Win32Error| e.at(display_path(which, path));
            if split_parent(path).1.is_empty() || new_name.is_empty() || new_name.contains('\\') {
                return Err(Error::Invalid(format!(
                    "{}: cannot rename to {new_name:?} (a key renamed keeps its parent)",
                    display_path(which, path)
                )));
            }
            // Idempotent: a key already renamed (or never there) is left as it is.
            let Some(key) =
                open(HKEY_LOCAL_MACHINE, &machine_path(which, path), KEY_WRITE).map_err(fail)?
            else {
                return Ok(());
            };
            let wnew = to_wide(new_name)?;
            // SAFETY: `key` is open with KEY_WRITE in the 64-bit view; a null subkey
            // renames the key itself; `wnew` is NUL-terminated.
            let status = unsafe { RegRenameKey(key.0, std::ptr::null(), wnew.as_ptr()) };
            if status != ERROR_SUCCESS {
                return Err(fail(Win32Error::new(
                    "RegRenameKey",
                    format!("to {new_name}"),
                    status,
                )));
            }
            Ok(())
        }
        RegEdit::SetKeySecurity { path, .. } => Err(key_security_unsupported(which, path)),
    }
}

/// Key descriptors are changed in machine hive files only (offline); the live host does
/// not rewrite them (the engine skips those steps when the hive is not a file).
fn key_security_unsupported(which: MachineHive, path: &str) -> Error {
    Error::Refused(format!(
        "{}: admu changes key descriptors only in hive files (offline), not in the running \
         registry",
        display_path(which, path)
    ))
}

/// Applies the edits in order. The live registry has no transactions, so before each
/// edit what it changes is read, and when an edit fails the ones before it are undone
/// (newest first): all or nothing, as far as the registry lets us.
pub fn apply(which: MachineHive, edits: &[RegEdit]) -> Result<()> {
    let mut undo: Vec<Vec<RegEdit>> = Vec::with_capacity(edits.len());
    for edit in edits {
        let result = before(which, edit).and_then(|b| {
            apply_one(which, edit)?;
            Ok(b)
        });
        match result {
            Ok(b) => undo.push(inverse(edit, b)),
            Err(e) => {
                let done = undo.len();
                let rollback = undo
                    .into_iter()
                    .rev()
                    .flatten()
                    .try_for_each(|u| apply_one(which, &u));
                return Err(match rollback {
                    Ok(()) => e,
                    Err(r) => Error::Invalid(format!(
                        "{e}; undoing the {done} edit(s) applied before it failed too: {r}"
                    )),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_paths_are_below_hklm() {
        let p = r"Microsoft\Windows NT\CurrentVersion\ProfileList";
        assert_eq!(
            machine_path(MachineHive::Software, p),
            r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
        );
        assert_eq!(
            machine_path(MachineHive::System, r"\Select\"),
            r"SYSTEM\Select"
        );
        assert_eq!(
            machine_path(MachineHive::Sam, r"SAM\\Domains"),
            r"SAM\SAM\Domains"
        );
        assert_eq!(machine_path(MachineHive::Security, ""), "SECURITY");
        assert_eq!(display_path(MachineHive::Software, "A"), r"HKLM\SOFTWARE\A");
    }

    #[test]
    fn values_keep_their_raw_data() {
        let name: Vec<u16> = "ProfileImagePath".encode_utf16().collect();
        let data: Vec<u8> = "C:\\Users\\a\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let v = value_from(&name, 2, &data);
        assert_eq!(v.name, "ProfileImagePath");
        assert_eq!(v.data, data, "byte for byte, NUL included");
        assert_eq!(v.string().as_deref(), Some(r"C:\Users\a"));
        let d = value_from(&[], 4, &7u32.to_le_bytes());
        assert_eq!((d.name.as_str(), d.dword()), ("", Some(7)));
        let ft = FILETIME {
            dwLowDateTime: 0x89AB_CDEF,
            dwHighDateTime: 0x01D9_0000,
        };
        assert_eq!(filetime(ft), 0x01D9_0000_89AB_CDEF);
    }

    #[test]
    fn edits_are_undone_from_what_was_before() {
        let set = RegEdit::SetValue {
            path: "K".into(),
            name: "V".into(),
            kind: 1,
            data: vec![1],
        };
        let old = RegValue {
            name: "v".into(),
            kind: 4,
            data: vec![0; 4],
        };
        assert_eq!(
            inverse(&set, Before::Value(Some(old))),
            vec![RegEdit::SetValue {
                path: "K".into(),
                name: "v".into(),
                kind: 4,
                data: vec![0; 4]
            }]
        );
        assert_eq!(
            inverse(&set, Before::Value(None)),
            vec![RegEdit::DeleteValue {
                path: "K".into(),
                name: "V".into()
            }]
        );
        let create = RegEdit::CreateKey {
            path: r"A\B\C".into(),
        };
        assert_eq!(
            inverse(&create, Before::FirstMissing(Some(r"A\B".into()))),
            vec![RegEdit::DeleteKey {
                path: r"A\B".into()
            }]
        );
        assert!(inverse(&create, Before::FirstMissing(None)).is_empty());
        let tree = vec![RegEdit::CreateKey { path: "T".into() }];
        assert_eq!(
            inverse(
                &RegEdit::DeleteKey { path: "T".into() },
                Before::Tree(tree.clone())
            ),
            tree
        );

        let rename = RegEdit::RenameKey {
            path: r"P\Old".into(),
            new_name: "New".into(),
        };
        assert_eq!(
            inverse(&rename, Before::Existed(true)),
            vec![RegEdit::RenameKey {
                path: r"P\New".into(),
                new_name: "Old".into()
            }]
        );
        assert!(inverse(&rename, Before::Existed(false)).is_empty());
        assert_eq!(split_parent(r"\A\B\C\"), (Some(r"A\B"), "C"));
        assert_eq!(split_parent("A"), (None, "A"));

        let existing = ["A", r"A\B"];
        let missing = first_missing(r"A\B\C\D", |p| Ok(existing.contains(&p))).unwrap();
        assert_eq!(
            missing.as_deref(),
            Some(r"A\B\C"),
            "C and D are new: delete C"
        );
        assert_eq!(first_missing(r"A\B", |_| Ok(true)).unwrap(), None);
    }
}
