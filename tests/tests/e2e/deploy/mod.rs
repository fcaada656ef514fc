//! The deployment as users run it: the image built by scripts/build-image.sh
//! and run by podman with exactly the grants deploy/README.md lists, and the
//! example NATS configuration of the Helm chart run by nats-server.

mod image;
mod nats_permissions;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cipherlens_integration::repo_root;

/// Rows of a table in deploy/README.md whose first cell is a code span
/// starting with `prefix`: (name, the other cells).
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
                .map(|c| c.trim().to_owned())
                .collect();
            (name, cells)
        })
        .collect()
}

/// The helm the set-up installed (`CIPHERLENS_TOOLS` overrides its directory).
pub fn helm() -> PathBuf {
    std::env::var_os("CIPHERLENS_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/cipherlens-tools/bin"))
        .join("helm")
}

/// podman with a containers.conf of its own in `dir`: runc, and rlimits a
/// container may set here (see ../shared/TOOLCHAIN.md).
pub struct Podman {
    conf: PathBuf,
}

impl Podman {
    pub fn new(dir: &Path) -> Self {
        let conf = dir.join("containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\nruntime = \"runc\"\n",
        )
        .expect("containers.conf");
        Podman { conf }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("podman");
        command.env("CONTAINERS_CONF", &self.conf);
        command
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("podman runs")
    }
}
