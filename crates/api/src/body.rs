//! Reading JSON bodies ourselves, so every way a body can be wrong (too large,
//! not JSON, invalid UTF-8, wrong types, unknown fields) is a problem JSON 4xx,
//! and so the request's canonical hash is at hand for idempotency.

use crate::problem::ApiError;
use crate::state::AppState;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// A parsed JSON body and the SHA-256 of its canonical form (keys sorted), so
/// the same request sent twice with other whitespace hashes the same.
#[derive(Debug)]
pub struct Json<T> {
    pub value: T,
    pub sha256: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.server.max_body_bytes)
            .unwrap_or(256 * 1024);
        read(req, payload, limit)
    }
}

/// A register agent's push of its events (`POST /register-events`): read
/// like [`Json`], up to `server.max_push_bytes`, so one sale of the most
/// lines a sale may have goes in one push.
#[derive(Debug)]
pub struct PushJson<T>(pub Json<T>);

impl<T: DeserializeOwned + 'static> FromRequest for PushJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.server.max_push_bytes)
            .unwrap_or(4 * 1024 * 1024);
        let read = read(req, payload, limit);
        Box::pin(async move { read.await.map(PushJson) })
    }
}

fn read<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Pin<Box<dyn Future<Output = Result<Json<T>, ApiError>>>> {
    let ct_ok = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if !ct_ok {
            return Err(ApiError::UnsupportedMediaType);
        }
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::TooLarge(limit));
        }
        let mut buf = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadBody(format!("could not read the body: {e}")))?;
            if buf.len() + chunk.len() > limit {
                return Err(ApiError::TooLarge(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        parse(&buf)
    })
}

/// Parses bytes as `T`, reporting where and why it failed.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Json<T>, ApiError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadBody(format!("malformed JSON: {e}")))?;
    let canonical = raw.to_string();
    let value = serde_json::from_value(raw)
        .map_err(|e| ApiError::BadBody(format!("unexpected body: {e}")))?;
    Ok(Json {
        value,
        sha256: outpost_storage::secrets::sha256_hex(canonical.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[allow(dead_code)]
        a: i64,
    }

    #[test]
    fn whitespace_and_key_order_do_not_change_the_hash() {
        let a = parse::<serde_json::Value>(br#"{"a":1,"b":[1,2]}"#).unwrap();
        let b = parse::<serde_json::Value>(b"{ \"b\": [1, 2],\n \"a\": 1 }").unwrap();
        assert_eq!(a.sha256, b.sha256);
    }

    #[test]
    fn bad_bodies_are_client_errors() {
        for bad in [
            &b"{"[..],
            b"\xff\xfe",
            br#"{"a":"x"}"#,
            br#"{"a":1,"z":2}"#,
            br#"{"a":1e400}"#,
            b"[]",
        ] {
            assert!(
                matches!(parse::<T>(bad), Err(ApiError::BadBody(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
