//! The DNS simulator as a client sees it: queries built with hickory-proto, sent over real UDP
//! and TCP sockets on loopback.
#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a panic is the test failing"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use posdiag_sim::dns::{self, DnsAnswer, DnsSimConfig, RunningDns};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

async fn start() -> RunningDns {
    dns::start(DnsSimConfig {
        records: vec![
            (
                "host.example".to_owned(),
                DnsAnswer::A(vec![Ipv4Addr::new(192, 0, 2, 10)]),
            ),
            ("gone.example".to_owned(), DnsAnswer::NxDomain),
            ("broken.example".to_owned(), DnsAnswer::ServFail),
            ("stuck.example".to_owned(), DnsAnswer::Stall),
        ],
        ..DnsSimConfig::default()
    })
    .await
    .unwrap()
}

fn query(name: &str, qtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    message
}

async fn udp_socket(server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    socket.connect(server).await.unwrap();
    socket
}

async fn ask_udp(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let socket = udp_socket(server).await;
    let request = query(name, qtype);
    socket.send(&request.to_vec().unwrap()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = socket.recv(&mut buf).await.unwrap();
    let response = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(response.metadata.id, request.metadata.id);
    assert_eq!(response.metadata.message_type, MessageType::Response);
    assert!(response.metadata.authoritative);
    assert_eq!(response.queries, request.queries);
    response
}

#[tokio::test]
async fn a_query_gets_the_listed_address() {
    let server = start().await;
    let response = ask_udp(server.addr(), "host.example.", RecordType::A).await;
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    let addresses: Vec<_> = response.answers.iter().map(|r| r.data.clone()).collect();
    assert_eq!(addresses, [RData::A(Ipv4Addr::new(192, 0, 2, 10).into())]);
    server.shutdown().await;
}

#[tokio::test]
async fn aaaa_query_for_an_a_only_name_gets_nodata() {
    let server = start().await;
    let response = ask_udp(server.addr(), "HOST.example.", RecordType::AAAA).await;
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(response.answers.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn failures_get_their_rcodes() {
    let server = start().await;
    for (name, rcode) in [
        ("gone.example.", ResponseCode::NXDomain),
        ("unlisted.example.", ResponseCode::NXDomain),
        ("broken.example.", ResponseCode::ServFail),
    ] {
        let response = ask_udp(server.addr(), name, RecordType::A).await;
        assert_eq!(response.metadata.response_code, rcode, "{name}");
        assert!(response.answers.is_empty(), "{name}");
    }
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn stalled_name_gets_no_answer() {
    let server = start().await;
    let socket = udp_socket(server.addr()).await;
    socket
        .send(&query("stuck.example.", RecordType::A).to_vec().unwrap())
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let answer = tokio::time::timeout(Duration::from_secs(30), socket.recv(&mut buf)).await;
    assert!(answer.is_err(), "expected silence, got {answer:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_is_served_on_the_same_port() {
    let server = start().await;
    assert!(server.serves_tcp());
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let request = query("host.example.", RecordType::A).to_vec().unwrap();
    let len = u16::try_from(request.len()).unwrap();
    stream.write_all(&len.to_be_bytes()).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut len = [0; 2];
    stream.read_exact(&mut len).await.unwrap();
    let mut wire = vec![0; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut wire).await.unwrap();
    let response = Message::from_vec(&wire).unwrap();
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert_eq!(response.answers.len(), 1);
    server.shutdown().await;
}
