//! What some tests install for themselves, once per test process, with the scripts in
//! `tests/tools/` (each does nothing when its install is current): the npm packages pinned
//! with their integrity hashes in `tests/tools/*/package-lock.json` (Microsoft's Adaptive
//! Cards parser, Deque's axe-core; `install.sh`, `npm ci`), and Debian's Chromium with its
//! WebDriver (`chromium.sh`, `apt-get`).

use std::process::Command;
use std::sync::OnceLock;

/// The pinned npm packages.
pub fn install_npm_packages() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    run_once(
        &INSTALLED,
        "install.sh",
        "the pinned npm packages (Node.js and npm)",
    );
}

/// Debian's chromium and chromium-driver.
pub fn install_chromium() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    run_once(
        &INSTALLED,
        "chromium.sh",
        "Debian's chromium and chromium-driver",
    );
}

/// Runs `tests/tools/<script>` the first time it is asked for; panics, every time, with what
/// it printed if it failed.
fn run_once(installed: &OnceLock<Result<(), String>>, script: &str, needs: &str) {
    let installed = installed.get_or_init(|| {
        let script = format!("{}/tests/tools/{script}", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{script} failed ({}); these tests need {needs}:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(why) = installed {
        panic!("{why}");
    }
}
