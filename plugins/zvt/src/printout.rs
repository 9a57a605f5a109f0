//! What a terminal prints through the ECR during a command — `06 D1` print lines and `06 D3`
//! text blocks (TLV `25` holding `07` lines) — read for EMV data. ZVT's messages carry no
//! TVR, TSI or CVM results (the status information `04 0F` has the result code, masked card
//! data, the card type and the AID, nothing of the EMV kernel's); a receipt printed through
//! the ECR can, as text ("TVR: 0000008000", "ARC Z3"). Those lines go through posdiag-emv's
//! receipt parser, and the explanation joins the check's finding in both languages.

use posdiag_core::mask_card_numbers;
use posdiag_core::zvt::Packet;
use posdiag_core::zvt::tlv::TlvList;
use posdiag_emv::receipt;
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::evidence_text;

/// At most this many lines are kept (a diagnosis printout is a few dozen; the system
/// configuration printout about 120).
const MAX_LINES: usize = 400;
/// At most this many causes are named in the evidence.
const MAX_CAUSES: usize = 5;

/// The text printed during one command.
#[derive(Debug, Default)]
pub struct Printout {
    lines: Vec<String>,
}

impl Printout {
    /// Keeps the text of a print line or text block; other packets are ignored.
    pub fn watch(&mut self, packet: &Packet) {
        match packet {
            Packet::PrintLine(p) => self.push(&p.text),
            Packet::PrintTextBlock(bmps) => {
                if let Some(tlv) = bmps.tlv() {
                    self.text_lines(tlv);
                }
            }
            _ => {}
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.lines.len() < MAX_LINES {
            self.lines.push(String::from_utf8_lossy(bytes).into_owned());
        }
    }

    /// Every `07` (text line) at any depth, in order.
    fn text_lines(&mut self, list: &TlvList) {
        for t in list.iter() {
            if t.tag.0 == 0x07
                && let Some(bytes) = t.bytes()
            {
                self.push(bytes);
            }
            if let Some(children) = t.children() {
                self.text_lines(children);
            }
        }
    }

    /// How many lines were printed.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether nothing was printed.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Adds what the printout's EMV data says to `finding`: evidence `printout_lines`, and
    /// when it holds EMV values, `emv_receipt` (each value with its line), `emv_causes` (the
    /// rule ids, most likely first), the most likely cause appended to the summary in both
    /// languages, and its remedies after the finding's own. Card numbers on the printout are
    /// never read, and what is added is masked.
    pub fn annotate(&self, finding: &mut pb::Finding) {
        if self.lines.is_empty() {
            return;
        }
        finding.evidence.push(pb::Evidence {
            name: "printout_lines".into(),
            value: Some(pb::evidence::Value::Number(self.lines.len() as f64)),
            unit: String::new(),
        });
        let Ok(read) = receipt::parse(&self.lines.join("\n")) else {
            return;
        };
        let Ok(decoded) = read.decode() else {
            return;
        };
        let found: Vec<String> = read
            .found
            .iter()
            .map(|f| format!("line {} {} {}", f.line, f.field.name(), f.value))
            .collect();
        finding.evidence.push(evidence_text(
            "emv_receipt",
            &mask_card_numbers(&found.join("; ")),
        ));
        let x = posdiag_emv::explain(&decoded);
        let ids: Vec<&str> = x
            .causes
            .iter()
            .take(MAX_CAUSES)
            .map(|c| c.id.as_str())
            .collect();
        finding
            .evidence
            .push(evidence_text("emv_causes", &ids.join(", ")));
        match x.causes.first().filter(|_| x.has_problems()) {
            Some(top) => {
                finding.summary_en.push_str(&format!(
                    "; the terminal's printout has EMV data: {}",
                    mask_card_numbers(&top.cause.en)
                ));
                finding.summary_zh.push_str(&format!(
                    "；终端打印的单据含 EMV 数据：{}",
                    mask_card_numbers(&top.cause.zh)
                ));
                finding
                    .remedies
                    .extend(top.remedies.iter().map(|r| pb::Remedy {
                        actor: crate::common::actor(r.actor).into(),
                        text_en: r.text.en.clone(),
                        text_zh: r.text.zh.clone(),
                    }));
            }
            None => {
                finding
                    .summary_en
                    .push_str("; the terminal's printout has EMV data, and it shows no problem");
                finding
                    .summary_zh
                    .push_str("；终端打印的单据含 EMV 数据，未显示问题");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use posdiag_core::zvt::bmp::{Bmp, BmpList};
    use posdiag_core::zvt::packets::PrintLine;
    use posdiag_core::zvt::tlv::Tlv;

    fn line(text: &str) -> Packet {
        Packet::PrintLine(PrintLine {
            attribute: 0,
            text: text.as_bytes().to_vec(),
        })
    }

    fn finding() -> pb::Finding {
        pb::Finding {
            summary_en: "the terminal reached its payment host".into(),
            summary_zh: "终端已连通其支付主机".into(),
            ..Default::default()
        }
    }

    fn evidence<'a>(f: &'a pb::Finding, name: &str) -> Option<&'a str> {
        f.evidence
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| match &e.value {
                Some(pb::evidence::Value::Text(t)) => Some(t.as_str()),
                _ => None,
            })
    }

    #[test]
    fn print_lines_with_emv_data_join_the_finding_in_both_languages() {
        let mut p = Printout::default();
        for l in [
            "KARTE 4111111111111111",
            "TVR 0000008000",
            "TSI E800",
            "ARC Z3",
        ] {
            p.watch(&line(l));
        }
        let mut f = finding();
        p.annotate(&mut f);
        assert_eq!(
            evidence(&f, "emv_receipt"),
            Some("line 2 tvr 0000008000; line 3 tsi E800; line 4 arc Z3")
        );
        assert!(evidence(&f, "emv_causes").unwrap().starts_with("arc.z3"));
        assert!(
            f.summary_en
                .contains("printout has EMV data: The terminal could not reach the host (Z3"),
            "{}",
            f.summary_en
        );
        assert!(f.summary_zh.contains("无法联机"), "{}", f.summary_zh);
        assert!(!f.remedies.is_empty());
        assert!(!format!("{f:?}").contains("4111111111111111"));
    }

    #[test]
    fn a_text_block_is_read_and_a_printout_without_emv_data_only_counted() {
        let block =
            Packet::PrintTextBlock(BmpList(vec![Bmp::tlv(TlvList(vec![Tlv::constructed(
                0x25,
                vec![
                    Tlv::primitive(0x07, b"AID A0000000031010".to_vec()),
                    Tlv::primitive(0x07, b"TVR 0000000000".to_vec()),
                ],
            )]))]));
        let mut p = Printout::default();
        p.watch(&block);
        assert_eq!(p.len(), 2);
        let mut f = finding();
        p.annotate(&mut f);
        assert!(
            f.summary_en.ends_with("it shows no problem"),
            "{}",
            f.summary_en
        );

        let mut p = Printout::default();
        p.watch(&line("DIAGNOSE OK"));
        let mut f = finding();
        p.annotate(&mut f);
        assert_eq!(f.summary_en, finding().summary_en);
        assert!(f.evidence.iter().any(|e| e.name == "printout_lines"));
    }
}
