//! `EmvService`: EMV data decoded and explained over gRPC. Stateless: the
//! answer depends only on the request, through the same `posdiag-api`
//! functions `posdiag emv decode --local` prints with.

use pb::emv_service_server::EmvService;
use posdiag_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::status::{self, ApiError};

/// The EMV service.
#[derive(Debug, Clone, Default)]
pub struct Emv;

fn invalid(e: &posdiag_api::emv::InputError) -> ApiError {
    let t = posdiag_api::emv::error_text(e);
    ApiError::invalid(posdiag_api::emv::error_field(e), t.en, t.zh)
}

#[tonic::async_trait]
impl EmvService for Emv {
    async fn decode(
        &self,
        req: Request<pb::DecodeEmvRequest>,
    ) -> Result<Response<pb::DecodeEmvResponse>, Status> {
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        let input = req.get_ref().input.clone().unwrap_or_default();
        posdiag_api::emv::decode_response(&input, lang)
            .map(Response::new)
            .map_err(|e| invalid(&e).into_status(lang))
    }

    async fn explain(
        &self,
        req: Request<pb::ExplainEmvRequest>,
    ) -> Result<Response<pb::ExplainEmvResponse>, Status> {
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        let input = req.get_ref().input.clone().unwrap_or_default();
        posdiag_api::emv::explain_response(&input, lang)
            .map(Response::new)
            .map_err(|e| invalid(&e).into_status(lang))
    }
}
