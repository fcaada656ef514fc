//! The inbound side: directives on `<prefix>.directive.<node>` and
//! `<prefix>.directive.all`, checked here (malformed ones refused and
//! counted, never reaching the live loop), carried out by the live loop,
//! and answered on the request's reply subject.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cipherlens_control::directive::parse_directive;

use crate::directive::{DirectiveRequest, error_reply};

use super::publisher::Shared;
use super::subjects::Subjects;

/// Receives directives, refuses malformed ones at once, hands the rest to
/// the live loop and publishes its reply to the request's reply subject.
pub(super) async fn serve_directives(
    client: async_nats::Client,
    subjects: Subjects,
    to_loop: tokio::sync::mpsc::Sender<DirectiveRequest>,
    shared: Arc<Shared>,
) {
    use futures_util::StreamExt;
    let Subjects {
        directive: node_subject,
        directive_all: all_subject,
        ..
    } = subjects;
    let (mut node, mut all) = match (
        client.subscribe(node_subject.clone()).await,
        client.subscribe(all_subject.clone()).await,
    ) {
        (Ok(node), Ok(all)) => (node, all),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "subscribing to directives failed; directives are off");
            return;
        }
    };
    tracing::info!(subject = %node_subject, broadcast = %all_subject, "listening for directives");
    loop {
        let message = tokio::select! {
            message = node.next() => message,
            message = all.next() => message,
        };
        let Some(message) = message else { return };
        shared
            .counters
            .directives_received
            .fetch_add(1, Ordering::Relaxed);
        let reply = match parse_directive(&message.payload) {
            Err(error) => {
                tracing::warn!(%error, "directive refused");
                shared
                    .counters
                    .directives_refused
                    .fetch_add(1, Ordering::Relaxed);
                error_reply(&error)
            }
            Ok(directive) => {
                tracing::info!(?directive, "directive");
                let (respond, answer) = tokio::sync::oneshot::channel();
                match to_loop.try_send(DirectiveRequest { directive, respond }) {
                    Ok(()) => answer
                        .await
                        .unwrap_or_else(|_| error_reply(&"the sensor is stopping")),
                    Err(_) => {
                        shared
                            .counters
                            .directives_refused
                            .fetch_add(1, Ordering::Relaxed);
                        error_reply(&"the sensor is busy with earlier directives; try again")
                    }
                }
            }
        };
        if let Some(subject) = message.reply {
            let payload = encode_reply(&reply);
            if let Err(error) = client.publish(subject, payload.into()).await {
                tracing::warn!(%error, "directive reply not sent");
            }
        }
    }
}

/// The reply's JSON; a reply that cannot be encoded becomes an error reply
/// that says so (never an empty message).
fn encode_reply(reply: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|error| {
        tracing::warn!(%error, "directive reply could not be encoded");
        let fallback = error_reply(&format_args!("the reply could not be encoded: {error}"));
        serde_json::to_vec(&fallback).unwrap_or_else(|_| {
            br#"{"ok":false,"error":"the reply could not be encoded"}"#.to_vec()
        })
    })
}
