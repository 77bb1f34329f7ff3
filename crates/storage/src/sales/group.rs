//! Group commit for sales. Each request checks and prices its sale on its own
//! connection (reads only), then hands the [`Draft`] to a writer, which
//! commits every sale waiting at that moment in one transaction: one statement
//! takes each register's next number, one [`crate::bulk::write`] writes all
//! their rows, one commit. Under load a dozen sales share the round trips, the
//! executor start-up and the WAL flush that each paid alone; with one sale
//! waiting it is the same work as before. While one writer's batch is being
//! written the other waits for a group rather than commit a lone sale
//! ([`take_now`]).
//!
//! Nothing a sale promises changes: its rows, events and idempotency answer
//! commit in one transaction, and its request hears back only after that
//! commit. A batch holds at most one sale per register, so each register's
//! numbers stay gap-free and in order. If the batch fails as a whole (a
//! retried key whose first attempt committed meanwhile, say), every sale in it
//! is written again alone, so one sale's failure is never another's.

use super::create::{Draft, Seller, Sink, create, sale_tables, take_numbers, write_one};
use super::{Answer, SaleRequest};
use crate::Backend;
use crate::bulk;
use crate::db::AnyConnection;
use crate::db::{Db, write_tx};
use crate::error::{Result, StorageError};
use crate::node::Node;
use std::cell::Cell;
use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The most sales one transaction takes.
const MAX_BATCH: usize = 64;

/// While another writer's batch is still being written, a writer starts a
/// transaction only for at least this many waiting sales; fewer wait for that
/// batch to reach its commit and go together then.
const ENOUGH: usize = 16;

/// Writes sales, several per transaction; cheap to clone. The writer threads
/// stop when the last clone is dropped.
#[derive(Clone)]
pub struct SaleWriter {
    shared: Arc<Shared>,
    _stop: Arc<Stop>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Writers whose batch is taken and not yet at its commit.
    writing: usize,
}

/// Whether a writer should take a batch now, with `waiting` sales queued,
/// `writing` batches taken and not yet at their commit, and the writer
/// closing or not. Under load, sales arrive one by one while a batch is
/// written; a second writer taking each as it comes would commit them in ones
/// and twos, paying a transaction's round trips and its WAL flush for each.
/// With another batch still writing, it waits until [`ENOUGH`] sales wait or
/// that batch reaches its commit (its statements, not its flush), then takes
/// them all. The commit's flush still overlaps the next batch.
fn take_now(waiting: usize, writing: usize, closed: bool) -> bool {
    waiting > 0 && (closed || writing == 0 || waiting >= ENOUGH)
}

struct Job {
    draft: Draft,
    reply: SyncSender<Result<String>>,
}

/// Closes the queue when the last [`SaleWriter`] goes.
struct Stop(Arc<Shared>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SaleWriter {
    /// Starts the writers: two on PostgreSQL (one writes while the other's
    /// batch commits), one on SQLite (one writer at a time anyway).
    pub fn start(db: Db, node: Arc<Node>) -> SaleWriter {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        });
        let writers = match db.backend() {
            Backend::Postgres => 2,
            Backend::Sqlite => 1,
        };
        for i in 0..writers {
            let (shared, db, node) = (shared.clone(), db.clone(), node.clone());
            std::thread::Builder::new()
                .name(format!("sale-writer-{i}"))
                .spawn(move || run(&shared, &db, &node))
                .expect("spawn a sale writer thread");
        }
        SaleWriter {
            _stop: Arc::new(Stop(shared.clone())),
            shared,
        }
    }

    /// Creates a sale, as [`create_sale`](super::create_sale) does, committed
    /// together with whatever other sales are waiting. Blocks until it
    /// committed or failed.
    pub fn create_sale(
        &self,
        db: &Db,
        node: &Node,
        seller: Seller<'_>,
        key: &str,
        request_sha256: &str,
        req: SaleRequest,
    ) -> Result<Answer> {
        create(
            &mut Grouped { writer: self, db },
            node,
            seller,
            key,
            request_sha256,
            req,
        )
    }

    fn write(&self, draft: Draft) -> Result<String> {
        let (reply, answer) = sync_channel(1);
        {
            let mut q = self.shared.lock();
            if q.closed {
                return Err(StorageError::Unavailable("the sale writer stopped".into()));
            }
            q.jobs.push_back(Job { draft, reply });
        }
        self.shared.ready.notify_one();
        answer
            .recv()
            .unwrap_or_else(|_| Err(StorageError::Unavailable("the sale writer failed".into())))
    }
}

