//! System tests: the real `outpost` binary as separate processes, over real
//! HTTP, gRPC and WebSockets, on SQLite and on PostgreSQL (a fresh database
//! per test), with RabbitMQ, Redis, Chromium and Docker where a test needs
//! them.
//!
//! - `edge`: one store's edge: selling, money, inputs, printing, realtime.
//! - `sync`: a store and the cloud: delivery exactly once, the link's faults,
//!   credentials, master data.
//! - `pages`: the register, manager, kitchen and cloud admin pages in a
//!   browser.
//! - `register`: a till's register agent with its edge: selling through an
//!   edge crash, pairing, the page server's guard.
//! - `stack`: the compose stacks from the images and the air-gap bundle.
//! - `support`: starting all of it (`app`, `cloud`, `hub`, `printer`,
//!   `browser`), shared by every suite.

mod edge;
mod pages;
mod register;
mod register_crash;
mod register_lan;
mod stack;
mod support;
mod sync;
mod till_page;
