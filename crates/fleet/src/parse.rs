//! Reading a fleet script back: which migrations it holds for which system, and the
//! arguments every run gets. What a device does with the text, for tests and for
//! simulating devices; the inverse of [`crate::script::render`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::script::{BASE64_CLOSE, BASE64_OPEN, Job};

/// What a script holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Per system, its migrations.
    pub jobs: Vec<Job>,
    /// `$common`.
    pub common: Vec<String>,
    /// `$tail`.
    pub tail: Vec<String>,
}

impl Parsed {
    /// The full `admu` argument lists a device runs, in order (`migrate` first, the
    /// tail on the last one only; the script drops the tail after a failure).
    pub fn invocations(&self, system_id: &str) -> Vec<Vec<String>> {
        let Some(job) = self.jobs.iter().find(|j| j.system_id == system_id) else {
            return Vec::new();
        };
        let n = job.runs.len();
        job.runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let mut a = vec!["migrate".to_owned()];
                a.extend(run.iter().cloned());
                a.extend(self.common.iter().cloned());
                if i + 1 == n {
                    a.extend(self.tail.iter().cloned());
                }
                a
            })
            .collect()
    }
}

/// The strings of a line as [`crate::script::ps_quote`] writes them, in order: single-quoted strings,
/// unquoted, and base64-encoded UTF-8, decoded.
pub fn quoted_strings(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let quote = rest.find('\'');
        let encoded = rest.find(BASE64_OPEN);
        match (quote, encoded) {
            (_, Some(e)) if quote.is_none_or(|q| e < q) => {
                let after = &rest[e + BASE64_OPEN.len()..];
                let end = after
                    .find(BASE64_CLOSE)
                    .ok_or_else(|| format!("an unclosed base64 string in {line:?}"))?;
                let bytes = BASE64
                    .decode(&after[..end])
                    .map_err(|e| format!("bad base64 in {line:?}: {e}"))?;
                out.push(String::from_utf8(bytes).map_err(|e| format!("{line:?}: {e}"))?);
                rest = &after[end + BASE64_CLOSE.len()..];
            }
            (Some(q), _) => {
                let (s, after) = single_quoted(&rest[q + 1..])
                    .ok_or_else(|| format!("an unclosed string in {line:?}"))?;
                out.push(s);
                rest = after;
            }
            (None, _) => return Ok(out),
        }
    }
}

/// The text of a single-quoted string whose opening quote is just before `text`, and
/// what follows its closing quote (`''` stands for one quote).
fn single_quoted(text: &str) -> Option<(String, &str)> {
    let mut s = String::new();
    let mut rest = text;
    loop {
        let q = rest.find('\'')?;
        s.push_str(&rest[..q]);
        let after = &rest[q + 1..];
        match after.strip_prefix('\'') {
            Some(more) => {
                s.push('\'');
                rest = more;
            }
            None => return Some((s, after)),
        }
    }
}

/// Reads a script made by [`crate::script::render`].
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut current: Option<Job> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.contains("= @{ Host = ") {
            let s = quoted_strings(t)?;
            let [id, host] = s.as_slice() else {
                return Err(format!("a job line without id and host: {t:?}"));
            };
            current = Some(Job {
                system_id: id.clone(),
                hostname: host.clone(),
                runs: Vec::new(),
            });
        } else if let Some(rest) = t.strip_prefix(",@(") {
            let job = current.as_mut().ok_or("a run outside a job")?;
            job.runs.push(quoted_strings(rest)?);
        } else if t == ") }" {
            parsed.jobs.extend(current.take());
        } else if let Some(rest) = t.strip_prefix("$common = ") {
            parsed.common = quoted_strings(rest)?;
        } else if let Some(rest) = t.strip_prefix("$tail = ") {
            parsed.tail = quoted_strings(rest)?;
        }
    }
    Ok(parsed)
}
