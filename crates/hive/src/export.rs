//! Exports: regedit's `.reg` text and a flat JSON listing, both streamed key by key
//! (keys in Windows' sort order, parents before children) so memory stays flat.

use std::io::{self, Write};

use crate::Data;
use crate::edit::Visited;
use crate::error::{Error, Result};
use crate::hive::Hive;
use crate::key::{Key, MAX_DEPTH};
use crate::value::{Value, decode, encode_multi_sz, encode_sz, types};

/// Output format of [`export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Windows Registry Editor Version 5.00`.
    Reg,
    /// A JSON array with one object per key.
    Json,
}

/// Line endings and encoding of a `.reg` export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegEncoding {
    /// UTF-8 with `\n`: for terminals, diffs and grep.
    #[default]
    Utf8,
    /// UTF-16LE with a BOM and `\r\n`, exactly as regedit writes files it can import.
    Utf16,
}

/// Options of [`export`].
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: Format,
    /// The path the hive's root stands for in `.reg` key lines, e.g.
    /// `HKEY_USERS\S-1-5-21-…` or `HKEY_LOCAL_MACHINE\SOFTWARE`.
    pub prefix: String,
    pub encoding: RegEncoding,
}

fn werr(e: io::Error) -> Error {
    Error::Io {
        path: "<output>".into(),
        source: e,
    }
}

/// Writes `start` and everything below it.
pub fn export(
    hive: &Hive,
    start: Key<'_>,
    start_path: &str,
    options: &ExportOptions,
    out: &mut dyn Write,
) -> Result<()> {
    match options.encoding {
        RegEncoding::Utf16 if options.format == Format::Reg => {
            out.write_all(&[0xFF, 0xFE]).map_err(werr)?;
            let mut utf16 = Utf16Writer {
                inner: out,
                pending: Vec::new(),
                scratch: Vec::new(),
            };
            export_utf8(hive, start, start_path, options, &mut utf16, "\r\n")?;
            utf16.finish().map_err(werr)
        }
        _ => export_utf8(hive, start, start_path, options, out, "\n"),
    }
}

/// Transcodes UTF-8 to UTF-16LE as it streams through, so a `.reg` file of any size
/// is written without holding it in memory. A UTF-8 sequence split across two writes
/// is held back until its end arrives.
struct Utf16Writer<'a> {
    inner: &'a mut dyn Write,
    pending: Vec<u8>,
    scratch: Vec<u8>,
}

impl Utf16Writer<'_> {
    fn emit(&mut self, text: &str) -> io::Result<()> {
        self.scratch.clear();
        if text.is_ascii() {
            self.scratch.extend(text.bytes().flat_map(|b| [b, 0]));
        } else {
            self.scratch
                .extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        }
        self.inner.write_all(&self.scratch)
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&self.pending).into_owned();
            self.pending.clear();
            self.emit(&rest)?;
        }
        self.inner.flush()
    }
}

impl Write for Utf16Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(buf);
        let mut rest: &[u8] = &data;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.emit(text)?;
                    rest = &[];
                }
                Err(e) => {
                    let (good, tail) = rest.split_at(e.valid_up_to());
                    self.emit(std::str::from_utf8(good).unwrap_or_default())?;
                    match e.error_len() {
                        None => {
                            self.pending = tail.to_vec();
                            rest = &[];
                        }
                        Some(bad) => {
                            self.emit("\u{FFFD}")?;
                            rest = &tail[bad..];
                        }
                    }
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Two lowercase hex digits per byte, without `format!` (export's hottest path).
fn push_hex(out: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(DIGITS[usize::from(b >> 4)]));
    out.push(char::from(DIGITS[usize::from(b & 15)]));
}

fn export_utf8(
    hive: &Hive,
    start: Key<'_>,
    start_path: &str,
    options: &ExportOptions,
    out: &mut dyn Write,
    eol: &str,
) -> Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    match options.format {
        Format::Reg => write!(w, "Windows Registry Editor Version 5.00{eol}{eol}").map_err(werr)?,
        Format::Json => w.write_all(b"[").map_err(werr)?,
    }
    let mut first = true;
    walk(
        hive,
        start,
        start_path,
        &mut |key, path| match options.format {
            Format::Reg => write_reg_key(&mut w, key, &options.prefix, path, eol),
            Format::Json => {
                if !first {
                    w.write_all(b",").map_err(werr)?;
                }
                first = false;
                write_json_key(&mut w, key, path)
            }
        },
    )?;
    if options.format == Format::Json {
        w.write_all(b"]\n").map_err(werr)?;
    }
    w.flush().map_err(werr)
}

