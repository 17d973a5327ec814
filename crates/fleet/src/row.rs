//! ADMU's fleet CSV (`jcdiscovery.csv`): one row per user profile of a device, with
//! ADMU's column names.

use serde::Serialize;

use crate::csv::{self, Field, Record};
use crate::problem::Problem;

/// ADMU's headers, in ADMU's order.
pub const HEADERS: [&str; 8] = [
    "SID",
    "LocalPath",
    "LocalComputerName",
    "LocalUsername",
    "JumpCloudUserName",
    "JumpCloudUserID",
    "JumpCloudSystemID",
    "SerialNumber",
];

/// One row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Row {
    /// `SID`: the domain or Entra account's SID (the profile to migrate).
    #[serde(rename = "SID")]
    pub sid: String,
    /// `LocalPath`: the profile folder.
    pub local_path: String,
    /// `LocalComputerName`: the device's hostname.
    pub local_computer_name: String,
    /// `LocalUsername`: the local account the profile becomes.
    pub local_username: String,
    /// `JumpCloudUserName`: the JumpCloud user (empty: not migrated).
    pub jump_cloud_user_name: String,
    /// `JumpCloudUserID`.
    #[serde(rename = "JumpCloudUserID")]
    pub jump_cloud_user_id: String,
    /// `JumpCloudSystemID`: the device.
    #[serde(rename = "JumpCloudSystemID")]
    pub jump_cloud_system_id: String,
    /// `SerialNumber`.
    pub serial_number: String,
}

impl Row {
    /// The fields in [`HEADERS`] order.
    pub fn fields(&self) -> Vec<String> {
        vec![
            self.sid.clone(),
            self.local_path.clone(),
            self.local_computer_name.clone(),
            self.local_username.clone(),
            self.jump_cloud_user_name.clone(),
            self.jump_cloud_user_id.clone(),
            self.jump_cloud_system_id.clone(),
            self.serial_number.clone(),
        ]
    }

    /// Whether the row asks for a migration (a JumpCloud user is named).
    pub fn wanted(&self) -> bool {
        !self.jump_cloud_user_name.trim().is_empty()
    }
}

/// Rows as CSV with ADMU's headers.
pub fn to_csv(rows: &[Row]) -> String {
    let data: Vec<Vec<String>> = rows.iter().map(Row::fields).collect();
    csv::write(&HEADERS, &data)
}

/// A row read from a file, with where each of its fields is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRow {
    /// The row.
    pub row: Row,
    /// Its line.
    pub line: usize,
    /// Column of each header's field (in [`HEADERS`] order).
    pub columns: [usize; 8],
}

impl ReadRow {
    /// The column of a header's field.
    pub fn column(&self, header: &str) -> usize {
        HEADERS
            .iter()
            .position(|h| *h == header)
            .map_or(1, |i| self.columns[i])
    }
}

/// Reads ADMU's CSV: headers matched case-insensitively in any order (extra columns are
/// ignored); every one of [`HEADERS`] must be there.
pub fn read(file: &str, text: &str) -> Result<Vec<ReadRow>, Vec<Problem>> {
    let records =
        csv::parse(text).map_err(|e| vec![Problem::new(file, e.line, e.column, e.message)])?;
    let Some((head, body)) = records.split_first() else {
        return Err(vec![Problem::new(
            file,
            1,
            1,
            format!(
                "the file is empty; the first line must be the headers {}",
                HEADERS.join(",")
            ),
        )]);
    };
    let mut index = [usize::MAX; 8];
    let mut problems = Vec::new();
    for (i, h) in HEADERS.iter().enumerate() {
        match head
            .fields
            .iter()
            .position(|f| f.text.eq_ignore_ascii_case(h))
        {
            Some(p) => index[i] = p,
            None => problems.push(Problem::new(
                file,
                head.line,
                1,
                format!(
                    "the header {h} is missing (ADMU's headers: {})",
                    HEADERS.join(",")
                ),
            )),
        }
    }
    for (p, f) in head.fields.iter().enumerate() {
        if head.fields[..p]
            .iter()
            .any(|g| g.text.eq_ignore_ascii_case(&f.text))
        {
            problems.push(Problem::new(
                file,
                f.line,
                f.column,
                format!("the header {} appears twice", f.text),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(body.iter().map(|r| read_row(r, &index)).collect())
}

fn read_row(r: &Record, index: &[usize; 8]) -> ReadRow {
    let empty = Field {
        text: String::new(),
        line: r.line,
        column: r.fields.last().map_or(1, |f| f.column + f.text.len() + 1),
    };
    let get = |i: usize| r.fields.get(index[i]).unwrap_or(&empty);
    let mut columns = [0usize; 8];
    for (i, c) in columns.iter_mut().enumerate() {
        *c = get(i).column;
    }
    ReadRow {
        row: Row {
            sid: get(0).text.clone(),
            local_path: get(1).text.clone(),
            local_computer_name: get(2).text.clone(),
            local_username: get(3).text.clone(),
            jump_cloud_user_name: get(4).text.clone(),
            jump_cloud_user_id: get(5).text.clone(),
            jump_cloud_system_id: get(6).text.clone(),
            serial_number: get(7).text.clone(),
        },
        line: r.line,
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_headers() {
        let row = Row {
            sid: "S-1-5-21-1-2-3-1104".into(),
            local_path: r"C:\Users\alice".into(),
            local_username: "alice".into(),
            jump_cloud_user_name: "alice".into(),
            jump_cloud_system_id: "abc".into(),
            ..Row::default()
        };
        let text = to_csv(std::slice::from_ref(&row));
        assert!(text.starts_with("SID,LocalPath,LocalComputerName,LocalUsername,JumpCloudUserName,JumpCloudUserID,JumpCloudSystemID,SerialNumber\r\n"));
        let back = read("f.csv", &text).unwrap();
        assert_eq!(back[0].row, row);
        assert_eq!(back[0].line, 2);
        assert_eq!(back[0].column("LocalUsername"), 37);

        let shuffled = "jumpcloudsystemid,SID,LocalPath,LocalComputerName,LocalUsername,JumpCloudUserName,JumpCloudUserID,SerialNumber,Extra\nabc,S-1,p,h,u,j,,sn,x\n";
        let r = read("f.csv", shuffled).unwrap();
        assert_eq!(r[0].row.jump_cloud_system_id, "abc");
        assert_eq!(r[0].row.serial_number, "sn");

        let errs = read("f.csv", "SID,LocalPath\n").unwrap_err();
        assert_eq!(errs.len(), 6);
        assert!(
            errs[0]
                .to_string()
                .starts_with("f.csv:1:1: the header LocalComputerName is missing")
        );
        assert!(read("f.csv", "").is_err());
    }
}
