//! The one place that decides which gRPC status a failed request gets, and
//! the one place every status passes on its way out ([`EgressLayer`]): card
//! numbers masked, messages cut to a bounded length, and requests tonic could
//! not decode answered INVALID_ARGUMENT as the .proto comments promise.
//! Whatever builds a status (a handler, the doctor, tonic itself), the client
//! never sees a card number or a megabyte-long header.

use std::pin::Pin;
use std::task::{Context, Poll};

use posdiag_engine::EngineError;
use tonic::codegen::http;
use tonic::{Code, Status};

/// A request the API cannot serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The engine refused the request.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A request field is invalid.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The proto field name.
        field: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A service this daemon was built without.
    #[error("{0} is not available in this daemon")]
    NotServed(&'static str),
    /// The plugin a request needs is not loaded.
    #[error(
        "plugin {} is not loaded; install its bundle in the plugin directory (sh plugins/assemble.sh DIR, then posdiagd --plugin-dir DIR) and see `posdiag plugins`",
        posdiag_core::quote(id)
    )]
    PluginNotLoaded {
        /// The plugin id.
        id: String,
    },
    /// No plugin has that id.
    #[error("no plugin {}; known plugins: {}", posdiag_core::quote(id), if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownPlugin {
        /// The id asked for.
        id: String,
        /// The ids there are.
        known: Vec<String>,
    },
}

impl ApiError {
    /// An invalid request field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = match &e {
            ApiError::InvalidArgument { .. } => Code::InvalidArgument,
            ApiError::Engine(
                EngineError::InvalidId { .. }
                | EngineError::UnknownCheck { .. }
                | EngineError::NotSerial(_),
            ) => Code::InvalidArgument,
            ApiError::Engine(EngineError::NotFound { .. }) | ApiError::UnknownPlugin { .. } => {
                Code::NotFound
            }
            ApiError::Engine(EngineError::Busy { .. }) => Code::ResourceExhausted,
            ApiError::PluginNotLoaded { .. } => Code::FailedPrecondition,
            ApiError::NotServed(_) => Code::Unavailable,
            ApiError::Engine(EngineError::ShuttingDown) => Code::Unavailable,
            ApiError::Engine(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}

/// Longest status message sent, in bytes. Messages quote values cut with
/// [`posdiag_core::quote`]; this bounds the rest (a list of known ids, a
/// message tonic built from a request).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// What a status leaving the daemon becomes.
pub fn outgoing(code: Code, message: &str) -> (Code, String) {
    // tonic answers a request it cannot decode with INTERNAL (prost's error)
    // or OUT_OF_RANGE (over the size limit); it is the client's request that
    // is wrong, and the API documents INVALID_ARGUMENT for that.
    let (code, message) = if code == Code::Internal
        && let Some(detail) = message.strip_prefix("failed to decode Protobuf message")
    {
        (
            Code::InvalidArgument,
            format!(
                "malformed request: not a valid protobuf message of the method's request type{detail}"
            ),
        )
    } else if code == Code::OutOfRange
        && let Some(detail) = message.strip_prefix("Error, decoded message length too large: ")
    {
        (
            Code::InvalidArgument,
            format!("request too large: {detail}"),
        )
    } else {
        (code, message.to_owned())
    };
    let mut masked = posdiag_core::mask_card_numbers(&message);
    if masked.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES - 4;
        while !masked.is_char_boundary(cut) {
            cut -= 1;
        }
        masked.truncate(cut);
        masked.push_str(" …");
    }
    (code, masked)
}

/// Rewrites the status in `headers` (a trailers-only answer's headers, or a
/// stream's trailers) through [`outgoing`].
fn rewrite(headers: &mut http::HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if status.code() == Code::Ok {
        return;
    }
    let (code, message) = outgoing(status.code(), status.message());
    if code == status.code() && message == status.message() {
        return;
    }
    let fixed = Status::with_details(code, message, status.details().to_vec().into());
    headers.remove(Status::GRPC_MESSAGE);
    if fixed.add_header(headers).is_err() {
        // A message that cannot be a header value: say no more than the code.
        headers.remove(Status::GRPC_MESSAGE);
    }
}

/// The tower layer that puts every response of the server through
/// [`outgoing`]: its headers (unary errors are trailers-only answers) and
/// its trailers (the status that ends a stream).
#[derive(Debug, Clone, Copy, Default)]
pub struct EgressLayer;

impl<S> tower::Layer<S> for EgressLayer {
    type Service = Egress<S>;

    fn layer(&self, inner: S) -> Egress<S> {
        Egress { inner }
    }
}

/// The service [`EgressLayer`] wraps around the server's routes.
#[derive(Debug, Clone)]
pub struct Egress<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for Egress<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let answer = self.inner.call(req);
        Box::pin(async move {
            let (mut parts, body) = answer.await?.into_parts();
            rewrite(&mut parts.headers);
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(EgressBody { inner: body }),
            ))
        })
    }
}

/// A response body whose trailers pass through [`outgoing`].
#[derive(Debug)]
struct EgressBody {
    inner: tonic::body::Body,
}

impl http_body::Body for EgressBody {
    type Data = tonic::codegen::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(match frame.into_trailers() {
                Ok(mut trailers) => {
                    rewrite(&mut trailers);
                    http_body::Frame::trailers(trailers)
                }
                Err(frame) => frame,
            }))),
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_statuses_are_masked_cut_and_decode_errors_are_the_clients() {
        let (code, msg) = outgoing(Code::NotFound, "unknown terminal \"4111111111111111\"");
        assert_eq!(code, Code::NotFound);
        assert_eq!(msg, "unknown terminal \"411111******1111\"");
        let (_, msg) = outgoing(Code::InvalidArgument, &"x".repeat(1 << 20));
        assert!(msg.len() <= MAX_MESSAGE_BYTES, "{}", msg.len());
        let (_, msg) = outgoing(Code::InvalidArgument, &"界".repeat(1000));
        assert!(msg.len() <= MAX_MESSAGE_BYTES && msg.ends_with('…'));
        let (code, msg) = outgoing(
            Code::Internal,
            "failed to decode Protobuf message: WatchTerminalsRequest.ids: invalid string value: data is not UTF-8 encoded",
        );
        assert_eq!(code, Code::InvalidArgument);
        assert!(msg.contains("not UTF-8"), "{msg}");
        let (code, _) = outgoing(
            Code::OutOfRange,
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        );
        assert_eq!(code, Code::InvalidArgument);
        // The daemon's own INTERNAL errors stay what they are.
        assert_eq!(
            outgoing(Code::Internal, "plugin host died").0,
            Code::Internal
        );
    }

    #[test]
    fn each_error_gets_the_status_a_client_can_act_on() {
        let nf = EngineError::NotFound {
            id: "T9".into(),
            known: vec!["T1".into(), "T2".into()],
        };
        let s = Status::from(ApiError::from(nf));
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(
            s.message(),
            "unknown terminal \"T9\"; configured terminals: T1, T2"
        );
        assert_eq!(
            Status::from(ApiError::invalid("terminal_id", "is required")).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            Status::from(ApiError::from(EngineError::ShuttingDown)).code(),
            Code::Unavailable
        );
        assert_eq!(
            Status::from(ApiError::from(EngineError::Busy { limit: 2 })).code(),
            Code::ResourceExhausted
        );
    }
}
