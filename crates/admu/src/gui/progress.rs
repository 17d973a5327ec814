//! The Progress tab: the steps of the running migration (from the engine's progress
//! events), a bar with the files done, the live log lines, and Open log / Close.

use eframe::egui::{self, Color32, RichText};
use engine::journal::StepId;
use engine::migrate::ProgressEvent;
use tracing::Level;

use crate::capture::LogLine;
use crate::worker::{Finished, RunKind};

pub const OPEN_LOG: &str = "Open log";
pub const CLOSE: &str = "Close";

/// A run (migrate, revert, recover) as the window follows it.
#[derive(Debug)]
pub struct Progress {
    pub kind: RunKind,
    /// Who: "CORP\alice -> alice2".
    pub what: String,
    /// Steps in the order they started, with their last message.
    pub steps: Vec<(StepId, String)>,
    /// Items done in the current step (files for the tree).
    pub done: u64,
    pub total: Option<u64>,
    /// Steps the dry run listed for this form, when there was one.
    pub expected_steps: Option<usize>,
    /// Index of the first log line of this run in the window's log.
    pub log_from: usize,
    pub finished: Option<Finished>,
}

impl Progress {
    pub fn new(kind: RunKind, what: String, log_from: usize, expected: Option<usize>) -> Self {
        Progress {
            kind,
            what,
            steps: Vec::new(),
            done: 0,
            total: None,
            expected_steps: expected,
            log_from,
            finished: None,
        }
    }

    pub fn event(&mut self, e: &ProgressEvent) {
        match self.steps.last_mut() {
            Some((step, msg)) if *step == e.step => *msg = e.message.clone(),
            _ => self.steps.push((e.step, e.message.clone())),
        }
        self.done = e.done;
        self.total = e.total;
    }

    fn fraction(&self) -> Option<f32> {
        if let Some(total) = self.total.filter(|t| *t > 0) {
            return Some(self.done as f32 / total as f32);
        }
        let expected = self.expected_steps?.max(1);
        Some((self.steps.len().saturating_sub(1) as f32 / expected as f32).min(1.0))
    }
}

/// What the admin pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressAction {
    OpenLog,
    Close,
}

/// The run's heading, bar and buttons stay in view; the steps with the outcome, and the
/// log, scroll (a migration has over twenty steps).
pub fn ui(ui: &mut egui::Ui, p: &Progress, log: &[LogLine]) -> Option<ProgressAction> {
    let mut action = None;
    ui.heading(format!("{}: {}", p.kind.title(), p.what));
    bar(ui, p);
    ui.horizontal(|ui| {
        if ui.button(OPEN_LOG).clicked() {
            action = Some(ProgressAction::OpenLog);
        }
        let close = ui
            .add_enabled(p.finished.is_some(), egui::Button::new(CLOSE))
            .on_disabled_hover_text("Wait until it ends");
        if close.clicked() {
            action = Some(ProgressAction::Close);
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("progress-steps")
        .max_height(ui.available_height() * 0.6)
        .auto_shrink([false, true])
        .stick_to_bottom(true)
        .show(ui, |ui| {
            steps_ui(ui, p);
            if let Some(f) = &p.finished {
                finished_ui(ui, f);
            }
        });
    ui.separator();
    ui.label(RichText::new("Log").strong());
    egui::ScrollArea::vertical()
        .id_salt("progress-log")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show(ui, |ui| {
            for l in log.get(p.log_from..).unwrap_or_default() {
                ui.add(egui::Label::new(log_line(l)).wrap());
            }
        });
    action
}

fn steps_ui(ui: &mut egui::Ui, p: &Progress) {
    for (i, (step, msg)) in p.steps.iter().enumerate() {
        let current = i + 1 == p.steps.len() && p.finished.is_none();
        ui.horizontal(|ui| {
            if current {
                ui.spinner();
            } else {
                ui.label(RichText::new("done").color(crate::checks::PASS));
            }
            ui.label(RichText::new(step.to_string()).strong());
            // "account: starting" says no more than the step's name and the spinner.
            if *msg != format!("{step}: starting") {
                ui.label(msg);
            }
        });
    }
}

fn bar(ui: &mut egui::Ui, p: &Progress) {
    let running = p.finished.is_none();
    let files = if p.done > 0 {
        format!("{} files and folders done", p.done)
    } else {
        String::new()
    };
    let fraction = match (&p.finished, p.fraction()) {
        (Some(_), _) => 1.0,
        (None, Some(f)) => f,
        (None, None) => 0.0,
    };
    let text = match (running, p.steps.last()) {
        (false, _) => "done".to_string(),
        (true, Some((step, _))) => format!("{step}… {files}"),
        (true, None) => "starting…".to_string(),
    };
    ui.add(egui::ProgressBar::new(fraction).text(text).animate(running));
}

fn finished_ui(ui: &mut egui::Ui, f: &Finished) {
    let color = if f.ok {
        crate::checks::PASS
    } else {
        crate::checks::FAIL
    };
    for (i, line) in f.lines.iter().enumerate() {
        let t = RichText::new(line).color(color);
        ui.label(if i == 0 { t.strong() } else { t });
    }
    for c in f.checks.iter().filter(|c| !c.passed) {
        ui.colored_label(
            crate::checks::FAIL,
            format!("FAIL {}: {}", c.name, c.reason),
        );
    }
}

pub fn log_line(l: &LogLine) -> RichText {
    let color = match l.level {
        Level::ERROR => crate::checks::FAIL,
        Level::WARN => Color32::from_rgb(0xd0, 0x8a, 0x10),
        _ => Color32::PLACEHOLDER,
    };
    let t = RichText::new(format!("{:>5} {}", l.level, l.text)).monospace();
    if color == Color32::PLACEHOLDER {
        t
    } else {
        t.color(color)
    }
}
