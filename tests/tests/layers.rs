//! The layers point one way: the library crates (the domain and the pure `tiles`,
//! `analysis`, `address`) never name axum, and the domain never depends on the HTTP
//! crate. Read from the sources and manifests, so a new `use axum` or dependency fails
//! here before review. (`tests/` and `fuzz/` drive the server's router and may name it.)

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") || path.ends_with("Cargo.toml") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_http_crate_knows_axum() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offending = Vec::new();
    let mut seen = 0;
    for krate in ["domain", "tiles", "analysis", "address"] {
        let mut list = Vec::new();
        files(&root.join(krate), &mut list);
        seen += list.len();
        for f in list {
            let text = std::fs::read_to_string(&f).expect("read");
            if text.contains("axum") {
                offending.push(f.display().to_string());
            }
        }
    }
    assert!(seen > 50, "the crates' sources were found ({seen} files)");
    assert!(offending.is_empty(), "mention axum: {offending:?}");
    let manifest = std::fs::read_to_string(root.join("domain/Cargo.toml")).expect("manifest");
    for dep in ["minqing-server", "axum", "tower-http", "hyper"] {
        assert!(
            !manifest.contains(dep),
            "domain/Cargo.toml must not depend on {dep}"
        );
    }
}
