//! Fetches the browser code the operator page embeds (`src/server/ui/vendor/package.json`:
//! Microsoft's Adaptive Cards renderer and markdown-it, the Markdown the Teams preview needs),
//! checks it, and leaves it in `OUT_DIR` for `include_bytes!` (`src/server/ui/assets.rs`).
//!
//! The packages are fetched by `npm ci --ignore-scripts` from the lock file, which pins each
//! package's version and sha512 integrity; nothing of them is in the repository, and no
//! package script runs. Each embedded file is checked once more against the SHA-256 below, so
//! a lock file change cannot swap the bytes unnoticed. The install lives in `OUT_DIR` and is
//! reused while the lock file is unchanged.
//!
//! Without npm (an offline build machine), set `MQA_RELAY_UI_VENDOR` to a directory holding a
//! `node_modules` made by `npm ci` from the same lock file elsewhere; it is checked the same way.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// `(file inside node_modules, name in OUT_DIR, SHA-256 of its bytes)`.
const EMBEDDED: &[(&str, &str, &str)] = &[
    (
        "adaptivecards/dist/adaptivecards.min.js",
        "adaptivecards.min.js",
        "5e7c13f3300ae7b89b34703501e08d709fbb6635f1c6755b92495577a77344f2",
    ),
    (
        "markdown-it/dist/browser/markdown-it.umd.min.js",
        "markdown-it.min.js",
        "391f2aa638e75e6c7859d0a5c5650ef0956722a45998f17e05b83bc655778e1e",
    ),
];

const VENDOR: &str = "src/server/ui/vendor";

fn main() {
    println!("cargo::rerun-if-changed={VENDOR}/package.json");
    println!("cargo::rerun-if-changed={VENDOR}/package-lock.json");
    println!("cargo::rerun-if-env-changed=MQA_RELAY_UI_VENDOR");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let modules = match std::env::var_os("MQA_RELAY_UI_VENDOR") {
        Some(dir) => PathBuf::from(dir).join("node_modules"),
        None => install(&out.join("vendor")),
    };
    for (from, to, sha256) in EMBEDDED {
        let bytes = fs::read(modules.join(from))
            .unwrap_or_else(|e| fail(&format!("cannot read {from} in {}: {e}", modules.display())));
        let found = hex(&Sha256::digest(&bytes));
        if found != *sha256 {
            fail(&format!(
                "{from} has SHA-256 {found}, build.rs pins {sha256}: the lock file and \
                 build.rs must change together"
            ));
        }
        fs::write(out.join(to), &bytes)
            .unwrap_or_else(|e| fail(&format!("cannot write {to}: {e}")));
    }
    fs::write(out.join("THIRD_PARTY_LICENSES.txt"), licenses(&modules))
        .unwrap_or_else(|e| fail(&format!("cannot write the licenses: {e}")));
}

/// `npm ci` into `dir` from the lock file, unless the install there is from this lock file.
fn install(dir: &Path) -> PathBuf {
    let lock = fs::read(Path::new(VENDOR).join("package-lock.json"))
        .unwrap_or_else(|e| fail(&format!("cannot read {VENDOR}/package-lock.json: {e}")));
    let stamp = dir.join("node_modules/.installed-from");
    let wanted = hex(&Sha256::digest(&lock));
    if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return dir.join("node_modules");
    }
    fs::create_dir_all(dir)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", dir.display())));
    for file in ["package.json", "package-lock.json"] {
        fs::copy(Path::new(VENDOR).join(file), dir.join(file))
            .unwrap_or_else(|e| fail(&format!("cannot copy {file}: {e}")));
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!(
                "cannot run npm ({e}): the operator page embeds npm packages fetched at build \
                 time; install Node.js, or set MQA_RELAY_UI_VENDOR (see build.rs)"
            ))
        });
    if !status.success() {
        fail(&format!("npm ci in {} failed ({status})", dir.display()));
    }
    fs::write(&stamp, wanted).unwrap_or_else(|e| fail(&format!("cannot write the stamp: {e}")));
    dir.join("node_modules")
}

/// Every installed package's licence file, each under its package's name (MIT requires the
/// notices to travel with the code; the page serves this file).
fn licenses(modules: &Path) -> String {
    let mut packages: Vec<PathBuf> = fs::read_dir(modules)
        .map(|dir| {
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    packages.sort();
    let mut text = String::new();
    for package in packages {
        let name = package
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut files: Vec<PathBuf> = fs::read_dir(&package)
            .map(|dir| dir.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|f| {
            f.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .to_ascii_uppercase()
                    .starts_with("LICENSE")
            })
        });
        files.sort();
        for file in files {
            if let Ok(body) = fs::read_to_string(&file) {
                text.push_str(&format!("==== {name} ====\n{}\n\n", body.trim_end()));
            }
        }
    }
    text
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
