//! The SQLite edge's feed of committed events: collected by the writer that
//! committed them (SQLite has one writer at a time, and each takes its
//! positions itself), in commit order.
//!
//! The realtime publisher reads new events here instead of querying the
//! outbox after every sale: one hop to the blocking pool fewer between a
//! sale's commit and the kitchen screen. A consumer relies on it only where a
//! channel's positions run on exactly from where it is; a gap (another
//! process wrote, the feed overflowed) sends it to the outbox. Reading what
//! committed (rather than what a write meant to write) cannot hand on an
//! event a rolled-back savepoint took back.

use crate::db::{AfterWrite, AnyConnection, Backend, Db};
use crate::error::{Result, StorageError};
use crate::outbox::{self, StoredEvent};
use std::sync::{Arc, Mutex, MutexGuard};

/// Events the feed holds at most; a consumer that fell this far behind reads
/// the outbox instead.
const CAP: usize = 10_000;

#[derive(Debug)]
pub struct Feed(Mutex<State>);

#[derive(Debug)]
struct State {
    /// The last `seq` read into the feed.
    after_seq: i64,
    events: Vec<StoredEvent>,
}

impl Feed {
    /// Starts collecting `db`'s committed events from now on. `None` on
    /// PostgreSQL, where the relay positions events after commit. One feed
    /// per database.
    pub fn start(db: &Db) -> Result<Option<Arc<Feed>>> {
        if db.backend() != Backend::Sqlite {
            return Ok(None);
        }
        db.in_writers_turn(|| {
            let last = crate::relay::start_seq(&mut *db.conn()?)?;
            let feed = Arc::new(Feed(Mutex::new(State {
                after_seq: last,
                events: Vec::new(),
            })));
            if !db.after_write(feed.clone()) {
                return Err(StorageError::Conflict(
                    "this database's writes are fed to a consumer already".into(),
                ));
            }
            Ok(Some(feed))
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The events committed since the last call, in commit order.
    pub fn take(&self) -> Vec<StoredEvent> {
        std::mem::take(&mut self.state().events)
    }

    /// Whether every event up to `seq` went through the feed (so its
    /// consumer was already told of it).
    pub fn fed_through(&self, seq: i64) -> bool {
        self.state().after_seq >= seq
    }
}

impl AfterWrite for Feed {
    fn written(&self, conn: &mut AnyConnection) {
        let after = self.state().after_seq;
        if let Ok(new) = outbox::read_after_seq(conn, after, CAP as i64)
            && let Some(last) = new.last().map(|e| e.seq)
        {
            let mut feed = self.state();
            feed.after_seq = last;
            if feed.events.len() + new.len() > CAP {
                // Nobody is taking them: drop them (the consumer sees the gap).
                feed.events.clear();
            }
            feed.events.extend(new);
        }
    }
}
