//! gRPC requests by method and status code: a tower layer outside the
//! auth layer, so refused calls count too. The method is the request's
//! path only when the authorisation table knows it (`unknown` otherwise:
//! a client cannot grow the label set); the code is the closed gRPC set,
//! read from the answer's headers or, for streams, its trailers (a client
//! gone before the end counts as `Cancelled`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tonic::Code;
use tonic::codegen::http;

/// Requests counted since start, per method and code.
#[derive(Debug, Default)]
pub struct GrpcCounters {
    counts: Mutex<HashMap<(&'static str, Code), u64>>,
}

impl GrpcCounters {
    fn add(&self, method: &'static str, code: Code) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((method, code)).or_default() += 1;
        }
    }

    /// (method, code name, count), sorted.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, u64)> {
        let Ok(c) = self.counts.lock() else {
            return Vec::new();
        };
        let mut out: Vec<_> = c
            .iter()
            .map(|((m, code), n)| (*m, code_name(*code), *n))
            .collect();
        out.sort();
        out
    }
}

/// The gRPC code's canonical name, as grpc-go and the Prometheus gRPC
/// middlewares label it (`OK`, `PermissionDenied`, ...).
fn code_name(c: Code) -> &'static str {
    match c {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Counts every call of the listener it wraps.
#[derive(Debug, Clone)]
pub struct GrpcMetricsLayer {
    counters: Arc<GrpcCounters>,
}

impl GrpcMetricsLayer {
    /// A layer counting into `counters`.
    pub fn new(counters: Arc<GrpcCounters>) -> GrpcMetricsLayer {
        GrpcMetricsLayer { counters }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            counters: self.counters.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps.
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    counters: Arc<GrpcCounters>,
}

impl<S, B> tower::Service<http::Request<B>> for Counted<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        let method = crate::auth::tiers::METHODS
            .iter()
            .find(|(p, _, _)| *p == path)
            .map_or("unknown", |(p, _, _)| *p);
        let counters = self.counters.clone();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let (parts, body) = answer.await?.into_parts();
            let code = tonic::Status::from_header_map(&parts.headers).map(|s| s.code());
            let pending = Pending {
                counters,
                method,
                code,
                done: false,
            };
            if code.is_some() {
                // Trailers-only answer: the status is already known.
                let mut p = pending;
                p.finish();
                return Ok(http::Response::from_parts(parts, body));
            }
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(CountedBody {
                    inner: body,
                    pending,
                }),
            ))
        })
    }
}

struct Pending {
    counters: Arc<GrpcCounters>,
    method: &'static str,
    code: Option<Code>,
    done: bool,
}

impl Pending {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.counters
                .add(self.method, self.code.unwrap_or(Code::Cancelled));
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish();
    }
}

/// An answer whose trailers carry the status.
struct CountedBody {
    inner: tonic::body::Body,
    pending: Pending,
}

impl http_body::Body for CountedBody {
    type Data = tonic::codegen::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    self.pending.code = tonic::Status::from_header_map(trailers).map(|s| s.code());
                    self.pending.finish();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                self.pending.code.get_or_insert(Code::Internal);
                self.pending.finish();
            }
            Poll::Ready(None) => {
                // Ended without trailers: tonic would have sent a status.
                self.pending.code.get_or_insert(Code::Ok);
                self.pending.finish();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
