//! The machine a migration runs on: its name and what directories it belongs to (the
//! Active Directory domain, the Entra tenant). Live, Windows answers; offline it is read
//! from the volume's hives: the LSA policy in SECURITY (`PolPrDmN`), the DNS domain in
//! SYSTEM (`Tcpip\Parameters\Domain`), the Entra join in SYSTEM (`CloudDomainJoin`).

use serde::Serialize;

use crate::error::Result;
use crate::host::{Host, MachineHive, RegKey};

/// What the machine panel and `admu check` show about the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MachineInfo {
    pub computer_name: Option<String>,
    /// The AD domain's NetBIOS name, when joined.
    pub ad_domain: Option<String>,
    /// The AD domain's DNS name, when known.
    pub ad_dns_domain: Option<String>,
    /// The Entra tenant id, when Entra-joined (or hybrid).
    pub entra_tenant_id: Option<String>,
    /// The tenant's display name, when Windows stored it.
    pub entra_tenant_name: Option<String>,
    /// A workgroup, when in one (live only).
    pub workgroup: Option<String>,
}

impl MachineInfo {
    /// "AD domain CORP (corp.example.com) + Entra tenant Contoso", "workgroup", …
    pub fn join_summary(&self) -> String {
        let ad = self.ad_domain.as_ref().map(|d| match &self.ad_dns_domain {
            Some(dns) => format!("AD domain {d} ({dns})"),
            None => format!("AD domain {d}"),
        });
        let entra = self
            .entra_tenant_id
            .as_ref()
            .map(|t| match &self.entra_tenant_name {
                Some(n) => format!("Entra tenant {n} ({t})"),
                None => format!("Entra tenant {t}"),
            });
        match (ad, entra) {
            (Some(a), Some(e)) => format!("hybrid: {a} + {e}"),
            (Some(a), None) => a,
            (None, Some(e)) => e,
            (None, None) => match &self.workgroup {
                Some(w) => format!("workgroup {w}"),
                None => "no domain or Entra join found".into(),
            },
        }
    }
}

/// Reads the machine's name and memberships.
pub fn machine_info(host: &dyn Host) -> Result<MachineInfo> {
    let mut info = MachineInfo {
        computer_name: host.computer_name().ok(),
        ..MachineInfo::default()
    };
    if let Some(live) = host.live() {
        let join = live.join_state()?;
        info.ad_domain = join.ad_domain;
        info.workgroup = join.workgroup;
        info.entra_tenant_id = join.entra_tenant;
    } else {
        info.ad_domain = host
            .key(MachineHive::Security, r"Policy\PolPrDmN")
            .ok()
            .flatten()
            .and_then(|k| k.value("").map(|v| unicode_string(&v.data)))
            .flatten()
            .filter(|s| !s.is_empty());
    }
    let control_set = current_control_set(host);
    let system = |path: &str| -> Option<RegKey> {
        host.key(MachineHive::System, &format!(r"{control_set}\{path}"))
            .ok()
            .flatten()
    };
    if info.ad_domain.is_some() {
        info.ad_dns_domain = system(r"Services\Tcpip\Parameters")
            .and_then(|k| k.string("Domain"))
            .filter(|s| !s.is_empty());
    }
    if let Some(joins) = system(r"Control\CloudDomainJoin\JoinInfo")
        && let Some(first) = joins.subkeys.first()
        && let Some(join) = system(&format!(r"Control\CloudDomainJoin\JoinInfo\{first}"))
    {
        let tenant = join.string("TenantId");
        info.entra_tenant_name = tenant
            .as_ref()
            .and_then(|t| system(&format!(r"Control\CloudDomainJoin\TenantInfo\{t}")))
            .and_then(|k| k.string("DisplayName"));
        info.entra_tenant_id = info.entra_tenant_id.or(tenant);
    }
    Ok(info)
}

/// `ControlSet00N` from `SYSTEM\Select\Current` (001 when unreadable).
fn current_control_set(host: &dyn Host) -> String {
    let n = host
        .key(MachineHive::System, "Select")
        .ok()
        .flatten()
        .and_then(|k| k.dword("Current"))
        .unwrap_or(1);
    format!("ControlSet{n:03}")
}

/// The text of an LSA policy UNICODE_STRING value: length, maximum length, offset of the
/// text from the value's start, then the UTF-16 text.
fn unicode_string(data: &[u8]) -> Option<String> {
    let len = usize::from(u16::from_le_bytes([*data.first()?, *data.get(1)?]));
    let offset = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?) as usize;
    let text = data.get(offset..offset.checked_add(len)?)?;
    let units: Vec<u16> = text
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_strings_and_summaries() {
        let mut v = vec![8, 0, 10, 0, 8, 0, 0, 0];
        v.extend("CORP".encode_utf16().flat_map(u16::to_le_bytes));
        v.extend([0, 0]);
        assert_eq!(unicode_string(&v).as_deref(), Some("CORP"));
        assert_eq!(unicode_string(&v[..9]), None, "cut short");
        assert_eq!(unicode_string(&[]), None);
        let hybrid = MachineInfo {
            ad_domain: Some("CORP".into()),
            ad_dns_domain: Some("corp.example".into()),
            entra_tenant_id: Some("t-1".into()),
            entra_tenant_name: Some("Contoso".into()),
            ..MachineInfo::default()
        };
        assert_eq!(
            hybrid.join_summary(),
            "hybrid: AD domain CORP (corp.example) + Entra tenant Contoso (t-1)"
        );
        assert_eq!(
            MachineInfo::default().join_summary(),
            "no domain or Entra join found"
        );
    }
}
