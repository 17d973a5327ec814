//! Windows' rules for a local account name.

/// Characters Windows refuses in an account name.
pub const FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>@";

/// Ok when `name` can be a local account's name: 1–20 characters, none of
/// [`FORBIDDEN`] nor control characters, not only dots and spaces.
pub fn check_local_username(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 {
        return Err("the local username is empty".into());
    }
    if n > 20 {
        return Err(format!(
            "{name:?} is {n} characters; Windows allows at most 20"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| FORBIDDEN.contains(*c) || c.is_control())
    {
        return Err(format!(
            "{name:?} contains {c:?}; Windows refuses any of {FORBIDDEN} in an account name"
        ));
    }
    if name.chars().all(|c| c == '.' || c == ' ') {
        return Err(format!("{name:?} is only dots and spaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(check_local_username("alice").is_ok());
        assert!(check_local_username("jean.dupont-2").is_ok());
        assert!(check_local_username("").is_err());
        assert!(check_local_username("abcdefghijklmnopqrstu").is_err());
        assert!(check_local_username("abcdefghijklmnopqrst").is_ok());
        for bad in [
            "a/b", "a\\b", "a[b", "a]b", "a:b", "a;b", "a|b", "a=b", "a,b", "a+b", "a*b", "a?b",
            "a<b", "a>b", "a@b", "a\"b",
        ] {
            assert!(check_local_username(bad).is_err(), "{bad}");
        }
        assert!(check_local_username("...").is_err());
        assert!(check_local_username(". .").is_err());
    }
}
