//! Fuzzes nexo Sale-to-POI parsing: no panic, and whatever parses re-encodes to JSON that
//! parses to the same message; AdditionalResponse decoding of any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::nexo::{AdditionalResponse, SaleToPOIRequest, SaleToPOIResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = SaleToPOIResponse::parse(data) {
        assert_eq!(
            SaleToPOIResponse::parse(&response.encode()).ok(),
            Some(response.clone())
        );
        if let Some(r) = response.response() {
            let extra = r.additional();
            let _ = extra.network_profile();
            let _ = extra.battery_level();
        }
    }
    if let Ok(request) = SaleToPOIRequest::parse(data) {
        assert_eq!(
            SaleToPOIRequest::parse(&request.encode()).ok(),
            Some(request)
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let a = AdditionalResponse::parse(text);
        assert_eq!(AdditionalResponse::parse(&a.encode()), a);
    }
});
