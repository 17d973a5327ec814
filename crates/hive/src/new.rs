//! Building a hive from nothing: a base block and one bin with the root key and its
//! security cell, ready for the edit API. Generators (the sample volume's SYSTEM, SAM,
//! SOFTWARE and user hives, benchmark hives) start here.

use crate::base::{self, BASE_BLOCK_SIZE, off, write_u16, write_u32, write_u64};
use crate::edit::filetime_now;
use crate::error::{Error, Result};
use crate::hive::{BIN_HEADER_SIZE, Hive, NULL};
use crate::key::{flags, nk};
use crate::names::encode_name;
use crate::security::sk;

/// What a new hive looks like.
#[derive(Debug, Clone)]
pub struct NewHive<'a> {
    /// The root key's name (Windows uses e.g. `ROOT`, `CMI-CreateHive{GUID}`, or
    /// `<SID>_Classes` for UsrClass.dat).
    pub root_name: &'a str,
    /// Minor format version: 3 (lf lists, no big data) or 5 (lh lists, `db` cells), etc.
    pub minor_version: u32,
    /// The root key's self-relative security descriptor.
    pub root_security: &'a [u8],
    /// The partial path Windows stores in the base block (e.g. `\??\C:\Users\x\ntuser.dat`).
    pub embedded_name: &'a str,
    /// Last-written time for the root key and the base block (FILETIME; 0 = now).
    pub timestamp: u64,
}

impl Hive {
    /// A new, empty hive.
    pub fn new_empty(spec: &NewHive<'_>) -> Result<Hive> {
        if !(2..=6).contains(&spec.minor_version) {
            return Err(Error::Invalid(format!(
                "minor version {} is not 2 to 6",
                spec.minor_version
            )));
        }
        ntsec::SecurityDescriptor::from_bytes(spec.root_security)
            .map_err(|source| Error::Security { offset: 0, source })?;
        let now = if spec.timestamp == 0 {
            filetime_now()
        } else {
            spec.timestamp
        };
        let (name, compressed) = encode_name(spec.root_name);
        if name.is_empty() || name.len() > 510 {
            return Err(Error::Invalid(
                "the root key needs a name of 1 to 255 characters".into(),
            ));
        }

        // Root nk and its sk, as the first two cells of the first bin.
        let nk_size = (4 + nk::NAME + name.len()).next_multiple_of(8);
        let sk_size = (4 + sk::SD + spec.root_security.len()).next_multiple_of(8);
        let root = BIN_HEADER_SIZE;
        let sk_cell = root + nk_size as u32;
        let used = BIN_HEADER_SIZE as usize + nk_size + sk_size;
        let bin_size = used.next_multiple_of(4096).max(4096);
        let mut data = vec![0u8; BASE_BLOCK_SIZE + bin_size];

        data[..4].copy_from_slice(b"regf");
        write_u32(&mut data, off::PRIMARY_SEQ, 1);
        write_u32(&mut data, off::SECONDARY_SEQ, 1);
        write_u64(&mut data, off::TIMESTAMP, now);
        write_u32(&mut data, off::MAJOR, 1);
        write_u32(&mut data, off::MINOR, spec.minor_version);
        write_u32(&mut data, off::FILE_TYPE, base::file_type::PRIMARY);
        write_u32(&mut data, off::FORMAT, 1);
        write_u32(&mut data, off::ROOT, root);
        write_u32(&mut data, off::BINS_SIZE, bin_size as u32);
        write_u32(&mut data, off::CLUSTERING, 1);
        for (i, unit) in spec.embedded_name.encode_utf16().take(31).enumerate() {
            write_u16(&mut data, off::FILE_NAME + 2 * i, unit);
        }
        // rmtm signature Windows writes after the TmId GUID.
        data[164..168].copy_from_slice(b"rmtm");

        let bin = BASE_BLOCK_SIZE;
        data[bin..bin + 4].copy_from_slice(b"hbin");
        write_u32(&mut data, bin + 8, bin_size as u32);
        write_u64(&mut data, bin + 20, now);

        let at = bin + root as usize;
        write_u32(&mut data, at, (-(nk_size as i32)) as u32);
        let c = at + 4;
        data[c..c + 2].copy_from_slice(b"nk");
        let key_flags =
            flags::HIVE_ENTRY | flags::NO_DELETE | if compressed { flags::COMP_NAME } else { 0 };
        write_u16(&mut data, c + nk::FLAGS, key_flags);
        write_u64(&mut data, c + nk::LAST_WRITTEN, now);
        write_u32(&mut data, c + nk::PARENT, 0);
        write_u32(&mut data, c + nk::SUBKEY_LIST, NULL);
        write_u32(&mut data, c + nk::VOLATILE_SUBKEY_LIST, NULL);
        write_u32(&mut data, c + nk::VALUE_LIST, NULL);
        write_u32(&mut data, c + nk::SECURITY, sk_cell);
        write_u32(&mut data, c + nk::CLASS, NULL);
        write_u16(&mut data, c + nk::NAME_LEN, name.len() as u16);
        data[c + nk::NAME..c + nk::NAME + name.len()].copy_from_slice(&name);

        let at = bin + sk_cell as usize;
        write_u32(&mut data, at, (-(sk_size as i32)) as u32);
        let c = at + 4;
        data[c..c + 2].copy_from_slice(b"sk");
        write_u32(&mut data, c + sk::FLINK, sk_cell);
        write_u32(&mut data, c + sk::BLINK, sk_cell);
        write_u32(&mut data, c + sk::REFCOUNT, 1);
        write_u32(&mut data, c + sk::SD_LEN, spec.root_security.len() as u32);
        data[c + sk::SD..c + sk::SD + spec.root_security.len()].copy_from_slice(spec.root_security);

        if bin_size > used {
            write_u32(&mut data, bin + used, (bin_size - used) as u32);
        }
        base::fix_checksum(&mut data);
        Hive::from_bytes_without_logs(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd() -> Vec<u8> {
        ntsec::SecurityDescriptor::from_sddl("O:BAG:SYD:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)")
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    #[test]
    fn an_empty_hive_is_valid_and_editable() {
        let security = sd();
        let mut hive = Hive::new_empty(&NewHive {
            root_name: "ROOT",
            minor_version: 5,
            root_security: &security,
            embedded_name: r"\??\C:\Users\alice\ntuser.dat",
            timestamp: 0,
        })
        .unwrap();
        let report = hive.check();
        assert!(
            report.is_ok() && report.findings.is_empty(),
            "{:?}",
            report.findings
        );
        let k = hive.create_key_path(r"Software\Microsoft").unwrap();
        hive.set_value(k, "v", crate::value::types::DWORD, &7u32.to_le_bytes())
            .unwrap();
        assert!(hive.check().is_ok());
        assert_eq!(hive.root().unwrap().name(), "ROOT");
        assert_eq!(hive.security_cells().unwrap().len(), 1);
        assert_eq!(hive.security_cells().unwrap()[0].reference_count(), 3);
    }

    #[test]
    fn bad_specs_are_refused() {
        let security = sd();
        let spec = NewHive {
            root_name: "ROOT",
            minor_version: 9,
            root_security: &security,
            embedded_name: "",
            timestamp: 0,
        };
        assert!(Hive::new_empty(&spec).is_err());
        assert!(
            Hive::new_empty(&NewHive {
                minor_version: 5,
                root_security: &[1, 2, 3],
                ..spec.clone()
            })
            .is_err()
        );
    }
}
