//! The one place errors become HTTP: RFC 9457 problem JSON, 4xx when the client
//! is at fault, 5xx (with no internals) only when we are.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use outpost_storage::StorageError;
use outpost_telemetry::problem::{self, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON of the expected shape.
    #[error("{0}")]
    BadBody(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("send an Idempotency-Key header (a UUID the register generates per sale)")]
    MissingIdempotencyKey,
    #[error("sign in first")]
    Unauthenticated,
    /// Signing in here needs a paired device: this client is not one, nor
    /// on the store server's own screen (`server.office_networks`).
    #[error(
        "pair this computer first: a manager makes a one-time code of kind \"office\" on the manager page (Registers) or with `outpost pairing-code --name NAME --by MANAGER` at the store server"
    )]
    PairFirst,
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the server is busy; try again")]
    Blocking,
    /// hw-proxy could not be reached or failed: not the client's fault, and
    /// nothing internal to hide (staff need to know which hw-proxy).
    #[error("{0}")]
    HwProxy(String),
}

impl ApiError {
    /// A PrintService call's failure, as the client should see it.
    pub fn from_grpc(url: &str, s: tonic::Status) -> ApiError {
        use tonic::Code;
        let m = s.message().to_owned();
        match s.code() {
            Code::NotFound => ApiError::NotFound(m),
            Code::InvalidArgument => ApiError::Storage(StorageError::Unprocessable(m)),
            Code::FailedPrecondition | Code::AlreadyExists => {
                ApiError::Storage(StorageError::Conflict(m))
            }
            _ => ApiError::HwProxy(format!("hw-proxy at {url}: {m}")),
        }
    }
}

impl ApiError {
    fn slug(&self) -> (&'static str, &'static str) {
        use StorageError as S;
        match self {
            ApiError::BadBody(_) => ("invalid-body", "The request body is not valid"),
            ApiError::BadRequest(_) => ("bad-request", "The request is not valid"),
            ApiError::TooLarge(_) => ("body-too-large", "The request body is too large"),
            ApiError::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            ApiError::MissingIdempotencyKey => {
                ("idempotency-key-missing", "Idempotency key missing")
            }
            ApiError::Unauthenticated | ApiError::Storage(S::Unauthenticated) => {
                ("unauthenticated", "Not signed in")
            }
            ApiError::NotFound(_) | ApiError::Storage(S::NotFound(_)) => ("not-found", "Not found"),
            ApiError::Blocking => ("busy", "Server busy"),
            ApiError::PairFirst => ("pair-first", "This device is not paired"),
            ApiError::HwProxy(_) => (
                "hw-proxy-unavailable",
                "The printers' hw-proxy did not answer",
            ),
            ApiError::Storage(e) => match e {
                S::Domain(_) | S::Unprocessable(_) => {
                    ("validation", "The request cannot be carried out as given")
                }
                S::Conflict(_) => ("conflict", "Conflicts with the current state"),
                S::IdempotencyMismatch | S::IdempotencyRace => (
                    "idempotency-key-reused",
                    "Idempotency key reused with a different request",
                ),
                S::Forbidden(_) => ("forbidden", "Not allowed for this role"),
                S::WrongPin { .. } => ("wrong-pin", "Wrong PIN"),
                S::LockedOut(_) => ("locked-out", "Locked out after wrong PINs"),
                S::Pool(_) | S::Unavailable(_) => ("busy", "Server busy"),
                _ => ("internal", "Internal error"),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        use StorageError as S;
        match self {
            ApiError::BadBody(_) | ApiError::BadRequest(_) | ApiError::MissingIdempotencyKey => {
                StatusCode::BAD_REQUEST
            }
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::PairFirst => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Blocking => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::HwProxy(_) => StatusCode::BAD_GATEWAY,
            ApiError::Storage(e) => match e {
                S::Domain(_) | S::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
                S::NotFound(_) => StatusCode::NOT_FOUND,
                S::Conflict(_) | S::IdempotencyMismatch | S::IdempotencyRace => {
                    StatusCode::CONFLICT
                }
                S::Forbidden(_) => StatusCode::FORBIDDEN,
                S::Unauthenticated | S::WrongPin { .. } => StatusCode::UNAUTHORIZED,
                S::LockedOut(_) => StatusCode::TOO_MANY_REQUESTS,
                S::Pool(_) | S::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                S::Db(_) | S::Connection(_) | S::Migration(_) | S::Corrupt(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (slug, title) = self.slug();
        let detail = if status.is_server_error() && !matches!(self, ApiError::HwProxy(_)) {
            // Log the cause chain; never send internals to the client.
            let mut chain = self.to_string();
            let mut src = std::error::Error::source(self);
            while let Some(s) = src {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                src = s.source();
            }
            tracing::error!(error = %chain, "request failed");
            title.to_owned()
        } else {
            self.to_string()
        };
        let retry_after_s = match self {
            ApiError::Storage(StorageError::LockedOut(s)) => Some(*s),
            ApiError::Storage(StorageError::WrongPin { locked_for_s }) if *locked_for_s > 0 => {
                Some(*locked_for_s)
            }
            _ => None,
        };
        let mut p = Problem::new(status.as_u16(), slug, title, detail);
        if let Some(s) = retry_after_s {
            p = p.retry_after(s);
        }
        respond(&p)
    }
}

/// The response carrying `p`: its status, the problem media type, and
/// `Retry-After` when it says when to try again.
pub fn respond(p: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    resp.content_type(problem::CONTENT_TYPE);
    if let Some(s) = p.retry_after_s {
        resp.insert_header(("Retry-After", s.to_string()));
    }
    resp.json(p)
}

/// Problem JSON for errors raised outside our handlers (unknown route, wrong method).
pub fn plain(status: StatusCode, slug: &str, title: &str, detail: &str) -> HttpResponse {
    respond(&Problem::new(status.as_u16(), slug, title, detail))
}

pub type ApiResult<T> = Result<T, ApiError>;
