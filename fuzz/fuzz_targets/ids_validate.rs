//! Fuzzes customer-ID validation on any bytes, under `auto` and every
//! kind: no panic; the batch paths (`check_display`, `check_failing`, the
//! audit's) give `validate()`'s verdict and shown value; the sentences,
//! built only when asked, render; and neither the shown value nor a
//! sentence holds a card number's run of digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::mask_card_numbers;
use posdiag_ids::{Kind, KindSel, check_display, check_failing, validate};

fuzz_target!(|data: &[u8]| {
    let mut display = String::new();
    let mut bytes = Vec::new();
    let sels = std::iter::once(KindSel::Auto).chain(Kind::ALL.iter().map(|&k| KindSel::Kind(k)));
    for sel in sels {
        let v = validate(data, sel, None);
        assert_eq!(v.valid, v.reason.is_none(), "{sel}");
        let fast = check_display(data, sel, None, &mut display);
        assert_eq!((fast.err(), display.as_str()), (v.reason, v.display.as_str()), "{sel}");
        let failing = check_failing(data, sel, None, &mut bytes);
        let shown = if v.valid { "" } else { v.display.as_str() };
        assert_eq!((failing, &bytes[..]), (v.reason, shown.as_bytes()), "{sel}");
        assert_eq!(mask_card_numbers(&v.display), v.display, "{sel}");
        let texts = v.texts();
        let all = [&texts.message, &texts.expected, &texts.suggestion]
            .into_iter()
            .chain(&texts.notes);
        for t in all {
            for s in [&t.en, &t.zh] {
                assert_eq!(&mask_card_numbers(s), s, "{sel}");
            }
        }
    }
});