/// [`create`] through the writer: reads on a pooled connection, given back
/// before the sale waits for its group.
struct Grouped<'a> {
    writer: &'a SaleWriter,
    db: &'a Db,
}

impl Sink for Grouped<'_> {
    fn read<T>(&mut self, f: impl FnOnce(&mut AnyConnection) -> Result<T>) -> Result<T> {
        f(&mut *self.db.conn()?)
    }

    fn write(&mut self, _: &Node, draft: Draft) -> Result<String> {
        self.writer.write(draft)
    }
}

fn run(shared: &Shared, db: &Db, node: &Node) {
    loop {
        let batch = {
            let mut q = shared.lock();
            while !take_now(q.jobs.len(), q.writing, q.closed) {
                if q.closed && q.jobs.is_empty() {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            q.writing += 1;
            take_batch(&mut q.jobs)
        };
        let writing = Writing {
            shared,
            done: Cell::new(false),
        };
        let drafts: Vec<&Draft> = batch.iter().map(|j| &j.draft).collect();
        // A panic must not take the writer down: its batch's requests hear an
        // error (their senders drop) and the next batch goes on.
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_batch(db, node, &drafts, &|| writing.done())
        }));
        drop(writing);
        if let Ok(results) = results {
            for (job, r) in batch.iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
    }
}

/// A writer's batch from being taken until its commit starts (or it fails):
/// see [`take_now`].
struct Writing<'a> {
    shared: &'a Shared,
    done: Cell<bool>,
}

impl Writing<'_> {
    /// The batch's rows are written; only its commit is left.
    fn done(&self) {
        if !self.done.replace(true) {
            self.shared.lock().writing -= 1;
            self.shared.ready.notify_all();
        }
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.done();
    }
}

/// The waiting jobs to write now, oldest first, one per register; a
/// register's second job waits for the next batch.
fn take_batch(jobs: &mut VecDeque<Job>) -> Vec<Job> {
    let mut seen = HashSet::new();
    let mut batch = Vec::new();
    let mut left = VecDeque::new();
    while let Some(j) = jobs.pop_front() {
        if batch.len() < MAX_BATCH && seen.insert(j.draft.device_id().to_owned()) {
            batch.push(j);
        } else {
            left.push_back(j);
        }
    }
    *jobs = left;
    batch
}

