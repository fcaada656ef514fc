//! Where records go, from the options: stdout or `--output`, NATS, or both
//! (`--output` with NATS); and the NATS connection options, credentials
//! included.

use std::path::Path;

use anyhow::Context as _;
use cipherlens_control::config::NatsSection;
use cipherlens_sensor::live::LiveOutputs;
use cipherlens_sensor::publish::JsonLinesWriter;
use cipherlens_sensor::publish::nats::{NatsCredentials, NatsOptions, NatsSink};
use cipherlens_sensor::publish::{Fanout, Sink};

/// A JSON lines file to write records to.
pub struct FileOutput<'a> {
    pub path: &'a Path,
    /// Rotate at this many bytes, keeping this many old files.
    pub rotation: Option<(u64, u32)>,
}

/// The sinks for `file` and `nats`; with NATS and `directives`, also the
/// directives it receives.
pub fn build_sinks(
    file: Option<FileOutput>,
    nats: &NatsSection,
    directives: bool,
) -> anyhow::Result<LiveOutputs> {
    let file = match file {
        Some(FileOutput {
            path,
            rotation: Some((max_bytes, keep)),
        }) => Some(
            JsonLinesWriter::create_rotating(path, max_bytes, keep)
                .with_context(|| format!("creating {}", path.display()))?,
        ),
        Some(FileOutput {
            path,
            rotation: None,
        }) => Some(
            JsonLinesWriter::create(path)
                .with_context(|| format!("creating {}", path.display()))?,
        ),
        None => None,
    };
    let Some(url) = &nats.url else {
        return Ok(LiveOutputs {
            sink: Box::new(file.unwrap_or_else(JsonLinesWriter::stdout)),
            publish_stats: None,
            directives: None,
            inventory: None,
        });
    };
    let mut sink = NatsSink::connect(nats_options(nats, url, directives)?)?;
    let publish_stats = Some(sink.stats_source());
    let directives = sink.take_directives();
    let sink: Box<dyn Sink> = match file {
        Some(file) => Box::new(Fanout(vec![Box::new(file), Box::new(sink)])),
        None => Box::new(sink),
    };
    Ok(LiveOutputs {
        sink,
        publish_stats,
        directives,
        inventory: None,
    })
}

fn nats_options(nats: &NatsSection, url: &str, directives: bool) -> anyhow::Result<NatsOptions> {
    Ok(NatsOptions {
        url: url.to_string(),
        prefix: nats.prefix.clone(),
        node: nats
            .node
            .clone()
            .unwrap_or_else(|| cipherlens_sensor::attribution::this_node().name),
        credentials: credentials(nats)?,
        tls_ca: nats.ca.clone(),
        tls_client: nats.cert.clone().zip(nats.key.clone()),
        tls_required: nats.tls,
        jetstream: nats.jetstream,
        buffer: nats.buffer,
        directives,
    })
}

/// The first of: user and password, token, nkey seed, .creds file.
fn credentials(nats: &NatsSection) -> anyhow::Result<NatsCredentials> {
    Ok(
        if let (Some(user), Some(password)) = (&nats.user, &nats.password_file) {
            NatsCredentials::UserPassword {
                user: user.clone(),
                password: password.read()?,
            }
        } else if let Some(token) = &nats.token_file {
            NatsCredentials::Token(token.read()?)
        } else if let Some(path) = &nats.nkey_seed_file {
            let seed = std::fs::read_to_string(path)
                .with_context(|| format!("reading the nkey seed file {}", path.display()))?;
            NatsCredentials::NkeySeed(seed.trim().to_string())
        } else if let Some(path) = &nats.creds {
            NatsCredentials::CredsFile(path.clone())
        } else {
            NatsCredentials::None
        },
    )
}
