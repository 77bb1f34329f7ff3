//! hw-proxy against the virtual printer, both as real processes: paper out,
//! a printer switched off, hw-proxy SIGKILLed mid-send, a late drawer kick,
//! and bad jobs.

use crate::both_backends;
use crate::support::app::{Backend, Opts, Store, cash_sale, key, spawn_opts};
use crate::support::printer::{
    Hw, Printer, http, id, png_size, printed_numbers, receipt_job, wait_until,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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

const HW_TOKEN: &str = "hw-token-0123456789abcdef";

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
    assert!(page.text().await.unwrap().contains("token-form"));
    let page = http()
        .get(url("/"))
        .header("Cookie", format!("other=1; outpost_hw={HW_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
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

/// The edge with receipts going to `hw`, and these other settings.
fn edge_printing_to(
    store: &Store,
    hw: &Hw,
    more: &[(&'static str, &str)],
) -> crate::support::app::App {
    let mut env = vec![("OUTPOST__PRINTING__HW_PROXY_URL", hw.grpc_url())];
    env.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
    spawn_opts(
        store,
        &Opts {
            env,
            ..Opts::default()
        },
    )
}

async fn a_paid_sale_prints_its_receipt_once_with_the_drawer_for_cash(b: Backend) {
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let store = Store::new(b);
    let app = edge_printing_to(&store, &hw, &[]);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let cash = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[(&milk, 2000)], 2 * price),
        )
        .await;
    assert_eq!(cash.status, 201, "{}", cash.body);
    let mut card_body = cash_sale(&[(&milk, 1000)], price);
    card_body["payments"] =
        json!([{"method": "card", "amount_minor": price, "card_type": "VISA", "reference": "T-1"}]);
    let card = app.sell(&till.cashier, &key(), &card_body).await;
    assert_eq!(card.status, 201, "{}", card.body);
    wait_until("two receipts", || async { p.jobs().await.len() >= 2 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = p.jobs().await;
    assert_eq!(jobs.len(), 2, "one receipt per sale: {jobs:?}");
    let numbers: Vec<&str> = jobs
        .iter()
        .map(|j| j["page"]["barcodes"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [
            cash.body["number"].as_str().unwrap(),
            card.body["number"].as_str().unwrap()
        ]
    );
    assert_eq!(jobs[0]["page"]["drawer_kicks"], 2, "cash opens the drawer");
    assert_eq!(jobs[1]["page"]["drawer_kicks"], 0, "a card sale does not");
    let text = jobs[0]["text"].as_str().unwrap();
    let total = cash.body["total_minor"].as_i64().unwrap();
    let total = crate::support::app::euros(total);
    assert!(
        text.lines()
            .any(|l| l.starts_with("TOTAL") && l.ends_with(&total)),
        "{text}"
    );
    assert!(text.contains("2 x ") && text.contains("Cash"), "{text}");
    assert!(jobs[1]["text"].as_str().unwrap().contains("Card VISA"));
    assert_eq!(jobs[0]["page"]["qr"][0], cash.body["id"]);
}
both_backends!(a_paid_sale_prints_its_receipt_once_with_the_drawer_for_cash);

/// Kitchen tickets from the api: a sale's kitchen lines on the kitchen
/// printer (nothing else there), a cancellation slip when the order is
/// voided; and each refund's own receipt with what it took back.
async fn kitchen_tickets_cancellations_and_refund_receipts_print_from_the_api(b: Backend) {
    let front = Printer::start().await;
    let kitchen = Printer::start().await;
    let mut hw = Hw::new(front.port, &[]);
    hw.printers(&[("front", front.port, None), ("kitchen", kitchen.port, None)])
        .await;
    let store = Store::new(b);
    let app = edge_printing_to(
        &store,
        &hw,
        &[("OUTPOST__PRINTING__KITCHEN_PRINTER", "kitchen")],
    );
    let till = app.register("Till 1").await;
    let (milk, _, milk_price) = app.barcode(&till.cashier, "milk").await;
    let (espresso, _, espresso_price) = app.barcode(&till.cashier, "Espresso").await;
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(
                &[(&milk, 3000), (&espresso, 1000)],
                3 * milk_price + espresso_price,
            ),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    wait_until("the kitchen ticket", || async {
        kitchen.jobs().await.len() == 1
    })
    .await;
    let ticket = kitchen.jobs().await[0]["text"].as_str().unwrap().to_owned();
    let number = sale.body["number"].as_str().unwrap();
    assert!(
        ticket.contains(number) && ticket.contains("1 x Espresso") && !ticket.contains("milk"),
        "only the kitchen's lines: {ticket}"
    );
    assert!(!ticket.contains("CANCELLED"));

    // An open order with a coffee, voided: the kitchen gets a cancellation.
    let open = app
        .sell(
            &till.cashier,
            &key(),
            &json!({"lines": [{"barcode": espresso, "quantity_milli": 2000}]}),
        )
        .await;
    assert_eq!(open.body["status"], "open", "{}", open.body);
    let sam = app.staff_id("Sam Supervisor", Some(&till.device)).await;
    let approval = json!({"staff_id": sam, "pin": app.pins["Sam Supervisor"]});
    let v = app
        .post(
            &format!("/api/v1/orders/{}/void", open.body["id"].as_str().unwrap()),
            &till.cashier,
            json!({"reason": "customer left", "approval": approval}),
        )
        .await;
    assert_eq!(v.body["status"], "voided", "{}", v.body);
    wait_until("the ticket and its cancellation", || async {
        kitchen.jobs().await.len() == 3
    })
    .await;
    let jobs = kitchen.jobs().await;
    let (made, cancelled) = (
        jobs[1]["text"].as_str().unwrap(),
        jobs[2]["text"].as_str().unwrap(),
    );
    let open_number = open.body["number"].as_str().unwrap();
    assert!(
        made.contains("2 x Espresso") && !made.contains("CANCELLED"),
        "{made}"
    );
    assert!(
        cancelled.contains("CANCELLED")
            && cancelled.contains(open_number)
            && cancelled.contains("2 x Espresso"),
        "{cancelled}"
    );

    // Two partial returns of the milk: each prints what it took back.
    let line = sale.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["qty_milli"] == 3000)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = sale.body["id"].as_str().unwrap();
    let refund = |qty: i64, method: &str| {
        app.req(
            reqwest::Method::POST,
            &format!("/api/v1/orders/{id}/refunds"),
        )
        .bearer(&till.cashier)
        .header("Idempotency-Key", &key())
        .json(
            &json!({"lines": [{"line_id": line, "quantity_milli": qty}], "method": method,
                      "reason": "damaged", "approval": approval}),
        )
        .send()
    };
    assert_eq!(refund(1000, "cash").await.status, 200);
    assert_eq!(refund(2000, "card").await.status, 200);
    wait_until("the sale's receipt and two refund receipts", || async {
        front.jobs().await.len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let jobs = front.jobs().await;
    assert_eq!(
        jobs.len(),
        3,
        "no receipt for the voided open order: {jobs:?}"
    );
    let amount = |minor: i64| crate::support::app::euros(-minor);
    for (job, qty, method, kicks) in [
        (&jobs[1], 1, "Cash refunded", 2),
        (&jobs[2], 2, "Card refunded", 0),
    ] {
        let text = job["text"].as_str().unwrap();
        let total = amount(qty * milk_price);
        assert!(text.contains("REFUND") && text.contains(number), "{text}");
        assert!(
            text.contains(&format!("{qty} x Whole milk")) && !text.contains("Espresso"),
            "only what this refund took back: {text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("TOTAL") && l.ends_with(&total)),
            "{total}: {text}"
        );
        assert!(text.contains(method), "{text}");
        assert_eq!(
            job["page"]["drawer_kicks"], kicks,
            "the drawer opens for cash going out"
        );
    }
}
both_backends!(kitchen_tickets_cancellations_and_refund_receipts_print_from_the_api);

#[tokio::test]
async fn receipts_wait_for_hw_proxy_and_a_restarted_edge_prints_none_twice() {
    let p = Printer::start().await;
    let mut hw = Hw::new(p.port, &[]);
    let store = Store::new(Backend::Sqlite);
    let mut app = edge_printing_to(&store, &hw, &[]);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let r = app
            .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
            .await;
        assert_eq!(r.status, 201, "hw-proxy being away never stops a sale");
        numbers.push(r.body["number"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    hw.restart().await;
    wait_until("three receipts", || async { p.jobs().await.len() >= 3 }).await;
    // The edge dies and comes back: what it already handed over is not sent again.
    app.kill();
    drop(app);
    let app = edge_printing_to(&store, &hw, &[]);
    let _ = app.manager().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(printed_numbers(&p).await, numbers, "each once, in order");
}

/// The link to hw-proxy goes silent (connections open, nothing answered):
/// sales go on, and once hw-proxy answers again the receipts print, each
/// once and in order, on a fresh connection (the silent one is never
/// trusted again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_print_once_after_the_link_to_hw_proxy_went_silent_and_came_back() {
    use crate::support::cloud::Proxy;
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let proxy = Proxy::start(crate::support::app::port_of(&hw.grpc_url())).await;
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(
        &store,
        &Opts {
            env: vec![(
                "OUTPOST__PRINTING__HW_PROXY_URL",
                format!("http://127.0.0.1:{}", proxy.port),
            )],
            ..Opts::default()
        },
    );
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sell = || async {
        let t0 = Instant::now();
        let r = app
            .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "a sale waited on hw-proxy"
        );
        r.body["number"].as_str().unwrap().to_owned()
    };
    let mut numbers = vec![sell().await];
    wait_until("the first receipt", || async { !p.jobs().await.is_empty() }).await;

    proxy.blackhole();
    numbers.push(sell().await);
    numbers.push(sell().await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    wait_until("every receipt", || async { p.jobs().await.len() >= 3 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(printed_numbers(&p).await, numbers, "each once, in order");
}

/// A sale refunded while hw-proxy was away still gets its receipt, showing
/// the sale as paid, and the refund prints its own, each once.
#[tokio::test]
async fn a_sale_refunded_before_its_receipt_printed_still_prints_as_paid() {
    let p = Printer::start().await;
    let mut hw = Hw::new(p.port, &[]);
    let store = Store::new(Backend::Sqlite);
    let app = edge_printing_to(&store, &hw, &[]);
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sale = app
        .sell(
            &till.cashier,
            &key(),
            &cash_sale(&[(&milk, 3000)], 3 * price),
        )
        .await;
    assert_eq!(sale.status, 201);
    let (id, number) = (
        sale.body["id"].as_str().unwrap(),
        sale.body["number"].as_str().unwrap(),
    );
    let line = sale.body["lines"][0]["id"].as_str().unwrap();
    let sam = app.staff_id("Sam Supervisor", Some(&till.device)).await;
    let r = app
        .req(
            reqwest::Method::POST,
            &format!("/api/v1/orders/{id}/refunds"),
        )
        .bearer(&till.cashier)
        .header("Idempotency-Key", &key())
        .json(
            &json!({"lines": [{"line_id": line, "quantity_milli": 3000}], "method": "cash",
                      "reason": "damaged",
                      "approval": {"staff_id": sam, "pin": app.pins["Sam Supervisor"]}}),
        )
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    hw.restart().await;
    wait_until("the sale's receipt and the refund's", || async {
        p.jobs().await.len() == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = p.jobs().await;
    assert_eq!(jobs.len(), 2, "each once: {jobs:?}");
    let (paid, refund) = (
        jobs[0]["text"].as_str().unwrap(),
        jobs[1]["text"].as_str().unwrap(),
    );
    let total = crate::support::app::euros(3 * price);
    assert!(
        paid.contains("3 x Whole milk") && !paid.contains("REFUND"),
        "{paid}"
    );
    assert!(
        paid.lines()
            .any(|l| l.starts_with("TOTAL") && l.ends_with(&total) && !l.contains('-')),
        "the sale's total as paid, {total}: {paid}"
    );
    assert!(
        refund.contains("REFUND") && refund.contains(number),
        "{refund}"
    );
}

/// A receipt for a printer its hw-proxy does not have yet (NOT_FOUND: one
/// just added on the manager page, its set still on the way) waits, and
/// prints once when the printer is there.
#[tokio::test]
async fn a_receipt_for_a_printer_hw_proxy_does_not_have_yet_waits_and_prints_once() {
    let p = Printer::start().await;
    let other = Printer::start().await;
    let mut hw = Hw::start(other.port, &[]).await;
    let store = Store::new(Backend::Sqlite);
    let app = edge_printing_to(
        &store,
        &hw,
        &[("OUTPOST__PRINTING__RECEIPT_PRINTER", "later")],
    );
    let till = app.register("Till 1").await;
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let sale = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(sale.status, 201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        hw.get("/api/v1/jobs").await["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    hw.kill();
    hw.printers(&[("front", other.port, None), ("later", p.port, None)])
        .await;
    wait_until("the receipt", || async { !p.jobs().await.is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        printed_numbers(&p).await,
        [sale.body["number"].as_str().unwrap()]
    );
    assert!(other.jobs().await.is_empty());
}

#[tokio::test]
async fn a_kitchen_ticket_moves_to_the_fallback_printer_when_its_own_stays_away() {
    let grill = Printer::start().await;
    let front = Printer::start().await;
    let mut hw = Hw::new(grill.port, &[("OUTPOST__HW__FALLBACK_AFTER_S", "1")]);
    hw.printers(&[
        ("grill", grill.port, Some("front")),
        ("front", front.port, None),
    ])
    .await;
    grill.mode("cover_open").await;
    let ticket = |i: &str| {
        json!({"id": i, "printer": "grill", "kind": "kitchen", "ticket": {
            "order_number": "S01-R1-000060", "time": "10:16",
            "lines": [{"quantity": "2", "name": "Burger", "note": "no onions"}]
        }})
    };
    let t = id();
    assert_eq!(hw.post("/api/v1/jobs", &ticket(&t)).await.0, 201);
    hw.wait_state(std::slice::from_ref(&t), "printed").await;
    let j = hw.job(&t).await;
    assert_eq!(j["printer"], "front", "{j}");
    assert!(grill.jobs().await.is_empty());
    let printed = front.jobs().await;
    assert_eq!(printed.len(), 1);
    assert!(printed[0]["text"].as_str().unwrap().contains("2 x Burger"));
    // A receipt for the away printer waits for it instead.
    let mut r = receipt_job(&id(), "S01-R1-000061");
    r["printer"] = json!("grill");
    assert_eq!(hw.post("/api/v1/jobs", &r).await.0, 201);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(front.jobs().await.len(), 1, "receipts do not move");
    grill.mode("ready").await;
    wait_until("the receipt on its own printer", || async {
        grill.jobs().await.len() == 1
    })
    .await;
}

#[tokio::test]
async fn the_queue_page_shows_a_printer_away_and_cancels_and_reprints_in_a_browser() {
    use crate::support::browser::{browser, click, text};
    let p = Printer::start().await;
    let hw = Hw::start(p.port, &[]).await;
    let done = id();
    assert_eq!(
        hw.post("/api/v1/jobs", &receipt_job(&done, "S01-R1-000070"))
            .await
            .0,
        201
    );
    hw.wait_state(std::slice::from_ref(&done), "printed").await;
    p.mode("off").await;
    let waiting = id();
    assert_eq!(
        hw.post("/api/v1/jobs", &receipt_job(&waiting, "S01-R1-000071"))
            .await
            .0,
        201
    );
    wait_until("the printer to be seen away", || async {
        hw.front().await["state"]["reachable"] == false
    })
    .await;
    let (c, _driver) = browser().await;
    c.goto(&format!("{}/", hw.base)).await.unwrap();
    assert!(text(&c, "#printer-front").await.contains("unreachable"));
    click(&c, &format!("#job-{waiting} button[data-act=cancel]")).await;
    wait_until("the cancel", || async {
        hw.job(&waiting).await["state"] == "cancelled"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    click(&c, &format!("#job-{done} button[data-act=reprint]")).await;
    wait_until("the reprint to be queued", || async {
        hw.get("/api/v1/jobs?state=queued").await["jobs"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;
    p.mode("ready").await;
    wait_until("the reprint on paper", || async {
        p.jobs().await.len() == 2
    })
    .await;
    assert_eq!(
        printed_numbers(&p).await,
        ["S01-R1-000070", "S01-R1-000070"],
        "the cancelled one never prints"
    );
    c.close().await.unwrap();
}

/// A black square PNG, `side` pixels wide.
fn square_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, side, side);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .unwrap()
        .write_image_data(&vec![0; (side * side) as usize])
        .unwrap();
    out
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A printer added on the manager page reaches a hw-proxy that had none,
/// prints the register's receipts with its logo, survives hw-proxy's
/// restart; bad settings are refused by name with nothing stored; the
/// register sees its printer's queue, reprints, and gets the receipt's
/// picture; a printer with jobs waiting is not removed.
async fn printers_configured_on_the_manager_page_print_with_their_logo(b: Backend) {
    let p = Printer::start().await;
    let mut hw = Hw::bare().await;
    let store = Store::new(b);
    let app = spawn_opts(&store, &Opts::default());
    let till = app.register("Till 1").await;
    let m = &till.manager;
    let put = |id: &str, body: Value| {
        app.req(reqwest::Method::PUT, &format!("/api/v1/printers/{id}"))
            .bearer(m)
            .json(&body)
            .send()
    };
    let front = json!({
        "hw_proxy_url": hw.grpc_url(),
        "address": format!("tcp://127.0.0.1:{}", p.port),
        "width": 42,
        "role": "receipt",
        "logo_png_base64": b64(&square_png(60)),
    });
    // Bad settings: refused by name, nothing stored, hw-proxy untouched.
    for (change, status, says) in [
        (json!({"address": "10.0.0.9"}), 422, "tcp://"),
        (json!({"width": 4}), 422, "width"),
        (json!({"code_pages": ["CP1252"]}), 422, "code page"),
        (json!({"role": "label"}), 422, "role"),
        (
            json!({"hw_proxy_url": "hw-proxy:7072"}),
            422,
            "hw_proxy_url",
        ),
        (json!({"device_id": "no-such-register"}), 422, "register"),
        (json!({"logo_png_base64": "not base64!"}), 400, "base64"),
        (
            json!({"logo_png_base64": b64(b"GIF89a not a png")}),
            422,
            "PNG",
        ),
        (
            json!({"logo_png_base64": b64(&vec![0; 300 * 1024])}),
            413,
            "larger",
        ),
        (json!({"colour": "red"}), 400, "unknown field"),
    ] {
        let mut body = front.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = put("front", body).await;
        r.assert_problem(status);
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{change}: {}",
            r.body
        );
    }
    let r = put("bad id", front.clone()).await;
    r.assert_problem(422);
    let r = app
        .req(reqwest::Method::PUT, "/api/v1/printers/front")
        .bearer(&till.cashier)
        .json(&front)
        .send()
        .await;
    r.assert_problem(403);
    let listed = app.get("/api/v1/printers", m).await;
    assert_eq!(listed.body["printers"], json!([]), "{}", listed.body);
    assert_eq!(hw.get("/api/v1/printers").await["printers"], json!([]));

    // A sale while no printer takes receipts prints nothing, then or once
    // one is added (the feed passes over it within a second).
    let (milk, _, price) = app.barcode(&till.cashier, "milk").await;
    let unprinted = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(unprinted.status, 201, "{}", unprinted.body);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Saved: hw-proxy takes it at once.
    let r = put("front", front.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pushed"][hw.grpc_url()]["ok"], true, "{}", r.body);
    let on_hw = hw.front().await;
    assert_eq!(
        (on_hw["id"].as_str(), on_hw["managed"].as_bool()),
        (Some("front"), Some(true))
    );
    assert_eq!(on_hw["width"], 42);
    let listed = app.get("/api/v1/printers", m).await;
    assert_eq!(
        listed.body["printers"][0]["applied"], true,
        "{}",
        listed.body
    );
    assert_eq!(listed.body["printers"][0]["has_logo"], true);

    let sale = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    wait_until("the receipt", || async { !p.jobs().await.is_empty() }).await;
    let text = p.jobs().await[0]["text"].as_str().unwrap().to_owned();
    // 60 dots of logo centred on a 504-dot (42 × 12) line, first of all.
    assert!(text.starts_with("[image 504x60]"), "{text}");
    assert!(
        text.contains(sale.body["number"].as_str().unwrap()),
        "{text}"
    );

    // The register: its printer, the receipt's job, a reprint, a picture.
    let q = app.get("/api/v1/printing/jobs", &till.cashier).await;
    assert_eq!(q.status, 200, "{}", q.body);
    assert_eq!(q.body["printer"], "front");
    assert_eq!(q.body["state"]["ready"], true, "{}", q.body);
    let job = q.body["jobs"][0].clone();
    assert_eq!(
        (job["kind"].as_str(), job["state"].as_str()),
        (Some("receipt"), Some("printed"))
    );
    let again = app
        .post(
            &format!(
                "/api/v1/printing/jobs/{}/reprint",
                job["id"].as_str().unwrap()
            ),
            &till.cashier,
            json!({"id": id()}),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    wait_until("the reprint", || async { p.jobs().await.len() == 2 }).await;
    let r = app
        .post(
            "/api/v1/printing/jobs/nope/cancel",
            &till.cashier,
            json!({}),
        )
        .await;
    r.assert_problem(404);
    let png = app
        .http
        .get(format!(
            "{}/api/v1/orders/{}/receipt.png",
            app.base,
            sale.body["id"].as_str().unwrap()
        ))
        .bearer_auth(&till.cashier)
        .send()
        .await
        .unwrap();
    assert_eq!(png.status(), 200);
    let png = png.bytes().await.unwrap();
    let d = png::Decoder::new(std::io::Cursor::new(png.to_vec()))
        .read_info()
        .unwrap();
    assert_eq!(d.info().width, 504, "the printer's width in dots");

    // hw-proxy restarted: it still drives the edge's printer.
    hw.kill();
    hw.restart().await;
    assert_eq!(hw.front().await["managed"], true);
    p.mode("paper_out").await;
    let held = app
        .sell(&till.cashier, &key(), &cash_sale(&[(&milk, 1000)], price))
        .await;
    assert_eq!(held.status, 201);
    wait_until("a job waiting for paper", || async {
        hw.front().await["jobs"]["queued"] == 1
    })
    .await;
    let r = app
        .req(reqwest::Method::DELETE, "/api/v1/printers/front")
        .bearer(m)
        .send()
        .await;
    r.assert_problem(409);
    assert!(
        r.body["detail"].as_str().unwrap().contains("waiting"),
        "{}",
        r.body
    );
    p.mode("ready").await;
    wait_until("the waiting receipt", || async {
        p.jobs().await.len() == 3
    })
    .await;
    // Removed while its hw-proxy is down: taken off it once it is back.
    hw.kill();
    let r = app
        .req(reqwest::Method::DELETE, "/api/v1/printers/front")
        .bearer(m)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pushed"][hw.grpc_url()]["ok"], false, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/printers", m).await.body["printers"],
        json!([])
    );
    hw.restart().await;
    wait_until("hw-proxy to let go of the removed printer", || async {
        hw.get("/api/v1/printers").await["printers"] == json!([])
    })
    .await;
    let audit = app.get("/api/v1/audit", m).await;
    let actions: Vec<&str> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"printer.added") && actions.contains(&"printer.removed"),
        "{actions:?}"
    );
}
both_backends!(printers_configured_on_the_manager_page_print_with_their_logo);

/// In headless Chromium: a manager adds a printer on the manager page; a
/// sale at the register shows the receipt as that printer prints it, and
/// the register's printer panel lists the printed job and reprints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_added_on_the_manager_page_shows_on_the_register_in_a_browser() {
    use crate::support::browser::{
        browser, click, open_shift_as_cashier, text, type_into, visible,
    };
    use fantoccini::key::Key;
    let p = Printer::start().await;
    let hw = Hw::bare().await;
    let store = Store::new(Backend::Sqlite);
    let app = spawn_opts(&store, &Opts::default());
    let (milk, _, price) = {
        let m = app.manager().await;
        app.barcode(&m, "milk").await
    };
    let (c, _driver) = browser().await;
    c.goto(&format!("{}/admin", app.base)).await.unwrap();
    type_into(&c, "#login-pin", &app.pins["Maria Manager"]).await;
    click(&c, "#login-go").await;
    visible(&c, "#tabs button[data-tab=Printers]").await;
    click(&c, "#tabs button[data-tab=Printers]").await;
    visible(&c, "#printer-address").await;
    type_into(&c, "#printer-id", "front").await;
    type_into(&c, "#printer-hw_proxy_url", &hw.grpc_url()).await;
    type_into(
        &c,
        "#printer-address",
        &format!("tcp://127.0.0.1:{}", p.port),
    )
    .await;
    let width = visible(&c, "#printer-width").await;
    width.clear().await.unwrap();
    width.send_keys("42").await.unwrap();
    click(&c, "#main form button[type=submit]").await;
    wait_until("the printer ready on the manager page", || async {
        // The tab shows the printers as they were when it opened.
        tokio::time::sleep(Duration::from_millis(200)).await;
        click(&c, "#tabs button[data-tab=Printers]").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.find(fantoccini::Locator::Css("#printer-front"))
            .await
            .is_ok()
            && text(&c, "#printer-front").await.contains("ready")
    })
    .await;

    c.goto(&app.base).await.unwrap();
    open_shift_as_cashier(&c, &app).await;
    visible(&c, "#scan")
        .await
        .send_keys(&format!("{milk}{}", char::from(Key::Enter)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(&c, "#pay-cash").await;
    let cash = crate::support::app::euros(price);
    visible(&c, "#pay-tendered")
        .await
        .send_keys(&cash)
        .await
        .unwrap();
    click(&c, "#pay-confirm").await;
    visible(&c, "#receipt-picture").await;
    let width = c
        .execute(
            "return document.querySelector('#receipt-picture').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        width,
        json!(504),
        "the picture is the printer's 42 columns of 12 dots"
    );
    wait_until("the receipt on paper", || async {
        p.jobs().await.len() == 1
    })
    .await;
    click(&c, "#receipt-done").await;
    visible(&c, "#print-jobs li.job-printed button").await;
    assert!(text(&c, "#printer-state").await.contains("ready"));
    click(&c, "#print-jobs li.job-printed button").await;
    wait_until("the reprint on paper", || async {
        p.jobs().await.len() == 2
    })
    .await;
    c.close().await.unwrap();
}
