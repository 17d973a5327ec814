//! Grows a user hive to the requested number of keys with the kind of keys that make up
//! most of a real `NTUSER.DAT`: application settings under `Software\<Vendor>`, CloudStore
//! cache entries, DeviceAccess grants, Low-integrity app data, file-extension history and
//! sound schemes, each subtree under its real descriptor family.
//!
//! Trees grow breadth first with at most [`FANOUT`] children per key, so the cost of each
//! new key is bounded (the hive engine rewrites a parent's whole subkey list per insert)
//! and generation stays linear up to the ~500k keys benchmarks ask for.

use crate::error::Result;
use crate::names::User;
use crate::regbuild::RegBuilder;
use crate::regsd as sd;
use crate::rng::Rng;

/// Most children any generated key gets.
pub const FANOUT: usize = 16;

/// Where keys grow: a base path, the family of the subtree, and first-level names.
struct Bucket {
    base: &'static str,
    family: &'static str,
    first: &'static [&'static str],
    /// A second family used for every fifth first-level subtree (installer-created keys).
    alt: Option<&'static str>,
}

const BUCKETS: &[Bucket] = &[
    Bucket {
        base: "Software\\Google",
        family: sd::USER,
        first: &[
            "Chrome",
            "Update",
            "Drive",
            "Software Removal Tool",
            "Chrome Remote Desktop",
        ],
        alt: Some(sd::ADMIN_CREATED),
    },
    Bucket {
        base: "Software\\Mozilla",
        family: sd::USER,
        first: &[
            "Firefox",
            "Mozilla Firefox",
            "Thunderbird",
            "MaintenanceService",
        ],
        alt: None,
    },
    Bucket {
        base: "Software\\Adobe",
        family: sd::USER,
        first: &[
            "Acrobat Reader",
            "Adobe Acrobat",
            "CommonFiles",
            "Adobe Synchronizer",
            "Photoshop",
        ],
        alt: Some(sd::SYSTEM_CREATED),
    },
    Bucket {
        base: "Software\\Microsoft\\Office\\16.0",
        family: sd::USER,
        first: &[
            "Common",
            "Word",
            "Excel",
            "PowerPoint",
            "Outlook",
            "OneNote",
            "Teams",
            "Registration",
        ],
        alt: None,
    },
    Bucket {
        base: "Software\\Microsoft\\Windows\\CurrentVersion\\CloudStore\\Store\\Cache\\DefaultAccount",
        family: sd::CLOUD_STORE,
        first: &[
            "$de${a2b7cbc6-6a4f-4d87-9d05-4ad5d3c3ed4f}$$windows.data.unifiedtile.startglobalproperties",
            "$$windows.data.taskflow.shellactivities",
            "$$windows.data.notifications.quiethourssettings",
            "$$windows.data.signals.registrations",
        ],
        alt: None,
    },
    Bucket {
        base: "Software\\Microsoft\\Windows\\CurrentVersion\\DeviceAccess\\Global",
        family: sd::DEVICE_ACCESS,
        first: &[
            "{A8804298-2D5F-42E3-9531-9C8C39EB29CE}",
            "{BFA794E4-F964-4FDB-90F6-51056BFE4B44}",
            "{C1D23ACC-752B-43E5-8448-8D0E519CD6D6}",
            "{D89823BA-7180-4B81-B50C-7E471E6121A3}",
        ],
        alt: None,
    },
    Bucket {
        base: "Software\\AppDataLow\\Software",
        family: sd::APPDATA_LOW_CHILD,
        first: &["JavaSoft", "Adobe", "Microsoft\\Edge", "Sun"],
        alt: None,
    },
    Bucket {
        base: "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\FileExts",
        family: sd::USER_APPS,
        first: &[
            ".log", ".csv", ".zip", ".png", ".json", ".xml", ".ps1", ".md",
        ],
        alt: None,
    },
    Bucket {
        base: "AppEvents\\Schemes\\Apps",
        family: sd::USER_APPS,
        first: &["Explorer", "sapisvr", "devenv", "Outlook"],
        alt: None,
    },
    Bucket {
        base: "Software\\7-Zip",
        family: sd::USER,
        first: &["FM", "Compression", "Extraction", "Options"],
        alt: None,
    },
    Bucket {
        base: "Software\\Microsoft\\Windows\\CurrentVersion\\Search\\RecentApps",
        family: sd::SEARCH_CHILD,
        first: &[
            "{DA8DC440-0FAA-417D-8AF4-8F4B2EB50409}",
            "{4B2E1BA1-AAE9-4C5E-AB91-3E6A0A4D3B57}",
        ],
        alt: None,
    },
    Bucket {
        base: "Software\\Notepad++",
        family: sd::USER,
        first: &["Sessions", "Plugins", "Recent"],
        alt: Some(sd::ADMIN_CREATED),
    },
];

