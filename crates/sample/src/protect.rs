//! The domain user's DPAPI state, as Windows writes it (docs/dpapi.md): two master keys
//! in `AppData\Roaming\Microsoft\Protect\<SID>` (an older 3DES/SHA-1 one and the newer,
//! preferred AES-256/SHA-512 one) protected by the user's domain password (NT-hash
//! derivation) and by the domain's DPAPI backup key (a domain backup block), the
//! `Preferred` file, an empty `CREDHIST`, and two Credential Manager files in
//! `AppData\Roaming\Microsoft\Credentials` encrypted under the preferred key.
//!
//! Everything comes from [`dpapi::SeededRng`] streams derived from the sample's seed, so
//! the same seed gives the same files and the same domain backup key. The backup
//! private key never goes onto the volume; [`crate::Report::dpapi_backup_key`] carries it
//! to whoever asked for it (`admu sample create --dpapi-backup-key OUT.pvk`).

use dpapi::{
    BackupKey, BlobOptions, CipherSuite, CredHistFile, CredentialBlob, CredentialFile, Derivation,
    DomainBackup, DpapiBlob, MasterKey, MasterKeyFile, NewMasterKeyFile, Preferred, SeededRng,
};

use crate::error::Result;
use crate::names::{DAY, User, World};

/// alice's domain password when her master keys were made (what `--dpapi` with the old
/// password needs).
pub const OLD_PASSWORD: &str = "Alice-Old-Passw0rd!";

/// The secrets alice saved in Credential Manager: (target, user name, secret). Only the
/// targets and user names are in the sample's report.
pub const CREDENTIALS: [(&str, &str, &str); 2] = [
    (
        "LegacyGeneric:target=fileserver.corp.example.com",
        "CORP\\alice",
        "Share-Passw0rd-4-fileserver",
    ),
    (
        "LegacyGeneric:target=git:https://git.corp.example.com",
        "alice",
        "glpat-sample-token-0123456789abcdef",
    ),
];

/// One master key of the sample.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MasterKeyReport {
    pub guid: String,
    /// `3DES/SHA-1` or `AES-256/SHA-512`.
    pub algorithms: String,
    pub rounds: u32,
}

/// One Credential Manager file of the sample (its secret is not reported).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CredentialReport {
    /// Relative to the profile folder.
    pub file: String,
    pub target: String,
    pub username: String,
    /// The master key it is encrypted under.
    pub master_key: String,
}

/// The DPAPI state of one user.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DpapiReport {
    pub logon_name: String,
    pub sid: String,
    /// Relative to the profile folder.
    pub protect_folder: String,
    pub master_keys: Vec<MasterKeyReport>,
    pub preferred: String,
    /// The GUID of the domain's DPAPI backup key (`G$BCKUPKEY_<GUID>`).
    pub domain_backup_key: String,
    pub credentials: Vec<CredentialReport>,
}

/// The files to write (relative to the profile folder) and what they are.
#[derive(Debug)]
pub struct DpapiState {
    pub files: Vec<(String, Vec<u8>)>,
    pub report: DpapiReport,
    pub backup_key: BackupKey,
}

/// The domain's DPAPI backup key for a seed (the same whatever else the sample holds).
pub fn domain_backup_key(seed: u64) -> Result<BackupKey> {
    let mut rng =
        SeededRng::from_seed_bytes(format!("admu sample {seed} domain backup key").as_bytes());
    Ok(BackupKey::generate(&mut rng, 2048)?)
}

fn suite_name(suite: CipherSuite) -> &'static str {
    match suite {
        CipherSuite::TripleDesSha1 => "3DES/SHA-1",
        _ => "AES-256/SHA-512",
    }
}

/// Builds the DPAPI files of a domain user.
pub fn build(world: &World, user: &User) -> Result<DpapiState> {
    let backup_key = domain_backup_key(world.seed)?;
    let public = backup_key.public_key();
    let mut rng = SeededRng::from_seed_bytes(
        format!("admu sample {} dpapi {}", world.seed, user.name).as_bytes(),
    );
    let key_guid = dpapi::guid::random(&mut rng)?;
    let credhist_guid = dpapi::guid::random(&mut rng)?;
    let sid = user.sid.to_string();
    let protect = format!("AppData\\Roaming\\Microsoft\\Protect\\{sid}");
    let mut files = Vec::new();
    let mut reports = Vec::new();
    let mut newest = None;
    // The older key first (Windows 7 era), then the current one.
    for (suite, rounds) in [
        (CipherSuite::TripleDesSha1, 24000),
        (CipherSuite::Aes256Sha512, 8000),
    ] {
        let key = MasterKey::generate(&mut rng)?;
        let guid = dpapi::guid::random(&mut rng)?;
        let file = MasterKeyFile::create(
            &NewMasterKeyFile {
                guid,
                key: &key,
                sid: &user.sid,
                password: OLD_PASSWORD,
                derivation: Derivation::DomainNt,
                suite,
                rounds,
                credhist: credhist_guid,
                dpapi_system: None,
                local_key: None,
                domain_backup: Some(DomainBackup {
                    public_key: &public,
                    key_guid,
                }),
            },
            &mut rng,
        )?;
        files.push((format!("{protect}\\{guid}"), file.to_bytes()));
        reports.push(MasterKeyReport {
            guid: guid.to_string(),
            algorithms: suite_name(suite).into(),
            rounds,
        });
        newest = Some((guid, key));
    }
    let Some((preferred_guid, preferred_key)) = newest else {
        return Err(crate::Error::Internal("no master key".into()));
    };
    let expires = user.last_logoff + 90 * DAY;
    files.push((
        format!("{protect}\\Preferred"),
        Preferred::new(preferred_guid, expires).to_bytes(),
    ));
    files.push((
        "AppData\\Roaming\\Microsoft\\Protect\\CREDHIST".into(),
        CredHistFile::new_empty(credhist_guid).to_bytes()?,
    ));
    let mut credentials = Vec::new();
    for (i, (target, username, secret)) in CREDENTIALS.iter().enumerate() {
        let written = user.last_logoff.saturating_sub((i as u64 + 3) * DAY);
        let plain = CredentialBlob::generic(target, username, secret, written).to_bytes()?;
        let blob = DpapiBlob::encrypt(
            &plain,
            &preferred_key,
            preferred_guid,
            &BlobOptions {
                description: "Local Credential Data\r\n",
                flags: dpapi::blob::CRYPTPROTECT_SYSTEM,
                ..BlobOptions::default()
            },
            &mut rng,
        )?;
        let name: String = dpapi::guid::random(&mut rng)?
            .0
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let rel = format!("AppData\\Roaming\\Microsoft\\Credentials\\{name}");
        files.push((rel.clone(), CredentialFile::new(blob).to_bytes()?));
        credentials.push(CredentialReport {
            file: rel,
            target: (*target).into(),
            username: (*username).into(),
            master_key: preferred_guid.to_string(),
        });
    }
    Ok(DpapiState {
        files,
        report: DpapiReport {
            logon_name: user.logon_name(&world.machine),
            sid,
            protect_folder: protect,
            master_keys: reports,
            preferred: preferred_guid.to_string(),
            domain_backup_key: key_guid.to_string(),
            credentials,
        },
        backup_key,
    })
}
