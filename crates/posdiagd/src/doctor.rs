//! `CheckService.RunDoctor`: a diagnosis in the order people troubleshoot by
//! hand — link and hardware, terminal state, card reader, network to the
//! hosts, the acquirer echo, the terminal's own host diagnosis, software —
//! skipping what an earlier failure makes moot, ending with the causes
//! ranked. With a symptom it first explains the code (the terminal's dialect
//! first) or validates the rejected ID, and runs only the checks that tell
//! the symptom's causes apart. "card-declined" and "card-unreadable" start
//! from the transaction's EMV data (`posdiag-emv`): its causes are explained
//! first, only the checks that tell them apart run (Z3 → the host checks; a
//! chip, fallback or PIN pad cause → the reader checks), and the ranking
//! puts the checks' evidence next to the data's.
//!
//! A symptom in people's own words ("收不了款", "POS机提示05") is read by
//! `posdiag-symptoms` as SymptomService reads it and its best match is
//! diagnosed (said so in SymptomExplained's note); text that fits nothing
//! gets the full check-up, and questions no check answers (money not
//! arrived, fees, getting a terminal) run nothing and name who to contact.
//!
//! It orchestrates the engine's checks and the knowledge the daemon holds
//! (code tables, ID rule sets); the engine itself knows neither.

use posdiag_codes::Category;
use posdiag_core::{Finding, Lang, Reason, Text, Verdict};
use posdiag_engine::{Engine, Progress};
use posdiag_proto::v1 as pb;
// The stages, their checks and which a symptom calls for are
// `posdiag_symptoms::plan`'s, so SymptomService names the checks run here.
use posdiag_symptoms::Symptom;
use posdiag_symptoms::plan::{STAGES, stages_for};
use tokio::sync::mpsc;

use crate::config::TerminalConfig;
use crate::convert;
use crate::live::LiveConfig;
use crate::status::ApiError;

/// What the doctor needs from the daemon.
#[derive(Debug, Clone)]
pub struct Doctor {
    engine: Engine,
    /// Code tables and terminals (their dialects and id rules), as of each
    /// request.
    live: LiveConfig,
    daemon: crate::daemon_state::DaemonState,
}

impl Doctor {
    /// A doctor over the engine and the daemon's knowledge.
    pub(crate) fn new(
        engine: Engine,
        live: LiveConfig,
        daemon: crate::daemon_state::DaemonState,
    ) -> Doctor {
        Doctor {
            engine,
            live,
            daemon,
        }
    }

