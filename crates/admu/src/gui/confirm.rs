//! The questions the window asks before it acts: revert a migration, close while a
//! job runs.

use eframe::egui;
use engine::migrate::Unfinished;

pub const CONFIRM_REVERT: &str = "Revert now";
pub const CANCEL: &str = "Cancel";
pub const CLOSE_ANYWAY: &str = "Close anyway";
pub const KEEP_RUNNING: &str = "Keep running";

/// A question.
#[derive(Debug, Clone)]
pub enum Confirm {
    Revert(Box<Unfinished>),
    /// The window was closed while a job ran.
    Close,
}

/// Shows the question; `Some(yes)` once answered (Escape and a click beside it say no,
/// except in the frame that asked it, whose click is the one that asked).
pub fn dialog(ctx: &egui::Context, question: &Confirm, fresh: bool) -> Option<bool> {
    let mut answer = None;
    let modal = egui::Modal::new(egui::Id::unique("admu-confirm")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        let (text, yes, no) = match question {
            Confirm::Revert(j) => (
                format!(
                    "Revert migration {}? The profile goes back to {} and the local \
                     account {} is removed (admu revert).",
                    j.id,
                    j.old_sid.as_deref().unwrap_or("?"),
                    j.account.as_deref().unwrap_or("?")
                ),
                CONFIRM_REVERT,
                CANCEL,
            ),
            Confirm::Close => (
                "A job is running. Closing the window now stops it half-way; its journal \
                 stays, and the next start offers Recover to roll it back."
                    .to_string(),
                CLOSE_ANYWAY,
                KEEP_RUNNING,
            ),
        };
        ui.label(text);
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button(yes).clicked() {
                answer = Some(true);
            }
            if ui.button(no).clicked() {
                answer = Some(false);
            }
        });
    });
    if !fresh && modal.should_close() && answer.is_none() {
        answer = Some(false);
    }
    answer
}
