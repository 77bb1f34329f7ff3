//! The crate borders docs/ARCHITECTURE.md draws, checked on the dependency
//! graph cargo resolves for each crate alone (normal dependencies, as its
//! binary links them).

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
