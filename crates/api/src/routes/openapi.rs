//! `/openapi.json`: the OpenAPI 3 document of the edge API. Request schemas are
//! derived from the very types the handlers parse (utoipa's `ToSchema`); the
//! route table below is checked against the router by a test, so a route that
//! is documented but not served fails the build's tests.

use actix_web::{HttpResponse, web};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{OperationBuilder, PathItemBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    ResponseBuilder, ResponsesBuilder,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(serve));
}

async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// (method, path, summary, request body schema, success status, needs a session, idempotent)
type Route = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    u16,
    bool,
    bool,
);

pub const ROUTES: &[Route] = &[
    (
        "get",
        "/health",
        "Health of each component; 503 only without the database",
        None,
        200,
        false,
        false,
    ),
    (
        "get",
        "/metrics",
        "Prometheus metrics",
        None,
        200,
        false,
        false,
    ),
    (
        "get",
        "/api/v1/login-staff",
        "Who can sign in here (all staff with X-Device-Token, managers without)",
        None,
        200,
        false,
        false,
    ),
    (
        "post",
        "/api/v1/sessions",
        "Sign in with a PIN (X-Device-Token at a register)",
        Some("LoginBody"),
        201,
        false,
        false,
    ),
    (
        "delete",
        "/api/v1/sessions/current",
        "Sign out",
        None,
        204,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/me",
        "The signed-in staff member",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/staff",
        "Staff (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/staff",
        "Add a staff member (manager; audited)",
        Some("NewStaff"),
        201,
        true,
        false,
    ),
    (
        "put",
        "/api/v1/staff/{id}/pin",
        "Set a PIN (manager; audited)",
        Some("PinBody"),
        204,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/staff/{id}/unlock",
        "Lift PIN lockouts (manager; audited)",
        None,
        204,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/devices",
        "Registers and displays (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/devices",
        "Pair a device; returns its token once (manager; audited)",
        Some("PairBody"),
        201,
        true,
        false,
    ),
    (
        "delete",
        "/api/v1/devices/{id}",
        "Revoke a device (manager; audited)",
        None,
        204,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/products",
        "Search products by name or SKU (?q=&limit=)",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/products",
        "Create a product (manager)",
        Some("ProductBody"),
        201,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/products/{id}",
        "One product",
        None,
        200,
        true,
        false,
    ),
    (
        "patch",
        "/api/v1/products/{id}",
        "Change price, name or active (manager; price changes audited)",
        Some("ProductPatch"),
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/barcodes/{code}",
        "The product with this barcode",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/companies",
        "Companies",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/tax-categories",
        "Tax categories",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/customers",
        "Search customers",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/customers",
        "Add a customer",
        Some("CustomerBody"),
        201,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/orders",
        "Create a sale, paid or open (Idempotency-Key)",
        Some("SaleBody"),
        201,
        true,
        true,
    ),
    (
        "get",
        "/api/v1/orders/by-key/{key}",
        "What became of the sale sent under this idempotency key from this register: committed (with the order), pending, or unknown (nothing was charged)",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/money",
        "The store's currency (exponent, rounding units, notes and coins) and locale, for formatting and parsing amounts",
        None,
        200,
        false,
        false,
    ),
    (
        "post",
        "/api/v1/orders/quote",
        "Price a cart exactly as a sale would; writes nothing",
        Some("SaleBody"),
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/orders",
        "Recent orders of this register (or the store at the back office)",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/orders/{id}",
        "One order with lines and payments",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/orders/{id}/payments",
        "Pay an open order (Idempotency-Key)",
        Some("PayBody"),
        200,
        true,
        true,
    ),
    (
        "post",
        "/api/v1/orders/{id}/refunds",
        "Return goods (supervisor or their PIN; Idempotency-Key; audited)",
        Some("RefundBody"),
        200,
        true,
        true,
    ),
    (
        "post",
        "/api/v1/orders/{id}/void",
        "Void an open order (supervisor or their PIN; audited)",
        Some("VoidBody"),
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/adjustments",
        "Orders needing a manager's look (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/shifts",
        "Shifts (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/shifts",
        "Open a shift on this register",
        Some("OpenBody"),
        201,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/shifts/current",
        "This register's open shift",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/shifts/current/cash",
        "Cash in or out of the drawer (supervisor; audited)",
        Some("CashBody"),
        204,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/shifts/{id}/report",
        "X report (open) or Z report (closed)",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/shifts/{id}/close",
        "Close with counted cash; returns the Z report (manager)",
        Some("CloseBody"),
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/stock",
        "Stock levels (sums of movements; negative flagged)",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/stock/movements",
        "Receive, adjust, waste or count stock (manager)",
        Some("MoveBody"),
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/kitchen/tickets",
        "Kitchen tickets not yet served",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/kitchen/tickets/{id}/status",
        "Move a ticket on: pending → preparing → ready → served",
        Some("StatusBody"),
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/realtime/tickets",
        "A short-lived ticket for the realtime hub (X-Device-Token, or a manager's session)",
        None,
        200,
        false,
        false,
    ),
    (
        "get",
        "/api/v1/audit",
        "The audit log (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/outbox",
        "Stream heads and events waiting for the relay (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/outbox/{stream}",
        "Positioned events of a stream with their envelope (?after=&limit=)",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/printers",
        "The store's printers, each with its hw-proxy's view of it now (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "put",
        "/api/v1/printers/{id}",
        "Add or change a printer; its hw-proxy is handed it at once (manager)",
        Some("PrinterBody"),
        200,
        true,
        false,
    ),
    (
        "delete",
        "/api/v1/printers/{id}",
        "Remove a printer (refused by hw-proxy while jobs wait on it) (manager)",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/printing/jobs",
        "This register's receipt printer: its state and latest jobs (?limit=)",
        None,
        200,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/printing/jobs/{id}/reprint",
        "Print a job of this register's printer again",
        Some("ReprintBody"),
        201,
        true,
        false,
    ),
    (
        "post",
        "/api/v1/printing/jobs/{id}/cancel",
        "Cancel a job of this register's printer that has not printed",
        None,
        200,
        true,
        false,
    ),
    (
        "get",
        "/api/v1/orders/{id}/receipt.png",
        "An order's receipt as this register's printer prints it (PNG)",
        None,
        200,
        true,
        false,
    ),
];

