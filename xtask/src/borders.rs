//! The crate borders docs/ARCHITECTURE.md draws, checked on the dependency
//! graph cargo resolves for each crate alone (normal dependencies, as its
//! binary links them). The air-gap tool, which ships to every store, links
//! no other crate of the workspace at all.

#[cfg(test)]
mod tests {
    /// Every package `package` links, by name.
    fn links(package: &str) -> Vec<String> {
        let out = std::process::Command::new(outpost_offline::sources::cargo())
            .args([
                "tree",
                "--locked",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .args(["--format", "{p}", "-p", package])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    }

    /// The workspace's own packages, by name (`cargo metadata --no-deps`).
    fn members() -> Vec<String> {
        let out = std::process::Command::new(outpost_offline::sources::cargo())
            .args([
                "metadata",
                "--locked",
                "--offline",
                "--no-deps",
                "--format-version",
                "1",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo's JSON");
        m["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_tool_every_bundle_ships_links_no_service_storage_database_or_bench() {
        let linked = links("outpost-offline");
        assert!(linked.iter().any(|p| p == "outpost-offline"), "{linked:?}");
        let members = members();
        // Named, so the message says which border broke; the member check
        // below covers every other crate of ours, xtask (the benches) too.
        for must in ["outpost-storage", "outpost-hw-proxy", "xtask"] {
            assert!(members.iter().any(|m| m == must), "{must} is no member");
        }
        for p in &linked {
            assert!(
                p == "outpost-offline" || !members.contains(p),
                "outpost-offline links {p}: the tool a store's host runs takes no other crate of the workspace"
            );
        }
        // Nor, through some other library, a database or broker client.
        for never in ["diesel", "pq-sys", "libsqlite3-sys", "redis", "lapin"] {
            assert!(
                !linked.iter().any(|p| p == never),
                "outpost-offline links {never}, which the air-gap tool does not need"
            );
        }
    }

    #[test]
    fn each_service_links_only_what_its_role_needs() {
        for (package, never) in [
            // hw-proxy keeps its own SQLite queue: not the edge's storage,
            // not PostgreSQL's client library.
            ("outpost-hw-proxy", &["outpost-storage", "pq-sys"][..]),
            // The edge api prints through hw-proxy's gRPC service and the
            // receipt crate, and has no broker.
            (
                "outpost-api",
                &["outpost-hw-proxy", "outpost-bus", "lapin"][..],
            ),
            // The cloud shares the domain with the edge, not its database.
            ("outpost-cloud", &["outpost-storage", "outpost-api"][..]),
            // The receipt layout does no I/O of its own: no database, no
            // service crate (it names the PrintService's messages, so the
            // proto crate's gRPC runtime comes along).
            (
                "outpost-receipt",
                &["diesel", "outpost-storage", "outpost-hw-proxy"][..],
            ),
        ] {
            let linked = links(package);
            assert!(linked.iter().any(|p| p == package), "{package}: {linked:?}");
            for n in never {
                assert!(
                    !linked.iter().any(|p| p == n),
                    "{package} links {n}, which its role does not need"
                );
            }
        }
    }
}