const SECTIONS: &[&str] = &[
    "Settings",
    "Recent",
    "Window",
    "Profiles",
    "Plugins",
    "Cache",
    "History",
    "Layout",
    "Toolbars",
    "Extensions",
    "Accounts",
    "Preferences",
    "Sessions",
    "Bookmarks",
    "Devices",
    "Policies",
];

/// Adds keys until the hive has about `target` keys (nothing when it already has them).
pub fn grow(b: &mut RegBuilder, user: &User, target: usize, r: &mut Rng) -> Result<()> {
    let have = b
        .hive
        .all_key_offsets()
        .map_err(|source| crate::error::Error::Hive {
            hive: "NTUSER.DAT".into(),
            source,
        })?
        .len();
    let mut budget = target.saturating_sub(have);
    let n = BUCKETS.len();
    for (i, bucket) in BUCKETS.iter().enumerate() {
        let share = budget / (n - i);
        budget -= share;
        grow_bucket(b, user, bucket, share, r)?;
    }
    Ok(())
}

/// A key name for depth `depth` (0 = first level) and sibling index `i`.
fn name(bucket: &Bucket, depth: usize, i: usize, r: &mut Rng) -> String {
    match depth {
        0 => match bucket.first.get(i) {
            Some(n) => (*n).to_string(),
            None => format!("{}{}", bucket.first.first().copied().unwrap_or("Item"), i),
        },
        1 => SECTIONS
            .get(i)
            .map_or_else(|| format!("Section{i}"), |s| (*s).to_string()),
        2 => format!("{{{}}}", crate::rng::guid_plain(&r.guid()).to_uppercase()),
        _ => format!("{i}"),
    }
}

fn values(b: &mut RegBuilder, user: &User, key: u32, serial: usize, r: &mut Rng) -> Result<()> {
    match serial % 4 {
        0 => b.sz(
            key,
            "LastPath",
            &format!(
                "{}\\Documents\\Project {}",
                user.profile_path(),
                serial % 97
            ),
        ),
        1 => {
            b.dword(key, "Enabled", (serial % 2) as u32)?;
            b.dword(key, "Version", 3 + (serial % 5) as u32)
        }
        2 => {
            let mut data = vec![0u8; 16 + r.below(48) as usize];
            for x in data.iter_mut() {
                *x = r.below(256) as u8;
            }
            b.binary(key, "State", &data)
        }
        _ => Ok(()),
    }
}

/// One bucket's subtree, breadth first.
fn grow_bucket(
    b: &mut RegBuilder,
    user: &User,
    bucket: &Bucket,
    mut budget: usize,
    r: &mut Rng,
) -> Result<()> {
    if budget == 0 {
        return Ok(());
    }
    let base = b.key(bucket.base)?;
    b.secure(base, bucket.family)?;
    let first = bucket.first.len().min(FANOUT);
    // (key, depth of its children): parents are expanded in creation order.
    let mut queue = std::collections::VecDeque::from([(base, 0usize)]);
    let mut serial = 0usize;
    while let Some((parent, depth)) = queue.pop_front() {
        let width = if depth == 0 { first } else { FANOUT };
        for i in 0..width {
            if budget == 0 {
                return Ok(());
            }
            let name = name(bucket, depth, i, r);
            let key = if depth == 0 {
                // First-level names may be paths and may exist already.
                let k = b.key(&format!("{}\\{name}", bucket.base))?;
                let family = match bucket.alt {
                    Some(alt) if i % 5 == 4 => alt,
                    _ => bucket.family,
                };
                b.secure(k, family)?;
                k
            } else {
                b.sub(parent, &name)?
            };
            budget -= 1;
            serial += 1;
            values(b, user, key, serial, r)?;
            queue.push_back((key, depth + 1));
        }
    }
    Ok(())
}
