//! An Intune MDM enrollment and alice's Windows Hello container (what `--remove-mdm`
//! and `--remove-hello` clear).
//!
//! Sources, and what is not verified:
//! - the enrollment's SOFTWARE keys are those JumpCloud ADMU's
//!   `Remove-WindowsMDMProvider` deletes (`../shared/docs/admu-reference.md`): the
//!   `Enrollments\<GUID>` values (`ProviderID` `MS DM Server` is Intune's, `UPN`,
//!   `DMPCertThumbPrint`, `EnrollmentState`, `EnrollmentType`, the discovery URL) and
//!   `Provisioning\OMADM\Accounts\<GUID>` (`Addr`, `ServerID`, `SSLClientCertReference`
//!   `MY;System;<thumbprint>`) follow public Intune troubleshooting write-ups; the
//!   values below `Status`, `Tracked`, `PolicyManager` are plausible, not copied from a
//!   real machine;
//! - the tasks are Task Scheduler XML (learn.microsoft.com "Task Scheduler Schema"),
//!   UTF-16LE with a BOM like every task of the sample, running as SYSTEM; the task names
//!   and `deviceenroller.exe` arguments are those reported for Intune enrollments, not
//!   checked against a VM; their TaskCache entries (`Tree`, `Tasks`, `Plain`) follow the
//!   layout of the sample's other task;
//! - the device certificate is a DER X.509 v3 certificate built here (issuer `Microsoft
//!   Intune MDM Device CA`, subject the device id, RSA-2048 shaped key): its key and
//!   signature are random bytes of the right shape (Intune's CA key is not ours), so it
//!   parses (`openssl x509 -inform der`) but does not verify. It sits in the machine
//!   `MY` store as the registry keeps it: `Certificates\<SHA-1 thumbprint>` value `Blob`,
//!   properties `{id u32, 1 u32, length u32, data}` with the SHA-1 hash (id 3) and the
//!   certificate (id 32, `CERT_CERT_PROP_ID`, wincrypt.h);
//! - the NGC container: `1.dat` holds alice's SID as UTF-16LE (forensic descriptions of
//!   the NGC folder); the other files are random bytes in the reported layout
//!   (`Protectors\1\…`); the folder descriptors (SYSTEM and LOCAL SERVICE only) are
//!   assumed from Windows refusing administrators there;
//! - a biometric database `WinBioDatabase\{GUID}.DAT` whose bytes hold alice's binary
//!   SID (the system pool identifies templates by account SID; the real format is
//!   private, this one is a random stand-in).

use sha1::{Digest, Sha1};

use crate::error::Result;
use crate::names::{DAY, World};
use crate::regbuild::RegBuilder;
use crate::rng::{Rng, guid_braced, guid_plain};
use crate::volume::Volume;

/// Intune's `ProviderID`.
pub const INTUNE: &str = "MS DM Server";
pub const INTUNE_CA: &str = "Microsoft Intune MDM Device CA";
/// The EnterpriseMgmt tasks of one enrollment.
pub const TASKS: [&str; 3] = [
    "Schedule #1 created by enrollment client",
    "Schedule #3 created by enrollment client",
    "Schedule to run OMADMClient by client",
];
const TASKS_DIR: &str = "Windows\\System32\\Tasks\\Microsoft\\Windows\\EnterpriseMgmt";
const NGC_DIR: &str = "Windows\\ServiceProfiles\\LocalService\\AppData\\Local\\Microsoft\\Ngc";
/// Task files and folders of the system (as the sample's `Tasks`).
const SYSTEM_DIR: &str = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)";
/// The NGC folders: SYSTEM and LOCAL SERVICE only.
const NGC_SD: &str = "O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;LS)";

/// The enrollment's GUID, upper case without braces (as its keys are named).
pub fn enrollment_guid(world: &World) -> String {
    guid_plain(&Rng::new(world.seed).fork("mdm-enrollment").guid()).to_uppercase()
}