    /// Validates the request and starts the diagnosis; events arrive on the
    /// returned channel, the last one a Diagnosis.
    pub async fn start(
        &self,
        r: &pb::RunDoctorRequest,
        caller: posdiag_history::Caller,
    ) -> Result<mpsc::Receiver<pb::DoctorEvent>, ApiError> {
        let lang = convert::lang(&r.lang).map_err(|_| {
            ApiError::invalid(
                "lang",
                "expected \"en\" or \"zh-CN\"",
                "应为 \"en\" 或 \"zh-CN\"",
            )
        })?;
        if r.terminal_id.is_empty() {
            return Err(ApiError::invalid("terminal_id", "is required", "必填"));
        }
        let live = self.live.now();
        let terminal = TerminalConfig::find(&live.terminals, &r.terminal_id);
        let offered = self.engine.offered_checks(&r.terminal_id).await?;
        let on_demand = self.engine.on_demand_checks(&r.terminal_id).await?;
        // The symptom as given (shown and kept masked), and as read: an id
        // or a code as it is, free text through the matcher.
        let given = posdiag_ids::mask_ids_in_text(r.symptom.trim());
        let prefer = terminal.and_then(|t| t.dialect.as_ref());
        let read = read_symptom(r.symptom.trim(), &live.codes, prefer, lang);
        let symptom = read.key.clone();
        let mut explained = None;
        let mut wanted: Vec<&'static str> = STAGES.iter().map(|(s, _)| *s).collect();
        let mut id_invalid = None;
        let mut code_entries: Vec<posdiag_codes::Entry> = Vec::new();
        let mut customer_args = std::collections::BTreeMap::new();
        let mut emv_causes: Vec<posdiag_emv::Cause> = Vec::new();
        let emv_given = r
            .emv
            .as_ref()
            .is_some_and(|e| *e != pb::EmvInput::default());
        let card_symptom = symptom.eq_ignore_ascii_case("card-declined")
            || symptom.eq_ignore_ascii_case("card-unreadable");
        if card_symptom || (emv_given && symptom.is_empty() && read.named.is_none()) {
            let unreadable = symptom.eq_ignore_ascii_case("card-unreadable");
            if emv_given {
                let input = r.emv.clone().unwrap_or_default();
                let decoded = posdiag_api::emv::decode(&input).map_err(|e| {
                    let t = e.text();
                    ApiError::invalid("emv", t.en, t.zh)
                })?;
                emv_causes = posdiag_emv::explain(&decoded).causes;
                if let Some(c) = self.clock_cause(&r.terminal_id, &emv_causes).await {
                    emv_causes.insert(0, c);
                }
            }
            let problem =
                |c: &&posdiag_emv::Cause| c.weight >= posdiag_emv::explain::PROBLEM_WEIGHT;
            let host = emv_causes
                .iter()
                .filter(problem)
                .any(|c| c.checks == posdiag_emv::Checks::Host);
            let reader = emv_causes
                .iter()
                .filter(problem)
                .any(|c| c.checks == posdiag_emv::Checks::Reader);
            let data_says_it_all = emv_causes.iter().any(|c| problem(&c));
            let (host, reader) = match (host, reader) {
                (false, false) if data_says_it_all => (false, false),
                (false, false) => (!unreadable, unreadable),
                other => other,
            };
            wanted = STAGES
                .iter()
                .map(|(s, _)| *s)
                .filter(|s| {
                    (host && matches!(*s, "link" | "network" | "echo" | "host diagnosis"))
                        || (reader && matches!(*s, "link" | "terminal" | "reader"))
                })
                .collect();
            explained = Some(pb::SymptomExplained {
                symptom: if given.is_empty() {
                    "card-declined".to_owned()
                } else {
                    given.clone()
                },
                interpretations: Vec::new(),
                id: None,
                checks: Vec::new(),
                emv_causes: posdiag_api::emv::causes(
                    &posdiag_emv::Explanation {
                        causes: emv_causes.clone(),
                    },
                    lang,
                ),
                ..Default::default()
            });
        } else if symptom.eq_ignore_ascii_case("unsupported-id")
            || symptom.eq_ignore_ascii_case("unsupported-customer-id")
        {
            if r.id_value.is_empty() {
                return Err(ApiError::invalid(
                    "id_value",
                    "is required with symptom \"unsupported-id\": the ID the terminal rejected",
                    "症状为 \"unsupported-id\" 时必填：终端拒绝的 ID",
                ));
            }
            let Some(rules) = terminal.and_then(|t| t.id_rules.clone()) else {
                return Err(ApiError::invalid(
                    "terminal_id",
                    format!(
                        "terminal {} has no id_rules in the configuration, so its supported IDs are unknown; add id_rules = \"NAME\"",
                        posdiag_core::quote(&r.terminal_id)
                    ),
                    format!(
                        "终端 {} 在配置中没有 id_rules，因此不知道它支持哪些 ID；请添加 id_rules = \"NAME\"",
                        posdiag_core::quote(&r.terminal_id)
                    ),
                ));
            };
            let v = posdiag_ids::validate(
                r.id_value.as_bytes(),
                posdiag_ids::KindSel::Auto,
                Some(&rules),
            );
            wanted = stages_for(Category::IdFormat).to_vec();
            if v.valid && is_paycode(&v) {
                // A wallet payment code passes a loose rule set, but it is a
                // one-time bearer token: never forwarded to a plugin (no
                // customer stage), and it explains the symptom by itself.
                id_invalid = Some(paycode_refused(&v));
            } else if v.valid {
                customer_args.insert("customer_id".to_owned(), r.id_value.trim().to_owned());
                if let Some(kind) = v.kind {
                    customer_args.insert("customer_id_kind".to_owned(), kind.name().to_owned());
                }
            } else {
                // The ID alone explains the message; it is not looked up
                // (no customer_args, no customer stage).
                id_invalid = Some(v.clone().into_owned());
            }
            explained = Some(pb::SymptomExplained {
                symptom: given.clone(),
                interpretations: Vec::new(),
                id: Some(convert::id_result(
                    id_invalid.as_ref().unwrap_or(&v),
                    lang,
                    0,
                )),
                checks: Vec::new(),
                emv_causes: Vec::new(),
                ..Default::default()
            });
        } else if let Some(named) = &read.named {
            // The other named symptoms: their stages; none for advice.
            wanted = named.stages(&live.codes, prefer).to_vec();
            explained = Some(pb::SymptomExplained {
                symptom: given.clone(),
                ..Default::default()
            });
        } else if !symptom.is_empty() {
            let found = live.codes.explain(&symptom, None, prefer);
            if let Some(first) = found.first() {
                wanted = stages_for(first.category).to_vec();
            }
            code_entries = found.iter().map(|e| (*e).clone()).collect();
            explained = Some(pb::SymptomExplained {
                symptom: given.clone(),
                interpretations: found
                    .iter()
                    .map(|e| convert::code_entry(e, lang, &symptom))
                    .collect(),
                id: None,
                checks: Vec::new(),
                emv_causes: Vec::new(),
                ..Default::default()
            });
        }
        // The plan: the wanted stages' checks this terminal offers, in order.
        let mut plan: Vec<(&'static str, Vec<String>)> = STAGES
            .iter()
            // The customer lookup needs a valid ID: only for unsupported-id.
            .filter(|(stage, _)| {
                wanted.contains(stage) && (*stage != "customer" || !customer_args.is_empty())
            })
            .map(|(stage, checks)| {
                (
                    *stage,
                    checks
                        .iter()
                        .filter(|c| {
                            offered.iter().any(|o| o == *c)
                                // The lookup is on demand: this is the demand.
                                || (*stage == "customer" && on_demand.iter().any(|o| o == *c))
                        })
                        .map(|c| (*c).to_owned())
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, c)| !c.is_empty())
            .collect();
        // Plugin checks outside the known stages run last, on a full check-up.
        if (symptom.is_empty() && read.named.is_none()) || read.full {
            let staged: Vec<&str> = STAGES.iter().flat_map(|(_, c)| c.iter().copied()).collect();
            let rest: Vec<String> = offered
                .iter()
                .filter(|c| !staged.contains(&c.as_str()))
                .cloned()
                .collect();
            if !rest.is_empty() {
                plan.push(("plugin", rest));
            }
        }
        if explained.is_none() && (read.matched.is_some() || !read.note.is_empty()) {
            explained = Some(pb::SymptomExplained {
                symptom: given.clone(),
                ..Default::default()
            });
        }
        if let Some(e) = explained.as_mut() {
            e.checks = plan.iter().flat_map(|(_, c)| c.clone()).collect();
            e.matched = read.matched;
            e.note = read.note;
        }
        let advice = read.named.filter(Symptom::is_advice);
        let (tx, rx) = mpsc::channel(64);
        let engine = self.engine.clone();
        let terminal = r.terminal_id.clone();
        let daemon = self.daemon.clone();
        let by = posdiag_engine::RunBy {
            origin: posdiag_history::Origin::Doctor,
            caller: Some(caller),
        };
        tokio::spawn(async move {
            if let Some(e) = explained {
                let _ = tx
                    .send(pb::DoctorEvent {
                        event: Some(pb::doctor_event::Event::Symptom(e)),
                    })
                    .await;
            }
            let mut findings: Vec<(usize, Finding)> = Vec::new();
            let mut skipped = Vec::new();
            let mut link_failed = false;
            let mut network_failed = false;
            for (order, (stage, checks)) in plan.iter().enumerate() {
                let moot = match *stage {
                    // The customer lookup asks the vendor's system, not the
                    // terminal: a dead link does not make it moot.
                    "terminal" | "reader" | "host diagnosis" | "software" | "plugin" => link_failed,
                    "echo" => network_failed,
                    _ => false,
                };
                if tx.is_closed() {
                    return;
                }
                if moot {
                    skipped.extend(checks.iter().map(|c| {
                        Text::new(
                            format!("{c} ({stage}): an earlier failure makes it moot"),
                            format!("{c}（{stage}）：前面的故障已使这项检查失去意义"),
                        )
                        .get(lang)
                        .to_owned()
                    }));
                    continue;
                }
                let args = if *stage == "customer" {
                    customer_args.clone()
                } else {
                    Default::default()
                };
                let mut rx = match engine
                    .run_named_with(&terminal, checks, args, by.clone())
                    .await
                {
                    Ok(rx) => rx,
                    Err(e) => {
                        let why = e.text();
                        skipped.extend(checks.iter().map(|c| {
                            Text::new(
                                format!("{c} ({stage}): {}", why.en),
                                format!("{c}（{stage}）：{}", why.zh),
                            )
                            .get(lang)
                            .to_owned()
                        }));
                        continue;
                    }
                };
                loop {
                    // A client that leaves ends the diagnosis: dropping `rx`
                    // cancels the engine's run of this stage at once.
                    let p = tokio::select! {
                        p = rx.recv() => p,
                        _ = tx.closed() => return,
                    };
                    let Some(p) = p else { break };
                    if let Progress::Finding(f) = &p {
                        findings.push((order, f.clone()));
                    }
                    let sent = tx
                        .send(pb::DoctorEvent {
                            event: Some(pb::doctor_event::Event::Check(convert::progress(
                                &p, lang,
                            ))),
                        })
                        .await;
                    if sent.is_err() {
                        return;
                    }
                }
                let failed = |check: &str| {
                    findings.iter().any(|(_, f)| {
                        f.check.starts_with(check)
                            && matches!(f.verdict, Verdict::Critical | Verdict::Error)
                    })
                };
                link_failed |= failed("terminal.link");
                network_failed |= failed("host.dns") || failed("host.tcp");
            }
            record(
                &daemon,
                &terminal,
                &given,
                &findings,
                &skipped,
                id_invalid.as_ref(),
                &code_entries,
                &emv_causes,
                advice.as_ref(),
                by.caller,
            );
            let diagnosis = diagnose(
                &findings,
                skipped,
                id_invalid.as_ref(),
                &code_entries,
                &emv_causes,
                advice.as_ref(),
                lang,
            );
            let _ = tx
                .send(pb::DoctorEvent {
                    event: Some(pb::doctor_event::Event::Diagnosis(diagnosis)),
                })
                .await;
        });
        Ok(rx)
    }
}

/// Keeps the diagnosis in the history, in both languages.
#[allow(clippy::too_many_arguments, reason = "the diagnosis' inputs")]
fn record(
    daemon: &crate::daemon_state::DaemonState,
    terminal: &str,
    symptom: &str,
    findings: &[(usize, Finding)],
    skipped: &[String],
    id: Option<&posdiag_ids::Validation>,
    codes: &[posdiag_codes::Entry],
    emv: &[posdiag_emv::Cause],
    advice: Option<&Symptom>,
    caller: Option<posdiag_history::Caller>,
) {
    let (Some(h), Ok(terminal)) = (daemon.history(), posdiag_core::TerminalId::new(terminal))
    else {
        return;
    };
    let en = diagnose(findings, skipped.to_vec(), id, codes, emv, advice, Lang::En);
    let zh = diagnose(
        findings,
        skipped.to_vec(),
        id,
        codes,
        emv,
        advice,
        Lang::ZhCn,
    );
    h.record(posdiag_history::Record::Diagnosis(
        posdiag_history::Diagnosis {
            run_id: h.next_run_id(),
            terminal,
            symptom: symptom.to_owned(),
            overall: Verdict::worst(
                findings
                    .iter()
                    .map(|(_, f)| f.verdict)
                    .chain(emv_verdicts(emv)),
            ),
            summary: Text::new(en.summary, zh.summary),
            causes: en
                .causes
                .iter()
                .zip(&zh.causes)
                .map(|(e, z)| {
                    (
                        e.reason.clone(),
                        Text::new(e.title.clone(), z.title.clone()),
                    )
                })
                .collect(),
            caller,
            at: std::time::SystemTime::now(),
        },
    ));
}

/// Whether the value is, or could be, a wallet payment code.
fn is_paycode(v: &posdiag_ids::Validation) -> bool {
    v.kind == Some(posdiag_ids::Kind::Paycode)
        || v.looks_like
            .iter()
            .any(|c| c.kind == posdiag_ids::Kind::Paycode)
}

/// The verdict on a payment code entered as a customer ID: not acceptable,
/// whatever the rule set says.
fn paycode_refused(v: &posdiag_ids::Validation) -> posdiag_ids::Validation<'static> {
    let texts = v.texts();
    let mut refused = posdiag_ids::Validation::with_texts(
        Some(posdiag_ids::Kind::Paycode),
        Some(posdiag_ids::IdReason::Unsupported),
        v.display.clone(),
        posdiag_ids::Texts {
            message: Text::new(
                "this is a wallet payment code (付款码), a one-time bearer token, not a customer ID: it was not sent to the plugin's customer lookup",
                "这是钱包付款码，一次性支付凭证，不是客户号：未发送给插件查询客户",
            ),
            suggestion: Text::new(
                "the customer showed the payment code where the customer ID was asked for: ask for the customer ID (member or account number)",
                "顾客在需要客户号的地方出示了付款码：请向顾客索取客户号（会员号或账号）",
            ),
            ..texts
        },
    );
    refused.looks_like = v.looks_like.clone();
    refused
}

fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Critical => 4,
        Verdict::Error => 3,
        Verdict::Warning => 2,
        Verdict::Unknown => 1,
        Verdict::Ok => 0,
    }
}

