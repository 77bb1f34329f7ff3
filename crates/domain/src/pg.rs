//! PostgreSQL connection settings both databases (the edge's and the
//! cloud's) use: how long opening a connection and one statement may take,
//! unless the URL says otherwise. A server that stopped answering, or a
//! statement stuck on a lock, then fails its call instead of holding a
//! pooled connection (and a sale, or a store's push) for good.

/// Opening a connection (libpq's `connect_timeout`).
pub const CONNECT_TIMEOUT_S: u64 = 10;
/// One statement (`statement_timeout`); migrations run without one.
pub const STATEMENT_TIMEOUT_MS: u64 = 30_000;

/// `url` with libpq's `connect_timeout` when it names none.
pub fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout={CONNECT_TIMEOUT_S}")
}

/// The statement to run on each new connection: the default timeout,
/// unless the URL sets one (`options=-c statement_timeout=…`).
pub fn session_setup(url: &str) -> Option<String> {
    (!url.contains("statement_timeout"))
        .then(|| format!("SET statement_timeout = {STATEMENT_TIMEOUT_MS}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gets_the_timeouts_unless_it_names_them() {
        assert_eq!(
            with_connect_timeout("postgres://u:p@db/cloud"),
            "postgres://u:p@db/cloud?connect_timeout=10"
        );
        assert_eq!(
            with_connect_timeout("postgres://u:p@db/cloud?sslmode=require"),
            "postgres://u:p@db/cloud?sslmode=require&connect_timeout=10"
        );
        assert_eq!(
            with_connect_timeout("postgres://u:p@db/cloud?connect_timeout=3"),
            "postgres://u:p@db/cloud?connect_timeout=3"
        );
        assert_eq!(
            session_setup("postgres://u:p@db/x").as_deref(),
            Some("SET statement_timeout = 30000")
        );
        assert_eq!(
            session_setup("postgres://u:p@db/x?options=-c%20statement_timeout%3D5000"),
            None
        );
    }
}
