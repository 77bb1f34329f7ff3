//! hw-proxy against the virtual printer, both as real processes: paper out,
//! a printer switched off, hw-proxy SIGKILLed mid-send, a late drawer kick,
//! bad jobs, its token, and its gRPC side.

use crate::support::app::{Backend, Store, cash_sale, key};
use crate::support::printer::{
    Hw, Printer, edge_printing_to, http, id, png_size, printed_numbers, receipt_job, wait_until,
};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_line_no_code_page_holds_prints_as_dots_and_every_job_has_a_picture() {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let mut job = receipt_job(&id(), "S01-R1-000090");
    job["receipt"]["lines"][0]["name"] = json!("寿司 (sushi)");
    let (status, reply) = hw.post("/api/v1/jobs", &job).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["replaced"],
        json!([]),
        "nothing is left as ?: {reply}"
    );
    let id = job["id"].as_str().unwrap().to_owned();
    hw.wait_state(std::slice::from_ref(&id), "printed").await;
    let text = p.jobs().await[0]["text"].as_str().unwrap().to_owned();
    // The test printer is 42 characters of 12 dots wide.
    assert!(
        text.contains("[image 504x24]") && !text.contains('?'),
        "{text}"
    );
    assert!(text.contains("TOTAL"), "{text}");
    // Pictures of the paper: hw-proxy's preview at its printer's width, the
    // virtual printer's at 80 mm.
    let (w, h) = png_size(&format!("{}/api/v1/jobs/{id}/preview.png", hw.base)).await;
    assert_eq!(w, 504);
    assert!(h > 400, "a whole receipt: {h} dots");
    assert_eq!(png_size(&format!("{}/jobs/1.png", p.control)).await.0, 576);
    let missing = http()
        .get(format!(
            "{}/api/v1/jobs/{}/preview.png",
            hw.base,
            uuid::Uuid::now_v7()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn paper_out_holds_the_queue_and_each_job_prints_once_in_order_when_paper_is_back() {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    p.mode("paper_out").await;
    wait_until("the register to see the paper out", || async {
        hw.front().await["state"]["problem"] == "out of paper"
    })
    .await;
    let mut ids = Vec::new();
    let mut first = Value::Null;
    for n in 1..=6 {
        let i = id();
        let job = receipt_job(&i, &format!("S01-R1-00000{n}"));
        let (s, body) = hw.post("/api/v1/jobs", &job).await;
        assert_eq!(s, 201, "{body}");
        ids.push(i);
        if n == 1 {
            first = job;
        }
    }
    // A retry of a job already queued is the same job.
    let (s, again) = hw.post("/api/v1/jobs", &first).await;
    assert_eq!(
        (s, again["job"]["id"].as_str()),
        (200, Some(ids[0].as_str()))
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(p.jobs().await.is_empty(), "nothing prints without paper");
    let front = hw.front().await;
    assert_eq!(front["jobs"]["queued"], 6, "{front}");
    assert_eq!(hw.job(&ids[0]).await["last_error"], "printer out of paper");
    let health = hw.get("/health").await;
    assert_eq!(health["status"], "degraded", "{health}");

    p.mode("ready").await;
    hw.wait_state(&ids, "printed").await;
    assert_eq!(
        printed_numbers(&p).await,
        (1..=6)
            .map(|n| format!("S01-R1-00000{n}"))
            .collect::<Vec<_>>(),
        "each once, in order"
    );
    let text = p.jobs().await[0]["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("2 x Milk 1l") && text.contains("3.98"),
        "{text}"
    );
    assert_eq!(hw.front().await["jobs"]["queued"], 0);
}

#[tokio::test]
async fn a_printer_switched_off_keeps_its_queue_and_prints_it_once_when_back() {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    p.mode("off").await;
    let ids = [id(), id()];
    for (n, i) in ids.iter().enumerate() {
        let (s, _) = hw
            .post("/api/v1/jobs", &receipt_job(i, &format!("S01-R1-00001{n}")))
            .await;
        assert_eq!(s, 201);
    }
    wait_until("the register to see the printer away", || async {
        let f = hw.front().await;
        f["state"]["reachable"] == false && f["jobs"]["queued"] == 2
    })
    .await;
    let problem = hw.front().await["state"]["problem"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(problem.contains("unreachable"), "{problem}");
    p.mode("ready").await;
    hw.wait_state(&ids, "printed").await;
    assert_eq!(
        printed_numbers(&p).await,
        ["S01-R1-000010", "S01-R1-000011"]
    );
}

#[tokio::test]
async fn sigkill_mid_send_leaves_that_job_uncertain_and_prints_the_others_exactly_once() {
    let p = Printer::start().await;
    // Long enough a wait for the status after a job that the kill lands mid-send.
    let mut hw = Hw::start(p.port, &[("OUTPOST__HW__STATUS_TIMEOUT_MS", "20000")]).await;
    p.mode("stall").await;
    let stuck = id();
    assert_eq!(
        hw.post("/api/v1/jobs", &receipt_job(&stuck, "S01-R1-000020"))
            .await
            .0,
        201
    );
    hw.wait_state(std::slice::from_ref(&stuck), "sending").await;
    let rest = [id(), id(), id()];
    for (n, i) in rest.iter().enumerate() {
        assert_eq!(
            hw.post("/api/v1/jobs", &receipt_job(i, &format!("S01-R1-00003{n}")))
                .await
                .0,
            201
        );
    }
    hw.kill();
    p.mode("ready").await;
    hw.restart().await;
    hw.wait_state(&rest, "printed").await;
    let j = hw.job(&stuck).await;
    assert_eq!(j["state"], "uncertain", "{j}");
    assert!(j["last_error"].as_str().unwrap().contains("reprint"), "{j}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The stalled job reached the printer once (cut short, recorded when the
    // printer thawed); the rest once each, in order.
    let printed = printed_numbers(&p).await;
    assert_eq!(
        printed.iter().filter(|n| *n == "S01-R1-000020").count(),
        1,
        "{printed:?}"
    );
    let rest_printed: Vec<&String> = printed.iter().filter(|n| *n != "S01-R1-000020").collect();
    assert_eq!(
        rest_printed,
        ["S01-R1-000030", "S01-R1-000031", "S01-R1-000032"],
        "{printed:?}"
    );
    assert_eq!(hw.front().await["jobs"]["uncertain"], 1);
    // A person asks: it prints again, once, however often the click repeats.
    let again = id();
    for _ in 0..2 {
        let (s, body) = hw
            .post(
                &format!("/api/v1/jobs/{stuck}/reprint"),
                &json!({ "id": again }),
            )
            .await;
        assert!(s == 201, "{body}");
    }
    hw.wait_state(std::slice::from_ref(&again), "printed").await;
    assert_eq!(printed_numbers(&p).await.len(), 5);
    assert_eq!(hw.job(&stuck).await["state"], "cancelled");
}

#[tokio::test]
async fn a_drawer_kick_queued_while_the_printer_was_off_never_fires_late() {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[("OUTPOST__HW__DRAWER_MAX_AGE_S", "2")]).await;
    p.mode("off").await;
    let late = id();
    let (s, _) = hw
        .post(
            "/api/v1/jobs",
            &json!({"id": late, "printer": "front", "kind": "drawer"}),
        )
        .await;
    assert_eq!(s, 201);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    p.mode("ready").await;
    hw.wait_state(std::slice::from_ref(&late), "expired").await;
    // A kick asked for now fires, on both pins.
    let now = id();
    hw.post(
        "/api/v1/jobs",
        &json!({"id": now, "printer": "front", "kind": "drawer"}),
    )
    .await;
    hw.wait_state(std::slice::from_ref(&now), "printed").await;
    wait_until("the kick to reach the printer", || async {
        !p.jobs().await.is_empty()
    })
    .await;
    let jobs = p.jobs().await;
    assert_eq!(jobs.len(), 1, "only the fresh kick: {jobs:?}");
    assert_eq!(jobs[0]["page"]["drawer_kicks"], 2);
    // Nor is an expired kick reprinted on request.
    let (s, body) = hw
        .post(
            &format!("/api/v1/jobs/{late}/reprint"),
            &json!({ "id": id() }),
        )
        .await;
    assert_eq!(s, 422, "{body}");
}

#[tokio::test]
async fn bad_jobs_get_a_clear_4xx_and_nothing_is_queued() {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    p.mode("off").await;
    let ok = id();
    assert_eq!(
        hw.post("/api/v1/jobs", &receipt_job(&ok, "S01-R1-000040"))
            .await
            .0,
        201
    );
    let mut unknown = receipt_job(&id(), "S01-R1-000041");
    unknown["printer"] = json!("nope");
    let (s, body) = hw.post("/api/v1/jobs", &unknown).await;
    assert_eq!(s, 404, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("front"), "{body}");
    let mut no_lines = receipt_job(&id(), "S01-R1-000042");
    no_lines["receipt"]["lines"] = json!([]);
    assert_eq!(hw.post("/api/v1/jobs", &no_lines).await.0, 422);
    let mut not_uuid = receipt_job("job-1", "S01-R1-000043");
    not_uuid["id"] = json!("job-1");
    assert_eq!(hw.post("/api/v1/jobs", &not_uuid).await.0, 422);
    let (s, _) = hw
        .post(
            "/api/v1/jobs",
            &json!({"id": id(), "printer": "front", "kind": "receipt"}),
        )
        .await;
    assert_eq!(s, 422, "a receipt job without a receipt");
    let (s, _) = hw
        .post(
            "/api/v1/jobs",
            &json!({"id": id(), "printer": "front", "kind": "fax"}),
        )
        .await;
    assert_eq!(s, 422);
    let mut extra = receipt_job(&id(), "S01-R1-000044");
    extra["receipt"]["colour"] = json!("red");
    assert_eq!(
        hw.post("/api/v1/jobs", &extra).await.0,
        400,
        "unknown fields"
    );
    let mut huge = receipt_job(&id(), "S01-R1-000045");
    huge["receipt"]["footer"] = json!(["x".repeat(300_000)]);
    let (s, body) = hw.post("/api/v1/jobs", &huge).await;
    assert_eq!(s, 413, "{body}");
    let r = http()
        .post(format!("{}/api/v1/jobs", hw.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    // The same id with another body is refused, not a second job.
    let (s, _) = hw
        .post("/api/v1/jobs", &receipt_job(&ok, "S01-R1-000099"))
        .await;
    assert_eq!(s, 409);
    let jobs = hw.get("/api/v1/jobs").await["jobs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["id"], ok.as_str());
    let (s, _) = hw
        .post(&format!("/api/v1/jobs/{}/cancel", id()), &json!({}))
        .await;
    assert_eq!(s, 404);
}

const HW_TOKEN: &str = "hw-4f9c2e7a1b6d3058e9f1a7c4b2d6e8093c5a7f1e2d4b6c8a";

/// With `hw.token` set: printing, the job list, previews and the page need
/// it (bearer or the page's cookie), over HTTP and gRPC; health, printer
/// states and the register's scanner events stay open; the api prints with
/// its `printing.hw_proxy_token`.
#[tokio::test]
async fn a_token_guards_printing_and_the_queue_and_the_api_prints_with_it() {
    use outpost_proto::hw_v1 as pb;
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[("OUTPOST__HW__TOKEN", HW_TOKEN)]).await;
    let url = |path: &str| format!("{}{path}", hw.base);
    let job = receipt_job(&id(), "S01-R1-000070");
    for auth in [None, Some("Bearer not-the-token-at-all")] {
        let mut r = http().post(url("/api/v1/jobs")).json(&job);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        crate::support::app::assert_one_problem_base(&r.json().await.unwrap());
    }
    assert_eq!(
        http()
            .get(url("/api/v1/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert!(
        p.jobs().await.is_empty(),
        "nothing printed without the token"
    );
    let r = http()
        .post(url("/api/v1/jobs"))
        .bearer_auth(HW_TOKEN)
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The page asks for the token, then takes it as its cookie.
    let page = http().get(url("/")).send().await.unwrap();
    assert_eq!(page.status(), 401);
    crate::edge::headers::assert_guarded(page.headers(), "hw-proxy's page");
    assert!(page.text().await.unwrap().contains("token-form"));
    // The form's token comes back as an HttpOnly cookie; a wrong one
    // sets nothing.
    let form = |t: &str| {
        http()
            .post(url("/page-token"))
            .json(&serde_json::json!({ "token": t }))
            .send()
    };
    let wrong = form("not-the-token-at-all").await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let right = form(HW_TOKEN).await.unwrap();
    assert_eq!(right.status(), 204);
    let set = right.headers()["set-cookie"].to_str().unwrap();
    for part in [
        &format!("outpost_hw={HW_TOKEN}") as &str,
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(set.contains(part), "{part} in {set}");
    }
    // The cookie acts only for hw-proxy's own page: a reprint sent with it
    // from another origin (another port of this host) is refused.
    let reprint = |origin: String| {
        http()
            .post(url(&format!(
                "/api/v1/jobs/{}/reprint",
                job["id"].as_str().unwrap()
            )))
            .header("Cookie", format!("outpost_hw={HW_TOKEN}"))
            .header("Origin", origin)
            .send()
    };
    let other = reprint("http://127.0.0.1:1".into()).await.unwrap();
    assert_eq!(other.status(), 403);
    let own = reprint(hw.base.clone()).await.unwrap();
    assert_ne!(own.status(), 403, "hw-proxy's own page");
    let page = http()
        .get(url("/"))
        .header("Cookie", format!("other=1; outpost_hw={HW_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    crate::edge::headers::assert_guarded(page.headers(), "hw-proxy's page");
    assert!(page.text().await.unwrap().contains("S01-R1-000070"));
    for open in ["/health", "/api/v1/printers", "/api/v1/inputs"] {
        assert_eq!(
            http().get(url(open)).send().await.unwrap().status(),
            200,
            "{open}"
        );
    }
    // gRPC: refused without the token.
    let mut client = pb::print_service_client::PrintServiceClient::connect(format!(
        "http://127.0.0.1:{}",
        hw.grpc_port
    ))
    .await
    .unwrap();
    let e = client
        .get_job(pb::GetJobRequest {
            id: job["id"].as_str().unwrap().into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    // The api with the token prints a sale's receipt.
    let store = Store::new(Backend::Sqlite);
    let app = edge_printing_to(
        &store,
        &hw,
        &[("OUTPOST__PRINTING__HW_PROXY_TOKEN", HW_TOKEN)],
    );
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sale = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(sale.status, 201);
    wait_until("the sale's receipt", || async { p.jobs().await.len() == 2 }).await;
    assert_eq!(
        printed_numbers(&p).await,
        ["S01-R1-000070", sale.body["number"].as_str().unwrap()]
    );
}

#[tokio::test]
async fn the_api_side_prints_over_grpc_once_per_job_id() {
    use outpost_proto::hw_v1 as pb;
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let mut client = pb::print_service_client::PrintServiceClient::connect(format!(
        "http://127.0.0.1:{}",
        hw.grpc_port
    ))
    .await
    .unwrap();
    let job_id = id();
    let req = pb::SubmitRequest {
        id: job_id.clone(),
        printer: "front".into(),
        open_drawer: true,
        document: Some(pb::submit_request::Document::Receipt(pb::Receipt {
            store: "Corner Deli".into(),
            order_number: "S01-R1-000050".into(),
            order_id: id(),
            time: "10:15".into(),
            lines: vec![pb::ReceiptLine {
                name: "Borscht".into(),
                quantity: "1".into(),
                amount: "4.20".into(),
                detail: String::new(),
            }],
            total: "4.20".into(),
            payments: vec![pb::Labelled {
                label: "Cash".into(),
                amount: "5.00".into(),
            }],
            change: "0.80".into(),
            ..Default::default()
        })),
    };
    let first = client.submit(req.clone()).await.unwrap().into_inner();
    assert!(first.created);
    let again = client.submit(req.clone()).await.unwrap().into_inner();
    assert!(!again.created, "a retry is the same job");
    hw.wait_state(std::slice::from_ref(&job_id), "printed")
        .await;
    let jobs = p.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0]["page"]["drawer_kicks"], 2,
        "a cash sale opens the drawer"
    );
    assert!(jobs[0]["text"].as_str().unwrap().contains("1 x Borscht"));
    let got = client
        .get_job(pb::GetJobRequest { id: job_id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.state, "printed");
    assert!(got.preview.contains("Change"));

    let mut other = req.clone();
    if let Some(pb::submit_request::Document::Receipt(r)) = &mut other.document {
        r.total = "9.99".into();
    }
    let e = client.submit(other).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists);
    let mut unknown = req.clone();
    unknown.id = id();
    unknown.printer = "nope".into();
    assert_eq!(
        client.submit(unknown).await.unwrap_err().code(),
        tonic::Code::NotFound
    );
    let empty = pb::SubmitRequest {
        id: id(),
        printer: "front".into(),
        ..Default::default()
    };
    assert_eq!(
        client.submit(empty).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    let mut no_lines = req;
    no_lines.id = id();
    if let Some(pb::submit_request::Document::Receipt(r)) = &mut no_lines.document {
        r.lines.clear();
    }
    let e = client.submit(no_lines).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("lines"), "{}", e.message());
    assert_eq!(p.jobs().await.len(), 1, "nothing else printed");
}
