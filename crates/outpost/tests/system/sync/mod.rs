//! A store and the cloud: every sale delivered exactly once through outages
//! and crashes, the link's faults, credentials and master data.

mod admin_accounts;
mod chain;
mod delivery;
mod gate;
mod link;
mod master_data;
mod roles;
