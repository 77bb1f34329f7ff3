//! A Python venv with the test tools from PyPI, made once under the target
//! folder (a fresh CI machine makes it on its first run) and shared by the
//! tests that need it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools' versions, pinned so a new release cannot fail a build that
/// changed nothing: openapi-spec-validator checks the document, and
/// schemathesis fuzzes every operation it describes.
const PACKAGES: [&str; 2] = ["openapi-spec-validator==0.9.0", "schemathesis==4.32.5"];

/// The venv's python, the venv made first if it is not there yet.
pub fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let venv = root.join("test-tools-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(PACKAGES.join(" "));
    if stamp.exists() {
        return python;
    }
    // Made beside and moved into place, so a run that stops halfway (or
    // another test process) never sees a half-made venv.
    let tmp = root.join(format!("test-tools-venv.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    run(Command::new("python3").args(["-m", "venv"]).arg(&tmp));
    run(Command::new(tmp.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES));
    std::fs::write(tmp.join(PACKAGES.join(" ")), "").unwrap();
    if stamp.exists() {
        // Another test process finished first and may be using it now.
        let _ = std::fs::remove_dir_all(&tmp);
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    if std::fs::rename(&tmp, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    python
}

fn run(c: &mut Command) {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
