//! Windows' rules for local account names, and the check that a name is free among the
//! SAM's users, groups and aliases (compared without case, as Windows compares them).

use crate::error::{Error, Result};
use crate::sam::{Sam, paths};

/// The longest user name Windows accepts (characters, i.e. UTF-16 units).
pub const MAX_NAME_LEN: usize = 20;
/// Characters Windows refuses in account names.
pub const FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>@";

/// Checks a new account name against Windows' rules: 1 to 20 characters, none of
/// `"/\[]:;|=,+*?<>@` or control characters, and not made only of dots and spaces.
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason: String| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    let len = name.encode_utf16().count();
    if len == 0 {
        return invalid("the name is empty".into());
    }
    if len > MAX_NAME_LEN {
        return invalid(format!(
            "{len} characters; Windows allows at most {MAX_NAME_LEN}"
        ));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN.contains(*c)) {
        return invalid(format!(
            "{c:?} is not allowed (none of {FORBIDDEN} may appear)"
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return invalid(format!(
            "control character {:#06x} is not allowed",
            u32::from(c)
        ));
    }
    if name.chars().all(|c| c == '.' || c == ' ') {
        return invalid("a name made only of dots and spaces is not allowed".into());
    }
    Ok(())
}

impl Sam {
    /// Fails with [`Error::NameTaken`] when a user, group or alias of either domain
    /// already has `name` (ignoring case).
    pub fn check_name_free(&self, name: &str) -> Result<()> {
        let wanted = hive::names::upcase_str(name);
        for user in self.users()? {
            if hive::names::upcase_str(&user.name) == wanted {
                return Err(self.taken(name, format!("user {} (RID {})", user.name, user.rid)));
            }
        }
        for alias in self.aliases()? {
            if hive::names::upcase_str(&alias.name) == wanted {
                return Err(self.taken(name, format!("local group {} ({})", alias.name, alias.sid)));
            }
        }
        // The Names indexes too, in case a record and its index disagree.
        let indexes = [
            (paths::USER_NAMES, "user"),
            (r"SAM\Domains\Account\Groups\Names", "group"),
            (r"SAM\Domains\Account\Aliases\Names", "local group"),
            (r"SAM\Domains\Builtin\Aliases\Names", "built-in group"),
        ];
        for (index, what) in indexes {
            if let Some(key) = self.hive.key(index).map_err(Error::hive(&self.file))?
                && let Some(found) = key.subkey(name).map_err(Error::hive(&self.file))?
            {
                return Err(self.taken(name, format!("{what} {} (in {index})", found.name())));
            }
        }
        Ok(())
    }

    fn taken(&self, name: &str, taken_by: String) -> Error {
        Error::NameTaken {
            file: self.file.clone(),
            name: name.to_string(),
            taken_by,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_name_rules() {
        for ok in [
            "alice",
            "Alice.Smith",
            "j-doe_2",
            "a b",
            "Ünïcødé",
            "x".repeat(20).as_str(),
        ] {
            assert!(validate_name(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "x".repeat(21).as_str(),
            "a/b",
            "a\\b",
            "a@b",
            "a:b",
            "a*",
            "...",
            " . ",
            "a\tb",
            "<x>",
        ] {
            assert!(
                matches!(validate_name(bad), Err(Error::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }
}
