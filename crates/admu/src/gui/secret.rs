//! A password field's text: never in `Debug` output, zeroed when cleared and when
//! dropped, and allocated once so that typing does not leave copies behind in freed
//! memory (up to [`CAPACITY`] bytes).

use eframe::egui;
use zeroize::Zeroize;

/// Bytes reserved up front; a longer password reallocates (the old buffer is freed
/// unzeroed by `String`, an accepted limit for passwords over 256 bytes).
pub const CAPACITY: usize = 256;

pub struct SecretText(String);

impl SecretText {
    pub fn new() -> Self {
        SecretText(String::with_capacity(CAPACITY))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The buffer egui's text field edits in place.
    pub fn buffer(&mut self) -> &mut String {
        &mut self.0
    }

    /// Zeroes the text (its whole allocation) and empties the field.
    pub fn clear(&mut self) {
        self.0.zeroize();
        if self.0.capacity() < CAPACITY {
            self.0.reserve(CAPACITY);
        }
    }

    /// Zeroes the text, and forgets what egui's text field kept of it (its undo
    /// history holds earlier states of the text).
    pub fn clear_field(&mut self, ctx: &egui::Context, field: egui::Id) {
        self.clear();
        if let Some(mut state) = egui::TextEdit::load_state(ctx, field) {
            state.clear_undoer();
            state.store(ctx, field);
        }
    }
}

impl Default for SecretText {
    fn default() -> Self {
        SecretText::new()
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_empties_and_keeps_room() {
        let mut s = SecretText::new();
        s.buffer().push_str("hunter2");
        assert_eq!(format!("{s:?}"), "<secret>");
        s.clear();
        assert!(s.is_empty());
        assert!(s.0.capacity() >= CAPACITY);
    }
}
