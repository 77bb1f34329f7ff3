//! The store domain of Outpost: the rules a sale follows, free of IO and frameworks.
//!
//! Everything here is pure: storage, HTTP and sync call into these types to parse
//! input, compute totals and decide what a role may do. Constructors parse rather
//! than validate, so a value of these types is always a legal one.

pub mod clock;
pub mod currency;
pub mod error;
pub mod gs1;
pub mod ids;
pub mod locale;
pub mod money;
pub mod order;
pub mod pg;
pub mod quantity;
pub mod search;
pub mod secrets;
pub mod staff;
pub mod stream;
pub mod tax;

pub use clock::{BusinessDay, Hlc, HlcClock, local_minute};
pub use currency::{CurrencyInfo, round_to};
pub use error::{DomainError, Result};
pub use locale::NumberFormat;
pub use money::{Currency, Money};
pub use order::{
    LineInput, OrderNumber, OrderTotals, PaymentInput, PaymentMethod, PricedLine, TaxSummary,
    price_order, settle_payments,
};
pub use quantity::Quantity;
pub use staff::{Permission, Pin, Role};
pub use stream::Stream;
pub use tax::{TaxMode, TaxRate};
