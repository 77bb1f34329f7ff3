//! `outpost migrate`, run as the database's owner, makes the role the edge's
//! services connect as: it reads and writes every table, changes no schema
//! and reaches none of the server's files, and a service on it never
//! migrates (a schema that is not current stops it with what to run).

mod common;

use diesel::prelude::*;
use outpost_storage::Db;

const PASSWORD: &str = "edge-app-role-password-7f3k9q2m4x8w";

fn run(db: &Db, sql: &str) -> QueryResult<usize> {
    let mut c = db.conn().expect("a connection");
    diesel::sql_query(sql).execute(&mut **c)
}

#[test]
fn the_services_role_reads_and_writes_but_changes_no_schema() {
    let (url, name) = common::fresh_pg_database();
    let role = outpost_storage::db::migrate_as_owner(&url, PASSWORD).unwrap();
    assert_eq!(role, Some(format!("{name}_app")));
    // Again: the role exists and is brought back to the same rights.
    outpost_storage::db::migrate_as_owner(&url, PASSWORD).unwrap();
    let host = url.rsplit_once('@').unwrap().1;
    let app_url = format!("postgres://{name}_app:{PASSWORD}@{host}");

    // The demo store seeded through the role: every write the first start
    // makes, and a stock movement.
    let store = common::seeded(Db::open(&app_url, 2).unwrap(), None);
    let mut c = store.db.conn().unwrap();
    common::receive(&store.node, &mut c).unwrap();
    drop(c);
    for sql in [
        "CREATE TABLE intruder (x int)",
        "DROP TABLE orders",
        "ALTER TABLE orders ADD COLUMN x int",
        "TRUNCATE orders",
        "COPY orders TO '/tmp/outpost-orders.csv'",
        "DELETE FROM __diesel_schema_migrations",
        "CREATE ROLE intruder",
    ] {
        let e = run(&store.db, sql).expect_err(sql).to_string();
        assert!(
            e.contains("permission denied") || e.contains("must be"),
            "{sql}: {e}"
        );
    }

    // A bad password for the role is refused before anything is made.
    let e = outpost_storage::db::migrate_as_owner(&url, "it's").unwrap_err();
    assert!(e.to_string().contains("quote"), "{e}");

    // A migration the schema lacks: the role does not try it, and says so.
    run(
        &Db::open(&url, 2).unwrap(),
        "DELETE FROM __diesel_schema_migrations WHERE version = \
         (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .unwrap();
    let e = Db::open(&app_url, 2).expect_err("a schema that is not current");
    assert!(e.to_string().contains("outpost migrate"), "{e}");
}
