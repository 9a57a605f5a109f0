//! A small HTTP/1.1 client for the console's tests: raw requests (so a test
//! can send any `Host`, `Origin` or `Sec-Fetch-Site`), chunked answers
//! decoded, a browser-like session (its cookie and its CSRF token), and the
//! console's address read from the daemon's log.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// An answer.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunks.
    pub body: String,
}

impl Resp {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends one request (`Connection: close`) and reads the whole answer.
/// `headers` without `Host` get `Host: ADDR`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    // A safety net against a console that never answers, not a timing assertion.
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer with headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..eol])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let end = (start + size).min(b.len());
        out.extend_from_slice(&b[start..end]);
        b = &b[(end + 2).min(b.len())..];
    }
    out
}

/// A browser: its session cookie and the CSRF token of the last page.
#[derive(Debug)]
pub struct Browser {
    /// The console.
    pub addr: SocketAddr,
    /// `posdiag_session=…`.
    pub cookie: String,
    /// The token the last page's forms carry.
    pub csrf: String,
    /// Extra headers sent with every request (`Accept-Language`).
    pub extra: Vec<(String, String)>,
}

impl Browser {
    /// Opens the overview, keeping the session it is given.
    pub fn open(addr: SocketAddr) -> Browser {
        let mut b = Browser {
            addr,
            cookie: String::new(),
            csrf: String::new(),
            extra: Vec::new(),
        };
        let r = b.get("/");
        assert!(r.status == 200 || r.status == 303, "{r:?}");
        b
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        let mut h: Vec<(&str, &str)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if !self.cookie.is_empty() {
            h.push(("Cookie", &self.cookie));
        }
        h
    }

    fn keep(&mut self, r: &Resp) {
        for c in r.headers_named("set-cookie") {
            if let Some(v) = c.split(';').next()
                && v.starts_with("posdiag_session=")
            {
                self.cookie = v.to_owned();
            }
        }
        if let Some(t) = csrf_of(&r.body) {
            self.csrf = t;
        }
    }

    /// GET `path`.
    pub fn get(&mut self, path: &str) -> Resp {
        let h = self.headers();
        let r = request(self.addr, "GET", path, &h, None);
        self.keep(&r);
        r
    }

    /// POST the form `fields` (the CSRF token added) to `path`, as the
    /// console's own page does (`Origin` and `Sec-Fetch-Site: same-origin`).
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let origin = format!("http://{}", self.addr);
        let mut h = self.headers();
        h.push(("Origin", &origin));
        h.push(("Sec-Fetch-Site", "same-origin"));
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let body = form(&all);
        let r = request(self.addr, "POST", path, &h, Some(&body));
        self.keep(&r);
        r
    }
}

/// `k=v&…`, URL-encoded.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The CSRF token in a page's forms.
pub fn csrf_of(page: &str) -> Option<String> {
    let i = page.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    let rest = &page[i..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The console's address, from the daemon's log line "web console
/// listening" (the daemon started with an `info` log).
pub fn console_addr(log: &str) -> SocketAddr {
    let url = log
        .lines()
        .find(|l| l.contains("web console listening"))
        .and_then(|l| l.split("url=").nth(1))
        .and_then(|u| u.split_whitespace().next())
        .unwrap_or_else(|| panic!("no console in the log:\n{log}"));
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// Polls `f` until it returns `Some`, for at most `limit` (a safety net,
/// not a timing assertion); panics with `what` otherwise.
pub fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An open event stream: the raw bytes as they come.
#[derive(Debug)]
pub struct EventStream {
    stream: TcpStream,
    /// Everything read so far.
    pub seen: String,
}

impl EventStream {
    /// GET `/events` and keeps the connection open.
    pub fn open(addr: SocketAddr, headers: &[(&str, &str)]) -> EventStream {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut req =
            format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        EventStream {
            stream: s,
            seen: String::new(),
        }
    }

    /// Reads until what was read contains `needle` (or `limit` passes: a
    /// panic naming what was seen).
    pub fn until(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 8192];
        while !self.seen.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the event stream never carried {needle:?}; it carried:\n{}",
                self.seen
            );
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the event stream ended; it carried:\n{}", self.seen),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => {}
            }
        }
    }
}
