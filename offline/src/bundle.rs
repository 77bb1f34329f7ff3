//! The air-gapped bundle: one archive (`offline/outpost-VERSION.bundle.tar.zst`)
//! holding every image the compose files use (one `docker save`, so shared
//! layers are stored once), the compose files and their `.env` examples, the
//! register agent for till PCs (`outpost` and its systemd unit),
//! `SHA256SUMS` (the format `sha256sum -c` reads) and `manifest.json`, which
//! records the digest of `SHA256SUMS`: the manifest vouches for the sums and
//! the sums for every other file.
//!
//! `verify` unpacks into a temporary folder and refuses, saying what is
//! wrong: a truncated or corrupt archive, a path that is not a plain file
//! name (`..`, absolute, nested, links), a checksum that does not match, a
//! file the sums do not list, or an image a compose file references that the
//! bundle does not hold. `load` verifies first, loads only when an image is
//! missing or differs, and confirms every image id afterwards.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The compose files and env examples a bundle carries.
pub const SHIPPED: [&str; 4] = [
    "compose.edge.yml",
    "compose.cloud.yml",
    ".env.example",
    ".env.cloud.example",
];
const IMAGES_TAR: &str = "images.tar";
/// For till PCs (docs/register.md): the `outpost` binary of the images, whose
/// `outpost register` is the register agent, and the agent's systemd unit
/// (kept in `offline/register/`).
pub const TILL_BINARY: &str = "outpost";
pub const REGISTER_UNIT: &str = "outpost-register.service";
/// The workspace with its vendored crates, for `cargo build --offline --locked`.
pub const SOURCES: &str = "sources.tar.zst";
const MANIFEST: &str = "manifest.json";
const SUMS: &str = "SHA256SUMS";
/// The manifest's signature, in minisign's format (`minisign -V` reads it).
pub const SIGNATURE: &str = "manifest.json.minisig";

/// Which signatures `verify` accepts.
#[derive(Default)]
pub struct Trust {
    /// The operator's trusted public key: a bundle must be signed by it.
    pub key: Option<minisign::PublicKey>,
    /// Accept a bundle with no signature (or none that can be checked).
    pub allow_unsigned: bool,
}

/// Signs `dir/manifest.json` into `dir/manifest.json.minisig`.
pub fn sign(dir: &Path, sk: &minisign::SecretKey, comment: &str) -> Result<()> {
    let manifest = std::fs::read(dir.join(MANIFEST))?;
    let sig = minisign::sign(
        None,
        sk,
        std::io::Cursor::new(manifest),
        Some(comment),
        Some("signature of an Outpost bundle's manifest.json"),
    )
    .context("signing the manifest")?;
    std::fs::write(dir.join(SIGNATURE), sig.into_string())?;
    Ok(())
}

/// The signature check: the manifest signed by the trusted key, or no
/// signature at all only when the operator allows it.
fn check_signature(dir: &Path, trust: &Trust) -> Result<()> {
    let sig_path = dir.join(SIGNATURE);
    if !sig_path.exists() {
        if trust.allow_unsigned {
            eprintln!("warning: the bundle is not signed (accepted: --allow-unsigned)");
            return Ok(());
        }
        bail!(
            "the bundle is not signed: refusing it (--allow-unsigned accepts an unsigned bundle)"
        );
    }
    let Some(pk) = &trust.key else {
        if trust.allow_unsigned {
            eprintln!(
                "warning: the bundle is signed but there is no trusted key to check it against (accepted: --allow-unsigned)"
            );
            return Ok(());
        }
        bail!("no trusted public key to check the bundle's signature: give --pubkey FILE");
    };
    let sig = minisign::SignatureBox::from_string(&std::fs::read_to_string(&sig_path)?)
        .map_err(|e| anyhow::anyhow!("the bundle's signature is malformed: {e}"))?;
    let manifest = std::fs::read(dir.join(MANIFEST))?;
    minisign::verify(pk, &sig, std::io::Cursor::new(manifest), true, false, false).map_err(|e| {
        anyhow::anyhow!(
            "the bundle's signature does not verify with the trusted key ({e}): it was altered or signed by another key"
        )
    })
}

