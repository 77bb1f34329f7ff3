//! The central database's connections give up instead of hanging: each
//! statement is cut after 30 s (issue 31).

mod common;

use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl, sql_types::Text};

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    statement_timeout: String,
}

#[test]
fn every_pooled_connection_has_a_statement_timeout_and_a_stuck_statement_is_cut() {
    let db = common::fresh_db();
    // Every connection the pool hands out, the first (which migrated) too.
    let conns: Vec<_> = (0..3).map(|_| db.conn().unwrap()).collect();
    for mut c in conns {
        let s: Setting = diesel::sql_query("SHOW statement_timeout")
            .get_result(&mut *c)
            .unwrap();
        assert_eq!(s.statement_timeout, "30s");
        // Cut, not waited for: shortened here so the test is quick.
        c.batch_execute("SET statement_timeout = 200").unwrap();
        let e = c.batch_execute("SELECT pg_sleep(5)").unwrap_err();
        assert!(e.to_string().contains("statement timeout"), "{e}");
    }
}
