//! The till feed over HTTP: a paired register agent pulls the store's
//! master data and then only what changed; other devices and strangers are
//! refused.

use crate::both_backends;
use crate::support::app::{Backend, Store, spawn};
use serde_json::{Value, json};

async fn an_agent_pulls_the_master_data_then_only_changes_and_no_one_else_may(b: Backend) {
    let store = Store::new(b);
    let app = spawn(&store);
    let m = app.manager().await;
    let paired = app
        .post(
            "/api/v1/devices",
            &m,
            json!({"name": "Till 1", "kind": "agent"}),
        )
        .await;
    assert_eq!(paired.status, 201, "{}", paired.body);
    let till = paired.body["token"].as_str().unwrap().to_owned();
    let pull = |query: String, token: Option<String>| {
        let mut r = app.req(reqwest::Method::GET, &format!("/api/v1/till-feed{query}"));
        if let Some(t) = token {
            r = r.header("X-Device-Token", &t);
        }
        r.send()
    };
    let first = pull(String::new(), Some(till.clone())).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["schema"], 1);
    assert_eq!(first.body["reset"], false);
    let changes = first.body["changes"].as_array().unwrap();
    let kinds = |c: &[Value]| {
        let mut k: Vec<String> = c
            .iter()
            .map(|c| c["kind"].as_str().unwrap().to_owned())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    for kind in [
        "barcode",
        "company",
        "product",
        "staff",
        "store",
        "tax_category",
    ] {
        assert!(
            kinds(changes).contains(&kind.to_owned()),
            "{kind}: {}",
            first.body
        );
    }
    let staff = changes.iter().find(|c| c["kind"] == "staff").unwrap();
    assert!(
        staff["row"]["pin_hash"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );
    let (epoch, next) = (
        first.body["epoch"].as_str().unwrap().to_owned(),
        first.body["next"].as_i64().unwrap(),
    );

    // A price changed on the manager page: the next pull carries that product alone.
    let (_, product, price) = app.barcode(&m, "").await;
    let r = app
        .req(
            reqwest::Method::PATCH,
            &format!("/api/v1/products/{product}"),
        )
        .bearer(&m)
        .json(&json!({"price_minor": price + 10}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let later = pull(format!("?epoch={epoch}&after={next}"), Some(till.clone())).await;
    assert_eq!(later.status, 200, "{}", later.body);
    let changes = later.body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{}", later.body);
    assert_eq!(changes[0]["key"], product);
    assert_eq!(changes[0]["row"]["price_minor"], price + 10);
    // A cursor of another epoch starts over.
    let other = pull(format!("?epoch=not-ours&after={next}"), Some(till.clone())).await;
    assert_eq!(other.body["reset"], true);

    // No device, a register page's or a kitchen display's token (browsers
    // keep theirs in localStorage: no PIN hashes for them), a bad cursor, a
    // revoked agent.
    pull(String::new(), None).await.assert_problem(401);
    let page = app.pair(&m, "Till 2").await;
    pull(String::new(), Some(page)).await.assert_problem(403);
    let r = app
        .post(
            "/api/v1/devices",
            &m,
            json!({"name": "Kitchen", "kind": "display"}),
        )
        .await;
    let display = r.body["token"].as_str().unwrap().to_owned();
    pull(String::new(), Some(display)).await.assert_problem(403);
    pull("?after=-1".into(), Some(till.clone()))
        .await
        .assert_problem(400);
    pull("?after=x".into(), Some(till.clone()))
        .await
        .assert_problem(400);
    let devices = app.get("/api/v1/devices", &m).await;
    let id = devices
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Till 1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .req(reqwest::Method::DELETE, &format!("/api/v1/devices/{id}"))
        .bearer(&m)
        .send()
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    pull(String::new(), Some(till)).await.assert_problem(401);
}
both_backends!(an_agent_pulls_the_master_data_then_only_changes_and_no_one_else_may);
