//! Logging through `tracing`: human lines on stderr by default, JSON lines with `--json`,
//! and a copy to `--log-file` (always JSON, so machines can read it back).

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. `verbosity` counts `-v` flags; `ADMU_LOG` (an
/// `EnvFilter` directive such as `hive=trace`) overrides it.
pub fn init(verbosity: u8, quiet: bool, json: bool, log_file: Option<&Path>) -> anyhow::Result<()> {
    let level = match (quiet, verbosity) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = || EnvFilter::try_from_env("ADMU_LOG").unwrap_or_else(|_| EnvFilter::new(level));

    let stderr = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .without_time()
            .with_filter(filter())
            .boxed()
    };

    let file = match log_file {
        Some(path) => {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(Mutex::new(f))
                    .with_filter(EnvFilter::new("debug"))
                    .boxed(),
            )
        }
        None => None,
    };

    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .with(system_log())
        .try_init()
        .context("cannot install the logger")?;
    Ok(())
}

/// On Windows, every run also appends human-readable lines to
/// `%SystemRoot%\Temp\admu.log`, where an admin (or ADMU's habits) looks first after an
/// unattended run. Silently absent when the file cannot be opened (not elevated).
fn system_log<S>() -> Option<Box<dyn Layer<S> + Send + Sync>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    if !cfg!(windows) {
        return None;
    }
    let root = std::env::var_os("SystemRoot")?;
    let path = Path::new(&root).join("Temp").join("admu.log");
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()?;
    Some(
        tracing_subscriber::fmt::layer()
            .with_writer(Mutex::new(f))
            .with_ansi(false)
            .with_filter(EnvFilter::new("info"))
            .boxed(),
    )
}
