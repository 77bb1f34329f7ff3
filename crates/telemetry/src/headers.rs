//! The security headers every HTTP surface of Outpost answers with (the
//! api's pages and API, hw-proxy, the realtime hub, the cloud's admin): no
//! page may be framed by another site (clickjacking a till's Pay button or
//! a manager's price form), no response is sniffed as another type, no
//! address leaks in a Referer, and a response without a policy of its own
//! may load nothing. A page sets its own `Content-Security-Policy`, which
//! must end in [`FRAME_ANCESTORS`]; the middleware leaves headers a
//! response already has.

use actix_web::middleware::DefaultHeaders;

/// The part of every page's policy that refuses framing.
pub const FRAME_ANCESTORS: &str = "frame-ancestors 'none'";

/// The policy of a response that sets none (JSON, images, problem bodies).
pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The middleware: `app.wrap(outpost_telemetry::headers::security())`.
pub fn security() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", DEFAULT_CSP))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
}

/// Whether an `Origin` the browser sent names the server the request came
/// to (its `Host`); no `Origin`: not a browser's cross-site request. A
/// cookie-authenticated change must pass this (the api's pages, the cloud's
/// admin).
pub fn same_origin(req: &actix_web::HttpRequest) -> bool {
    use actix_web::http::header;
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin = origin
        .to_str()
        .ok()
        .and_then(|o| o.parse::<actix_web::http::Uri>().ok());
    match (origin, host) {
        (Some(o), Some(h)) => o
            .authority()
            .is_some_and(|a| a.as_str().eq_ignore_ascii_case(h)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpResponse, test, web};

    #[actix_web::test]
    async fn every_response_carries_them_and_a_pages_own_policy_is_kept() {
        let app = test::init_service(
            App::new()
                .wrap(security())
                .route(
                    "/json",
                    web::get().to(|| async { HttpResponse::Ok().json(1) }),
                )
                .route(
                    "/page",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .insert_header((
                                "Content-Security-Policy",
                                format!("default-src 'self'; {FRAME_ANCESTORS}"),
                            ))
                            .body("<p>")
                    }),
                ),
        )
        .await;
        for (path, csp) in [
            ("/json", DEFAULT_CSP.to_owned()),
            ("/page", format!("default-src 'self'; {FRAME_ANCESTORS}")),
            ("/nowhere", DEFAULT_CSP.to_owned()),
        ] {
            let res =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            let h = |k: &str| res.headers().get(k).unwrap().to_str().unwrap().to_owned();
            assert_eq!(h("Content-Security-Policy"), csp, "{path}");
            assert_eq!(h("X-Frame-Options"), "DENY", "{path}");
            assert_eq!(h("X-Content-Type-Options"), "nosniff", "{path}");
            assert_eq!(h("Referrer-Policy"), "no-referrer", "{path}");
        }
    }
}
