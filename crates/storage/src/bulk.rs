//! New rows for several tables written at once. On PostgreSQL that is one
//! statement whatever the number of rows: each table's columns go as arrays,
//! `unnest`ed by a data-modifying CTE, so a sale costs one round trip for its
//! order, lines, payments, stock movements, ticket, events and idempotency
//! answer (a round trip, not the work, was what a sale's dozen statements
//! cost). On SQLite, in-process, one multi-row INSERT per table.
//!
//! Column names are written into the SQL and must be literals from this crate,
//! never input; values always travel as bind parameters.

use crate::db::AnyConnection;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, BoxedSqlQuery, QueryFragment, QueryId, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

/// One column's values, one per row.
#[derive(Debug, Clone)]
pub enum Col {
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
    Int(Vec<i32>),
    Big(Vec<i64>),
    OptBig(Vec<Option<i64>>),
    Bool(Vec<bool>),
}

impl Col {
    /// A text column from one field of each row.
    pub fn text<T>(rows: &[T], f: impl Fn(&T) -> &str) -> Col {
        Col::Text(rows.iter().map(|r| f(r).to_owned()).collect())
    }

    /// A bigint column from one field of each row.
    pub fn big<T>(rows: &[T], f: impl Fn(&T) -> i64) -> Col {
        Col::Big(rows.iter().map(f).collect())
    }

    /// Another batch of rows for this column.
    fn append(&mut self, other: Col) {
        match (self, other) {
            (Col::Text(a), Col::Text(b)) => a.extend(b),
            (Col::OptText(a), Col::OptText(b)) => a.extend(b),
            (Col::Int(a), Col::Int(b)) => a.extend(b),
            (Col::Big(a), Col::Big(b)) => a.extend(b),
            (Col::OptBig(a), Col::OptBig(b)) => a.extend(b),
            (Col::Bool(a), Col::Bool(b)) => a.extend(b),
            _ => panic!("appending a column of another type"),
        }
    }

    fn len(&self) -> usize {
        match self {
            Col::Text(v) => v.len(),
            Col::OptText(v) => v.len(),
            Col::Int(v) => v.len(),
            Col::Big(v) => v.len(),
            Col::OptBig(v) => v.len(),
            Col::Bool(v) => v.len(),
        }
    }

    /// The column as one array parameter, cast so PostgreSQL knows its type.
    fn push_pg<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        match self {
            Col::Text(v) => out.push_bind_param::<Array<Text>, _>(v)?,
            Col::OptText(v) => out.push_bind_param::<Array<Nullable<Text>>, _>(v)?,
            Col::Int(v) => out.push_bind_param::<Array<Integer>, _>(v)?,
            Col::Big(v) => out.push_bind_param::<Array<BigInt>, _>(v)?,
            Col::OptBig(v) => out.push_bind_param::<Array<Nullable<BigInt>>, _>(v)?,
            Col::Bool(v) => out.push_bind_param::<Array<Bool>, _>(v)?,
        }
        out.push_sql(match self {
            Col::Text(_) | Col::OptText(_) => "::text[]",
            Col::Int(_) => "::int4[]",
            Col::Big(_) | Col::OptBig(_) => "::int8[]",
            Col::Bool(_) => "::bool[]",
        });
        Ok(())
    }

    fn bind_sqlite<'f>(
        &'f self,
        i: usize,
        q: BoxedSqlQuery<'f, Sqlite, SqlQuery>,
    ) -> BoxedSqlQuery<'f, Sqlite, SqlQuery> {
        match self {
            Col::Text(v) => q.bind::<Text, _>(v[i].as_str()),
            Col::OptText(v) => q.bind::<Nullable<Text>, _>(v[i].as_deref()),
            Col::Int(v) => q.bind::<Integer, _>(v[i]),
            Col::Big(v) => q.bind::<BigInt, _>(v[i]),
            Col::OptBig(v) => q.bind::<Nullable<BigInt>, _>(v[i]),
            Col::Bool(v) => q.bind::<Bool, _>(v[i]),
        }
    }
}

/// One table's new rows, column by column.
#[derive(Debug, Clone)]
pub struct Table {
    name: &'static str,
    cols: Vec<(&'static str, Col)>,
}

impl Table {
    /// Every column must have the same number of rows.
    pub fn new(name: &'static str, cols: Vec<(&'static str, Col)>) -> Table {
        let rows = cols.first().map_or(0, |(_, c)| c.len());
        assert!(
            cols.iter().all(|(_, c)| c.len() == rows),
            "{name}: columns of different lengths"
        );
        Table { name, cols }
    }

    fn rows(&self) -> usize {
        self.cols.first().map_or(0, |(_, c)| c.len())
    }