/// The EMV causes that point at the terminal's clock when several cards
/// show them: a date the card is checked against.
const DATE_CAUSES: &[&str] = &["tvr.expired_application", "tvr.not_yet_effective"];

/// How far back the doctor looks for the same date cause at a terminal.
const CLOCK_WINDOW: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Earlier diagnoses with a date cause that make the clock the likelier
/// cause (this one is at least the third).
const CLOCK_EARLIER: usize = 2;

impl Doctor {
    /// When the EMV data says "expired" or "not yet effective" and the
    /// history holds such declines at this terminal already, a cause naming
    /// the terminal's clock (the cards are not all wrong at once). The
    /// history keeps no card numbers, so the same card declined again also
    /// counts: the cause says how many declines it rests on.
    async fn clock_cause(
        &self,
        terminal: &str,
        causes: &[posdiag_emv::Cause],
    ) -> Option<posdiag_emv::Cause> {
        let date = causes
            .iter()
            .find(|c| DATE_CAUSES.contains(&c.id.as_str()))?;
        let h = self.daemon.history()?.clone();
        h.caught_up(std::time::Duration::from_secs(1)).await;
        let filter = posdiag_history::Filter {
            terminal: Some(terminal.to_owned()),
            since: std::time::SystemTime::now().checked_sub(CLOCK_WINDOW),
            kinds: vec![posdiag_history::EventKind::Diagnosis],
            ..Default::default()
        };
        let page = tokio::task::spawn_blocking(move || h.reader().events(&filter, 500, None))
            .await
            .ok()?
            .ok()?;
        let earlier = page
            .items
            .iter()
            .filter(|e| match &e.event {
                posdiag_history::Event::Diagnosis(d) => d.causes.iter().any(|(reason, _)| {
                    DATE_CAUSES
                        .iter()
                        .any(|id| reason.strip_prefix("emv.") == Some(id))
                }),
                _ => false,
            })
            .count();
        (earlier >= CLOCK_EARLIER).then(|| posdiag_emv::Cause {
            id: "terminal.clock".to_owned(),
            weight: date.weight + 10,
            cause: Text::new(
                format!(
                    "The terminal's clock is probably wrong: {earlier} earlier declines at this terminal in the last 7 days also said the card's dates did not fit (expired or not yet valid)"
                ),
                format!(
                    "终端时钟可能有误：过去 7 天内此终端另有 {earlier} 笔拒绝同样显示卡片日期不符（已过期或尚未生效）"
                ),
            ),
            actor: Some(posdiag_core::Actor::Merchant),
            remedies: vec![
                posdiag_core::Remedy::new(
                    posdiag_core::Actor::Merchant,
                    "Check the terminal's date and time and correct them, then retry the card",
                    "检查并校正终端的日期和时间，然后重试该卡",
                ),
                posdiag_core::Remedy::new(
                    posdiag_core::Actor::Vendor,
                    "If the clock drifts again, check the terminal's time source (NTP, clock battery)",
                    "如果时钟再次偏差，检查终端的时间来源（NTP、时钟电池）",
                ),
            ],
            checks: posdiag_emv::Checks::None,
            evidence: vec![date.id.clone(), format!("history.{}", date.id)],
        })
    }
}

