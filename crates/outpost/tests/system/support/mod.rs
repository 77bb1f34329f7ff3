//! What the suites start and drive, shared so no suite carries its own
//! harness.

pub mod agent;
pub mod app;
pub mod browser;
pub mod cloud;
pub mod hub;
pub mod printer;
