//! `IdService`: identifier validation over gRPC. The validation itself is
//! `posdiag_ids`; this module resolves kinds and rule sets from the request
//! and the configuration, and streams.

use std::pin::Pin;
use std::sync::Arc;

use pb::id_service_server::IdService;
use posdiag_core::Lang;
use posdiag_ids::{Kind, KindSel, RuleSet};
use posdiag_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::config::TerminalConfig;
use crate::convert;
use crate::live::LiveConfig;
use crate::status::{self, ApiError, OrStatus as _};

/// The identifier service, with the configured rule sets.
#[derive(Debug, Clone)]
pub struct Ids {
    live: LiveConfig,
}

/// What a request asks for, resolved.
#[derive(Debug, Clone)]
struct Plan {
    kind: KindSel,
    rules: Option<Arc<RuleSet>>,
    lang: Lang,
}

impl Ids {
    /// A service over the configured rule sets and terminals (each with
    /// its `id_rules`, if any), as of each request (they follow reloads).
    pub(crate) fn new(live: LiveConfig) -> Ids {
        Ids { live }
    }

    fn plan(&self, r: &pb::ValidateIdRequest) -> Result<Plan, ApiError> {
        let live = self.live.now();
        let (rule_sets, terminals) = (&live.rule_sets, &live.terminals);
        let lang = convert::lang(&r.lang)?;
        let kind: KindSel = r.kind.parse().map_err(|e: String| {
            let zh = format!("无法识别的 ID 类型（{e}）");
            ApiError::invalid("kind", e, zh)
        })?;
        if !r.rules.is_empty() && !r.terminal_id.is_empty() {
            return Err(ApiError::invalid(
                "rules",
                "set either rules or terminal_id, not both",
                "rules 和 terminal_id 只能设置其一",
            ));
        }
        let rules = if !r.rules.is_empty() {
            Some(rule_sets.get(&r.rules).cloned().ok_or_else(|| {
                ApiError::invalid(
                    "rules",
                    format!(
                        "no rule set called {}; configured rule sets: {}",
                        posdiag_core::quote(&r.rules),
                        list(rule_sets.keys().map(String::as_str), "none")
                    ),
                    format!(
                        "没有名为 {} 的规则集；已配置的规则集：{}",
                        posdiag_core::quote(&r.rules),
                        list(rule_sets.keys().map(String::as_str), "无")
                    ),
                )
            })?)
        } else if !r.terminal_id.is_empty() {
            let Some(terminal) = TerminalConfig::find(terminals, &r.terminal_id) else {
                return Err(ApiError::invalid(
                    "terminal_id",
                    format!(
                        "unknown terminal {}; configured terminals: {}",
                        posdiag_core::quote(&r.terminal_id),
                        list(terminals.iter().map(|t| t.spec.id.as_str()), "none")
                    ),
                    format!(
                        "未知终端 {}；已配置的终端：{}",
                        posdiag_core::quote(&r.terminal_id),
                        list(terminals.iter().map(|t| t.spec.id.as_str()), "无")
                    ),
                ));
            };
            match &terminal.id_rules {
                Some(rules) => Some(rules.clone()),
                None => {
                    return Err(ApiError::invalid(
                        "terminal_id",
                        format!(
                            "terminal {} has no id_rules in the configuration",
                            posdiag_core::quote(&r.terminal_id)
                        ),
                        format!(
                            "终端 {} 在配置中没有 id_rules",
                            posdiag_core::quote(&r.terminal_id)
                        ),
                    ));
                }
            }
        } else {
            None
        };
        Ok(Plan { kind, rules, lang })
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>, none: &str) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        none.into()
    } else {
        v.join(", ")
    }
}

/// The settings of a ValidateIds message: kind, rules, terminal, language.
fn settings(m: &pb::ValidateIdRequest) -> [String; 4] {
    [
        m.kind.clone(),
        m.rules.clone(),
        m.terminal_id.clone(),
        m.lang.clone(),
    ]
}

/// A later message of a ValidateIds stream may leave the settings empty or
/// repeat the first message's; anything else (a kind that does not exist, a
/// different rule set) is refused rather than silently ignored.
fn same_settings(
    first: &[String; 4],
    m: &pb::ValidateIdRequest,
    index: u64,
) -> Result<(), ApiError> {
    const FIELDS: [&str; 4] = ["kind", "rules", "terminal_id", "lang"];
    for ((field, want), got) in FIELDS.iter().zip(first).zip(settings(m)) {
        if !got.is_empty() && &got != want {
            return Err(ApiError::invalid(
                field,
                format!(
                    "message {index} sets {field} {} but the stream's first message set {}; set kind, rules, terminal_id and lang in the first message (later ones may leave them empty or repeat them)",
                    posdiag_core::quote(&got),
                    posdiag_core::quote(want)
                ),
                format!(
                    "第 {index} 条消息把 {field} 设为 {}，但流的第一条消息设的是 {}；请在第一条消息中设置 kind、rules、terminal_id 和 lang（之后的消息可以留空或重复）",
                    posdiag_core::quote(&got),
                    posdiag_core::quote(want)
                ),
            ));
        }
    }
    Ok(())
}

