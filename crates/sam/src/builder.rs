//! A realistic Windows 10/11 SYSTEM + SAM pair built from nothing: a random machine SID
//! and boot key, the built-in accounts (Administrator, Guest, DefaultAccount and, on
//! request, WDAGUtilityAccount), group None, the 24 built-in aliases with their members
//! and reverse index, and the SYSTEM keys that hold the boot key and the computer name.
//! With a seed, the same spec gives the same bytes every time.

use std::path::{Path, PathBuf};

use hive::{Hive, NewHive};
use ntsec::Sid;

use crate::catalog::{self, RecordSd};
use crate::crypto::{self, KeyScheme};
use crate::edit::UserSpec;
use crate::error::{Error, Result};
use crate::layout::{self, DomainF, NEVER};
use crate::rng::Random;
use crate::sam::{Sam, paths};
use crate::system::{BOOT_KEY_PARTS, SystemInfo};

/// 2024-01-15 00:00 UTC: the "install time" of seeded samples.
pub const SAMPLE_INSTALL_TIME: u64 = 133_497_504_000_000_000;
/// Record layout generation of Windows 10/11.
const REVISION: u16 = 3;
const SAM_LABEL: &str = "(generated SAM)";
const SYSTEM_LABEL: &str = "(generated SYSTEM)";

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairSpec {
    /// NetBIOS computer name (upper case, at most 15 characters), e.g. `DESKTOP-7K2M4QX`.
    pub computer_name: String,
    /// AES (Windows 10 1607 and later) or RC4 (earlier).
    pub scheme: KeyScheme,
    /// Seed for every random choice; `None` uses the operating system's generator.
    pub seed: Option<u64>,
    /// Add WDAGUtilityAccount (RID 504), as editions with Application Guard have.
    pub wdag_account: bool,
    /// Install time (FILETIME); `None`: [`SAMPLE_INSTALL_TIME`] when seeded, else now.
    pub install_time: Option<u64>,
}

impl Default for PairSpec {
    fn default() -> Self {
        PairSpec {
            computer_name: "DESKTOP-ADMU01".into(),
            scheme: KeyScheme::Aes,
            seed: None,
            wdag_account: true,
            install_time: None,
        }
    }
}

/// A generated pair. Add accounts through [`GeneratedPair::sam`], then write both files.
#[derive(Clone)]
pub struct GeneratedPair {
    /// The SAM, opened with the SYSTEM's boot key (so accounts can be created).
    pub sam: Sam,
    /// The SYSTEM hive; callers may add keys before writing it.
    pub system: Hive,
    pub machine_sid: Sid,
    pub computer_name: String,
    /// The timestamp written into keys and base blocks when seeded.
    fixed_time: Option<u64>,
}

/// Where [`GeneratedPair::write_to`] put the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPair {
    pub sam: PathBuf,
    pub system: PathBuf,
}

/// Builds a SYSTEM + SAM pair.
pub fn generate_pair(spec: &PairSpec) -> Result<GeneratedPair> {
    let name_ok = !spec.computer_name.is_empty()
        && spec.computer_name.len() <= 15
        && spec
            .computer_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_ok {
        return Err(Error::InvalidName {
            name: spec.computer_name.clone(),
            reason: "a computer name has 1 to 15 letters, digits or hyphens".into(),
        });
    }
    let mut random = Random::from_seed(spec.seed);
    let time = spec.install_time.unwrap_or(if spec.seed.is_some() {
        SAMPLE_INSTALL_TIME
    } else {
        hive::edit::filetime_now()
    });
    let fixed_time = spec.seed.map(|_| time);
    let boot_key = random.bytes16()?;
    let machine_sid = Sid::new(
        5,
        &[
            21,
            random.next_u32()?,
            random.next_u32()?,
            random.next_u32()?,
        ],
    )
    .map_err(|e| Error::record(SAM_LABEL, "machine SID", e.to_string()))?;

    let mut system = build_system(spec, &boot_key, time, &mut random)?;
    let info = SystemInfo::read(&system, SYSTEM_LABEL)?;
    let base = build_sam_base(spec.scheme, &boot_key, &machine_sid, time, &mut random)?;
    let mut sam = Sam::from_hive(base, SAM_LABEL, Some(info))?;
    sam.set_random(random);
    sam.set_fixed_time(Some(time));
    add_builtin_members(&mut sam, spec, time)?;
    sam.set_fixed_time(fixed_time);
    if let Some(t) = fixed_time {
        stamp_keys(&mut system, t)?;
    }
    Ok(GeneratedPair {
        sam,
        system,
        machine_sid,
        computer_name: spec.computer_name.clone(),
        fixed_time,
    })
}

