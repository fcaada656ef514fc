//! The deployment as users run it: the image built by scripts/build-image.sh
//! and run by podman with exactly the grants deploy/README.md lists, and the
//! example NATS configuration of the Helm chart run by nats-server.

mod image;
mod nats_permissions;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
