//! hw-proxy's persistent print queue: one SQLite file, jobs in arrival order
//! per printer, each moving queued → sending → printed, or to uncertain,
//! held, expired or cancelled.
//!
//! The one promise that shapes it: a job is written to the printer at most
//! once by itself. A job is marked `sending` (and that is fsynced) before its
//! first byte leaves; a process that dies while sending leaves it `sending`,
//! and the next open turns every such job into `uncertain`, which only a
//! person can reprint.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use sha2::{Digest, Sha256};
use std::sync::Mutex;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Why the queue did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the job as it is (409).
    #[error("{0}")]
    Conflict(String),
    /// Never done for a job of this kind (422).
    #[error("{0}")]
    Refused(String),
    #[error("the print queue cannot be opened: {0}")]
    Open(String),
    #[error("print queue error")]
    Db(#[from] diesel::result::Error),
    #[error("print queue connection error")]
    Connection(#[from] diesel::ConnectionError),
}

impl QueueError {
    fn not_found(what: impl Into<String>) -> QueueError {
        QueueError::NotFound(what.into())
    }
}

pub type Result<T, E = QueueError> = std::result::Result<T, E>;

diesel::table! {
    print_jobs (seq) {
        seq -> BigInt,
        id -> Text,
        printer -> Text,
        kind -> Text,
        request_sha256 -> Text,
        payload -> Binary,
        preview -> Text,
        state -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        asked -> Bool,
        reprint_of -> Nullable<Text>,
        fallback -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    managed_printers (id) {
        id -> Text,
        config -> Text,
        logo_png -> Binary,
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting its turn on its printer.
    Queued,
    /// Bytes are (or were, if the process died) on their way to the printer.
    Sending,
    /// Every byte was written and the printer reported no fault afterwards.
    Printed,
    /// Sending was interrupted, or the printer faulted during the job: it may
    /// have printed in part or in full. Never retried by itself.
    Uncertain,
    /// A receipt older than the configured age: printed only if a person asks.
    Held,
    /// A drawer kick that could not fire in time: a drawer opening minutes
    /// after the sale is a risk, not a service.
    Expired,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Sending => "sending",
            JobState::Printed => "printed",
            JobState::Uncertain => "uncertain",
            JobState::Held => "held",
            JobState::Expired => "expired",
            JobState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "sending" => JobState::Sending,
            "printed" => JobState::Printed,
            "uncertain" => JobState::Uncertain,
            "held" => JobState::Held,
            "expired" => JobState::Expired,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
}

/// A job as submitted: its bytes are already encoded for the printer.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The caller's idempotency id.
    pub id: String,
    pub printer: String,
    pub kind: String,
    /// Digest of the caller's request, to tell a retry from a reused id.
    pub request: Vec<u8>,
    pub payload: Vec<u8>,
    pub preview: String,
    /// Where a kitchen ticket may go when its printer is away.
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, Queryable, Selectable)]
#[diesel(table_name = print_jobs)]
pub struct Job {
    pub seq: i64,
    pub id: String,
    pub printer: String,
    pub kind: String,
    #[serde(skip)]
    pub request_sha256: String,
    pub preview: String,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub asked: bool,
    pub reprint_of: Option<String>,
    pub fallback: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Job {
    pub fn state(&self) -> JobState {
        JobState::parse(&self.state).unwrap_or(JobState::Uncertain)
    }
}

/// How a submission went.
#[derive(Debug)]
pub enum Submitted {
    New(Job),
    /// The same id with the same request: the job as it is now.
    Again(Job),
}

/// The queue. One connection behind a mutex: hw-proxy's writes are a few per
/// printed job, and one writer is all SQLite has anyway.
pub struct PrintQueue {
    conn: Mutex<SqliteConnection>,
}

impl std::fmt::Debug for PrintQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintQueue").finish_non_exhaustive()
    }
}

/// Counts per printer and state, for pages and metrics.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Counts {
    pub queued: i64,
    pub uncertain: i64,
    pub held: i64,
}