/// Visits `start` and its subtree depth-first, parents first, children in list order.
/// Loops and depth beyond Windows' limit are errors, not hangs.
pub fn walk<'h>(
    hive: &'h Hive,
    start: Key<'h>,
    start_path: &str,
    visit: &mut dyn FnMut(Key<'h>, &str) -> Result<()>,
) -> Result<()> {
    let mut seen = Visited::new(hive.bins_size());
    let mut stack: Vec<(u32, usize, String)> = vec![(start.offset(), 0, start_path.to_string())];
    while let Some((offset, depth, path)) = stack.pop() {
        if !seen.insert(offset) {
            return Err(Error::corrupt(
                offset,
                "key reached twice: the key tree has a loop",
            ));
        }
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(offset, "key tree deeper than 512 levels"));
        }
        let key = hive.key_at(offset)?;
        visit(key, &path)?;
        let children = key.subkeys()?;
        for child in children.into_iter().rev() {
            let child_path = if path.is_empty() {
                child.name()
            } else {
                format!("{path}\\{}", child.name())
            };
            stack.push((child.offset(), depth + 1, child_path));
        }
    }
    Ok(())
}

/// Escapes `\` and `"` the way regedit does inside quotes.
fn reg_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn write_reg_key(
    w: &mut dyn Write,
    key: Key<'_>,
    prefix: &str,
    path: &str,
    eol: &str,
) -> Result<()> {
    let full = match (prefix.is_empty(), path.is_empty()) {
        (true, _) => format!("\\{path}"),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}\\{path}"),
    };
    let mut text = format!("[{full}]{eol}");
    for v in key.values()? {
        reg_value_line(&mut text, &v, eol)?;
    }
    text.push_str(eol);
    w.write_all(text.as_bytes()).map_err(werr)
}

/// True when `bytes` is exactly what Windows stores for the string `s` (so printing the
/// string loses nothing).
fn exact_sz(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return Some(String::new());
    }
    match decode(types::SZ, bytes) {
        Data::String(s) if encode_sz(&s) == bytes && !s.contains(['\r', '\n']) => Some(s),
        _ => None,
    }
}

fn reg_value_line(text: &mut String, v: &Value<'_>, eol: &str) -> Result<()> {
    let name = v.name();
    let lhs = if name.is_empty() {
        "@=".to_string()
    } else {
        format!("\"{}\"=", reg_escape(&name))
    };
    let data = v.data()?;
    let kind = v.kind();
    text.push_str(&lhs);
    if kind == types::SZ
        && let Some(s) = exact_sz(&data)
    {
        text.push('"');
        text.push_str(&reg_escape(&s));
        text.push('"');
    } else if kind == types::DWORD && data.len() == 4 {
        let d = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        text.push_str(&format!("dword:{d:08x}"));
    } else {
        let tag = if kind == types::BINARY {
            "hex:".to_string()
        } else {
            format!("hex({kind:x}):")
        };
        text.push_str(&tag);
        // regedit wraps hex data so no line exceeds 80 columns: continuation lines
        // start with two spaces, broken lines end with a backslash.
        let mut line_len = lhs.len() + tag.len();
        text.reserve(data.len() * 3 + data.len() / 24 * 5);
        for (i, b) in data.iter().enumerate() {
            push_hex(text, *b);
            if i + 1 == data.len() {
                break;
            }
            text.push(',');
            line_len += 3;
            if line_len >= 77 {
                text.push('\\');
                text.push_str(eol);
                text.push_str("  ");
                line_len = 2;
            }
        }
    }
    text.push_str(eol);
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        push_hex(&mut s, *b);
    }
    s
}

