//! The npm packages some tests run (Microsoft's Adaptive Cards parser, Deque's axe-core),
//! pinned with their integrity hashes in `tests/tools/*/package-lock.json` and installed by
//! `tests/tools/install.sh` (`npm ci`; nothing when the install is current).

use std::process::Command;

/// Runs `tests/tools/install.sh` (once per test process): the pinned npm packages.
pub fn install_tools() {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/install.sh");
        let out = Command::new("bash")
            .arg(script)
            .output()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{script} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(why) = installed {
        panic!("{why}");
    }
}
