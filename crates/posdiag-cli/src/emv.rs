//! `posdiag emv decode`: EMV data — a TLV blob such as ISO 8583 field 55 or
//! a terminal's log, or the values a receipt prints (TVR, TSI, CVM results,
//! ARC, entry mode, service code, capabilities) — decoded and explained.
//! Asks posdiagd's EmvService, or with `--local` decodes in this process
//! through the same `posdiag-api` functions, so both print the same.

use std::io::Write;

use clap::{Args, Subcommand};
use posdiag_core::Lang;
use posdiag_proto::v1;
use v1::emv_service_client::EmvServiceClient;

use crate::commands::Context;

use crate::error::{CliError, UsageError};
use crate::i18n::{Label, t};
use crate::json::to_json;

/// `posdiag emv ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum EmvCommand {
    /// Decode EMV data and explain why a card was declined or would not read.
    ///
    /// Give a TLV blob in hex (field 55, a terminal's log), or the values a
    /// receipt prints, or both. Card numbers and track data are shown
    /// masked. Exit 0 when nothing is wrong, 1 when the data shows a
    /// problem, 64 for input that cannot be decoded.
    Decode(EmvDecodeArgs),
}

/// Options of `posdiag emv decode`.
#[derive(Debug, Clone, Args, Default)]
pub struct EmvDecodeArgs {
    /// A BER-TLV blob in hex (spaces, ':' and '-' between bytes are fine).
    pub tlv: Option<String>,
    /// The values read off a receipt or a log, one option each.
    #[command(flatten)]
    pub fields: EmvFields,
    /// Decode in this process; no daemon needed.
    #[arg(long)]
    pub local: bool,
}

/// The EMV values a receipt or a terminal's log prints, each given alone:
/// `posdiag emv decode` and `posdiag doctor` take the same options.
#[derive(Debug, Clone, Default, Args)]
pub struct EmvFields {
    /// Terminal Verification Results (95), 5 bytes: 8000048000.
    #[arg(long, value_name = "HEX")]
    pub tvr: Option<String>,
    /// Transaction Status Information (9B), 2 bytes: E800.
    #[arg(long, value_name = "HEX")]
    pub tsi: Option<String>,
    /// CVM Results (9F34), 3 bytes: 1F0302.
    #[arg(long, value_name = "HEX")]
    pub cvm: Option<String>,
    /// Authorisation Response Code (8A): Z3, Y1, 00, 05...
    #[arg(long, value_name = "CODE")]
    pub arc: Option<String>,
    /// POS entry mode: ISO 8583 field 22 (801, 051) or 9F39 (05).
    #[arg(long, value_name = "DIGITS")]
    pub entry_mode: Option<String>,
    /// Service code from the card's track data: 201.
    #[arg(long, value_name = "DIGITS")]
    pub service_code: Option<String>,
    /// Terminal Capabilities (9F33), 3 bytes: E0F0C8.
    #[arg(long = "9F33", value_name = "HEX")]
    pub term_caps: Option<String>,
    /// Additional Terminal Capabilities (9F40), 5 bytes.
    #[arg(long = "9F40", value_name = "HEX")]
    pub addl_term_caps: Option<String>,
    /// Application Interchange Profile (82), 2 bytes.
    #[arg(long, value_name = "HEX")]
    pub aip: Option<String>,
    /// Terminal Type (9F35), 1 byte: 22.
    #[arg(long = "9F35", value_name = "HEX")]
    pub terminal_type: Option<String>,
    /// Cryptogram Information Data (9F27), 1 byte: 80.
    #[arg(long, value_name = "HEX")]
    pub cid: Option<String>,
    /// The text of a receipt or a terminal's log (a file, or - for stdin):
    /// the EMV values it prints are read (the options above win).
    #[arg(long, value_name = "FILE|-")]
    pub receipt: Option<String>,
}