/// An image in the bundle: its reference, id and the services that use it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Image {
    pub reference: String,
    pub id: String,
    pub services: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub git_commit: String,
    /// Unix seconds.
    pub created_at: u64,
    pub platform: String,
    pub requires: BTreeMap<String, String>,
    pub uncompressed_bytes: u64,
    pub images: Vec<Image>,
    pub cargo_lock_sha256: String,
    pub sha256sums_sha256: String,
    /// Size of `sources.tar.zst` (the workspace and its vendored crates).
    #[serde(default)]
    pub sources_bytes: u64,
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The images the compose files in `dir` reference, with the services using
/// each: every service of every profile, the default of `${VAR:-default}`
/// (the shipped env leaves those variables unset).
pub fn compose_images(dir: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in ["compose.edge.yml", "compose.cloud.yml"] {
        let text = std::fs::read_to_string(dir.join(file))
            .with_context(|| format!("read {file} in {}", dir.display()))?;
        let project = file.trim_start_matches("compose.").trim_end_matches(".yml");
        let (mut in_services, mut service) = (false, None::<String>);
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if indent == 0 {
                in_services = t == "services:";
                service = None;
            } else if in_services && indent == 2 && t.ends_with(':') {
                service = Some(t.trim_end_matches(':').to_owned());
            } else if let (true, Some(s), Some(image)) =
                (in_services, &service, t.strip_prefix("image:"))
            {
                let image = image.trim().trim_matches('"');
                let image = match image.strip_prefix("${") {
                    Some(v) => v
                        .trim_end_matches('}')
                        .split_once(":-")
                        .map(|(_, d)| d.to_owned())
                        .with_context(|| format!("{file}: service {s}: {image} has no default"))?,
                    None => image.to_owned(),
                };
                out.entry(image).or_default().push(format!("{project}/{s}"));
            }
        }
    }
    if out.is_empty() {
        bail!("the compose files reference no images");
    }
    Ok(out)
}

/// The image references a `docker save` archive holds.
fn saved_references(images_tar: &Path) -> Result<BTreeSet<String>> {
    let f = std::fs::File::open(images_tar)?;
    let mut a = tar::Archive::new(f);
    for e in a.entries()? {
        let mut e = e?;
        if e.path()?.as_os_str() == "manifest.json" {
            let mut text = String::new();
            e.read_to_string(&mut text)?;
            let m: Vec<serde_json::Value> =
                serde_json::from_str(&text).context("images.tar: its manifest.json")?;
            return Ok(m
                .iter()
                .flat_map(|i| i["RepoTags"].as_array().cloned().unwrap_or_default())
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect());
        }
    }
    bail!("images.tar is not a docker save archive (no manifest.json)")
}

/// Writes `SHA256SUMS` over every file in `dir` and `manifest.json`, which
/// records the sums' digest.
pub fn seal(dir: &Path, mut manifest: Manifest) -> Result<Manifest> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != MANIFEST && n != SUMS && n != SIGNATURE)
        .collect();
    names.sort();
    let mut sums = String::new();
    let mut bytes = 0;
    for n in &names {
        sums.push_str(&format!("{}  {n}\n", sha256_file(&dir.join(n))?));
        bytes += std::fs::metadata(dir.join(n))?.len();
    }
    std::fs::write(dir.join(SUMS), &sums)?;
    manifest.sha256sums_sha256 = hex::encode(Sha256::digest(sums.as_bytes()));
    manifest.uncompressed_bytes = bytes + sums.len() as u64;
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

/// Packs the files of `dir` (flat) into a zstd-compressed tar at `out`.
pub fn pack(dir: &Path, out: &Path) -> Result<()> {
    let tmp = out.with_extension("partial");
    let f = std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    let z = zstd::Encoder::new(f, 3)?;
    let mut b = tar::Builder::new(z);
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    let mut total = 0;
    for n in &names {
        total += std::fs::metadata(dir.join(n))?.len();
    }
    let bar = crate::progress::bytes("compressing", total);
    for n in names {
        let f = std::fs::File::open(dir.join(&n))?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata(&f.metadata()?);
        h.set_cksum();
        b.append_data(&mut h, &n, bar.wrap_read(f))?;
    }
    bar.finish_and_clear();
    b.into_inner()?.finish()?.sync_all()?;
    std::fs::rename(&tmp, out)?;
    Ok(())
}

/// A verified bundle, unpacked in a folder removed on drop.
pub struct Verified {
    pub dir: tempfile::TempDir,
    pub manifest: Manifest,
}

