//! The shared-key protection: a published vector from Adyen's Node library, codec round
//! trips, and the whole check against a fake terminal that speaks the protected protocol (the
//! nexo simulator has no shared-key support).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{FakeTerminal, about, assert_well_formed, number_of, verdict};
use posdiag_core::nexo::http;
use posdiag_core::nexo::{
    DiagnosisResponse, GlobalStatus, POIStatus, RequestBody, Response, ResponseBody,
    SaleToPOIRequest, SaleToPOIResponse,
};
use posdiag_plugin_api::pb::Verdict;
use posdiag_plugin_api::sdk::Host;
use posdiag_plugin_nexo::diagnosis;
use posdiag_plugin_nexo::shared_key::{Sealed, SharedKey, SharedKeyError};

/// Adyen/adyen-node-api-library, cloud device API spec, test "should decrypt event
/// notification": an event notification a terminal encrypted with passphrase "ncrpass",
/// KeyIdentifier "ncrkey", KeyVersion 1.
const VECTOR_NONCE: &str = "Be6rAx+vRju2aCHwPh6lrg==";
const VECTOR_HMAC: &str = "LG8A9Re1M8xLMr7rDUk0NwsnvAOX+VLjHv9sPHWTl34=";
const VECTOR_BLOB: &str = "x2DY8J2M9ZCyjOZ8Gt7JdLBA/6bT/KXvvAbJf9kzguqO8dWp1I1pPLQpLstpdIiAVqSwG3PR0PrP/lF82UmhmCnUJGCuEXilqvBNF1tF/yEgnFOklNc1myR2IPW/+2oZOWKFXlTo/gX89EbODXOOGUqaJfSdpDhlqjyMz7mGczobTPvPGqCVx2BDHU8VTxI9nicwQv+QV48GqVZzxnP8ZOdQOQ5cac+bcS0Y3l7SmWpIoQsoicnjahTY9ICosLJmN4DvDHsN4Kh2DAetFO5b9I9Lqgm/dvnXUVhb9tPbM7Pn+ratjYpaNbonbO5M+Tm8rDEIyKoUUuFXPWISymrCXtCDVKEb2B5S5pilUmokrXVa9Ldtsv3BKG7rbrglYEuql4WVs6kzr6ybgAKh1Q0LsAXEve3pydt72ay4U3FOJSBxJ3gNqmnG8mVW2HCXQVo1RgVaZmP5TBWYuksCKXYypnMulu1PlRI++oeW/J2qjQU=";

fn vector_message() -> String {
    format!(
        r#"{{"SaleToPOIRequest": {{
            "SecurityTrailer": {{"AdyenCryptoVersion": 1, "Nonce": "{VECTOR_NONCE}", "KeyIdentifier": "ncrkey", "Hmac": "{VECTOR_HMAC}", "KeyVersion": 1}},
            "NexoBlob": "{VECTOR_BLOB}",
            "MessageHeader": {{"ProtocolVersion": "3.0", "SaleID": "null", "MessageClass": "Event", "MessageCategory": "Event",
                "POIID": "P400Plus-275102806", "MessageType": "Notification", "DeviceID": "5"}}
        }}}}"#
    )
}

#[test]
fn adyen_published_vector_decrypts_and_reencrypts_bit_for_bit() {
    let key = SharedKey::derive("ncrpass", "ncrkey", 1);
    let plain = key
        .unprotect_message(vector_message().as_bytes())
        .unwrap()
        .expect("the vector is protected");
    let got: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    let want = serde_json::json!({"SaleToPOIRequest": {
        "EventNotification": {
            "EventDetails": "reference_id=9876",
            "TimeStamp": "2020-11-13T09:02:35.697Z",
            "EventToNotify": "SaleWakeUp"
        },
        "MessageHeader": {
            "ProtocolVersion": "3.0", "SaleID": "null", "MessageClass": "Event",
            "MessageCategory": "Event", "POIID": "P400Plus-275102806",
            "MessageType": "Notification", "DeviceID": "5"
        }
    }});
    assert_eq!(got, want);
    // The encrypting side, with the vector's nonce, reproduces the terminal's blob and HMAC.
    let nonce: [u8; 16] = B64.decode(VECTOR_NONCE).unwrap().try_into().unwrap();
    let sealed = key.seal_with_nonce(&plain, nonce);
    assert_eq!(B64.encode(&sealed.blob), VECTOR_BLOB);
    assert_eq!(B64.encode(sealed.hmac), VECTOR_HMAC);
}

#[test]
fn the_vector_with_another_passphrase_or_a_flipped_bit_fails_authentication() {
    let wrong = SharedKey::derive("ncrpass2", "ncrkey", 1);
    assert_eq!(
        wrong.unprotect_message(vector_message().as_bytes()),
        Err(SharedKeyError::Authentication)
    );
    let key = SharedKey::derive("ncrpass", "ncrkey", 1);
    let tampered = vector_message().replace(VECTOR_HMAC, &B64.encode([0u8; 32]));
    assert_eq!(
        key.unprotect_message(tampered.as_bytes()),
        Err(SharedKeyError::Authentication)
    );
}

