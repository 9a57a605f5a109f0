//! The one place that decides which gRPC status a failed request gets, and
//! the one place every status passes on its way out ([`EgressLayer`]): card
//! numbers masked, messages cut to a bounded length, and requests tonic could
//! not decode answered INVALID_ARGUMENT as the .proto comments promise.
//! Whatever builds a status (a handler, the doctor, tonic itself), the client
//! never sees a card number or a megabyte-long header.
//!
//! A status message is in the caller's language ([`answer_lang`]): the
//! request's `lang` field, else the [`LANG_HEADER`] metadata header, else
//! English. Each error carries its message as a [`Text`] next to its
//! definition; [`ApiError::into_status`] picks the language.

use std::pin::Pin;
use std::task::{Context, Poll};

use posdiag_core::{Lang, Text};
use posdiag_engine::EngineError;
use tonic::codegen::http;
use tonic::{Code, Status};

/// The gRPC metadata header naming the caller's language (`en` or
/// `zh-CN`), for requests without a `lang` field and for errors found
/// before the field is read.
pub const LANG_HEADER: &str = "posdiag-lang";

/// The language of the `posdiag-lang` header; English when it is absent
/// or names a language posdiag does not speak.
pub fn header_lang(headers: &http::HeaderMap) -> Lang {
    tag_lang(headers.get(LANG_HEADER).and_then(|v| v.to_str().ok()))
}

fn tag_lang(tag: Option<&str>) -> Lang {
    tag.and_then(|v| v.parse().ok()).unwrap_or_default()
}

/// The language a request is answered in: its `lang` field when that is a
/// language posdiag speaks, else the [`LANG_HEADER`] header, else English.
/// Pass `""` for a request without a `lang` field.
pub fn answer_lang<T>(req: &tonic::Request<T>, field: &str) -> Lang {
    field_or(field, metadata_lang(req.metadata()))
}

/// The language of the [`LANG_HEADER`] in a request's metadata.
pub fn metadata_lang(metadata: &tonic::metadata::MetadataMap) -> Lang {
    tag_lang(metadata.get(LANG_HEADER).and_then(|v| v.to_str().ok()))
}

/// The language of a `lang` field when it is set to one posdiag speaks,
/// else `fallback` (the header's).
pub fn field_or(field: &str, fallback: Lang) -> Lang {
    match Lang::from_tag_or_default(field) {
        Ok(lang) if !field.is_empty() => lang,
        _ => fallback,
    }
}

/// The request's language, as [`answer_lang`]; a `lang` field posdiag does
/// not speak is refused (INVALID_ARGUMENT, in the header's language).
pub fn request_lang<T>(req: &tonic::Request<T>, field: &str) -> Result<Lang, Status> {
    let lang = answer_lang(req, field);
    crate::convert::lang(field)
        .map(|_| lang)
        .map_err(|e| e.into_status(lang))
}

/// `result.or_status(lang)?`: an error becomes its status in `lang`.
pub trait OrStatus<T> {
    /// The value, or the error's status in `lang`.
    fn or_status(self, lang: Lang) -> Result<T, Status>;
}

impl<T, E: Into<ApiError>> OrStatus<T> for Result<T, E> {
    fn or_status(self, lang: Lang) -> Result<T, Status> {
        self.map_err(|e| e.into().into_status(lang))
    }
}

/// A request the API cannot serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The engine refused the request.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A request field is invalid.
    #[error("{field}: {}", message.en)]
    InvalidArgument {
        /// The proto field name.
        field: &'static str,
        /// What is wrong and what is expected.
        message: Text,
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
    /// `[history] enabled = false`.
    #[error(
        "the history is disabled in the configuration ([history] enabled = false); only GetHistory's in-memory findings are kept"
    )]
    HistoryDisabled,
    /// The history could not be opened or read.
    #[error("the history cannot be read now: {}", .0.en)]
    HistoryUnavailable(Text),
    /// A history page token that does not belong to the request.
    #[error("page_token: {}", .0.en)]
    BadPageToken(Text),
    /// Denied by a rule of the configuration.
    #[error("permission denied: {}", .0.en)]
    Forbidden(Text),
    /// No plugin has that id.
    #[error("no plugin {}; known plugins: {}", posdiag_core::quote(id), if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownPlugin {
        /// The id asked for.
        id: String,
        /// The ids there are.
        known: Vec<String>,
    },
}

