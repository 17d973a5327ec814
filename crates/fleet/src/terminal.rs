//! Text from devices and from JumpCloud made safe to print on the admin's terminal.

use std::borrow::Cow;

/// `text` with every control character (an escape sequence in a device's description
/// could rewrite the admin's screen) and every bidirectional override (it can reorder
/// what is shown) written as a `\u{…}` escape; other text is borrowed as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert!(matches!(printable("Zoë, C:\\Users\\zoë"), Cow::Borrowed(_)));
        assert_eq!(
            printable("ok\u{1b}[2J\u{1b}]0;owned\u{7}\r\nnext"),
            "ok\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{d}\\u{a}next"
        );
        assert_eq!(printable("a\u{202E}txt.exe"), "a\\u{202e}txt.exe");
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
    }
}
