//! Reading JSON bodies ourselves, so every way a body can be wrong (too large,
//! not JSON, invalid UTF-8, wrong types, unknown fields, a key given twice)
//! is a problem JSON 4xx, and so the request's canonical hash is at hand for
//! idempotency.

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

/// Parses bytes as `T`, reporting where and why it failed. An object with a
/// key twice is refused: which of the two a reader takes differs between
/// parsers, so a check could read one and the write the other.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Json<T>, ApiError> {
    let Unique(raw) = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadBody(format!("malformed JSON: {e}")))?;
    let canonical = raw.to_string();
    let value = serde_json::from_value(raw)
        .map_err(|e| ApiError::BadBody(format!("unexpected body: {e}")))?;
    Ok(Json {
        value,
        sha256: outpost_storage::secrets::sha256_hex(canonical.as_bytes()),
    })
}

/// A JSON value whose objects hold each key once.
struct Unique(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(out.into())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} is given twice"
                )));
            }
            let Unique(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(out.into())
    }
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
    fn a_key_given_twice_is_refused_at_any_depth_and_the_rest_reads_as_before() {
        let e = parse::<serde_json::Value>(br#"{"lines":[{"q":1,"q":2}]}"#).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let v = parse::<serde_json::Value>(br#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}]}"#)
            .unwrap()
            .value;
        assert_eq!(
            v,
            serde_json::json!({"a": [1, -2, 3.5, "x", null, true, {"b": {}}]})
        );
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
            br#"{"a":1,"a":2}"#,
        ] {
            assert!(
                matches!(parse::<T>(bad), Err(ApiError::BadBody(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