impl From<posdiag_history::PageError> for ApiError {
    fn from(e: posdiag_history::PageError) -> ApiError {
        match e {
            posdiag_history::PageError::BadToken => ApiError::BadPageToken(e.text()),
            _ => ApiError::HistoryUnavailable(e.text()),
        }
    }
}

impl ApiError {
    /// An invalid request field, with what is wrong in English and Chinese.
    pub fn invalid(field: &'static str, en: impl Into<String>, zh: impl Into<String>) -> ApiError {
        ApiError::InvalidArgument {
            field,
            message: Text::new(en, zh),
        }
    }

    /// The message in every language; the English is the `Display` text.
    pub fn text(&self) -> Text {
        let zh = match self {
            ApiError::Engine(e) => return e.text(),
            ApiError::InvalidArgument { field, message } => format!("{field}：{}", message.zh),
            ApiError::NotServed(what) => format!("此 posdiagd 不提供 {what}"),
            ApiError::HistoryDisabled => {
                "配置中已停用历史记录（[history] enabled = false）；只保留 GetHistory 的内存记录"
                    .to_owned()
            }
            ApiError::HistoryUnavailable(t) => format!("目前无法读取历史记录：{}", t.zh),
            ApiError::BadPageToken(t) => format!("page_token：{}", t.zh),
            ApiError::Forbidden(t) => format!("权限不足：{}", t.zh),
            ApiError::PluginNotLoaded { id } => format!(
                "插件 {} 未加载；请把它的包安装到插件目录（sh plugins/assemble.sh DIR，再运行 posdiagd --plugin-dir DIR），并查看 `posdiag plugins`",
                posdiag_core::quote(id)
            ),
            ApiError::UnknownPlugin { id, known } => format!(
                "没有插件 {}；已知插件：{}",
                posdiag_core::quote(id),
                if known.is_empty() {
                    "无".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        };
        Text::new(self.to_string(), zh)
    }

    /// The status code a client can act on: the one table.
    pub fn code(&self) -> Code {
        match self {
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
            ApiError::PluginNotLoaded { .. } | ApiError::HistoryDisabled => {
                Code::FailedPrecondition
            }
            ApiError::BadPageToken(_) => Code::InvalidArgument,
            ApiError::Forbidden(_) => Code::PermissionDenied,
            ApiError::HistoryUnavailable(_) => Code::Unavailable,
            ApiError::NotServed(_) => Code::Unavailable,
            ApiError::Engine(EngineError::ShuttingDown) => Code::Unavailable,
            ApiError::Engine(_) => Code::Internal,
        }
    }

    /// The status a client gets, its message in `lang`.
    pub fn into_status(self, lang: Lang) -> Status {
        Status::new(self.code(), self.text().get(lang))
    }
}

/// Longest status message sent, in bytes. Messages quote values cut with
/// [`posdiag_core::quote`]; this bounds the rest (a list of known ids, a
/// message tonic built from a request).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// What a status leaving the daemon becomes; the messages the daemon writes
/// for tonic's decode errors are in `lang` (the request's header language:
/// the request's fields were never decoded).
pub fn outgoing(code: Code, message: &str, lang: Lang) -> (Code, String) {
    // tonic answers a request it cannot decode with INTERNAL (prost's error)
    // or OUT_OF_RANGE (over the size limit); it is the client's request that
    // is wrong, and the API documents INVALID_ARGUMENT for that.
    let (code, message) = if code == Code::Internal
        && let Some(detail) = message.strip_prefix("failed to decode Protobuf message")
    {
        (
            Code::InvalidArgument,
            Text::new(
                format!(
                    "malformed request: not a valid protobuf message of the method's request type{detail}"
                ),
                format!("请求格式错误：不是该方法请求类型的有效 protobuf 消息{detail}"),
            )
            .get(lang)
            .to_owned(),
        )
    } else if code == Code::OutOfRange
        && let Some(detail) = message.strip_prefix("Error, decoded message length too large: ")
    {
        (
            Code::InvalidArgument,
            Text::new(
                format!("request too large: {detail}"),
                format!("请求过大：{detail}"),
            )
            .get(lang)
            .to_owned(),
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
fn rewrite(headers: &mut http::HeaderMap, lang: Lang) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if status.code() == Code::Ok {
        return;
    }
    let (code, message) = outgoing(status.code(), status.message(), lang);
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
        let lang = header_lang(req.headers());
        let answer = self.inner.call(req);
        Box::pin(async move {
            let (mut parts, body) = answer.await?.into_parts();
            rewrite(&mut parts.headers, lang);
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(EgressBody { inner: body, lang }),
            ))
        })
    }
}

/// A response body whose trailers pass through [`outgoing`].
#[derive(Debug)]
struct EgressBody {
    inner: tonic::body::Body,
    lang: Lang,
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
                    rewrite(&mut trailers, self.lang);
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
        let (code, msg) = outgoing(
            Code::NotFound,
            "unknown terminal \"4111111111111111\"",
            Lang::En,
        );
        assert_eq!(code, Code::NotFound);
        assert_eq!(msg, "unknown terminal \"411111******1111\"");
        let (_, msg) = outgoing(Code::InvalidArgument, &"x".repeat(1 << 20), Lang::En);
        assert!(msg.len() <= MAX_MESSAGE_BYTES, "{}", msg.len());
        let (_, msg) = outgoing(Code::InvalidArgument, &"界".repeat(1000), Lang::ZhCn);
        assert!(msg.len() <= MAX_MESSAGE_BYTES && msg.ends_with('…'));
        let (code, msg) = outgoing(
            Code::Internal,
            "failed to decode Protobuf message: WatchTerminalsRequest.ids: invalid string value: data is not UTF-8 encoded",
            Lang::En,
        );
        assert_eq!(code, Code::InvalidArgument);
        assert!(msg.contains("not UTF-8"), "{msg}");
        let (code, msg) = outgoing(
            Code::OutOfRange,
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
            Lang::ZhCn,
        );
        assert_eq!(code, Code::InvalidArgument);
        assert!(msg.starts_with("请求过大："), "{msg}");
        // The daemon's own INTERNAL errors stay what they are.
        assert_eq!(
            outgoing(Code::Internal, "plugin host died", Lang::En).0,
            Code::Internal
        );
    }

