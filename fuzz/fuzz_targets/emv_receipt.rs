//! Fuzzes the receipt-text parser and what follows it: no panic, every
//! value found decodes (the parser checked its form), and no line shown
//! back holds a run of 12 or more digits (a card number) unmasked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_emv::receipt;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = receipt::parse(&text) {
        let d = r.decode().expect("values the parser accepted decode");
        let _ = posdiag_emv::explain(&d).has_problems();
        for shown in r.found.iter().map(|f| &f.text).chain(r.ignored.iter().map(|i| &i.text)) {
            assert_eq!(&posdiag_core::mask_card_numbers(shown), shown);
        }
    }
});
