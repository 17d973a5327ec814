//! The checks panel: every preflight check of the form as it is now, pass or fail with
//! the engine's reason, re-run on the worker thread a moment after the last edit.

use eframe::egui::{self, Color32, RichText};
use engine::migrate::Check;

/// Quiet time after the last edit before the checks run again, in seconds.
pub const DEBOUNCE: f64 = 0.4;

pub const PASS: Color32 = Color32::from_rgb(0x2e, 0x9d, 0x4a);
pub const FAIL: Color32 = Color32::from_rgb(0xd9, 0x3a, 0x3a);

/// Where the checks of the form stand.
#[derive(Debug, Default)]
pub struct ChecksState {
    /// Bumped by every edit of the form or of the selection.
    pub generation: u64,
    /// When the last edit happened (egui's input time).
    pub changed_at: f64,
    /// The generation last sent to the worker.
    pub sent: Option<u64>,
    /// The engine's answer and the generation it is for.
    pub result: Option<(u64, Result<Vec<Check>, String>)>,
}

impl ChecksState {
    /// The form changed at `now`.
    pub fn touch(&mut self, now: f64) {
        self.generation += 1;
        self.changed_at = now;
    }

    /// True when the checks of the current generation are due: sent once, after the
    /// quiet time. Otherwise asks for a repaint when they will be.
    pub fn due(&mut self, ctx: &egui::Context, now: f64) -> bool {
        if self.sent == Some(self.generation) {
            return false;
        }
        let wait = self.changed_at + DEBOUNCE - now;
        if wait > 0.0 {
            ctx.request_repaint_after(std::time::Duration::from_secs_f64(wait));
            return false;
        }
        self.sent = Some(self.generation);
        true
    }

    pub fn running(&self) -> bool {
        self.result.as_ref().map(|(g, _)| *g) != Some(self.generation)
    }

    /// The engine's checks for the form as it is now, when they are in.
    pub fn current(&self) -> Option<&Result<Vec<Check>, String>> {
        match &self.result {
            Some((g, r)) if *g == self.generation => Some(r),
            _ => None,
        }
    }

    /// Every check passed, the engine's and `own`.
    pub fn all_passed(&self, own: &[Check]) -> bool {
        matches!(self.current(), Some(Ok(c)) if c.iter().chain(own).all(|c| c.passed))
    }
}

/// Draws the panel: the failed checks first (the window's own, then the engine's),
/// then the passed ones.
pub fn ui(ui: &mut egui::Ui, state: &ChecksState, own: &[Check], selected: bool) {
    ui.horizontal(|ui| {
        ui.heading("Checks");
        if selected && state.running() {
            ui.spinner();
            ui.label("checking…");
        }
    });
    if !selected {
        ui.label("Select the profile to migrate in the Profiles table.");
        return;
    }
    // Failed checks first: what to fix is at the top.
    for c in own.iter().filter(|c| !c.passed) {
        row(ui, c);
    }
    match &state.result {
        None => {}
        Some((_, Err(e))) => {
            ui.colored_label(FAIL, format!("The checks could not run: {e}"));
        }
        Some((_, Ok(checks))) => {
            let failed = checks.iter().filter(|c| !c.passed).count();
            for c in checks.iter().filter(|c| !c.passed) {
                row(ui, c);
            }
            for c in own.iter().chain(checks).filter(|c| c.passed) {
                row(ui, c);
            }
            ui.add_space(4.0);
            let summary = format!("{} checks, {failed} failed", checks.len());
            if failed == 0 {
                ui.colored_label(PASS, summary);
            } else {
                ui.colored_label(FAIL, summary);
            }
        }
    }
}

/// One check, one label (so a screen reader reads it whole): PASS or FAIL, its name,
/// the engine's reason. (Text, not symbols: egui's built-in fonts have no ✔ or ✖.)
fn row(ui: &mut egui::Ui, c: &Check) {
    let (mark, color) = if c.passed {
        ("PASS", PASS)
    } else {
        ("FAIL", FAIL)
    };
    let mut job = egui::text::LayoutJob::default();
    let style = ui.style().clone();
    let parts = [
        RichText::new(format!("{mark} ")).color(color).strong(),
        RichText::new(format!("{}: ", c.name)).strong(),
        RichText::new(c.reason.as_str()),
    ];
    for part in parts {
        part.append_to(
            &mut job,
            &style,
            egui::FontSelection::Default,
            egui::Align::Center,
        );
    }
    ui.add(egui::Label::new(job).wrap());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_wait_for_a_quiet_moment_and_run_once() {
        let ctx = egui::Context::default();
        let mut s = ChecksState::default();
        s.touch(10.0);
        assert!(!s.due(&ctx, 10.1), "too soon after the edit");
        assert!(s.due(&ctx, 10.5));
        assert!(!s.due(&ctx, 11.0), "sent once");
        assert!(s.running());
        s.touch(11.0);
        s.result = Some((1, Ok(Vec::new())));
        assert!(s.current().is_none(), "an answer for an older form");
        s.result = Some((2, Ok(Vec::new())));
        let fail = Check {
            name: "x",
            passed: false,
            reason: String::new(),
        };
        assert!(s.all_passed(&[]));
        assert!(!s.all_passed(&[fail]));
    }
}
