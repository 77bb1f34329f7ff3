//! Connection tickets: a device trades its device token at the api for a
//! short-lived ticket signed with a secret the api and the hub share, and
//! presents it to the hub when it connects (and again to refresh it on an open
//! connection). The hub checks tickets without a database or a call to the api,
//! so a hub restart with fifty displays reconnecting costs nothing; a revoked
//! device loses access when its ticket expires (minutes).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The channels a holder of `kind` may follow (issue 30: each device only
/// what its job needs): a kitchen display its tickets; a register and the
/// back office (a paired office computer, or a manager's session on the
/// server's own screen) every live stream and who is online; anything else
/// none.
pub fn channels_for(kind: &str) -> &'static [&'static str] {
    match kind {
        "display" => &["kitchen"],
        "register" | "office" | "back-office" => {
            &["sales", "stock", "kitchen", "shifts", "master", "presence"]
        }
        _ => &[],
    }
}

/// What a ticket says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The store whose channels the holder may read.
    pub store: String,
    pub device: String,
    /// `register` or `display`, for presence.
    pub kind: String,
    pub name: String,
    /// Expiry, milliseconds since the Unix epoch.
    pub exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("the ticket is malformed")]
    Malformed,
    #[error("the ticket's signature is not valid")]
    BadSignature,
    #[error("the ticket has expired")]
    Expired,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length")
}

/// Signs `claims`: `base64url(json).base64url(hmac-sha256)`.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let body = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let mut m = mac(secret);
    m.update(body.as_bytes());
    format!("{body}.{}", B64.encode(m.finalize().into_bytes()))
}

/// Checks a ticket's signature (in constant time) and expiry.
pub fn verify(secret: &[u8], ticket: &str, now_ms: i64) -> Result<Claims, TicketError> {
    let (body, sig) = ticket.split_once('.').ok_or(TicketError::Malformed)?;
    let sig = B64.decode(sig).map_err(|_| TicketError::Malformed)?;
    let mut m = mac(secret);
    m.update(body.as_bytes());
    m.verify_slice(&sig)
        .map_err(|_| TicketError::BadSignature)?;
    let claims: Claims = B64
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TicketError::Malformed)?;
    if claims.exp <= now_ms {
        return Err(TicketError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            store: "s".into(),
            device: "d".into(),
            kind: "display".into(),
            name: "Kitchen".into(),
            exp,
        }
    }

    #[test]
    fn a_signed_ticket_verifies_until_it_expires() {
        let t = sign(b"secret", &claims(1_000));
        assert_eq!(verify(b"secret", &t, 999), Ok(claims(1_000)));
        assert_eq!(verify(b"secret", &t, 1_000), Err(TicketError::Expired));
    }

    #[test]
    fn another_secret_or_an_edited_body_is_refused() {
        let t = sign(b"secret", &claims(1_000));
        assert_eq!(verify(b"other", &t, 0), Err(TicketError::BadSignature));
        let (_, sig) = t.split_once('.').unwrap();
        let forged = format!("{}.{sig}", B64.encode(br#"{"store":"x"}"#));
        assert_eq!(
            verify(b"secret", &forged, 0),
            Err(TicketError::BadSignature)
        );
        assert_eq!(
            verify(b"secret", "nonsense", 0),
            Err(TicketError::Malformed)
        );
    }
}
