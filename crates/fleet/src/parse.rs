//! Reading a fleet script back: which migrations it holds for which system, and the
//! arguments every run gets. What a device does with the text, for tests and for
//! simulating devices; the inverse of [`crate::script::render`].

use crate::script::Job;

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

/// The single-quoted strings of a line, unquoted.
pub fn quoted_strings(line: &str) -> Result<Vec<String>, String> {
    let quote = |c: char| matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}');
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if !quote(c) {
            continue;
        }
        let mut s = String::new();
        loop {
            match chars.next() {
                None => return Err(format!("an unclosed string in {line:?}")),
                Some(q) if quote(q) => {
                    if chars.peek().is_some_and(|n| quote(*n)) {
                        chars.next();
                        s.push(q);
                    } else {
                        break;
                    }
                }
                Some(c) => s.push(c),
            }
        }
        out.push(s);
    }
    Ok(out)
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
