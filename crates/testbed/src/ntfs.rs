//! A sparse NTFS image, formatted with `mkntfs` and mounted with `ntfs-3g`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The xattr under which ntfs-3g exposes a file's self-relative security descriptor.
pub const NTFS_ACL_XATTR: &str = "system.ntfs_acl";

/// A mounted NTFS image that is unmounted and deleted when dropped.
#[derive(Debug)]
pub struct NtfsImage {
    dir: tempfile::TempDir,
    image: PathBuf,
    mountpoint: PathBuf,
    daemon: Option<Child>,
}

impl NtfsImage {
    /// Creates a sparse image of `size_mib` MiB, formats and mounts it.
    pub fn create(size_mib: u64) -> io::Result<NtfsImage> {
        let dir = tempfile::Builder::new().prefix("admu-ntfs-").tempdir()?;
        let image = dir.path().join("volume.img");
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&mountpoint)?;
        std::fs::File::create(&image)?.set_len(size_mib * 1024 * 1024)?;
        run(Command::new("mkntfs").args(["-F", "-f", "-q"]).arg(&image))?;
        let mut vol = NtfsImage {
            dir,
            image,
            mountpoint,
            daemon: None,
        };
        vol.mount()?;
        Ok(vol)
    }

    /// A 256 MiB test volume, or `None` after a visible skip when this machine cannot
    /// mount one (not root, no /dev/fuse, no ntfs-3g). On CI a missing bed fails the test.
    #[allow(
        clippy::panic,
        reason = "test support: a missing bed on CI must fail the test"
    )]
    pub fn for_test(test: &str) -> Option<NtfsImage> {
        if let Some(reason) = unavailable_reason() {
            crate::skip(test, &reason);
            return None;
        }
        match NtfsImage::create(256) {
            Ok(v) => Some(v),
            Err(e) if crate::in_ci() => panic!("{test}: cannot create the NTFS test bed: {e}"),
            Err(e) => {
                crate::skip(test, &format!("cannot create the NTFS test bed: {e}"));
                None
            }
        }
    }

    /// The mounted volume's root.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// The image file (for `ntfssecaudit` and other tools that read it unmounted).
    pub fn image(&self) -> &Path {
        &self.image
    }

    /// The temporary directory holding the image; it is deleted on drop.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Unmounts and mounts again, so the next reads come from the image, not from caches.
    pub fn remount(&mut self) -> io::Result<()> {
        self.unmount()?;
        self.mount()
    }

    /// Runs `f` with the volume unmounted (for tools that need the bare image), then
    /// mounts it again.
    pub fn with_unmounted<T>(&mut self, f: impl FnOnce(&Path) -> T) -> io::Result<T> {
        self.unmount()?;
        let out = f(&self.image);
        self.mount()?;
        Ok(out)
    }

    /// A power cut as the volume sees it: SIGKILLs the ntfs-3g daemon serving the mount,
    /// so whatever it had not yet written to the image is lost, then detaches the dead
    /// mount lazily (`umount -l`): processes still using it get errors instead of
    /// hanging. [`NtfsImage::mount_again`] mounts the image with a fresh ntfs-3g.
    pub fn kill_daemon(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.daemon.take() {
            // An error here means it had already exited; it is reaped below either way.
            let _ = child.kill();
            child.wait()?;
        }
        if is_mounted(&self.mountpoint)? {
            run(Command::new("umount").arg("-l").arg(&self.mountpoint))?;
        }
        Ok(())
    }

    /// Mounts the image again with a fresh ntfs-3g after [`NtfsImage::kill_daemon`].
    pub fn mount_again(&mut self) -> io::Result<()> {
        if self.daemon.is_some() || is_mounted(&self.mountpoint)? {
            return Err(io::Error::other(format!(
                "{} is still mounted",
                self.mountpoint.display()
            )));
        }
        self.mount()
    }

    fn mount(&mut self) -> io::Result<()> {
        // `no_detach` keeps ntfs-3g our child, so unmount can wait until it has flushed
        // and closed the image.
        let child = Command::new("ntfs-3g")
            .args(["-o", "no_detach"])
            .arg(&self.image)
            .arg(&self.mountpoint)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        self.daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !is_mounted(&self.mountpoint)? {
            if let Some(child) = self.daemon.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.daemon = None;
                return Err(io::Error::other(format!(
                    "ntfs-3g exited with {status} before mounting"
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other("ntfs-3g did not mount within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn unmount(&mut self) -> io::Result<()> {
        if is_mounted(&self.mountpoint)? {
            run(Command::new("umount").arg(&self.mountpoint))?;
        }
        if let Some(mut child) = self.daemon.take() {
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for NtfsImage {
    fn drop(&mut self) {
        if self.unmount().is_err() {
            // Busy (a test left a file open): detach lazily so the temp dir can go.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mountpoint)
                .status();
            if let Some(mut child) = self.daemon.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Why this machine cannot mount a test volume, or `None` when it can.
pub fn unavailable_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("needs root to mount ntfs-3g (FUSE)".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing".into());
    }
    for tool in ["mkntfs", "ntfs-3g"] {
        if !["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists())
        {
            return Some(format!(
                "`{tool}` is not installed (apt-get install ntfs-3g)"
            ));
        }
    }
    None
}

fn is_mounted(mountpoint: &Path) -> io::Result<bool> {
    // The parent is resolved, not the mount point itself: a mount whose daemon died
    // answers every lookup with ENOTCONN.
    let wanted = match (mountpoint.parent(), mountpoint.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)?.join(name),
        _ => std::fs::canonicalize(mountpoint)?,
    };
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mounts.lines().any(|line| {
        line.split(' ')
            .nth(4)
            .is_some_and(|p| Path::new(&unescape_mount_path(p)) == wanted)
    }))
}

/// mountinfo escapes space, tab, newline and backslash as octal `\NNN`.
fn unescape_mount_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if let Ok(v) = u8::from_str_radix(&digits, 8) {
                out.push(char::from(v));
                for _ in 0..3 {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Reads a file's security descriptor through ntfs-3g, in one call into a 64 KiB buffer
/// (ntfs-3g answers EIO, not ERANGE, to a buffer that is too small).
pub fn read_ntfs_acl(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = rustix::fs::lgetxattr(path, NTFS_ACL_XATTR, &mut buf[..])?;
    buf.truncate(n);
    Ok(buf)
}

/// Writes a file's security descriptor through ntfs-3g.
pub fn write_ntfs_acl(path: &Path, sd: &[u8]) -> io::Result<()> {
    rustix::fs::lsetxattr(path, NTFS_ACL_XATTR, sd, rustix::fs::XattrFlags::empty())?;
    Ok(())
}

/// Every descriptor under `dir` of an unmounted image, as `ntfssecaudit -b` (ntfs-3g's
/// own auditor, an independent reader) dumps it: volume path → descriptor bytes.
///
/// `-b` prints each distinct descriptor once, in hex, under its `$Secure` key, and later
/// entries refer to the key ("already displayed"). It can exit 1 after a complete dump
/// (trees with links); the dump counts as complete when its `# N security keys` trailer
/// is there.
pub fn ntfssecaudit_tree(
    image: &Path,
    dir: &str,
) -> io::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let out = Command::new("ntfssecaudit")
        .arg("-b")
        .arg(image)
        .arg(dir)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text
        .lines()
        .any(|l| l.starts_with("# ") && l.ends_with(" security keys"))
    {
        return Err(io::Error::other(format!(
            "ntfssecaudit -b gave no complete dump ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let mut tree = std::collections::BTreeMap::new();
    let mut by_key: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
    let mut current: Option<(String, String, Vec<u8>)> = None;
    let mut finish = |cur: Option<(String, String, Vec<u8>)>,
                      tree: &mut std::collections::BTreeMap<String, Vec<u8>>| {
        if let Some((path, key, sd)) = cur {
            let sd = if sd.is_empty() {
                by_key.get(&key).cloned().unwrap_or_default()
            } else {
                sd
            };
            if key != "none" {
                by_key.insert(key, sd.clone());
            }
            tree.insert(path, sd);
        }
    };
    for line in text.lines() {
        if let Some(path) = line
            .strip_prefix("File ")
            .or_else(|| line.strip_prefix("Directory "))
        {
            finish(current.take(), &mut tree);
            current = Some((path.to_string(), String::new(), Vec::new()));
            continue;
        }
        if let (Some((_, key, _)), Some(rest)) =
            (current.as_mut(), line.strip_prefix("Security key : "))
        {
            *key = rest.split_whitespace().next().unwrap_or("none").to_string();
            continue;
        }
        // Hex lines: "        000010  14000000 02001c00 …": an offset, then 4-byte groups.
        let mut words = line.split_whitespace();
        if let (Some((_, _, sd)), Some(offset)) = (current.as_mut(), words.next())
            && offset.len() == 6
            && offset.chars().all(|c| c.is_ascii_hexdigit())
            && line.starts_with(' ')
        {
            for group in words {
                for i in (0..group.len()).step_by(2) {
                    let byte =
                        u8::from_str_radix(&group[i..i + 2], 16).map_err(io::Error::other)?;
                    sd.push(byte);
                }
            }
        }
    }
    finish(current.take(), &mut tree);
    Ok(tree)
}

/// Runs `ntfssecaudit -a` on an unmounted image: true when it finds no errors in `$Secure`.
pub fn ntfssecaudit_clean(image: &Path) -> io::Result<(bool, String)> {
    let out = Command::new("ntfssecaudit").arg("-a").arg(image).output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((
        out.status.success() && text.contains("No errors were found"),
        text,
    ))
}
