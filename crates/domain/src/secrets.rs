//! Tokens and PINs: random tokens stored only as their SHA-256, PINs as Argon2id.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

/// A new random token (shown once) and the hash we store.
pub fn new_token() -> (String, String) {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source is available");
    let token = hex::encode(b);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Moderate Argon2id cost: PINs are short, so the lockout is the real defence;
/// the hash only keeps a stolen database from giving PINs away instantly.
fn argon() -> Argon2<'static> {
    let params = Params::new(8 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_pin(pin: &crate::Pin) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source is available");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon()
        .hash_password(pin.expose().as_bytes(), &salt)
        .expect("argon2 hashing with valid params")
        .to_string()
}

pub fn verify_pin(pin: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| argon().verify_password(pin.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_verifies_only_against_its_own_hash() {
        let h = hash_pin(&crate::Pin::parse("4711").unwrap());
        assert!(verify_pin("4711", &h));
        assert!(!verify_pin("4712", &h));
        assert!(!verify_pin("4711", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), ha);
        assert_ne!(a, ha);
    }
}
