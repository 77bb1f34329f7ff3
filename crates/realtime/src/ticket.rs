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
    /// Random, fresh per ticket: the hub accepts each ticket once
    /// ([`Spent`]), so a ticket read off a screen or a log opens nothing.
    pub nonce: String,
}

/// The tickets a hub has accepted and that have not yet expired: a second
/// use of one is refused. Memory is bounded by the tickets issued within one
/// ticket lifetime (each issue takes a paired device's token).
#[derive(Default)]
pub struct Spent(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl Spent {
    /// Marks `claims`' ticket used; false if it was used before (or carries
    /// no nonce).
    pub fn spend(&self, claims: &Claims, now_ms: i64) -> bool {
        if claims.nonce.is_empty() {
            return false;
        }
        let mut used = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if used.len() >= 1024 {
            used.retain(|_, exp| *exp > now_ms);
        }
        used.insert(claims.nonce.clone(), claims.exp).is_none()
    }
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
            nonce: "n1".into(),
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

    #[test]
    fn a_ticket_is_spent_once_and_expired_ones_are_forgotten() {
        let spent = Spent::default();
        assert!(spent.spend(&claims(1_000), 0));
        assert!(!spent.spend(&claims(1_000), 1), "the same ticket twice");
        let other = Claims {
            nonce: "n2".into(),
            ..claims(1_000)
        };
        assert!(spent.spend(&other, 1));
        let none = Claims {
            nonce: String::new(),
            ..claims(1_000)
        };
        assert!(!spent.spend(&none, 1), "a ticket without a nonce");
        // Past a thousand entries, the expired ones are dropped.
        for i in 0..1_100 {
            let c = Claims {
                nonce: format!("x{i}"),
                ..claims(10)
            };
            assert!(spent.spend(&c, 5));
        }
        assert!(spent.0.lock().unwrap().len() > 1_000);
        let late = Claims {
            nonce: "late".into(),
            ..claims(5_000)
        };
        assert!(spent.spend(&late, 2_000));
        assert!(spent.0.lock().unwrap().len() < 10);
    }
}
