//! The one error type of the nexo codec and its HTTP helper.

/// Why a nexo message or its HTTP transport could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NexoError {
    /// The bytes are not JSON.
    #[error("malformed json: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not the expected envelope.
    #[error("expected {expected}, found {found}")]
    Envelope {
        /// What was expected ("a SaleToPOIResponse object", ...).
        expected: &'static str,
        /// What was there instead (top-level keys or JSON type).
        found: String,
    },
    /// A required field is absent.
    #[error("missing field {field}")]
    MissingField {
        /// Its path, e.g. `SaleToPOIResponse.MessageHeader.ServiceID`.
        field: String,
    },
    /// A field has the wrong JSON type.
    #[error("field {field} must be {expected}")]
    WrongType {
        /// Its path.
        field: String,
        /// "a string", "a boolean", ...
        expected: &'static str,
    },
    /// The envelope has a `MessageHeader` but no `<X>Request`/`<X>Response` body.
    #[error("{envelope} has no {kind} body next to MessageHeader")]
    MissingBody {
        /// `SaleToPOIRequest` or `SaleToPOIResponse`.
        envelope: &'static str,
        /// "…Request" or "…Response".
        kind: &'static str,
    },
    /// The body is protected with Adyen's shared-key scheme (`NexoBlob`), which this codec does
    /// not decrypt.
    #[error(
        "{envelope} is encrypted (NexoBlob + SecurityTrailer); decrypt it with the terminal's shared key first"
    )]
    Encrypted {
        /// `SaleToPOIRequest` or `SaleToPOIResponse`.
        envelope: &'static str,
    },
    /// `networkProfile` in AdditionalResponse is not base64 of a JSON array.
    #[error("additional response networkProfile: {reason}")]
    NetworkProfile {
        /// What is wrong.
        reason: String,
    },
    /// The HTTP head (start line and headers) or body is larger than allowed.
    #[error("http {what} exceeds the limit of {max} bytes")]
    HttpTooLarge {
        /// "head" or "body".
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The HTTP start line is malformed.
    #[error("http start line is malformed: {line:?}")]
    HttpStartLine {
        /// The line (at most 80 characters).
        line: String,
    },
    /// An HTTP header line is malformed.
    #[error("http header line is malformed: {line:?}")]
    HttpHeader {
        /// The line (at most 80 characters).
        line: String,
    },
    /// Content-Length is not a number, or two differ.
    #[error("http content-length {value:?} is invalid")]
    HttpContentLength {
        /// The header value(s).
        value: String,
    },
    /// Transfer-Encoding other than chunked, or next to Content-Length.
    #[error("http transfer-encoding {value:?} is not supported")]
    HttpTransferEncoding {
        /// The header value.
        value: String,
    },
    /// A chunk of a chunked body is malformed.
    #[error("http chunked body is malformed: {reason}")]
    HttpChunk {
        /// What is wrong.
        reason: &'static str,
    },
    /// The connection ended inside a message.
    #[error("http connection closed before the message was complete")]
    HttpIncomplete,
}

/// At most 80 characters of a line, for error messages.
pub(crate) fn excerpt(line: &[u8]) -> String {
    String::from_utf8_lossy(line).chars().take(80).collect()
}
