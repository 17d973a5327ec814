//! The window's state and the function that draws it, one frame at a time.

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};
use engine::migrate::Check;

use crate::capture::{LogFile, LogLine};
use crate::checks::{self, ChecksState};
use crate::confirm::{self, Confirm};
use crate::form::Form;
use crate::machine;
use crate::plan::{self, PlanState};
use crate::profiles::{self, ProfilesAction};
use crate::progress::{self, Progress, ProgressAction};
use crate::worker::{Finished, Job, Loaded, Reply, RunKind, Worker};

pub const SHOW_PLAN: &str = "Show plan";
pub const MIGRATE: &str = "Migrate";

/// The tabs of the main area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Profiles,
    Migrated,
    Plan,
    Progress,
}

impl Tab {
    pub fn label(self) -> &'static str {
        match self {
            Tab::Profiles => "Profiles",
            Tab::Migrated => "Migrated",
            Tab::Plan => "Plan",
            Tab::Progress => "Progress",
        }
    }
}

/// The whole window.
#[derive(Debug)]
pub struct App {
    root: Option<PathBuf>,
    worker: Worker,
    loaded: Option<Result<Loaded, String>>,
    pub tab: Tab,
    /// The ProfileList key of the profile to migrate.
    selected: Option<String>,
    form: Form,
    checks: ChecksState,
    plan: PlanState,
    progress: Option<Progress>,
    running: Option<RunKind>,
    log: Vec<LogLine>,
    log_file: LogFile,
    confirm: Option<Confirm>,
    /// The frame the question was asked in: the click that asked it must not also
    /// count as a click beside the dialog.
    confirm_frame: u64,
    allow_close: bool,
    status: String,
    zoom: f32,
}

impl App {
    /// The window on `root` (a mounted volume), or on this Windows without it. Starts
    /// reading the machine at once.
    pub fn new(root: Option<PathBuf>) -> App {
        let worker = Worker::spawn(root.clone());
        worker.send(Job::Load { sizes: false });
        App {
            root,
            worker,
            loaded: None,
            tab: Tab::Profiles,
            selected: None,
            form: Form::default(),
            checks: ChecksState::default(),
            plan: PlanState::default(),
            progress: None,
            running: None,
            log: Vec::new(),
            log_file: LogFile::new(std::env::temp_dir().join("admu-gui.log")),
            confirm: None,
            confirm_frame: 0,
            allow_close: false,
            status: String::new(),
            zoom: 1.0,
        }
    }

    /// Where the log lines go (default: `admu-gui.log` in the temporary folder).
    pub fn set_log_file(&mut self, path: PathBuf) {
        self.log_file = LogFile::new(path);
    }

