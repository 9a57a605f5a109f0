//! `poi.last_receipt` in-process against the real nexo simulator over HTTPS: the last
//! receipt repeated (TransactionStatusRequest), its EMV data explained, card number masked;
//! a terminal with no last transaction.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::net::TcpStream;

use common::{Sim, TcpBackend, request, text_of, verdict};
use posdiag_plugin_api::pb::{self, Verdict};
use posdiag_plugin_api::sdk::Host;
use posdiag_plugin_nexo::last_receipt;
use posdiag_sim::nexo::NexoScenario;

fn last_receipt(sim: &Sim) -> pb::Finding {
    let args = vec![
        ("tls".to_owned(), "true".to_owned()),
        ("ca_pem".to_owned(), sim.sim.ca_pem().unwrap().to_owned()),
    ];
    let stream = TcpStream::connect(sim.sim.addr()).unwrap();
    let host = Host::from_backend(TcpBackend::new(stream));
    let mut req = request(&format!("tcp:{}", sim.sim.addr()), args);
    req.check = last_receipt::CHECK_ID.into();
    let r = last_receipt::run(&host, &req).unwrap();
    assert_eq!(r.findings.len(), 1);
    let f = r.findings.into_iter().next().unwrap();
    assert_eq!(f.check, last_receipt::CHECK_ID);
    assert_eq!(f.subject, "terminal T1");
    f
}

#[test]
fn the_last_receipts_emv_data_is_explained() {
    let sim = Sim::start(
        NexoScenario {
            last_receipt: [
                "Sale",
                "Card: 5413330089020011",
                "AID: A0000000041010",
                "TVR: 0000200000",
                "TSI: E800",
                "CVMR: 410301",
                "ARC: Z1",
            ]
            .map(String::from)
            .to_vec(),
            ..NexoScenario::default()
        },
        true,
    );
    let f = last_receipt(&sim);
    assert_eq!(
        verdict(&f),
        (Verdict::Warning, "vendor.posdiag.nexo.emv_problem")
    );
    assert!(f.summary_en.contains("PIN is blocked"), "{}", f.summary_en);
    assert!(f.summary_zh.contains("PIN 已锁定"), "{}", f.summary_zh);
    assert!(
        text_of(&f, "emv_receipt")
            .unwrap()
            .contains("line 4 tvr 0000200000"),
        "{f:#?}"
    );
    assert!(
        text_of(&f, "emv_causes")
            .unwrap()
            .starts_with("tvr.pin_try_limit")
    );
    assert!(!format!("{f:?}").contains("5413330089020011"));
}

#[test]
fn no_last_transaction_is_unknown() {
    let sim = Sim::start(NexoScenario::default(), true);
    let f = last_receipt(&sim);
    assert_eq!(
        verdict(&f),
        (Verdict::Unknown, "vendor.posdiag.nexo.no_receipt")
    );
}
