//! How far an in-process consumer of the event log got (the api's receipt
//! printing), so it resumes there after a restart.

use crate::db::AnyConnection;
use crate::error::Result;
use crate::schema::consumer_cursors;
use diesel::prelude::*;

/// The consumer's position, or `None` before its first run.
pub fn get(conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
    Ok(consumer_cursors::table
        .find(name)
        .select(consumer_cursors::position)
        .first(conn)
        .optional()?)
}

/// Records the position (one consumer per name: no concurrent writer).
pub fn set(conn: &mut AnyConnection, name: &str, position: i64) -> Result<()> {
    let n = diesel::update(consumer_cursors::table.find(name))
        .set(consumer_cursors::position.eq(position))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(consumer_cursors::table)
            .values((
                consumer_cursors::name.eq(name),
                consumer_cursors::position.eq(position),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The last position of a stream (0 when it is empty).
pub fn head(conn: &mut AnyConnection, stream: &str) -> Result<i64> {
    let p: Option<i64> = crate::schema::stream_heads::table
        .find(stream)
        .select(crate::schema::stream_heads::position)
        .first(conn)
        .optional()?;
    Ok(p.unwrap_or(0))
}