fn validate(plan: &Plan, value: &[u8], index: u64) -> pb::IdResult {
    let v = posdiag_ids::validate(value, plan.kind, plan.rules.as_deref());
    convert::id_result(&v, plan.lang, index)
}

type IdStream =
    Pin<Box<dyn Stream<Item = Result<pb::ValidateIdsResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl IdService for Ids {
    async fn validate_id(
        &self,
        req: Request<pb::ValidateIdRequest>,
    ) -> Result<Response<pb::IdResult>, Status> {
        let lang = status::answer_lang(&req, &req.get_ref().lang);
        let plan = self.plan(req.get_ref()).or_status(lang)?;
        Ok(Response::new(validate(&plan, &req.get_ref().value, 0)))
    }

    type ValidateIdsStream = IdStream;

    async fn validate_ids(
        &self,
        req: Request<Streaming<pb::ValidateIdRequest>>,
    ) -> Result<Response<Self::ValidateIdsStream>, Status> {
        let header = status::metadata_lang(req.metadata());
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel(256);
        let service = self.clone();
        // A client that opens the stream and then sends nothing holds a
        // task and a slot of its limits: ended after `[limits]
        // stream_idle_timeout_s`.
        let idle = self.live.now().auth.limits.stream_idle;
        tokio::spawn(async move {
            use pb::validate_ids_response::Item;
            let mut plan: Option<(Plan, [String; 4])> = None;
            let mut summary = pb::IdSummary::default();
            loop {
                let Ok(next) = tokio::time::timeout(idle, input.next()).await else {
                    let secs = idle.as_secs();
                    let text = posdiag_core::Text::new(
                        format!(
                            "the client sent nothing for {secs} s ([limits] stream_idle_timeout_s); the stream is closed"
                        ),
                        format!(
                            "客户端 {secs} 秒内没有发送任何内容（[limits] stream_idle_timeout_s）；该流已关闭"
                        ),
                    );
                    let _ = tx
                        .send(Err(Status::deadline_exceeded(text.get(header).to_owned())))
                        .await;
                    return;
                };
                let Some(msg) = next else { break };
                let msg = match msg {
                    Ok(m) => m,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                let current = match &plan {
                    Some((p, first)) => {
                        if let Err(e) = same_settings(first, &msg, summary.total) {
                            let _ = tx.send(Err(e.into_status(p.lang))).await;
                            return;
                        }
                        p.clone()
                    }
                    None => match service.plan(&msg) {
                        Ok(p) => {
                            plan = Some((p.clone(), settings(&msg)));
                            p
                        }
                        Err(e) => {
                            let lang = status::field_or(&msg.lang, header);
                            let _ = tx.send(Err(e.into_status(lang))).await;
                            return;
                        }
                    },
                };
                let result = validate(&current, &msg.value, summary.total);
                summary.total += 1;
                if result.valid {
                    summary.valid += 1;
                } else {
                    *summary.by_reason.entry(result.reason.clone()).or_insert(0) += 1;
                }
                if tx
                    .send(Ok(pb::ValidateIdsResponse {
                        item: Some(Item::Result(result)),
                    }))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let _ = tx
                .send(Ok(pb::ValidateIdsResponse {
                    item: Some(Item::Summary(summary)),
                }))
                .await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn list_kinds(
        &self,
        req: Request<pb::ListKindsRequest>,
    ) -> Result<Response<pb::ListKindsResponse>, Status> {
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        let kinds = Kind::ALL
            .iter()
            .map(|&k| convert::id_kind(k, lang))
            .collect();
        Ok(Response::new(pb::ListKindsResponse { kinds }))
    }

    async fn list_rule_sets(
        &self,
        _req: Request<pb::ListRuleSetsRequest>,
    ) -> Result<Response<pb::ListRuleSetsResponse>, Status> {
        let live = self.live.now();
        let rule_sets = live
            .rule_sets
            .values()
            .map(|r| {
                // By terminal id, not configuration order.
                let mut users: Vec<String> = live
                    .terminals
                    .iter()
                    .filter(|t| t.id_rules.as_ref().is_some_and(|u| u.name == r.name))
                    .map(|t| t.spec.id.to_string())
                    .collect();
                users.sort();
                convert::rule_set(r, users)
            })
            .collect();
        Ok(Response::new(pb::ListRuleSetsResponse { rule_sets }))
    }
}
