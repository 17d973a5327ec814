//! SYSTEM and SAM, from `crates/sam`'s builder: the machine SID, boot key, built-in
//! accounts and aliases, plus the local accounts of the sample: the OOBE setup account
//! (RID 1000, whose old SID alice's hive still remembers) and `carol` (RID 1001), both
//! local administrators. The SYSTEM hive then gets what a hybrid-joined domain member
//! has: the DNS domain in Tcpip, Netlogon's site, and the Entra join (`CloudDomainJoin`).

use std::path::Path;

use hive::Hive;
use hive::value::{encode_sz, types};
use ntsec::Sid;
use sam::{GeneratedPair, KeyScheme, NewUser, PairSpec};

use crate::error::{Error, Result};
use crate::names::{World, computer_name, install_time};
use crate::regbuild::HiveStats;
use crate::rng::{Rng, guid_plain};

/// carol's password (a sample: tests check its NT hash through impacket).
pub const CAROL_PASSWORD: &str = "Sample-Carol-2024";
/// The OOBE setup account's name and password.
pub const SETUP_ACCOUNT: (&str, &str) = ("setup", "Sample-Setup-2024");

fn sam_err(e: sam::Error) -> Error {
    Error::Sam(e.to_string())
}

/// The generated pair with the sample's local users, not yet written.
#[derive(Debug)]
pub struct Accounts {
    pub machine_sid: Sid,
    /// RID of the local user `carol`.
    pub carol_rid: u32,
    pair: GeneratedPair,
}

/// Generates SYSTEM + SAM for `seed` and creates the local accounts.
pub fn generate(seed: u64) -> Result<Accounts> {
    let mut pair = sam::generate_pair(&PairSpec {
        computer_name: computer_name(seed),
        scheme: KeyScheme::Aes,
        seed: Some(seed),
        wdag_account: true,
        install_time: Some(install_time(seed)),
    })
    .map_err(sam_err)?;
    let (setup, setup_password) = SETUP_ACCOUNT;
    pair.sam
        .create_user(&NewUser {
            name: setup,
            password: Some(setup_password),
            admin: true,
            ..NewUser::default()
        })
        .map_err(sam_err)?;
    let carol = pair
        .sam
        .create_user(&NewUser {
            name: "carol",
            full_name: "Carol Diaz",
            password: Some(CAROL_PASSWORD),
            admin: true,
            ..NewUser::default()
        })
        .map_err(sam_err)?;
    Ok(Accounts {
        machine_sid: pair.machine_sid.clone(),
        carol_rid: carol.rid,
        pair,
    })
}

struct SystemWriter<'h> {
    hive: &'h mut Hive,
}

impl SystemWriter<'_> {
    fn key(&mut self, path: &str) -> Result<u32> {
        self.hive
            .create_key_path(path)
            .map_err(|source| Error::Hive {
                hive: "SYSTEM".into(),
                source,
            })
    }
    fn value(&mut self, path: &str, name: &str, kind: u32, data: &[u8]) -> Result<()> {
        let k = self.key(path)?;
        self.hive
            .set_value(k, name, kind, data)
            .map_err(|source| Error::Hive {
                hive: "SYSTEM".into(),
                source,
            })
    }
    fn sz(&mut self, path: &str, name: &str, text: &str) -> Result<()> {
        self.value(path, name, types::SZ, &encode_sz(text))
    }
    fn dword(&mut self, path: &str, name: &str, v: u32) -> Result<()> {
        self.value(path, name, types::DWORD, &v.to_le_bytes())
    }
}

/// Adds the domain and Entra join state to SYSTEM (checklist items 5 and 6).
fn join_state(system: &mut Hive, world: &World) -> Result<()> {
    let m = &world.machine;
    let mut w = SystemWriter { hive: system };
    let tcpip = "ControlSet001\\Services\\Tcpip\\Parameters";
    w.sz(tcpip, "Domain", &m.domain.dns)?;
    w.sz(tcpip, "NV Domain", &m.domain.dns)?;
    let netlogon = "ControlSet001\\Services\\Netlogon\\Parameters";
    w.sz(netlogon, "DynamicSiteName", "Default-First-Site-Name")?;
    w.dword(netlogon, "MaximumPasswordAge", 30)?;
    w.dword(netlogon, "RequireSignOrSeal", 1)?;
    w.dword(netlogon, "SealSecureChannel", 1)?;
    w.sz(netlogon, "Update", "no")?;
    let tenant = guid_plain(&m.tenant.id);
    let thumbprint = Rng::new(world.seed)
        .fork("device-cert")
        .hex(40)
        .to_uppercase();
    let join = format!("ControlSet001\\Control\\CloudDomainJoin\\JoinInfo\\{thumbprint}");
    w.sz(&join, "TenantId", &tenant)?;
    w.sz(&join, "IdpDomain", "login.windows.net")?;
    w.sz(&join, "UserEmail", &format!("alice@{}", m.domain.dns))?;
    w.sz(&join, "DeviceDisplayName", &m.computer_name)?;
    w.sz(
        &join,
        "DnsFullyQualifiedName",
        &format!("{}.{}", m.computer_name, m.domain.dns),
    )?;
    w.dword(&join, "AttestationLevel", 0)?;
    let info = format!("ControlSet001\\Control\\CloudDomainJoin\\TenantInfo\\{tenant}");
    w.sz(&info, "DisplayName", &m.tenant.name)?;
    w.sz(
        &info,
        "AuthCodeUrl",
        &format!("https://login.microsoftonline.com/{tenant}/oauth2/authorize"),
    )?;
    w.sz(
        &info,
        "AccessTokenUrl",
        &format!("https://login.microsoftonline.com/{tenant}/oauth2/token"),
    )?;
    w.sz(&info, "MdmEnrollmentUrl", "")?;
    Ok(())
}

/// Writes SYSTEM and SAM into `config_dir` with empty logs; every key of SYSTEM keeps the
/// install time so the files stay byte-identical for a seed.
pub fn write(mut accounts: Accounts, world: &World, config_dir: &Path) -> Result<Vec<HiveStats>> {
    join_state(&mut accounts.pair.system, world)?;
    let system = &mut accounts.pair.system;
    let keys = system.all_key_offsets().map_err(|source| Error::Hive {
        hive: "SYSTEM".into(),
        source,
    })?;
    for k in keys {
        system
            .set_last_written(k, world.machine.installed)
            .map_err(|source| Error::Hive {
                hive: "SYSTEM".into(),
                source,
            })?;
    }
    accounts.pair.write_to(config_dir).map_err(sam_err)?;
    let mut out = Vec::new();
    for name in ["SYSTEM", "SAM"] {
        let path = config_dir.join(name);
        for ext in ["LOG1", "LOG2"] {
            let log = config_dir.join(format!("{name}.{ext}"));
            std::fs::write(&log, b"").map_err(crate::error::io(&log))?;
        }
        crate::regbuild::set_modified(&path, world.machine.installed)?;
        let hive = Hive::open(&path).map_err(|source| Error::Hive {
            hive: name.into(),
            source,
        })?;
        out.push(HiveStats {
            path: format!("Windows\\System32\\config\\{name}"),
            keys: hive.all_key_offsets().map(|k| k.len()).unwrap_or(0),
            security_cells: hive.security_cells().map(|s| s.len()).unwrap_or(0),
            bytes: hive.as_bytes().len() as u64,
        });
    }
    Ok(out)
}
