//! `reader.read_card`: a read card `06 C0` asks the operator to present a card and reports
//! what the reader made of it: status information `04 0F` with result `00` and card data, or
//! the result code of a failed read (`06 1E`, or a non-zero BMP `27`).
//!
//! The terminal waits `args["timeout_s"]` seconds (default 15, 1..=60) for the card and then
//! ends the command itself with result `6C`. Our own timer fires a little later, or earlier
//! when the check's budget would not last that long: then we send an abort `06 B0` and wait
//! for the terminal's `06 1E`, so the link is left clean for the next check.
//!
//! Card data is cardholder data: only the masked PAN (first six and last four digits, via
//! [`CardNumber::masked`]) is reported, as evidence; track data and the expiry date never
//! leave this module; contactless UID, ATS, ATQA and SAK identify the chip, not the account,
//! and go into evidence (never into summaries).
//!
//! [`CardNumber::masked`]: posdiag_core::zvt::CardNumber::masked

use std::time::{Duration, Instant};

use posdiag_codes::Scheme;
use posdiag_core::Text;
use posdiag_core::zvt::bmp::BmpList;
use posdiag_core::zvt::packets::{ReadCard, StatusInformation};
use posdiag_core::zvt::{CommandEnd, CommandOutcome, Packet};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, PluginError, evidence_number, evidence_text, ms, remedy};
use posdiag_zvt_driver::CommandOptions;

use crate::common::{Ctx, abort_evidence, evidence_hex, hex, meaning, terminal_text};

/// Check id.
pub const CHECK_ID: &str = "reader.read_card";

const PHASE: &str = "read_card";
/// What the command is called in findings.
fn what() -> Text {
    Text::new("read card command", "读卡命令")
}

/// Seconds the terminal waits for a card when `args["timeout_s"]` is absent.
pub const DEFAULT_CARD_TIMEOUT_S: u8 = 15;
/// The largest `args["timeout_s"]`.
pub const MAX_CARD_TIMEOUT_S: u8 = 60;
/// How long after the terminal's own card timeout we abort: it should end the command itself.
const GRACE: Duration = Duration::from_secs(2);
/// Budget kept for the abort's round trip (ACK, `06 1E`, our ACK).
const ABORT_RESERVE: Duration = Duration::from_millis(1500);
/// Result code "abort via timeout or abort key".
const RESULT_ABORTED: u8 = 0x6C;

/// `args["timeout_s"]`: whole seconds, 1..=60.
pub fn card_timeout(req: &pb::CheckRequest) -> Result<u8, PluginError> {
    let Some(text) = req.args.get("timeout_s") else {
        return Ok(DEFAULT_CARD_TIMEOUT_S);
    };
    match text.trim().parse::<u8>() {
        Ok(s) if (1..=MAX_CARD_TIMEOUT_S).contains(&s) => Ok(s),
        _ => Err(PluginError::invalid(format!(
            "args.timeout_s: {text:?} is not a whole number of seconds from 1 to {MAX_CARD_TIMEOUT_S}"
        ))),
    }
}

