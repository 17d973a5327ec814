//! UTF-16 strings for Win32: NUL-terminated arguments, text read back up to its NUL, and
//! a buffer for secrets that is zeroed when dropped.

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;

/// Text that cannot be passed to Win32 because it holds a NUL character: Windows would
/// see only the part before it (a different name, path or password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InteriorNul {
    /// The index (in UTF-16 units) of the first NUL.
    pub at: usize,
}

impl std::fmt::Display for InteriorNul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "contains a NUL character at position {}", self.at)
    }
}

impl std::error::Error for InteriorNul {}

impl From<InteriorNul> for engine::Error {
    fn from(e: InteriorNul) -> Self {
        engine::Error::Invalid(format!("text for Windows {e}"))
    }
}

impl From<InteriorNul> for std::io::Error {
    fn from(e: InteriorNul) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// `s` as NUL-terminated UTF-16.
pub fn to_wide(s: &str) -> Result<Vec<u16>, InteriorNul> {
    terminate(s.encode_utf16().collect())
}

/// An OS string (a path, which may hold unpaired surrogates) as NUL-terminated UTF-16.
pub fn os_to_wide(s: &OsStr) -> Result<Vec<u16>, InteriorNul> {
    terminate(s.encode_wide().collect())
}

fn terminate(mut units: Vec<u16>) -> Result<Vec<u16>, InteriorNul> {
    if let Some(at) = units.iter().position(|&c| c == 0) {
        return Err(InteriorNul { at });
    }
    units.push(0);
    Ok(units)
}

/// UTF-16 text up to its first NUL (or all of it), unpaired surrogates replaced.
pub fn from_wide(units: &[u16]) -> String {
    let end = units.iter().position(|&c| c == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end])
}

/// The NUL-terminated string at `p`; empty for a null pointer.
///
/// # Safety
/// `p` is null or points to readable UTF-16 ending in a NUL.
pub unsafe fn from_pwstr(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0;
    // SAFETY: the caller promises a NUL within the readable string, so every unit up to
    // and including it may be read.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: the `len` units before the NUL were just read one by one.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A NUL-terminated UTF-16 secret (a password): only ever handed to a Win32 call, never
/// shown (`Debug` prints nothing of it), and overwritten with zeros when dropped.
pub struct SecretWide(Vec<u16>);

impl SecretWide {
    pub fn new(text: &str) -> Result<SecretWide, InteriorNul> {
        // Room for every unit and the NUL up front (UTF-16 never has more units than
        // UTF-8 has bytes), so the vector never reallocates and leaves no copy behind.
        let mut secret = SecretWide(Vec::with_capacity(text.len() + 1));
        secret.0.extend(text.encode_utf16());
        if let Some(at) = secret.0.iter().position(|&c| c == 0) {
            return Err(InteriorNul { at });
        }
        secret.0.push(0);
        Ok(secret)
    }

    /// The pointer Win32 wants (`LPWSTR`: some structures are not `const`).
    pub fn as_mut_ptr(&mut self) -> *mut u16 {
        self.0.as_mut_ptr()
    }

    #[cfg(test)]
    fn units(&self) -> &[u16] {
        &self.0
    }
}

impl Drop for SecretWide {
    fn drop(&mut self) {
        for unit in self.0.iter_mut() {
            // SAFETY: `unit` is a valid, aligned, exclusive reference into the vector; a
            // volatile write keeps the compiler from dropping stores to memory about to
            // be freed.
            unsafe { std::ptr::write_volatile(unit, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

impl std::fmt::Debug for SecretWide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretWide(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_goes_to_utf16_with_one_nul_and_back() {
        assert_eq!(to_wide("ab").unwrap(), vec![0x61, 0x62, 0]);
        assert_eq!(to_wide("").unwrap(), vec![0]);
        let w = to_wide("Jürgen €𝄞").unwrap();
        assert_eq!(*w.last().unwrap(), 0);
        assert_eq!(from_wide(&w), "Jürgen €𝄞");
        assert_eq!(from_wide(&[0x61, 0, 0x62]), "a", "stops at the first NUL");
        assert_eq!(from_wide(&[0x61, 0x62]), "ab", "no NUL: all of it");
        assert_eq!(
            from_wide(&[0xD800, 0x61]),
            "\u{FFFD}a",
            "unpaired surrogate"
        );
        // SAFETY: a NUL-terminated buffer, and null.
        unsafe {
            assert_eq!(from_pwstr(w.as_ptr()), "Jürgen €𝄞");
            assert_eq!(from_pwstr(std::ptr::null()), "");
        }
    }

    #[test]
    fn an_interior_nul_is_refused_not_truncated() {
        assert_eq!(to_wide("alice\0admin"), Err(InteriorNul { at: 5 }));
        assert_eq!(os_to_wide(OsStr::new("a\0")), Err(InteriorNul { at: 1 }));
        assert!(SecretWide::new("pass\0word").is_err());
        let e: engine::Error = InteriorNul { at: 5 }.into();
        assert!(e.to_string().contains("NUL character at position 5"), "{e}");
    }

    #[test]
    fn secrets_are_terminated_and_never_shown() {
        let s = SecretWide::new("hunter2").unwrap();
        assert_eq!(s.units().len(), 8);
        assert_eq!(s.units()[7], 0);
        assert_eq!(from_wide(s.units()), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