/// The verdict an EMV cause stands for: a strong cause is critical, a
/// weaker problem a warning.
fn emv_verdict(c: &posdiag_emv::Cause) -> Verdict {
    if c.weight >= 60 {
        Verdict::Critical
    } else {
        Verdict::Warning
    }
}

/// The verdicts of the EMV causes that are problems.
fn emv_verdicts(emv: &[posdiag_emv::Cause]) -> impl Iterator<Item = Verdict> + '_ {
    emv.iter()
        .filter(|c| c.weight >= posdiag_emv::explain::PROBLEM_WEIGHT)
        .map(emv_verdict)
}

/// Whether a finding of `check` can confirm an EMV cause that asks for `what`.
fn confirms(check: &str, what: posdiag_emv::Checks) -> bool {
    match what {
        posdiag_emv::Checks::Host => check.starts_with("host."),
        posdiag_emv::Checks::Reader => {
            check.starts_with("reader.") || check.starts_with("terminal.")
        }
        _ => false,
    }
}

/// An EMV cause as a diagnosis cause, with why it ranks where it does given
/// what the checks found.
fn emv_cause(
    c: &posdiag_emv::Cause,
    findings: &[(usize, Finding)],
    failing: &[&(usize, Finding)],
    lang: Lang,
) -> pb::Cause {
    use posdiag_emv::Checks;
    let confirmed = failing.iter().any(|(_, f)| confirms(&f.check, c.checks));
    let ran = findings.iter().any(|(_, f)| confirms(&f.check, c.checks));
    let why = match (c.checks, confirmed, ran) {
        (Checks::Host, true, _) => Text::new(
            "the EMV data says the host was not reached, and the host checks fail too",
            "EMV 数据表明未能连接主机，主机检查也失败",
        ),
        (Checks::Host, false, true) => Text::new(
            "the EMV data says the host was not reached; the host checks pass now, so the outage was brief or on the acquirer's side",
            "EMV 数据表明未能连接主机；目前主机检查正常，说明故障是短暂的或在收单机构一侧",
        ),
        (Checks::Reader, true, _) => Text::new(
            "the EMV data points at the card reader, and the reader checks fail too",
            "EMV 数据指向读卡器，读卡器检查也失败",
        ),
        (Checks::Reader, false, true) => Text::new(
            "the EMV data points at the card reader; the reader checks pass now, so the card itself is the likelier cause: try another card",
            "EMV 数据指向读卡器；目前读卡器检查正常，因此更可能是卡片本身的问题：请换一张卡",
        ),
        (Checks::None, _, _) => Text::new(
            "read from the transaction's EMV data; no check of the terminal can see this",
            "从交易的 EMV 数据读出；终端检查无法看到这一点",
        ),
        _ => Text::new(
            "read from the transaction's EMV data; the checks that would confirm it did not run",
            "从交易的 EMV 数据读出；可确认它的检查未运行",
        ),
    };
    pb::Cause {
        rank: 0,
        title: posdiag_core::mask_card_numbers(c.cause.get(lang)),
        verdict: convert::verdict(emv_verdict(c)),
        reason: format!("emv.{}", c.id),
        check: "emv".into(),
        subject: c.evidence.join(", "),
        evidence: Vec::new(),
        remedies: c
            .remedies
            .iter()
            .map(|r| pb::Remedy {
                actor: convert::actor(r.actor),
                text: r.text.get(lang).to_owned(),
            })
            .collect(),
        why: why.get(lang).to_owned(),
    }
}

