//! `host.exchange`: send the configured bytes and read until the answer can
//! be compared with the expected prefix, the connection closes, or the
//! deadline passes.

use std::time::{Duration, Instant};

use posdiag_core::Reason;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::model::ExchangeSpec;

/// Most bytes read from an answer; enough for any ping-like message.
const MAX_ANSWER_BYTES: usize = 4096;

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExchangeFailure {
    pub reason: Reason,
    pub detail: String,
}

/// Sends `spec.send` on `stream`, then reads until the answer can be judged.
/// Returns the round trip.
pub(crate) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    spec: &ExchangeSpec,
    deadline: Duration,
) -> Result<Duration, ExchangeFailure> {
    let started = Instant::now();
    match tokio::time::timeout(deadline, exchange_inner(stream, spec, started)).await {
        Ok(result) => result,
        Err(_) => Err(ExchangeFailure {
            reason: Reason::ExchangeTimeout,
            detail: format!("no complete answer within {} ms", deadline.as_millis()),
        }),
    }
}

async fn exchange_inner<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    spec: &ExchangeSpec,
    started: Instant,
) -> Result<Duration, ExchangeFailure> {
    let io_fail = |e: std::io::Error| {
        let reason = match posdiag_transport::classify(&e) {
            posdiag_transport::ConnectFailure::Reset => Reason::TcpReset,
            _ => Reason::ExchangeClosed,
        };
        ExchangeFailure {
            reason,
            detail: e.to_string(),
        }
    };
    stream.write_all(&spec.send).await.map_err(io_fail)?;
    stream.flush().await.map_err(io_fail)?;
    let want = spec.expect.len().clamp(1, MAX_ANSWER_BYTES);
    let mut answer = Vec::with_capacity(want);
    let mut buf = [0u8; 1024];
    while answer.len() < want {
        let n = stream.read(&mut buf).await.map_err(io_fail)?;
        if n == 0 {
            return Err(if answer.is_empty() {
                ExchangeFailure {
                    reason: Reason::ExchangeClosed,
                    detail: "the host closed the connection without answering".into(),
                }
            } else {
                ExchangeFailure {
                    reason: Reason::ExchangeMismatch,
                    detail: format!(
                        "the answer ended after {} bytes: {}",
                        answer.len(),
                        preview(&answer)
                    ),
                }
            });
        }
        answer.extend_from_slice(&buf[..n.min(MAX_ANSWER_BYTES - answer.len())]);
    }
    if answer.starts_with(&spec.expect) {
        Ok(started.elapsed())
    } else {
        Err(ExchangeFailure {
            reason: Reason::ExchangeMismatch,
            detail: format!(
                "expected {} but got {}",
                preview(&spec.expect),
                preview(&answer)
            ),
        })
    }
}

/// Bytes as text when printable, else as hex; at most 32 bytes shown, card
/// numbers masked.
pub(crate) fn preview(bytes: &[u8]) -> String {
    posdiag_core::mask_card_numbers(&raw_preview(bytes))
}

fn raw_preview(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(32)];
    let more = if bytes.len() > 32 { "…" } else { "" };
    if shown
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        format!("\"{}\"{more}", shown.escape_ascii())
    } else {
        let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
        format!("0x{hex}{more}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(send: &[u8], expect: &[u8]) -> ExchangeSpec {
        ExchangeSpec {
            send: send.to_vec(),
            expect: expect.to_vec(),
        }
    }

    #[tokio::test]
    async fn an_answer_with_the_expected_prefix_passes() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let host = tokio::spawn(async move {
            let mut b = [0u8; 5];
            server.read_exact(&mut b).await.unwrap();
            server.write_all(b"PONG and more").await.unwrap();
        });
        assert!(
            exchange(
                &mut client,
                &spec(b"PING\n", b"PONG"),
                Duration::from_secs(5)
            )
            .await
            .is_ok()
        );
        host.await.unwrap();
    }

    #[tokio::test]
    async fn a_different_answer_is_a_mismatch_showing_both() {
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            let mut b = [0u8; 5];
            server.read_exact(&mut b).await.unwrap();
            server.write_all(b"\x15\x00").await.unwrap();
        });
        let err = exchange(&mut client, &spec(b"PING\n", b"PO"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.reason, Reason::ExchangeMismatch);
        assert_eq!(err.detail, "expected \"PO\" but got 0x1500");
    }

    #[tokio::test]
    async fn a_close_without_answer_is_reported_as_closed() {
        let (mut client, server) = tokio::io::duplex(64);
        drop(server);
        let err = exchange(&mut client, &spec(b"PING", b"PONG"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.reason, Reason::ExchangeClosed);
    }

    #[test]
    fn previews_never_show_a_card_number() {
        assert_eq!(preview(b"PAN=4111111111111111"), "\"PAN=411111******1111\"");
        assert_eq!(
            preview(&[
                0x02, 0x16, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xd2
            ]),
            "0x021641**********1111d2"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_host_times_out_at_the_deadline() {
        let (mut client, _server) = tokio::io::duplex(64);
        let err = exchange(
            &mut client,
            &spec(b"PING", b"PONG"),
            Duration::from_millis(1500),
        )
        .await
        .unwrap_err();
        assert_eq!(err.reason, Reason::ExchangeTimeout);
        assert_eq!(err.detail, "no complete answer within 1500 ms");
    }
}
