//! admu's migration engine.
pub mod userchoice;
