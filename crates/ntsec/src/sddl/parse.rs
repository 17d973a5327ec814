//! SDDL → descriptor.

use super::{
    ACE_FLAGS, ACE_TYPES, ACL_FLAGS, LABEL_BITS, MASK_BITS, NAMED_MASKS, NULL_ACL, SddlOptions,
    TRUST_PROTECTED_FILTER, hex_decode,
};
use crate::ace::{Ace, AceBody, AceFlags, AceLayout, AceType};
use crate::acl::Acl;
use crate::error::Error;
use crate::guid::Guid;
use crate::sd::{Control, SecurityDescriptor};
use crate::sid::{Sid, parse_number};

pub(super) fn descriptor(text: &str, options: &SddlOptions) -> Result<SecurityDescriptor, Error> {
    Parser {
        text,
        pos: 0,
        domain: options.domain.as_ref(),
    }
    .descriptor()
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    domain: Option<&'a Sid>,
}

/// One `key=value` item of a `{…}` block, with the positions of key and value.
struct BlockItem<'a> {
    key: &'a str,
    key_at: usize,
    value: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, position: usize, reason: impl Into<String>) -> Error {
        Error::Sddl {
            position,
            reason: reason.into(),
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    fn descriptor(&mut self) -> Result<SecurityDescriptor, Error> {
        let mut sd = SecurityDescriptor::new();
        let mut exact_control = None;
        if self.peek() == Some('{') {
            for item in self.block()? {
                match item.key {
                    "control" => exact_control = Some(Control(self.number(item.value, item.at)?)),
                    "rm" => sd.rm_control = self.number(item.value, item.at)?,
                    other => {
                        return Err(self.error(
                            item.key_at,
                            format!("unknown descriptor block key {other:?}"),
                        ));
                    }
                }
            }
        }
        let mut implied = Control::SELF_RELATIVE;
        let mut seen = Vec::new();
        while let Some(letter) = self.peek() {
            let start = self.pos;
            let letter = letter.to_ascii_uppercase();
            if !matches!(letter, 'O' | 'G' | 'D' | 'S') || self.rest().get(1..2) != Some(":") {
                return Err(self.error(start, "expected a section: O:, G:, D: or S:"));
            }
            if seen.contains(&letter) {
                return Err(self.error(start, format!("section {letter}: appears twice")));
            }
            seen.push(letter);
            self.pos += 2;
            match letter {
                'O' => sd.owner = Some(self.section_sid()?),
                'G' => sd.group = Some(self.section_sid()?),
                _ => {
                    let is_sacl = letter == 'S';
                    let (flags, acl) = self.acl_section(is_sacl)?;
                    let present = if is_sacl {
                        Control::SACL_PRESENT
                    } else {
                        Control::DACL_PRESENT
                    };
                    implied = implied | present | flags;
                    if is_sacl {
                        sd.sacl = acl;
                    } else {
                        sd.dacl = acl;
                    }
                }
            }
        }
        sd.control = exact_control.unwrap_or(implied);
        Ok(sd)
    }

    /// The SID of an `O:` or `G:` section: everything up to the next `X:` section.
    fn section_sid(&mut self) -> Result<Sid, Error> {
        let start = self.pos;
        let end = match self.rest().find(':') {
            Some(colon) => start + colon.saturating_sub(1),
            None => self.text.len(),
        };
        let value = self.text.get(start..end).unwrap_or("");
        if value.is_empty() {
            return Err(self.error(start, "missing SID"));
        }
        self.pos = end;
        self.sid(value, start)
    }

    fn sid(&self, value: &str, at: usize) -> Result<Sid, Error> {
        if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Sid::from_sddl_alias(value, self.domain).ok_or_else(|| {
                self.error(
                    at,
                    format!(
                        "unknown SID alias {value:?} (domain aliases need SddlOptions::domain)"
                    ),
                )
            });
        }
        value
            .parse()
            .map_err(|error: Error| self.error(at, error.to_string()))
    }

    /// ACL flags, then `NO_ACCESS_CONTROL` or an optional block and the ACEs.
    fn acl_section(&mut self, is_sacl: bool) -> Result<(Control, Option<Acl>), Error> {
        let mut flags = Control(0);
        'flags: loop {
            if self.eat(NULL_ACL) {
                return Ok((flags, None));
            }
            for &(code, dacl_bit, sacl_bit) in ACL_FLAGS {
                if self.eat(code) {
                    flags = flags | Control(if is_sacl { sacl_bit } else { dacl_bit });
                    continue 'flags;
                }
            }
            break;
        }
        let mut acl = Acl::new(Vec::new());
        let mut revision = None;
        if self.peek() == Some('{') {
            for item in self.block()? {
                match item.key {
                    "rev" => revision = Some(self.number(item.value, item.at)?),
                    "sbz1" => acl.sbz1 = self.number(item.value, item.at)?,
                    "sbz2" => acl.sbz2 = self.number(item.value, item.at)?,
                    "pad" => {
                        acl.trailing = hex_decode(item.value).ok_or_else(|| {
                            self.error(item.at, "pad must be # followed by pairs of hex digits")
                        })?;
                    }
                    other => {
                        return Err(
                            self.error(item.key_at, format!("unknown ACL block key {other:?}"))
                        );
                    }
                }
            }
        }
        while self.peek() == Some('(') {
            let ace = self.ace()?;
            acl.aces.push(ace);
        }
        acl.revision = revision.unwrap_or_else(|| Acl::default_revision(&acl.aces));
        Ok((flags, Some(acl)))
    }

    /// `{key=value,…}`.
    fn block(&mut self) -> Result<Vec<BlockItem<'a>>, Error> {
        let start = self.pos;
        let close = self
            .rest()
            .find('}')
            .ok_or_else(|| self.error(start, "unterminated {…} block"))?;
        let content = self.text.get(start + 1..start + close).unwrap_or("");
        self.pos = start + close + 1;
        let mut items = Vec::new();
        let mut at = start + 1;
        for item in content.split(',') {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| self.error(at, "block items are key=value"))?;
            items.push(BlockItem {
                key,
                key_at: at,
                value,
                at: at + key.len() + 1,
            });
            at += item.len() + 1;
        }
        Ok(items)
    }

    fn number<T: TryFrom<u64>>(&self, text: &str, at: usize) -> Result<T, Error> {
        parse_number(text)
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| self.error(at, format!("{text:?} is not a number in range")))
    }

    fn ace(&mut self) -> Result<Ace, Error> {
        let start = self.pos;
        let close = self
            .rest()
            .find(')')
            .ok_or_else(|| self.error(start, "unterminated ACE"))?;
        let content = self.text.get(start + 1..start + close).unwrap_or("");
        self.pos = start + close + 1;
        let mut fields = Vec::new();
        let mut at = start + 1;
        for field in content.split(';') {
            fields.push((field, at));
            at += field.len() + 1;
        }
        let field = |index: usize| fields.get(index).copied().unwrap_or(("", at));
        let ace_type = self.ace_type(field(0))?;
        let flags = self.ace_flags(field(1))?;
        let (third, third_at) = field(2);
        if fields.len() == 3 && third.starts_with('#') {
            let body = hex_decode(third).ok_or_else(|| self.error(third_at, "invalid hex"))?;
            return Ok(Ace {
                ace_type,
                flags,
                body: AceBody::Opaque(body),
            });
        }
        if !(6..=7).contains(&fields.len()) {
            return Err(self.error(
                start,
                "an ACE has 6 or 7 fields, or 3 for (type;flags;#HEX)",
            ));
        }
        let mask = self.rights(field(2))?;
        let object_type = self.guid(field(3))?;
        let inherited_object_type = self.guid(field(4))?;
        let (sid_text, sid_at) = field(5);
        let sid = self.sid(sid_text, sid_at)?;
        let trailing = match fields.get(6) {
            None => Vec::new(),
            Some(&(data, data_at)) => hex_decode(data).ok_or_else(|| {
                self.error(
                    data_at,
                    "application data must be # followed by hex (text conditions and claims are not supported)",
                )
            })?,
        };
        let body = match ace_type.layout() {
            AceLayout::Sid => {
                if object_type.is_some() || inherited_object_type.is_some() {
                    return Err(self.error(start, "this ACE type has no object GUIDs"));
                }
                AceBody::Sid {
                    mask,
                    sid,
                    trailing,
                }
            }
            AceLayout::Object => AceBody::Object {
                mask,
                object_type,
                inherited_object_type,
                sid,
                trailing,
            },
            AceLayout::Opaque => {
                return Err(self.error(
                    start,
                    "this ACE type has no known SID position; write (type;flags;#HEX)",
                ));
            }
        };
        Ok(Ace {
            ace_type,
            flags,
            body,
        })
    }

    fn ace_type(&self, (text, at): (&str, usize)) -> Result<AceType, Error> {
        if let Some((_, value)) = ACE_TYPES
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(text))
        {
            return Ok(AceType(*value));
        }
        self.number(text, at)
            .map(AceType)
            .map_err(|_| self.error(at, format!("unknown ACE type {text:?}")))
    }

    fn ace_flags(&self, (text, at): (&str, usize)) -> Result<AceFlags, Error> {
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            return self.number(text, at).map(AceFlags);
        }
        let mut flags = 0u8;
        for (index, token) in self.tokens(text, at)?.into_iter().enumerate() {
            let bit = ACE_FLAGS
                .iter()
                .chain(std::iter::once(&TRUST_PROTECTED_FILTER))
                .find(|(code, _)| code.eq_ignore_ascii_case(token))
                .map(|(_, bit)| *bit)
                .ok_or_else(|| self.error(at + 2 * index, format!("unknown ACE flag {token:?}")))?;
            flags |= bit;
        }
        Ok(AceFlags(flags))
    }

    fn rights(&self, (text, at): (&str, usize)) -> Result<u32, Error> {
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            return self.number(text, at);
        }
        let mut mask = 0u32;
        for (index, token) in self.tokens(text, at)?.into_iter().enumerate() {
            let bits = NAMED_MASKS
                .iter()
                .chain(MASK_BITS)
                .chain(LABEL_BITS)
                .find(|(code, _)| code.eq_ignore_ascii_case(token))
                .map(|(_, bits)| *bits)
                .ok_or_else(|| {
                    self.error(at + 2 * index, format!("unknown access right {token:?}"))
                })?;
            mask |= bits;
        }
        Ok(mask)
    }

    /// Splits a run of two-letter codes.
    fn tokens<'t>(&self, text: &'t str, at: usize) -> Result<Vec<&'t str>, Error> {
        if !text.is_ascii() || !text.len().is_multiple_of(2) {
            return Err(self.error(at, format!("{text:?} is not a list of two-letter codes")));
        }
        Ok((0..text.len())
            .step_by(2)
            .filter_map(|index| text.get(index..index + 2))
            .collect())
    }

    fn guid(&self, (text, at): (&str, usize)) -> Result<Option<Guid>, Error> {
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|error: Error| self.error(at, error.to_string()))
    }
}