impl std::fmt::Debug for GeneratedPair {
    // The SYSTEM's bytes hold the boot key: keep them out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedPair")
            .field("sam", &self.sam)
            .field("machine_sid", &self.machine_sid)
            .field("computer_name", &self.computer_name)
            .field("fixed_time", &self.fixed_time)
            .finish_non_exhaustive()
    }
}

impl GeneratedPair {
    /// The SAM file's bytes as a clean hive (deterministic when seeded).
    pub fn sam_bytes(&self) -> Result<Vec<u8>> {
        self.sam.validate()?;
        Ok(clean_bytes(self.sam.hive(), self.fixed_time))
    }

    /// The SYSTEM file's bytes as a clean hive. When seeded, every key (also those a
    /// caller added) carries the fixed time, so the bytes are deterministic.
    pub fn system_bytes(&self) -> Result<Vec<u8>> {
        let mut system = self.system.clone();
        if let Some(t) = self.fixed_time {
            stamp_keys(&mut system, t)?;
        }
        Ok(clean_bytes(&system, self.fixed_time))
    }

    /// Writes `SAM` and `SYSTEM` (atomically) into `config_dir`, the volume's
    /// `Windows/System32/config`, creating it if needed.
    pub fn write_to(&self, config_dir: &Path) -> Result<WrittenPair> {
        let dir_label = config_dir.display().to_string();
        std::fs::create_dir_all(config_dir).map_err(|e| Error::Volume {
            path: dir_label,
            reason: e.to_string(),
        })?;
        let written = WrittenPair {
            sam: config_dir.join("SAM"),
            system: config_dir.join("SYSTEM"),
        };
        let (sam, system) = (self.sam_bytes()?, self.system_bytes()?);
        for (path, bytes) in [(&written.sam, sam), (&written.system, system)] {
            let label = path.display().to_string();
            hive::write::write_atomically(path, &bytes, None).map_err(Error::hive(&label))?;
        }
        Ok(written)
    }
}

/// A hive's bytes with a clean base block: both sequence numbers one past the primary,
/// the given (or current) timestamp, the checksum recomputed.
fn clean_bytes(hive: &Hive, timestamp: Option<u64>) -> Vec<u8> {
    let mut data = hive.as_bytes().to_vec();
    let seq = crate::records::u32_at(&data, 4)
        .unwrap_or(0)
        .wrapping_add(1);
    crate::records::put_u32(&mut data, 4, seq);
    crate::records::put_u32(&mut data, 8, seq);
    crate::records::put_u64(
        &mut data,
        12,
        timestamp.unwrap_or_else(hive::edit::filetime_now),
    );
    hive::base::fix_checksum(&mut data);
    data
}

/// Sets every key's last-written time (reproducible samples).
fn stamp_keys(hive: &mut Hive, time: u64) -> Result<()> {
    for key in hive.all_key_offsets().map_err(Error::hive(SYSTEM_LABEL))? {
        hive.set_last_written(key, time)
            .map_err(Error::hive(SYSTEM_LABEL))?;
    }
    Ok(())
}

/// Small helper over the hive edit API with one error label.
struct Writer {
    hive: Hive,
    label: &'static str,
}

impl Writer {
    fn key(&mut self, path: &str) -> Result<u32> {
        self.hive
            .create_key_path(path)
            .map_err(Error::hive(self.label))
    }
    fn value(&mut self, path: &str, name: &str, kind: u32, data: &[u8]) -> Result<()> {
        let key = self.key(path)?;
        self.hive
            .set_value(key, name, kind, data)
            .map_err(Error::hive(self.label))
    }
    /// An empty default value whose type carries a count, as the SAM keeps them.
    fn count(&mut self, path: &str, count: u32) -> Result<()> {
        self.value(path, "", count, &[])
    }
    fn sz(&mut self, path: &str, name: &str, text: &str) -> Result<()> {
        self.value(
            path,
            name,
            hive::value::types::SZ,
            &hive::value::encode_sz(text),
        )
    }
    fn dword(&mut self, path: &str, name: &str, v: u32) -> Result<()> {
        self.value(path, name, hive::value::types::DWORD, &v.to_le_bytes())
    }
}

fn new_hive(embedded: &str, time: u64, label: &'static str) -> Result<Writer> {
    let root_security = catalog::sddl_bytes(catalog::ROOT_KEY_SDDL)?;
    let hive = Hive::new_empty(&NewHive {
        root_name: "ROOT",
        minor_version: 5,
        root_security: &root_security,
        embedded_name: embedded,
        timestamp: time,
    })
    .map_err(Error::hive(label))?;
    Ok(Writer { hive, label })
}

