//! Why a domain value or computation was refused, in words a cashier can act on.

/// Every way the domain refuses input. Each variant maps to a 4xx at the HTTP edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("unknown currency code {0:?} (use an ISO 4217 code such as EUR)")]
    UnknownCurrency(String),
    #[error("amounts in {left} and {right} cannot be combined")]
    CurrencyMismatch { left: String, right: String },
    #[error("amount is out of range")]
    AmountOutOfRange,
    #[error("quantity must be between 0.001 and 1,000,000 (given in thousandths: {0})")]
    InvalidQuantity(i64),
    #[error("product sold by the unit needs a whole quantity, got {0} thousandths")]
    FractionalUnitQuantity(i64),
    #[error("tax rate must be between 0 and 100%")]
    InvalidTaxRate,
    #[error("a discount of {discount} is more than the {amount} it applies to")]
    DiscountTooLarge {
        discount: crate::Money,
        amount: crate::Money,
    },
    #[error("a discount cannot be negative")]
    NegativeDiscount,
    #[error("an order needs at least one line")]
    EmptyOrder,
    #[error("an order can have at most {0} lines")]
    TooManyLines(usize),
    #[error("payments total {paid} but {due} is due")]
    PaymentMismatch {
        paid: crate::Money,
        due: crate::Money,
    },
    #[error("cash tendered {tendered} is less than the {amount} it pays")]
    TenderTooSmall {
        tendered: crate::Money,
        amount: crate::Money,
    },
    #[error("{what} must be a multiple of {unit} in this currency")]
    NotInRoundingUnit {
        what: &'static str,
        unit: crate::Money,
    },
    #[error("only cash can be over-tendered")]
    ChangeOnNonCash,
    #[error("a payment amount must be positive")]
    NonPositivePayment,
    #[error("a PIN is 4 to 8 digits")]
    InvalidPin,
    #[error(
        "this PIN is among the first ones guessed (a repeat, a run like 1234, or a common one): choose another"
    )]
    WeakPin,
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("unknown payment method {0:?}")]
    UnknownPaymentMethod(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = DomainError> = std::result::Result<T, E>;
