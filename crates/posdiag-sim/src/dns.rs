//! A tiny authoritative DNS responder on loopback (UDP, and TCP on the same port) for
//! deterministic resolution tests: listed names get addresses or a chosen failure, every other
//! name gets NXDOMAIN. Answers carry the AA flag, echo the question and id, and use the
//! configured TTL (0 by default, so resolvers under test do not cache between cases).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::SimError;

/// Largest UDP answer without EDNS (RFC 1035); larger ones are sent truncated (TC set).
const PLAIN_UDP_BYTES: usize = 512;
/// The UDP payload size advertised in EDNS answers (the DNS flag day 2020 value).
const EDNS_UDP_BYTES: u16 = 1232;
/// How often `start` retries to find a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 16;
/// How long the accept loop waits after a failed `accept`, so a persistent error does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What the responder says for one name.
///
/// The textual form (`FromStr`) is the value part of `posdiag-sim dns --record NAME=VALUE`: an
/// IPv4 or IPv6 address, `nxdomain`, `nodata`, `servfail`, `refused` or `stall`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAnswer {
    /// These IPv4 addresses for A queries (AAAA queries get NOERROR with no answers unless the
    /// name also has an `Aaaa` entry).
    A(Vec<Ipv4Addr>),
    /// These IPv6 addresses for AAAA queries.
    Aaaa(Vec<Ipv6Addr>),
    /// NXDOMAIN, as for names not listed.
    NxDomain,
    /// NOERROR with no answers, whatever the type.
    NoData,
    /// SERVFAIL.
    ServFail,
    /// REFUSED.
    Refused,
    /// Never answer (over TCP: keep the connection open, silent).
    Stall,
}

impl FromStr for DnsAnswer {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(match ip {
                IpAddr::V4(v4) => DnsAnswer::A(vec![v4]),
                IpAddr::V6(v6) => DnsAnswer::Aaaa(vec![v6]),
            });
        }
        match text.to_ascii_lowercase().as_str() {
            "nxdomain" => Ok(DnsAnswer::NxDomain),
            "nodata" => Ok(DnsAnswer::NoData),
            "servfail" => Ok(DnsAnswer::ServFail),
            "refused" => Ok(DnsAnswer::Refused),
            "stall" => Ok(DnsAnswer::Stall),
            _ => Err(SimError::InvalidSpec {
                kind: "dns answer",
                input: s.to_owned(),
                reason: "expected an IPv4 or IPv6 address, or one of nxdomain, nodata, servfail, \
                         refused, stall"
                    .to_owned(),
            }),
        }
    }
}

impl fmt::Display for DnsAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |ips: Vec<String>| ips.join(",");
        match self {
            DnsAnswer::A(ips) => f.write_str(&join(ips.iter().map(ToString::to_string).collect())),
            DnsAnswer::Aaaa(ips) => {
                f.write_str(&join(ips.iter().map(ToString::to_string).collect()))
            }
            DnsAnswer::NxDomain => f.write_str("nxdomain"),
            DnsAnswer::NoData => f.write_str("nodata"),
            DnsAnswer::ServFail => f.write_str("servfail"),
            DnsAnswer::Refused => f.write_str("refused"),
            DnsAnswer::Stall => f.write_str("stall"),
        }
    }
}

/// Everything `start` needs. `Default` listens on `127.0.0.1:0` with no records.
#[derive(Debug, Clone)]
pub struct DnsSimConfig {
    /// Where to listen (UDP, and TCP on the same port); port 0 picks one free for both.
    pub bind: SocketAddr,
    /// Names (case-insensitive, trailing dot optional) and what to say for them. A name may
    /// appear once with `A` and once with `Aaaa` (entries of one kind are merged); any other
    /// combination for one name is a configuration error.
    pub records: Vec<(String, DnsAnswer)>,
    /// TTL of address records and of the SOA in negative answers.
    pub ttl_secs: u32,
}

impl Default for DnsSimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            records: Vec::new(),
            ttl_secs: 0,
        }
    }
}

/// A started responder. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct RunningDns {
    addr: SocketAddr,
    tcp: bool,
    token: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl RunningDns {
    /// The bound address; UDP always, TCP too when [`RunningDns::serves_tcp`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether TCP is served on the same port (false only when that port was taken for TCP).
    pub fn serves_tcp(&self) -> bool {
        self.tcp
    }

    /// Stops serving, closes every TCP connection and waits for that.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            warn!(addr = %self.addr, %error, "dns simulator task failed");
        }
    }
}

