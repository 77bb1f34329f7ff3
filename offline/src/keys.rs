//! The bundle's signing key: `keygen` makes a minisign key pair, `bundle`
//! reads the secret key.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// A minisign secret key: unencrypted, or encrypted with
/// OUTPOST_BUNDLE_KEY_PASSWORD (asked for when that is unset).
pub(crate) fn secret_key(path: &Path) -> Result<minisign::SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read the signing key {}", path.display()))?;
    let sk_box = || minisign::SecretKeyBox::from_string(&text);
    let bad = |e: minisign::PError| anyhow::anyhow!("{}: {e}", path.display());
    match std::env::var("OUTPOST_BUNDLE_KEY_PASSWORD") {
        Ok(pw) => minisign::SecretKey::from_box(sk_box().map_err(bad)?, Some(pw)).map_err(bad),
        Err(_) => minisign::SecretKey::from_unencrypted_box(sk_box().map_err(bad)?)
            .or_else(|_| minisign::SecretKey::from_box(sk_box()?, None))
            .map_err(bad),
    }
}

/// Writes a new key pair into `out`; never overwrites a secret key.
pub(crate) fn keygen(out: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(out)?;
    let (sk_path, pk_path) = (
        out.join("outpost-bundle.key"),
        out.join("outpost-bundle.pub"),
    );
    if sk_path.exists() {
        bail!(
            "{} exists: refusing to overwrite a signing key",
            sk_path.display()
        );
    }
    let password = std::env::var("OUTPOST_BUNDLE_KEY_PASSWORD").ok();
    let minisign::KeyPair { pk, sk } = match &password {
        Some(pw) => minisign::KeyPair::generate_encrypted_keypair(Some(pw.clone())),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| anyhow::anyhow!("making a key pair: {e}"))?;
    let sk_text = sk
        .to_box(Some("Outpost bundle signing key"))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&sk_path)?
        .write_all(sk_text.as_bytes())?;
    let pk_text = pk
        .to_box()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_string();
    std::fs::write(&pk_path, pk_text)?;
    println!(
        "{} (secret{}; keep it off the stores' hosts) and {} (give to every host)",
        sk_path.display(),
        if password.is_some() {
            ", encrypted"
        } else {
            ", NOT encrypted: set OUTPOST_BUNDLE_KEY_PASSWORD to encrypt"
        },
        pk_path.display()
    );
    Ok(())
}
