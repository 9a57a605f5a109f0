//! Lets gRPC clients that send the socket path as the HTTP/2 `:authority`
//! talk to the daemon over its unix socket.
//!
//! Over a unix socket, Python/C++/Ruby/PHP clients (gRPC C-core) send the
//! socket path percent-encoded without its leading slash (grpcio 1.85 for
//! `unix:/tmp/d/posdiagd.sock`: `tmp%2Fd%2Fposdiagd.sock`), grpc-java the raw
//! path, grpc-swift the percent-encoded path. h2 parses `:authority` as a URI
//! authority and resets the stream with PROTOCOL_ERROR when that fails
//! (hyperium/h2#487), before hyper or tonic see the request; neither has a
//! switch to skip that parse. So every call of those clients would fail.
//!
//! [`UdsStream`] wraps each accepted unix connection. Its read side runs the
//! client's bytes through [`AuthorityRewriter`] (sans-I/O): the connection
//! preface and every frame pass through untouched, except header blocks
//! (HEADERS plus CONTINUATION frames), which are HPACK-decoded with a decoder
//! that mirrors the client's encoder (dynamic table and its size updates
//! included), get an `:authority` that h2 would reject replaced with
//! `localhost`, and are re-encoded as literals without indexing. Every block
//! is re-encoded, not only the changed ones: the server's HPACK decoder then
//! never holds an entry, so the client's indexes (which now refer to our
//! decoder's table) never reach it. The server→client direction is untouched.
//!
//! Limits: a header block over [`MAX_HEADER_BLOCK_BYTES`] (encoded or
//! decoded), a malformed frame sequence or malformed HPACK closes the
//! connection (an I/O error to hyper); nothing here panics on input, and a
//! connection buffers at most one read, one header block and about
//! 128 KiB of rewritten bytes.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tonic::transport::server::Connected;

/// What a client sends first on an HTTP/2 connection (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The largest header block accepted, encoded (the frames' payloads with
/// padding) or decoded (RFC 9113 header list size: name + value + 32 per
/// field). The server advertises a 16 KiB header list limit (hyper's
/// default) and answers larger lists itself; beyond this a client is broken
/// or hostile and its connection is closed.
pub const MAX_HEADER_BLOCK_BYTES: usize = 64 * 1024;
/// The dynamic table size the server allows the client's encoder
/// (SETTINGS_HEADER_TABLE_SIZE; hyper and tonic leave h2's default).
const SERVER_HEADER_TABLE_SIZE: usize = 4096;
/// Re-encoded blocks are cut into frames of at most this payload: the
/// smallest SETTINGS_MAX_FRAME_SIZE an HTTP/2 peer may have.
const MAX_FRAME_PAYLOAD: usize = 16_384;
/// What replaces an `:authority` that is no URI authority.
const LOCALHOST: &[u8] = b"localhost";
/// How much one read from the socket takes.
const READ_CHUNK: usize = 16 * 1024;
/// [`AuthorityRewriter::feed`] stops taking input once one call has written
/// this much: small frames that index large dynamic-table entries expand
/// several hundred times, and a whole read of them must not.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;

const FRAME_HEADERS: u8 = 0x1;
const FRAME_CONTINUATION: u8 = 0x9;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;

/// Why a connection's client→server byte stream could not be rewritten.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// A header block over [`MAX_HEADER_BLOCK_BYTES`].
    #[error("header block of stream {stream} exceeds {MAX_HEADER_BLOCK_BYTES} bytes")]
    TooLarge { stream: u32 },
    /// HEADERS on the connection's control stream.
    #[error("HEADERS frame on stream 0")]
    HeadersOnStreamZero,
    /// Padding or priority fields longer than the frame.
    #[error("HEADERS frame of stream {stream} is shorter than its padding and priority fields")]
    BadPadding { stream: u32 },
    /// CONTINUATION with no header block open.
    #[error("CONTINUATION frame of stream {stream} without a HEADERS frame before it")]
    UnexpectedContinuation { stream: u32 },
    /// Another frame in the middle of a header block (RFC 9113 §6.10).
    #[error(
        "frame of type {frame_type:#x} on stream {got} inside the header block of stream {stream}"
    )]
    ExpectedContinuation {
        stream: u32,
        got: u32,
        frame_type: u8,
    },
    /// The HPACK block does not decode.
    #[error("malformed HPACK block on stream {stream}: {source}")]
    Hpack {
        stream: u32,
        #[source]
        source: loona_hpack::decoder::DecoderError,
    },
    /// An earlier error; the connection is being closed.
    #[error("the connection's header stream failed earlier")]
    Failed,
}

/// Sans-I/O rewriter of the client→server half of an HTTP/2 connection:
/// feed it what the client sent, forward what it writes to `out`.
pub struct AuthorityRewriter {
    state: State,
    decoder: loona_hpack::Decoder<'static>,
    /// The payload of the HEADERS or CONTINUATION frame being read.
    payload: Vec<u8>,
    /// The header block being collected, until END_HEADERS.
    block: Option<Block>,
    /// Authorities replaced so far on this connection.
    replaced: u64,
}

