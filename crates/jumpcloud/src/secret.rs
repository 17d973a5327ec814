//! Secrets (the admin API key, the agent connect key) as types that never show their
//! value in `Debug`, `Display` or logs.

use std::fmt;

/// Placeholder printed instead of a secret.
pub const REDACTED: &str = "<redacted>";

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value (surrounding whitespace is trimmed: keys are often
            /// pasted with a trailing newline).
            pub fn new(value: impl Into<String>) -> Self {
                let value: String = value.into();
                Self(value.trim().to_owned())
            }

            /// The secret itself: only for putting it on the wire.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// True if the value is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                zeroize::Zeroize::zeroize(&mut self.0);
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({REDACTED})", stringify!($name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_type!(
    /// A JumpCloud administrator API key (sent as the `x-api-key` header).
    ApiKey
);

secret_type!(
    /// A JumpCloud agent connect key (passed to the agent installer).
    ConnectKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let key = ApiKey::new(" sekrit-123\n");
        assert_eq!(key.expose(), "sekrit-123");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert_eq!(format!("{key}"), "<redacted>");
        let key = ConnectKey::from("abc");
        assert!(!format!("{key:?} {key}").contains("abc"));
    }
}