impl EmvFields {
    /// The request's input, with `tlv_hex` the blob given (if any) and the
    /// receipt's text read from its file.
    pub fn input(&self, tlv_hex: Option<&str>) -> Result<v1::EmvInput, CliError> {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let receipt_text = match &self.receipt {
            Some(path) => crate::emv_receipt::read(path)?,
            None => String::new(),
        };
        Ok(v1::EmvInput {
            tlv_hex: tlv_hex.unwrap_or_default().to_owned(),
            tvr: s(&self.tvr),
            tsi: s(&self.tsi),
            cvm_results: s(&self.cvm),
            arc: s(&self.arc),
            entry_mode: s(&self.entry_mode),
            service_code: s(&self.service_code),
            terminal_capabilities: s(&self.term_caps),
            additional_terminal_capabilities: s(&self.addl_term_caps),
            aip: s(&self.aip),
            terminal_type: s(&self.terminal_type),
            cid: s(&self.cid),
            receipt_text,
        })
    }
}

impl EmvDecodeArgs {
    /// The request's input.
    pub fn input(&self) -> Result<v1::EmvInput, CliError> {
        self.fields.input(self.tlv.as_deref())
    }
}

/// Runs `posdiag emv ...`.
pub async fn run<W: Write>(cmd: &EmvCommand, ctx: &Context, w: &mut W) -> Result<u8, CliError> {
    let EmvCommand::Decode(args) = cmd;
    let lang = ctx.out.lang;
    let answer = if args.local {
        local(args, lang)?
    } else {
        let endpoint = ctx.endpoint.to_string();
        let mut client = EmvServiceClient::new(
            crate::endpoint::connect_with(&ctx.endpoint, lang, &ctx.creds).await?,
        );
        client
            .decode(v1::DecodeEmvRequest {
                input: Some(args.input()?),
                lang: lang.tag().to_owned(),
            })
            .await
            .map_err(|s| {
                // Input the daemon could not decode is bad input, as with
                // --local (exit 64); its message is already in our language.
                if s.code() == tonic::Code::InvalidArgument {
                    let m = s.message().to_owned();
                    CliError::Usage(UsageError::Emv(posdiag_core::Text::new(m.clone(), m)))
                } else {
                    CliError::from_status(s, &endpoint)
                }
            })?
            .into_inner()
    };
    render(&answer, ctx.out.json, lang, w)
}

/// Decodes in this process.
pub fn local(args: &EmvDecodeArgs, lang: Lang) -> Result<v1::DecodeEmvResponse, CliError> {
    posdiag_api::emv::decode_response(&args.input()?, lang)
        .map_err(|e| CliError::Usage(UsageError::Emv(e.text())))
}

/// Whether a cause is a problem (the same bound as the explanation's).
fn is_problem(c: &v1::EmvCause) -> bool {
    c.weight >= 25
}

/// Prints the answer; exit 0 when nothing is wrong, 1 when a cause is a problem.
pub fn render<W: Write>(
    r: &v1::DecodeEmvResponse,
    json: bool,
    lang: Lang,
    w: &mut W,
) -> Result<u8, CliError> {
    let exit = u8::from(r.causes.iter().any(is_problem));
    if json {
        writeln!(w, "{}", to_json(r)?)?;
        return Ok(exit);
    }
    crate::emv_receipt::write_lines(&r.receipt_lines, lang, w)?;
    for e in &r.elements {
        write_element(e, 0, lang, w)?;
    }
    writeln!(w)?;
    write_causes(&r.causes, lang, w)?;
    Ok(exit)
}

fn write_element<W: Write>(
    e: &v1::EmvElement,
    depth: usize,
    lang: Lang,
    w: &mut W,
) -> Result<(), CliError> {
    let pad = "  ".repeat(depth);
    let name = if e.name.is_empty() {
        t(Label::EmvUnknownTag, lang)
    } else {
        &e.name
    };
    if e.value.is_empty() {
        writeln!(w, "{pad}{} {name}", e.tag)?;
    } else {
        writeln!(w, "{pad}{} {name}: {}", e.tag, e.value)?;
    }
    for i in &e.items {
        let mark = match i.severity.as_str() {
            "error" => "✗",
            "warning" => "!",
            "ok" => "✓",
            _ => "·",
        };
        let who = match v1::Actor::try_from(i.actor) {
            Ok(a) if a != v1::Actor::Unspecified => {
                format!(" [{}]", crate::explain::actor_label(i.actor, lang))
            }
            _ => String::new(),
        };
        writeln!(w, "{pad}    {mark} {}{who}", i.meaning)?;
    }
    for c in &e.children {
        write_element(c, depth + 1, lang, w)?;
    }
    Ok(())
}

