//! The central database's errors: what a caller asked wrongly (the admin
//! answers 4xx) versus what broke.

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The input names things that do not fit together (422).
    #[error("{0}")]
    Unprocessable(String),
    #[error("database error")]
    Db(#[from] diesel::result::Error),
    #[error("database connection pool error")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database connection error")]
    Connection(#[from] diesel::ConnectionError),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data could not be decoded: {0}")]
    Corrupt(String),
}

pub type Result<T, E = CloudError> = std::result::Result<T, E>;

impl CloudError {
    pub fn not_found(what: impl Into<String>) -> Self {
        CloudError::NotFound(what.into())
    }

    /// The database could not be reached or the connection broke: the
    /// failure says nothing about the work asked for, which may succeed
    /// unchanged later.
    pub fn is_unreachable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            CloudError::Pool(_)
                | CloudError::Connection(_)
                | CloudError::Db(Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                ))
        )
    }
}
