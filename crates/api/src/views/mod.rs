//! What the API answers, as types: handlers serialize through these, and
//! the OpenAPI document's response schemas are derived from the same types,
//! so a response and its description cannot drift apart. `records` and
//! `orders` mirror what storage returns; `answers` are the shapes the
//! handlers put together themselves.

mod answers;
mod orders;
mod records;

pub use answers::*;
pub use orders::*;
pub use records::*;

/// Each item as its view.
pub fn views<T, V: From<T>>(items: Vec<T>) -> Vec<V> {
    items.into_iter().map(V::from).collect()
}