/// The causes, ranked, with remedies and what tells them apart.
pub fn write_causes<W: Write>(
    causes: &[v1::EmvCause],
    lang: Lang,
    w: &mut W,
) -> Result<(), CliError> {
    if !causes.iter().any(is_problem) {
        writeln!(w, "{}", t(Label::EmvNothingWrong, lang))?;
    }
    if causes.is_empty() {
        return Ok(());
    }
    writeln!(w, "{}", t(Label::EmvCauses, lang))?;
    for (n, c) in causes.iter().enumerate() {
        writeln!(w, "{}. {}", n + 1, c.cause)?;
        writeln!(w, "   {}:", t(Label::CodeWhatToDo, lang))?;
        for (i, r) in c.remedies.iter().enumerate() {
            writeln!(
                w,
                "     {}. [{}] {}",
                i + 1,
                crate::explain::actor_label(r.actor, lang),
                r.text
            )?;
        }
        match c.checks.as_str() {
            "host" => writeln!(w, "   {}", t(Label::EmvConfirmHost, lang))?,
            "reader" => writeln!(w, "   {}", t(Label::EmvConfirmReader, lang))?,
            _ => {}
        }
        writeln!(
            w,
            "   {}: {}",
            t(Label::EmvEvidence, lang),
            c.evidence.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(args: EmvDecodeArgs, lang: Lang) -> (u8, String) {
        let r = local(&args, lang).unwrap();
        let mut buf = Vec::new();
        let code = render(&r, false, lang, &mut buf).unwrap();
        (code, String::from_utf8(buf).unwrap())
    }

    #[test]
    fn a_receipt_is_decoded_and_the_host_is_named() {
        let (exit, text) = decode(
            EmvDecodeArgs {
                fields: EmvFields {
                    tvr: Some("8000048000".into()),
                    tsi: Some("E800".into()),
                    arc: Some("Z3".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            Lang::En,
        );
        assert_eq!(exit, 1);
        assert!(
            text.contains("95 Terminal Verification Results (TVR): 8000048000"),
            "{text}"
        );
        assert!(text.contains("· Transaction exceeds floor limit"), "{text}");
        assert!(
            text.contains("1. The terminal could not reach the host (Z3"),
            "{text}"
        );
        assert!(text.contains("posdiag doctor"), "{text}");
    }

    #[test]
    fn chinese_and_a_clean_receipt_exit_0() {
        let (exit, text) = decode(
            EmvDecodeArgs {
                fields: EmvFields {
                    tvr: Some("0000000000".into()),
                    arc: Some("00".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            Lang::ZhCn,
        );
        assert_eq!(exit, 0);
        assert!(text.contains("发卡行批准"), "{text}");
        assert!(
            text.contains(t(Label::EmvNothingWrong, Lang::ZhCn)),
            "{text}"
        );
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        let err = local(
            &EmvDecodeArgs {
                fields: EmvFields {
                    tvr: Some("80".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            Lang::En,
        )
        .err()
        .unwrap();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
        let err = local(&EmvDecodeArgs::default(), Lang::En).err().unwrap();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }

    #[test]
    fn a_pan_in_the_blob_is_masked_and_json_is_the_proto3_mapping() {
        let args = EmvDecodeArgs {
            tlv: Some("5A08 4111111111111111 5F2403251231".into()),
            ..Default::default()
        };
        let (_, text) = decode(args.clone(), Lang::En);
        assert!(
            text.contains("411111******1111") && !text.contains("4111111111111111"),
            "{text}"
        );
        let r = local(&args, Lang::En).unwrap();
        let mut buf = Vec::new();
        render(&r, true, Lang::En, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["elements"][1]["value"], "2025-12-31", "{v}");
        assert_eq!(v["elements"][0]["fromTlv"], true, "{v}");
    }
}
