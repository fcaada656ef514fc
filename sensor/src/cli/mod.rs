//! The subcommands: their arguments, how the configuration file joins them,
//! and how the options become the sensor's inputs and outputs.
//!
//! - `live`, `replay`, `inventory`: one module per subcommand.
//! - `sinks`: where records go (stdout, file, NATS) and the NATS credentials.
//! - `logging`: `--log-format`.
//!
//! The options themselves, the file and the precedence rule are in
//! `cipherlens_control::config`.

pub mod inventory;
pub mod live;
pub mod logging;
pub mod probe_baseline;
pub mod replay;
pub mod sinks;
pub mod tc_baseline;
pub mod tls_libraries;

use std::path::PathBuf;

/// Blocks until SIGINT or SIGTERM (the benchmark baselines' lifetime).
pub fn until_interrupted() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })
}

use cipherlens_control::config::{
    self, CaptureSection, ConfigError, InventorySection, NatsSection, PipelineSection,
    PolicySection,
};
use cipherlens_sensor::pipeline::PipelineConfig;
use clap::{ArgMatches, Args};

/// What `live` and `replay` share: the configuration file and every section
/// of it but `[capture]`.
#[derive(Args)]
pub struct SharedArgs {
    /// Configuration file (TOML); command-line options and CIPHERLENS_*
    /// variables override it (`replay` reads every section but [capture]).
    #[arg(long, env = "CIPHERLENS_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    nats: NatsSection,
    #[command(flatten)]
    pipeline: PipelineSection,
    #[command(flatten)]
    policy: PolicySection,
    #[command(flatten)]
    inventory: InventorySection,
}

impl SharedArgs {
    /// With a configuration file, each section is the file's with what the
    /// command line and environment gave (`given`) put over it; the file's
    /// `[capture]` section is handed back for `live`. Secret files are read.
    fn with_config_file(
        mut self,
        given: &ArgMatches,
    ) -> Result<(Self, Option<CaptureSection>), ConfigError> {
        let mut capture = None;
        if let Some(path) = &self.config {
            let file = config::load(path)?;
            self.nats = config::overlay(file.nats, given)?;
            self.pipeline = config::overlay(file.pipeline, given)?;
            self.policy = config::overlay(file.policy, given)?;
            self.inventory = config::overlay(file.inventory, given)?;
            capture = Some(file.capture);
        }
        self.nats = self.nats.read_secrets()?;
        Ok((self, capture))
    }
}

/// The policy handle when alerts are on; a policy that does not load stops
/// the start with its error.
fn policy_handle(
    section: &cipherlens_control::config::PolicySection,
) -> anyhow::Result<Option<std::sync::Arc<cipherlens_sensor::alerts::PolicyHandle>>> {
    use anyhow::Context as _;
    if !section.enabled() {
        return Ok(None);
    }
    cipherlens_sensor::alerts::PolicyHandle::load(section.policy_file.as_deref())
        .map(Some)
        .context("loading the policy")
}

/// The inventory step when `--inventory-db` asks for one.
fn inventory_stage(
    section: &cipherlens_control::config::InventorySection,
    node: Option<&str>,
    policy: Option<&std::sync::Arc<cipherlens_sensor::alerts::PolicyHandle>>,
) -> anyhow::Result<Option<cipherlens_sensor::inventory::InventoryStage>> {
    use anyhow::Context as _;
    let Some(path) = &section.inventory_db else {
        return Ok(None);
    };
    let node = node.map_or_else(
        || cipherlens_sensor::attribution::this_node().name,
        str::to_owned,
    );
    cipherlens_sensor::inventory::InventoryStage::open(path, &node, policy.cloned())
        .map(Some)
        .with_context(|| format!("opening the inventory {}", path.display()))
}

fn pipeline_config(section: &PipelineSection) -> PipelineConfig {
    PipelineConfig {
        max_handshake_message: section.max_handshake_message,
        max_reassembly_bytes: section.max_reassembly_bytes,
        ja4_original_order: section.ja4_original_order,
        community_id_seed: section.community_id_seed,
        max_sealed_bytes: if section.keylog_file.is_some() {
            cipherlens_sensor::pipeline::SEALED_BYTES_WITH_KEY_LOG
        } else {
            0
        },
        ..PipelineConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use cipherlens_control::config::{
        CaptureSection, InventorySection, NatsSection, PolicySection,
    };
    use clap::{Args, Command};

    use super::*;

    fn ids(command: Command) -> BTreeSet<String> {
        command
            .get_arguments()
            .map(|arg| arg.get_id().to_string())
            .collect()
    }

    /// An option outside the sections could not be set in the file; only
    /// those that belong to one run are.
    #[test]
    fn every_other_option_is_in_a_file_section() {
        let capture = ids(CaptureSection::augment_args(Command::new("capture")));
        let pipeline = ids(PipelineSection::augment_args(Command::new("pipeline")));
        let nats = ids(NatsSection::augment_args(Command::new("nats")));
        let policy = ids(PolicySection::augment_args(Command::new("policy")));
        let inventory = ids(InventorySection::augment_args(Command::new("inventory")));
        let live = ids(live::LiveArgs::augment_args(Command::new("live")));
        let replay = ids(replay::ReplayArgs::augment_args(Command::new("replay")));
        let outside = |all: &BTreeSet<String>, sections: &[&BTreeSet<String>]| -> Vec<String> {
            all.iter()
                .filter(|id| !sections.iter().any(|section| section.contains(*id)))
                .cloned()
                .collect()
        };
        assert_eq!(
            outside(&live, &[&capture, &pipeline, &nats, &policy, &inventory]),
            ["config"]
        );
        assert_eq!(
            outside(&replay, &[&pipeline, &nats, &policy, &inventory]),
            ["cnflow", "config", "files", "output", "stats"]
        );
    }
}
