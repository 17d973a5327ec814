//! The Plan tab: the dry run (`admu migrate --dry-run`): the checks' verdict, the
//! account, the SID map and each step's summary and registry changes, filterable.

use eframe::egui::{self, RichText};
use engine::migrate::{Plan, StepPlan};

use crate::text;

pub const FILTER: &str = "Filter";
pub const REFRESH: &str = "Refresh plan";
/// Lines of a step's report shown at most.
const REPORT_LINES: usize = 400;

/// The plan and the form generation it is for.
#[derive(Debug, Default)]
pub struct PlanState {
    pub result: Option<(u64, Result<Plan, String>)>,
    pub waiting: bool,
    pub filter: String,
}

/// Draws the tab. True when Refresh was pressed.
pub fn ui(ui: &mut egui::Ui, state: &mut PlanState, generation: u64, enabled: bool) -> bool {
    let mut refresh = false;
    ui.horizontal(|ui| {
        let label = ui.label(FILTER);
        ui.add(
            egui::TextEdit::singleline(&mut state.filter)
                .hint_text("text in a step, a key, a value…")
                .desired_width(260.0),
        )
        .labelled_by(label.id);
        refresh = ui
            .add_enabled(enabled, egui::Button::new(REFRESH))
            .on_hover_text("Compute the dry run again for the form as it is now")
            .clicked();
        if state.waiting {
            ui.spinner();
            ui.label("computing the dry run…");
        }
    });
    let Some((for_generation, result)) = &state.result else {
        ui.label("Press Show plan in the form to see every change the migration would make.");
        return refresh;
    };
    if *for_generation != generation {
        ui.colored_label(
            crate::checks::FAIL,
            "The form changed since this plan was made: refresh it.",
        );
    }
    let needle = state.filter.to_lowercase();
    egui::ScrollArea::vertical()
        .id_salt("plan-scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| match result {
            Err(e) => {
                ui.colored_label(crate::checks::FAIL, e);
            }
            Ok(plan) => body(ui, plan, &needle),
        });
    refresh
}

fn body(ui: &mut egui::Ui, plan: &Plan, needle: &str) {
    let failed = plan.preflight.failures().count();
    if failed > 0 {
        ui.colored_label(
            crate::checks::FAIL,
            format!(
                "{failed} check(s) failed: the migration would not start: fix the failed \
                 checks first."
            ),
        );
        return;
    }
    if let Some(a) = &plan.account {
        let what = if a.create { "create" } else { "use existing" };
        ui.label(RichText::new(format!("Account: {what} {} ({})", a.name, a.sid)).strong());
    }
    ui.label(RichText::new("SID map:").strong());
    for (old, new) in &plan.sid_map {
        let line = format!("{old} -> {new}");
        if text::matches(&line, needle) {
            ui.label(format!("  {line}"));
        }
    }
    for step in &plan.steps {
        step_ui(ui, step, needle);
    }
    ui.add_space(6.0);
    ui.label("Dry run: nothing was changed.");
}

/// A step's lines, as `admu migrate --dry-run` prints them, then its report.
fn step_lines(step: &StepPlan) -> (Vec<String>, Vec<String>) {
    let mut lines: Vec<String> = step.summary.clone();
    for c in &step.changes {
        lines.push(format!(
            "{}\\{}: {} -> {}",
            c.key.rsplit('\\').next().unwrap_or(&c.key),
            c.value,
            c.before.as_deref().unwrap_or("(none)"),
            c.after.as_deref().unwrap_or("(deleted)")
        ));
    }
    let report = step
        .report
        .as_ref()
        .and_then(|r| serde_json::to_string_pretty(r).ok())
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default();
    (lines, report)
}

fn step_ui(ui: &mut egui::Ui, step: &StepPlan, needle: &str) {
    let name = step.step.to_string();
    let (lines, report) = step_lines(step);
    let shown: Vec<&String> = if text::matches(&name, needle) {
        lines.iter().collect()
    } else {
        lines.iter().filter(|l| text::matches(l, needle)).collect()
    };
    let report_shown: Vec<&String> = report.iter().filter(|l| text::matches(l, needle)).collect();
    if shown.is_empty() && report_shown.is_empty() && !needle.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(RichText::new(&name).strong())
        .id_salt(("plan-step", &name))
        .default_open(true)
        .show(ui, |ui| {
            for l in shown {
                ui.add(egui::Label::new(l.as_str()).wrap());
            }
            if !report_shown.is_empty() {
                egui::CollapsingHeader::new(format!("{name} report"))
                    .id_salt(("plan-report", &name))
                    .default_open(!needle.is_empty())
                    .show(ui, |ui| {
                        for l in report_shown.iter().take(REPORT_LINES) {
                            ui.monospace(l.as_str());
                        }
                        if report_shown.len() > REPORT_LINES {
                            ui.label(format!(
                                "… {} more lines",
                                report_shown.len() - REPORT_LINES
                            ));
                        }
                    });
            }
        });
}