impl Drop for RunningDns {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Starts the responder; returns once its sockets are bound.
pub async fn start(cfg: DnsSimConfig) -> Result<RunningDns, SimError> {
    let zone = Arc::new(Zone::new(&cfg.records, cfg.ttl_secs)?);
    let (udp, tcp) = bind_pair(cfg.bind).await?;
    let addr = udp.local_addr().map_err(|source| SimError::Io {
        context: "reading the bound udp address",
        source,
    })?;
    let token = CancellationToken::new();
    let serves_tcp = tcp.is_some();
    let task = tokio::spawn(run(udp, tcp, zone, token.clone()));
    debug!(%addr, serves_tcp, "dns simulator started");
    Ok(RunningDns {
        addr,
        tcp: serves_tcp,
        token,
        task: Some(task),
    })
}

/// Binds UDP, then TCP on the same port. With port 0 the UDP port may be taken for TCP, so
/// retry with another; with a fixed port, TCP is best effort.
async fn bind_pair(bind: SocketAddr) -> Result<(UdpSocket, Option<TcpListener>), SimError> {
    let bind_err = |proto, source| SimError::Bind {
        proto,
        addr: bind,
        source,
    };
    for _ in 0..PORT_ATTEMPTS {
        let udp = UdpSocket::bind(bind)
            .await
            .map_err(|source| bind_err("udp", source))?;
        let udp_addr = udp.local_addr().map_err(|source| bind_err("udp", source))?;
        match TcpListener::bind(udp_addr).await {
            Ok(tcp) => return Ok((udp, Some(tcp))),
            Err(error) if bind.port() != 0 => {
                warn!(addr = %udp_addr, %error, "dns simulator serves udp only");
                return Ok((udp, None));
            }
            Err(_) => continue,
        }
    }
    let udp = UdpSocket::bind(bind)
        .await
        .map_err(|source| bind_err("udp", source))?;
    warn!(%bind, "dns simulator found no port free for tcp too; serves udp only");
    Ok((udp, None))
}

async fn run(udp: UdpSocket, tcp: Option<TcpListener>, zone: Arc<Zone>, token: CancellationToken) {
    let tracker = TaskTracker::new();
    if let Some(listener) = tcp {
        tracker.spawn(accept_loop(
            listener,
            zone.clone(),
            token.clone(),
            tracker.clone(),
        ));
    }
    let mut buf = vec![0_u8; 65_535];
    loop {
        let received = tokio::select! {
            () = token.cancelled() => break,
            received = udp.recv_from(&mut buf) => received,
        };
        let (n, peer) = match received {
            Ok(received) => received,
            // On some systems an ICMP port unreachable from an earlier answer surfaces here.
            Err(error) => {
                debug!(%error, "dns simulator udp receive failed");
                continue;
            }
        };
        let Some(answer) = zone.respond(&buf[..n], Transport::Udp) else {
            continue;
        };
        if let Err(error) = udp.send_to(&answer, peer).await {
            debug!(%peer, %error, "dns simulator udp send failed");
        }
    }
    tracker.close();
    tracker.wait().await;
}

async fn accept_loop(
    listener: TcpListener,
    zone: Arc<Zone>,
    token: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let zone = zone.clone();
                let token = token.clone();
                tracker.spawn(async move {
                    tokio::select! {
                        () = token.cancelled() => {}
                        result = serve_tcp(stream, &zone) => {
                            if let Err(error) = result {
                                debug!(%peer, %error, "dns simulator tcp connection failed");
                            }
                        }
                    }
                });
            }
            Err(error) => {
                warn!(%error, "dns simulator accept failed");
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
}

/// DNS over TCP: each message is preceded by its length as two bytes (RFC 1035 4.2.2).
async fn serve_tcp(mut stream: TcpStream, zone: &Zone) -> std::io::Result<()> {
    loop {
        let mut len = [0_u8; 2];
        match stream.read_exact(&mut len).await {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error),
        }
        let mut query = vec![0_u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut query).await?;
        let Some(answer) = zone.respond(&query, Transport::Tcp) else {
            continue;
        };
        let Ok(answer_len) = u16::try_from(answer.len()) else {
            debug!(
                bytes = answer.len(),
                "dns simulator answer too long for tcp; dropped"
            );
            continue;
        };
        stream.write_all(&answer_len.to_be_bytes()).await?;
        stream.write_all(&answer).await?;
        stream.flush().await?;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// The validated records: per lower-cased name without trailing dot.
#[derive(Debug)]
struct Zone {
    names: HashMap<String, Entry>,
    ttl_secs: u32,
}

#[derive(Debug)]
enum Entry {
    Addresses {
        v4: Vec<Ipv4Addr>,
        v6: Vec<Ipv6Addr>,
    },
    NxDomain,
    NoData,
    ServFail,
    Refused,
    Stall,
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Zone {
    fn new(records: &[(String, DnsAnswer)], ttl_secs: u32) -> Result<Self, SimError> {
        let mut names: HashMap<String, Entry> = HashMap::new();
        for (name, answer) in records {
            let key = normalize(name);
            Name::from_ascii(&key).map_err(|error| {
                SimError::InvalidConfig(format!("dns record name \"{name}\": {error}"))
            })?;
            let entry = match answer {
                DnsAnswer::A(ips) => Entry::Addresses {
                    v4: ips.clone(),
                    v6: Vec::new(),
                },
                DnsAnswer::Aaaa(ips) => Entry::Addresses {
                    v4: Vec::new(),
                    v6: ips.clone(),
                },
                DnsAnswer::NxDomain => Entry::NxDomain,
                DnsAnswer::NoData => Entry::NoData,
                DnsAnswer::ServFail => Entry::ServFail,
                DnsAnswer::Refused => Entry::Refused,
                DnsAnswer::Stall => Entry::Stall,
            };
            match (names.get_mut(&key), entry) {
                (None, entry) => {
                    names.insert(key, entry);
                }
                (
                    Some(Entry::Addresses { v4, v6 }),
                    Entry::Addresses {
                        v4: more_v4,
                        v6: more_v6,
                    },
                ) => {
                    v4.extend(more_v4);
                    v6.extend(more_v6);
                }
                (Some(_), _) => {
                    return Err(SimError::InvalidConfig(format!(
                        "dns record \"{name}\" is listed twice with answers that cannot be \
                         combined (only addresses can)"
                    )));
                }
            }
        }
        Ok(Self { names, ttl_secs })
    }

    /// The wire answer to a wire query, or `None` to stay silent.
    fn respond(&self, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let request = match Message::from_vec(query) {
            Ok(request) => request,
            Err(error) => {
                debug!(%error, "dns simulator got an unparsable query");
                // Answer FORMERR when at least the id is readable, as real servers do.
                let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
                return encode(
                    &Message::error_msg(id, OpCode::Query, ResponseCode::FormErr),
                    transport,
                );
            }
        };
        if request.metadata.message_type != MessageType::Query {
            return None;
        }
        let mut response = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
        response.metadata = Metadata::response_from_request(&request.metadata);
        response.metadata.authoritative = true;
        response.queries = request.queries.clone();
        if request.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_UDP_BYTES);
            response.edns = Some(edns);
        }

        let question = match (request.metadata.op_code, request.queries.as_slice()) {
            (OpCode::Query, [question]) => question,
            (OpCode::Query, _) => {
                response.metadata.response_code = ResponseCode::FormErr;
                return encode(&response, transport);
            }
            _ => {
                response.metadata.response_code = ResponseCode::NotImp;
                return encode(&response, transport);
            }
        };
        let qname = question.name();
        let qtype = question.query_type();
        let key = normalize(&qname.to_ascii());
        debug!(name = %key, ?qtype, ?transport, "dns simulator query");

        match self.names.get(&key) {
            None | Some(Entry::NxDomain) => {
                response.metadata.response_code = ResponseCode::NXDomain;
                response.authorities.push(self.soa(qname));
            }
            Some(Entry::NoData) => response.authorities.push(self.soa(qname)),
            Some(Entry::ServFail) => response.metadata.response_code = ResponseCode::ServFail,
            Some(Entry::Refused) => response.metadata.response_code = ResponseCode::Refused,
            Some(Entry::Stall) => return None,
            Some(Entry::Addresses { v4, v6 }) => {
                let want_v4 = matches!(qtype, RecordType::A | RecordType::ANY);
                let want_v6 = matches!(qtype, RecordType::AAAA | RecordType::ANY);
                if want_v4 {
                    for ip in v4 {
                        response.answers.push(Record::from_rdata(
                            qname.clone(),
                            self.ttl_secs,
                            RData::A(A(*ip)),
                        ));
                    }
                }
                if want_v6 {
                    for ip in v6 {
                        response.answers.push(Record::from_rdata(
                            qname.clone(),
                            self.ttl_secs,
                            RData::AAAA(AAAA(*ip)),
                        ));
                    }
                }
                if response.answers.is_empty() {
                    response.authorities.push(self.soa(qname));
                }
            }
        }
        encode(&response, transport)
    }

    /// Each listed name acts as its own zone apex, so negative answers carry a SOA for it
    /// (resolvers take the negative-caching TTL from it).
    fn soa(&self, qname: &Name) -> Record {
        let sim = |label: &str| {
            Name::from_ascii(format!("{label}.posdiag-sim.invalid."))
                .unwrap_or_else(|_| Name::root())
        };
        Record::from_rdata(
            qname.clone(),
            self.ttl_secs,
            RData::SOA(SOA::new(
                sim("ns"),
                sim("hostmaster"),
                1,
                3600,
                600,
                86_400,
                self.ttl_secs,
            )),
        )
    }
}

fn encode(response: &Message, transport: Transport) -> Option<Vec<u8>> {
    let bytes = match response.to_vec() {
        Ok(bytes) => bytes,
        Err(error) => {
            warn!(%error, "dns simulator cannot encode its answer");
            return None;
        }
    };
    let limit = match (&response.edns, transport) {
        (_, Transport::Tcp) => usize::from(u16::MAX),
        (Some(_), Transport::Udp) => usize::from(EDNS_UDP_BYTES),
        (None, Transport::Udp) => PLAIN_UDP_BYTES,
    };
    if bytes.len() <= limit {
        return Some(bytes);
    }
    response.truncate().to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    fn ask(zone: &Zone, name: &str, qtype: RecordType) -> Option<Message> {
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        let wire = zone.respond(&query.to_vec().unwrap(), Transport::Udp)?;
        let response = Message::from_vec(&wire).unwrap();
        assert_eq!(response.metadata.id, query.metadata.id);
        assert_eq!(response.queries, query.queries);
        assert!(response.metadata.authoritative);
        Some(response)
    }

    fn zone() -> Zone {
        let records = [
            ("Host.Example.", "10.0.0.1"),
            ("host.example", "10.0.0.2"),
            ("host.example", "::1"),
            ("v4.example", "10.0.0.3"),
            ("gone.example", "nxdomain"),
            ("empty.example", "nodata"),
            ("broken.example", "servfail"),
            ("nope.example", "refused"),
            ("stuck.example", "stall"),
        ]
        .map(|(name, answer)| (name.to_owned(), answer.parse().unwrap()));
        Zone::new(&records, 0).unwrap()
    }

    #[test]
    fn answers_by_name_and_type() {
        let zone = zone();
        // (name, type, rcode, answer count, has SOA)
        let cases = [
            (
                "host.example.",
                RecordType::A,
                ResponseCode::NoError,
                2,
                false,
            ),
            (
                "HOST.example.",
                RecordType::AAAA,
                ResponseCode::NoError,
                1,
                false,
            ),
            (
                "v4.example.",
                RecordType::AAAA,
                ResponseCode::NoError,
                0,
                true,
            ),
            (
                "v4.example.",
                RecordType::MX,
                ResponseCode::NoError,
                0,
                true,
            ),
            (
                "gone.example.",
                RecordType::A,
                ResponseCode::NXDomain,
                0,
                true,
            ),
            (
                "unlisted.example.",
                RecordType::A,
                ResponseCode::NXDomain,
                0,
                true,
            ),
            (
                "empty.example.",
                RecordType::A,
                ResponseCode::NoError,
                0,
                true,
            ),
            (
                "broken.example.",
                RecordType::A,
                ResponseCode::ServFail,
                0,
                false,
            ),
            (
                "nope.example.",
                RecordType::A,
                ResponseCode::Refused,
                0,
                false,
            ),
        ];
        for (name, qtype, rcode, answers, soa) in cases {
            let response = ask(&zone, name, qtype).unwrap();
            assert_eq!(response.metadata.response_code, rcode, "{name} {qtype}");
            assert_eq!(response.answers.len(), answers, "{name} {qtype}");
            assert_eq!(!response.authorities.is_empty(), soa, "{name} {qtype}");
        }
        assert!(ask(&zone, "stuck.example.", RecordType::A).is_none());
    }

    #[test]
    fn conflicting_entries_are_rejected() {
        let records = [
            (
                "a.example".to_owned(),
                DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]),
            ),
            ("A.example.".to_owned(), DnsAnswer::ServFail),
        ];
        assert!(matches!(
            Zone::new(&records, 0),
            Err(SimError::InvalidConfig(_))
        ));
    }

    #[test]
    fn garbage_gets_formerr_or_silence() {
        let zone = zone();
        assert!(zone.respond(&[], Transport::Udp).is_none());
        let wire = zone.respond(&[0x12, 0x34, 0xff], Transport::Udp).unwrap();
        let response = Message::from_vec(&wire).unwrap();
        assert_eq!(response.metadata.id, 0x1234);
        assert_eq!(response.metadata.response_code, ResponseCode::FormErr);
    }
}
