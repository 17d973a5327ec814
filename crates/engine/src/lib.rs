//! admu's migration engine: profiles, and (next) the plan, journal, steps and revert of
//! a migration. It works through the [`host`] traits only, so the same code runs offline
//! on a mounted volume ([`offline::OfflineHost`]) and live on Windows.
//!
//! ```no_run
//! use engine::offline::OfflineHost;
//! use engine::profiles::{discover, DiscoverOptions};
//!
//! let host = OfflineHost::open("/mnt/windows")?;
//! for p in discover(&host, DiscoverOptions::default())? {
//!     println!("{} {} {:?}", p.account, p.key, p.states);
//! }
//! # Ok::<(), engine::Error>(())
//! ```

pub mod convert;
pub mod error;
pub mod host;
pub mod journal;
pub mod migrate;
pub mod offline;
pub mod paths;
pub mod profiles;
mod sam_offline;
pub mod userchoice;

pub use error::{Error, Result};