#[derive(Debug)]
enum State {
    /// Matching the connection preface; `matched` bytes of it so far.
    Preface {
        matched: usize,
    },
    /// Not HTTP/2 with prior knowledge: everything passes, the server
    /// answers it as it would without us.
    Transparent,
    /// Reading a 9-byte frame header.
    FrameHeader {
        buf: [u8; 9],
        filled: usize,
    },
    /// Forwarding `remaining` payload bytes of a frame untouched.
    Forward {
        remaining: usize,
    },
    /// Collecting `remaining` payload bytes of a HEADERS/CONTINUATION frame.
    Payload {
        frame_type: u8,
        flags: u8,
        stream: u32,
        remaining: usize,
    },
    Failed,
}

/// A header block across its frames.
#[derive(Debug)]
struct Block {
    stream: u32,
    end_stream: bool,
    /// Stream dependency and weight of a HEADERS frame with PRIORITY.
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
    /// Frame payload bytes so far, padding included.
    received: usize,
}

impl fmt::Debug for AuthorityRewriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorityRewriter")
            .field("state", &self.state)
            .field("replaced", &self.replaced)
            .finish_non_exhaustive()
    }
}

impl Default for AuthorityRewriter {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthorityRewriter {
    /// A rewriter for a new connection (expects the connection preface).
    pub fn new() -> AuthorityRewriter {
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(SERVER_HEADER_TABLE_SIZE);
        AuthorityRewriter {
            state: State::Preface { matched: 0 },
            decoder,
            payload: Vec::new(),
            block: None,
            replaced: 0,
        }
    }

    /// How many `:authority` values were replaced on this connection.
    #[cfg(test)]
    fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Consumes a prefix of `input` (all of it unless this call wrote
    /// [`OUTPUT_HIGH_WATER`] bytes first; never nothing of a non-empty
    /// input), appends what the server should read to `out` and returns how
    /// many bytes it consumed. After an error every later call fails too.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, RewriteError> {
        let res = self.feed_inner(input, out);
        if res.is_err() {
            self.state = State::Failed;
            self.payload = Vec::new();
            self.block = None;
        }
        res
    }

    fn feed_inner(&mut self, all: &[u8], out: &mut Vec<u8>) -> Result<usize, RewriteError> {
        let start = out.len();
        let mut input = all;
        while !input.is_empty() && out.len() - start < OUTPUT_HIGH_WATER {
            match &mut self.state {
                State::Failed => return Err(RewriteError::Failed),
                State::Transparent => {
                    out.extend_from_slice(input);
                    input = &[];
                }
                State::Preface { matched } => {
                    let want = &PREFACE[*matched..];
                    let n = want.len().min(input.len());
                    if input[..n] != want[..n] {
                        self.state = State::Transparent;
                        continue;
                    }
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *matched += n;
                    if *matched == PREFACE.len() {
                        self.state = State::FrameHeader {
                            buf: [0; 9],
                            filled: 0,
                        };
                    }
                }
                State::FrameHeader { buf, filled } => {
                    let n = (9 - *filled).min(input.len());
                    buf[*filled..*filled + n].copy_from_slice(&input[..n]);
                    *filled += n;
                    input = &input[n..];
                    if *filled == 9 {
                        let header = *buf;
                        self.frame_header(header, out)?;
                    }
                }
                State::Forward { remaining } => {
                    let n = (*remaining).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *remaining -= n;
                    if *remaining == 0 {
                        self.next_frame();
                    }
                }
                State::Payload { remaining, .. } => {
                    let n = (*remaining).min(input.len());
                    self.payload.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    *remaining -= n;
                    if *remaining == 0 {
                        self.end_of_payload(out)?;
                    }
                }
            }
        }
        Ok(all.len() - input.len())
    }

    fn next_frame(&mut self) {
        self.state = State::FrameHeader {
            buf: [0; 9],
            filled: 0,
        };
    }

    fn frame_header(&mut self, h: [u8; 9], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
        let (frame_type, flags) = (h[3], h[4]);
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
        let received = match (&self.block, frame_type) {
            (Some(b), FRAME_CONTINUATION) if b.stream == stream => b.received,
            (Some(b), _) => {
                return Err(RewriteError::ExpectedContinuation {
                    stream: b.stream,
                    got: stream,
                    frame_type,
                });
            }
            (None, FRAME_CONTINUATION) => {
                return Err(RewriteError::UnexpectedContinuation { stream });
            }
            (None, FRAME_HEADERS) if stream == 0 => {
                return Err(RewriteError::HeadersOnStreamZero);
            }
            (None, FRAME_HEADERS) => 0,
            (None, _) => {
                out.extend_from_slice(&h);
                if len == 0 {
                    self.next_frame();
                } else {
                    self.state = State::Forward { remaining: len };
                }
                return Ok(());
            }
        };
        // Checked before anything is buffered: a frame header alone cannot
        // make us hold more than the limit.
        if received + len > MAX_HEADER_BLOCK_BYTES {
            return Err(RewriteError::TooLarge { stream });
        }
        self.payload.clear();
        self.state = State::Payload {
            frame_type,
            flags,
            stream,
            remaining: len,
        };
        if len == 0 {
            self.end_of_payload(out)?;
        }
        Ok(())
    }

