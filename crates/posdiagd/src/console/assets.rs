//! The console's script and style, embedded in the binary (nothing is
//! fetched from anywhere: store PCs are often cut off from the internet).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use super::http::Body;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The asset `name`, or 404.
pub fn serve(name: &str) -> Response<Body> {
    let (body, kind) = match name {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => ("", "text/plain; charset=utf-8"),
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed());
    if body.is_empty() {
        *r.status_mut() = StatusCode::NOT_FOUND;
    }
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}
