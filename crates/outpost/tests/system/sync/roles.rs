//! The cloud's services run with the least they need (issue 31): `outpost
//! cloud migrate`, as the database's owner, changes the schema and makes a
//! role for the api and one for the worker; those connect as their roles,
//! which may read and write the cloud's rows and nothing more.

use crate::support::app::{Backend, Store};
use crate::support::cloud::{Cloud, Rabbit, converged, edge, sell_n};
use diesel::{Connection, PgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct Flags {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    rolsuper: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    rolcreaterole: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    rolcreatedb: bool,
}

fn refused(c: &mut PgConnection, sql: &str) -> String {
    diesel::sql_query(sql)
        .execute(c)
        .err()
        .unwrap_or_else(|| panic!("{sql} was allowed"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cloud_runs_as_roles_without_the_superuser_and_each_has_only_its_rights() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let store_id = uuid::Uuid::now_v7().to_string();
    let credential = cloud.add_store(&store_id, "S01");
    let store = Store::new(Backend::Sqlite);
    let app = edge(&store, &cloud, &credential, &[]);
    let till = app.register("Till 1").await;
    sell_n(&app, &till, 5).await;
    converged(&app, &till.manager, &cloud, &store_id, 60).await;
    assert_eq!(cloud.count("SELECT count(*) AS n FROM orders"), 5);
    // An admin call through the api's role.
    let (st, _) = cloud.admin_get("/api/v1/stores", true).await;
    assert_eq!(st, 200);

    // The api and the worker are connected as their roles, and nothing else
    // is connected as the owner.
    let db = cloud.db_url.rsplit_once('/').unwrap().1.to_owned();
    let as_role = |role: &str| {
        cloud.count(&format!(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{db}' AND usename = '{db}_{role}'"
        ))
    };
    assert!(as_role("api") > 0, "the api connects as {db}_api");
    assert!(as_role("worker") > 0, "the worker connects as {db}_worker");
    assert_eq!(
        cloud.count(&format!(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{db}' \
             AND usename NOT IN ('{db}_api', '{db}_worker') AND pid <> pg_backend_pid()"
        )),
        0,
        "no service connects as the owner"
    );

    let (api_url, worker_url) = cloud.role_urls.clone().unwrap();
    for url in [&api_url, &worker_url] {
        let mut c = PgConnection::establish(url).unwrap();
        let f: Flags = diesel::sql_query(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user",
        )
        .get_result(&mut c)
        .unwrap();
        assert!(!f.rolsuper && !f.rolcreaterole && !f.rolcreatedb);
        // No schema changes, no migrations, no server files.
        for sql in [
            "CREATE TABLE sneaky (a int)",
            "DROP TABLE orders",
            "ALTER TABLE stores ADD COLUMN x int",
            "DELETE FROM __diesel_schema_migrations",
            "COPY orders TO '/tmp/orders.csv'",
        ] {
            let e = refused(&mut c, sql);
            assert!(
                e.contains("permission denied")
                    || e.contains("must be owner")
                    || e.contains("must be superuser"),
                "{sql}: {e}"
            );
        }
    }
    // The worker reads no admin account, session, token or audit, nor a
    // store's credentials, nor the master feed.
    let mut w = PgConnection::establish(&worker_url).unwrap();
    for table in [
        "admin_accounts",
        "admin_account_stores",
        "admin_sessions",
        "admin_api_tokens",
        "admin_audit",
        "store_credentials",
        "master_changes",
        "stores",
    ] {
        let e = refused(&mut w, &format!("SELECT count(*) FROM {table}"));
        assert!(e.contains("permission denied"), "{table}: {e}");
    }
    // The api cannot delete a store, an account or the audit.
    let mut a = PgConnection::establish(&api_url).unwrap();
    for sql in [
        "DELETE FROM stores",
        "DELETE FROM admin_accounts",
        "DELETE FROM admin_audit",
        "UPDATE admin_audit SET detail = ''",
    ] {
        let e = refused(&mut a, sql);
        assert!(e.contains("permission denied"), "{sql}: {e}");
    }
    // Every table of the schema is in one service's rights: a new table
    // must be given to the service that needs it.
    #[derive(diesel::QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
    }
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT table_name::text AS table_name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut cloud.pg())
    .unwrap();
    use outpost_cloud::db::Service;
    for t in tables {
        let given = [Service::Api, Service::Worker]
            .iter()
            .any(|s| s.rights().iter().any(|(name, _)| *name == t.table_name));
        assert!(
            given,
            "the table {} is in no service's rights",
            t.table_name
        );
    }
}