    pub fn log_path(&self) -> &Path {
        self.log_file.path()
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    pub fn loaded(&self) -> Option<&Loaded> {
        self.loaded.as_ref().and_then(|l| l.as_ref().ok())
    }

    /// Every log line the engine's jobs wrote so far.
    pub fn log(&self) -> &[LogLine] {
        &self.log
    }

    /// How the last migrate, revert or recover ended (None while it runs).
    pub fn finished(&self) -> Option<&Finished> {
        self.progress.as_ref().and_then(|p| p.finished.as_ref())
    }

    /// Nothing is being read, checked, planned or run.
    pub fn idle(&self) -> bool {
        self.loaded.is_some()
            && self.running.is_none()
            && !self.plan.waiting
            && (self.selected.is_none() || !self.checks.running())
    }

    /// The engine's checks for the form as it is now, when they are in.
    pub fn checks(&self) -> Option<&Result<Vec<Check>, String>> {
        self.checks.current()
    }

    /// Draws the window (and takes in what the worker sent since the last frame).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.worker.attach(&ctx);
        // Before the replies: a job that ended in this very frame still asks.
        self.guard_close(&ctx);
        self.poll(&ctx);
        let enabled = self.running.is_none();
        egui::Panel::top("machine").show(ui, |ui| self.top_ui(ui, enabled));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("form")
            .resizable(true)
            .default_size(420.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("form-scroll")
                    .show(ui, |ui| self.form_ui(ui, enabled));
            });
        egui::CentralPanel::default().show(ui, |ui| self.main_ui(ui, enabled));
        self.confirm_ui(&ctx);
        let now = ctx.input(|i| i.time);
        if enabled
            && let Some(from) = self.source()
            && self.checks.due(&ctx, now)
        {
            let request = Box::new(self.form.submission(&from));
            let generation = self.checks.generation;
            self.worker.send(Job::Check {
                generation,
                request,
            });
        }
    }

    fn poll(&mut self, ctx: &egui::Context) {
        while let Ok(reply) = self.worker.replies.try_recv() {
            match reply {
                Reply::Loaded(l) => self.on_loaded(*l, ctx),
                Reply::Checked { generation, result } => {
                    self.checks.result = Some((generation, result));
                }
                Reply::Planned { generation, result } => {
                    self.plan.result = Some((generation, *result));
                    self.plan.waiting = false;
                }
                Reply::Progress(e) => {
                    if let Some(p) = &mut self.progress {
                        p.event(&e);
                    }
                }
                Reply::Log(line) => {
                    self.log_file.write(&line);
                    self.log.push(line);
                }
                Reply::Finished { run, finished } => self.on_finished(run, finished, ctx),
            }
        }
    }

    fn on_loaded(&mut self, loaded: Result<Loaded, String>, ctx: &egui::Context) {
        if let Ok(l) = &loaded {
            let still_there = match (&self.selected, &l.profiles) {
                (Some(key), Ok(rows)) => rows.iter().any(|p| &p.key == key),
                _ => false,
            };
            if !still_there {
                self.selected = None;
            }
        }
        self.loaded = Some(loaded);
        self.touch(ctx);
    }

    fn on_finished(&mut self, run: RunKind, finished: Finished, ctx: &egui::Context) {
        if run == RunKind::Migrate && finished.ok {
            // Migrated: it is not a source any more.
            self.selected = None;
        }
        if let Some(p) = &mut self.progress {
            p.finished = Some(finished);
        }
        self.running = None;
        self.reload(false);
        self.touch(ctx);
    }

    fn reload(&mut self, sizes: bool) {
        self.loaded = None;
        self.worker.send(Job::Load { sizes });
    }

    /// The form or the machine changed: the checks run again.
    fn touch(&mut self, ctx: &egui::Context) {
        self.checks.touch(ctx.input(|i| i.time));
    }

    fn live(&self) -> bool {
        self.loaded().is_some_and(|l| l.live)
    }

    fn profile(&self) -> Option<&engine::profiles::Profile> {
        let key = self.selected.as_ref()?;
        self.loaded()?
            .profiles
            .as_ref()
            .ok()?
            .iter()
            .find(|p| &p.key == key)
    }

    /// `--from` for the selected profile: its SID, else its ProfileList key.
    fn source(&self) -> Option<String> {
        let p = self.profile()?;
        Some(
            p.sid
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| p.key.clone()),
        )
    }

    /// Closing while a job runs asks first; a forced close leaves the journal to
    /// `recover`.
    fn guard_close(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested())
            && self.running.is_some()
            && !self.allow_close
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.ask(Confirm::Close, ctx);
        }
    }

    fn top_ui(&mut self, ui: &mut egui::Ui, enabled: bool) {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.heading(RichText::new("admu").strong());
            ui.label("convert a domain or Entra profile in place to a local account");
        });
        machine::ui(ui, self.loaded.as_ref());
        let unfinished = machine::unfinished(self.loaded.as_ref());
        if !unfinished.is_empty() && machine::banner(ui, &unfinished, enabled) {
            self.start_run(
                RunKind::Recover,
                "unfinished migrations".into(),
                Job::Recover,
            );
        }
        ui.add_space(4.0);
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let state = match (&self.running, self.loaded.is_none()) {
                (Some(r), _) => format!("{} running…", r.title()),
                (None, true) => "Reading the machine…".to_string(),
                (None, false) => "Ready".to_string(),
            };
            ui.label(state);
            if !self.status.is_empty() {
                ui.separator();
                ui.label(&self.status);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let before = self.zoom;
                egui::ComboBox::from_label("Zoom")
                    .selected_text(format!("{:.0} %", self.zoom * 100.0))
                    .show_ui(ui, |ui| {
                        for z in [1.0, 1.25, 1.5, 2.0] {
                            ui.selectable_value(&mut self.zoom, z, format!("{:.0} %", z * 100.0));
                        }
                    });
                if self.zoom != before {
                    ui.ctx().set_zoom_factor(self.zoom);
                }
            });
        });
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, enabled: bool) {
        ui.heading("Migrate a profile");
        let source = self
            .profile()
            .map(|p| format!("Profile: {} ({})", p.account, p.key));
        match source {
            Some(s) => ui.label(RichText::new(s).strong()),
            None => ui.label("Profile: none selected"),
        };
        ui.add_space(4.0);
        let live = self.live();
        if self.form.ui(ui, live, enabled) {
            self.touch(ui.ctx());
        }
        ui.add_space(8.0);
        let own = self.form.own_checks();
        let selected = self.selected.is_some();
        let can_migrate = enabled && selected && self.checks.all_passed(&own);
        ui.horizontal(|ui| {
            let plan = ui
                .add_enabled(enabled && selected, egui::Button::new(SHOW_PLAN))
                .on_hover_text("The dry run: every change, before and after; nothing is changed");
            if plan.clicked() {
                self.request_plan();
            }
            let migrate = ui
                .add_enabled(
                    can_migrate,
                    egui::Button::new(RichText::new(MIGRATE).strong()),
                )
                .on_disabled_hover_text("Select a profile; every check must pass first");
            if migrate.clicked() {
                self.start_migrate(ui.ctx());
            }
        });
        ui.separator();
        checks::ui(ui, &self.checks, &own, selected);
    }

    fn request_plan(&mut self) {
        if let Some(from) = self.source() {
            self.plan.waiting = true;
            self.worker.send(Job::Plan {
                generation: self.checks.generation,
                request: Box::new(self.form.submission(&from)),
            });
            self.tab = Tab::Plan;
        }
    }

    fn start_migrate(&mut self, ctx: &egui::Context) {
        let (Some(from), Some(p)) = (self.source(), self.profile()) else {
            return;
        };
        let what = format!("{} -> {}", p.account, self.form.username.trim());
        let request = Box::new(self.form.submission(&from));
        // The request holds the password now; the fields are zeroed.
        self.form.clear_passwords(ctx);
        let expected = match &self.plan.result {
            Some((g, Ok(plan))) if *g == self.checks.generation => Some(plan.steps.len()),
            _ => None,
        };
        self.start_run(RunKind::Migrate, what, Job::Migrate { request });
        if let Some(p) = &mut self.progress {
            p.expected_steps = expected;
        }
        self.touch(ctx);
    }

    fn start_run(&mut self, kind: RunKind, what: String, job: Job) {
        self.progress = Some(Progress::new(kind, what, self.log.len(), None));
        self.running = Some(kind);
        self.tab = Tab::Progress;
        self.worker.send(job);
    }

    fn main_ui(&mut self, ui: &mut egui::Ui, enabled: bool) {
        ui.horizontal(|ui| {
            for tab in [Tab::Profiles, Tab::Migrated, Tab::Plan, Tab::Progress] {
                if tab == Tab::Progress && self.progress.is_none() {
                    continue;
                }
                ui.selectable_value(&mut self.tab, tab, tab.label());
            }
        });
        ui.separator();
        match self.tab {
            Tab::Profiles => self.profiles_tab(ui, enabled),
            Tab::Migrated => self.migrated_tab(ui, enabled),
            Tab::Plan => {
                let generation = self.checks.generation;
                let can = enabled && self.selected.is_some();
                if plan::ui(ui, &mut self.plan, generation, can) {
                    self.request_plan();
                }
            }
            Tab::Progress => self.progress_tab(ui),
        }
    }

    fn profiles_tab(&mut self, ui: &mut egui::Ui, enabled: bool) {
        let Some(Ok(loaded)) = &self.loaded else {
            if self.loaded.is_none() {
                ui.spinner();
            }
            return;
        };
        let action = profiles::table(
            ui,
            &loaded.profiles,
            self.selected.as_deref(),
            loaded.sizes,
            enabled,
        );
        match action {
            Some(ProfilesAction::Select(key)) => {
                self.selected = Some(key);
                self.touch(ui.ctx());
            }
            Some(ProfilesAction::Reload) => self.reload(false),
            Some(ProfilesAction::Sizes) => self.reload(true),
            None => {}
        }
    }

    fn migrated_tab(&mut self, ui: &mut egui::Ui, enabled: bool) {
        let Some(Ok(loaded)) = &self.loaded else {
            if self.loaded.is_none() {
                ui.spinner();
            }
            return;
        };
        if let Some(j) = profiles::migrated(ui, &loaded.journals, enabled) {
            let ctx = ui.ctx().clone();
            self.ask(Confirm::Revert(Box::new(j)), &ctx);
        }
    }

    fn progress_tab(&mut self, ui: &mut egui::Ui) {
        let Some(p) = &self.progress else {
            return;
        };
        match progress::ui(ui, p, &self.log) {
            Some(ProgressAction::OpenLog) => self.open_log(),
            Some(ProgressAction::Close) => {
                self.tab = match p.kind {
                    RunKind::Migrate | RunKind::Revert => Tab::Migrated,
                    RunKind::Recover => Tab::Profiles,
                };
                self.progress = None;
            }
            None => {}
        }
    }

    /// Opens the log file in the system's viewer (Notepad on Windows).
    fn open_log(&mut self) {
        let path = self.log_file.path().to_path_buf();
        if !path.exists() {
            self.status = format!("{}: no log lines yet", path.display());
            return;
        }
        let viewer = if cfg!(windows) {
            "notepad.exe"
        } else {
            "xdg-open"
        };
        self.status =
            match engine::child_env::without_secrets(&mut std::process::Command::new(viewer))
                .arg(&path)
                .spawn()
            {
                Ok(mut child) => {
                    std::thread::spawn(move || child.wait());
                    format!("Opened {}", path.display())
                }
                Err(e) => format!("cannot open {} with {viewer}: {e}", path.display()),
            };
    }

    fn ask(&mut self, question: Confirm, ctx: &egui::Context) {
        self.confirm = Some(question);
        self.confirm_frame = ctx.cumulative_frame_nr();
    }

    fn confirm_ui(&mut self, ctx: &egui::Context) {
        let Some(question) = self.confirm.clone() else {
            return;
        };
        let fresh = ctx.cumulative_frame_nr() == self.confirm_frame;
        let Some(yes) = confirm::dialog(ctx, &question, fresh) else {
            return;
        };
        self.confirm = None;
        match (question, yes) {
            (Confirm::Revert(j), true) => {
                let account = j.new_sid.clone().or(j.account.clone()).unwrap_or_default();
                let what = format!(
                    "{} -> {}",
                    j.account.as_deref().unwrap_or("?"),
                    j.old_sid.as_deref().unwrap_or("?")
                );
                self.start_run(RunKind::Revert, what, Job::Revert { account });
            }
            (Confirm::Close, true) => {
                self.allow_close = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            (_, false) => {}
        }
    }
}
