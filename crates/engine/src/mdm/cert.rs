//! Certificates of the machine's `MY` store as the registry keeps them
//! (`SOFTWARE\Microsoft\SystemCertificates\MY\Certificates\<SHA-1 thumbprint>`, value
//! `Blob`): a list of properties, each `{propid u32, flags u32 (1), length u32, data}`
//! little-endian, the certificate itself (DER) under `CERT_CERT_PROP_ID` (32)
//! (Microsoft's `wincrypt.h` property ids; the layout is the one CryptoAPI's registry
//! store serializes, as documented by the forensic write-ups of that store). Only what
//! admu needs is read: the DER's issuer and subject common names.

/// `CERT_CERT_PROP_ID`: the encoded certificate.
pub const CERT_PROP_ID: u32 = 32;

/// One certificate of the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreCert {
    /// The key's name: the SHA-1 thumbprint, upper-case hex.
    pub thumbprint: String,
    /// The issuer's common name (or the whole issuer's first text attribute).
    pub issuer: Option<String>,
    pub subject: Option<String>,
}

/// The DER certificate inside a registry `Blob`, when it has one.
pub fn cert_of_blob(blob: &[u8]) -> Option<&[u8]> {
    let mut at = 0usize;
    while at + 12 <= blob.len() {
        let word = |i: usize| {
            blob.get(at + i..at + i + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let (id, len) = (word(0)?, word(8)? as usize);
        let end = (at + 12).checked_add(len)?;
        let data = blob.get(at + 12..end)?;
        if id == CERT_PROP_ID {
            return Some(data);
        }
        at = end;
    }
    None
}

/// One DER element: tag, content, and what follows it.
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*der.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let body = der.get(head..head.checked_add(len)?)?;
    Some((tag, body, &der[head + len..]))
}

/// The elements of a constructed DER value.
fn children(mut body: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, inner, rest)) = tlv(body) {
        out.push((tag, inner));
        body = rest;
    }
    out
}

/// OID 2.5.4.3 (commonName), encoded.
const CN: [u8; 3] = [0x55, 0x04, 0x03];

/// The text of a DER string (UTF8String, PrintableString, IA5String, T61String,
/// BMPString).
fn text(tag: u8, body: &[u8]) -> Option<String> {
    match tag {
        0x0c | 0x13 | 0x16 | 0x14 => Some(String::from_utf8_lossy(body).into_owned()),
        0x1e => {
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// The common name of an X.501 Name (a SEQUENCE of SETs of {OID, value}).
fn common_name(name: &[u8]) -> Option<String> {
    for (_, set) in children(name) {
        for (_, pair) in children(set) {
            let parts = children(pair);
            if let [(0x06, oid), (tag, value), ..] = parts.as_slice()
                && *oid == CN.as_slice()
            {
                return text(*tag, value);
            }
        }
    }
    None
}

/// Issuer and subject common names of a DER X.509 certificate.
pub fn names(der: &[u8]) -> (Option<String>, Option<String>) {
    let Some((0x30, cert, _)) = tlv(der) else {
        return (None, None);
    };
    let Some((0x30, tbs, _)) = tlv(cert) else {
        return (None, None);
    };
    let mut fields = children(tbs);
    if fields.first().is_some_and(|(tag, _)| *tag == 0xa0) {
        fields.remove(0);
    }
    // serialNumber, signature, issuer, validity, subject.
    let name = |i: usize| {
        fields
            .get(i)
            .filter(|(tag, _)| *tag == 0x30)
            .and_then(|(_, b)| common_name(b))
    };
    (name(2), name(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 0x80 {
            out.push(body.len() as u8);
        } else {
            out.extend([0x82, (body.len() >> 8) as u8, body.len() as u8]);
        }
        out.extend_from_slice(body);
        out
    }

    fn name(cn: &str) -> Vec<u8> {
        let mut pair = der(0x06, &CN);
        pair.extend(der(0x0c, cn.as_bytes()));
        der(0x30, &der(0x31, &der(0x30, &pair)))
    }

    #[test]
    fn reads_issuer_and_subject_from_a_blob() {
        let mut tbs = der(0xa0, &der(0x02, &[2]));
        tbs.extend(der(0x02, &[1, 2, 3]));
        tbs.extend(der(0x30, &der(0x06, &[0x2a, 0x86, 0x48])));
        tbs.extend(name("Microsoft Intune MDM Device CA"));
        tbs.extend(der(0x30, &[]));
        tbs.extend(name("0b4c6a1e-device"));
        let cert = der(0x30, &der(0x30, &tbs));
        let mut blob = Vec::new();
        for (id, data) in [(3u32, vec![9u8; 20]), (CERT_PROP_ID, cert.clone())] {
            blob.extend(id.to_le_bytes());
            blob.extend(1u32.to_le_bytes());
            blob.extend((data.len() as u32).to_le_bytes());
            blob.extend(data);
        }
        let found = cert_of_blob(&blob).expect("cert property");
        assert_eq!(found, cert.as_slice());
        let (issuer, subject) = names(found);
        assert_eq!(issuer.as_deref(), Some("Microsoft Intune MDM Device CA"));
        assert_eq!(subject.as_deref(), Some("0b4c6a1e-device"));
        assert_eq!(cert_of_blob(&blob[..30]), None);
        assert_eq!(names(&[0x30, 0x85]), (None, None));
    }
}