/// Runs the check.
pub fn run(
    host: &Host,
    req: &pb::CheckRequest,
    _password: [u8; 3],
) -> Result<pb::CheckResult, PluginError> {
    let card_timeout = card_timeout(req)?;
    let mut ctx = Ctx::new(host, CHECK_ID, req)?;
    let started = Instant::now();
    host.phase_started(PHASE, &ctx.subject);
    // Only the timeout: no card-type or dialog restrictions, so any card the terminal
    // accepts is read and the terminal shows its own prompt.
    let command = Packet::ReadCard(ReadCard {
        timeout_secs: Some(card_timeout),
        bmps: BmpList::default(),
    })
    .to_apdu()
    .map_err(|e| PluginError::failed(format!("encoding the read card: {e}")))?;
    let ours = started + Duration::from_secs(u64::from(card_timeout)) + GRACE;
    let budget_left = ctx
        .driver
        .deadline()
        .checked_sub(ABORT_RESERVE)
        .unwrap_or(started);
    let abort_at = ours.min(budget_left).max(started);
    let options = CommandOptions {
        session: ctx.driver.session_config(),
        abort_at: Some(abort_at),
    };
    let subject = ctx.subject.clone();
    host.phase_started("present a card", &subject);
    let mut watch = |p: &Packet| {
        if let Packet::IntermediateStatus(s) = p {
            let m = meaning(&Scheme::ZvtIntermediate, s.status);
            host.phase_started(
                &format!("terminal status {:02X}: {}", s.status, m.en),
                &subject,
            );
        }
    };
    let result = ctx.driver.run(&command, options, &mut watch);
    let waited = started.elapsed();
    let mut finding = match result {
        Ok(outcome) => judge(&ctx, &outcome, waited),
        Err(broken) => ctx.broken(&what(), &broken)?,
    };
    finding.evidence.push(evidence_number(
        "card_timeout",
        f64::from(card_timeout),
        "s",
    ));
    if ctx.driver.sent_abort() {
        finding
            .evidence
            .push(evidence_text("aborted_by", "posdiag"));
    }
    ctx.finish(PHASE, started, finding)
}

/// The status information of the outcome, if any.
fn status_information(outcome: &CommandOutcome) -> Option<&StatusInformation> {
    outcome.packets().find_map(|p| match p {
        Packet::StatusInformation(s) => Some(s),
        _ => None,
    })
}

fn judge(ctx: &Ctx<'_>, outcome: &CommandOutcome, waited: Duration) -> pb::Finding {
    let info = status_information(outcome);
    let failed = match outcome.end {
        CommandEnd::Aborted { result_code } => Some(result_code),
        // A completion after a non-zero result in the status information is still a failure.
        CommandEnd::Completed => info
            .and_then(StatusInformation::result_code)
            .filter(|&c| c != 0),
        _ => return ctx.unexpected_end(&what(), outcome),
    };
    match (failed, info) {
        (Some(code), _) => failure(ctx, outcome, code, waited),
        (None, Some(info)) => card_read(ctx, info),
        (None, None) => {
            let mut f = ctx.finding(
                pb::Verdict::Warning,
                "reader.no_card_data",
                "the terminal completed the read card without sending card data".into(),
                "终端完成了读卡命令，但没有发送卡片数据".into(),
            );
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Present the card again (insert the chip, swipe the stripe or hold the card flat on the contactless symbol).",
                "请再次出示卡片（插入芯片、刷磁条或将卡片平放在非接触标志上）。",
            ));
            f
        }
    }
}

/// An OK finding with the card's (masked) data.
fn card_read(ctx: &Ctx<'_>, info: &StatusInformation) -> pb::Finding {
    let contactless = info.uid().is_some() || info.ats().is_some();
    let (kind_en, kind_zh) = if contactless {
        ("contactless", "非接触")
    } else if info.aid().is_some() {
        ("chip", "芯片")
    } else if info.pan().is_some() {
        ("magnetic stripe", "磁条")
    } else {
        ("unknown kind", "未知类型")
    };
    let mut f = ctx.finding(
        pb::Verdict::Ok,
        "ok",
        format!("the card reader read a card ({kind_en})"),
        format!("读卡器已读取卡片（{kind_zh}）"),
    );
    f.evidence.push(evidence_hex("result_code", 0x00));
    f.evidence.push(evidence_text("card_kind", kind_en));
    if let Some(t) = info.card_type() {
        f.evidence.push(evidence_hex("card_type", t));
    }
    if let Some(t) = info.reader_card_type() {
        f.evidence.push(evidence_hex("reader_card_type", t));
    }
    if let Some(name) = info.card_name() {
        f.evidence
            .push(evidence_text("card_name", &terminal_text(&name)));
    }
    if let Some(pan) = info.pan() {
        // First six and last four digits only, whatever the terminal sent.
        f.evidence.push(evidence_text("pan_masked", &pan.masked()));
    }
    if let Some(aid) = info.aid() {
        f.evidence.push(evidence_text("aid", &hex(&aid)));
    }
    if let Some(uid) = info.uid() {
        f.evidence.push(evidence_text("uid", &hex(uid)));
    }
    if let Some(ats) = info.ats() {
        f.evidence.push(evidence_text("ats", &hex(ats)));
    }
    if let Some(atqa) = info.atqa() {
        f.evidence.push(evidence_text("atqa", &hex(atqa)));
    }
    if let Some(sak) = info.sak() {
        f.evidence.push(evidence_hex("sak", sak));
    }
    f
}

