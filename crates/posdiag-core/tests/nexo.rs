//! nexo codec against published messages: Adyen's documented DiagnosisResponse and its
//! library fixture decode to their documented meaning, built messages round-trip, malformed
//! ones give errors naming the field, and the HTTP helper reassembles any chunking.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use posdiag_core::nexo::http::{HttpLimits, HttpParser, StartLine, post_request, response};
use posdiag_core::nexo::{
    AdditionalResponse, DiagnosisRequest, DiagnosisResponse, ErrorCondition, GlobalStatus,
    HostStatus, MessageCategory, MessageHeader, MessageType, NexoError, POIStatus, PrinterStatus,
    RequestBody, Response, ResponseBody, ResultCode, SaleToPOIRequest, SaleToPOIResponse,
};
use proptest::prelude::*;

const DOCS: &str = include_str!("fixtures/nexo/diagnosis-response-adyen-docs.json");
const LIBRARY: &str = include_str!("fixtures/nexo/diagnosis-response-adyen-library.json");
const REQUEST: &str = include_str!("fixtures/nexo/diagnosis-request.json");

fn diagnosis(response: &SaleToPOIResponse) -> &DiagnosisResponse {
    match &response.body {
        ResponseBody::Diagnosis(d) => d,
        other => panic!("not a diagnosis: {other:?}"),
    }
}

#[test]
fn adyen_docs_response_decodes_to_its_documented_meaning() {
    let r = SaleToPOIResponse::parse(DOCS.as_bytes()).unwrap();
    assert_eq!(r.header.message_type, MessageType::Response);
    assert_eq!(r.header.message_category, MessageCategory::Diagnosis);
    assert_eq!(r.header.service_id, "0403104626");
    assert_eq!(r.header.sale_id, "POSSystemID12345");
    assert_eq!(r.header.poi_id, "V400m-346403161");
    assert_eq!(r.header.protocol_version.as_deref(), Some("3.0"));
    let d = diagnosis(&r);
    assert_eq!(d.response.result, ResultCode::Success);
    assert_eq!(d.response.error_condition, None);
    let poi = d.poi_status.as_ref().unwrap();
    assert_eq!(poi.global_status, GlobalStatus::Ok);
    assert_eq!(poi.communication_ok, Some(true));
    assert_eq!(poi.card_reader_ok, None, "absent means no such component");
    assert_eq!(poi.printer_status, Some(PrinterStatus::Ok));
    assert_eq!(
        d.host_status,
        [HostStatus {
            acquirer_id: "0".to_owned(),
            is_reachable: true
        }]
    );

    let extra = d.response.additional();
    assert_eq!(extra.battery_level(), Some(100));
    assert_eq!(extra.firmware_version(), Some("adyen_v1_49p5"));
    assert_eq!(extra.unconfirmed_batch_count(), Some(0));
    assert_eq!(extra.terminal_id(), Some("V400m-346403161"));
    assert_eq!(extra.get("merchantAccount"), Some("ADYEN_MERCHANT_ACCOUNT"));
    assert_eq!(extra.get("storeId"), Some("YOUR_STORE"));
    assert_eq!(extra.pairs().len(), 7);
    let profile = extra.network_profile().unwrap().unwrap();
    assert_eq!(profile.interfaces.len(), 1);
    assert_eq!(profile.interfaces[0].name.as_deref(), Some("wlan0"));
    assert_eq!(
        profile.interfaces[0].address.as_deref(),
        Some("192.168.2.2")
    );

    // Encoding and decoding again keeps the meaning.
    assert_eq!(SaleToPOIResponse::parse(&r.encode()).unwrap(), r);
}

#[test]
fn wrapperless_library_fixture_is_accepted() {
    let r = SaleToPOIResponse::parse(LIBRARY.as_bytes()).unwrap();
    assert_eq!(r.header.service_id, "0207111617");
    let d = diagnosis(&r);
    assert_eq!(d.logged_sale_ids, ["sale-1", "sale-2"]);
    assert_eq!(
        d.poi_status.as_ref().unwrap().global_status,
        GlobalStatus::Ok
    );
    assert!(d.host_status.is_empty());
}

#[test]
fn request_vector_and_a_built_request_agree() {
    let parsed = SaleToPOIRequest::parse(REQUEST.as_bytes()).unwrap();
    let header =
        MessageHeader::diagnosis_request("POSSystemID12345", "0403104626", "V400m-346403161");
    let built = SaleToPOIRequest::diagnosis(
        header,
        DiagnosisRequest {
            host_diagnosis: true,
            ..DiagnosisRequest::default()
        },
    );
    assert_eq!(parsed, built);
    assert_eq!(SaleToPOIRequest::parse(&built.encode()).unwrap(), built);
    let with_acquirers = SaleToPOIRequest::diagnosis(
        built.header.clone(),
        DiagnosisRequest {
            poi_id: Some("V400m-346403161".to_owned()),
            host_diagnosis: true,
            acquirer_ids: vec!["0".to_owned(), "acq-2".to_owned()],
        },
    );
    assert_eq!(
        SaleToPOIRequest::parse(&with_acquirers.encode()).unwrap(),
        with_acquirers
    );
}