fn build_system(
    spec: &PairSpec,
    boot_key: &[u8; 16],
    time: u64,
    random: &mut Random,
) -> Result<Hive> {
    let mut w = new_hive("SYSTEM", time, SYSTEM_LABEL)?;
    for (name, v) in [
        ("Current", 1),
        ("Default", 1),
        ("Failed", 0),
        ("LastKnownGood", 1),
    ] {
        w.dword("Select", name, v)?;
    }
    let lsa = r"ControlSet001\Control\Lsa";
    let multi = hive::value::types::MULTI_SZ;
    w.value(
        lsa,
        "Authentication Packages",
        multi,
        &hive::value::encode_multi_sz(&["msv1_0"]),
    )?;
    w.value(
        lsa,
        "Notification Packages",
        multi,
        &hive::value::encode_multi_sz(&["scecli"]),
    )?;
    w.value(
        lsa,
        "Security Packages",
        multi,
        &hive::value::encode_multi_sz(&[""]),
    )?;
    w.dword(lsa, "LimitBlankPasswordUse", 1)?;
    w.dword(lsa, "NoLmHash", 1)?;
    // The boot key parts, each beside the decoy value Windows keeps there.
    let classes = crypto::class_names_for_boot_key(boot_key);
    let decoys = [
        ("Lookup", 6),
        ("SkewMatrix", 16),
        ("GrafBlumGroup", 9),
        ("Pattern", 16),
    ];
    for ((part, class), (decoy, len)) in BOOT_KEY_PARTS.iter().zip(&classes).zip(decoys) {
        let path = format!(r"{lsa}\{part}");
        let key = w.key(&path)?;
        w.hive
            .set_class(key, Some(class))
            .map_err(Error::hive(SYSTEM_LABEL))?;
        let mut bytes = vec![0u8; len];
        random.fill(&mut bytes)?;
        w.value(&path, decoy, hive::value::types::BINARY, &bytes)?;
    }
    let names = r"ControlSet001\Control\ComputerName\ComputerName";
    w.sz(names, "", "mnmsrvc")?;
    w.sz(names, "ComputerName", &spec.computer_name)?;
    let tcpip = r"ControlSet001\Services\Tcpip\Parameters";
    w.sz(tcpip, "Hostname", &spec.computer_name)?;
    w.sz(tcpip, "NV Hostname", &spec.computer_name)?;
    w.sz(tcpip, "Domain", "")?;
    w.dword(tcpip, "SyncDomainWithMembership", 1)?;
    w.key(r"ControlSet001\Control\CloudDomainJoin")?;
    let tz = r"ControlSet001\Control\TimeZoneInformation";
    for (name, v) in [
        ("Bias", 0),
        ("ActiveTimeBias", 0),
        ("StandardBias", 0),
        ("DaylightBias", 0xFFFF_FFC4),
        ("DynamicDaylightTimeDisabled", 0),
    ] {
        w.dword(tz, name, v)?;
    }
    w.sz(tz, "StandardName", "@tzres.dll,-932")?;
    w.sz(tz, "DaylightName", "@tzres.dll,-931")?;
    w.sz(tz, "TimeZoneKeyName", "UTC")?;
    for name in ["StandardStart", "DaylightStart"] {
        w.value(tz, name, hive::value::types::BINARY, &[0; 16])?;
    }
    Ok(w.hive)
}

