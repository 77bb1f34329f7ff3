//! What a receipt printer prints, with no I/O: receipts, kitchen tickets and
//! drawer kicks laid out for a printer's width and encoded as ESC/POS
//! ([`document`]); text and logos as dots ([`raster`]); ESC/POS read back
//! into text and a PNG picture ([`render`]); a printer's settings and their
//! one check ([`printer`]); and the PrintService's messages ([`wire`]).
//!
//! hw-proxy prints with it, the edge api checks printers and draws receipt
//! previews with it, and a register agent can print with it on its own.

pub mod document;
pub mod printer;
pub mod raster;
pub mod reach;
pub mod render;
pub mod wire;

pub use document::{DocumentError, Encoded, KitchenTicket, Profile, Receipt, without_drawer};
pub use printer::{Address, PrinterConfig, PrinterError};
