//! Tokens and PINs: random tokens stored only as their SHA-256, PINs as Argon2id.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};

/// A fresh secret: 32 random bytes as 64 hex digits.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source is available");
    hex::encode(b)
}

/// A new random token (shown once) and the hash we store.
pub fn new_token() -> (String, String) {
    let token = new_secret();
    let hash = hash_token(&token);
    (token, hash)
}

/// The symbols of a pairing code: Crockford's base32 (no I, L, O or U, so
/// nothing reads as another symbol).
const CODE_SYMBOLS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new one-time pairing code, as a manager reads it out: ten symbols (50
/// random bits) in two groups, `7KQ4M-X2P9C`. Stored as
/// [`hash_token`] of [`pairing_code`]'s form.
pub fn new_pairing_code() -> String {
    let mut b = [0u8; 10];
    getrandom::fill(&mut b).expect("the OS random source is available");
    let s: String = b
        .iter()
        .map(|x| char::from(CODE_SYMBOLS[usize::from(x & 31)]))
        .collect();
    format!("{}-{}", &s[..5], &s[5..])
}

/// A pairing code as typed, in its one form: case, spaces and dashes
/// ignored, O read as 0 and I or L as 1. `None` unless ten symbols remain.
pub fn pairing_code(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(10);
    for c in typed.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !CODE_SYMBOLS.contains(&(c as u8)) || out.len() == 10 {
            return None;
        }
        out.push(c);
    }
    (out.len() == 10).then_some(out)
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
    hash_password(pin.expose())
}

/// A password's Argon2id hash (the cloud's admin accounts), with the same
/// cost as a PIN's: the accounts lock after repeated failures too.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source is available");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid params")
        .to_string()
}

/// Whether `password` is the one `hash` was made from.
pub fn verify_password(password: &str, hash: &str) -> bool {
    verify_pin(password, hash)
}

pub fn verify_pin(pin: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| argon().verify_password(pin.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// The DER of the first certificate in `pem`.
pub fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The SHA-256 fingerprint of the first certificate in `pem`, as people
/// compare them ("AB:CD:…", 32 pairs), or `None` when there is none.
pub fn pem_fingerprint(pem: &str) -> Option<String> {
    let digest = Sha256::digest(pem_der(pem)?);
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
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
    fn a_pairing_code_reads_back_however_it_was_typed_and_nothing_else_passes() {
        let code = new_pairing_code();
        assert_eq!(code.len(), 11);
        let one = pairing_code(&code).unwrap();
        assert_eq!(pairing_code(&code.to_lowercase()), Some(one.clone()));
        assert_eq!(pairing_code(&code.replace('-', " ")), Some(one.clone()));
        assert_eq!(pairing_code("7kq4m-x2p9o").as_deref(), Some("7KQ4MX2P90"));
        assert_eq!(pairing_code("IL000-00000").as_deref(), Some("1100000000"));
        for bad in ["", "7KQ4M", "7KQ4M-X2P9C-1", "7KQ4M-X2P9U", "7KQ4M-X2P9€"] {
            assert_eq!(pairing_code(bad), None, "{bad}");
        }
        assert_ne!(new_pairing_code(), new_pairing_code());
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), ha);
        assert_ne!(a, ha);
    }

    #[test]
    fn a_certificates_fingerprint_is_the_sha256_of_its_der_in_pairs() {
        // "hello" as the body: base64 aGVsbG8=.
        let pem = "-----BEGIN CERTIFICATE-----\naGVs\nbG8=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_der(pem).unwrap(), b"hello");
        let f = pem_fingerprint(pem).unwrap();
        assert!(f.starts_with("2C:F2:4D:BA"), "{f}");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert_eq!(pem_fingerprint("no certificate"), None);
    }
}
