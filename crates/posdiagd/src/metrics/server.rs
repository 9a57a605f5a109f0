//! The `/metrics` listener (HTTP/1.1, hyper) and the textfile writer.
//! A scrape only reads state: it never waits for a check, and a slow or
//! idle scraper holds one of a few connections with a header deadline.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Sources;

/// The text format's content type (`prometheus_text`, format 0.0.4).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Scrapers served at once; more wait for a free slot.
const MAX_CONNECTIONS: usize = 8;

/// Serves `/metrics` on `listener` until `stop`.
pub async fn serve(listener: TcpListener, sources: Sources, stop: CancellationToken) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let sources = sources.clone();
        // Finished connections are reaped as new ones come.
        while conns.try_join_next().is_some() {}
        conns.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| {
                let sources = sources.clone();
                async move { Ok::<_, Infallible>(answer(req, &sources).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = conn.await;
        });
    }
    conns.abort_all();
}

/// A body sent as the pieces it was assembled from (with its length, so
/// the answer has a `Content-Length`), none of them copied into one.
struct Pieces(VecDeque<Bytes>);

impl Pieces {
    fn new(pieces: impl IntoIterator<Item = Bytes>) -> Pieces {
        Pieces(pieces.into_iter().filter(|p| !p.is_empty()).collect())
    }
}

impl Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.pop_front().map(|p| Ok(Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.iter().map(|p| p.len() as u64).sum())
    }
}

async fn answer(req: Request<hyper::body::Incoming>, sources: &Sources) -> Response<Pieces> {
    let reply = |status: StatusCode, ctype: &str, body: Pieces| {
        let mut r = Response::new(body);
        *r.status_mut() = status;
        if let Ok(v) = ctype.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            text("only GET /metrics\n"),
        );
    }
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            CONTENT_TYPE,
            Pieces::new(sources.pieces().await),
        ),
        "/" => reply(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            text("posdiagd: Prometheus metrics at /metrics\n"),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            text("not found; the metrics are at /metrics\n"),
        ),
    }
}

fn text(s: &'static str) -> Pieces {
    Pieces::new([Bytes::from_static(s.as_bytes())])
}

/// Writes the metrics text to `path` every `every` until `stop`, each time
/// to a temporary file in the same directory then renamed over `path`,
/// so node_exporter never reads half a file.
pub async fn write_textfile_every(
    path: PathBuf,
    every: Duration,
    sources: Sources,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let text = sources.text().await;
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || write_atomically(&target, &text)).await;
        match written {
            Ok(Ok(())) if failing => {
                failing = false;
                tracing::info!(path = %path.display(), "metrics textfile written again");
            }
            Ok(Ok(())) => {}
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(path = %path.display(), error = %e, "cannot write the metrics textfile ([metrics] textfile); trying again each interval");
            }
            _ => {}
        }
    }
}

/// `text` into `path` through a temporary file and a rename.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // A name node_exporter ignores (not *.prom) while it is being written.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_textfile_is_replaced_whole_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("posdiag.prom");
        write_atomically(&path, "a 1\n").unwrap();
        write_atomically(&path, "b 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b 2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("posdiag.prom")]);
        // A directory that does not exist is an error, not a panic.
        assert!(write_atomically(&dir.path().join("no/such/x.prom"), "c 3\n").is_err());
    }
}