    fn column_list(&self) -> String {
        self.cols
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Several writes' tables as one write: the rows for one table together,
/// tables in the order they first appear (so parents still come first).
pub fn merge(writes: Vec<Vec<Table>>) -> Vec<Table> {
    let mut out: Vec<Table> = Vec::new();
    for t in writes.into_iter().flatten() {
        match out.iter_mut().find(|o| o.name == t.name) {
            Some(o) => {
                assert!(
                    o.cols
                        .iter()
                        .map(|(n, _)| n)
                        .eq(t.cols.iter().map(|(n, _)| n)),
                    "{}: merging different columns",
                    t.name
                );
                for ((_, a), (_, b)) in o.cols.iter_mut().zip(t.cols) {
                    a.append(b);
                }
            }
            None => out.push(t),
        }
    }
    out
}

/// SQLite's limit on bind parameters per statement (32,766 since 3.32).
const SQLITE_MAX_BINDS: usize = 32_766;

/// Writes every table's rows, in the order given (parents before children:
/// PostgreSQL checks foreign keys at the end of the one statement, SQLite
/// after each INSERT). Tables without rows are left out.
pub fn write(conn: &mut AnyConnection, tables: Vec<Table>) -> QueryResult<()> {
    let tables: Vec<Table> = tables.into_iter().filter(|t| t.rows() > 0).collect();
    if tables.is_empty() {
        return Ok(());
    }
    match conn {
        AnyConnection::Postgresql(c) => {
            PgBulk(tables).execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            for t in &tables {
                let per_row = t.cols.len();
                let chunk = (SQLITE_MAX_BINDS / per_row).max(1);
                let mut start = 0;
                while start < t.rows() {
                    let end = (start + chunk).min(t.rows());
                    let row = format!("({})", vec!["?"; per_row].join(", "));
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES {}",
                        t.name,
                        t.column_list(),
                        vec![row.as_str(); end - start].join(", ")
                    );
                    let mut q = diesel::sql_query("").into_boxed::<Sqlite>().sql(sql);
                    for i in start..end {
                        for (_, col) in &t.cols {
                            q = col.bind_sqlite(i, q);
                        }
                    }
                    q.execute(c)?;
                    start = end;
                }
            }
        }
    }
    Ok(())
}

/// `WITH w0 AS (INSERT … SELECT * FROM unnest($1::text[], …)), … INSERT …`.
///
/// A query fragment of its own rather than `sql_query`, which diesel never
/// prepares: this one is prepared once per connection and shape (its SQL text
/// is the cache key; a sale has a handful of shapes), and planning the CTE on
/// every sale halved its throughput in a pgbench run of the same statement.
struct PgBulk(Vec<Table>);

impl QueryId for PgBulk {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for PgBulk {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let last = self.0.len().saturating_sub(1);
        for (i, t) in self.0.iter().enumerate() {
            if i < last {
                out.push_sql(if i == 0 { "WITH " } else { ", " });
                out.push_sql(&format!("w{i} AS ("));
            }
            out.push_sql(&format!(
                "INSERT INTO {} ({}) SELECT * FROM unnest(",
                t.name,
                t.column_list()
            ));
            for (j, (_, c)) in t.cols.iter().enumerate() {
                if j > 0 {
                    out.push_sql(", ");
                }
                c.push_pg(&mut out)?;
            }
            out.push_sql(")");
            if i < last {
                out.push_sql(")");
                if i + 1 == last {
                    out.push_sql(" ");
                }
            }
        }
        Ok(())
    }
}

impl RunQueryDsl<diesel::PgConnection> for PgBulk {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_inserts_each_table_from_its_arrays() {
        let t = |name| {
            Table::new(
                name,
                vec![
                    ("a", Col::Text(vec!["x".into(), "y".into()])),
                    ("b", Col::Big(vec![1, 2])),
                ],
            )
        };
        let q = PgBulk(vec![t("p"), t("c")]);
        let sql = diesel::debug_query::<Pg, _>(&q).to_string();
        assert!(
            sql.starts_with(
                "WITH w0 AS (INSERT INTO p (a, b) SELECT * FROM unnest($1::text[], $2::int8[])) \
                 INSERT INTO c (a, b) SELECT * FROM unnest($3::text[], $4::int8[]) -- binds: "
            ),
            "{sql}"
        );
        let one = diesel::debug_query::<Pg, _>(&PgBulk(vec![t("p")])).to_string();
        assert!(
            one.starts_with("INSERT INTO p (a, b) SELECT * FROM unnest($1::text[], $2::int8[]) --"),
            "{one}"
        );
    }

    #[test]
    fn merged_writes_put_each_tables_rows_together_parents_first() {
        let t = |name, ids: &[&str]| {
            Table::new(
                name,
                vec![("id", Col::Text(ids.iter().map(|s| s.to_string()).collect()))],
            )
        };
        let merged = merge(vec![
            vec![t("p", &["a"]), t("c", &["a1", "a2"])],
            vec![t("p", &["b"]), t("k", &["bk"]), t("c", &["b1"])],
        ]);
        let got: Vec<(&str, Vec<String>)> = merged
            .iter()
            .map(|t| match &t.cols[0].1 {
                Col::Text(v) => (t.name, v.clone()),
                _ => unreachable!(),
            })
            .collect();
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                ("p", want(&["a", "b"])),
                ("c", want(&["a1", "a2", "b1"])),
                ("k", want(&["bk"])),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "columns of different lengths")]
    fn ragged_columns_are_a_bug() {
        Table::new(
            "t",
            vec![("a", Col::Int(vec![1])), ("b", Col::Bool(vec![]))],
        );
    }
}
