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
mod jc_form;
mod machine;
mod more_form;
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
    pub use crate::jc_form::{JC_API_KEY, JC_BIND, JC_REPORT, JC_SYSTEM_CONTEXT, JC_USER};
    pub use crate::machine::RECOVER;
    pub use crate::more_form::{ALLOW_PARTIAL, BACKUP_KEY, DPAPI, MAPS, OLD_PASSWORD, TO_EXISTING};
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

/// Why the machine could not be opened: the CLI maps these to its exit codes (usage,
/// failed), the window shows the text.
#[derive(Debug)]
pub enum OpenHostError {
    /// No `--root`, and this is not Windows: there is no live host here.
    NeedsRoot,
    /// The volume or the live system could not be opened.
    Open(anyhow::Error),
}

impl std::fmt::Display for OpenHostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenHostError::NeedsRoot => f.write_str(
                "--root VOLUME is required here: without it admu works on the Windows it runs \
                 on, and this is not Windows. Mount the Windows volume (ntfs-3g) and give its \
                 mount point",
            ),
            OpenHostError::Open(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for OpenHostError {}

/// The machine a command or a job works on: the offline host on `root`, or the live
/// host without it. The CLI's `--root` and the window open hosts only through this.
pub fn open_host(root: Option<&Path>) -> Result<Box<dyn MigrationHost>, OpenHostError> {
    match root {
        Some(root) => offline::OfflineHost::open(root)
            .map(|h| Box::new(h) as Box<dyn MigrationHost>)
            .map_err(|e| OpenHostError::Open(e.into())),
        None => live_host(),
    }
}

#[cfg(windows)]
fn live_host() -> Result<Box<dyn MigrationHost>, OpenHostError> {
    windows_host::WindowsHost::open()
        .map(|h| Box::new(h) as Box<dyn MigrationHost>)
        .map_err(|e| OpenHostError::Open(e.into()))
}

#[cfg(not(windows))]
fn live_host() -> Result<Box<dyn MigrationHost>, OpenHostError> {
    Err(OpenHostError::NeedsRoot)
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut eframe::egui::Ui, _frame: &mut eframe::Frame) {
        App::ui(self, ui);
    }
}
