//! A store and the cloud: every sale delivered exactly once through outages
//! and crashes, the link's faults, credentials and master data.

mod both_ways;
mod chain;
mod link;
