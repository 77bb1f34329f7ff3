//! The tidy test: each crate's borders, as docs/ARCHITECTURE.md writes them
//! under the crate (`*Borders:*` lines), checked against `cargo metadata`
//! and the crate's sources. The document is the rule: change a border there
//! first, and this test tells what the code must follow.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// One crate's borders as the document states them.
    #[derive(Debug, Default)]
    struct Borders {
        depends_on: BTreeSet<String>,
        diesel: bool,
        actix: bool,
    }

    /// The `*Borders:*` line under each crate of the code map, by package:
    /// "*Borders:* depends on `outpost-domain`, `outpost-proto`; diesel: no;
    /// actix: yes." (`depends on nothing` for none).
    fn documented(doc: &str) -> Result<BTreeMap<String, Borders>, String> {
        let mut out = BTreeMap::new();
        let mut package: Option<String> = None;
        for line in doc.lines() {
            // A crate's paragraph opens with **`crates/x`** (`package`) or
            // **`xtask`**.
            if let Some(rest) = line.strip_prefix("**`") {
                let (folder, after) = rest.split_once("`**").unwrap_or((rest, ""));
                package = match after.strip_prefix(" (`") {
                    Some(p) => p.split('`').next().map(str::to_owned),
                    None => Some(folder.rsplit('/').next().unwrap_or(folder).to_owned()),
                };
                continue;
            }
            let Some(rule) = line.trim().strip_prefix("*Borders:*") else {
                continue;
            };
            let p = package
                .take()
                .ok_or_else(|| format!("a Borders line outside a crate's paragraph: {line}"))?;
            let rule = rule.trim().trim_end_matches('.');
            let mut b = Borders::default();
            for part in rule.split(';').map(str::trim) {
                if let Some(list) = part.strip_prefix("depends on ") {
                    if list != "nothing" {
                        b.depends_on = list
                            .split(',')
                            .map(|d| d.trim().trim_matches('`').to_owned())
                            .collect();
                    }
                } else if let Some(v) = part.strip_prefix("diesel: ") {
                    b.diesel = yes(v, &p)?;
                } else if let Some(v) = part.strip_prefix("actix: ") {
                    b.actix = yes(v, &p)?;
                } else {
                    return Err(format!("{p}: cannot read {part:?} in its Borders line"));
                }
            }
            if out.insert(p.clone(), b).is_some() {
                return Err(format!("{p} has two Borders lines"));
            }
        }
        Ok(out)
    }

    fn yes(v: &str, p: &str) -> Result<bool, String> {
        match v {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(format!("{p}: {v:?} is neither yes nor no")),
        }
    }

    /// A workspace package as cargo sees it.
    struct Package {
        name: String,
        dir: PathBuf,
        /// Its normal (not dev, not build) dependencies, by package name.
        normal: BTreeSet<String>,
    }

    fn workspace() -> Vec<Package> {
        let out = std::process::Command::new(outpost_offline::sources::cargo())
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--locked",
                "--offline",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata");
        meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| Package {
                name: p["name"].as_str().expect("name").to_owned(),
                dir: Path::new(p["manifest_path"].as_str().expect("manifest"))
                    .parent()
                    .expect("a folder")
                    .to_owned(),
                normal: p["dependencies"]
                    .as_array()
                    .expect("dependencies")
                    .iter()
                    .filter(|d| d["kind"].is_null())
                    .map(|d| d["name"].as_str().expect("name").to_owned())
                    .collect(),
            })
            .collect()
    }

    /// The `.rs` files under `dir/src` that name `word` (as a path or in a
    /// `use`), relative to `dir`.
    fn naming(dir: &Path, words: &[&str]) -> Vec<String> {
        let mut hits = Vec::new();
        let mut stack = vec![dir.join("src")];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    if words.iter().any(|w| text.contains(&format!("{w}::"))) {
                        hits.push(
                            path.strip_prefix(dir)
                                .unwrap_or(&path)
                                .display()
                                .to_string(),
                        );
                    }
                }
            }
        }
        hits.sort();
        hits
    }

    /// Every way the sources and the manifest can break one crate's borders.
    fn broken(p: &Package, b: &Borders, internal: &BTreeSet<String>) -> Vec<String> {
        let mut wrong = Vec::new();
        let deps: BTreeSet<String> = p.normal.intersection(internal).cloned().collect();
        for d in deps.difference(&b.depends_on) {
            wrong.push(format!(
                "{} depends on {d}, which its Borders line does not allow",
                p.name
            ));
        }
        for d in b.depends_on.difference(&deps) {
            wrong.push(format!(
                "{}'s Borders line names {d}, which it does not depend on",
                p.name
            ));
        }
        for (name, allowed, crates, words) in [
            ("diesel", b.diesel, &["diesel"][..], &["diesel"][..]),
            (
                "actix",
                b.actix,
                &["actix-web", "actix-ws", "actix-rt"][..],
                &["actix_web", "actix_ws", "actix_rt"][..],
            ),
        ] {
            let listed: Vec<&str> = crates
                .iter()
                .copied()
                .filter(|c| p.normal.contains(*c))
                .collect();
            let named = naming(&p.dir, words);
            if !allowed && !listed.is_empty() {
                wrong.push(format!(
                    "{} depends on {listed:?} but its Borders line says {name}: no",
                    p.name
                ));
            }
            if !allowed && !named.is_empty() {
                wrong.push(format!(
                    "{} names {name} in {named:?} but its Borders line says {name}: no",
                    p.name
                ));
            }
            if allowed && listed.is_empty() {
                wrong.push(format!(
                    "{}'s Borders line says {name}: yes, but it does not depend on it",
                    p.name
                ));
            }
        }
        wrong
    }

    #[test]
    fn every_crate_keeps_the_borders_architecture_md_writes_under_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace");
        let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md"))
            .expect("docs/ARCHITECTURE.md");
        let rules = documented(&doc).unwrap_or_else(|e| panic!("docs/ARCHITECTURE.md: {e}"));
        let packages = workspace();
        let internal: BTreeSet<String> = packages.iter().map(|p| p.name.clone()).collect();
        let mut wrong = Vec::new();
        for p in &packages {
            match rules.get(&p.name) {
                Some(b) => wrong.extend(broken(p, b, &internal)),
                None => wrong.push(format!(
                    "{} has no *Borders:* line in docs/ARCHITECTURE.md's code map",
                    p.name
                )),
            }
        }
        for name in rules.keys().filter(|n| !internal.contains(*n)) {
            wrong.push(format!(
                "docs/ARCHITECTURE.md has Borders for {name}, which is not in the workspace"
            ));
        }
        assert!(
            wrong.is_empty(),
            "broken borders:\n  {}",
            wrong.join("\n  ")
        );
    }

    #[test]
    fn a_broken_border_is_caught() {
        let rules = documented(
            "**`crates/a`** (`outpost-a`) — a crate.\n\
             *Borders:* depends on `outpost-b`; diesel: no; actix: no.\n",
        )
        .expect("readable");
        let a = &rules["outpost-a"];
        let internal: BTreeSet<String> = ["outpost-a", "outpost-b", "outpost-c"]
            .map(String::from)
            .into();
        // Depending on a crate the line does not name, and on diesel, is caught;
        // so is a named crate it no longer depends on.
        let p = Package {
            name: "outpost-a".into(),
            dir: PathBuf::from("/nonexistent"),
            normal: ["outpost-c", "diesel"].map(String::from).into(),
        };
        let wrong = broken(&p, a, &internal);
        assert_eq!(wrong.len(), 3, "{wrong:?}");
        // The sources are read too, in every folder under src/.
        let dir = std::env::temp_dir().join(format!("outpost-tidy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src/deep")).expect("a temporary folder");
        // (The name is put together so this file does not name it itself.)
        let web = format!("use {}_web::App;\n", "actix");
        std::fs::write(dir.join("src/deep/web.rs"), web).expect("written");
        let found = naming(&dir, &["actix_web"]);
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(found, ["src/deep/web.rs"]);
        assert!(naming(Path::new("/nonexistent"), &["actix_web"]).is_empty());
        assert!(documented("*Borders:* depends on nothing; diesel: maybe.").is_err());
    }
}