/// A symptom as the doctor reads it.
#[derive(Debug, Default)]
struct Read {
    /// The key the stages below branch on: a code, "unsupported-id",
    /// "card-declined", "card-unreadable", or empty (the full check-up or a
    /// named symptom).
    key: String,
    /// The other named symptoms (no connection, not responding, slow,
    /// payments failing, advice), which run their own stages.
    named: Option<Symptom>,
    /// A full check-up: nothing given, "payments-failing", or text that fits
    /// no symptom (plugin checks outside the stages run too).
    full: bool,
    /// The best match of free text.
    matched: Option<pb::SymptomMatch>,
    /// How free text was read, in words.
    note: String,
}

/// Reads the symptom as given: an id or a code as it is, free text through
/// the matcher (`posdiag-symptoms`), as SymptomService answers it.
fn read_symptom(
    text: &str,
    kb: &posdiag_codes::KnowledgeBase,
    prefer: Option<&posdiag_codes::Scheme>,
    lang: Lang,
) -> Read {
    use posdiag_symptoms::Reading;
    let (symptom, matched, note) = match posdiag_symptoms::read(text, kb) {
        Reading::Nothing => return Read::default(),
        Reading::Exact(s) => (s, None, String::new()),
        Reading::Matched(m) => {
            let note = posdiag_api::symptoms::read_as(text, &m.symptom, kb, prefer);
            (
                m.symptom.clone(),
                Some(posdiag_api::symptoms::symptom_match(&m, kb, prefer, lang)),
                posdiag_core::mask_card_numbers(note.get(lang)),
            )
        }
        Reading::Unplaced => {
            return Read {
                full: true,
                note: posdiag_core::mask_card_numbers(
                    posdiag_api::symptoms::unplaced(text).get(lang),
                ),
                ..Read::default()
            };
        }
    };
    let (key, named) = match &symptom {
        Symptom::Code(c) => (c.clone(), None),
        Symptom::UnsupportedId | Symptom::CardDeclined | Symptom::CardUnreadable => {
            (symptom.name().to_owned(), None)
        }
        other => (String::new(), Some(other.clone())),
    };
    Read {
        key,
        full: symptom == Symptom::PaymentsFailing,
        named,
        matched,
        note,
    }
}

