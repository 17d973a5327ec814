//! Registry hive files (regf).
pub mod base;