/// alice's NGC container's GUID, braced.
pub fn ngc_guid(world: &World) -> String {
    guid_braced(&Rng::new(world.seed).fork("ngc").guid())
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(body);
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn name(cn: &str) -> Vec<u8> {
    let pair = cat(&[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, cn.as_bytes())]);
    der(0x30, &der(0x31, &der(0x30, &pair)))
}

/// `YYMMDDHHMMSSZ` of a FILETIME.
fn utc_time(ft: u64) -> Vec<u8> {
    let t = hive::export::filetime_to_rfc3339(ft);
    let digits: String = t.chars().filter(char::is_ascii_digit).take(14).collect();
    der(
        0x17,
        format!("{}Z", digits.get(2..).unwrap_or("700101000000")).as_bytes(),
    )
}

/// The device certificate (DER).
pub fn device_certificate(world: &World) -> Vec<u8> {
    let mut rng = Rng::new(world.seed).fork("mdm-cert");
    let mut random = |n: usize| -> Vec<u8> { (0..n).map(|_| rng.next_u32() as u8).collect() };
    let sha256_rsa = der(
        0x30,
        &cat(&[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
            ),
            der(0x05, &[]),
        ]),
    );
    let rsa = der(
        0x30,
        &cat(&[
            der(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            der(0x05, &[]),
        ]),
    );
    let mut serial = random(16);
    serial[0] &= 0x7f;
    let mut modulus = vec![0u8];
    modulus.extend(random(256));
    modulus[1] |= 0x80;
    modulus[256] |= 1;
    let key = der(
        0x30,
        &cat(&[der(0x02, &modulus), der(0x02, &[0x01, 0x00, 0x01])]),
    );
    let mut bits = vec![0u8];
    bits.extend(key);
    let enrolled = world.alice().map(|a| a.first_logon + DAY).unwrap_or(0);
    let device = guid_plain(&Rng::new(world.seed).fork("mdm-device").guid());
    let tbs = der(
        0x30,
        &cat(&[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &serial),
            sha256_rsa.clone(),
            name(INTUNE_CA),
            der(
                0x30,
                &cat(&[utc_time(enrolled), utc_time(enrolled + 365 * DAY)]),
            ),
            name(&device),
            der(0x30, &cat(&[rsa, der(0x03, &bits)])),
        ]),
    );
    let mut signature = vec![0u8];
    signature.extend(random(256));
    der(0x30, &cat(&[tbs, sha256_rsa, der(0x03, &signature)]))
}

