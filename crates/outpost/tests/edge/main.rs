//! Black-box tests of the edge: the real `outpost` binary as a separate process,
//! over real HTTP, on SQLite and on PostgreSQL (a fresh database per test).

mod cloud;
mod helpers;
mod inputs;
mod openapi;
mod printing;
mod screens;

mod auth;
mod bad_input;
mod browser;
mod chain;
mod clock;
mod durability;
mod link;
mod money;
mod realtime;
mod sales;
mod stack;
mod startup;
mod sync;