/// How a failed read is judged: verdict, reason, and who does what about it.
struct Judgement {
    verdict: pb::Verdict,
    reason: &'static str,
    remedies: Vec<pb::Remedy>,
}

fn judgement(code: u8) -> Option<Judgement> {
    use pb::Actor::{Cardholder, Issuer, Merchant, Vendor};
    use pb::Verdict::{Critical, Warning};
    let j = |verdict, reason, steps: &[(pb::Actor, &str, &str)]| Judgement {
        verdict,
        reason,
        remedies: steps
            .iter()
            .map(|&(actor, en, zh)| remedy(actor, en, zh))
            .collect(),
    };
    Some(match code {
        0x64 => j(
            Critical,
            "reader.stripe_unreadable",
            &[
                (
                    Merchant,
                    "Swipe the card again in one smooth movement, stripe facing the reader; try a second card.",
                    "请以平稳的动作再刷一次卡，磁条朝向读卡器；换一张卡试试。",
                ),
                (
                    Merchant,
                    "If no card's stripe reads, clean the magnetic head with a cleaning card.",
                    "如果所有卡的磁条都读不出，请用清洁卡清洁磁头。",
                ),
                (
                    Vendor,
                    "If cleaning does not help, repair or replace the stripe reader.",
                    "如果清洁无效，请维修或更换磁条读卡器。",
                ),
            ],
        ),
        0x65 => j(
            Critical,
            "reader.no_card_data",
            &[
                (
                    Merchant,
                    "Present the card again the right way round (chip first into the slot, stripe facing the reader).",
                    "请以正确方向再次出示卡片（芯片朝前插入卡槽，磁条朝向读卡器）。",
                ),
                (
                    Vendor,
                    "If no card gives data, have the card reader checked.",
                    "如果所有卡片都读不到数据，请检修读卡器。",
                ),
            ],
        ),
        0x66 | 0xE2 => j(
            Critical,
            "reader.defective",
            &[
                (
                    Merchant,
                    "Restart the terminal and read a card again; if it still fails, stop taking cards on it.",
                    "重启终端后再次读卡；如果仍然失败，请停止用它读卡。",
                ),
                (
                    Vendor,
                    "Repair or replace the card reader.",
                    "维修或更换读卡器。",
                ),
            ],
        ),
        0x72 => j(
            Critical,
            "reader.chip_error",
            &[
                (
                    Merchant,
                    "Insert the chip card again, fully and chip first; try a second chip card.",
                    "请将芯片卡完全插入（芯片朝前）再试一次；换一张芯片卡试试。",
                ),
                (
                    Vendor,
                    "If no chip card reads, clean or replace the chip reader.",
                    "如果所有芯片卡都无法读取，请清洁或更换芯片读卡器。",
                ),
            ],
        ),
        0x7B | 0x7C | 0x7E => j(
            Critical,
            "reader.fallback_not_allowed",
            &[
                (
                    Cardholder,
                    "Insert the chip again or pay contactless; the stripe is not accepted for this card.",
                    "请重新插入芯片或使用非接触支付；此卡不允许使用磁条。",
                ),
                (
                    Merchant,
                    "If chips fail on every card, have the chip reader checked.",
                    "如果所有卡片的芯片都读取失败，请检修芯片读卡器。",
                ),
            ],
        ),
        0x78..=0x7A => j(
            Warning,
            "reader.card_rejected",
            &[
                (
                    Cardholder,
                    "Use another card: this one is expired, not yet valid or not accepted here.",
                    "请换一张卡：此卡已过期、尚未生效或此处不受理。",
                ),
                (
                    Issuer,
                    "Replace the card if it is expired.",
                    "如卡片已过期，请补发新卡。",
                ),
            ],
        ),
        0xC5 => j(
            Critical,
            "reader.method_not_supported",
            &[
                (
                    Cardholder,
                    "Use another card or another way to pay (chip, contactless).",
                    "请换一张卡或换一种支付方式（芯片、非接触）。",
                ),
                (
                    Merchant,
                    "If this kind of card must be accepted, ask the acquirer to enable it on the terminal.",
                    "如果必须受理此类卡片，请联系收单机构在终端上开通。",
                ),
            ],
        ),
        RESULT_ABORTED => j(
            Warning,
            "reader.no_card",
            &[(
                Merchant,
                "Run the check again and present a card while the terminal asks for it.",
                "请再次运行检查，并在终端提示时出示卡片。",
            )],
        ),
        _ => return None,
    })
}