/// The SAM's fixed structure: server and domain records, group None, the built-in
/// aliases (no members yet) and empty user indexes.
fn build_sam_base(
    scheme: KeyScheme,
    boot_key: &[u8; 16],
    machine: &Sid,
    time: u64,
    random: &mut Random,
) -> Result<Hive> {
    let mut w = new_hive(r"\SystemRoot\System32\Config\SAM", time, SAM_LABEL)?;
    let sam = w.key("SAM")?;
    let keys_sd = catalog::sddl_bytes(catalog::SAM_KEYS_SDDL)?;
    w.hive
        .set_key_security(sam, &keys_sd)
        .map_err(Error::hive(SAM_LABEL))?;
    let bin = hive::value::types::BINARY;
    let sd = |kind| catalog::record_sd(kind, None, true);
    w.value(
        "SAM",
        "C",
        bin,
        &layout::server_c(REVISION, sd(RecordSd::Server)?),
    )?;
    w.value("SAM", "ServerDomainUpdates", bin, &[0xFE, 0xFF, 0x01])?;
    w.count(r"SAM\Domains", 0)?;

    let sam_key = random.bytes16()?;
    let wrapped = [random.bytes16()?, random.bytes16()?]
        .map(|salt| crypto::encrypt_sam_key(scheme, &sam_key, boot_key, &salt));
    let (len, pek) = match scheme {
        KeyScheme::Aes => (368, 4),
        KeyScheme::Rc4 => (240, 3),
    };
    let account_f = DomainF::account(REVISION, time, wrapped, pek, len);
    w.value(paths::ACCOUNT, "F", bin, &account_f.to_bytes())?;
    w.value(
        paths::ACCOUNT,
        "V",
        bin,
        &layout::domain_v(REVISION, sd(RecordSd::AccountDomain)?, machine),
    )?;
    for key in [
        paths::ACCOUNT_ALIASES,
        r"SAM\Domains\Account\Aliases\Members",
        r"SAM\Domains\Account\Aliases\Names",
    ] {
        w.count(key, 0)?;
    }
    let (group_rid, group_name, group_comment) = catalog::GROUP_NONE;
    w.count(paths::GROUPS, 1)?;
    let group = layout::group_c(
        REVISION,
        group_rid,
        sd(RecordSd::Group)?,
        group_name,
        group_comment,
        &[],
    );
    w.value(
        &format!(r"{}\{group_rid:08X}", paths::GROUPS),
        "C",
        bin,
        &group,
    )?;
    w.count(r"SAM\Domains\Account\Groups\Names", 0)?;
    w.count(
        &format!(r"SAM\Domains\Account\Groups\Names\{group_name}"),
        group_rid,
    )?;
    w.count(paths::USERS, 0)?;
    w.count(paths::USER_NAMES, 0)?;

    let builtin_sid =
        Sid::new(5, &[32]).map_err(|e| Error::record(SAM_LABEL, "S-1-5-32", e.to_string()))?;
    w.value(
        paths::BUILTIN,
        "F",
        bin,
        &DomainF::builtin(REVISION, time, len).to_bytes(),
    )?;
    w.value(
        paths::BUILTIN,
        "V",
        bin,
        &layout::domain_v(REVISION, sd(RecordSd::BuiltinDomain)?, &builtin_sid),
    )?;
    w.count(
        paths::BUILTIN_ALIASES,
        catalog::BUILTIN_ALIASES.len() as u32,
    )?;
    for a in catalog::BUILTIN_ALIASES {
        let c = layout::alias_c(REVISION, a.rid, sd(a.sd)?, a.name, a.comment, &[]);
        w.value(
            &format!(r"{}\{:08X}", paths::BUILTIN_ALIASES, a.rid),
            "C",
            bin,
            &c,
        )?;
        w.count(
            &format!(r"{}\Names\{}", paths::BUILTIN_ALIASES, a.name),
            a.rid,
        )?;
    }
    w.count(&format!(r"{}\Members", paths::BUILTIN_ALIASES), 0)?;
    w.count(&format!(r"{}\Names", paths::BUILTIN_ALIASES), 0)?;
    for key in [
        r"SAM\Domains\Builtin\Groups",
        r"SAM\Domains\Builtin\Groups\Names",
        r"SAM\Domains\Builtin\Users",
        r"SAM\Domains\Builtin\Users\Names",
    ] {
        w.count(key, 0)?;
    }
    w.dword(r"SAM\LastSkuUpgrade", "", 8)?;
    w.value(
        r"SAM\RXACT",
        "",
        hive::value::types::NONE,
        &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )?;
    Ok(w.hive)
}

/// The built-in users and the well-known alias members.
fn add_builtin_members(sam: &mut Sam, spec: &PairSpec, time: u64) -> Result<()> {
    for user in catalog::BUILTIN_USERS {
        if user.rid == 504 && !spec.wdag_account {
            continue;
        }
        // WDAGUtilityAccount has a random password nobody knows; the others none.
        let nt_hash = if user.rid == 504 {
            Some(sam.random.bytes16()?)
        } else {
            None
        };
        let account_expires = if user.rid == 500 { 0 } else { NEVER };
        let security = user.sd;
        sam.transact(|s| {
            s.insert_user(&UserSpec {
                rid: user.rid,
                name: user.name,
                full_name: "",
                comment: user.comment,
                nt_hash,
                flags: user.flags,
                account_expires,
                password_last_set: if nt_hash.is_some() { time } else { 0 },
                security,
                logon_hours: user.logon_hours,
                force_password_reset: user.force_password_reset,
                aliases: user.aliases,
            })
        })?;
    }
    for (member, alias) in catalog::WELL_KNOWN_MEMBERS {
        let sid: Sid = member
            .parse()
            .map_err(|e: ntsec::Error| Error::record(SAM_LABEL, member, e.to_string()))?;
        sam.add_alias_member(crate::sam::AliasDomain::Builtin, alias, &sid)?;
    }
    Ok(())
}