    /// A HEADERS or CONTINUATION frame's payload is complete.
    fn end_of_payload(&mut self, out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let State::Payload {
            frame_type,
            flags,
            stream,
            ..
        } = self.state
        else {
            return Ok(());
        };
        let payload = std::mem::take(&mut self.payload);
        let mut block = match self.block.take() {
            Some(mut b) => {
                // CONTINUATION: no padding, no priority.
                b.fragment.extend_from_slice(&payload);
                b.received += payload.len();
                b
            }
            None => {
                debug_assert_eq!(frame_type, FRAME_HEADERS);
                let mut start = 0;
                let mut pad = 0;
                if flags & FLAG_PADDED != 0 {
                    pad = usize::from(*payload.first().ok_or(RewriteError::BadPadding { stream })?);
                    start = 1;
                }
                let mut priority = None;
                if flags & FLAG_PRIORITY != 0 {
                    let p: [u8; 5] = payload
                        .get(start..start + 5)
                        .and_then(|p| p.try_into().ok())
                        .ok_or(RewriteError::BadPadding { stream })?;
                    priority = Some(p);
                    start += 5;
                }
                let end = payload
                    .len()
                    .checked_sub(pad)
                    .filter(|&end| end >= start)
                    .ok_or(RewriteError::BadPadding { stream })?;
                Block {
                    stream,
                    end_stream: flags & FLAG_END_STREAM != 0,
                    priority,
                    fragment: payload[start..end].to_vec(),
                    received: payload.len(),
                }
            }
        };
        if flags & FLAG_END_HEADERS == 0 {
            self.block = Some(block);
        } else {
            block.fragment = self.rewrite(&block)?;
            write_block(&block, out);
        }
        self.next_frame();
        Ok(())
    }

    /// The block's fields, `:authority` fixed, as literals without indexing.
    fn rewrite(&mut self, block: &Block) -> Result<Vec<u8>, RewriteError> {
        let stream = block.stream;
        let mut encoded = Vec::with_capacity(block.fragment.len() + 64);
        let mut list_size = 0usize;
        let mut replaced = 0u64;
        self.decoder
            .decode_with_cb(&block.fragment, |name, value| {
                // The decoder cannot be stopped from here; past the limit
                // the rest is decoded (bounded by the block) but not kept.
                list_size = list_size.saturating_add(name.len() + value.len() + 32);
                if list_size > MAX_HEADER_BLOCK_BYTES {
                    return;
                }
                let value: &[u8] = if &*name == b":authority"
                    && http::uri::Authority::try_from(&*value).is_err()
                {
                    replaced += 1;
                    LOCALHOST
                } else {
                    &value
                };
                encode_literal(&name, value, &mut encoded);
            })
            .map_err(|source| RewriteError::Hpack { stream, source })?;
        if list_size > MAX_HEADER_BLOCK_BYTES {
            return Err(RewriteError::TooLarge { stream });
        }
        if replaced > 0 && self.replaced == 0 {
            tracing::debug!(
                stream,
                "unix client sent a path as :authority; it is read as localhost"
            );
        }
        self.replaced += replaced;
        Ok(encoded)
    }
}

/// A literal header field without indexing, new name, no Huffman coding
/// (RFC 7541 §6.2.2).
fn encode_literal(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.push(0);
    for s in [name, value] {
        encode_int(s.len(), 7, 0, out);
        out.extend_from_slice(s);
    }
}

/// An HPACK integer with an N-bit prefix (RFC 7541 §5.1).
fn encode_int(mut value: usize, prefix_bits: u8, first: u8, out: &mut Vec<u8>) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

/// The re-encoded block as one HEADERS frame and as many CONTINUATION
/// frames as it needs; padding is dropped, priority and END_STREAM kept.
fn write_block(block: &Block, out: &mut Vec<u8>) {
    let prefix: &[u8] = block.priority.as_ref().map_or(&[], |p| &p[..]);
    let first_len = block.fragment.len().min(MAX_FRAME_PAYLOAD - prefix.len());
    let (first, mut rest) = block.fragment.split_at(first_len);
    let mut flags = 0;
    if block.end_stream {
        flags |= FLAG_END_STREAM;
    }
    if block.priority.is_some() {
        flags |= FLAG_PRIORITY;
    }
    if rest.is_empty() {
        flags |= FLAG_END_HEADERS;
    }
    frame(FRAME_HEADERS, flags, block.stream, &[prefix, first], out);
    while !rest.is_empty() {
        let (chunk, more) = rest.split_at(rest.len().min(MAX_FRAME_PAYLOAD));
        rest = more;
        let flags = if rest.is_empty() { FLAG_END_HEADERS } else { 0 };
        frame(FRAME_CONTINUATION, flags, block.stream, &[chunk], out);
    }
}

fn frame(frame_type: u8, flags: u8, stream: u32, parts: &[&[u8]], out: &mut Vec<u8>) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    // len <= MAX_FRAME_PAYLOAD, so it fits the 24-bit length field.
    out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[frame_type, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// An accepted unix connection whose client→server bytes pass through an
/// [`AuthorityRewriter`]; writes go to the socket as they are.
pub struct UdsStream {
    inner: UnixStream,
    rewriter: AuthorityRewriter,
    /// Bytes read from the socket; `scratch[unfed..read]` not yet fed.
    scratch: Box<[u8]>,
    unfed: usize,
    read: usize,
    /// Rewritten bytes the server has not read yet, from `pos` on.
    pending: Vec<u8>,
    pos: usize,
}

impl fmt::Debug for UdsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdsStream")
            .field("inner", &self.inner)
            .field("rewriter", &self.rewriter)
            .field("pending", &(self.pending.len() - self.pos))
            .finish()
    }
}

