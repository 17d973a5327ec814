//! `admu-gui.exe`: the window alone, for a double-click in Explorer. It is a Windows
//! GUI-subsystem program, so Windows opens no console window for it; `admu gui` (the
//! console program) opens the same window from a terminal, and every other command
//! stays in `admu.exe`. On other systems it is `admu gui` under another name.
#![windows_subsystem = "windows"]

use std::process::ExitCode;

use clap::Parser;

// admu's logging as `admu` sets it up: stderr (nowhere without a console) and, on
// Windows, `%SystemRoot%\Temp\admu.log`, where a failure to open the window shows.
#[path = "../logging.rs"]
mod logging;

/// admu's window: convert a domain or Entra profile in place to a local account.
#[derive(Debug, Parser)]
#[command(name = "admu-gui", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    gui: admu_gui::GuiArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(0, false, false, None) {
        eprintln!("admu-gui: {e:#}");
    }
    match admu_gui::run(cli.gui) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