fn method(m: &str) -> HttpMethod {
    match m {
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "patch" => HttpMethod::Patch,
        "delete" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

pub fn document() -> OpenApi {
    use super::{catalog, people, printers, sales, store};
    let components = ComponentsBuilder::new()
        .schema_from::<people::LoginBody>()
        .schema_from::<people::NewStaff>()
        .schema_from::<people::PinBody>()
        .schema_from::<people::PairBody>()
        .schema_from::<catalog::ProductBody>()
        .schema_from::<catalog::ProductPatch>()
        .schema_from::<catalog::CustomerBody>()
        .schema_from::<sales::SaleBody>()
        .schema_from::<sales::LineBody>()
        .schema_from::<sales::PaymentBody>()
        .schema_from::<sales::PayBody>()
        .schema_from::<sales::RefundBody>()
        .schema_from::<sales::RefundLineBody>()
        .schema_from::<sales::ApprovalBody>()
        .schema_from::<sales::VoidBody>()
        .schema_from::<store::OpenBody>()
        .schema_from::<store::CashBody>()
        .schema_from::<store::CloseBody>()
        .schema_from::<store::MoveBody>()
        .schema_from::<store::StatusBody>()
        .schema_from::<printers::PrinterBody>()
        .schema_from::<printers::ReprintBody>()
        .security_scheme(
            "session",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    let mut paths = PathsBuilder::new();
    for (m, path, summary, body, ok, session, idempotent) in ROUTES {
        let mut op = OperationBuilder::new().summary(Some(*summary));
        if let Some(schema) = body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(*schema)))
                            .build(),
                    )
                    .required(Some(utoipa::openapi::Required::True))
                    .build(),
            ));
        }
        if *session {
            op = op.security(SecurityRequirement::new("session", Vec::<String>::new()));
        }
        let desc = if *idempotent {
            "Success. Send an Idempotency-Key header (UUID); a retry returns this same answer with Idempotent-Replayed: true"
        } else {
            "Success"
        };
        let responses = ResponsesBuilder::new()
            .response(
                ok.to_string(),
                ResponseBuilder::new().description(desc).build(),
            )
            .response(
                "4XX",
                ResponseBuilder::new()
                    .description(
                        "RFC 9457 problem JSON (application/problem+json) saying what is wrong",
                    )
                    .build(),
            )
            .build();
        op = op.responses(responses);
        paths = paths.path(
            *path,
            PathItemBuilder::new()
                .operation(method(m), op.build())
                .build(),
        );
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Outpost edge API")
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}
