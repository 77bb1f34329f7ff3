//! One store's edge, alone: sign-in, selling, money, bad input, the clock,
//! durability, scanners and scales, printing, the realtime path, the API
//! document.

mod auth;
mod bad_input;
mod clock;
mod durability;
mod inputs;
mod money;
mod openapi;
mod printing;
mod realtime;
mod sales;
mod startup;