/// The SHA-1 thumbprint of a DER certificate, upper-case hex.
pub fn thumbprint(cert: &[u8]) -> String {
    Sha1::digest(cert)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The registry `Blob` of a certificate: its SHA-1 hash (3) and itself (32).
pub fn cert_blob(cert: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, data) in [(3u32, Sha1::digest(cert).to_vec()), (32, cert.to_vec())] {
        out.extend(id.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
    }
    out
}

/// The enrollment's SOFTWARE keys, TaskCache entries and certificate.
pub fn registry(b: &mut RegBuilder, world: &World) -> Result<()> {
    let g = enrollment_guid(world);
    let alice = world.alice()?;
    let upn = format!("{}@{}", alice.name, world.machine.domain.dns);
    let cert = device_certificate(world);
    let thumb = thumbprint(&cert);
    let tenant = guid_plain(&world.machine.tenant.id);
    let base = "Microsoft\\Enrollments";
    let root = b.key(base)?;
    b.dword(root, "MmpcEnrollmentFlag", 0)?;
    // Windows' own default enrollment: no provider, never removed.
    let k = b.key(&format!("{base}\\FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"))?;
    b.dword(k, "EnrollmentState", 1)?;
    b.dword(k, "EnrollmentType", 0)?;
    b.key(&format!("{base}\\Ownership"))?;
    b.key(&format!("{base}\\ValidNodePaths"))?;
    let k = b.key(&format!("{base}\\{g}"))?;
    b.sz(k, "ProviderID", INTUNE)?;
    b.sz(k, "UPN", &upn)?;
    b.sz(k, "AADTenantID", &tenant)?;
    b.sz(k, "DMPCertThumbPrint", &thumb)?;
    b.dword(k, "EnrollmentState", 1)?;
    b.dword(k, "EnrollmentType", 6)?;
    b.sz(
        k,
        "DiscoveryServiceFullURL",
        "https://enrollment.manage.microsoft.com/enrollmentserver/discovery.svc",
    )?;
    let k = b.key(&format!("{base}\\{g}\\DMClient\\{INTUNE}"))?;
    b.sz(
        k,
        "EntDMID",
        &guid_plain(&Rng::new(world.seed).fork("mdm-device").guid()),
    )?;
    b.sz(k, "EntDeviceName", &format!("{}_Windows", alice.name))?;
    let k = b.key(&format!("{base}\\Status\\{g}"))?;
    b.dword(k, "EnrollmentState", 1)?;
    let k = b.key(&format!(
        "Microsoft\\EnterpriseResourceManager\\Tracked\\{g}\\device\\default"
    ))?;
    b.sz(k, "CurrentVersion", "1")?;
    let k = b.key(&format!(
        "Microsoft\\PolicyManager\\Providers\\{g}\\default\\Device\\Update"
    ))?;
    b.dword(k, "AllowAutoUpdate", 3)?;
    b.dword(k, "AllowAutoUpdate_ProviderSet", 1)?;
    b.key(&format!("Microsoft\\PolicyManager\\AdmxInstalled\\{g}"))?;
    let k = b.key(&format!("Microsoft\\Provisioning\\OMADM\\Accounts\\{g}"))?;
    b.sz(
        k,
        "Addr",
        "https://r.manage.microsoft.com/devicegatewayproxy/cimhandler.ashx",
    )?;
    b.sz(k, "ServerID", INTUNE)?;
    b.sz(k, "SSLClientCertReference", &format!("MY;System;{thumb}"))?;
    let k = b.key(&format!(
        "Microsoft\\SystemCertificates\\MY\\Certificates\\{thumb}"
    ))?;
    b.binary(k, "Blob", &cert_blob(&cert))?;
    task_cache(b, world, &g)
}

fn task_id(world: &World, task: &str) -> String {
    guid_braced(
        &Rng::new(world.seed)
            .fork(&format!("mdm-task-{task}"))
            .guid(),
    )
}

fn task_cache(b: &mut RegBuilder, world: &World, g: &str) -> Result<()> {
    let base = "Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache";
    for task in TASKS {
        let id = task_id(world, task);
        let uri = format!("\\Microsoft\\Windows\\EnterpriseMgmt\\{g}\\{task}");
        let k = b.key(&format!("{base}\\Tree{uri}"))?;
        b.sz(k, "Id", &id)?;
        b.dword(k, "Index", 3)?;
        let k = b.key(&format!("{base}\\Tasks\\{id}"))?;
        b.sz(k, "Path", &uri)?;
        b.sz(k, "URI", &uri)?;
        b.key(&format!("{base}\\Plain\\{id}"))?;
    }
    Ok(())
}

fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn task_xml(g: &str, task: &str) -> Vec<u8> {
    let (command, args) = if task.contains("OMADMClient") {
        (
            "%windir%\\system32\\omadmclient.exe",
            format!("/serverid \"{INTUNE}\""),
        )
    } else {
        (
            "%windir%\\system32\\deviceenroller.exe",
            format!("/o \"{g}\" /c /b"),
        )
    };
    utf16(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.3\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <RegistrationInfo>\r\n    <URI>\\Microsoft\\Windows\\EnterpriseMgmt\\{g}\\{task}</URI>\r\n  </RegistrationInfo>\r\n  <Triggers>\r\n    <TimeTrigger>\r\n      <Repetition>\r\n        <Interval>PT8H</Interval>\r\n      </Repetition>\r\n      <StartBoundary>2024-03-01T09:00:00Z</StartBoundary>\r\n      <Enabled>true</Enabled>\r\n    </TimeTrigger>\r\n  </Triggers>\r\n  <Principals>\r\n    <Principal id=\"Author\">\r\n      <UserId>S-1-5-18</UserId>\r\n      <RunLevel>LeastPrivilege</RunLevel>\r\n    </Principal>\r\n  </Principals>\r\n  <Settings>\r\n    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\r\n    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\r\n    <StartWhenAvailable>true</StartWhenAvailable>\r\n    <Enabled>true</Enabled>\r\n  </Settings>\r\n  <Actions Context=\"Author\">\r\n    <Exec>\r\n      <Command>{command}</Command>\r\n      <Arguments>{args}</Arguments>\r\n    </Exec>\r\n  </Actions>\r\n</Task>\r\n"
    ))
}