/// Writes the drafts in one transaction, each register's number included. A
/// sale whose register has no open shift (or is gone) is left out and written
/// alone afterwards, which gives its precise error without taking a number.
/// `written` is called when the first transaction's rows are written, before
/// its commit.
fn write_batch(db: &Db, node: &Node, drafts: &[&Draft], written: &dyn Fn()) -> Vec<Result<String>> {
    let alone = |d: &Draft| {
        db.write(|c| {
            write_tx(c, |c| {
                let r = write_one(c, node, d);
                written();
                r
            })
        })
    };
    if drafts.len() == 1 {
        return vec![alone(drafts[0])];
    }
    let together = db.write(|c| {
        write_tx(c, |c| {
            let mut taken = take_numbers(c, drafts.iter().map(|d| d.device_id()))?;
            let mut writes = Vec::with_capacity(drafts.len());
            let mut bodies = Vec::with_capacity(drafts.len());
            for d in drafts {
                match taken.remove(d.device_id()) {
                    Some(t) => {
                        let (tables, body) = sale_tables(c, node, d, t)?;
                        writes.push(tables);
                        bodies.push(Some(body));
                    }
                    None => bodies.push(None),
                }
            }
            bulk::write(c, bulk::merge(writes))?;
            written();
            Ok::<_, StorageError>(bodies)
        })
    });
    match together {
        Ok(bodies) => bodies
            .into_iter()
            .zip(drafts)
            .map(|(b, d)| b.map_or_else(|| alone(d), Ok))
            .collect(),
        Err(_) => drafts.iter().map(|d| alone(d)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{self, Store};
    use crate::schema::{devices, idempotency_keys, orders, outbox};
    use crate::{Actor, shifts, staff};
    use diesel::prelude::*;
    use outpost_domain::Role;

    #[test]
    fn a_writer_waits_for_enough_sales_only_while_another_batch_is_written() {
        // Nothing to take.
        assert!(!take_now(0, 0, false));
        assert!(!take_now(0, 1, true));
        // No other batch in flight: a lone sale goes at once.
        assert!(take_now(1, 0, false));
        // Another batch writing: a few wait for its commit, enough go now.
        assert!(!take_now(1, 1, false));
        assert!(!take_now(ENOUGH - 1, 1, false));
        assert!(take_now(ENOUGH, 1, false));
        // Closing: whatever waits is written.
        assert!(take_now(1, 1, true));
    }

    /// Registers paired on the demo store, with a cashier at each; the first
    /// `open` of them have a shift open.
    fn registers(s: &Store, n: usize, open: usize) -> Vec<Actor> {
        let mut c = s.db.conn().unwrap();
        let people = staff::list_staff(&mut c).unwrap();
        let id = |role: &str| people.iter().find(|p| p.role == role).unwrap().id.clone();
        let boss = Actor {
            staff_id: id("manager"),
            role: Role::Manager,
            device_id: None,
        };
        (0..n)
            .map(|i| {
                let d =
                    staff::pair_device(&mut c, &s.node, &boss, &format!("Till {i}"), "register")
                        .unwrap();
                let a = Actor {
                    staff_id: id("cashier"),
                    role: Role::Cashier,
                    device_id: Some(d.device.id),
                };
                if i < open {
                    shifts::open(&mut c, &s.node, &a, 0).unwrap();
                }
                a
            })
            .collect()
    }

    fn draft(s: &Store, actor: &Actor, key: &str) -> Draft {
        let req = common::one_line_card_sale(s, actor);
        let mut c = s.db.conn().unwrap();
        let (_, products) =
            crate::sales::create::seller_and_products(&mut c, Seller::Actor(actor), &req).unwrap();
        crate::sales::create::draft(&mut c, &s.node, actor, products, key, key, req).unwrap()
    }

    fn number(body: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["number"].as_str().unwrap().to_owned()
    }

    fn last_seq(s: &Store, a: &Actor) -> i64 {
        devices::table
            .find(a.device_id.as_deref().unwrap())
            .select(devices::last_seq)
            .first(&mut **s.db.conn().unwrap())
            .unwrap()
    }

    /// Every order's `order.created` event and idempotency answer are there.
    fn assert_each_order_whole(s: &Store, expected: i64) {
        let mut c = s.db.conn().unwrap();
        let o: i64 = orders::table.count().get_result(&mut **c).unwrap();
        let e: i64 = outbox::table
            .filter(outbox::event_type.eq("order.created"))
            .count()
            .get_result(&mut **c)
            .unwrap();
        let k: i64 = idempotency_keys::table
            .count()
            .get_result(&mut **c)
            .unwrap();
        assert_eq!(
            (o, e, k),
            (expected, expected, expected),
            "orders, order events, answers"
        );
    }

    fn a_batch_writes_each_registers_sale_under_its_next_number(s: Store) {
        let regs = registers(&s, 3, 3);
        let node = &s.node;
        let first = write_batch(&s.db, node, &[&draft(&s, &regs[0], "k0")], &|| ());
        assert!(number(first[0].as_ref().unwrap()).ends_with("-000001"));
        let drafts: Vec<Draft> = regs
            .iter()
            .enumerate()
            .map(|(i, a)| draft(&s, a, &format!("k{}", i + 1)))
            .collect();
        let got = write_batch(&s.db, node, &drafts.iter().collect::<Vec<_>>(), &|| ());
        let numbers: Vec<String> = got.iter().map(|r| number(r.as_ref().unwrap())).collect();
        assert!(numbers[0].ends_with("-000002"), "{numbers:?}");
        assert!(numbers[1].ends_with("-000001"), "{numbers:?}");
        assert!(numbers[2].ends_with("-000001"), "{numbers:?}");
        assert_ne!(numbers[1], numbers[2], "registers number apart");
        assert_each_order_whole(&s, 4);
    }

    fn a_register_without_a_shift_is_refused_alone_and_keeps_its_number(s: Store) {
        let regs = registers(&s, 3, 2);
        // A shift opened after the draft was priced: the draft is fine, the
        // write finds no shift on the third register.
        let drafts: Vec<Draft> = regs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i == 2 {
                    let mut c = s.db.conn().unwrap();
                    let sh = shifts::open(&mut c, &s.node, a, 0).unwrap();
                    let d = draft(&s, a, "k2");
                    diesel::update(crate::schema::shifts::table.find(&sh.id))
                        .set(crate::schema::shifts::closed_at.eq(Some(1_i64)))
                        .execute(&mut **c)
                        .unwrap();
                    d
                } else {
                    draft(&s, a, &format!("k{i}"))
                }
            })
            .collect();
        let got = write_batch(&s.db, &s.node, &drafts.iter().collect::<Vec<_>>(), &|| ());
        assert!(got[0].is_ok() && got[1].is_ok(), "{got:?}");
        assert!(
            matches!(&got[2], Err(StorageError::Conflict(m)) if m.contains("no open shift")),
            "{got:?}"
        );
        assert_eq!(last_seq(&s, &regs[2]), 0, "no number taken");
        assert_each_order_whole(&s, 2);
    }

    fn a_failed_batch_writes_each_sale_alone_so_only_the_bad_one_fails(s: Store) {
        let regs = registers(&s, 3, 3);
        // The first register's key was written already: the batch's answers
        // clash, the whole batch rolls back, and each sale goes again alone.
        write_batch(&s.db, &s.node, &[&draft(&s, &regs[0], "used")], &|| ())[0]
            .as_ref()
            .unwrap();
        let drafts = [
            draft(&s, &regs[0], "used"),
            draft(&s, &regs[1], "b"),
            draft(&s, &regs[2], "c"),
        ];
        let got = write_batch(&s.db, &s.node, &drafts.iter().collect::<Vec<_>>(), &|| ());
        assert!(got[0].is_err(), "{got:?}");
        assert!(number(got[1].as_ref().unwrap()).ends_with("-000001"));
        assert!(number(got[2].as_ref().unwrap()).ends_with("-000001"));
        assert_eq!(last_seq(&s, &regs[0]), 1, "the refused sale took no number");
        assert_each_order_whole(&s, 3);
    }

    /// Registers selling at once through the writer, each also sending one
    /// sale twice at the same moment (a retry racing its first attempt):
    /// every sale once, every register's numbers 1..=n without a gap.
    fn registers_selling_at_once_get_one_order_per_sale_and_gapless_numbers(s: Store) {
        const SALES: usize = 12;
        let regs = registers(&s, 6, 6);
        let writer = SaleWriter::start(
            s.db.clone(),
            Arc::new(Node::load(&mut s.db.conn().unwrap()).unwrap()),
        );
        let s = &s;
        std::thread::scope(|scope| {
            for a in &regs {
                let req = common::one_line_card_sale(s, a);
                for twin in 0..2 {
                    let (writer, req, a) = (writer.clone(), req.clone(), a.clone());
                    scope.spawn(move || {
                        for i in 0..SALES {
                            // Both twins send key 0; only the first sends the rest.
                            if twin == 1 && i > 0 {
                                break;
                            }
                            let key = format!("{}-{i}", a.device_id.as_deref().unwrap());
                            let answer = writer
                                .create_sale(
                                    &s.db,
                                    &s.node,
                                    Seller::Actor(&a),
                                    &key,
                                    "same",
                                    req.clone(),
                                )
                                .unwrap();
                            assert_eq!(answer.status, 201);
                        }
                    });
                }
            }
        });
        for a in &regs {
            let mut numbers: Vec<String> = orders::table
                .filter(orders::device_id.eq(a.device_id.as_deref().unwrap()))
                .select(orders::number)
                .load(&mut **s.db.conn().unwrap())
                .unwrap();
            numbers.sort();
            let suffixes: Vec<String> = numbers
                .iter()
                .map(|n| n[n.len() - 6..].to_owned())
                .collect();
            let want: Vec<String> = (1..=SALES).map(|i| format!("{i:06}")).collect();
            assert_eq!(suffixes, want);
        }
        assert_each_order_whole(s, (regs.len() * SALES) as i64);
    }

    /// The session a sale is made under is checked in the query that reads
    /// its products: its holder comes back with them, and an unknown,
    /// expired or deactivated one is refused before anything is written.
    fn a_sale_checks_its_session_with_its_products(s: Store) {
        use crate::schema::{devices, sessions, staff as members};
        use crate::staff::Presented;
        let tills = registers(&s, 2, 1);
        let (a, other) = (&tills[0], &tills[1]);
        let req = common::one_line_card_sale(&s, a);
        let crate::sales::ProductRef::Id(product) = &req.lines[0].product else {
            panic!("a sale by product id")
        };
        let ids = [product.clone()];
        let mut c = s.db.conn().unwrap();
        // The registers' device tokens, known here.
        for (till, token) in [(a, "till-a"), (other, "till-b")] {
            diesel::update(devices::table.find(till.device_id.as_ref().unwrap()))
                .set(devices::token_hash.eq(crate::secrets::hash_token(token)))
                .execute(&mut **c)
                .unwrap();
        }
        let at_a = |token| Presented {
            token,
            device: Some("till-a"),
        };
        let now = crate::db::now_millis();
        for (token, expires_at) in [("good", now + 60_000), ("stale", now - 1)] {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::token_hash.eq(crate::secrets::hash_token(token)),
                    sessions::staff_id.eq(&a.staff_id),
                    sessions::device_id.eq(&a.device_id),
                    sessions::created_at.eq(now - 1_000),
                    sessions::expires_at.eq(expires_at),
                ))
                .execute(&mut **c)
                .unwrap();
        }
        let (who, (products, _, taxes)) =
            crate::catalog::resolve_signed(&mut c, at_a("good"), &ids, &[]).unwrap();
        assert_eq!(
            (who.staff_id.as_str(), who.role, who.device_id.as_deref()),
            (a.staff_id.as_str(), Role::Cashier, a.device_id.as_deref())
        );
        assert_eq!((products.len(), taxes.len()), (1, 1));
        assert!(products.contains_key(product));
        // A session naming no known product is still its holder's.
        let (who, (products, _, _)) =
            crate::catalog::resolve_signed(&mut c, at_a("good"), &["no-such".into()], &[]).unwrap();
        assert_eq!(who.staff_id, a.staff_id);
        assert!(products.is_empty());
        let refused_at = |c: &mut crate::AnyConnection, token: &str, device: Option<&str>| {
            matches!(
                crate::catalog::resolve_signed(c, Presented { token, device }, &ids, &[]),
                Err(StorageError::Unauthenticated)
            )
        };
        let refused =
            |c: &mut crate::AnyConnection, token: &str| refused_at(c, token, Some("till-a"));
        assert!(refused(&mut c, "forged"), "an unknown token");
        assert!(refused(&mut c, "stale"), "an expired session");
        // A register's session is that register's: not another's, not alone.
        assert!(
            refused_at(&mut c, "good", Some("till-b")),
            "from another till"
        );
        assert!(refused_at(&mut c, "good", None), "without its device");
        assert!(
            refused_at(&mut c, "good", Some("forged")),
            "with a forged device"
        );
        diesel::update(members::table.find(&a.staff_id))
            .set(members::active.eq(false))
            .execute(&mut **c)
            .unwrap();
        assert!(refused(&mut c, "good"), "a deactivated member's session");
        drop(c);
        let node = Arc::new(Node::load(&mut s.db.conn().unwrap()).unwrap());
        let writer = SaleWriter::start(s.db.clone(), node);
        for token in ["forged", "stale", "good"] {
            let r = writer.create_sale(
                &s.db,
                &s.node,
                Seller::Session(at_a(token)),
                token,
                "x",
                req.clone(),
            );
            assert!(
                matches!(r, Err(StorageError::Unauthenticated)),
                "{token}: {r:?}"
            );
        }
        assert_each_order_whole(&s, 0);
    }

    macro_rules! on_both {
        ($($name:ident),* $(,)?) => {
            mod sqlite {
                $(#[test] fn $name() { super::$name(crate::common::demo_store()) })*
            }
            mod postgres {
                $(#[test] fn $name() { super::$name(crate::common::demo_store_on_pg(8)) })*
            }
        };
    }

    on_both!(
        a_batch_writes_each_registers_sale_under_its_next_number,
        a_register_without_a_shift_is_refused_alone_and_keeps_its_number,
        a_failed_batch_writes_each_sale_alone_so_only_the_bad_one_fails,
        registers_selling_at_once_get_one_order_per_sale_and_gapless_numbers,
        a_sale_checks_its_session_with_its_products,
    );
}
