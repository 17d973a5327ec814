//! Keeping Windows awake while admu works, and where its log goes when it runs
//! unattended.

use std::marker::PhantomData;
use std::path::PathBuf;

use windows_sys::Win32::System::Power::{
    ES_CONTINUOUS, ES_SYSTEM_REQUIRED, EXECUTION_STATE, SetThreadExecutionState,
};

/// Keeps the system from sleeping until dropped (`SetThreadExecutionState`). The state
/// belongs to the thread that set it, so the guard cannot be sent to another thread.
#[derive(Debug)]
#[must_use = "the system may sleep again as soon as the guard is dropped"]
pub struct SleepGuard {
    previous: EXECUTION_STATE,
    _same_thread: PhantomData<*const ()>,
}

/// Keeps Windows from going to sleep (the display may still turn off) until the guard
/// is dropped.
pub fn prevent_sleep() -> SleepGuard {
    // SAFETY: no pointers; only this thread's execution state changes.
    let previous = unsafe { SetThreadExecutionState(ES_CONTINUOUS | ES_SYSTEM_REQUIRED) };
    SleepGuard {
        previous,
        _same_thread: PhantomData,
    }
}

/// The state to go back to: what there was before, or none (0 means the call failed,
/// and then nothing was changed, but ES_CONTINUOUS alone clears it either way).
pub fn restore_state(previous: EXECUTION_STATE) -> EXECUTION_STATE {
    if previous & ES_CONTINUOUS != 0 {
        previous
    } else {
        ES_CONTINUOUS
    }
}

impl Drop for SleepGuard {
    fn drop(&mut self) {
        // SAFETY: no pointers; restores this thread's execution state.
        unsafe { SetThreadExecutionState(restore_state(self.previous)) };
    }
}

/// Where admu logs when it runs unattended: `%SystemRoot%\Temp\admu.log` (the Windows
/// folder from `GetSystemWindowsDirectoryW`, `C:\Windows` if that fails).
pub fn system_temp_log_path() -> PathBuf {
    crate::win32::windows_dir()
        .unwrap_or_else(|_| PathBuf::from(r"C:\Windows"))
        .join("Temp")
        .join("admu.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_state_comes_back() {
        assert_eq!(
            restore_state(ES_CONTINUOUS | ES_SYSTEM_REQUIRED),
            ES_CONTINUOUS | ES_SYSTEM_REQUIRED
        );
        assert_eq!(restore_state(0), ES_CONTINUOUS);
        assert_eq!(
            restore_state(ES_SYSTEM_REQUIRED),
            ES_CONTINUOUS,
            "a one-off request is not kept"
        );
        let guard = prevent_sleep();
        drop(guard);
        let log = system_temp_log_path();
        assert!(log.ends_with(r"Temp\admu.log"), "{}", log.display());
    }
}
