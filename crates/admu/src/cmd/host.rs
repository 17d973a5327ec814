//! Which machine a command works on: a mounted volume (`--root`, the offline host) or
//! the Windows admu runs on (the live host, Windows only).

use std::path::Path;

use engine::host::MigrationHost;

use crate::exit::{CommandError, Exit};

/// Opens the offline host on `root`, or the live host without it (the same opener as
/// the window's).
pub fn open(root: Option<&Path>) -> Result<Box<dyn MigrationHost>, CommandError> {
    admu_gui::open_host(root).map_err(|e| {
        let exit = match e {
            admu_gui::OpenHostError::NeedsRoot => Exit::Usage,
            admu_gui::OpenHostError::Open(_) => Exit::Failed,
        };
        CommandError::new(exit, e)
    })
}

/// Keeps Windows awake while a mutating command works on the live system.
#[derive(Debug)]
pub struct Awake {
    #[cfg(windows)]
    _guard: Option<windows_host::SleepGuard>,
}

/// Prevents sleep for the duration (live Windows only).
pub fn keep_awake(root: Option<&Path>) -> Awake {
    #[cfg(windows)]
    {
        Awake {
            _guard: root.is_none().then(windows_host::prevent_sleep),
        }
    }
    #[cfg(not(windows))]
    {
        let _ = root;
        Awake {}
    }
}

/// Live Windows: registers (or removes) the start-up task that runs `admu recover`, so a
/// run that ended with an unfinished journal is finished at the next start.
pub fn recover_at_next_start(root: Option<&Path>, needed: bool) {
    #[cfg(windows)]
    if root.is_none() {
        let args = if needed {
            let exe = std::env::current_exe().unwrap_or_else(|_| "admu.exe".into());
            let log = windows_host::system_temp_log_path().with_file_name("admu-recover.jsonl");
            engine::live::recover_task_create(&exe, &log)
        } else {
            engine::live::recover_task_delete()
        };
        match engine::child_env::without_secrets(&mut std::process::Command::new("schtasks.exe"))
            .args(&args)
            .output()
        {
            Ok(out) if out.status.success() || !needed => {
                if needed {
                    tracing::warn!(
                        "`admu recover` will run at the next start (task {:?})",
                        engine::live::RECOVER_TASK
                    );
                }
            }
            Ok(out) => tracing::warn!(
                "could not register `admu recover` at start: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => tracing::warn!("could not run schtasks.exe: {e}"),
        }
    }
    #[cfg(not(windows))]
    let _ = (root, needed);
}
