//! Security identifiers ([MS-DTYP] §2.4.2): binary form, string form, classification.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::view::View;
use crate::well_known;

/// The only SID revision Windows accepts.
pub const SID_REVISION: u8 = 1;

/// Windows' `SID_MAX_SUB_AUTHORITIES`.
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// Identifier authorities at or above this value are written in hex in the string form.
const HEX_AUTHORITY_THRESHOLD: u64 = 1 << 32;
const MAX_AUTHORITY: u64 = (1 << 48) - 1;

/// A security identifier such as `S-1-5-21-1004336348-1177238915-682003330-1001`.
///
/// The revision is always [`SID_REVISION`]: Windows rejects every other value, so the
/// parser does too and the struct does not store it. Serializes (serde) as its string form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Sid {
    authority: [u8; 6],
    sub_authorities: Vec<u32>,
}

/// What kind of principal a SID names, as far as the SID alone tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SidKind {
    /// A fixed SID with a meaning on every machine (SYSTEM, Everyone, BUILTIN\…).
    WellKnown,
    /// `S-1-5-21-X-Y-Z-RID`: an account of a machine or of an AD domain. Which one can
    /// only be told with the machine SID at hand ([`Sid::is_in_domain`]).
    LocalOrDomainAccount,
    /// `S-1-12-1-…`: a Microsoft Entra ID (Azure AD) user or group.
    EntraUser,
    /// `S-1-15-2-…`: an app container (package) SID.
    AppContainer,
    /// `S-1-15-3-…`: a capability SID.
    Capability,
    /// `S-1-16-…`: an integrity level used in mandatory label ACEs.
    MandatoryLabel,
    /// Anything else.
    Other,
}

