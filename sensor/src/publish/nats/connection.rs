//! The one connection to NATS the publisher and the directive server
//! share: credentials, TLS, and which failures at start are settings to fix
//! (refused) rather than an outage to ride out (retried in the background).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions};

use super::publisher::Shared;
use super::{NatsError, NatsOptions};

/// How to authenticate.
#[derive(Debug, Clone, Default)]
pub enum NatsCredentials {
    #[default]
    None,
    UserPassword {
        user: String,
        password: String,
    },
    Token(String),
    /// An nkey seed (`SU...`).
    NkeySeed(String),
    /// A `.creds` file (JWT and nkey seed).
    CredsFile(PathBuf),
}

pub(super) async fn connect(
    options: &NatsOptions,
    shared: &Arc<Shared>,
) -> Result<async_nats::Client, NatsError> {
    let first = connect_options(options, shared)
        .await?
        .connect(options.url.as_str())
        .await;
    match first {
        Ok(client) => Ok(client),
        Err(source) => match source.kind() {
            kind @ (ConnectErrorKind::AuthorizationViolation
            | ConnectErrorKind::Authentication
            | ConnectErrorKind::Tls
            | ConnectErrorKind::ServerParse) => Err(NatsError::Refused {
                url: options.url.clone(),
                kind,
                source,
            }),
            // rustls reports a certificate it does not trust as an I/O
            // error of kind InvalidData: a setting to fix, not an outage.
            ConnectErrorKind::Io if is_invalid_data(&source) => Err(NatsError::Refused {
                url: options.url.clone(),
                kind: ConnectErrorKind::Tls,
                source,
            }),
            _ => {
                tracing::warn!(url = %options.url, error = %source,
                    "NATS unreachable at start; buffering and retrying");
                connect_options(options, shared)
                    .await?
                    .retry_on_initial_connect()
                    .connect(options.url.as_str())
                    .await
                    .map_err(|source| NatsError::Connect {
                        url: options.url.clone(),
                        source,
                    })
            }
        },
    }
}

fn is_invalid_data(error: &async_nats::ConnectError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::InvalidData;
        }
        cause = current.source();
    }
    false
}

async fn connect_options(
    options: &NatsOptions,
    shared: &Arc<Shared>,
) -> Result<ConnectOptions, NatsError> {
    let mut connect = match &options.credentials {
        NatsCredentials::None => ConnectOptions::new(),
        NatsCredentials::UserPassword { user, password } => {
            ConnectOptions::with_user_and_password(user.clone(), password.clone())
        }
        NatsCredentials::Token(token) => ConnectOptions::with_token(token.clone()),
        NatsCredentials::NkeySeed(seed) => ConnectOptions::with_nkey(seed.clone()),
        NatsCredentials::CredsFile(path) => ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|source| NatsError::CredsFile {
                path: path.clone(),
                source,
            })?,
    };
    if let Some(ca) = &options.tls_ca {
        connect = connect.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &options.tls_client {
        connect = connect.add_client_certificate(cert.clone(), key.clone());
    }
    let events = Arc::clone(shared);
    Ok(connect
        .require_tls(options.tls_required)
        .name(format!("cipherlens {}", options.node))
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let events = Arc::clone(&events);
            async move {
                match event {
                    async_nats::Event::Disconnected => {
                        events.counters.disconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("NATS disconnected; buffering");
                    }
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    other => tracing::info!(event = %other, "NATS"),
                }
            }
        }))
}
