//! `posdiag doctor TERMINAL [--symptom CODE] [--id VALUE] [--emv HEX | --tvr
//! … --arc …]`: streams the
//! doctor's progress (one line per finding) and ends with the ranked
//! diagnosis — the most likely cause, the evidence for it, the ordered
//! remedies naming who acts, what was ruled out and what was skipped.
//! Exit code: the worst verdict (0 OK, 1 WARNING, 2 CRITICAL, 3 otherwise).

use std::io::Write;

use clap::Args;
use posdiag_core::{Lang, Verdict};
use posdiag_proto::v1;
use posdiag_proto::v1::check_service_client::CheckServiceClient;
use tokio_stream::StreamExt;

use crate::commands::Context;

use crate::error::CliError;
use crate::i18n::{Label, t};
use crate::json::to_json;
use crate::output::{Output, sanitize};
use crate::render::{actor_label, format_evidence, verdict_from_proto};

/// `posdiag doctor`.
#[derive(Debug, Args, Default)]
pub struct DoctorArgs {
    /// The terminal id, for example T1.
    pub terminal: String,
    /// What was seen: a code ("103", "0x64", "91"), a symptom id
    /// ("unsupported-id" with --id, "card-declined", "no-connection"; see
    /// `posdiag symptom`), or your own words ("收不了款", "POS机提示05").
    #[arg(long, value_name = "SYMPTOM")]
    pub symptom: Option<String>,
    /// The customer ID the terminal rejected (with --symptom unsupported-id).
    #[arg(long, value_name = "VALUE")]
    pub id: Option<String>,
    /// The transaction's EMV data as a TLV blob in hex (field 55, the
    /// terminal's log), with --symptom card-declined or card-unreadable.
    #[arg(long, value_name = "HEX")]
    pub emv: Option<String>,
    /// The receipt's values (TVR, TSI, ARC, entry mode, ...) or its text
    /// (--receipt FILE), with --symptom card-declined or card-unreadable:
    /// the options of `posdiag emv decode`.
    #[command(flatten)]
    pub receipt: crate::emv::EmvFields,
}

impl DoctorArgs {
    /// The EMV data given, if any.
    fn emv_input(&self) -> Result<Option<v1::EmvInput>, CliError> {
        let input = self.receipt.input(self.emv.as_deref())?;
        Ok((input != v1::EmvInput::default()).then_some(input))
    }
}

/// Runs `posdiag doctor`.
pub async fn run(args: DoctorArgs, ctx: &Context) -> Result<u8, CliError> {
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let req = v1::RunDoctorRequest {
        terminal_id: args.terminal.clone(),
        symptom: args.symptom.clone().unwrap_or_default(),
        id_value: args.id.clone().unwrap_or_default(),
        lang: ctx.out.lang.tag().to_owned(),
        emv: args.emv_input()?,
    };
    let mut stream = CheckServiceClient::new(channel)
        .run_doctor(req)
        .await
        .map_err(|s| CliError::from_status(s, &ctx.endpoint.to_string()))?
        .into_inner();
    let mut stdout = crate::term::stdout();
    let mut diagnosis = None;
    while let Some(ev) = stream.next().await {
        let ev = ev.map_err(|s| CliError::from_status(s, &ctx.endpoint.to_string()))?;
        if ctx.out.json {
            writeln!(stdout, "{}", to_json(&ev)?)?;
        } else {
            match &ev.event {
                Some(v1::doctor_event::Event::Symptom(s)) => {
                    stdout.write_all(symptom_text(s, ctx.out.lang).as_bytes())?
                }
                Some(v1::doctor_event::Event::Check(c)) => {
                    if let Some(v1::check_event::Event::Finding(f)) = &c.event {
                        writeln!(stdout, "{}", finding_line(f, &ctx.out))?;
                    }
                }
                Some(v1::doctor_event::Event::Diagnosis(d)) => {
                    stdout.write_all(diagnosis_text(d, &ctx.out).as_bytes())?
                }
                None => {}
            }
        }
        stdout.flush()?;
        if let Some(v1::doctor_event::Event::Diagnosis(d)) = ev.event {
            diagnosis = Some(d);
        }
    }
    let d = diagnosis.ok_or(CliError::StreamIncomplete)?;
    Ok(if d.overall == 0 {
        0
    } else {
        match verdict_from_proto(d.overall) {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
            _ => 3,
        }
    })
}

fn finding_line(f: &v1::Finding, out: &Output) -> String {
    let v = verdict_from_proto(f.verdict);
    format!(
        "{:<8} {} {}: {}",
        out.paint(v, v.as_str()),
        sanitize(&f.check),
        sanitize(&f.subject),
        sanitize(&f.summary)
    )
}

