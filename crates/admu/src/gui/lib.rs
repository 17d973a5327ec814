//! admu's window: `admu gui` and `admu-gui.exe` (see docs/gui.md).
//!
//! The window is a state struct ([`App`]) with one function that draws it,
//! [`App::ui`], so that the UI tests (`tests/gui_*.rs`, egui_kittest) drive exactly
//! what a person sees, without eframe. Every migration decision is the engine's: the
//! window calls the same engine functions as the CLI (`machine_info`, `discover`,
//! `find_journals`, `preflight`, `plan`, `migrate`, `revert`, `recover`) on a worker
//! thread ([`worker`]) and shows their results and error texts as they are.

mod app;
mod capture;
mod checks;
mod confirm;
mod form;
mod machine;
mod plan;
mod profiles;
mod progress;
mod secret;
/// How values read, shared with the CLI's tables.
pub mod text;
pub mod worker;

use std::path::{Path, PathBuf};

pub use app::{App, Tab};

/// The labels of the window's controls, as screen readers and the UI tests find them.
pub mod labels {
    pub use crate::app::{MIGRATE, SHOW_PLAN};
    pub use crate::confirm::{CANCEL, CLOSE_ANYWAY, CONFIRM_REVERT, KEEP_RUNNING};
    pub use crate::form::{CONFIRM, PASSWORD, SHOW_PASSWORD, USERNAME};
    pub use crate::machine::RECOVER;
    pub use crate::plan::{FILTER, REFRESH};
    pub use crate::profiles::{RELOAD, SIZES};
    pub use crate::progress::{CLOSE, OPEN_LOG};
}
use engine::host::MigrationHost;

/// `admu gui`: the window.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GuiArgs {
    /// The mounted Windows volume (offline mode); without it, the Windows admu runs on.
    #[arg(long, value_name = "VOLUME")]
    pub root: Option<PathBuf>,
}

/// The window's title: always starts with `admu`.
pub fn title(root: Option<&Path>) -> String {
    match root {
        Some(r) => format!("admu: {} (offline)", r.display()),
        None => "admu: this computer".to_string(),
    }
}

/// Opens the window and runs until it is closed.
pub fn run(args: GuiArgs) -> anyhow::Result<()> {
    let title = title(args.root.as_deref());
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title(&title)
            .with_app_id("admu")
            .with_inner_size([1180.0, 760.0])
            .with_min_inner_size([640.0, 420.0]),
        ..Default::default()
    };
    let root = args.root;
    eframe::run_native(
        &title,
        options,
        Box::new(move |_cc| Ok(Box::new(App::new(root)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// The machine a job works on: the offline host on `root`, or the live host without
/// it; the same hosts and error texts as the CLI's `--root`.
pub fn open_host(root: Option<&Path>) -> anyhow::Result<Box<dyn MigrationHost>> {
    match root {
        Some(root) => Ok(Box::new(offline::OfflineHost::open(root)?)),
        None => live_host(),
    }
}

#[cfg(windows)]
fn live_host() -> anyhow::Result<Box<dyn MigrationHost>> {
    Ok(Box::new(windows_host::WindowsHost::open()?))
}

#[cfg(not(windows))]
fn live_host() -> anyhow::Result<Box<dyn MigrationHost>> {
    Err(anyhow::anyhow!(
        "--root VOLUME is required here: without it admu works on the Windows it runs on, \
         and this is not Windows. Mount the Windows volume (ntfs-3g) and give its mount point"
    ))
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut eframe::egui::Ui, _frame: &mut eframe::Frame) {
        App::ui(self, ui);
    }
}