impl PrintQueue {
    /// Opens (creating) the queue file, and turns every job a previous
    /// process left `sending` into `uncertain`. Returns those jobs' ids.
    pub fn open(path: &std::path::Path) -> Result<(PrintQueue, Vec<String>)> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| QueueError::Open(format!("create {dir:?}: {e}")))?;
        }
        let mut c = SqliteConnection::establish(&path.to_string_lossy())?;
        // FULL: a job reported queued, or marked sending, survives a power cut.
        c.batch_execute(
            "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
        )?;
        c.run_pending_migrations(MIGRATIONS)
            .map_err(|e| QueueError::Open(e.to_string()))?;
        let interrupted: Vec<String> = print_jobs::table
            .filter(print_jobs::state.eq(JobState::Sending.as_str()))
            .select(print_jobs::id)
            .load(&mut c)?;
        diesel::update(print_jobs::table.filter(print_jobs::state.eq(JobState::Sending.as_str())))
            .set((
                print_jobs::state.eq(JobState::Uncertain.as_str()),
                print_jobs::last_error.eq(
                    "hw-proxy stopped while sending: it may have printed; reprint if it did not",
                ),
            ))
            .execute(&mut c)?;
        Ok((
            PrintQueue {
                conn: Mutex::new(c),
            },
            interrupted,
        ))
    }

    fn with<T>(&self, f: impl FnOnce(&mut SqliteConnection) -> Result<T>) -> Result<T> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c)
    }

    /// Queues a job once per id. The same id with a different request is a
    /// conflict; with the same request it returns the job as it is.
    pub fn submit(&self, job: &NewJob, now: i64) -> Result<Submitted> {
        let digest = hex::encode(Sha256::digest(&job.request));
        self.with(|c| {
            c.immediate_transaction(|c| {
                if let Some(existing) = find(c, &job.id)? {
                    return if existing.request_sha256 == digest {
                        Ok(Submitted::Again(existing))
                    } else {
                        Err(QueueError::Conflict(format!(
                            "job {} was already submitted with a different body",
                            job.id
                        )))
                    };
                }
                diesel::insert_into(print_jobs::table)
                    .values((
                        print_jobs::id.eq(&job.id),
                        print_jobs::printer.eq(&job.printer),
                        print_jobs::kind.eq(&job.kind),
                        print_jobs::request_sha256.eq(&digest),
                        print_jobs::payload.eq(&job.payload),
                        print_jobs::preview.eq(&job.preview),
                        print_jobs::state.eq(JobState::Queued.as_str()),
                        print_jobs::fallback.eq(&job.fallback),
                        print_jobs::created_at.eq(now),
                        print_jobs::updated_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(Submitted::New(
                    find(c, &job.id)?.ok_or_else(|| QueueError::not_found("job"))?,
                ))
            })
        })
    }

    /// The oldest queued job of a printer, with its bytes.
    pub fn head(&self, printer: &str) -> Result<Option<(Job, Vec<u8>)>> {
        self.with(|c| {
            let job: Option<Job> = print_jobs::table
                .filter(print_jobs::printer.eq(printer))
                .filter(print_jobs::state.eq(JobState::Queued.as_str()))
                .order(print_jobs::seq)
                .select(Job::as_select())
                .first(c)
                .optional()?;
            let Some(job) = job else { return Ok(None) };
            let payload: Vec<u8> = print_jobs::table
                .find(job.seq)
                .select(print_jobs::payload)
                .first(c)?;
            Ok(Some((job, payload)))
        })
    }

    /// Moves a job from one state to another; `false` when it was no longer
    /// in `from` (a person cancelled it meanwhile).
    pub fn transition(
        &self,
        id: &str,
        from: JobState,
        to: JobState,
        error: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        self.with(|c| {
            let attempts = if to == JobState::Sending { 1 } else { 0 };
            let n = diesel::update(
                print_jobs::table
                    .filter(print_jobs::id.eq(id))
                    .filter(print_jobs::state.eq(from.as_str())),
            )
            .set((
                print_jobs::state.eq(to.as_str()),
                print_jobs::attempts.eq(print_jobs::attempts + attempts),
                print_jobs::last_error.eq(error),
                print_jobs::updated_at.eq(now),
            ))
            .execute(c)?;
            Ok(n == 1)
        })
    }

    /// Notes why the head job is waiting, without changing its state.
    pub fn note(&self, id: &str, error: &str, now: i64) -> Result<()> {
        self.with(|c| {
            diesel::update(print_jobs::table.filter(print_jobs::id.eq(id)))
                .set((
                    print_jobs::last_error.eq(error),
                    print_jobs::updated_at.eq(now),
                ))
                .execute(c)?;
            Ok(())
        })
    }

    /// Moves a queued job to another printer (a kitchen ticket to its fallback).
    pub fn reroute(&self, id: &str, printer: &str, now: i64) -> Result<bool> {
        self.with(|c| {
            let n = diesel::update(
                print_jobs::table
                    .filter(print_jobs::id.eq(id))
                    .filter(print_jobs::state.eq(JobState::Queued.as_str())),
            )
            .set((
                print_jobs::printer.eq(printer),
                print_jobs::fallback.eq(None::<String>),
                print_jobs::updated_at.eq(now),
            ))
            .execute(c)?;
            Ok(n == 1)
        })
    }

    pub fn get(&self, id: &str) -> Result<Option<Job>> {
        self.with(|c| find(c, id))
    }

    /// Jobs, newest first, optionally of one printer and one state.
    pub fn list(
        &self,
        printer: Option<&str>,
        state: Option<JobState>,
        limit: i64,
    ) -> Result<Vec<Job>> {
        self.with(|c| {
            let mut q = print_jobs::table.select(Job::as_select()).into_boxed();
            if let Some(p) = printer {
                q = q.filter(print_jobs::printer.eq(p.to_owned()));
            }
            if let Some(s) = state {
                q = q.filter(print_jobs::state.eq(s.as_str()));
            }
            Ok(q.order(print_jobs::seq.desc()).limit(limit).load(c)?)
        })
    }

    /// Jobs waiting for their printer or for a person, per printer.
    pub fn counts(&self, printer: &str) -> Result<Counts> {
        self.with(|c| {
            let rows: Vec<(String, i64)> = print_jobs::table
                .filter(print_jobs::printer.eq(printer))
                .filter(print_jobs::state.eq_any(["queued", "sending", "uncertain", "held"]))
                .group_by(print_jobs::state)
                .select((print_jobs::state, diesel::dsl::count_star()))
                .load(c)?;
            let mut out = Counts::default();
            for (s, n) in rows {
                match s.as_str() {
                    "queued" | "sending" => out.queued += n,
                    "uncertain" => out.uncertain += n,
                    "held" => out.held += n,
                    _ => {}
                }
            }
            Ok(out)
        })
    }

    /// A person asks to print a job again: a new job with the same bytes at
    /// the back of the queue, exempt from the age limit. Works on any job
    /// whose printing is over or in doubt; `new_id` makes the request
    /// idempotent.
    pub fn reprint(&self, id: &str, new_id: &str, now: i64) -> Result<Job> {
        self.with(|c| {
            c.immediate_transaction(|c| {
                if let Some(done) = find(c, new_id)? {
                    return if done.reprint_of.as_deref() == Some(id) {
                        Ok(done)
                    } else {
                        Err(QueueError::Conflict(format!(
                            "job id {new_id} is already used"
                        )))
                    };
                }
                let (original, payload): (Job, Vec<u8>) = print_jobs::table
                    .filter(print_jobs::id.eq(id))
                    .select((Job::as_select(), print_jobs::payload))
                    .first(c)
                    .optional()?
                    .ok_or_else(|| QueueError::not_found(format!("job {id}")))?;
                if matches!(original.state(), JobState::Queued | JobState::Sending) {
                    return Err(QueueError::Conflict(format!(
                        "job {id} is still {}: it will print without being asked",
                        original.state
                    )));
                }
                if original.kind == "drawer" {
                    return Err(QueueError::Refused(
                        "a drawer kick is not reprinted: open the drawer from the register".into(),
                    ));
                }
                // Printed again, a cash sale's receipt does not open the
                // drawer again: that is a no-sale, its own audited action.
                let payload = outpost_receipt::without_drawer(&payload);
                diesel::insert_into(print_jobs::table)
                    .values((
                        print_jobs::id.eq(new_id),
                        print_jobs::printer.eq(&original.printer),
                        print_jobs::kind.eq(&original.kind),
                        print_jobs::request_sha256.eq(&original.request_sha256),
                        print_jobs::payload.eq(&payload),
                        print_jobs::preview.eq(&original.preview),
                        print_jobs::state.eq(JobState::Queued.as_str()),
                        print_jobs::asked.eq(true),
                        print_jobs::reprint_of.eq(id),
                        print_jobs::created_at.eq(now),
                        print_jobs::updated_at.eq(now),
                    ))
                    .execute(c)?;
                // The doubt is resolved by the person's choice.
                if matches!(original.state(), JobState::Uncertain | JobState::Held) {
                    diesel::update(print_jobs::table.filter(print_jobs::id.eq(id)))
                        .set((
                            print_jobs::state.eq(JobState::Cancelled.as_str()),
                            print_jobs::last_error.eq(format!("replaced by reprint {new_id}")),
                            print_jobs::updated_at.eq(now),
                        ))
                        .execute(c)?;
                }
                find(c, new_id)?.ok_or_else(|| QueueError::not_found("job"))
            })
        })
    }

    /// Cancels a job that has not printed: queued, held or uncertain.
    pub fn cancel(&self, id: &str, now: i64) -> Result<Job> {
        self.with(|c| {
            c.immediate_transaction(|c| {
                let job = find(c, id)?.ok_or_else(|| QueueError::not_found(format!("job {id}")))?;
                match job.state() {
                    JobState::Queued | JobState::Held | JobState::Uncertain => {}
                    JobState::Cancelled => return Ok(job),
                    other => {
                        return Err(QueueError::Conflict(format!(
                            "job {id} is {}: nothing to cancel",
                            other.as_str()
                        )));
                    }
                }
                diesel::update(print_jobs::table.filter(print_jobs::id.eq(id)))
                    .set((
                        print_jobs::state.eq(JobState::Cancelled.as_str()),
                        print_jobs::updated_at.eq(now),
                    ))
                    .execute(c)?;
                find(c, id)?.ok_or_else(|| QueueError::not_found("job"))
            })
        })
    }

    /// The printers the edge configured: (settings as JSON, logo PNG).
    pub fn managed_printers(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.with(|c| {
            Ok(managed_printers::table
                .order(managed_printers::id)
                .select((managed_printers::config, managed_printers::logo_png))
                .load(c)?)
        })
    }

    /// Replaces the edge's printers with these (id, settings JSON, logo PNG).
    pub fn set_managed_printers(&self, rows: &[(String, String, Vec<u8>)]) -> Result<()> {
        self.with(|c| {
            c.immediate_transaction(|c| {
                diesel::delete(managed_printers::table).execute(c)?;
                for (id, config, logo) in rows {
                    diesel::insert_into(managed_printers::table)
                        .values((
                            managed_printers::id.eq(id),
                            managed_printers::config.eq(config),
                            managed_printers::logo_png.eq(logo),
                        ))
                        .execute(c)?;
                }
                Ok(())
            })
        })
    }

    /// The bytes of a job, for previews and tests.
    pub fn payload(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.with(|c| {
            Ok(print_jobs::table
                .filter(print_jobs::id.eq(id))
                .select(print_jobs::payload)
                .first(c)
                .optional()?)
        })
    }
}

fn find(c: &mut SqliteConnection, id: &str) -> Result<Option<Job>> {
    Ok(print_jobs::table
        .filter(print_jobs::id.eq(id))
        .select(Job::as_select())
        .first(c)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, printer: &str) -> NewJob {
        NewJob {
            id: id.into(),
            printer: printer.into(),
            kind: "receipt".into(),
            request: id.as_bytes().to_vec(),
            payload: vec![0x1b, 0x40, b'h', b'i'],
            preview: "hi".into(),
            fallback: None,
        }
    }

    #[test]
    fn a_job_left_sending_by_a_dead_process_is_uncertain_and_never_queued_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        {
            let (q, _) = PrintQueue::open(&path).unwrap();
            q.submit(&job("a", "p1"), 1).unwrap();
            q.submit(&job("b", "p1"), 2).unwrap();
            let (head, _) = q.head("p1").unwrap().unwrap();
            assert_eq!(head.id, "a");
            assert!(
                q.transition("a", JobState::Queued, JobState::Sending, None, 3)
                    .unwrap()
            );
        }
        let (q, interrupted) = PrintQueue::open(&path).unwrap();
        assert_eq!(interrupted, vec!["a".to_owned()]);
        assert_eq!(q.get("a").unwrap().unwrap().state(), JobState::Uncertain);
        assert_eq!(q.head("p1").unwrap().unwrap().0.id, "b");
        // A person reprints it: a new job at the back, the doubt closed.
        let again = q.reprint("a", "a-2", 4).unwrap();
        assert!(again.asked);
        assert_eq!(q.get("a").unwrap().unwrap().state(), JobState::Cancelled);
        assert_eq!(q.reprint("a", "a-2", 5).unwrap().seq, again.seq);
    }

    #[test]
    fn a_cash_receipt_printed_again_does_not_open_the_drawer_again() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = PrintQueue::open(&dir.path().join("q.sqlite")).unwrap();
        let kicked = outpost_receipt::document::receipt(
            &sample_receipt(),
            &outpost_receipt::Profile::default(),
            true,
        )
        .unwrap()
        .bytes;
        let mut cash = job("cash", "p1");
        cash.payload = kicked.clone();
        q.submit(&cash, 1).unwrap();
        q.transition("cash", JobState::Queued, JobState::Sending, None, 2)
            .unwrap();
        q.transition("cash", JobState::Sending, JobState::Printed, None, 3)
            .unwrap();
        q.reprint("cash", "cash-2", 4).unwrap();
        let kicks = |id: &str| {
            outpost_receipt::render::render(&q.payload(id).unwrap().unwrap()).drawer_kicks
        };
        assert_eq!(kicks("cash"), 2, "the sale's receipt opened it");
        assert_eq!(kicks("cash-2"), 0, "the copy does not");
    }

    fn sample_receipt() -> outpost_receipt::Receipt {
        serde_json::from_value(serde_json::json!({
            "store": "Test", "order_number": "S01-R1-000001", "order_id": "o1",
            "time": "2026-12-06 10:00", "taxes": [], "total": "1.00",
            "lines": [{"name": "Milk", "quantity": "1", "amount": "1.00"}],
            "payments": [{"label": "Cash", "amount": "1.00"}], "footer": []
        }))
        .unwrap()
    }

    #[test]
    fn the_edges_printers_outlive_a_restart_and_a_new_set_replaces_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite");
        {
            let (q, _) = PrintQueue::open(&path).unwrap();
            q.set_managed_printers(&[
                ("a".into(), "{\"id\":\"a\"}".into(), vec![1, 2]),
                ("b".into(), "{\"id\":\"b\"}".into(), vec![]),
            ])
            .unwrap();
        }
        let (q, _) = PrintQueue::open(&path).unwrap();
        assert_eq!(
            q.managed_printers().unwrap(),
            [
                ("{\"id\":\"a\"}".to_owned(), vec![1, 2]),
                ("{\"id\":\"b\"}".to_owned(), vec![])
            ]
        );
        q.set_managed_printers(&[("b".into(), "{\"id\":\"b\",\"width\":32}".into(), vec![])])
            .unwrap();
        assert_eq!(
            q.managed_printers().unwrap(),
            [("{\"id\":\"b\",\"width\":32}".to_owned(), vec![])]
        );
    }

    #[test]
    fn the_same_id_is_one_job_and_a_different_body_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = PrintQueue::open(&dir.path().join("q.sqlite")).unwrap();
        assert!(matches!(
            q.submit(&job("a", "p1"), 1).unwrap(),
            Submitted::New(_)
        ));
        assert!(matches!(
            q.submit(&job("a", "p1"), 2).unwrap(),
            Submitted::Again(_)
        ));
        let mut other = job("a", "p1");
        other.request = b"something else".to_vec();
        assert!(matches!(q.submit(&other, 3), Err(QueueError::Conflict(_))));
        assert_eq!(q.list(None, None, 10).unwrap().len(), 1);
        // A queued job cannot be reprinted (it will print), only cancelled.
        assert!(matches!(
            q.reprint("a", "x", 4),
            Err(QueueError::Conflict(_))
        ));
        assert_eq!(q.cancel("a", 5).unwrap().state(), JobState::Cancelled);
        assert!(q.head("p1").unwrap().is_none());
    }
}
