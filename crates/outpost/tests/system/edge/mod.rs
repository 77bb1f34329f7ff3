//! One store's edge, alone: sign-in, selling, money, bad input, the clock,
//! durability, scanners and scales, printing, the realtime path. (The API
//! document is checked by outpost-api's own test, tests/openapi.rs.)

mod auth;
mod bad_input;
mod catalog;
mod clock;
mod drawer;
mod durability;
pub(crate) mod headers;
mod hw_proxy;
mod inputs;
pub(crate) mod lan_tls;
mod money;
mod page_sessions;
mod pairing;
mod printer_pages;
mod printing;
mod realtime;
mod realtime_access;
mod sales;
mod startup;
mod till_feed;
