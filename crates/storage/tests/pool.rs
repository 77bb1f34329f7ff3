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