#[test]
fn unknown_enumeration_values_are_kept_as_text() {
    let text = DOCS
        .replace("\"GlobalStatus\": \"OK\"", "\"GlobalStatus\": \"Sleeping\"")
        .replace(
            "\"PrinterStatus\": \"OK\"",
            "\"PrinterStatus\": \"CoverOpen\"",
        )
        .replace(
            "\"Result\": \"Success\"",
            "\"Result\": \"Failure\", \"ErrorCondition\": \"Overheated\"",
        );
    let r = SaleToPOIResponse::parse(text.as_bytes()).unwrap();
    let d = diagnosis(&r);
    let poi = d.poi_status.as_ref().unwrap();
    assert_eq!(
        poi.global_status,
        GlobalStatus::Other("Sleeping".to_owned())
    );
    assert_eq!(poi.printer_status.as_ref().unwrap().as_str(), "CoverOpen");
    assert_eq!(
        d.response.error_condition,
        Some(ErrorCondition::Other("Overheated".to_owned()))
    );
    assert!(SaleToPOIResponse::parse(&r.encode()).unwrap() == r);
}

#[test]
fn built_responses_round_trip() {
    let request = SaleToPOIRequest::parse(REQUEST.as_bytes()).unwrap();
    let extra = AdditionalResponse::from_pairs([
        ("batteryLevel", "42%"),
        ("firmwareVersion", "sim 1.0"),
        ("unconfirmedBatchCount", "3"),
    ]);
    let response = SaleToPOIResponse {
        header: request.header.to_response(),
        body: ResponseBody::Diagnosis(DiagnosisResponse {
            response: Response {
                additional_response: Some(extra.encode()),
                ..Response::success()
            },
            logged_sale_ids: vec![],
            poi_status: Some(POIStatus {
                card_reader_ok: Some(false),
                ped_ok: Some(true),
                security_ok: Some(true),
                fraud_prevention: Some(false),
                printer_status: Some(PrinterStatus::PaperLow),
                ..POIStatus::new(GlobalStatus::Busy)
            }),
            host_status: vec![HostStatus {
                acquirer_id: "acq-1".to_owned(),
                is_reachable: false,
            }],
        }),
    };
    let again = SaleToPOIResponse::parse(&response.encode()).unwrap();
    assert_eq!(again, response);
    let extra = again.response().unwrap().additional();
    assert_eq!(extra.battery_level(), Some(42));
    assert_eq!(extra.firmware_version(), Some("sim 1.0"));
    assert_eq!(extra.unconfirmed_batch_count(), Some(3));

    // The generic failure for a request the terminal does not serve.
    let payment = SaleToPOIResponse::failure(
        &request.header,
        "PaymentRequest",
        ErrorCondition::NotAllowed,
        Some("not supported"),
    );
    let parsed = SaleToPOIResponse::parse(&payment.encode()).unwrap();
    assert_eq!(parsed.body.name(), "PaymentResponse");
    let r = parsed.response().unwrap();
    assert_eq!(r.result, ResultCode::Failure);
    assert_eq!(r.error_condition, Some(ErrorCondition::NotAllowed));
    assert_eq!(r.additional().get("message"), Some("not supported"));
    assert_eq!(parsed.header.message_type, MessageType::Response);
}

