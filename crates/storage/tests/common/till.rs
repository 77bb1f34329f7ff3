//! A register agent's till for the tests at the edge: paired through the
//! edge's till feed, on a SQLite file of its own, selling and pushing as
//! the agent does.

use super::{Store, one_line_card_sale, the_manager};
use diesel::prelude::*;
use outpost_domain::Role;
use outpost_storage::register_events::{self, AgentEvent, Push, Pushed};
use outpost_storage::{Actor, Db, Node, StorageError, agent, sales, shifts, staff, till_feed};

/// A till paired with `edge` through its feed, on a SQLite file of its own,
/// with a manager signed in and a shift open.
pub struct Till {
    pub db: Db,
    pub node: Node,
    pub device_id: String,
    pub actor: Actor,
    dir: std::path::PathBuf,
}

impl Drop for Till {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn till_of(edge: &Store) -> Till {
    let manager = the_manager(edge);
    let mut e = edge.db.conn().unwrap();
    let paired = staff::pair_device(&mut e, &edge.node, &manager, "Till 9", "agent").unwrap();
    let mut pages = Vec::new();
    let (mut epoch, mut after) = (None::<String>, 0);
    loop {
        let p = till_feed::changes(&mut e, epoch.as_deref(), after, 200).unwrap();
        (epoch, after) = (Some(p.epoch.clone()), p.next);
        let more = p.more;
        pages.push(p);
        if !more {
            break;
        }
    }
    let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
    let db = Db::open(dir.join("register.sqlite").to_str().unwrap(), 2).unwrap();
    let mut c = db.conn().unwrap();
    let pairing = agent::Pairing {
        edge_url: "http://edge.test:8001".into(),
        store_id: edge.node.store_id.clone(),
        device_id: paired.device.id.clone(),
        register_no: paired.device.register_no,
        name: paired.device.name.clone(),
        token: paired.token.clone(),
        ca_pem: None,
    };
    agent::set_up(&mut c, &pairing, &pages).unwrap();
    // A second pairing into the same database is refused.
    let again = agent::set_up(&mut c, &pairing, &pages).unwrap_err();
    assert!(matches!(again, StorageError::Conflict(_)), "{again:?}");
    let node = Node::load(&mut c).unwrap();
    assert_eq!(node.store_id, edge.node.store_id);
    assert_ne!(
        node.node_epoch, edge.node.node_epoch,
        "the till's epoch is its own"
    );
    let actor = Actor {
        staff_id: manager.staff_id,
        role: Role::Manager,
        device_id: Some(paired.device.id.clone()),
    };
    shifts::open(&mut c, &node, &actor, 0).unwrap();
    drop(c);
    Till {
        db,
        node,
        device_id: paired.device.id,
        actor,
        dir,
    }
}

impl Till {
    pub fn sell(&self, edge: &Store) -> sales::Order {
        // Priced from the till's own copy of the catalog (the same rows).
        let req = one_line_card_sale(edge, &self.actor);
        let mut c = self.db.conn().unwrap();
        let key = uuid::Uuid::now_v7().to_string();
        let a = sales::create_sale(&mut c, &self.node, &self.actor, &key, "sha", &req).unwrap();
        serde_json::from_str(&a.body).unwrap()
    }

    /// What waits to be pushed: (seq, event).
    pub fn waiting(&self) -> Vec<(i64, AgentEvent)> {
        agent::to_push(&mut self.db.conn().unwrap(), 500)
            .unwrap()
            .map_or(Vec::new(), |b| b.events)
    }

    pub fn push(&self, edge: &Store, events: &[(i64, AgentEvent)]) -> Result<Pushed, StorageError> {
        let push = Push {
            schema: register_events::SCHEMA,
            epoch: self.node.node_epoch.clone(),
            since: Default::default(),
            events: events.iter().map(|(_, e)| e.clone()).collect(),
        };
        let mut e = edge.db.conn().unwrap();
        register_events::apply(&mut e, &edge.node, &self.device_id, None, &push)
    }

    /// Pushes everything waiting, a batch of one epoch at a time, and marks
    /// it taken, as the agent does: the last push's answer.
    pub fn push_all(&self, edge: &Store) -> Pushed {
        let mut answer = Pushed::default();
        while let Some(b) = agent::to_push(&mut self.db.conn().unwrap(), 500).unwrap() {
            let push = Push {
                schema: register_events::SCHEMA,
                epoch: b.epoch,
                since: b.since,
                events: b.events.iter().map(|(_, e)| e.clone()).collect(),
            };
            let mut e = edge.db.conn().unwrap();
            answer =
                register_events::apply(&mut e, &edge.node, &self.device_id, None, &push).unwrap();
            let last = b.events.last().map_or(0, |(s, _)| *s);
            agent::pushed(&mut self.db.conn().unwrap(), last).unwrap();
        }
        answer
    }

    /// Pulls the edge's till feed from where this till stands and installs
    /// it, as the agent does.
    pub fn pull(&self, edge: &Store) -> till_feed::Installed {
        let mut c = self.db.conn().unwrap();
        let from = till_feed::cursor(&mut c).unwrap();
        let (mut epoch, mut after) = from.map_or((None, 0), |(e, s)| (Some(e), s));
        let mut pages = Vec::new();
        loop {
            let p = till_feed::changes(&mut edge.db.conn().unwrap(), epoch.as_deref(), after, 200)
                .unwrap();
            (epoch, after) = (Some(p.epoch.clone()), p.next);
            let more = p.more;
            pages.push(p);
            if !more {
                break;
            }
        }
        till_feed::install(&mut c, &pages).unwrap()
    }

    /// This till's database as a backup would have it now, as a till of its
    /// own (the same register).
    pub fn copy(&self) -> Till {
        let dir = std::env::temp_dir().join(format!("outpost-till-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("register.sqlite");
        diesel::sql_query(format!("VACUUM INTO '{}'", path.display()))
            .execute(&mut **self.db.conn().unwrap())
            .unwrap();
        let db = Db::open(path.to_str().unwrap(), 2).unwrap();
        let node = Node::load(&mut db.conn().unwrap()).unwrap();
        Till {
            db,
            node,
            device_id: self.device_id.clone(),
            actor: self.actor.clone(),
            dir,
        }
    }
}