/// The cause of an advice-only symptom: who to contact, since no check
/// answers it.
fn advice_cause(s: &Symptom, lang: Lang) -> pb::Cause {
    let kb = posdiag_codes::KnowledgeBase::builtin();
    pb::Cause {
        rank: 0,
        title: s.title(&kb, None).get(lang).to_owned(),
        verdict: convert::verdict(Verdict::Unknown),
        reason: format!("symptom.{}", s.name()),
        check: String::new(),
        subject: String::new(),
        evidence: Vec::new(),
        remedies: s
            .advice()
            .iter()
            .map(|r| pb::Remedy {
                actor: convert::actor(r.actor),
                text: r.text.get(lang).to_owned(),
            })
            .collect(),
        why: Text::new(
            "no check of the terminal, its links or its hosts can answer this; the people named can",
            "终端、连接和主机的检查都无法回答这个问题；请联系下列人员",
        )
        .get(lang)
        .to_owned(),
    }
}

/// Ranks the causes: an invalid ID first (it explains the symptom by
/// itself), then failures by severity and, among equals, the earlier layer
/// (a dead link explains everything above it); with nothing failing, the
/// symptom code's own known causes. With EMV data, the failures that
/// confirm one of its causes come first, then the data's causes by weight,
/// then the other failures.
fn diagnose(
    findings: &[(usize, Finding)],
    skipped: Vec<String>,
    id: Option<&posdiag_ids::Validation>,
    codes: &[posdiag_codes::Entry],
    emv: &[posdiag_emv::Cause],
    advice: Option<&Symptom>,
    lang: Lang,
) -> pb::Diagnosis {
    let mut causes = Vec::new();
    if let Some(s) = advice {
        causes.push(advice_cause(s, lang));
    }
    if let Some(v) = id {
        let posdiag_ids::Texts {
            message,
            expected,
            suggestion,
            ..
        } = v.texts();
        causes.push(pb::Cause {
            rank: 0,
            title: posdiag_core::mask_card_numbers(message.get(lang)),
            verdict: convert::verdict(Verdict::Critical),
            reason: v
                .reason
                .map(|r| r.code().to_owned())
                .unwrap_or_else(|| "id.invalid".into()),
            check: "id.validate".into(),
            subject: posdiag_core::mask_card_numbers(&v.display),
            evidence: Vec::new(),
            remedies: vec![pb::Remedy {
                actor: pb::Actor::Merchant as i32,
                text: Text::new(
                    format!(
                        "{} (expected: {})",
                        suggestion.get(Lang::En),
                        expected.get(Lang::En)
                    ),
                    format!(
                        "{}（要求：{}）",
                        suggestion.get(Lang::ZhCn),
                        expected.get(Lang::ZhCn)
                    ),
                )
                .get(lang)
                .to_owned(),
            }],
            why: if v.kind == Some(posdiag_ids::Kind::Paycode) {
                Text::new(
                    "a payment code is no customer ID, which alone produces \"unsupported customer ID\"",
                    "付款码不是客户号，这本身就会导致“不支持的客户ID”",
                )
            } else {
                Text::new(
                    "the ID breaks the terminal's rules, which alone produces \"unsupported customer ID\"",
                    "该 ID 不符合终端的规则，这本身就会导致“不支持的客户ID”",
                )
            }
            .get(lang)
            .to_owned(),
        });
    }
    let mut failing: Vec<&(usize, Finding)> = findings
        .iter()
        .filter(|(_, f)| {
            matches!(
                f.verdict,
                Verdict::Critical | Verdict::Error | Verdict::Warning
            ) && f.reason != Reason::CheckSkipped
                && f.reason != Reason::CheckCancelled
        })
        .collect();
    failing.sort_by_key(|(order, f)| (std::cmp::Reverse(severity(f.verdict)), *order));
    let emv_problems: Vec<&posdiag_emv::Cause> = emv
        .iter()
        .filter(|c| c.weight >= posdiag_emv::explain::PROBLEM_WEIGHT)
        .collect();
    // Failures that confirm an EMV cause first, then the EMV causes, then the rest.
    type Failing<'a> = Vec<&'a (usize, Finding)>;
    let (first, rest): (Failing, Failing) = failing
        .iter()
        .partition(|(_, f)| emv_problems.iter().any(|c| confirms(&f.check, c.checks)));
    let emv_at = first.len();
    let all_failing = failing.clone();
    failing = first.into_iter().chain(rest).collect();
    for (i, (_, f)) in failing.iter().enumerate() {
        if i == emv_at {
            for c in &emv_problems {
                causes.push(emv_cause(c, findings, &all_failing, lang));
            }
        }
        let pf = convert::finding(f, lang);
        let why = if i == 0 {
            Text::new(
                "the most severe failure, in the most basic layer that failed",
                "最严重的故障，且位于出错的最底层",
            )
        } else {
            Text::new(
                "also failing; may follow from the causes above",
                "同样失败；可能由上面的原因导致",
            )
        }
        .get(lang)
        .to_owned();
        causes.push(pb::Cause {
            rank: 0,
            title: pf.summary.clone(),
            verdict: pf.verdict,
            reason: pf.reason.clone(),
            check: pf.check.clone(),
            subject: pf.subject.clone(),
            evidence: pf.evidence.clone(),
            remedies: pf.remedies.clone(),
            why,
        });
    }
    if failing.len() <= emv_at {
        for c in &emv_problems {
            causes.push(emv_cause(c, findings, &all_failing, lang));
        }
    }
    let ruled_out: Vec<String> = findings
        .iter()
        .filter(|(_, f)| f.verdict == Verdict::Ok)
        .map(|(_, f)| posdiag_core::mask_card_numbers(&format!("{} {}", f.check, f.subject)))
        .collect();
    if causes.is_empty() {
        // Everything checked is fine: the symptom's own causes remain.
        if let Some(e) = codes.first() {
            for c in &e.causes {
                causes.push(pb::Cause {
                    rank: 0,
                    title: c.get(lang).to_owned(),
                    verdict: convert::verdict(Verdict::Unknown),
                    reason: format!("{}:{}", e.scheme.name(), e.code),
                    check: String::new(),
                    subject: e.meaning.get(lang).to_owned(),
                    evidence: Vec::new(),
                    remedies: e
                        .remedies
                        .iter()
                        .map(|r| pb::Remedy {
                            actor: convert::actor(r.actor),
                            text: r.text.get(lang).to_owned(),
                        })
                        .collect(),
                    why: Text::new(
                        "the terminal, its links and its hosts check out; this is what the code itself means",
                        "终端、连接和主机检查均正常；这是该代码本身的含义",
                    )
                    .get(lang)
                    .to_owned(),
                });
            }
        }
    }
    for (i, c) in causes.iter_mut().enumerate() {
        c.rank = i as u32 + 1;
    }
    let overall = Verdict::worst(
        findings
            .iter()
            .map(|(_, f)| f.verdict)
            .chain(emv_verdicts(emv)),
    )
    .map(convert::verdict)
    .unwrap_or(0);
    let summary = match causes.first() {
        Some(c) if advice.is_some() => Text::new(
            format!(
                "no check of the terminal answers this: {}; who to contact is below",
                c.title
            ),
            format!("终端检查无法回答这个问题：{}；联系谁见下文", c.title),
        ),
        Some(c) if c.verdict != convert::verdict(Verdict::Unknown) => Text::new(
            format!("most likely cause: {}", c.title),
            format!("最可能的原因：{}", c.title),
        ),
        Some(c) => Text::new(
            format!(
                "no fault found in the terminal or its connections; the code points to: {}",
                c.title
            ),
            format!("终端及其连接未发现故障；该代码指向：{}", c.title),
        ),
        None => Text::new("no fault found", "未发现故障"),
    };
    pb::Diagnosis {
        overall,
        causes,
        summary: posdiag_core::mask_card_numbers(summary.get(lang)),
        ruled_out,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_code_passing_a_loose_rule_set_is_refused_not_forwarded() {
        let loose = posdiag_ids::RuleSet::new("digits")
            .with_charset(posdiag_ids::Charset::Digits)
            .with_lengths(Some(16), Some(24));
        let v = posdiag_ids::validate(
            b"134567890123456789",
            posdiag_ids::KindSel::Auto,
            Some(&loose),
        );
        assert!(v.valid, "{v:?}");
        assert!(is_paycode(&v));
        let refused = paycode_refused(&v);
        assert!(!refused.valid);
        assert_eq!(refused.reason, Some(posdiag_ids::IdReason::Unsupported));
        assert!(
            !refused.display.contains("4567890123"),
            "{}",
            refused.display
        );
        let d = diagnose(&[], Vec::new(), Some(&refused), &[], &[], None, Lang::ZhCn);
        assert_eq!(d.causes[0].check, "id.validate");
        assert!(d.causes[0].why.contains("付款码"), "{:?}", d.causes[0]);
        assert!(!d.causes[0].subject.contains("4567890123"));

        // A customer number that is no payment code is looked up as before.
        let v = posdiag_ids::validate(
            b"9912345678901234",
            posdiag_ids::KindSel::Auto,
            Some(&loose),
        );
        assert!(v.valid && !is_paycode(&v), "{v:?}");
    }
}