/// The symptom's meaning(s) and the checks chosen to tell its causes apart.
pub fn symptom_text(s: &v1::SymptomExplained, lang: Lang) -> String {
    let mut out = format!("{} {}\n", t(Label::Symptom, lang), sanitize(&s.symptom));
    if !s.note.is_empty() {
        out.push_str(&format!("  {}\n", sanitize(&s.note)));
    }
    for e in &s.interpretations {
        out.push_str(&format!(
            "  {} {}: {}\n",
            sanitize(&e.scheme),
            sanitize(&e.code),
            sanitize(&e.meaning)
        ));
    }
    if let Some(id) = &s.id {
        out.push_str(&format!(
            "  {}: {}\n",
            sanitize(&id.display),
            sanitize(&id.message)
        ));
    }
    for (i, c) in s.emv_causes.iter().enumerate() {
        out.push_str(&format!("  {}. {}\n", i + 1, sanitize(&c.cause)));
    }
    if !s.checks.is_empty() {
        out.push_str(&format!(
            "  {}: {}\n",
            t(Label::Checks, lang).to_lowercase(),
            sanitize(&s.checks.join(", "))
        ));
    }
    out
}

/// The diagnosis as a person reads it.
pub fn diagnosis_text(d: &v1::Diagnosis, out: &Output) -> String {
    let lang = out.lang;
    let mut s = format!(
        "\n{}: {}\n",
        t(Label::Diagnosis, lang),
        sanitize(&d.summary)
    );
    for c in &d.causes {
        let v = verdict_from_proto(c.verdict);
        s.push_str(&format!(
            "{}. [{}] {}\n",
            c.rank,
            out.paint(v, v.as_str()),
            sanitize(&c.title)
        ));
        if !c.check.is_empty() || !c.reason.is_empty() {
            s.push_str(&format!(
                "   {} {} ({})\n",
                sanitize(&c.check),
                sanitize(&c.subject),
                sanitize(&c.reason)
            ));
        }
        if !c.why.is_empty() {
            s.push_str(&format!(
                "   {}: {}\n",
                t(Label::Why, lang),
                sanitize(&c.why)
            ));
        }
        // Transcripts are for the vendor: `posdiag check` shows them.
        for e in c
            .evidence
            .iter()
            .filter(|e| !e.name.ends_with("transcript"))
            .take(8)
        {
            s.push_str(&format!("   - {}\n", format_evidence(e, lang)));
        }
        for (i, r) in c.remedies.iter().enumerate() {
            let who = actor_label(r.actor, lang).unwrap_or("-");
            s.push_str(&format!("   {}) [{who}] {}\n", i + 1, sanitize(&r.text)));
        }
    }
    if !d.ruled_out.is_empty() {
        s.push_str(&format!(
            "{}: {}\n",
            t(Label::RuledOut, lang),
            sanitize(&d.ruled_out.join("; "))
        ));
    }
    if !d.skipped.is_empty() {
        s.push_str(&format!(
            "{}: {}\n",
            t(Label::Skipped, lang),
            sanitize(&d.skipped.join("; "))
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diagnosis_names_the_cause_its_evidence_and_who_acts() {
        let d = v1::Diagnosis {
            overall: v1::Verdict::Critical as i32,
            summary: "most likely cause: the card reader does not answer".into(),
            causes: vec![v1::Cause {
                rank: 1,
                title: "the card reader does not answer".into(),
                verdict: v1::Verdict::Critical as i32,
                reason: "reader.defective".into(),
                check: "reader.status".into(),
                subject: "T1 (posdiag.zvt)".into(),
                evidence: vec![v1::Evidence {
                    name: "terminal_status".into(),
                    value: Some(v1::evidence::Value::Text("0xE2".into())),
                    unit: String::new(),
                }],
                remedies: vec![v1::Remedy {
                    actor: v1::Actor::Vendor as i32,
                    text: "Replace the card reader".into(),
                }],
                why: "the most severe failure".into(),
            }],
            ruled_out: vec!["terminal.link tcp 10.0.0.5:20007".into()],
            skipped: vec![],
        };
        let text = diagnosis_text(&d, &Output::plain(Lang::En));
        assert!(
            text.contains("1. [CRITICAL] the card reader does not answer"),
            "{text}"
        );
        assert!(
            text.contains("reader.status T1 (posdiag.zvt) (reader.defective)"),
            "{text}"
        );
        assert!(text.contains("terminal_status"), "{text}");
        assert!(
            text.contains("1) [vendor] Replace the card reader"),
            "{text}"
        );
        assert!(text.contains("terminal.link tcp 10.0.0.5:20007"), "{text}");
        let zh = diagnosis_text(&d, &Output::plain(Lang::ZhCn));
        assert!(zh.contains("诊断"), "{zh}");
    }
}
