//! TLS on the store's LAN for every HTTP surface besides the api's own (the
//! realtime hub, hw-proxy): the api makes the server certificate at start,
//! signed by the store's CA, and writes it to a directory (`server.tls_dir`)
//! the other services read (a volume shared read-only under compose). The
//! CA's key never leaves the api's database.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server certificate, then the CA that signed it (PEM).
pub const CHAIN: &str = "edge.crt";
/// The server certificate's private key (PEM, mode 0600).
pub const KEY: &str = "edge.key";

/// A rustls configuration serving `chain_pem` with `key_pem`.
pub fn config(chain_pem: &[u8], key_pem: &[u8]) -> Result<rustls::ServerConfig, String> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate chain does not decode: {e}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("the private key does not decode: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate does not match its key: {e}"))
}

/// Writes the chain and key into `dir`, each replaced whole (written aside,
/// then renamed): a reader never sees half a file.
pub fn write(dir: &Path, chain_pem: &str, key_pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir)?;
    for (name, text, mode) in [(KEY, key_pem, 0o600), (CHAIN, chain_pem, 0o644)] {
        let aside = dir.join(format!(".{name}.new"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&aside)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&aside, dir.join(name))?;
    }
    Ok(())
}

/// Reads the certificate the api wrote into `dir`, waiting up to `wait` for
/// it (the api may start after this service), as a rustls configuration.
pub fn load(dir: &Path, wait: Duration) -> Result<rustls::ServerConfig, String> {
    let (chain, key) = read(dir, wait)?;
    config(&chain, &key)
}

/// The certificate chain and key the api wrote into `dir` (PEM), waiting
/// up to `wait` for them.
pub fn read(dir: &Path, wait: Duration) -> Result<(Vec<u8>, Vec<u8>), String> {
    let t0 = Instant::now();
    loop {
        match (std::fs::read(dir.join(CHAIN)), std::fs::read(dir.join(KEY))) {
            // The api replaces the key, then the chain: a pair read between
            // the two does not match; read again.
            (Ok(chain), Ok(key)) if config(&chain, &key).is_ok() || t0.elapsed() >= wait => {
                return Ok((chain, key));
            }
            (Err(e), _) | (_, Err(e)) if t0.elapsed() >= wait => {
                return Err(format!(
                    "no TLS certificate in {} after {} s ({e}): the api writes it there at start (server.tls_dir)",
                    dir.display(),
                    wait.as_secs()
                ));
            }
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// The answer on a plain port to a client beyond the networks it serves:
/// 308 to the same path on `tls_port` of the host the client asked for.
pub fn to_tls(req: &actix_web::HttpRequest, tls_port: u16) -> actix_web::HttpResponse {
    use actix_web::http::header;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<actix_web::http::uri::Authority>().ok())
        .map(|a| a.host().to_owned())
        .unwrap_or_else(|| match req.app_config().local_addr().ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        });
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    actix_web::HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("https://{host}:{tls_port}{path}")))
        .finish()
}
