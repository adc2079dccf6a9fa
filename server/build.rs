//! Builds the browser views in `web/` (npm + Vite) and embeds the result: writes
//! `$OUT_DIR/web_assets.rs`, a list of `(path, include_bytes!(…))` for every file Vite
//! produced, which `http::web` serves. So `cargo build` alone yields a binary that
//! serves `/`, `/screen` and `/grid` with no files next to it and no internet.
//!
//! npm runs `ci` only when `node_modules` is missing or `package-lock.json` changed
//! since the last install, then `run build` into `$OUT_DIR/web-dist` (not `web/dist`,
//! so builds of different profiles never race on one directory).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("../web").canonicalize().unwrap_or_else(|_| {
        panic!(
            "the web views' sources are missing: expected {}",
            manifest.join("../web").display()
        )
    });
    for watched in [
        "src",
        "index.html",
        "screen.html",
        "grid.html",
        "review.html",
        "work.html",
        "package.json",
        "package-lock.json",
        "vite.config.js",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=MINQING_NPM");

    let npm = env::var("MINQING_NPM").unwrap_or_else(|_| "npm".into());
    match Command::new(&npm).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "\n\nbuilding minqing-server needs Node.js (>= 20.19) and npm to build the web views in {}.\n\
             Install them (Debian: `apt-get install nodejs npm`) or point MINQING_NPM at npm, then build again.\n\n",
            web.display()
        ),
    }

    install_if_needed(&npm, &web);

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dist = out_dir.join("web-dist");
    run(
        Command::new(&npm)
            .args(["run", "build", "--", "--outDir"])
            .arg(&dist)
            .args(["--emptyOutDir", "--logLevel", "warn"])
            .current_dir(&web),
        "npm run build",
    );

    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    assert!(
        files.iter().any(|(name, _)| name == "index.html"),
        "npm run build produced no index.html in {}",
        dist.display()
    );
    let mut code = String::from(
        "/// Every file of the built web views: (path under dist/, bytes).\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        code.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    fs::write(out_dir.join("web_assets.rs"), code).expect("write web_assets.rs");
}

/// `npm ci` when node_modules is missing or was installed from another lock file.
fn install_if_needed(npm: &str, web: &Path) {
    let lock = fs::read(web.join("package-lock.json")).expect("web/package-lock.json is committed");
    let stamp = web.join("node_modules/.minqing-installed-lock.json");
    if fs::read(&stamp).ok().as_deref() == Some(lock.as_slice()) {
        return;
    }
    run(
        Command::new(npm)
            .args(["ci", "--no-audit", "--no-fund"])
            // playwright-core never downloads browsers, but make sure nothing else does.
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .current_dir(web),
        "npm ci",
    );
    fs::write(&stamp, &lock).expect("write the install stamp in web/node_modules");
}

fn run(command: &mut Command, what: &str) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("could not start `{what}` for the web views: {e}"));
    assert!(
        status.success(),
        "`{what}` failed in web/ ({status}); see its output above"
    );
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in fs::read_dir(dir).expect("read web dist") {
        let path = entry.expect("dist entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let name = path
                .strip_prefix(root)
                .expect("under dist")
                .to_string_lossy()
                .replace('\\', "/");
            files.push((name, path));
        }
    }
}
