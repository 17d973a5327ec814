//! A generator of large, realistic-looking user hives (NTUSER.DAT-like), shared by the
//! `gen_large_hive` example and the `hive` Criterion benchmark. Everything goes through
//! hive's public API: a minimal empty hive built by hand, loaded with
//! [`Hive::from_bytes`], then keys, values and security descriptors added with
//! `create_key`, `set_value` and `set_key_security`.
//!
//! The output is a pure function of (key count, seed), except the key timestamps that
//! `create_key` stamps before we overwrite them, so hives with the same parameters have
//! the same shape and size.

use std::collections::HashSet;

use hive::Hive;
use hive::value::types;

/// The user SID the descriptors name (the "old" domain account of a migration).
pub const USER_SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
/// A SID to translate [`USER_SID`] to (a local account).
pub const NEW_SID: &str = "S-1-5-21-3623811015-3361044348-30300820-1013";
/// The user's domain, for the "Domain Users" group.
const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Keys below the root (the root itself is not counted).
    pub keys: usize,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub keys: u64,
    pub values: u64,
    /// Values whose data is larger than one big-data segment (stored as `db` cells).
    pub big_values: u64,
    /// Total value data bytes.
    pub data_bytes: u64,
    /// `set_key_security` calls (subtrees given their own descriptor).
    pub security_switches: u64,
    pub max_depth: usize,
    pub max_fanout: usize,
}

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The descriptors of the hive: a few dozen, the first few shared by most keys, the
/// rest by a subtree here and there, as in real profile hives. All but two name the
/// user; some carry a mandatory-label SACL. Index 0 is the root's.
pub fn descriptors() -> Vec<Vec<u8>> {
    let u = USER_SID;
    let du = format!("{DOMAIN}-513");
    // DACL bodies.
    let full = format!("(A;CI;KA;;;{u})(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;RC)");
    let inherited = format!("(A;CIID;KA;;;{u})(A;CIID;KA;;;SY)(A;CIID;KA;;;BA)(A;CIID;KR;;;RC)");
    let with_ac = format!("{inherited}(A;CIID;KR;;;AC)");
    let policies = format!("(A;CI;KR;;;{u})(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;RC)");
    let owners = [
        format!("O:{u}G:{u}"),
        "O:BAG:SY".to_string(),
        "O:SYG:SY".to_string(),
        format!("O:{u}G:{du}"),
    ];
    let mut sddl = Vec::new();
    // The common ones first: profile root, inherited, app-visible, policies.
    sddl.push(format!("O:BAG:SYD:P{full}"));
    sddl.push(format!("O:{u}G:{du}D:AI{inherited}"));
    sddl.push(format!("O:{u}G:{u}D:AI{with_ac}"));
    sddl.push(format!("O:BAG:SYD:P{policies}"));
    for owner in &owners {
        for (flags, body) in [
            ("P", &full),
            ("AI", &inherited),
            ("AI", &with_ac),
            ("P", &policies),
        ] {
            let s = format!("{owner}D:{flags}{body}");
            if !sddl.contains(&s) {
                sddl.push(s);
            }
        }
    }
    // Low-integrity keys (browsers, AppContainer data): mandatory label in the SACL.
    for label in ["S:(ML;CI;NW;;;LW)", "S:(ML;OICI;NWNR;;;LW)"] {
        sddl.push(format!("O:{u}G:{du}D:AI{inherited}{label}"));
        sddl.push(format!("O:{u}G:{u}D:AI{with_ac}{label}"));
    }
    // Per-package keys: an AppContainer SID each, some with a capability SID.
    for i in 0..8u32 {
        let pkg = format!(
            "S-1-15-2-{}-{}-{}-{}-{}-{}-{}",
            1_430_448_594 + i,
            2_639_229_838u32.wrapping_add(i * 7),
            973_813_799,
            439_329_657 + i * 13,
            1_197_984_847,
            4_069_167_804u32.wrapping_sub(i),
            1_277_922_394
        );
        let mut s = format!("O:{u}G:{u}D:AI{with_ac}(A;CI;KA;;;{pkg})");
        if i % 2 == 0 {
            s.push_str("(A;CI;KR;;;S-1-15-3-1024-1065365936-1281604716-3511738428-1654721687-432734479-3232135806-4053264122-3456934681)");
        }
        if i % 4 == 1 {
            s.push_str("S:(ML;OICI;NW;;;LW)");
        }
        sddl.push(s);
    }
    // Two that do not name the user at all (machine-written keys).
    sddl.push("O:SYG:SYD:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)".into());
    sddl.push("O:BAG:SYD:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;BU)".into());
    sddl.iter()
        .map(|s| {
            ntsec::SecurityDescriptor::from_sddl(s)
                .expect("the generator's SDDL parses")
                .to_bytes()
                .expect("the generator's descriptors encode")
        })
        .collect()
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// 2021-06-01T00:00:00Z as a FILETIME.
const FILETIME_2021: u64 = 132_669_216_000_000_000;
/// One year of FILETIME ticks.
const FILETIME_YEAR: u64 = 315_360_000_000_000;

/// A minimal valid empty hive: a base block (regf 1.5, clean, sequence 1/1) and one
/// 4096-byte bin holding the root key, its sk cell (`root_sd`) and one free cell.
pub fn empty_hive(root_sd: &[u8]) -> Vec<u8> {
    const ROOT: usize = 0x20;
    let mut data = vec![0u8; 8192];
    // Base block.
    data[..4].copy_from_slice(b"regf");
    put_u32(&mut data, 4, 1); // primary sequence
    put_u32(&mut data, 8, 1); // secondary sequence
    put_u64(&mut data, 12, FILETIME_2021);
    put_u32(&mut data, 20, 1); // major
    put_u32(&mut data, 24, 5); // minor
    put_u32(&mut data, 28, 0); // file type: primary
    put_u32(&mut data, 32, 1); // format: direct memory load
    put_u32(&mut data, 36, ROOT as u32);
    put_u32(&mut data, 40, 4096); // hive bins size
    put_u32(&mut data, 44, 1); // clustering factor
    for (i, unit) in r"\??\C:\Users\jdoe\ntuser.dat"
        .encode_utf16()
        .take(31)
        .enumerate()
    {
        put_u16(&mut data, 48 + 2 * i, unit);
    }
    hive::base::fix_checksum(&mut data);

    // The bin.
    let bin = 4096;
    data[bin..bin + 4].copy_from_slice(b"hbin");
    put_u32(&mut data, bin + 4, 0); // offset
    put_u32(&mut data, bin + 8, 4096); // size
    put_u64(&mut data, bin + 0x14, FILETIME_2021);

    // Root nk.
    let name = b"CMI-CreateHive{6A1C4018-979D-4291-A7DC-7AED1C75B67C}";
    let nk_size = (4 + 76 + name.len()).next_multiple_of(8);
    let sk_off = ROOT + nk_size;
    let nk = bin + ROOT;
    put_u32(&mut data, nk, (nk_size as i32).wrapping_neg() as u32);
    let c = nk + 4;
    data[c..c + 2].copy_from_slice(b"nk");
    put_u16(&mut data, c + 2, 0x2C); // HIVE_ENTRY | NO_DELETE | COMP_NAME
    put_u64(&mut data, c + 4, FILETIME_2021);
    put_u32(&mut data, c + 16, 0); // parent
    put_u32(&mut data, c + 28, u32::MAX); // subkey list
    put_u32(&mut data, c + 32, u32::MAX); // volatile subkey list
    put_u32(&mut data, c + 40, u32::MAX); // value list
    put_u32(&mut data, c + 44, sk_off as u32);
    put_u32(&mut data, c + 48, u32::MAX); // class
    put_u16(&mut data, c + 72, name.len() as u16);
    data[c + 76..c + 76 + name.len()].copy_from_slice(name);

    // Its sk: a list of one, linked to itself.
    let sk_size = (4 + 20 + root_sd.len()).next_multiple_of(8);
    let sk = bin + sk_off;
    put_u32(&mut data, sk, (sk_size as i32).wrapping_neg() as u32);
    let c = sk + 4;
    data[c..c + 2].copy_from_slice(b"sk");
    put_u32(&mut data, c + 4, sk_off as u32); // flink
    put_u32(&mut data, c + 8, sk_off as u32); // blink
    put_u32(&mut data, c + 12, 1); // reference count
    put_u32(&mut data, c + 16, root_sd.len() as u32);
    data[c + 20..c + 20 + root_sd.len()].copy_from_slice(root_sd);

    // The rest of the bin: one free cell.
    let free = sk_off + sk_size;
    put_u32(&mut data, bin + free, (4096 - free) as u32);
    data
}

const WORDS: &[&str] = &[
    "Microsoft",
    "Windows",
    "CurrentVersion",
    "Explorer",
    "Advanced",
    "Policies",
    "Shell",
    "Bags",
    "BagMRU",
    "RecentDocs",
    "Internet Settings",
    "Zones",
    "Lockdown_Zones",
    "Run",
    "RunOnce",
    "Themes",
    "Personalize",
    "Notifications",
    "Settings",
    "Office",
    "16.0",
    "Common",
    "Roaming",
    "Identities",
    "Google",
    "Chrome",
    "Mozilla",
    "Firefox",
    "Adobe",
    "Acrobat Reader",
    "DC",
    "AVGeneral",
    "Classes",
    "CLSID",
    "InprocServer32",
    "Wow6432Node",
    "Desktop",
    "Colors",
    "Mouse",
    "International",
    "Search",
    "Feeds",
    "TypedPaths",
    "UserAssist",
    "Count",
    "FileExts",
    "OpenWithList",
    "OpenWithProgids",
    "UserChoice",
    "ComDlg32",
    "LastVisitedPidlMRU",
    "OpenSavePidlMRU",
    "StartPage",
    "Taskband",
    "StuckRects3",
    "SessionInfo",
    "Accent",
    "Cache",
    "Extensions",
    "Preferences",
    "Profiles",
    "Default",
    "Devices",
    "Audio",
    "Capture",
    "Render",
    "Properties",
    "Connections",
    "Discardable",
    "PostSetup",
    "Component Categories",
    "ShellNoRoam",
    "MUICache",
    "Intelligence",
    "Teams",
    "OneDrive",
    "Accounts",
    "Business1",
    "Tenants",
    "Outlook",
    "Word",
    "Excel",
    "PowerPoint",
    "Resiliency",
    "DocumentRecovery",
    "File MRU",
    "Place MRU",
    "User MRU",
    "Security",
    "Trusted Locations",
    "Options",
    "Toolbars",
    "Visual Studio",
    "Packages",
    "Telemetry",
    "CloudStore",
    "Store",
    "DefaultAccount",
    "Cloud",
    "Data",
    "Current",
    "Components",
    "Winlogon",
    "Group Policy",
    "History",
    "State",
    "Printers",
    "DevModePerUser",
    "Keyboard Layout",
    "Preload",
    "Substitutes",
    "Sound",
    "Schemes",
    "Apps",
    ".Default",
    ".Current",
    "SystemCertificates",
    "Root",
    "Certificates",
    "CRLs",
    "CTLs",
];

const EXTENSIONS: &[&str] = &[
    ".txt", ".docx", ".xlsx", ".pdf", ".png", ".jpg", ".html", ".zip", ".msg", ".csv", ".log",
    ".json", ".xml", ".ps1", ".lnk", ".url", ".mp4", ".pptx",
];

const VALUE_NAMES: &[&str] = &[
    "Path",
    "InstallLocation",
    "DisplayName",
    "Version",
    "Flags",
    "LastUsed",
    "MRUList",
    "MRUListEx",
    "Position",
    "WindowSize",
    "Enabled",
    "Data",
    "Settings",
    "State",
    "Count",
    "Order",
    "ViewMode",
    "IconSize",
    "Sort",
    "Mode",
    "Options",
    "Type",
    "Id",
    "Name",
    "Icon",
    "Target",
    "Hash",
    "ProgId",
    "Timestamp",
    "LastWriteTime",
    "ShowTypeOverlay",
    "Start_TrackDocs",
    "TaskbarAl",
    "Wallpaper",
    "AppsUseLightTheme",
    "ColorPrevalence",
    "SessionId",
    "UserName",
    "AccountId",
    "TenantId",
];

const PATH_PARTS: &[&str] = &[
    "AppData",
    "Local",
    "Roaming",
    "LocalLow",
    "Microsoft",
    "Windows",
    "Temp",
    "Packages",
    "Programs",
    "Documents",
    "Downloads",
    "Desktop",
    "OneDrive - Contoso",
    "Projects",
    "Google",
    "Chrome",
    "User Data",
    "Default",
    "Office",
    "Recent",
    "Templates",
    "Teams",
    "Cache",
    "INetCache",
    "Themes",
];

fn guid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

fn key_name(rng: &mut Rng, index: usize) -> String {
    let roll = rng.below(100);
    match roll {
        0..55 => rng.pick(WORDS).to_string(),
        55..75 => guid(rng),
        75..85 => index.to_string(),
        85..93 => format!("{}{}", rng.pick(EXTENSIONS), rng.below(10)),
        _ => format!("{} {}", rng.pick(WORDS), rng.pick(WORDS)),
    }
}

fn path_value(rng: &mut Rng) -> String {
    let mut s = String::from(r"C:\Users\jdoe");
    for _ in 0..rng.range(2, 7) {
        s.push('\\');
        s.push_str(rng.pick(PATH_PARTS));
    }
    s.push('\\');
    s.push_str(&format!(
        "{}{}{}",
        rng.pick(WORDS).replace(' ', "_"),
        rng.below(10_000),
        rng.pick(EXTENSIONS)
    ));
    s
}

fn sz(s: &str) -> Vec<u8> {
    hive::value::encode_sz(s)
}

fn blob(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    // Half of them compressible (structures, PIDLs), half noise (hashes, keys).
    if rng.chance(0.5) {
        while out.len() < len {
            out.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
    } else {
        let mut x = rng.next_u64();
        while out.len() < len {
            x = x.wrapping_add(1);
            out.extend_from_slice(&(x & 0x00FF_00FF_0000_FFFF).to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

/// One value: (type, data).
fn value_data(rng: &mut Rng) -> (u32, Vec<u8>) {
    match rng.below(100) {
        0..30 => (types::SZ, sz(&path_value(rng))),
        30..40 => (
            types::SZ,
            sz(&format!("{} {}", rng.pick(WORDS), rng.pick(WORDS))),
        ),
        40..45 => (
            types::EXPAND_SZ,
            sz(&format!(
                r"%USERPROFILE%\{}\{}",
                rng.pick(PATH_PARTS),
                rng.pick(PATH_PARTS)
            )),
        ),
        45..70 => (
            types::DWORD,
            (rng.next_u64() as u32 % 4096).to_le_bytes().to_vec(),
        ),
        70..75 => (types::QWORD, rng.next_u64().to_le_bytes().to_vec()),
        75..80 => {
            let items: Vec<String> = (0..rng.range(2, 5)).map(|_| path_value(rng)).collect();
            (types::MULTI_SZ, hive::value::encode_multi_sz(&items))
        }
        _ => {
            let len = match rng.below(10_000) {
                0..9000 => rng.range(8, 100),
                9000..9900 => rng.range(100, 1024),
                9900..9990 => rng.range(1024, 16_000),
                // > 16 KiB: big data (db cells) of 2 to 4 segments.
                _ => rng.range(16_400, 64 * 1024),
            };
            (types::BINARY, blob(rng, len))
        }
    }
}

fn value_count(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..55 => 0,
        55..87 => rng.range(1, 3),
        87..98 => rng.range(3, 8),
        _ => rng.range(8, 24),
    }
}

/// Splits `total` keys among `n` children, skewed: a few children get most.
fn split(rng: &mut Rng, total: usize, n: usize) -> Vec<usize> {
    let weights: Vec<f64> = (0..n).map(|_| rng.unit().powi(4) + 1e-9).collect();
    let sum: f64 = weights.iter().sum();
    let mut parts: Vec<usize> = weights
        .iter()
        .map(|w| (w / sum * total as f64) as usize)
        .collect();
    let mut rest = total - parts.iter().sum::<usize>();
    while rest > 0 {
        let i = rng.below(n);
        parts[i] += 1;
        rest -= 1;
    }
    parts
}

/// Largest fan-out: `create_key` rewrites the parent's whole subkey list, so each
/// insertion costs O(fan-out).
pub const MAX_FANOUT: usize = 200;

fn fanout(rng: &mut Rng, budget: usize, depth: usize) -> usize {
    let f = if depth >= 16 {
        MAX_FANOUT
    } else {
        match rng.below(100) {
            0..50 => rng.range(1, 5),
            50..85 => rng.range(4, 17),
            85..97 => rng.range(16, 65),
            _ => rng.range(64, MAX_FANOUT + 1),
        }
    };
    let floor = match budget {
        0..1_000 => 1,
        1_000..20_000 => 6,
        _ => 16,
    };
    f.max(floor).min(budget)
}

/// Builds a hive of `config.keys` keys below the root.
pub fn generate(config: Config) -> hive::Result<(Hive, Stats)> {
    let mut rng = Rng::new(config.seed);
    let sds = descriptors();
    let mut hive = Hive::from_bytes(empty_hive(&sds[0]), &[])?;
    let mut stats = Stats::default();
    let root = hive.root_offset();

    // The top level of a user hive, most keys under Software.
    let top: &[(&str, f64, usize)] = &[
        ("AppEvents", 0.01, 0),
        ("Console", 0.001, 0),
        ("Control Panel", 0.02, 0),
        ("Environment", 0.0, 0),
        ("EUDC", 0.0, 0),
        ("Keyboard Layout", 0.001, 0),
        ("Network", 0.001, 0),
        ("Printers", 0.005, 3),
        ("Software", 0.9, 1),
        ("System", 0.05, 1),
        ("Volatile Environment", 0.0, 5),
    ];
    let below_top = config.keys.saturating_sub(top.len());
    let mut budgets: Vec<usize> = top
        .iter()
        .map(|&(_, share, _)| (below_top as f64 * share) as usize)
        .collect();
    let others: usize = budgets.iter().sum();
    if let Some(i) = top.iter().position(|&(name, _, _)| name == "Software") {
        budgets[i] = below_top - (others - budgets[i]);
    }
    let mut stack: Vec<(u32, usize, usize)> = Vec::new();
    for (&(name, _, sd), budget) in top.iter().zip(budgets) {
        if stats.keys as usize >= config.keys {
            break;
        }
        let key = hive.create_key(root, name)?;
        stats.keys += 1;
        if sd != 0 {
            hive.set_key_security(key, &sds[sd])?;
            stats.security_switches += 1;
        }
        add_values(&mut hive, &mut rng, key, &mut stats)?;
        stack.push((key, 1, budget));
    }

    while let Some((parent, depth, budget)) = stack.pop() {
        if budget == 0 {
            continue;
        }
        stats.max_depth = stats.max_depth.max(depth + 1);
        let n = fanout(&mut rng, budget, depth);
        stats.max_fanout = stats.max_fanout.max(n);
        let shares = split(&mut rng, budget - n, n);
        let mut names = HashSet::with_capacity(n);
        for (i, share) in shares.into_iter().enumerate() {
            let mut name = key_name(&mut rng, i);
            while !names.insert(name.to_uppercase()) {
                name = format!("{name}{}", rng.below(100));
            }
            let key = hive.create_key(parent, &name)?;
            stats.keys += 1;
            hive.set_last_written(key, FILETIME_2021 + rng.next_u64() % (4 * FILETIME_YEAR))?;
            // Now and then a subtree gets a descriptor of its own, which its keys
            // (created later, inheriting their parent's sk) share.
            if depth >= 1 && rng.chance(if depth < 3 { 0.05 } else { 0.01 }) {
                let sd = if rng.chance(0.7) {
                    rng.below(4)
                } else {
                    rng.below(sds.len())
                };
                hive.set_key_security(key, &sds[sd])?;
                stats.security_switches += 1;
            }
            add_values(&mut hive, &mut rng, key, &mut stats)?;
            stack.push((key, depth + 1, share));
        }
    }
    Ok((hive, stats))
}

fn add_values(hive: &mut Hive, rng: &mut Rng, key: u32, stats: &mut Stats) -> hive::Result<()> {
    let n = value_count(rng);
    for i in 0..n {
        let name = if i == 0 && rng.chance(0.1) {
            String::new()
        } else if i < VALUE_NAMES.len() && rng.chance(0.8) {
            // Unique within the key: 7 and the list's length are coprime.
            VALUE_NAMES[(i * 7) % VALUE_NAMES.len()].to_string()
        } else {
            format!("{}{i}", rng.pick(VALUE_NAMES))
        };
        let (kind, data) = value_data(rng);
        stats.values += 1;
        stats.data_bytes += data.len() as u64;
        if data.len() > hive::value::BIG_DATA_SEGMENT {
            stats.big_values += 1;
        }
        hive.set_value(key, &name, kind, &data)?;
    }
    Ok(())
}