fn failure(ctx: &Ctx<'_>, outcome: &CommandOutcome, code: u8, waited: Duration) -> pb::Finding {
    let Some(j) = judgement(code) else {
        // A result this check has no judgement for (e.g. the terminal is in maintenance).
        return ctx.unexpected_end(
            &what(),
            &CommandOutcome {
                end: CommandEnd::Aborted { result_code: code },
                messages: outcome.messages.clone(),
            },
        );
    };
    let m = meaning(&Scheme::ZvtResult, code);
    let (en, zh) = if code == RESULT_ABORTED {
        let secs = waited.as_secs_f64().round();
        (
            format!("no card presented within {secs:.0} s"),
            format!("在 {secs:.0} 秒内未出示卡片"),
        )
    } else {
        (
            format!("the card could not be read: result {code:02X} ({})", m.en),
            format!("无法读取卡片：结果码 {code:02X}（{}）", m.zh),
        )
    };
    let mut f = ctx.finding(j.verdict, j.reason, en, zh);
    f.remedies = j.remedies;
    abort_evidence(&mut f, outcome, code);
    if code == RESULT_ABORTED {
        f.evidence
            .push(evidence_number("waited", ms(waited).round(), "ms"));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_result_has_a_judgement() {
        let expect = [
            (0x64, pb::Verdict::Critical, "reader.stripe_unreadable"),
            (0x65, pb::Verdict::Critical, "reader.no_card_data"),
            (0x66, pb::Verdict::Critical, "reader.defective"),
            (0xE2, pb::Verdict::Critical, "reader.defective"),
            (0x72, pb::Verdict::Critical, "reader.chip_error"),
            (0x7B, pb::Verdict::Critical, "reader.fallback_not_allowed"),
            (0x7C, pb::Verdict::Critical, "reader.fallback_not_allowed"),
            (0x7E, pb::Verdict::Critical, "reader.fallback_not_allowed"),
            (0x78, pb::Verdict::Warning, "reader.card_rejected"),
            (0x79, pb::Verdict::Warning, "reader.card_rejected"),
            (0x7A, pb::Verdict::Warning, "reader.card_rejected"),
            (0xC5, pb::Verdict::Critical, "reader.method_not_supported"),
            (0x6C, pb::Verdict::Warning, "reader.no_card"),
        ];
        for (code, verdict, reason) in expect {
            let j = judgement(code).unwrap_or_else(|| panic!("{code:02X}"));
            assert_eq!((j.verdict, j.reason), (verdict, reason), "{code:02X}");
            assert!(!j.remedies.is_empty());
        }
        assert!(judgement(0x9C).is_none());
    }

    #[test]
    fn timeouts_are_bounded() {
        let req = |v: Option<&str>| pb::CheckRequest {
            args: v
                .map(|v| [("timeout_s".to_owned(), v.to_owned())].into())
                .unwrap_or_default(),
            ..Default::default()
        };
        assert_eq!(card_timeout(&req(None)), Ok(15));
        assert_eq!(card_timeout(&req(Some(" 60 "))), Ok(60));
        for bad in ["0", "61", "-1", "x", ""] {
            assert!(card_timeout(&req(Some(bad))).is_err(), "{bad}");
        }
    }
}
