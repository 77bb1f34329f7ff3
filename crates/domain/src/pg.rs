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

/// The database a `postgres://` URL names (letters, digits and `_` only,
/// so it can name roles), or why not.
pub fn database_of(url: &str) -> Result<String, String> {
    url.split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map(|(_, db)| db)
        .filter(|db| !db.is_empty() && db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_owned)
        .ok_or_else(|| {
            format!(
                "the database URL names no database (letters, digits, _): {}",
                url.split('@').next_back().unwrap_or("")
            )
        })
}

/// A SQL string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL, run by the database's owner, that makes `role` (or brings an
/// existing one's table and sequence rights back to this) a login role
/// with `password` and no more than it needs: not superuser, no role or
/// database creation, no DDL (nobody but the owner creates in the schema),
/// the migrations' table read-only, every sequence usable, and on tables
/// only `grants` (`GRANT {rights} ON {tables}`, in order). `role` is made
/// of the database's name and letters, so it needs no quoting beyond
/// double quotes. The password travels in the statement: PostgreSQL logs
/// a failing statement whole (`log_min_error_statement`), so a failed run
/// may leave it in the server's log.
pub fn service_role_sql(
    database: &str,
    role: &str,
    password: &str,
    grants: &[(&str, &str)],
) -> Result<String, String> {
    if password.contains(['\'', '\\']) || password.chars().any(char::is_control) {
        return Err(format!(
            "the {role} role's password may not hold a quote, a backslash or a control character"
        ));
    }
    if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("{role:?} is not a role name (letters, digits, _)"));
    }
    // Made with no more than it needs; an existing one that holds more is
    // refused rather than changed (only a superuser may take SUPERUSER,
    // REPLICATION or BYPASSRLS away, and a managed server's owner is none).
    let mut sql = format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN \
             CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS; \
           ELSIF EXISTS (SELECT FROM pg_roles WHERE rolname = {name} AND (rolsuper OR rolcreatedb \
               OR rolcreaterole OR rolreplication OR rolbypassrls)) THEN \
             RAISE EXCEPTION 'the role {role} holds more than a service needs (superuser, createdb, \
               createrole, replication or bypassrls): take that away, or drop the role, first'; \
           END IF; \
         END $$;\
         ALTER ROLE \"{role}\" LOGIN PASSWORD {password};\
         REVOKE ALL ON DATABASE \"{database}\" FROM PUBLIC;\
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;\
         GRANT CONNECT ON DATABASE \"{database}\" TO \"{role}\";\
         GRANT USAGE ON SCHEMA public TO \"{role}\";\
         REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \"{role}\";\
         REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM \"{role}\";\
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO \"{role}\";",
        name = literal(role),
        password = literal(password),
    );
    for (tables, rights) in grants {
        sql.push_str(&format!("GRANT {rights} ON {tables} TO \"{role}\";"));
    }
    // After the grants: one on ALL TABLES covers this one too.
    sql.push_str(&format!(
        "REVOKE ALL ON __diesel_schema_migrations FROM \"{role}\";\
         GRANT SELECT ON __diesel_schema_migrations TO \"{role}\";"
    ));
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_made_with_a_quoted_password_and_its_grants_only() {
        assert_eq!(
            database_of("postgres://u:p@db:5432/outpost?x=1").unwrap(),
            "outpost"
        );
        assert!(database_of("postgres://u:p@db:5432/").is_err());
        assert!(database_of("postgres://u:p@db/out-post").is_err());
        let sql = service_role_sql("shop", "shop_api", "s3cret", &[("orders", "SELECT")]).unwrap();
        assert!(sql.contains("PASSWORD 's3cret'"), "{sql}");
        assert!(sql.contains("NOSUPERUSER NOCREATEDB NOCREATEROLE"), "{sql}");
        assert!(
            sql.contains("GRANT SELECT ON orders TO \"shop_api\""),
            "{sql}"
        );
        assert!(sql.ends_with("GRANT SELECT ON __diesel_schema_migrations TO \"shop_api\";"));
        for bad in ["it's", "back\\slash", "new\nline"] {
            assert!(
                service_role_sql("shop", "shop_api", bad, &[]).is_err(),
                "{bad:?}"
            );
        }
        assert!(service_role_sql("shop", "shop\"; DROP", "pw", &[]).is_err());
    }

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
