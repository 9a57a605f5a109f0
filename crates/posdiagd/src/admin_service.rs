//! AdminService: what changes the daemon's own state, at the admin tier
//! (`auth/tiers.rs`). `Reload` asks the same reload loop SIGHUP feeds
//! (`app.rs`) and answers with its outcome.

use std::sync::Arc;

use posdiag_core::Text;
use posdiag_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status};

use crate::reload::ReloadOutcome;
use crate::status;

/// A reload asked for over the API: the loop answers on the oneshot.
pub(crate) type ReloadAsk = oneshot::Sender<Arc<ReloadOutcome>>;

/// The service; `reloads` is `None` when the daemon has no file to read
/// again (the in-process demo).
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    reloads: Option<mpsc::Sender<ReloadAsk>>,
}

impl Admin {
    pub(crate) fn new(reloads: Option<mpsc::Sender<ReloadAsk>>) -> Admin {
        Admin { reloads }
    }
}

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for Admin {
    async fn reload(
        &self,
        req: Request<pb::ReloadRequest>,
    ) -> Result<Response<pb::ReloadState>, Status> {
        let lang = status::request_lang(&req, &req.get_ref().lang)?;
        let unavailable = || {
            Status::failed_precondition(
                Text::new(
                    "this posdiagd was started without a configuration file to read again (the demo runs in process); restart it instead",
                    "此 posdiagd 启动时没有可重新读取的配置文件（演示在进程内运行）；请改为重启它",
                )
                .get(lang)
                .to_owned(),
            )
        };
        let Some(tx) = &self.reloads else {
            return Err(unavailable());
        };
        let (reply, outcome) = oneshot::channel();
        tx.send(reply).await.map_err(|_| unavailable())?;
        let outcome = outcome.await.map_err(|_| {
            Status::unavailable(
                Text::new(
                    "posdiagd is shutting down; the reload did not run",
                    "posdiagd 正在关闭；重新加载没有执行",
                )
                .get(lang)
                .to_owned(),
            )
        })?;
        Ok(Response::new(crate::convert::reload_state(&outcome, lang)))
    }
}
