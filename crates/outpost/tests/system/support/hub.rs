//! Screens for the realtime tests: a WebSocket client that checks every event
//! it receives follows the last one by exactly one offset (no loss, no
//! duplicate), and the processes around the hub (Redis, `outpost hub`).

use crate::support::app::{App, Opts, Store, free_port, port_of, spawn_opts};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The shared secret the test processes sign and check tickets with.
pub const SECRET: &str = "test-9d2f6a1c8e4b7053f1a9c6e2d8b4f7a0c3e5b9d1";

pub struct Screen {
    ws: Ws,
    /// Per channel: (epoch, last offset received).
    pub at: HashMap<String, (String, i64)>,
    /// Every event received, in order.
    pub events: Vec<Value>,
}

/// What a disconnected screen remembers.
pub struct Saved {
    at: HashMap<String, (String, i64)>,
    events: Vec<Value>,
}

impl Saved {
    pub async fn reconnect(self, hub_port: u16, ticket: &str) -> Screen {
        let mut s = Screen::connect(hub_port, ticket).await.expect("reconnect");
        s.at = self.at;
        s.events = self.events;
        s
    }
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    Code(u16),
    Dropped,
}

impl Screen {
    /// Connects with a ticket; `Err` carries the HTTP status of a refusal.
    pub async fn connect(hub_port: u16, ticket: &str) -> Result<Screen, u16> {
        Self::connect_with(hub_port, ticket, None).await
    }

    /// Like `connect`, with a tiny receive buffer: a tablet that stops reading
    /// fills its queue at the hub quickly.
    pub async fn connect_with(
        hub_port: u16,
        ticket: &str,
        recv_buffer: Option<u32>,
    ) -> Result<Screen, u16> {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(b) = recv_buffer {
            sock.set_recv_buffer_size(b).unwrap();
        }
        let tcp = sock
            .connect(([127, 0, 0, 1], hub_port).into())
            .await
            .expect("hub reachable");
        let url = format!("ws://127.0.0.1:{hub_port}/ws?ticket={ticket}");
        match tokio_tungstenite::client_async(url, tcp).await {
            Ok((ws, _)) => Ok(Screen {
                ws,
                at: HashMap::new(),
                events: Vec::new(),
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("websocket handshake: {e}"),
        }
    }

    /// A new connection that resumes where `self` was.
    pub async fn reconnect(self, hub_port: u16, ticket: &str) -> Screen {
        self.hang_up().reconnect(hub_port, ticket).await
    }

    /// Drops the socket without a close frame, as a tablet losing Wi-Fi does,
    /// keeping what the screen knew.
    pub fn hang_up(self) -> Saved {
        Saved {
            at: self.at,
            events: self.events,
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    /// Subscribes (resuming from what this screen saw); returns `subscribed`.
    pub async fn subscribe(&mut self, channel: &str) -> Value {
        let mut to = json!({"channel": channel});
        if let Some((e, o)) = self.at.get(channel) {
            to["epoch"] = json!(e);
            to["offset"] = json!(o);
        }
        self.send(json!({"type": "subscribe", "channels": [to]}))
            .await;
        let m = self
            .next(Duration::from_secs(10))
            .await
            .expect("subscribed");
        assert_eq!(m["type"], "subscribed", "{m}");
        let offset = m["offset"].as_i64().unwrap();
        let epoch = m["epoch"].as_str().unwrap().to_owned();
        if m["recovered"] == false {
            // Not covered: the screen reloads from the api and goes on from here.
            self.at.insert(channel.to_owned(), (epoch, offset));
        } else {
            assert_eq!(self.at[channel], (epoch, offset), "resumed where it was");
        }
        m
    }

    /// The next message that is not an event (events are checked and kept).
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let msg = tokio::time::timeout(left, self.ws.next()).await.ok()??;
            match msg.ok()? {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] != "event" {
                        return Some(v);
                    }
                    self.take(v);
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    fn take(&mut self, v: Value) {
        let ch = v["channel"].as_str().unwrap().to_owned();
        let off = v["offset"].as_i64().unwrap();
        let epoch = v["epoch"].as_str().unwrap().to_owned();
        let (e, last) = self
            .at
            .get(&ch)
            .cloned()
            .expect("events only after subscribed");
        assert_eq!(e, epoch, "event of another epoch");
        assert_eq!(
            off,
            last + 1,
            "{ch}: offset {off} after {last}: lost or doubled"
        );
        self.at.insert(ch, (epoch, off));
        self.events.push(v);
    }

    /// Reads until `channel` reached `offset`, failing on a gap or duplicate.
    pub async fn until(&mut self, channel: &str, offset: i64, within: Duration) {
        let deadline = Instant::now() + within;
        while self.at.get(channel).map(|a| a.1).unwrap_or(0) < offset {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| {
                    panic!(
                        "{channel} stopped at {:?}, wanted {offset}",
                        self.at.get(channel)
                    )
                });
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "event" {
                        self.take(v);
                    }
                }
                Ok(Some(Ok(Message::Close(c)))) => panic!("closed: {c:?}"),
                Ok(Some(Ok(_))) => {}
                other => panic!(
                    "{channel} at {:?}, wanted {offset}: {other:?}",
                    self.at.get(channel)
                ),
            }
        }
    }

    /// Reads (keeping events) until the hub closes the connection.
    pub async fn closed(&mut self, within: Duration) -> Closed {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("the hub did not close the connection in time");
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "event" {
                        self.take(v);
                    }
                }
                Ok(Some(Ok(Message::Close(Some(c))))) => {
                    return Closed::Code(match c.code {
                        CloseCode::Library(n) | CloseCode::Bad(n) => n,
                        other => u16::from(other),
                    });
                }
                Ok(Some(Ok(Message::Close(None)))) | Ok(None) | Ok(Some(Err(_))) => {
                    return Closed::Dropped;
                }
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("the hub did not close the connection in time"),
            }
        }
    }

    /// Events of one type received so far.
    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["event_type"] == t)
            .collect()
    }
}