/// The enrollment's task files, alice's NGC container and a biometric database.
pub fn files(v: &mut Volume<'_>, world: &World) -> Result<()> {
    let g = enrollment_guid(world);
    for dir in [
        "Windows\\System32\\Tasks\\Microsoft",
        "Windows\\System32\\Tasks\\Microsoft\\Windows",
        TASKS_DIR,
    ] {
        v.dir(dir, SYSTEM_DIR, 0)?;
    }
    v.dir(&format!("{TASKS_DIR}\\{g}"), SYSTEM_DIR, 0)?;
    for task in TASKS {
        v.file(
            &format!("{TASKS_DIR}\\{g}\\{task}"),
            &task_xml(&g, task),
            SYSTEM_DIR,
            crate::ntfs::ARCHIVE,
        )?;
    }
    let alice = world.alice()?;
    let mut rng = Rng::new(world.seed).fork("ngc-files");
    let mut random = |n: usize| -> Vec<u8> { (0..n).map(|_| rng.next_u32() as u8).collect() };
    let ngc = format!("{NGC_DIR}\\{}", ngc_guid(world));
    for dir in [
        "Windows\\ServiceProfiles\\LocalService\\AppData",
        "Windows\\ServiceProfiles\\LocalService\\AppData\\Local",
        "Windows\\ServiceProfiles\\LocalService\\AppData\\Local\\Microsoft",
    ] {
        v.dir(
            dir,
            "O:SYG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;LS)",
            0,
        )?;
    }
    v.dir(NGC_DIR, NGC_SD, 0)?;
    v.dir(&ngc, NGC_SD, 0)?;
    let mut sid: Vec<u8> = alice
        .sid
        .to_string()
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    sid.extend([0, 0]);
    v.file(&format!("{ngc}\\1.dat"), &sid, NGC_SD, 0)?;
    v.file(&format!("{ngc}\\7.dat"), &random(8), NGC_SD, 0)?;
    v.dir(&format!("{ngc}\\Protectors"), NGC_SD, 0)?;
    v.dir(&format!("{ngc}\\Protectors\\1"), NGC_SD, 0)?;
    v.file(
        &format!("{ngc}\\Protectors\\1\\1.dat"),
        &2u32.to_le_bytes(),
        NGC_SD,
        0,
    )?;
    v.file(
        &format!("{ngc}\\Protectors\\1\\15.dat"),
        &random(1200),
        NGC_SD,
        0,
    )?;
    let mut db = random(512);
    db.extend(alice.sid.to_bytes());
    db.extend(random(2048));
    v.dir("Windows\\System32\\WinBioDatabase", SYSTEM_DIR, 0)?;
    v.file(
        &format!(
            "Windows\\System32\\WinBioDatabase\\{}.DAT",
            guid_braced(&Rng::new(world.seed).fork("winbio").guid())
        ),
        &db,
        "O:SYG:SYD:P(A;;FA;;;SY)",
        crate::ntfs::ARCHIVE,
    )
}