/// Unpacks and checks a bundle; the error says what is wrong with it.
pub fn verify(bundle: &Path, trust: &Trust) -> Result<Verified> {
    let f = std::fs::File::open(bundle)
        .with_context(|| format!("cannot open the bundle {}", bundle.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("outpost-bundle-")
        .tempdir_in(
            bundle
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .context("a folder to unpack the bundle into")?;
    let bar = crate::progress::bytes("unpacking", f.metadata()?.len());
    let z = zstd::Decoder::new(bar.wrap_read(f)).context("the bundle is not zstd-compressed")?;
    let mut a = tar::Archive::new(z);
    let corrupt = |e: std::io::Error| {
        anyhow::anyhow!("the bundle is truncated or corrupt ({e}): copy it again")
    };
    for e in a.entries().map_err(corrupt)? {
        let mut e = e.map_err(corrupt)?;
        let path = e.path().map_err(corrupt)?.into_owned();
        let plain = path.components().count() == 1
            && matches!(
                path.components().next(),
                Some(std::path::Component::Normal(_))
            );
        if !plain {
            bail!(
                "the bundle holds {:?}: only plain file names are allowed (no '..', absolute or nested paths)",
                path
            );
        }
        if !e.header().entry_type().is_file() {
            bail!("the bundle holds {path:?}, which is not a regular file");
        }
        let dest = dir.path().join(&path);
        if dest.exists() {
            bail!("the bundle holds {path:?} twice");
        }
        let mut out = std::fs::File::create(&dest)?;
        std::io::copy(&mut e, &mut out).map_err(corrupt)?;
    }
    let read = |n: &str| {
        std::fs::read(dir.path().join(n))
            .with_context(|| format!("the bundle has no {n}: it is incomplete"))
    };
    bar.finish_and_clear();
    let raw_manifest = read(MANIFEST)?;
    check_signature(dir.path(), trust)?;
    let manifest: Manifest = serde_json::from_slice(&raw_manifest)
        .context("the bundle's manifest.json is not a valid manifest")?;
    let sums = read(SUMS)?;
    if hex::encode(Sha256::digest(&sums)) != manifest.sha256sums_sha256 {
        bail!("SHA256SUMS does not match the digest in manifest.json: the bundle was altered");
    }
    let sums = String::from_utf8(sums).context("SHA256SUMS is not text")?;
    let mut listed = BTreeSet::new();
    for line in sums.lines() {
        let (sum, name) = line
            .split_once("  ")
            .with_context(|| format!("SHA256SUMS: a malformed line {line:?}"))?;
        let path = dir.path().join(name);
        if name.contains('/') || !path.is_file() {
            bail!("{name} is listed in SHA256SUMS but missing from the bundle: it is incomplete");
        }
        if sha256_file(&path)? != sum {
            bail!("{name} does not match its checksum: the bundle is corrupt or was altered");
        }
        listed.insert(name.to_owned());
    }
    for e in std::fs::read_dir(dir.path())? {
        let n = e?.file_name().to_string_lossy().into_owned();
        if n != MANIFEST && n != SUMS && n != SIGNATURE && !listed.contains(&n) {
            bail!("{n} is in the bundle but not listed in SHA256SUMS: refusing an unlisted file");
        }
    }
    let saved = saved_references(&dir.path().join(IMAGES_TAR))?;
    let in_manifest: BTreeSet<&str> = manifest
        .images
        .iter()
        .map(|i| i.reference.as_str())
        .collect();
    for (image, services) in compose_images(dir.path())? {
        if !saved.contains(&image) || !in_manifest.contains(image.as_str()) {
            bail!(
                "image {image} (used by {}) is not in the bundle",
                services.join(", ")
            );
        }
    }
    Ok(Verified { dir, manifest })
}

/// Where `load` records what is installed.
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("OUTPOST_STATE_DIR") {
        return d.into();
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"))
        .join("outpost")
}

/// Where `load` keeps a release's compose files and env examples.
pub fn release_dir(version: &str) -> PathBuf {
    release_dir_in(&state_dir(), version)
}

pub fn release_dir_in(state: &Path, version: &str) -> PathBuf {
    state.join("releases").join(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDGE: &str = "services:\n  postgres:\n    image: ${OUTPOST_POSTGRES_IMAGE:-outpost/postgres:0.1.0}\n  api:\n    image: ${OUTPOST_IMAGE:-outpost/outpost:0.1.0}\nvolumes:\n  pg:\n";
    const CLOUD: &str =
        "services:\n  api:\n    # the cloud\n    image: ${OUTPOST_IMAGE:-outpost/outpost:0.1.0}\n";

    /// A docker-save-shaped archive naming `tags`.
    fn images_tar(path: &Path, tags: &[&str]) {
        let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
        let m =
            serde_json::json!([{"Config": "c.json", "RepoTags": tags, "Layers": []}]).to_string();
        let mut h = tar::Header::new_gnu();
        h.set_size(m.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "manifest.json", m.as_bytes())
            .unwrap();
        b.finish().unwrap();
    }

    fn manifest(images: &[&str]) -> Manifest {
        Manifest {
            name: "outpost".into(),
            version: "0.1.0".into(),
            git_commit: "abc".into(),
            created_at: 1,
            platform: "linux/amd64".into(),
            requires: BTreeMap::new(),
            uncompressed_bytes: 0,
            images: images
                .iter()
                .map(|r| Image {
                    reference: (*r).into(),
                    id: "sha256:1".into(),
                    services: vec![],
                })
                .collect(),
            cargo_lock_sha256: String::new(),
            sha256sums_sha256: String::new(),
            sources_bytes: 0,
        }
    }

    const UNIT: &str = include_str!("../register/outpost-register.service");

    /// A staged bundle folder holding `tags` and the till's files, sealed.
    fn staged(tags: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("compose.edge.yml"), EDGE).unwrap();
        std::fs::write(d.path().join("compose.cloud.yml"), CLOUD).unwrap();
        std::fs::write(d.path().join(".env.example"), "A=1\n").unwrap();
        std::fs::write(d.path().join(TILL_BINARY), b"\x7fELF outpost").unwrap();
        std::fs::write(d.path().join(REGISTER_UNIT), UNIT).unwrap();
        images_tar(&d.path().join(IMAGES_TAR), tags);
        seal(d.path(), manifest(tags)).unwrap();
        d
    }

    fn packed(stage: &Path) -> (tempfile::TempDir, PathBuf) {
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("b.bundle.tar.zst");
        pack(stage, &path).unwrap();
        (out, path)
    }

    fn unsigned() -> Trust {
        Trust {
            key: None,
            allow_unsigned: true,
        }
    }

    fn refused(bundle: &Path) -> String {
        refused_with(bundle, &unsigned())
    }

    fn refused_with(bundle: &Path, trust: &Trust) -> String {
        match verify(bundle, trust) {
            Ok(_) => panic!("a bad bundle passed verify"),
            Err(e) => format!("{e:#}"),
        }
    }

    const BOTH: [&str; 2] = ["outpost/postgres:0.1.0", "outpost/outpost:0.1.0"];

    #[test]
    fn compose_images_names_every_service_by_its_default_image() {
        let d = staged(&BOTH);
        let got = compose_images(d.path()).unwrap();
        assert_eq!(got["outpost/outpost:0.1.0"], ["edge/api", "cloud/api"]);
        assert_eq!(got["outpost/postgres:0.1.0"], ["edge/postgres"]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_sealed_bundle_verifies_and_sha256sum_can_check_it() {
        let d = staged(&BOTH);
        let (_o, b) = packed(d.path());
        let v = verify(&b, &unsigned()).unwrap();
        assert_eq!(v.manifest.images.len(), 2);
        let sums = std::fs::read_to_string(v.dir.path().join(SUMS)).unwrap();
        for f in [IMAGES_TAR, TILL_BINARY, REGISTER_UNIT] {
            assert!(
                sums.lines().any(|l| l.ends_with(&format!("  {f}"))),
                "{f}: {sums}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(v.dir.path().join(REGISTER_UNIT)).unwrap(),
            UNIT
        );
        assert!(v.manifest.uncompressed_bytes > 0);
    }

    #[test]
    fn a_signed_bundle_verifies_only_with_its_key_and_unsigned_only_when_allowed() {
        let minisign::KeyPair { pk, sk } =
            minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let other = minisign::KeyPair::generate_unencrypted_keypair()
            .unwrap()
            .pk;
        let d = staged(&BOTH);
        let (_o, unsigned_bundle) = packed(d.path());
        sign(d.path(), &sk, "outpost 0.1.0").unwrap();
        let (_o2, signed) = packed(d.path());
        let trusted = |k: &minisign::PublicKey| Trust {
            key: Some(k.clone()),
            allow_unsigned: false,
        };
        verify(&signed, &trusted(&pk)).unwrap();
        let e = refused_with(&signed, &trusted(&other));
        assert!(e.contains("does not verify with the trusted key"), "{e}");
        let e = refused_with(&unsigned_bundle, &trusted(&pk));
        assert!(
            e.contains("not signed") && e.contains("--allow-unsigned"),
            "{e}"
        );
        let e = refused_with(&signed, &Trust::default());
        assert!(e.contains("no trusted public key"), "{e}");
        verify(&unsigned_bundle, &unsigned()).unwrap();

        // The manifest changed after signing (and the sums with it): refused.
        let m = d.path().join(MANIFEST);
        let text = std::fs::read_to_string(&m).unwrap();
        std::fs::write(&m, text.replace("\"abc\"", "\"abd\"")).unwrap();
        let (_o3, altered) = packed(d.path());
        let e = refused_with(&altered, &trusted(&pk));
        assert!(e.contains("does not verify"), "{e}");
    }

    #[test]
    fn a_changed_byte_is_refused_naming_the_file() {
        let d = staged(&BOTH);
        let p = d.path().join(".env.example");
        std::fs::write(&p, "A=2\n").unwrap();
        let (_o, b) = packed(d.path());
        let e = refused(&b);
        assert!(
            e.contains(".env.example does not match its checksum"),
            "{e}"
        );
    }

    #[test]
    fn an_altered_register_agent_or_unit_is_refused_naming_it() {
        for f in [TILL_BINARY, REGISTER_UNIT] {
            let d = staged(&BOTH);
            let p = d.path().join(f);
            let mut bytes = std::fs::read(&p).unwrap();
            bytes[0] ^= 1;
            std::fs::write(&p, bytes).unwrap();
            let (_o, b) = packed(d.path());
            let e = refused(&b);
            assert!(
                e.contains(&format!("{f} does not match its checksum")),
                "{e}"
            );
        }
    }

    #[test]
    fn the_register_unit_runs_the_agent_as_its_user_writing_only_its_data_folder() {
        let value = |key: &str| {
            UNIT.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("no {key}= in the unit"))
        };
        let data = value("ExecStart")
            .strip_prefix("/usr/local/bin/outpost register --data ")
            .expect("ExecStart runs /usr/local/bin/outpost register --data DIR");
        assert_eq!(data, "/var/lib/outpost-register");
        assert_eq!(value("ReadWritePaths"), data);
        assert_eq!(value("WorkingDirectory"), data);
        assert_eq!(value("User"), "outpost-register");
        assert_eq!(value("ProtectSystem"), "strict");
        assert_eq!(value("NoNewPrivileges"), "yes");
        assert_eq!(value("Restart"), "always");
    }

    #[test]
    fn altered_sums_are_refused() {
        let d = staged(&BOTH);
        let p = d.path().join(SUMS);
        let s = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, s.replacen('a', "b", 1)).unwrap();
        let (_o, b) = packed(d.path());
        assert!(refused(&b).contains("SHA256SUMS does not match"));
    }

    #[test]
    fn an_unlisted_file_is_refused() {
        let d = staged(&BOTH);
        std::fs::write(d.path().join("extra.sh"), "rm -rf /").unwrap();
        let (_o, b) = packed(d.path());
        let e = refused(&b);
        assert!(e.contains("extra.sh") && e.contains("not listed"), "{e}");
    }

    #[test]
    fn a_missing_image_is_refused_naming_its_services() {
        let d = staged(&["outpost/outpost:0.1.0"]);
        let (_o, b) = packed(d.path());
        let e = refused(&b);
        assert!(
            e.contains("outpost/postgres:0.1.0 (used by edge/postgres) is not in the bundle"),
            "{e}"
        );
    }

    #[test]
    fn a_truncated_bundle_is_refused() {
        let d = staged(&BOTH);
        let (_o, b) = packed(d.path());
        let bytes = std::fs::read(&b).unwrap();
        std::fs::write(&b, &bytes[..bytes.len() / 2]).unwrap();
        let e = refused(&b);
        assert!(
            e.contains("truncated or corrupt") || e.contains("incomplete"),
            "{e}"
        );
    }

    #[test]
    fn a_path_leaving_the_folder_is_refused() {
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("evil.bundle.tar.zst");
        let z = zstd::Encoder::new(std::fs::File::create(&path).unwrap(), 3).unwrap();
        let mut b = tar::Builder::new(z);
        let mut h = tar::Header::new_gnu();
        let name = b"../escaped";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        b.into_inner().unwrap().finish().unwrap();
        let e = refused(&path);
        assert!(e.contains("only plain file names"), "{e}");
        assert!(!out.path().parent().unwrap().join("escaped").exists());
    }
}
