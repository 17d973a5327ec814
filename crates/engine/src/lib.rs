//! admu's migration engine: profiles, the migration as typed journaled steps (check,
//! plan, apply, undo), revert and recover. It reaches the machine only through the
//! [`host`] traits, so the same code runs offline on a mounted volume (`crates/offline`)
//! and live on Windows (`crates/windows`).
//!
//! ```no_run
//! use engine::profiles::{discover, DiscoverOptions};
//!
//! fn show(host: &dyn engine::host::Host) -> engine::Result<()> {
//!     for p in discover(host, DiscoverOptions::default())? {
//!         println!("{} {} {:?}", p.account, p.key, p.states);
//!     }
//!     Ok(())
//! }
//! ```

pub mod census;
pub mod child_env;
pub mod convert;
pub mod device;
pub mod error;
pub mod host;
pub mod journal;
pub mod live;
pub mod machine;
pub mod mdm;
pub mod migrate;
pub mod paths;
pub mod private;
pub mod profiles;

pub use error::{Error, Result};