    #[test]
    fn each_error_gets_the_status_a_client_can_act_on() {
        let nf = EngineError::NotFound {
            id: "T9".into(),
            known: vec!["T1".into(), "T2".into()],
        };
        let s = ApiError::from(nf.clone()).into_status(Lang::En);
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(
            s.message(),
            "unknown terminal \"T9\"; configured terminals: T1, T2"
        );
        let s = ApiError::from(nf).into_status(Lang::ZhCn);
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "未知终端 \"T9\"；已配置的终端：T1, T2");
        assert_eq!(
            ApiError::invalid("terminal_id", "is required", "必填")
                .into_status(Lang::En)
                .code(),
            Code::InvalidArgument
        );
        assert_eq!(
            ApiError::from(EngineError::ShuttingDown)
                .into_status(Lang::En)
                .code(),
            Code::Unavailable
        );
        assert_eq!(
            ApiError::from(EngineError::Busy { limit: 2 })
                .into_status(Lang::En)
                .code(),
            Code::ResourceExhausted
        );
    }

    #[test]
    fn every_error_has_english_and_chinese_text() {
        let all = [
            ApiError::from(EngineError::ShuttingDown),
            ApiError::invalid("target", "is required (HOST:PORT)", "必填（HOST:PORT）"),
            ApiError::NotServed("RunDoctor"),
            ApiError::PluginNotLoaded {
                id: "posdiag.zvt".into(),
            },
            ApiError::UnknownPlugin {
                id: "x".into(),
                known: vec![],
            },
        ];
        for e in all {
            let t = e.text();
            assert_eq!(t.en, e.to_string());
            assert!(!t.zh.is_empty() && t.zh != t.en, "{e:?}: {t:?}");
        }
    }

    #[test]
    fn the_lang_field_wins_over_the_header_and_english_is_the_default() {
        let mut req = tonic::Request::new(());
        assert_eq!(answer_lang(&req, ""), Lang::En);
        req.metadata_mut()
            .insert(LANG_HEADER, "zh-CN".parse().expect("ascii"));
        assert_eq!(answer_lang(&req, ""), Lang::ZhCn);
        assert_eq!(answer_lang(&req, "en"), Lang::En);
        // A field posdiag does not speak is refused in the header's language.
        assert_eq!(answer_lang(&req, "fr"), Lang::ZhCn);
        assert_eq!(request_lang(&req, "").ok(), Some(Lang::ZhCn));
        assert_eq!(request_lang(&req, "en").ok(), Some(Lang::En));
        let refused = request_lang(&req, "fr").unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused.message().starts_with("lang：不支持的语言"),
            "{}",
            refused.message()
        );
    }
}
