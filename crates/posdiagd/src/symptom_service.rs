//! `SymptomService`: a symptom in people's own words ranked to the
//! symptoms the doctor diagnoses, through the same `posdiag-api` function
//! `posdiag symptom --local` prints with; a terminal's dialect explains
//! codes first.

use pb::symptom_service_server::SymptomService;
use posdiag_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::live::LiveConfig;
use crate::status::{self, ApiError, OrStatus as _};

/// The symptom service.
#[derive(Debug, Clone)]
pub struct Symptoms {
    live: LiveConfig,
}

impl Symptoms {
    /// A service over the configured code tables and terminals (their
    /// dialects); both follow reloads.
    pub(crate) fn new(live: LiveConfig) -> Symptoms {
        Symptoms { live }
    }
}

#[tonic::async_trait]
impl SymptomService for Symptoms {
    async fn match_symptom(
        &self,
        req: Request<pb::MatchSymptomRequest>,
    ) -> Result<Response<pb::MatchSymptomResponse>, Status> {
        let r = req.get_ref();
        let lang = status::request_lang(&req, &r.lang)?;
        if r.text.trim().is_empty() {
            return Err(ApiError::invalid(
                "text",
                "is required: what the person saw, for example \"收不了款\" or \"card declined\"",
                "必填：看到的现象，例如 \"收不了款\" 或 \"card declined\"",
            )
            .into_status(lang));
        }
        let max = posdiag_api::symptoms::MAX_TEXT_BYTES;
        if r.text.len() > max {
            return Err(ApiError::invalid(
                "text",
                format!("is {} bytes long; at most {max}", r.text.len()),
                format!("长度为 {} 字节；最多 {max} 字节", r.text.len()),
            )
            .into_status(lang));
        }
        let live = self.live.now();
        let prefer = crate::code_service::terminal_dialect(&live.terminals, &r.terminal_id)
            .or_status(lang)?;
        Ok(Response::new(posdiag_api::symptoms::match_response(
            &r.text,
            &live.codes,
            prefer.as_ref(),
            lang,
        )))
    }
}
