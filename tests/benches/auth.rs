//! What authorisation costs a call, on the real `posdiagd` (release binary under `cargo bench`):
//! one daemon listening on its unix socket, on loopback TCP and with mutual TLS on loopback;
//! connected once per listener, then N sequential calls of each kind, interleaved so drift from
//! other work on the machine hits all alike:
//!
//! - `Health/Check` over the unix socket: the plain round trip (it passes the auth layer too:
//!   health is a read-tier method);
//! - `TerminalService/GetTerminal` (a read call) over the unix socket: peer-credential
//!   authorisation (uid/gid from SO_PEERCRED, the user's groups from NSS, cached);
//! - `Health/Check` and `GetTerminal` over mutual TLS (the principal from the client
//!   certificate, verified once at the handshake), and over loopback TCP (anonymous).
//!
//! Prints p50/p99 in µs and each p50 against the unix health p50. Target of the security issue:
//! a read call with peer-credential authorisation, and over mTLS once connected, within 10 %
//! of the plain health round trip at p50.
//!
//! Run: `cargo bench -p posdiag-tests --bench auth`. Without `--bench` (as under
//! `cargo test --benches`) it runs a small smoke version that judges nothing.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: a failure is a failed run"
)]

use std::time::{Duration, Instant};

use posdiag_cli::endpoint::{Daemon as Channel, Endpoint, connect_with};
use posdiag_cli::tls::Credentials;
use posdiag_core::Lang;
use posdiag_proto::v1::GetTerminalRequest;
use posdiag_proto::v1::terminal_service_client::TerminalServiceClient;
use posdiag_tests::Daemon;
use posdiag_tests::pki::Pki;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (warmup, calls) = if bench { (200, 3000) } else { (5, 20) };
    let pki = Pki::generate();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (tls_port, tcp_port) = (port(), port());
    let config = format!(
        "[auth.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n\
         [auth.tls.roles]\n\"spiffe://chain.example/helpdesk/alice\" = \"read\"\n\
         [defaults]\ncheck_interval_s = 0\n[hosts.h]\naddress = \"127.0.0.1\"\nport = 9\n\
         [[terminals]]\nid = \"T1\"\nhosts = [\"h\"]\n",
        pki.path("server.pem").display(),
        pki.path("server.key").display(),
        pki.path("ca.pem").display(),
    );
    let daemon = Daemon::start_listening(
        &config,
        &[
            format!("tls:127.0.0.1:{tls_port}"),
            format!("tcp:127.0.0.1:{tcp_port}"),
        ],
        "warn",
    );
    println!(
        "cores: {}, load average at start: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let creds = Credentials {
        ca: Some(pki.path("ca.pem")),
        cert: Some(pki.path("alice.pem")),
        key: Some(pki.path("alice.key")),
        token: None,
    };
    let series = rt.block_on(async {
        let unix = connect_with(
            &Endpoint::Unix(daemon.socket.clone()),
            Lang::En,
            &Credentials::default(),
        )
        .await
        .unwrap();
        let tls = connect_with(
            &Endpoint::Https(format!("https://127.0.0.1:{tls_port}")),
            Lang::En,
            &creds,
        )
        .await
        .unwrap();
        let tcp = connect_with(
            &Endpoint::Http(format!("http://127.0.0.1:{tcp_port}")),
            Lang::En,
            &Credentials::default(),
        )
        .await
        .unwrap();
        let kinds: [(&str, Channel, bool); 6] = [
            (
                "health, unix socket (plain round trip)",
                unix.clone(),
                false,
            ),
            ("GetTerminal, unix socket (peer credentials)", unix, true),
            ("health, mutual TLS", tls.clone(), false),
            ("GetTerminal, mutual TLS", tls, true),
            ("health, loopback TCP (anonymous)", tcp.clone(), false),
            ("GetTerminal, loopback TCP (anonymous)", tcp, true),
        ];
        let mut out: Vec<(&str, Vec<Duration>)> = kinds
            .iter()
            .map(|k| (k.0, Vec::with_capacity(calls)))
            .collect();
        for i in 0..warmup + calls {
            for (k, (_, channel, read)) in kinds.iter().enumerate() {
                let t = Instant::now();
                call(channel.clone(), *read).await;
                if i >= warmup {
                    out[k].1.push(t.elapsed());
                }
            }
        }
        out
    });
    let base = p(&series[0].1, 50.0);
    println!(
        "\n{:<46} {:>9} {:>9} {:>12}",
        "call", "p50 µs", "p99 µs", "p50 vs base"
    );
    for (name, mut v) in series {
        v.sort();
        let (p50, p99) = (p(&v, 50.0), p(&v, 99.0));
        println!(
            "{name:<46} {:>9.1} {:>9.1} {:>+11.1}%",
            us(p50),
            us(p99),
            (us(p50) / us(base) - 1.0) * 100.0
        );
    }
    if !bench {
        println!("\n(smoke run without --bench: numbers are not meaningful and not judged)");
    }
}

async fn call(channel: Channel, read: bool) {
    if read {
        TerminalServiceClient::new(channel)
            .get_terminal(GetTerminalRequest {
                id: "T1".into(),
                ..GetTerminalRequest::default()
            })
            .await
            .unwrap();
    } else {
        HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .unwrap();
    }
}

fn p(v: &[Duration], q: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    posdiag_tests::percentile(&s, q)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