#[test]
fn malformed_messages_name_the_field() {
    let cases: [(&str, &str); 9] = [
        ("{\"SaleToPOIResponse\": ", "malformed json"),
        ("[1]", "expected a SaleToPOIResponse object, found an array"),
        (
            "{\"SaleToPOIRequest\": {}}",
            "expected a SaleToPOIResponse object, found an object with SaleToPOIRequest",
        ),
        (
            "{\"SaleToPOIResponse\": {\"DiagnosisResponse\": {}}}",
            "missing field SaleToPOIResponse.MessageHeader",
        ),
        (
            &DOCS.replace("\"ServiceID\": \"0403104626\",", ""),
            "missing field SaleToPOIResponse.MessageHeader.ServiceID",
        ),
        (
            &DOCS.replace("\"Result\": \"Success\",", ""),
            "missing field SaleToPOIResponse.DiagnosisResponse.Response.Result",
        ),
        (
            &DOCS.replace(
                "\"CommunicationOKFlag\": true",
                "\"CommunicationOKFlag\": 1",
            ),
            "field SaleToPOIResponse.DiagnosisResponse.POIStatus.CommunicationOKFlag must be a boolean",
        ),
        (
            &DOCS.replace("\"AcquirerID\": \"0\"", "\"Acquirer\": \"0\""),
            "missing field SaleToPOIResponse.DiagnosisResponse.HostStatus[0].AcquirerID",
        ),
        (
            "{\"SaleToPOIResponse\": {\"MessageHeader\": {}, \"NexoBlob\": \"x\"}}",
            "missing field SaleToPOIResponse.MessageHeader.MessageClass",
        ),
    ];
    for (text, message) in cases {
        let error = SaleToPOIResponse::parse(text.as_bytes()).unwrap_err();
        assert!(
            error.to_string().starts_with(message),
            "{error} does not start with {message}"
        );
    }
    let header = "\"MessageHeader\": {\"MessageClass\": \"Service\", \"MessageCategory\": \"Diagnosis\", \"MessageType\": \"Response\", \"ServiceID\": \"1\", \"SaleID\": \"s\", \"POIID\": \"p\"}";
    let no_body = format!("{{\"SaleToPOIResponse\": {{{header}}}}}");
    assert!(matches!(
        SaleToPOIResponse::parse(no_body.as_bytes()),
        Err(NexoError::MissingBody { .. })
    ));
    let encrypted = format!("{{\"SaleToPOIResponse\": {{{header}, \"NexoBlob\": \"x\"}}}}");
    assert!(matches!(
        SaleToPOIResponse::parse(encrypted.as_bytes()),
        Err(NexoError::Encrypted { .. })
    ));
    let unknown = REQUEST.replace("DiagnosisRequest", "PaymentRequest");
    let parsed = SaleToPOIRequest::parse(unknown.as_bytes()).unwrap();
    assert!(matches!(parsed.body, RequestBody::Other { ref name, .. } if name == "PaymentRequest"));
}

/// Encodes `body` chunked with the given chunk sizes (cycled).
fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        out.extend(format!("{n:x}\r\n").as_bytes());
        out.extend(&rest[..n]);
        out.extend(b"\r\n");
        rest = &rest[n..];
        i += 1;
    }
    out.extend(b"0\r\n\r\n");
    out
}

fn feed(parser: &mut HttpParser, wire: &[u8], split: usize) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for piece in wire.chunks(split.max(1)) {
        parser.push(piece);
        while let Some(m) = parser.next_message().unwrap() {
            bodies.push(m.body);
        }
    }
    bodies
}

proptest! {
    #[test]
    fn additional_response_round_trips(
        pairs in prop::collection::vec(("[a-zA-Z0-9 %&=+._~-]{1,12}", "\\PC{0,16}"), 0..8)
    ) {
        let a = AdditionalResponse::from_pairs(pairs.clone());
        let back = AdditionalResponse::parse(&a.encode());
        prop_assert_eq!(back.pairs(), a.pairs());
    }

    #[test]
    fn http_bodies_survive_any_chunking_and_split(
        body in prop::collection::vec(any::<u8>(), 0..600),
        sizes in prop::collection::vec(1_usize..100, 1..5),
        split in 1_usize..64,
    ) {
        let limits = HttpLimits::default();
        let mut wire = chunked(&body, &sizes);
        wire.extend(response(500, "Internal Server Error", "text/plain", &body));
        let mut parser = HttpParser::response(limits);
        let bodies = feed(&mut parser, &wire, split);
        prop_assert_eq!(bodies, vec![body.clone(), body.clone()]);
        prop_assert_eq!(parser.finish().unwrap(), None);

        let request = post_request("127.0.0.1:8443", "/nexo", &[], &body);
        let mut parser = HttpParser::request(limits);
        prop_assert_eq!(feed(&mut parser, &[request.clone(), request].concat(), split), vec![body.clone(), body]);
    }

    #[test]
    fn http_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let limits = HttpLimits { max_head_bytes: 128, max_body_bytes: 128 };
        for mut parser in [HttpParser::response(limits), HttpParser::request(limits)] {
            parser.push(&bytes);
            while let Ok(Some(_)) = parser.next_message() {}
            let _ = parser.finish();
        }
        let _ = SaleToPOIResponse::parse(&bytes);
        let _ = SaleToPOIRequest::parse(&bytes);
    }
}

#[test]
fn status_line_and_headers_are_exposed() {
    let mut parser = HttpParser::response(HttpLimits::default());
    parser.push(&response(200, "OK", "application/json", DOCS.as_bytes()));
    let m = parser.next_message().unwrap().unwrap();
    assert_eq!(
        m.start,
        StartLine::Response {
            status: 200,
            reason: "OK".to_owned()
        }
    );
    assert_eq!(m.header("content-type"), Some("application/json"));
    assert!(SaleToPOIResponse::parse(&m.body).is_ok());
}