impl App {
    /// Pairs a kitchen display and returns its device token.
    pub async fn display(&self, manager: &str, name: &str) -> String {
        let r = self
            .post(
                "/api/v1/devices",
                manager,
                json!({"name": name, "kind": "display"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// Moves a kitchen ticket on as a paired display would.
    pub async fn bump(
        &self,
        display: &str,
        ticket: &str,
        status: &str,
    ) -> crate::support::app::Resp {
        self.req(
            reqwest::Method::POST,
            &format!("/api/v1/kitchen/tickets/{ticket}/status"),
        )
        .header("X-Device-Token", display)
        .json(&json!({"status": status}))
        .send()
        .await
    }

    /// The back-office page's view of presence: a screen subscribed to it.
    pub async fn presence_watcher(&self, hub_port: u16, manager: &str) -> Screen {
        let r = self
            .post("/api/v1/realtime/tickets", manager, json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut s = Screen::connect(hub_port, r.body["ticket"].as_str().unwrap())
            .await
            .unwrap();
        s.send(json!({"type": "subscribe", "channels": [{"channel": "presence"}]}))
            .await;
        s
    }

    /// A hub ticket for a paired device.
    pub async fn ticket(&self, device: &str) -> String {
        let r = self
            .req(reqwest::Method::POST, "/api/v1/realtime/tickets")
            .header("X-Device-Token", device)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["ticket"].as_str().unwrap().to_owned()
    }
}

/// `outpost api` alone, publishing to `redis`, telling pages the hub is on
/// `hub_port`.
pub fn api_on_redis(store: &Store, redis: &Redis, hub_port: u16) -> App {
    api_on_redis_at(store, &redis.url(), hub_port)
}

/// `outpost api` on the Redis at `url` (a proxy in front of one, say).
pub fn api_on_redis_at(store: &Store, url: &str, hub_port: u16) -> App {
    let app = spawn_opts(
        store,
        &Opts {
            api_only: true,
            env: vec![
                ("OUTPOST__REALTIME__REDIS_URL", url.to_owned()),
                ("OUTPOST__REALTIME__SECRET", SECRET.into()),
                ("OUTPOST__REALTIME__HUB_PORT", hub_port.to_string()),
                ("OUTPOST__DATABASE__URL", store.url.clone()),
            ],
            ..Opts::default()
        },
    );
    assert!(app.hub_port.is_none(), "`outpost api` runs no hub");
    app
}

/// A throwaway redis-server on its own port, without persistence (a restart
/// loses everything: the hardest case for the publisher).
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl Redis {
    pub fn start() -> Redis {
        let dir = std::env::temp_dir().join(format!("outpost-redis-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let mut r = Redis {
            child: None,
            port,
            dir,
        };
        r.up();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port.
    pub fn up(&mut self) {
        let exe = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("realtime tests need redis-server (apt-get install redis-server; scripts/test does)");
        let child = Command::new(exe)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: Redis goes away with everything it held.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `outpost hub` as its own process, reading Redis.
pub struct HubProc {
    child: Child,
    pub port: u16,
}

impl HubProc {
    pub fn start(redis: &Redis, env: &[(&str, &str)]) -> HubProc {
        Self::start_on(redis, 0, env)
    }

    /// On a given port (0 = any free one).
    pub fn start_on(redis: &Redis, port: u16, env: &[(&str, &str)]) -> HubProc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("hub")
            .env("OUTPOST__HUB__PORT", port.to_string())
            .envs(env.iter().copied())
            .env("OUTPOST__REALTIME__REDIS_URL", redis.url())
            .env("OUTPOST__REALTIME__SECRET", SECRET)
            .env("OUTPOST__LOG__FORMAT", "json")
            .env("OUTPOST__LOG__FILTER", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start outpost hub");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep draining stdout so the hub never writes into a closed pipe.
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let port = loop {
            let l = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the hub printed its address");
            if let Some(url) = l.strip_prefix("Outpost realtime hub listening on ") {
                break port_of(url);
            }
        };
        HubProc { child, port }
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HubProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
