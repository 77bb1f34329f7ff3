//! The cloud admin's named accounts (issue 31): sign-in with a password
//! into an `HttpOnly` cookie, a CSRF token and the page's own origin on
//! every write, roles that hold (an area manager reads its stores only;
//! support reads and retries; neither writes), API tokens, the lockout,
//! no HTTP Basic, and every action audited with its account.

use crate::support::cloud::{Cloud, OWNER_PASSWORD, Rabbit};
use reqwest::Method;
use serde_json::{Value, json};

/// A form field's value as a browser sends it.
fn urlencoded(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Admin {
    base: String,
    http: reqwest::Client,
}

/// What a browser holds after signing in: its cookie and the page's CSRF
/// token.
struct Session {
    cookie: String,
    csrf: String,
}

impl Admin {
    fn new(cloud: &Cloud) -> Admin {
        Admin {
            base: format!("http://127.0.0.1:{}", cloud.admin_port),
            http: crate::support::client()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn sign_in(&self, name: &str, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/login", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "name={}&password={}",
                urlencoded(name),
                urlencoded(password)
            ))
            .send()
            .await
            .unwrap()
    }

    /// Signs in and reads the page's CSRF token.
    async fn session(&self, name: &str, password: &str) -> Session {
        let r = self.sign_in(name, password).await;
        assert_eq!(r.status(), 303, "{name} signs in");
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(part), "{part} in {set}");
        }
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = self
            .http
            .get(format!("{}/", self.base))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let csrf = html
            .split("name=\"csrf\" content=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("the page carries its CSRF token")
            .to_owned();
        Session { cookie, csrf }
    }

    /// A call with `s`'s cookie, its CSRF token unless `csrf` is false, and
    /// `origin` when given.
    async fn call(
        &self,
        s: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
        origin: Option<&str>,
    ) -> (u16, String) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", &s.cookie);
        if csrf {
            r = r.header("X-CSRF-Token", &s.csrf);
        }
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn bearer(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> u16 {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap().status().as_u16()
    }
}

/// Every write the admin API has, for a store.
fn writes(store: &str) -> Vec<(String, Value)> {
    let s = |p: &str| format!("/api/v1/stores/{store}/{p}");
    vec![
        (
            s("products"),
            json!({"sku": "TEA-1", "name": "Tea", "price_minor": 250, "tax_category": "reduced"}),
        ),
        (
            s("tax-categories"),
            json!({"code": "zero", "name": "Zero", "rate_bp": 0}),
        ),
        (s("companies"), json!({"code": "C2", "name": "Other Ltd"})),
        (
            s("staff"),
            json!({"name": "Nina New", "role": "cashier", "pin": "258036"}),
        ),
        (s("settings"), json!({"name": "Renamed"})),
        (
            s("price-lists"),
            json!({"name": "Summer", "effective_at": 1, "prices": []}),
        ),
        (s("credential/rotate"), json!({})),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_accounts_sign_in_hold_their_roles_and_every_write_needs_the_pages_csrf_token() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    cloud.add_store(&a, "S01");
    cloud.add_store(&b, "S02");
    cloud.admin_add(
        "Ari Area",
        "area_manager",
        &["S01"],
        "area manager password",
    );
    cloud.admin_add("Sam Support", "support", &[], "support desk password");
    let admin = Admin::new(&cloud);

    // Not signed in: the page sends the browser to sign in; the API says
    // 401; HTTP Basic with the old shared token is no way in.
    let r = admin
        .http
        .get(format!("{}/", admin.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let basic = admin
        .http
        .get(format!("{}/api/v1/stores", admin.base))
        .basic_auth("admin", Some(&cloud.admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert!(basic.headers().get("www-authenticate").is_none());
    // A sign-in form or a query string that does not parse: problem JSON.
    let r = admin
        .http
        .post(format!("{}/login", admin.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=only")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = admin
        .http
        .get(format!("{}/api/v1/audit?limit=many", admin.base))
        .bearer_auth(&cloud.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // The owner, through the page: a write with the CSRF token from the
    // page's own origin goes through; from another origin, or without the
    // token, it is refused and writes nothing.
    let owner = admin.session("Olga Owner", OWNER_PASSWORD).await;
    let product = format!("/api/v1/stores/{a}/products");
    let change =
        json!({"sku": "TEA-1", "name": "Green tea", "price_minor": 250, "tax_category": "reduced"});
    let feed = || {
        cloud.count(&format!(
            "SELECT count(*) AS n FROM master_changes WHERE store_id = '{a}'"
        ))
    };
    let (st, body) = admin
        .call(
            &owner,
            Method::POST,
            &product,
            Some(change.clone()),
            true,
            Some(&admin.base),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(feed(), 1);
    let (st, body) = admin
        .call(
            &owner,
            Method::POST,
            &product,
            Some(change.clone()),
            true,
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(st, 403, "another origin, with a valid session: {body}");
    assert!(body.contains("cross-origin"), "{body}");
    let (st, body) = admin
        .call(
            &owner,
            Method::POST,
            &product,
            Some(change.clone()),
            false,
            None,
        )
        .await;
    assert_eq!(st, 403, "no CSRF token: {body}");
    let forged = Session {
        cookie: owner.cookie.clone(),
        csrf: "0".repeat(64),
    };
    let (st, _) = admin
        .call(
            &forged,
            Method::POST,
            &product,
            Some(change.clone()),
            true,
            None,
        )
        .await;
    assert_eq!(st, 403, "another CSRF token");
    assert_eq!(feed(), 1, "refused writes wrote nothing");
    let (st, audit) = admin
        .call(&owner, Method::GET, "/api/v1/audit", None, false, None)
        .await;
    assert_eq!(st, 200);
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let wrote = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "master.product")
        .expect("the write is audited");
    assert_eq!(wrote["account_name"], "Olga Owner");
    assert_eq!(wrote["via"], "session");
    assert_eq!(wrote["target"], a.as_str());
    // A staff member's PIN is not kept in the audit.
    let (st, body) = admin
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/stores/{a}/staff"),
            Some(json!({"name": "Nina New", "role": "cashier", "pin": "258036"})),
            true,
            None,
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let (_, audit) = admin
        .call(&owner, Method::GET, "/api/v1/audit", None, false, None)
        .await;
    assert!(audit.contains("master.staff"), "{audit}");
    assert!(
        !audit.contains("258036"),
        "the PIN is in the audit: {audit}"
    );
    // Alarms of both stores, for the area manager's view below.
    for store in [&a, &b] {
        cloud.count(&format!(
            "WITH x AS (INSERT INTO alarms (store_id, kind, detail, raised_at) \
             VALUES ('{store}', 'test', 'alarm of {store}', 1) RETURNING 1) SELECT count(*) AS n FROM x"
        ));
    }

    // The area manager reads its store only, and writes nothing anywhere.
    let area = admin.session("Ari Area", "area manager password").await;
    let (st, stores) = admin
        .call(&area, Method::GET, "/api/v1/stores", None, false, None)
        .await;
    assert_eq!(st, 200);
    let stores: Value = serde_json::from_str(&stores).unwrap();
    let ids: Vec<&str> = stores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["store"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str()]);
    let (_, alarms) = admin
        .call(&area, Method::GET, "/api/v1/alarms", None, false, None)
        .await;
    let alarms: Value = serde_json::from_str(&alarms).unwrap();
    let of: Vec<&str> = alarms
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["store_id"].as_str().unwrap())
        .collect();
    assert_eq!(of, [a.as_str()], "only its own store's alarms");
    let (st, _) = admin
        .call(
            &area,
            Method::GET,
            &format!("/stores/{b}"),
            None,
            false,
            None,
        )
        .await;
    assert_eq!(st, 404, "another area's store is not shown");
    let (st, page) = admin
        .call(
            &area,
            Method::GET,
            &format!("/stores/{a}"),
            None,
            false,
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        !page.contains("data-product") && !page.contains("re-sends"),
        "no forms for a read-only account"
    );
    let sam = admin.session("Sam Support", "support desk password").await;
    let (st, page) = admin
        .call(
            &sam,
            Method::GET,
            &format!("/stores/{a}"),
            None,
            false,
            None,
        )
        .await;
    assert_eq!(st, 200);
    // No edge has pulled as S01 yet: support is told why it cannot
    // re-send rather than shown the button.
    assert!(
        page.contains("older than re-sends")
            && !page.contains("master/resend")
            && !page.contains("data-product"),
        "support re-sends master data and edits none"
    );
    let sam_token = cloud.api_token("Sam Support");
    let before = feed();
    for (path, body) in writes(&a) {
        for (who, s) in [("area manager", &area), ("support", &sam)] {
            let (st, said) = admin
                .call(s, Method::POST, &path, Some(body.clone()), true, None)
                .await;
            assert_eq!(st, 403, "{who} on {path}: {said}");
        }
        let st = admin
            .bearer(&sam_token, Method::POST, &path, Some(body.clone()))
            .await;
        assert_eq!(st, 403, "support's API token on {path}");
    }
    assert_eq!(feed(), before, "read-only accounts wrote nothing");
    // Support may retry a parked batch (there is none: it gets as far as
    // looking for it); an area manager may not.
    let (st, _) = admin
        .call(
            &sam,
            Method::POST,
            "/api/v1/parked/999/retry",
            None,
            true,
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = admin
        .call(
            &area,
            Method::POST,
            "/api/v1/parked/999/retry",
            None,
            true,
            None,
        )
        .await;
    assert_eq!(st, 403);
    // An API token acts without a CSRF token (it is no cookie a browser
    // sends by itself); the owner's writes.
    let st = admin
        .bearer(&cloud.admin_token, Method::POST, &product, Some(change))
        .await;
    assert_eq!(st, 201);
    // Only owners read the audit.
    let (st, _) = admin
        .call(&sam, Method::GET, "/api/v1/audit", None, false, None)
        .await;
    assert_eq!(st, 403);

    // Signing out ends the session.
    let out = admin
        .http
        .post(format!("{}/logout", admin.base))
        .header("Cookie", &area.cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", area.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let (st, _) = admin
        .call(&area, Method::GET, "/api/v1/stores", None, false, None)
        .await;
    assert_eq!(st, 401);

    // Wrong passwords lock the account after the allowed count, even for
    // the right one after; each refusal is audited.
    for _ in 0..10 {
        let r = admin.sign_in("Sam Support", "not the password").await;
        assert_eq!(r.status(), 401);
        assert!(r.headers().get("set-cookie").is_none());
    }
    let r = admin.sign_in("Sam Support", "support desk password").await;
    assert_eq!(r.status(), 401, "locked");
    let locked = r.text().await.unwrap();
    assert!(locked.contains("locked"));
    // The same answer as for a name that does not exist.
    let nobody = admin.sign_in("Nobody", "support desk password").await;
    assert_eq!(nobody.status(), 401);
    assert_eq!(nobody.text().await.unwrap(), locked);
    assert!(
        cloud.count(
            "SELECT count(*) AS n FROM admin_audit WHERE account_name = 'Sam Support' AND action = 'sign-in.refused'"
        ) >= 11
    );
}

/// The pages escape what they show: a product named with markup shows as
/// text, in a cell and in a form's value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_pages_show_markup_in_data_as_text() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    let id = uuid::Uuid::now_v7().to_string();
    cloud.add_store(&id, "S09");
    let admin = Admin::new(&cloud);
    let owner = admin.session("Olga Owner", OWNER_PASSWORD).await;
    let name = "<script>alert(1)</script>\" onmouseover='x'";
    let (st, body) = admin
        .call(
            &owner,
            Method::POST,
            &format!("/api/v1/stores/{id}/products"),
            Some(json!({"sku": "<b>X</b>", "name": name, "price_minor": 100, "tax_category": "standard"})),
            true,
            None,
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let (st, page) = admin
        .call(
            &owner,
            Method::GET,
            &format!("/stores/{id}"),
            None,
            false,
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<b>X"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover="),
        "{page}"
    );
    assert!(page.contains("<td>&lt;b&gt;X&lt;/b&gt;</td>"), "{page}");
}

/// The admin for the internet is TLS: a client trusting the certificate
/// signs in and gets a `Secure` cookie; one that does not is refused at the
/// handshake; plain HTTP from beyond this machine is sent to TLS before a
/// password is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_is_served_over_tls_and_plain_http_only_on_this_machine() {
    let rabbit = Rabbit::start();
    let tls = crate::support::app::free_port();
    // This test's loopback stands for the internet: plain HTTP only for a
    // network it is not on.
    let cloud = Cloud::start_with(
        &rabbit,
        &[
            ("OUTPOST__CLOUD__ADMIN_TLS_PORT", &tls.to_string()),
            ("OUTPOST__CLOUD__ADMIN_PLAIN_NETWORKS", "192.0.2.0/24"),
        ],
    );
    let admin = Admin::new(&cloud);
    let r = admin.sign_in("Olga Owner", OWNER_PASSWORD).await;
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://127.0.0.1:{tls}/login").as_str()
    );
    assert!(r.headers().get("set-cookie").is_none());

    let ca = std::fs::read_to_string(cloud.certs.join("ca.pem")).unwrap();
    let over_tls = Admin {
        base: format!("https://localhost:{tls}"),
        http: crate::support::client()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let r = over_tls.sign_in("Olga Owner", OWNER_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("; Secure"), "{set}");
    let refused = crate::edge::lan_tls::handshake(tls, rustls::RootCertStore::empty()).await;
    assert!(
        refused.is_err(),
        "a client without the certificate's CA got in"
    );
}

/// The console manages accounts: revoking an API token refuses it at once;
/// a new password ends the account's sessions and retires the old one;
/// a disabled account cannot sign in (answered as a wrong password) and its
/// sessions and tokens are refused until it is enabled again. Each step is
/// audited; unknown accounts and short passwords get a clear refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_revokes_tokens_changes_passwords_and_disables_accounts() {
    let rabbit = Rabbit::start();
    let cloud = Cloud::start(&rabbit);
    cloud.admin_add("Sam Support", "support", &[], "support desk password");
    let admin = Admin::new(&cloud);
    let name = "Sam Support";
    let reads = |token: String| {
        let admin = &admin;
        async move {
            admin
                .bearer(&token, Method::GET, "/api/v1/stores", None)
                .await
        }
    };
    let session_reads = |s: &Session| {
        let admin = &admin;
        let s = Session {
            cookie: s.cookie.clone(),
            csrf: s.csrf.clone(),
        };
        async move {
            admin
                .call(&s, Method::GET, "/api/v1/stores", None, false, None)
                .await
                .0
        }
    };

    let token = cloud.api_token(name);
    let session = admin.session(name, "support desk password").await;
    assert_eq!(reads(token.clone()).await, 200);
    let (ok, said) = cloud.console(
        &[
            "cloud",
            "admin-token-revoke",
            "--name",
            name,
            "--label",
            "tests",
        ],
        "",
    );
    assert!(ok, "{said}");
    assert!(said.contains("1 API token(s)"), "{said}");
    assert_eq!(
        reads(token).await,
        401,
        "a revoked token is refused at once"
    );
    assert_eq!(
        session_reads(&session).await,
        200,
        "the session is another thing"
    );

    // A new password: the session ends, the old password no longer opens one.
    let (ok, said) = cloud.console(&["cloud", "admin-password", "--name", name], "too short");
    assert!(!ok && said.contains("at least 12 characters"), "{said}");
    let (ok, said) = cloud.console(
        &["cloud", "admin-password", "--name", name],
        "a brand new desk password",
    );
    assert!(ok, "{said}");
    assert_eq!(session_reads(&session).await, 401);
    assert_eq!(
        admin.sign_in(name, "support desk password").await.status(),
        401
    );
    let session = admin.session(name, "a brand new desk password").await;

    // Disabled: refused like a wrong password, its session and token too.
    let token = cloud.api_token(name);
    let (ok, said) = cloud.console(&["cloud", "admin-disable", "--name", name], "");
    assert!(ok, "{said}");
    assert_eq!(session_reads(&session).await, 401);
    assert_eq!(reads(token.clone()).await, 401);
    let disabled = admin.sign_in(name, "a brand new desk password").await;
    let wrong = admin.sign_in(name, "not the password at all").await;
    assert_eq!(disabled.status(), wrong.status());
    assert_eq!(disabled.text().await.unwrap(), wrong.text().await.unwrap());
    let (_, listed) = cloud.console(&["cloud", "admin-list"], "");
    assert!(
        listed.contains("Sam Support\tsupport\tall\tdisabled\ttests"),
        "{listed}"
    );
    let (ok, said) = cloud.console(&["cloud", "admin-enable", "--name", name], "");
    assert!(ok, "{said}");
    assert_eq!(
        reads(token).await,
        200,
        "an enabled account's token works again"
    );
    admin.session(name, "a brand new desk password").await;

    let (ok, said) = cloud.console(&["cloud", "admin-disable", "--name", "Nobody"], "");
    assert!(!ok && said.contains("Nobody"), "{said}");
    assert_eq!(
        cloud.count(
            "SELECT count(*) AS n FROM admin_audit WHERE account_name = '(console)' AND via = 'cli' AND target = 'Sam Support' \
             AND action IN ('api-token.revoke', 'account.password', 'account.disable', 'account.enable')"
        ),
        4
    );
}
