//! Storage errors: what the caller did wrong (mapped to 4xx) versus what broke.

use outpost_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The input names things that do not fit together (422).
    #[error("{0}")]
    Unprocessable(String),
    #[error("the signed-in role may not {0}")]
    Forbidden(String),
    #[error("wrong PIN")]
    WrongPin { locked_for_s: i64 },
    #[error("too many wrong PINs: locked for {0} more seconds")]
    LockedOut(i64),
    #[error("not signed in, or the session expired")]
    Unauthenticated,
    #[error("the same idempotency key was used with a different request")]
    IdempotencyMismatch,
    /// A concurrent request with the same idempotency key committed first.
    #[error("a concurrent request with the same idempotency key won")]
    IdempotencyRace,
    #[error("database error")]
    Db(#[from] diesel::result::Error),
    #[error("database connection pool error")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database connection error")]
    Connection(#[from] diesel::ConnectionError),
    #[error("migration failed: {0}")]
    Migration(String),
    /// Something this work needs has stopped (503: try again).
    #[error("{0}")]
    Unavailable(String),
    #[error("stored data could not be decoded: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    pub fn not_found(what: impl Into<String>) -> Self {
        StorageError::NotFound(what.into())
    }
    /// The database could not be reached or the connection broke: the
    /// failure says nothing about the work asked for, which may succeed
    /// unchanged later.
    pub fn is_unreachable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            StorageError::Pool(_)
                | StorageError::Connection(_)
                | StorageError::Db(Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                ))
        )
    }
    /// True for a unique-constraint violation, the signal of a concurrent duplicate.
    pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
        matches!(
            e,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            )
        )
    }
}