impl Sid {
    /// Builds a SID from its identifier authority (at most 48 bits) and sub-authorities.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Result<Self, Error> {
        if authority > MAX_AUTHORITY {
            return Err(Error::SidAuthority { authority });
        }
        if sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return Err(Error::SidSubAuthorityCount {
                offset: 0,
                count: sub_authorities.len(),
            });
        }
        let mut bytes = [0u8; 6];
        bytes.copy_from_slice(&authority.to_be_bytes()[2..]);
        Ok(Self {
            authority: bytes,
            sub_authorities: sub_authorities.to_vec(),
        })
    }

    /// `S-1-5-18`, LocalSystem.
    pub fn local_system() -> Self {
        Self::from_table(5, &[18])
    }

    /// `S-1-1-0`, Everyone.
    pub fn everyone() -> Self {
        Self::from_table(1, &[0])
    }

    /// `S-1-3-0`, CREATOR OWNER (a template, only meaningful in inheritable ACEs).
    pub fn creator_owner() -> Self {
        Self::from_table(3, &[0])
    }

    /// `S-1-3-1`, CREATOR GROUP.
    pub fn creator_group() -> Self {
        Self::from_table(3, &[1])
    }

    /// `S-1-5-32-544`, BUILTIN\Administrators.
    pub fn builtin_administrators() -> Self {
        Self::from_table(5, &[32, 544])
    }

    /// For the static tables, whose authorities fit in 32 bits and whose sub-authority
    /// lists are short.
    pub(crate) fn from_table(authority: u32, sub_authorities: &[u32]) -> Self {
        let mut bytes = [0u8; 6];
        bytes[2..].copy_from_slice(&authority.to_be_bytes());
        Self {
            authority: bytes,
            sub_authorities: sub_authorities
                .iter()
                .take(MAX_SUB_AUTHORITIES)
                .copied()
                .collect(),
        }
    }

    /// Always [`SID_REVISION`].
    pub const fn revision(&self) -> u8 {
        SID_REVISION
    }

    /// The identifier authority as a number (5 = NT AUTHORITY).
    pub fn authority(&self) -> u64 {
        let mut wide = [0u8; 8];
        wide[2..].copy_from_slice(&self.authority);
        u64::from_be_bytes(wide)
    }

    /// The identifier authority as stored: 6 bytes, big-endian.
    pub fn authority_bytes(&self) -> [u8; 6] {
        self.authority
    }

    /// The sub-authorities, the last one being the RID for account SIDs.
    pub fn sub_authorities(&self) -> &[u32] {
        &self.sub_authorities
    }

    /// Size of the binary form: 8 + 4 × sub-authority count.
    pub fn byte_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// Parses a binary SID at the start of `bytes`; returns it and the bytes it used.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, usize), Error> {
        Self::parse_at(View::new(bytes), 0)
    }

    pub(crate) fn parse_at(view: View<'_>, offset: usize) -> Result<(Self, usize), Error> {
        let revision = view.u8(offset, "SID")?;
        if revision != SID_REVISION {
            return Err(Error::SidRevision { offset, revision });
        }
        let count = usize::from(view.u8(offset + 1, "SID")?);
        if count > MAX_SUB_AUTHORITIES {
            return Err(Error::SidSubAuthorityCount { offset, count });
        }
        let len = 8 + 4 * count;
        let bytes = view.bytes(offset, len, "SID")?;
        let mut authority = [0u8; 6];
        authority.copy_from_slice(&bytes[2..8]);
        let sub_authorities = bytes[8..]
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        Ok((
            Self {
                authority,
                sub_authorities,
            },
            len,
        ))
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.byte_len());
        self.write_to(&mut out);
        out
    }

    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.push(SID_REVISION);
        // At most 15 sub-authorities, enforced by every constructor.
        out.push(self.sub_authorities.len() as u8);
        out.extend_from_slice(&self.authority);
        for sub in &self.sub_authorities {
            out.extend_from_slice(&sub.to_le_bytes());
        }
    }

    /// Classifies the SID; see [`SidKind`].
    pub fn kind(&self) -> SidKind {
        let first = self.sub_authorities.first().copied();
        match (self.authority(), first) {
            (16, _) => SidKind::MandatoryLabel,
            _ if well_known::lookup(self).is_some() => SidKind::WellKnown,
            (5, Some(32)) => SidKind::WellKnown,
            (5, Some(21)) if self.sub_authorities.len() == 5 => SidKind::LocalOrDomainAccount,
            (12, Some(1)) => SidKind::EntraUser,
            (15, Some(2)) => SidKind::AppContainer,
            (15, Some(3)) => SidKind::Capability,
            _ => SidKind::Other,
        }
    }

    /// The last sub-authority (the relative identifier of account SIDs), if any.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// For `S-1-5-21-X-Y-Z-RID`, the domain (or machine) SID `S-1-5-21-X-Y-Z`.
    pub fn domain_part(&self) -> Option<Sid> {
        if self.kind() != SidKind::LocalOrDomainAccount {
            return None;
        }
        let (_, prefix) = self.sub_authorities.split_last()?;
        Some(Self {
            authority: self.authority,
            sub_authorities: prefix.to_vec(),
        })
    }

    /// Whether this SID is `domain_sid` plus one RID, i.e. an account of that domain
    /// (pass the machine SID to tell local accounts from domain ones).
    pub fn is_in_domain(&self, domain_sid: &Sid) -> bool {
        self.authority == domain_sid.authority
            && self.sub_authorities.len() == domain_sid.sub_authorities.len() + 1
            && self
                .sub_authorities
                .starts_with(&domain_sid.sub_authorities)
    }

    /// This SID with `rid` appended (domain SID + RID = account SID).
    pub fn with_rid(&self, rid: u32) -> Result<Sid, Error> {
        let mut subs = self.sub_authorities.clone();
        subs.push(rid);
        Self::new(self.authority(), &subs)
    }

    /// A human-readable name for well-known SIDs (`SYSTEM`, `Everyone`, …) and for the
    /// well-known RIDs of any domain (`Domain Admins`, `Administrator`, …).
    pub fn well_known_name(&self) -> Option<&'static str> {
        well_known::name(self)
    }

    /// The two-letter SDDL alias (`SY`, `BA`, …). Domain-relative aliases (`DA`, `LA`, …)
    /// are only used when `domain` is given and this SID is in it.
    pub fn sddl_alias(&self, domain: Option<&Sid>) -> Option<&'static str> {
        well_known::alias_of(self, domain)
    }

    /// The SID an SDDL alias stands for (case-insensitive); domain-relative aliases need
    /// `domain`.
    pub fn from_sddl_alias(alias: &str, domain: Option<&Sid>) -> Option<Sid> {
        well_known::sid_of_alias(alias, domain)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let authority = self.authority();
        if authority < HEX_AUTHORITY_THRESHOLD {
            write!(f, "S-{SID_REVISION}-{authority}")?;
        } else {
            write!(f, "S-{SID_REVISION}-0x{authority:012X}")?;
        }
        for sub in &self.sub_authorities {
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

/// Parses `0x`-prefixed hex or plain decimal.
pub(crate) fn parse_number(text: &str) -> Option<u64> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

impl FromStr for Sid {
    type Err = Error;

    /// Accepts `S-1-<authority>-<sub>…` (case-insensitive `S`, authority in decimal or
    /// `0x` hex, sub-authorities in decimal or `0x` hex).
    fn from_str(input: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidSidString {
            input: input.to_owned(),
            reason,
        };
        let rest = input
            .strip_prefix("S-")
            .or_else(|| input.strip_prefix("s-"))
            .ok_or_else(|| invalid("does not start with S-"))?;
        let mut parts = rest.split('-');
        if parts.next() != Some("1") {
            return Err(invalid("revision is not 1"));
        }
        let authority = parts
            .next()
            .and_then(parse_number)
            .ok_or_else(|| invalid("identifier authority is missing or not a number"))?;
        if authority > MAX_AUTHORITY {
            return Err(invalid("identifier authority does not fit in 48 bits"));
        }
        let subs = parts
            .map(|part| parse_number(part).and_then(|n| u32::try_from(n).ok()))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| invalid("a sub-authority is not a 32-bit number"))?;
        if subs.len() > MAX_SUB_AUTHORITIES {
            return Err(invalid("more than 15 sub-authorities"));
        }
        Self::new(authority, &subs)
    }
}

impl From<Sid> for String {
    fn from(sid: Sid) -> Self {
        sid.to_string()
    }
}

impl TryFrom<String> for Sid {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(text: &str) -> Sid {
        text.parse().unwrap()
    }

    #[test]
    fn string_round_trip() {
        for text in [
            "S-1-5-18",
            "S-1-5",
            "S-1-5-21-1-2-3-1001",
            "S-1-0x123456789ABC-7",
            "S-1-15-3-1024-1-2-3-4-5-6-7",
        ] {
            assert_eq!(sid(text).to_string(), text);
        }
        assert_eq!(sid("s-1-0x5-32-0x220").to_string(), "S-1-5-32-544");
        assert_eq!(sid("S-1-4294967296-1").to_string(), "S-1-0x000100000000-1");
    }

    #[test]
    fn rejects_bad_strings() {
        for text in [
            "",
            "S-1",
            "S-2-5",
            "S-1-5-",
            "S-1-x",
            "S-1-5-4294967296",
            "S-1-281474976710656",
            "X-1-5",
        ] {
            assert!(text.parse::<Sid>().is_err(), "{text}");
        }
        let sixteen = format!("S-1-5{}", "-1".repeat(16));
        assert!(sixteen.parse::<Sid>().is_err());
    }

    #[test]
    fn binary_round_trip() {
        let s = sid("S-1-5-21-2036804247-3058324640-2116585241-1673");
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), 28);
        assert_eq!(bytes[..8], [1, 5, 0, 0, 0, 0, 0, 5]);
        assert_eq!(Sid::from_bytes(&bytes).unwrap(), (s, 28));
    }

    #[test]
    fn binary_errors_name_offsets() {
        assert_eq!(
            Sid::from_bytes(&[2, 0, 0, 0, 0, 0, 0, 5]),
            Err(Error::SidRevision {
                offset: 0,
                revision: 2
            })
        );
        assert_eq!(
            Sid::from_bytes(&[1, 16, 0, 0, 0, 0, 0, 5]),
            Err(Error::SidSubAuthorityCount {
                offset: 0,
                count: 16
            })
        );
        assert!(matches!(
            Sid::from_bytes(&[1, 1, 0, 0, 0, 0, 0, 5, 1]),
            Err(Error::Truncated {
                offset: 0,
                needed: 12,
                ..
            })
        ));
    }

    #[test]
    fn classification() {
        assert_eq!(sid("S-1-5-18").kind(), SidKind::WellKnown);
        assert_eq!(sid("S-1-5-32-999").kind(), SidKind::WellKnown);
        assert_eq!(sid("S-1-15-2-1").kind(), SidKind::WellKnown);
        assert_eq!(
            sid("S-1-5-21-1-2-3-1001").kind(),
            SidKind::LocalOrDomainAccount
        );
        assert_eq!(sid("S-1-12-1-1-2-3-4").kind(), SidKind::EntraUser);
        assert_eq!(sid("S-1-15-2-1-2-3-4-5-6-7").kind(), SidKind::AppContainer);
        assert_eq!(
            sid("S-1-15-3-1024-1-2-3-4-5-6-7").kind(),
            SidKind::Capability
        );
        assert_eq!(sid("S-1-16-12288").kind(), SidKind::MandatoryLabel);
        assert_eq!(sid("S-1-5-21-1-2-3").kind(), SidKind::Other);
    }

    #[test]
    fn domain_helpers() {
        let user = sid("S-1-5-21-1-2-3-1001");
        let domain = sid("S-1-5-21-1-2-3");
        assert_eq!(user.domain_part(), Some(domain.clone()));
        assert_eq!(user.rid(), Some(1001));
        assert!(user.is_in_domain(&domain));
        assert!(!user.is_in_domain(&sid("S-1-5-21-1-2-4")));
        assert_eq!(
            domain.with_rid(512).unwrap().well_known_name(),
            Some("Domain Admins")
        );
        assert_eq!(sid("S-1-5-32-544").domain_part(), None);
    }

    #[test]
    fn serde_uses_the_string_form() {
        let s = sid("S-1-5-32-544");
        assert_eq!(String::from(s.clone()), "S-1-5-32-544");
        assert_eq!(Sid::try_from("S-1-5-32-544".to_owned()), Ok(s));
    }
}
