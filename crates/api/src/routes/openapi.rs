//! `/openapi.json`: the OpenAPI document of the edge API, generated from the
//! handlers themselves. Each handler carries its operation
//! (`#[utoipa::path]`: parameters, body, responses, security) and is
//! registered once through utoipa-actix-web, which serves it and adds its
//! operation in the same call; request and response schemas derive from the
//! types the handlers parse and answer with (`views`). This module holds
//! what every operation shares: the security schemes, the problem responses
//! and the document's frame.

use actix_web::{HttpResponse, web};
use outpost_telemetry::problem::{self, Problem};
use std::collections::BTreeMap;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The security scheme of a staff session: `Authorization: Bearer <token>`
/// from `POST /api/v1/sessions`.
pub const SESSION: &str = "session";
/// The security scheme of a paired device: its `X-Device-Token`.
pub const DEVICE_TOKEN: &str = "device_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Outpost edge API",
        description = "The store's HTTP API on the LAN. Errors are RFC 9457 problem JSON \
                       (`application/problem+json`)."
    ),
    components(schemas(Problem)),
    modifiers(&Schemes)
)]
struct Frame;

struct Schemes;

impl Modify for Schemes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            SESSION,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A staff member's session token from POST /api/v1/sessions. The register and manager pages send X-Outpost-Page (register or office) instead: their session is the HttpOnly cookie that sign-in set, taken only with that header and from the edge's own origin.",
                    ))
                    .build(),
            ),
        );
        c.add_security_scheme(
            DEVICE_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Device-Token",
                "A paired register's or display's token from POST /api/v1/devices",
            ))),
        );
    }
}

/// The document before any operation is added: title, version, the problem
/// schema and the security schemes.
pub fn frame() -> utoipa::openapi::OpenApi {
    let mut api = Frame::openapi();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api
}

/// Completes the collected document: every operation may also fail the way
/// any request can (the server busy, the database away), in problem JSON.
pub fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            op.responses
                .responses
                .entry("default".into())
                .or_insert_with(|| {
                    problem_response(
                        "Any other failure: 503 while the server is busy or its database is \
                     away, 500 (with no internals) when the fault is ours",
                    )
                });
        }
    }
    api
}

/// Serves `doc` (serialized once) at `/openapi.json`.
pub fn serve(doc: &utoipa::openapi::OpenApi) -> actix_web::Resource {
    let body = web::Bytes::from(doc.to_json().unwrap_or_default());
    web::resource("/openapi.json").route(web::get().to(move || {
        let body = body.clone();
        async move {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(body)
        }
    }))
}

fn problem_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            problem::CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// Named sets of problem responses an operation lists after its success
/// (`responses((status = 200, …), Unauthorized, NotFound)`).
macro_rules! problems {
    ($($(#[$doc:meta])* $name:ident { $($status:literal => $what:literal),+ $(,)? })*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$(($status.to_owned(), problem_response($what))),+].into_iter().collect()
            }
        }
    )*};
}

problems! {
    /// A malformed request.
    BadRequest {
        "400" => "The body, the query or a header is malformed (JSON of the wrong shape, \
                  unknown fields, an Idempotency-Key that is not a UUID)",
    }
    /// What a JSON body can get wrong beyond its shape.
    BodyLimits {
        "413" => "The body is larger than server.max_body_bytes",
        "415" => "The body is not sent as application/json",
    }
    /// A session is needed and none valid was sent.
    Unauthorized {
        "401" => "No valid session (or device token): sign in first",
    }
    /// The role may not do this.
    Forbidden {
        "403" => "The signed-in role may not do this (and no supervisor approved it)",
    }
    NotFound {
        "404" => "No such record",
    }
    Conflict {
        "409" => "Conflicts with the current state (or an Idempotency-Key reused with \
                  another request)",
    }
    /// Well-formed but refused by the store's rules.
    Unprocessable {
        "422" => "Well-formed, but cannot be carried out as given",
    }
    /// A wrong PIN, and the lockout that follows.
    PinRefused {
        "401" => "Wrong PIN",
        "429" => "Locked out after wrong PINs: Retry-After (and retry_after_s) say for \
                  how long",
    }
    /// The printer's hw-proxy is needed and did not answer.
    HwProxyAway {
        "502" => "The printer's hw-proxy did not answer or failed",
    }
}

/// A PNG picture, as a response body.
pub struct Png;

impl utoipa::PartialSchema for Png {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Png {}