impl UdsStream {
    /// Wraps a freshly accepted connection.
    pub fn new(inner: UnixStream) -> UdsStream {
        UdsStream {
            inner,
            rewriter: AuthorityRewriter::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            unfed: 0,
            read: 0,
            pending: Vec::new(),
            pos: 0,
        }
    }
}

/// Peer address and credentials, as tonic gives them for a plain
/// `UnixStream` (`Request::extensions().get::<UdsConnectInfo>()`).
impl Connected for UdsStream {
    type ConnectInfo = <UnixStream as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for UdsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.pos < this.pending.len() {
                let n = buf.remaining().min(this.pending.len() - this.pos);
                buf.put_slice(&this.pending[this.pos..this.pos + n]);
                this.pos += n;
                if this.pos == this.pending.len() {
                    this.pending.clear();
                    this.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.unfed == this.read {
                let mut read = ReadBuf::new(&mut this.scratch);
                ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
                if read.filled().is_empty() {
                    return Poll::Ready(Ok(()));
                }
                (this.unfed, this.read) = (0, read.filled().len());
            }
            match this
                .rewriter
                .feed(&this.scratch[this.unfed..this.read], &mut this.pending)
            {
                Ok(n) => this.unfed += n,
                Err(e) => {
                    tracing::warn!(error = %e, "closing a unix-socket gRPC connection");
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
                }
            }
            // Input that only continued a header block gives nothing to
            // pass on yet: feed or read more.
        }
    }
}

