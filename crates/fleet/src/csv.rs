//! A small CSV reader and writer (RFC 4180: commas, double quotes, doubled quotes,
//! quoted newlines; CRLF or LF; a UTF-8 byte-order mark is skipped), with the line and
//! column of every field for error messages.
//!
//! Discovery writes what devices report (user names, paths) into a file admins open in
//! Excel, so a field a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return) is written with a leading `'`, which Excel shows as
//! text; reading takes that `'` off again.

/// A field and where it starts (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The text, unquoted (and trimmed of surrounding spaces when unquoted).
    pub text: String,
    /// Line of the field's first character.
    pub line: usize,
    /// Column (in characters) of the field's first character.
    pub column: usize,
}

/// A record (one row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The line it starts on.
    pub line: usize,
    /// Its fields.
    pub fields: Vec<Field>,
}

/// Where the text is not CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line.
    pub line: usize,
    /// Column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

/// How a field ended.
enum End {
    Comma,
    Newline,
    Eof,
}

impl Reader<'_> {
    /// The inside of a quoted field, after its opening quote.
    fn quoted(&mut self, text: &mut String, start: (usize, usize)) -> Result<(), SyntaxError> {
        loop {
            match self.chars.next() {
                None => {
                    return Err(SyntaxError {
                        line: start.0,
                        column: start.1,
                        message: "a quoted field is never closed".into(),
                    });
                }
                Some('"') if self.chars.peek() == Some(&'"') => {
                    self.chars.next();
                    self.column += 2;
                    text.push('"');
                }
                Some('"') => {
                    self.column += 1;
                    return Ok(());
                }
                Some('\n') => {
                    self.line += 1;
                    self.column = 1;
                    text.push('\n');
                }
                Some(c) => {
                    self.column += 1;
                    text.push(c);
                }
            }
        }
    }

    /// The rest of a field up to its separator (after a quoted part, only spaces).
    fn rest(&mut self, text: &mut String, quoted: bool) -> Result<End, SyntaxError> {
        for c in self.chars.by_ref() {
            match c {
                ',' => {
                    self.column += 1;
                    return Ok(End::Comma);
                }
                '\n' => return Ok(End::Newline),
                '\r' => {}
                c if quoted && !c.is_whitespace() => {
                    return Err(SyntaxError {
                        line: self.line,
                        column: self.column,
                        message: format!(
                            "{c:?} after a closing quote (a quote inside a field must be doubled)"
                        ),
                    });
                }
                c => {
                    self.column += 1;
                    if !quoted {
                        text.push(c);
                    }
                }
            }
        }
        Ok(End::Eof)
    }

    /// One field and how it ended.
    fn field(&mut self) -> Result<(Field, bool, End), SyntaxError> {
        let start = (self.line, self.column);
        let mut text = String::new();
        let quoted = self.chars.peek() == Some(&'"');
        if quoted {
            self.chars.next();
            self.column += 1;
            self.quoted(&mut text, start)?;
        }
        let end = self.rest(&mut text, quoted)?;
        let text = if quoted { text } else { text.trim().to_owned() };
        let text = match text.strip_prefix('\'') {
            Some(rest) if is_formula(rest) => rest.to_owned(),
            _ => text,
        };
        let field = Field {
            text,
            line: start.0,
            column: start.1,
        };
        Ok((field, quoted, end))
    }
}

/// Reads every record; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Record>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = Reader {
        chars: text.chars().peekable(),
        line: 1,
        column: 1,
    };
    let mut records = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut record_line = 1;
    loop {
        let (field, quoted, end) = r.field()?;
        fields.push(field);
        if let End::Comma = end {
            continue;
        }
        let blank = fields.len() == 1 && fields[0].text.is_empty() && !quoted;
        let done = std::mem::take(&mut fields);
        if !blank {
            records.push(Record {
                line: record_line,
                fields: done,
            });
        }
        if let End::Eof = end {
            return Ok(records);
        }
        r.line += 1;
        r.column = 1;
        record_line = r.line;
    }
}

/// What starts a formula in a spreadsheet cell (OWASP's list for CSV injection).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet would read `field` as a formula once any `'` guards before it
/// are taken off (so a value that starts with `'=` round-trips too).
fn is_formula(field: &str) -> bool {
    field.trim_start_matches('\'').starts_with(FORMULA_START)
}

/// One field, quoted when it has to be, with a `'` before a formula (see the module).
pub fn quote(field: &str) -> String {
    let guarded;
    let field = if is_formula(field) {
        guarded = format!("'{field}");
        guarded.as_str()
    } else {
        field
    };
    if field.contains([',', '"', '\n', '\r'])
        || field.starts_with(char::is_whitespace)
        || field.ends_with(char::is_whitespace)
    {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// A CSV document (CRLF line ends, as Excel and PowerShell write them).
pub fn write(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let line = |fields: Vec<String>| fields.join(",") + "\r\n";
    out.push_str(&line(headers.iter().map(|h| quote(h)).collect()));
    for r in rows {
        out.push_str(&line(r.iter().map(|f| quote(f)).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(r: &Record) -> Vec<&str> {
        r.fields.iter().map(|f| f.text.as_str()).collect()
    }

    #[test]
    fn reads_quotes_and_positions() {
        let doc = "\u{feff}a, b ,c\r\n\r\n\"x,1\",\"say \"\"hi\"\"\",\n\"multi\nline\",z,\n";
        let rs = parse(doc).unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(texts(&rs[0]), ["a", "b", "c"]);
        assert_eq!(texts(&rs[1]), ["x,1", "say \"hi\"", ""]);
        assert_eq!(rs[1].line, 3);
        assert_eq!(rs[1].fields[1].column, 7);
        assert_eq!(texts(&rs[2]), ["multi\nline", "z", ""]);
        assert_eq!(rs[2].line, 4);
        assert_eq!(rs[2].fields[1].line, 5);
    }

    #[test]
    fn errors_and_roundtrip() {
        let e = parse("a,\"b\nc").unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
        let e = parse("\"a\"b,c").unwrap_err();
        assert_eq!((e.line, e.column), (1, 4));
        let rows = vec![vec!["C:\\Users\\a b".to_owned(), "x,\"y\"".to_owned()]];
        let text = write(&["P", "Q"], &rows);
        let back = parse(&text).unwrap();
        assert_eq!(texts(&back[1]), ["C:\\Users\\a b", "x,\"y\""]);
    }

    #[test]
    fn formulas_are_written_as_text_and_read_back() {
        let rows = vec![vec![
            "=HYPERLINK(\"http://x\")".to_owned(),
            "+1".to_owned(),
            "-2".to_owned(),
            "@SUM(A1)".to_owned(),
            "\tx".to_owned(),
            "'plain".to_owned(),
            "'=quoted".to_owned(),
            "\t".to_owned(),
            "tail\t".to_owned(),
            "S-1-5-21-1-2-3-1001".to_owned(),
        ]];
        let text = write(&["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"], &rows);
        let line = text.lines().nth(1).unwrap();
        assert!(
            line.starts_with(
                "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2,'@SUM(A1),'\tx,'plain,''=quoted,\"'\t\",\"tail\t\",S-"
            ),
            "{line}"
        );
        let back = parse(&text).unwrap();
        assert_eq!(texts(&back[1]), rows[0]);
    }
}
