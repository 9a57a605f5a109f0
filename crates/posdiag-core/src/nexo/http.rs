//! A sans-I/O HTTP/1.1 helper for the nexo local transport (`POST https://terminal:8443/nexo`):
//! building a JSON POST or a response, and an incremental parser for either direction, fed
//! bytes as they arrive, with limits on head and body sizes.
//!
//! Only what a nexo exchange needs: Content-Length and chunked bodies, keep-alive (several
//! messages on one connection), responses delimited by the connection closing. No HTTP/2,
//! no trailers (they are read and dropped), no `Expect: 100-continue` handling beyond handing
//! a 1xx response to the caller like any other.

use super::NexoError;
use super::error::excerpt;

/// The path Adyen terminals serve the Terminal API on.
pub const NEXO_PATH: &str = "/nexo";

/// Size limits for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Start line plus headers.
    pub max_head_bytes: usize,
    /// Body, after de-chunking.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    /// 16 KiB of head, 1 MiB of body: a Diagnosis response is a few hundred bytes.
    fn default() -> Self {
        Self {
            max_head_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Builds `POST {path}` with a JSON body: Host, Content-Type application/json, Content-Length
/// and any extra headers (e.g. `x-api-key` for the cloud endpoint).
pub fn post_request(
    host: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nAccept: application/json\r\n",
        body.len()
    );
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Builds a response with a Content-Length body (server side, e.g. the terminal simulator).
pub fn response(status: u16, reason: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD target HTTP/1.x`.
    Request {
        /// `POST`, `GET`, ...
        method: String,
        /// The request target, e.g. `/nexo`.
        target: String,
    },
    /// `HTTP/1.x status reason`.
    Response {
        /// The status code.
        status: u16,
        /// The reason phrase (may be empty).
        reason: String,
    },
}

/// One parsed HTTP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMessage {
    /// Request or status line.
    pub start: StartLine,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpMessage {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status code, for a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// Method and target, for a request.
    pub fn request_line(&self) -> Option<(&str, &str)> {
        match &self.start {
            StartLine::Request { method, target } => Some((method, target)),
            StartLine::Response { .. } => None,
        }
    }

    /// Whether the peer asked to close the connection after this message.
    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
}

#[derive(Debug)]
enum Body {
    Fixed(usize),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Waiting for a size line.
    Size,
    /// This many data bytes left in the chunk.
    Data(usize),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines until an empty one.
    Trailer,
}

#[derive(Debug)]
enum State {
    Head,
    Body(HttpMessage, Body),
}

/// An incremental parser of requests or responses: [`HttpParser::push`] bytes, then call
/// [`HttpParser::next_message`] until `Ok(None)`; at end of stream call
/// [`HttpParser::finish`]. After an error the connection should be closed.
#[derive(Debug)]
pub struct HttpParser {
    kind: Kind,
    limits: HttpLimits,
    buf: Vec<u8>,
    pos: usize,
    state: State,
}

impl HttpParser {
    /// A parser for responses (client side).
    pub fn response(limits: HttpLimits) -> Self {
        Self::new(Kind::Response, limits)
    }

    /// A parser for requests (server side).
    pub fn request(limits: HttpLimits) -> Self {
        Self::new(Kind::Request, limits)
    }

    fn new(kind: Kind, limits: HttpLimits) -> Self {
        Self {
            kind,
            limits,
            buf: Vec::new(),
            pos: 0,
            state: State::Head,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<HttpMessage>, NexoError> {
        loop {
            match &mut self.state {
                State::Head => {
                    let pending = &self.buf[self.pos..];
                    let Some(end) = find_head_end(pending) else {
                        if pending.len() > self.limits.max_head_bytes {
                            return Err(NexoError::HttpTooLarge {
                                what: "head",
                                max: self.limits.max_head_bytes,
                            });
                        }
                        return Ok(None);
                    };
                    if end > self.limits.max_head_bytes {
                        return Err(NexoError::HttpTooLarge {
                            what: "head",
                            max: self.limits.max_head_bytes,
                        });
                    }
                    let (message, body) = self.parse_head(&pending[..end])?;
                    self.pos += end + 4;
                    self.state = State::Body(message, body);
                }
                State::Body(message, body) => match body {
                    Body::Fixed(n) => {
                        let available = self.buf.len() - self.pos;
                        if available < *n {
                            return Ok(None);
                        }
                        message
                            .body
                            .extend_from_slice(&self.buf[self.pos..self.pos + *n]);
                        self.pos += *n;
                        return Ok(Some(self.take_message()));
                    }
                    Body::UntilClose => {
                        let available = self.buf.len() - self.pos;
                        if message.body.len() + available > self.limits.max_body_bytes {
                            return Err(NexoError::HttpTooLarge {
                                what: "body",
                                max: self.limits.max_body_bytes,
                            });
                        }
                        message.body.extend_from_slice(&self.buf[self.pos..]);
                        self.pos = self.buf.len();
                        return Ok(None);
                    }
                    Body::Chunked(chunk) => {
                        let pending = &self.buf[self.pos..];
                        match *chunk {
                            Chunk::Size => {
                                let Some(line_end) = find_crlf(pending) else {
                                    if pending.len() > 1024 {
                                        return Err(NexoError::HttpChunk {
                                            reason: "chunk size line too long",
                                        });
                                    }
                                    return Ok(None);
                                };
                                let line = &pending[..line_end];
                                let size_text = line
                                    .split(|&b| b == b';')
                                    .next()
                                    .unwrap_or_default()
                                    .trim_ascii();
                                let size = parse_hex(size_text).ok_or(NexoError::HttpChunk {
                                    reason: "chunk size is not hexadecimal",
                                })?;
                                if size
                                    > self
                                        .limits
                                        .max_body_bytes
                                        .saturating_sub(message.body.len())
                                {
                                    return Err(NexoError::HttpTooLarge {
                                        what: "body",
                                        max: self.limits.max_body_bytes,
                                    });
                                }
                                self.pos += line_end + 2;
                                *chunk = if size == 0 {
                                    Chunk::Trailer
                                } else {
                                    Chunk::Data(size)
                                };
                            }
                            Chunk::Data(left) => {
                                if pending.is_empty() {
                                    return Ok(None);
                                }
                                let n = left.min(pending.len());
                                message.body.extend_from_slice(&pending[..n]);
                                self.pos += n;
                                *chunk = if n == left {
                                    Chunk::DataEnd
                                } else {
                                    Chunk::Data(left - n)
                                };
                            }
                            Chunk::DataEnd => {
                                if pending.len() < 2 {
                                    return Ok(None);
                                }
                                if &pending[..2] != b"\r\n" {
                                    return Err(NexoError::HttpChunk {
                                        reason: "chunk data not followed by CRLF",
                                    });
                                }
                                self.pos += 2;
                                *chunk = Chunk::Size;
                            }
                            Chunk::Trailer => {
                                let Some(line_end) = find_crlf(pending) else {
                                    if pending.len() > self.limits.max_head_bytes {
                                        return Err(NexoError::HttpTooLarge {
                                            what: "head",
                                            max: self.limits.max_head_bytes,
                                        });
                                    }
                                    return Ok(None);
                                };
                                self.pos += line_end + 2;
                                if line_end == 0 {
                                    return Ok(Some(self.take_message()));
                                }
                            }
                        }
                    }
                },
            }
        }
    }

    /// Call at end of stream: completes a response delimited by the close, `Ok(None)` if the
    /// stream ended between messages, [`NexoError::HttpIncomplete`] if inside one.
    pub fn finish(&mut self) -> Result<Option<HttpMessage>, NexoError> {
        if let Some(message) = self.next_message()? {
            return Ok(Some(message));
        }
        match &self.state {
            State::Body(_, Body::UntilClose) => Ok(Some(self.take_message())),
            State::Head if self.buffered() == 0 => Ok(None),
            _ => Err(NexoError::HttpIncomplete),
        }
    }

    fn take_message(&mut self) -> HttpMessage {
        match std::mem::replace(&mut self.state, State::Head) {
            State::Body(message, _) => message,
            // Only called in the Body state.
            State::Head => HttpMessage {
                start: StartLine::Request {
                    method: String::new(),
                    target: String::new(),
                },
                headers: Vec::new(),
                body: Vec::new(),
            },
        }
    }

    fn parse_head(&self, head: &[u8]) -> Result<(HttpMessage, Body), NexoError> {
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let first = lines.next().unwrap_or_default();
        let bad_start = || NexoError::HttpStartLine {
            line: excerpt(first),
        };
        let text = std::str::from_utf8(first).map_err(|_| bad_start())?;
        let mut parts = text.splitn(3, ' ');
        let (a, b, c) = (parts.next().unwrap_or_default(), parts.next(), parts.next());
        let start = match self.kind {
            Kind::Response => {
                let status = b
                    .and_then(|s| s.parse::<u16>().ok())
                    .filter(|s| (100..=999).contains(s));
                match (a.starts_with("HTTP/1."), status) {
                    (true, Some(status)) => StartLine::Response {
                        status,
                        reason: c.unwrap_or_default().to_owned(),
                    },
                    _ => return Err(bad_start()),
                }
            }
            Kind::Request => match (b, c) {
                (Some(target), Some(version))
                    if !a.is_empty()
                        && a.bytes().all(|b| b.is_ascii_uppercase())
                        && version.starts_with("HTTP/1.") =>
                {
                    StartLine::Request {
                        method: a.to_owned(),
                        target: target.to_owned(),
                    }
                }
                _ => return Err(bad_start()),
            },
        };
        let mut headers = Vec::new();
        for line in lines {
            let bad = || NexoError::HttpHeader {
                line: excerpt(line),
            };
            let text = std::str::from_utf8(line).map_err(|_| bad())?;
            let (name, value) = text.split_once(':').ok_or_else(bad)?;
            if name.is_empty()
                || name
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            {
                return Err(bad());
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let message = HttpMessage {
            start,
            headers,
            body: Vec::new(),
        };
        let body = self.body_kind(&message)?;
        Ok((message, body))
    }

    fn body_kind(&self, message: &HttpMessage) -> Result<Body, NexoError> {
        let lengths: Vec<&str> = message
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.as_str())
            .collect();
        let encoding = message.header("transfer-encoding");
        if let Some(te) = encoding {
            let last = te.rsplit(',').next().unwrap_or_default().trim();
            // Both headers is how request smuggling starts; a terminal never needs it.
            if !last.eq_ignore_ascii_case("chunked") || !lengths.is_empty() {
                return Err(NexoError::HttpTransferEncoding {
                    value: te.to_owned(),
                });
            }
            return Ok(Body::Chunked(Chunk::Size));
        }
        if let Some(first) = lengths.first() {
            let bad = || NexoError::HttpContentLength {
                value: lengths.join(", "),
            };
            if lengths.iter().any(|l| l != first)
                || first.is_empty()
                || !first.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            let n: usize = first.parse().map_err(|_| bad())?;
            if n > self.limits.max_body_bytes {
                return Err(NexoError::HttpTooLarge {
                    what: "body",
                    max: self.limits.max_body_bytes,
                });
            }
            return Ok(Body::Fixed(n));
        }
        match (self.kind, message.status()) {
            (Kind::Request, _) => Ok(Body::Fixed(0)),
            (Kind::Response, Some(s)) if (100..200).contains(&s) || s == 204 || s == 304 => {
                Ok(Body::Fixed(0))
            }
            (Kind::Response, _) => Ok(Body::UntilClose),
        }
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

fn parse_hex(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text.len() > 8 {
        return None;
    }
    text.iter().try_fold(0_usize, |n, &c| {
        let d = char::from(c).to_digit(16)?;
        Some(n * 16 + d as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(parser: &mut HttpParser, bytes: &[u8]) -> Result<Vec<HttpMessage>, NexoError> {
        parser.push(bytes);
        let mut out = Vec::new();
        while let Some(m) = parser.next_message()? {
            out.push(m);
        }
        Ok(out)
    }

    #[test]
    fn post_request_parses_back() {
        let wire = post_request("terminal:8443", NEXO_PATH, &[("x-api-key", "k")], b"{}");
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(text.starts_with("POST /nexo HTTP/1.1\r\nHost: terminal:8443\r\n"));
        assert!(text.contains("Content-Type: application/json\r\nContent-Length: 2\r\n"));
        let got = parse_all(&mut HttpParser::request(HttpLimits::default()), &wire).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].request_line(), Some(("POST", "/nexo")));
        assert_eq!(got[0].header("X-API-KEY"), Some("k"));
        assert_eq!(got[0].body, b"{}");
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
        let got = parse_all(&mut HttpParser::response(HttpLimits::default()), wire).unwrap();
        assert_eq!(got[0].body, b"Wikipedia");
        assert_eq!(got[0].status(), Some(200));
    }

    #[test]
    fn close_delimited_body_needs_finish() {
        let mut p = HttpParser::response(HttpLimits::default());
        assert!(
            parse_all(&mut p, b"HTTP/1.0 500 Oops\r\n\r\npartial")
                .unwrap()
                .is_empty()
        );
        let m = p.finish().unwrap().unwrap();
        assert_eq!(
            (m.status(), m.body.as_slice()),
            (Some(500), &b"partial"[..])
        );
        let mut p = HttpParser::response(HttpLimits::default());
        p.push(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
        assert!(matches!(p.finish(), Err(NexoError::HttpIncomplete)));
    }

    #[test]
    fn malformed_and_oversized_messages_are_typed_errors() {
        let limits = HttpLimits {
            max_head_bytes: 64,
            max_body_bytes: 8,
        };
        let cases: [(&[u8], &str); 7] = [
            (
                b"HTTP/1.1 abc OK\r\n\r\n",
                "http start line is malformed: \"HTTP/1.1 abc OK\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
                "http header line is malformed: \"NoColon\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
                "http content-length \"1x\" is invalid",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                "http body exceeds the limit of 8 bytes",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                "http transfer-encoding \"gzip\" is not supported",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "http chunked body is malformed: chunk size is not hexadecimal",
            ),
            (&[b'x'; 100], "http head exceeds the limit of 64 bytes"),
        ];
        for (wire, message) in cases {
            let err = parse_all(&mut HttpParser::response(limits), wire).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }
}
