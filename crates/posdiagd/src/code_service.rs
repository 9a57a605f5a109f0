//! `CodeService`: the code knowledge base over gRPC, with each terminal's
//! configured dialect put first.

use std::sync::Arc;

use pb::code_service_server::CodeService;
use posdiag_codes::{KnowledgeBase, Scheme};
use posdiag_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::config::TerminalConfig;
use crate::convert;
use crate::live::LiveConfig;
use crate::status::{self, ApiError, OrStatus as _};

/// The code service.
#[derive(Debug, Clone)]
pub struct Codes {
    live: LiveConfig,
}

impl Codes {
    /// A service over the configured code tables; a terminal's `dialect`
    /// is put first for it. Both follow reloads.
    pub(crate) fn new(live: LiveConfig) -> Codes {
        Codes { live }
    }

    fn kb(&self) -> Arc<KnowledgeBase> {
        self.live.now().codes.clone()
    }

    fn scheme(&self, name: &str) -> Result<Scheme, ApiError> {
        let kb = self.kb();
        name.parse::<Scheme>()
            .ok()
            .filter(|s| kb.entries(s).is_some())
            .ok_or_else(|| {
                let known: Vec<&str> = kb.schemes().iter().map(|s| s.name()).collect();
                ApiError::invalid(
                    "scheme",
                    format!(
                        "unknown scheme {}; known schemes: {}",
                        posdiag_core::quote(name),
                        known.join(", ")
                    ),
                    format!(
                        "未知代码体系 {}；已知代码体系：{}",
                        posdiag_core::quote(name),
                        known.join(", ")
                    ),
                )
            })
    }
}

#[tonic::async_trait]
impl CodeService for Codes {
    async fn explain_code(
        &self,
        req: Request<pb::ExplainCodeRequest>,
    ) -> Result<Response<pb::ExplainCodeResponse>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        if r.code.trim().is_empty() {
            return Err(ApiError::invalid(
                "code",
                "is required, for example \"103\" or \"0x6C\"",
                "必填，例如 \"103\" 或 \"0x6C\"",
            )
            .into_status(lang));
        }
        let only = if r.scheme.is_empty() {
            None
        } else {
            Some(self.scheme(&r.scheme).or_status(lang)?)
        };
        let prefer =
            terminal_dialect(&self.live.now().terminals, &r.terminal_id).or_status(lang)?;
        Ok(Response::new(convert::explain(
            &self.kb(),
            &r.code,
            only.as_ref(),
            prefer.as_ref(),
            lang,
        )))
    }

    async fn list_schemes(
        &self,
        _req: Request<pb::ListSchemesRequest>,
    ) -> Result<Response<pb::ListSchemesResponse>, Status> {
        let kb = self.kb();
        let schemes = kb
            .schemes()
            .into_iter()
            .map(|s| pb::SchemeInfo {
                name: s.name().to_owned(),
                codes: kb.entries(s).map_or(0, |e| e.len() as u32),
                vendor: s.vendor_id().is_some(),
            })
            .collect();
        Ok(Response::new(pb::ListSchemesResponse { schemes }))
    }

    async fn search_codes(
        &self,
        req: Request<pb::SearchCodesRequest>,
    ) -> Result<Response<pb::SearchCodesResponse>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        if r.text.trim().is_empty() {
            return Err(ApiError::invalid(
                "text",
                "is required, for example \"frozen\" or \"冻结\"",
                "必填，例如 \"frozen\" 或 \"冻结\"",
            )
            .into_status(lang));
        }
        let entries = self
            .kb()
            .search(&r.text)
            .into_iter()
            .map(|e| convert::code_entry(e, lang, ""))
            .collect();
        Ok(Response::new(pb::SearchCodesResponse { entries }))
    }
}

/// The code dialect of the terminal `terminal_id` names (`None` when the
/// request names none, or the terminal has no dialect), or an
/// `INVALID_ARGUMENT` listing the configured terminals: shared by
/// `ExplainCode` and `MatchSymptom`, which both read codes in a terminal's
/// dialect first.
pub(crate) fn terminal_dialect(
    terminals: &[TerminalConfig],
    terminal_id: &str,
) -> Result<Option<Scheme>, ApiError> {
    if terminal_id.is_empty() {
        return Ok(None);
    }
    let Some(t) = TerminalConfig::find(terminals, terminal_id) else {
        let ids: Vec<&str> = terminals.iter().map(|t| t.spec.id.as_str()).collect();
        return Err(ApiError::invalid(
            "terminal_id",
            format!(
                "unknown terminal {}; configured terminals: {}",
                posdiag_core::quote(terminal_id),
                ids.join(", ")
            ),
            format!(
                "未知终端 {}；已配置的终端：{}",
                posdiag_core::quote(terminal_id),
                ids.join(", ")
            ),
        ));
    };
    Ok(t.dialect.clone())
}
