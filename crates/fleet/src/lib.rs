//! Fleet migrations through JumpCloud Commands, the way ADMU's advanced deployment does
//! them, with ADMU's CSV and description formats: discover the profiles JumpCloud knows
//! of, plan from the admin's CSV (every row checked before anything is sent), run one
//! PowerShell command per batch of devices, and read the status the devices report.
//!
//! Everything here but [`Inventory::fetch`] and [`remote`] is a pure function of what
//! JumpCloud answered, so it is tested without a server.
//!
//! ```no_run
//! use fleet::{Inventory, plan, script};
//! use jumpcloud::{ApiKey, Client, Region};
//!
//! let mut client = Client::with_api_key(Region::Us, ApiKey::new("…"));
//! client.select_organization(None)?;
//! let inv = Inventory::fetch(&client, &mut |what, p| eprintln!("{what}: {}", p.read))?;
//! // Discovery: ADMU's jcdiscovery.csv.
//! let csv = fleet::row::to_csv(&fleet::discover(&inv).into_iter().map(|d| d.row).collect::<Vec<_>>());
//! // Plan: every problem with file, line and column, or what will happen.
//! let plan = match plan::plan("devices.csv", &csv, &inv) {
//!     Ok(plan) => plan,
//!     Err(problems) => {
//!         for p in problems {
//!             eprintln!("{p}");
//!         }
//!         return Ok(());
//!     }
//! };
//! let options = script::ScriptOptions {
//!     name: "admu fleet".into(),
//!     api: vec![],
//!     bind: true,
//!     admin: false,
//!     primary_user: true,
//!     logoff: false,
//!     leave_domain: true,
//!     reboot: Some(30),
//!     exe: script::ExeSource::Installed,
//! };
//! let scripts = script::split(&options, &script::jobs(&plan)).map_err(|e| {
//!     std::io::Error::other(e)
//! }).expect("fits");
//! fleet::remote::mark_pending(&client, &plan, &mut |_| {})?;
//! fleet::remote::send(&client, &scripts, &mut |_, _| {})?;
//! // Later: the status table and the exit decision.
//! let results = client.command_results(&mut |_| {})?;
//! let status = fleet::status::status(&client.systems()?, &results, "admu fleet");
//! println!("{} complete of {}", status.totals.complete, status.totals.all());
//! # Ok::<(), jumpcloud::Error>(())
//! ```

pub mod csv;
pub mod description;
pub mod discover;
pub mod inventory;
pub mod names;
pub mod parse;
pub mod plan;
pub mod problem;
pub mod remote;
pub mod row;
pub mod script;
pub mod status;
pub mod terminal;
pub mod time;

pub use discover::{Discovered, discover};
pub use inventory::Inventory;
pub use plan::{Plan, plan};
pub use problem::Problem;
pub use row::{HEADERS, Row};

/// A random password for a new account, made on the device and never shown: 32 base64
/// characters of 24 random bytes plus `aA1!`, so that Windows' complexity rules are met.
/// The JumpCloud agent replaces it with the user's JumpCloud password when it takes the
/// account over after the bind.
pub fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random numbers from the OS: {e}"))?;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(36);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    out.push_str("aA1!");
    Ok(out)
}

#[cfg(test)]
mod tests;
