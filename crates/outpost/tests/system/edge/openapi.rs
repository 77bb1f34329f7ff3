//! `/openapi.json` describes what the server really serves.

use crate::support::app::{Backend, Store, spawn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served_and_every_body_has_a_schema() {
    let store = Store::new(Backend::Sqlite);
    let app = spawn(&store);
    let doc = app.req(reqwest::Method::GET, "/openapi.json").send().await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    let schemas = doc.body["components"]["schemas"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            if let Some(r) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                let name = r.rsplit('/').next().unwrap();
                assert!(
                    schemas.contains_key(name),
                    "{method} {path}: schema {name} missing"
                );
            }
            let url = path
                .replace("{id}", "x")
                .replace("{stream}", "sales")
                .replace("{code}", "0")
                .replace("{line}", "x");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app
                .req(m, &url)
                .raw("application/json", b"{}".to_vec())
                .send()
                .await;
            let unrouted = r.status == 404 && r.body["detail"] == "no such route or method";
            assert!(!unrouted, "{method} {path} is documented but not served");
        }
    }
    // Both methods on one path are kept, not overwritten.
    assert!(
        paths["/api/v1/orders"]["get"].is_object() && paths["/api/v1/orders"]["post"].is_object()
    );
    assert!(operations >= 40, "only {operations} operations documented");
    // A sale's schema names its fields.
    assert!(
        schemas["SaleBody"]["properties"]["lines"].is_object(),
        "{}",
        schemas["SaleBody"]
    );
}
