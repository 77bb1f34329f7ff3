//! The edge's connection pool hands out connections without a ping when they
//! were in use a moment ago, so it must still never keep handing out one whose
//! server side is gone.

mod common;

use diesel::prelude::*;
use outpost_storage::Db;
use std::time::Duration;

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

fn pid(db: &Db) -> QueryResult<i32> {
    let mut c = db.conn().expect("a connection");
    let p: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(&mut **c)?;
    Ok(p.pid)
}

#[test]
fn a_connection_whose_server_went_away_is_never_handed_out_twice() {
    let (url, name) = common::fresh_pg_database();
    let db = Db::open(&url, 2).unwrap();
    let admin = std::env::var("OUTPOST_TEST_PG").unwrap();
    let mut root = PgConnection::establish(&format!("{admin}/postgres")).unwrap();
    let kill_all = |root: &mut PgConnection| {
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .execute(root)
        .unwrap();
    };

    // Just used, then killed: the next use may fail once (no ping for a
    // connection handed back under a second ago), and that connection is
    // dropped as it is handed back, so the pool heals at once.
    pid(&db).unwrap();
    kill_all(&mut root);
    let tries: Vec<bool> = (0..4).map(|_| pid(&db).is_ok()).collect();
    assert!(
        tries.iter().filter(|ok| !**ok).count() <= 2 && tries[2] && tries[3],
        "{tries:?}"
    );

    // Idle for over a second, then killed: checked before it is handed out,
    // so nothing fails.
    std::thread::sleep(Duration::from_millis(1200));
    kill_all(&mut root);
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..4 {
        pid(&db).expect("a live connection after the server ended the idle ones");
    }
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    statement_timeout: String,
}

fn timeout_of(c: &mut outpost_storage::AnyConnection) -> String {
    diesel::sql_query("SHOW statement_timeout")
        .get_result::<Setting>(c)
        .unwrap()
        .statement_timeout
}

/// Each statement on the edge's PostgreSQL gives up after 30 s instead of
/// holding its connection (and a sale) for good; a URL that sets its own
/// timeout keeps it.
#[test]
fn every_pooled_connection_has_a_statement_timeout_and_a_stuck_statement_is_cut() {
    let (url, _) = common::fresh_pg_database();
    let db = Db::open(&url, 3).unwrap();
    // Every connection the pool hands out, the one that migrated too.
    let conns: Vec<_> = (0..3).map(|_| db.conn().unwrap()).collect();
    for mut c in conns {
        assert_eq!(timeout_of(&mut c), "30s");
        // Cut, not waited for: shortened here so the test is quick.
        diesel::sql_query("SET statement_timeout = 200")
            .execute(&mut **c)
            .unwrap();
        let e = diesel::sql_query("SELECT pg_sleep(5)")
            .execute(&mut **c)
            .unwrap_err();
        assert!(e.to_string().contains("statement timeout"), "{e}");
    }
    let own = Db::open(&format!("{url}?options=-c%20statement_timeout%3D5s"), 2).unwrap();
    assert_eq!(timeout_of(&mut own.conn().unwrap()), "5s");
}