impl AsyncWrite for UdsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    type Fields = Vec<(String, String)>;

    /// What the server reads of one header block.
    #[derive(Debug, PartialEq)]
    struct Headers {
        stream: u32,
        /// END_STREAM, PRIORITY (and its bytes).
        end_stream: bool,
        priority: Option<[u8; 5]>,
        fields: Fields,
    }

    fn frame_bytes(frame_type: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&[frame_type, flags]);
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn headers(stream: u32, block: &[u8]) -> Vec<u8> {
        frame_bytes(FRAME_HEADERS, FLAG_END_HEADERS, stream, block)
    }

    /// The preface, an empty SETTINGS frame, then `frames`.
    fn conn(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = PREFACE.to_vec();
        out.extend(frame_bytes(0x4, 0, 0, &[]));
        for f in frames {
            out.extend_from_slice(f);
        }
        out
    }

    /// Runs `input` through a rewriter at once and byte by byte; both must
    /// give the same.
    fn rewrite(input: &[u8]) -> Result<Vec<u8>, RewriteError> {
        let mut whole = Vec::new();
        let res = feed_all(&mut AuthorityRewriter::new(), input, &mut whole);
        let mut r = AuthorityRewriter::new();
        let mut bytewise = Vec::new();
        let res2 = input
            .iter()
            .try_for_each(|b| feed_all(&mut r, std::slice::from_ref(b), &mut bytewise));
        assert_eq!(res.is_ok(), res2.is_ok(), "{res:?} / {res2:?}");
        res?;
        assert_eq!(whole, bytewise);
        Ok(whole)
    }

    fn feed_all(
        r: &mut AuthorityRewriter,
        mut input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RewriteError> {
        while !input.is_empty() {
            let n = r.feed(input, out)?;
            assert!(n > 0, "feed made no progress");
            input = &input[n..];
        }
        Ok(())
    }

    /// The frames of what the server reads (after the preface).
    fn frames(out: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut rest = out.strip_prefix(PREFACE).unwrap();
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            assert!(len <= MAX_FRAME_PAYLOAD, "frame of {len} bytes");
            let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
            frames.push((rest[3], rest[4], stream, rest[9..9 + len].to_vec()));
            rest = &rest[9 + len..];
        }
        frames
    }

    /// The header blocks the server reads, each decoded by a fresh decoder:
    /// they must not depend on any dynamic table.
    fn blocks(out: &[u8]) -> Vec<Headers> {
        let mut blocks = Vec::new();
        let mut open: Option<(Headers, Vec<u8>)> = None;
        for (frame_type, flags, stream, payload) in frames(out) {
            let fragment = match frame_type {
                FRAME_HEADERS => {
                    assert!(open.is_none());
                    assert_eq!(flags & FLAG_PADDED, 0, "padding is dropped");
                    let (priority, fragment) = if flags & FLAG_PRIORITY != 0 {
                        (Some(payload[..5].try_into().unwrap()), &payload[5..])
                    } else {
                        (None, &payload[..])
                    };
                    let h = Headers {
                        stream,
                        end_stream: flags & FLAG_END_STREAM != 0,
                        priority,
                        fields: Vec::new(),
                    };
                    open.insert((h, Vec::new())).1.extend_from_slice(fragment);
                    flags
                }
                FRAME_CONTINUATION => {
                    let (h, block) = open.as_mut().unwrap();
                    assert_eq!(h.stream, stream);
                    block.extend_from_slice(&payload);
                    flags
                }
                _ => continue,
            };
            if fragment & FLAG_END_HEADERS != 0 {
                let (mut h, block) = open.take().unwrap();
                h.fields = loona_hpack::Decoder::new()
                    .decode(&block)
                    .unwrap()
                    .into_iter()
                    .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
                    .collect();
                blocks.push(h);
            }
        }
        assert!(open.is_none(), "a header block without END_HEADERS");
        blocks
    }

    fn fields(list: &[(&str, &str)]) -> Fields {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// grpcio 1.85.3 (`grpc-c/58.0.0`) on `unix:/tmp/uds-probe/s.sock`:
    /// ListTerminals, then GetTerminal on the same connection, captured from
    /// the socket. The first indexes `:authority` (a literal with
    /// incremental indexing), the second refers to it by index (0xc4).
    const GRPCIO_FIRST: &str = "40053a706174682
        92f706f73646961672e76312e5465726d696e616c536572766963652f4c6973745465726d696e616c73
        400a3a617574686f7269747918746d702532467564732d70726f6265253246732e736f636b
        8386400c636f6e74656e742d74797065106170706c69636174696f6e2f67727063
        4002746508747261696c657273
        4014677270632d6163636570742d656e636f64696e67176964656e746974792c206465666c6174652c20677a6970
        400c677270632d74696d656f7574023253
        400a757365722d6167656e7430677270632d707974686f6e2f312e38352e3320677270632d632f35382e302e3020286c696e75783b2063687474703229";
    const GRPCIO_SECOND: &str = "40053a70617468272f706f73646961672e76312e5465726d696e616c536572766963652f4765745465726d696e616c
        c48386c3c2c1400c677270632d74696d656f757405323031306dc0";

    fn grpc_fields(path: &str, authority: &str, timeout: &str) -> Fields {
        fields(&[
            (":path", path),
            (":authority", authority),
            (":method", "POST"),
            (":scheme", "http"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-accept-encoding", "identity, deflate, gzip"),
            ("grpc-timeout", timeout),
            (
                "user-agent",
                "grpc-python/1.85.3 grpc-c/58.0.0 (linux; chttp2)",
            ),
        ])
    }

    #[test]
    fn a_grpcio_path_authority_becomes_localhost_also_when_indexed() {
        let input = conn(&[
            headers(1, &hex(GRPCIO_FIRST)),
            frame_bytes(0x0, FLAG_END_STREAM, 1, &[0, 0, 0, 0, 0]),
            headers(3, &hex(GRPCIO_SECOND)),
        ]);
        let out = rewrite(&input).unwrap();
        let b = blocks(&out);
        let expect = [
            (1, "/posdiag.v1.TerminalService/ListTerminals", "2S"),
            (3, "/posdiag.v1.TerminalService/GetTerminal", "2010m"),
        ];
        assert_eq!(b.len(), 2);
        for (h, (stream, path, timeout)) in b.iter().zip(expect) {
            assert_eq!(h.stream, stream);
            assert_eq!(h.fields, grpc_fields(path, "localhost", timeout));
        }
        let mut r = AuthorityRewriter::new();
        feed_all(&mut r, &input, &mut Vec::new()).unwrap();
        assert_eq!(r.replaced(), 2);
    }

    /// RFC 7541 C.4: three requests with Huffman coding and dynamic-table
    /// references; `www.example.com` is a valid authority and stays.
    #[test]
    fn valid_huffman_and_indexed_headers_are_kept() {
        let input = conn(&[
            headers(1, &hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")),
            headers(3, &hex("8286 84be 5886 a8eb 1064 9cbf")),
            headers(
                5,
                &hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
            ),
        ]);
        let b = blocks(&rewrite(&input).unwrap());
        let base = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ];
        assert_eq!(b[0].fields, fields(&base));
        let mut second = base.to_vec();
        second.push(("cache-control", "no-cache"));
        assert_eq!(b[1].fields, fields(&second));
        assert_eq!(
            b[2].fields,
            fields(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value"),
            ])
        );
        let mut r = AuthorityRewriter::new();
        feed_all(&mut r, &input, &mut Vec::new()).unwrap();
        assert_eq!(r.replaced(), 0);
    }

    /// A grpc-java style raw path, Huffman-coded and then indexed (encoded
    /// by python-hpack 4 with `huffman=True`, twice on one encoder).
    #[test]
    fn a_huffman_coded_raw_path_authority_becomes_localhost() {
        let first = "8386449e62b3a2430e65fb857de5b293543a3716cee62158ce6427796ca4d50e847f
                     41936134d6c56744861ccc56744861cd22e8393aff5f8b1d75d0620d263d4c4d65644082497f864d833505b11f";
        let input = conn(&[headers(1, &hex(first)), headers(3, &hex("8386c1c0bfbe"))]);
        for h in blocks(&rewrite(&input).unwrap()) {
            assert_eq!(
                h.fields,
                fields(&[
                    (":method", "POST"),
                    (":scheme", "http"),
                    (":path", "/posdiag.v1.TerminalService/ListTerminals"),
                    (":authority", "localhost"),
                    ("content-type", "application/grpc"),
                    ("te", "trailers"),
                ])
            );
        }
    }

    #[test]
    fn which_authorities_are_replaced() {
        let check = |authority: &str| {
            let mut block = Vec::new();
            encode_literal(b":authority", authority.as_bytes(), &mut block);
            let b = blocks(&rewrite(&conn(&[headers(1, &block)])).unwrap());
            b[0].fields[0].1.clone()
        };
        for kept in [
            "localhost",
            "localhost:50051",
            "127.0.0.1:1",
            "[::1]:5",
            "posdiagd",
        ] {
            assert_eq!(check(kept), kept);
        }
        for replaced in [
            "/run/posdiag/posdiagd.sock",
            "run%2Fposdiag%2Fposdiagd.sock",
            "%2Frun%2Fposdiag%2Fposdiagd.sock",
            "",
            "a b",
        ] {
            assert_eq!(check(replaced), "localhost", "{replaced:?}");
        }
    }

    #[test]
    fn continuation_frames_are_joined_and_the_output_split_at_16k() {
        // One block across HEADERS + 2 CONTINUATION frames.
        let block = hex(GRPCIO_FIRST);
        let input = conn(&[
            frame_bytes(FRAME_HEADERS, FLAG_END_STREAM, 1, &block[..10]),
            frame_bytes(FRAME_CONTINUATION, 0, 1, &block[10..100]),
            frame_bytes(FRAME_CONTINUATION, FLAG_END_HEADERS, 1, &block[100..]),
        ]);
        let b = blocks(&rewrite(&input).unwrap());
        assert_eq!(b.len(), 1);
        assert!(b[0].end_stream);
        assert_eq!(
            b[0].fields,
            grpc_fields(
                "/posdiag.v1.TerminalService/ListTerminals",
                "localhost",
                "2S"
            )
        );

        // A block that re-encodes to more than one frame.
        let mut block = Vec::new();
        encode_literal(b":authority", b"/tmp/s.sock", &mut block);
        let big = "x".repeat(40_000);
        encode_literal(b"x-big", big.as_bytes(), &mut block);
        let out = rewrite(&conn(&[
            frame_bytes(
                FRAME_HEADERS,
                FLAG_PRIORITY,
                7,
                &[&[0, 0, 0, 3, 9][..], &block[..16_000]].concat(),
            ),
            frame_bytes(FRAME_CONTINUATION, 0, 7, &block[16_000..32_000]),
            frame_bytes(FRAME_CONTINUATION, FLAG_END_HEADERS, 7, &block[32_000..]),
        ]))
        .unwrap();
        let kinds: Vec<(u8, u8, usize)> = frames(&out)
            .iter()
            .skip(1)
            .map(|(t, f, _, p)| (*t, *f, p.len()))
            .collect();
        assert_eq!(
            kinds,
            [
                (FRAME_HEADERS, FLAG_PRIORITY, MAX_FRAME_PAYLOAD),
                (FRAME_CONTINUATION, 0, MAX_FRAME_PAYLOAD),
                // + 5 priority bytes, - 2 for "localhost" instead of "/tmp/s.sock"
                (
                    FRAME_CONTINUATION,
                    FLAG_END_HEADERS,
                    block.len() + 5 - 2 - 2 * MAX_FRAME_PAYLOAD
                )
            ]
        );
        let b = blocks(&out);
        assert_eq!(b[0].priority, Some([0, 0, 0, 3, 9]));
        assert_eq!(
            b[0].fields,
            vec![
                (":authority".to_string(), "localhost".to_string()),
                ("x-big".to_string(), big)
            ]
        );
    }

    #[test]
    fn padding_is_dropped_and_priority_kept() {
        let block = hex(GRPCIO_FIRST);
        let payload = [&[3u8][..], &[0x80, 0, 0, 1, 200], &block, &[0, 0, 0]].concat();
        let out = rewrite(&conn(&[frame_bytes(
            FRAME_HEADERS,
            FLAG_PADDED | FLAG_PRIORITY | FLAG_END_HEADERS | FLAG_END_STREAM,
            1,
            &payload,
        )]))
        .unwrap();
        let b = blocks(&out);
        assert_eq!(
            b,
            [Headers {
                stream: 1,
                end_stream: true,
                priority: Some([0x80, 0, 0, 1, 200]),
                fields: grpc_fields(
                    "/posdiag.v1.TerminalService/ListTerminals",
                    "localhost",
                    "2S"
                ),
            }]
        );
    }

    #[test]
    fn other_frames_pass_untouched() {
        let others = [
            frame_bytes(0x4, 0, 0, &[0, 4, 0, 0, 0xff, 0xff]),
            frame_bytes(0x8, 0, 0, &[0, 1, 0, 0]),
            frame_bytes(
                0x0,
                FLAG_PADDED | FLAG_END_STREAM,
                1,
                &[2, 0, 0, 0, 0, 1, 0xaa, 0, 0],
            ),
            frame_bytes(0x6, 0, 0, &[1, 2, 3, 4, 5, 6, 7, 8]),
            frame_bytes(0xfa, 0xff, 9, b"unknown frame type"),
            frame_bytes(0x3, 0, 1, &[0, 0, 0, 8]),
        ];
        let input = conn(&others);
        assert_eq!(rewrite(&input).unwrap(), input);
        // Not HTTP/2 with prior knowledge: the server sees it as sent.
        let http1 = b"GET / HTTP/1.1\r\nHost: /tmp/s.sock\r\n\r\n".to_vec();
        assert_eq!(rewrite(&http1).unwrap(), http1);
        let near = b"PRI * HTTP/2.0\r\n\r\nXX".to_vec();
        assert_eq!(rewrite(&near).unwrap(), near);
    }

    #[test]
    fn dynamic_table_size_updates_are_followed() {
        // Index `x-a: 1`, then shrink the table to 0 (evicting it) and back:
        // a reference to it must now fail, as it would at the client's peer.
        let index = [0x40, 3, b'x', b'-', b'a', 1, b'1'];
        let ok = conn(&[
            headers(1, &index),
            headers(3, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]),
        ]);
        assert_eq!(
            blocks(&rewrite(&ok).unwrap())[1].fields,
            fields(&[(":method", "GET")])
        );
        let stale = conn(&[
            headers(1, &index),
            headers(3, &[0x20, 0x3f, 0xe1, 0x1f, 0xbe]),
        ]);
        assert!(matches!(
            rewrite(&stale),
            Err(RewriteError::Hpack { stream: 3, .. })
        ));
        let without_update = conn(&[headers(1, &index), headers(3, &[0xbe])]);
        assert_eq!(
            blocks(&rewrite(&without_update).unwrap())[1].fields,
            fields(&[("x-a", "1")])
        );
        // Beyond the 4096 bytes the server allows.
        let too_big = conn(&[headers(1, &[0x3f, 0xe2, 0x1f, 0x82])]);
        assert!(matches!(rewrite(&too_big), Err(RewriteError::Hpack { .. })));
    }

    #[test]
    fn oversize_blocks_close_the_connection() {
        // Encoded: refused at the frame header that crosses the limit.
        let chunk = vec![0u8; MAX_FRAME_PAYLOAD];
        let mut input = conn(&[frame_bytes(FRAME_HEADERS, 0, 1, &chunk)]);
        for _ in 0..3 {
            input.extend(frame_bytes(FRAME_CONTINUATION, 0, 1, &chunk));
        }
        input.extend(&frame_bytes(FRAME_CONTINUATION, 0, 1, &[1])[..9]);
        assert!(matches!(
            rewrite(&input),
            Err(RewriteError::TooLarge { stream: 1 })
        ));
        let mut huge = conn(&[]);
        huge.extend([0xff, 0xff, 0xff, FRAME_HEADERS, 0, 0, 0, 0, 1]);
        assert!(matches!(rewrite(&huge), Err(RewriteError::TooLarge { .. })));

        // Decoded: a 4000-byte entry referenced 20 times.
        let mut index = vec![0x40, 1, b'x'];
        encode_int(4000, 7, 0, &mut index);
        index.extend(std::iter::repeat_n(b'v', 4000));
        let input = conn(&[headers(1, &index), headers(3, &[0xbe; 20])]);
        assert!(matches!(
            rewrite(&input),
            Err(RewriteError::TooLarge { stream: 3 })
        ));
    }

    #[test]
    fn amplifying_input_is_taken_in_bounded_steps() {
        // 10-byte frames that each expand to a 4000-byte field.
        let mut index = vec![0x40, 1, b'x'];
        encode_int(4000, 7, 0, &mut index);
        index.extend(std::iter::repeat_n(b'v', 4000));
        let mut frames = vec![headers(1, &index)];
        frames.extend((0..200).map(|i| headers(3 + 2 * i, &[0xbe])));
        let input = conn(&frames);
        let mut r = AuthorityRewriter::new();
        let mut out = Vec::new();
        let used = r.feed(&input, &mut out).unwrap();
        assert!(used < input.len());
        assert!(out.len() < OUTPUT_HIGH_WATER + 2 * MAX_HEADER_BLOCK_BYTES);
        feed_all(&mut r, &input[used..], &mut out).unwrap();
        let b = blocks(&out);
        assert_eq!(b.len(), 201);
        assert!(
            b.iter()
                .all(|h| h.fields == [("x".into(), "v".repeat(4000))])
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        let cases: [(&str, Vec<Vec<u8>>); 8] = [
            ("index out of range", vec![headers(1, &[0xff, 0x7f])]),
            ("truncated literal", vec![headers(1, &[0x40, 5, b'a'])]),
            (
                "bad huffman",
                vec![headers(1, &[0x40, 0x81, 0xff, 0x81, 0xff])],
            ),
            ("size update at the end", vec![headers(1, &[0x82, 0x20])]),
            (
                "padding longer than the frame",
                vec![frame_bytes(
                    FRAME_HEADERS,
                    FLAG_PADDED | FLAG_END_HEADERS,
                    1,
                    &[9, 0x82],
                )],
            ),
            (
                "priority cut short",
                vec![frame_bytes(
                    FRAME_HEADERS,
                    FLAG_PRIORITY | FLAG_END_HEADERS,
                    1,
                    &[0, 0],
                )],
            ),
            (
                "continuation without headers",
                vec![frame_bytes(
                    FRAME_CONTINUATION,
                    FLAG_END_HEADERS,
                    1,
                    &[0x82],
                )],
            ),
            (
                "data inside a header block",
                vec![
                    frame_bytes(FRAME_HEADERS, 0, 1, &[0x82]),
                    frame_bytes(0x0, 0, 1, &[0]),
                ],
            ),
        ];
        for (what, frames) in cases {
            assert!(rewrite(&conn(&frames)).is_err(), "{what}");
        }
        assert!(matches!(
            rewrite(&conn(&[headers(0, &[0x82])])),
            Err(RewriteError::HeadersOnStreamZero)
        ));
        let mut r = AuthorityRewriter::new();
        assert!(
            r.feed(&conn(&[headers(1, &[0xff, 0x7f])]), &mut Vec::new())
                .is_err()
        );
        assert!(matches!(
            r.feed(&conn(&[]), &mut Vec::new()),
            Err(RewriteError::Failed)
        ));
    }

    /// Mutated and cut-up real streams: errors are fine, panics are not.
    #[test]
    fn mutated_input_never_panics() {
        let valid = conn(&[
            frame_bytes(
                FRAME_HEADERS,
                FLAG_PADDED | FLAG_PRIORITY,
                1,
                &[
                    &[2u8, 0, 0, 0, 0, 16][..],
                    &hex(GRPCIO_FIRST)[..40],
                    &[0, 0],
                ]
                .concat(),
            ),
            frame_bytes(
                FRAME_CONTINUATION,
                FLAG_END_HEADERS,
                1,
                &hex(GRPCIO_FIRST)[40..],
            ),
            frame_bytes(0x0, FLAG_END_STREAM, 1, &[0, 0, 0, 0, 0]),
            headers(3, &hex(GRPCIO_SECOND)),
            headers(
                5,
                &hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
            ),
        ]);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5000 {
            let mut input = valid.clone();
            for _ in 0..1 + next() % 4 {
                let at = PREFACE.len() + (next() as usize) % (input.len() - PREFACE.len());
                input[at] = next() as u8;
            }
            let mut r = AuthorityRewriter::new();
            let mut out = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = 1 + (next() as usize) % rest.len().min(64);
                let Ok(used) = r.feed(&rest[..n], &mut out) else {
                    break;
                };
                rest = &rest[used..];
            }
        }
    }

    #[tokio::test]
    async fn the_stream_rewrites_reads_and_keeps_peer_credentials() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let (mut client, server) = UnixStream::pair().unwrap();
        let mut server = UdsStream::new(server);
        let info = server.connect_info();
        assert_eq!(
            info.peer_cred.and_then(|c| c.pid()),
            Some(std::process::id() as i32)
        );

        let input = conn(&[
            headers(1, &hex(GRPCIO_FIRST)),
            headers(3, &hex(GRPCIO_SECOND)),
        ]);
        client.write_all(&input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut read = Vec::new();
        server.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, rewrite(&input).unwrap());

        // What the server writes reaches the client as it is.
        server.write_all(b"\0\0\0\x04\0\0\0\0\0").await.unwrap();
        let mut back = [0u8; 9];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"\0\0\0\x04\0\0\0\0\0");

        let (mut client, server) = UnixStream::pair().unwrap();
        let mut server = UdsStream::new(server);
        client
            .write_all(&conn(&[frame_bytes(
                FRAME_CONTINUATION,
                FLAG_END_HEADERS,
                1,
                &[0x82],
            )]))
            .await
            .unwrap();
        let err = server.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
