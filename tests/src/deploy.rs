//! What deploy/README.md states, read by the tests that hold the chart and
//! the image to it, and the deployment tools the set-up installs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::repo_root;

/// Rows of a table in deploy/README.md whose first cell is a code span
/// starting with `prefix`: (the span's text, the other cells).
pub fn readme_rows(prefix: &str) -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(repo_root().join("deploy/README.md")).expect("README");
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter(|rest| rest.starts_with(prefix))
        .map(|rest| {
            let name = rest.split('`').next().expect("a code span").to_owned();
            let cells = rest
                .split('|')
                .skip(1)
                .map(|cell| cell.trim().to_owned())
                .collect();
            (name, cells)
        })
        .collect()
}

/// A deployment tool scripts/setup.sh installs under /opt/cipherlens-tools/bin
/// (`CIPHERLENS_TOOLS` names another directory).
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("CIPHERLENS_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/cipherlens-tools/bin"))
        .join(name);
    assert!(
        path.exists(),
        "{} missing: run scripts/setup.sh",
        path.display()
    );
    path
}

/// helm with its cache, configuration and data in `scratch` (it writes
/// nothing elsewhere; no repository is reached).
pub fn helm(scratch: &Path) -> Command {
    let mut command = Command::new(tool("helm"));
    for variable in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] {
        command.env(variable, scratch);
    }
    command
}