/// A filetime as RFC 3339 UTC (`1601-01-01T00:00:00.0000000Z` scale: 100 ns).
pub fn filetime_to_rfc3339(ft: u64) -> String {
    let secs = ft / 10_000_000;
    let frac = ft % 10_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Days since 1601-01-01 to a civil date (proleptic Gregorian).
    let (y, m, d) = civil_from_days(days as i64 - 134_774);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:07}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn write_json_key(w: &mut dyn Write, key: Key<'_>, path: &str) -> Result<()> {
    let mut text = format!(
        "\n{{\"path\":{},\"last_written\":\"{}\"",
        json_string(path),
        filetime_to_rfc3339(key.last_written())
    );
    if let Some(class) = key.class_name()? {
        text.push_str(&format!(",\"class\":{}", json_string(&class)));
    }
    text.push_str(",\"values\":[");
    for (i, v) in key.values()?.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let kind = v.kind();
        let type_name = types::name(kind).map_or_else(|| kind.to_string(), json_string);
        text.push_str(&format!(
            "{{\"name\":{},\"type\":{type_name}",
            json_string(&v.name())
        ));
        let data = v.data()?;
        match json_data(kind, &data) {
            Some(typed) => text.push_str(&format!(",\"data\":{typed}}}")),
            None => text.push_str(&format!(",\"data_hex\":\"{}\"}}", hex(&data))),
        }
    }
    text.push_str("]}");
    w.write_all(text.as_bytes()).map_err(werr)
}

/// Typed JSON for data that round-trips exactly; `None` means "print as hex".
fn json_data(kind: u32, data: &[u8]) -> Option<String> {
    match (kind, decode(kind, data)) {
        (
            types::SZ | types::EXPAND_SZ | types::LINK,
            Data::String(s) | Data::ExpandString(s) | Data::Link(s),
        ) => (encode_sz(&s) == data || (data.is_empty() && s.is_empty())).then(|| json_string(&s)),
        (types::MULTI_SZ, Data::MultiString(parts)) => (encode_multi_sz(&parts) == data)
            .then(|| serde_json::to_string(&parts).unwrap_or_default()),
        (_, Data::Dword(d) | Data::DwordBigEndian(d)) => Some(d.to_string()),
        (_, Data::Qword(q)) => Some(q.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_writer_handles_sequences_split_across_writes() {
        let text = "[HKEY\\Ä€😀]\r\n\"x\"=\"ß\"";
        let mut out = Vec::new();
        let mut w = Utf16Writer {
            inner: &mut out,
            pending: Vec::new(),
            scratch: Vec::new(),
        };
        for b in text.as_bytes() {
            w.write_all(std::slice::from_ref(b)).unwrap();
        }
        w.write_all(&[0xFF]).unwrap(); // invalid UTF-8 becomes U+FFFD
        w.finish().unwrap();
        let expected: Vec<u8> = format!("{text}\u{FFFD}")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn filetimes_format_as_utc() {
        assert_eq!(filetime_to_rfc3339(0), "1601-01-01T00:00:00.0000000Z");
        assert_eq!(
            filetime_to_rfc3339(116_444_736_000_000_000),
            "1970-01-01T00:00:00.0000000Z"
        );
        assert_eq!(
            filetime_to_rfc3339(133_000_000_000_000_000),
            "2022-06-18T04:26:40.0000000Z"
        );
    }
}