#[test]
fn round_trips_with_fresh_nonces() {
    let key = SharedKey::derive("p@ssw0rd123456", "CryptoKeyIdentifier12345", 1);
    for len in [0usize, 1, 15, 16, 17, 300] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let a = key.seal(&plain).unwrap();
        let b = key.seal(&plain).unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.blob, b.blob);
        assert_eq!(a.blob.len(), (len / 16 + 1) * 16);
        assert_eq!(key.open(&a).unwrap(), plain);
        let mut bad = a.clone();
        bad.nonce[0] ^= 1;
        assert_eq!(key.open(&bad), Err(SharedKeyError::Authentication));
        let truncated = Sealed {
            blob: a.blob[..a.blob.len() - 1].to_vec(),
            ..a
        };
        assert_eq!(key.open(&truncated), Err(SharedKeyError::Authentication));
    }
    let message =
        br#"{"SaleToPOIRequest":{"MessageHeader":{"POIID":"V400m-1"},"DiagnosisRequest":{}}}"#;
    let protected = key.protect_message(message).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&protected).unwrap();
    let inner = &v["SaleToPOIRequest"];
    assert_eq!(inner["MessageHeader"]["POIID"], "V400m-1");
    assert!(
        inner.get("DiagnosisRequest").is_none(),
        "the body travels encrypted"
    );
    assert_eq!(
        inner["SecurityTrailer"]["KeyIdentifier"],
        "CryptoKeyIdentifier12345"
    );
    assert_eq!(inner["SecurityTrailer"]["KeyVersion"], 1);
    assert_eq!(inner["SecurityTrailer"]["AdyenCryptoVersion"], 1);
    assert_eq!(key.unprotect_message(&protected).unwrap().unwrap(), message);
}

/// A terminal holding `terminal_key`: decrypts the request and answers a healthy diagnosis
/// protected with the same key.
fn protected_terminal(terminal_key: SharedKey) -> FakeTerminal {
    FakeTerminal::new(move |request| {
        let plain = terminal_key
            .unprotect_message(&request.body)
            .expect("the plugin's request verifies with the terminal's key")
            .expect("the plugin protected its request");
        let request = SaleToPOIRequest::parse(&plain).unwrap();
        assert!(matches!(request.body, RequestBody::Diagnosis(_)));
        let response = SaleToPOIResponse {
            header: request.header.to_response(),
            body: ResponseBody::Diagnosis(DiagnosisResponse {
                response: Response {
                    additional_response: Some("batteryLevel=55%25&firmwareVersion=x".into()),
                    ..Response::success()
                },
                logged_sale_ids: Vec::new(),
                poi_status: Some(POIStatus::new(GlobalStatus::Ok)),
                host_status: Vec::new(),
            }),
        };
        let body = terminal_key.protect_message(&response.encode()).unwrap();
        http::response(200, "OK", "application/json", &body)
    })
}

fn key_args() -> Vec<(String, String)> {
    [
        ("tls", "false"),
        ("key_passphrase", "p@ssw0rd123456"),
        ("key_identifier", "CryptoKeyIdentifier12345"),
        ("key_version", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect()
}

#[test]
fn a_protected_diagnosis_round_trip() {
    let terminal = protected_terminal(SharedKey::derive(
        "p@ssw0rd123456",
        "CryptoKeyIdentifier12345",
        1,
    ));
    let requests = terminal.requests.clone();
    let host = Host::from_backend(terminal);
    let f = diagnosis::run(&host, &common::request("tcp:192.0.2.10:8443", key_args()))
        .unwrap()
        .findings;
    assert_well_formed(&f);
    let t = about(&f, "terminal T1");
    assert_eq!(verdict(t), (Verdict::Ok, "ok"));
    assert_eq!(number_of(t, "battery_level"), Some(55.0));
    let sent = &requests.borrow()[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert!(body["SaleToPOIRequest"]["NexoBlob"].is_string());
}

#[test]
fn an_answer_under_another_key_fails_message_authentication() {
    // The terminal decrypts with the right key but answers under a different passphrase
    // (same identifiers): the plugin must not trust that answer.
    let right = SharedKey::derive("p@ssw0rd123456", "CryptoKeyIdentifier12345", 1);
    let wrong = SharedKey::derive("other", "CryptoKeyIdentifier12345", 1);
    let terminal = FakeTerminal::new(move |request| {
        let plain = right.unprotect_message(&request.body).unwrap().unwrap();
        let request = SaleToPOIRequest::parse(&plain).unwrap();
        let response = SaleToPOIResponse::failure(
            &request.header,
            "DiagnosisRequest",
            posdiag_core::nexo::ErrorCondition::Busy,
            None,
        );
        let body = wrong.protect_message(&response.encode()).unwrap();
        http::response(200, "OK", "application/json", &body)
    });
    let host = Host::from_backend(terminal);
    let f = diagnosis::run(&host, &common::request("tcp:192.0.2.10:8443", key_args()))
        .unwrap()
        .findings;
    assert_eq!(f.len(), 1);
    assert_eq!(verdict(&f[0]), (Verdict::Critical, "link.protocol"));
    assert!(f[0].summary_en.contains("message authentication failed"));
}
