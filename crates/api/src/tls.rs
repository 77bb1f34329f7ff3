//! The edge's TLS on the LAN: the store's own CA (made on first start, kept
//! in the database: `storage::store_ca`) and, at every start, a server
//! certificate it signs for this host's names. Register agents pin the CA
//! when they pair (its fingerprint is on the manager page and in the
//! pairing's output), so they need no public CA and no name to match.

use outpost_storage::store_ca::{self, Ca};
use outpost_storage::{AnyConnection, StorageError};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The names every edge certificate carries, besides `server.tls_names`:
/// loopback, the name the edge announces (`announced`), and this host's
/// name.
pub fn names(announced: &str, extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1", announced]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_owned());
            names.push(format!("{host}.local"));
        }
    }
    names.extend(extra.iter().cloned());
    names.sort();
    names.dedup();
    names
}

fn year() -> i32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    1970 + (now / 31_556_952) as i32
}

fn tls_error(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("the store's TLS certificate: {e}"))
}

/// The store's CA, made now if the database has none.
pub fn store_ca(conn: &mut AnyConnection, store_code: &str) -> Result<Ca, StorageError> {
    store_ca::get_or_make(conn, || {
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.distinguished_name
            .push(DnType::CommonName, format!("Outpost store {store_code} CA"));
        p.distinguished_name
            .push(DnType::OrganizationName, "Outpost");
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = rcgen::date_time_ymd(year() - 1, 1, 1);
        p.not_after = rcgen::date_time_ymd(year() + 30, 1, 1);
        let key = KeyPair::generate().map_err(tls_error)?;
        let cert = p.self_signed(&key).map_err(tls_error)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    })
}

/// The CA's fingerprint as the manager page and a pairing show it.
pub fn fingerprint(ca: &Ca) -> String {
    outpost_domain::secrets::pem_fingerprint(&ca.cert_pem).unwrap_or_default()
}

/// A server certificate and its key (PEM), the chain ending in the CA.
pub struct Leaf {
    pub chain_pem: String,
    pub key_pem: String,
}

/// A server certificate for `names`, signed by the store's CA now (with the
/// CA in its chain).
pub fn leaf(ca: &Ca, names: &[String]) -> Result<Leaf, StorageError> {
    let key = KeyPair::from_pem(&ca.key_pem).map_err(tls_error)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, key).map_err(tls_error)?;
    let mut p = CertificateParams::new(names.to_vec()).map_err(tls_error)?;
    p.distinguished_name
        .push(DnType::CommonName, "Outpost edge");
    p.use_authority_key_identifier_extension = true;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = rcgen::date_time_ymd(year() - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(year() + 2, 1, 1);
    let leaf_key = KeyPair::generate().map_err(tls_error)?;
    let leaf = p.signed_by(&leaf_key, &issuer).map_err(tls_error)?;
    Ok(Leaf {
        chain_pem: format!("{}\n{}", leaf.pem().trim_end(), ca.cert_pem),
        key_pem: leaf_key.serialize_pem(),
    })
}

/// The rustls configuration serving `leaf`.
pub fn server_config(leaf: &Leaf) -> Result<rustls::ServerConfig, StorageError> {
    outpost_telemetry::tls::config(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes())
        .map_err(tls_error)
}
