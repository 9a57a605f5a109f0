//! The console's way into the daemon: the gRPC API itself, called in
//! process. The same routes every listener serves, behind the same auth
//! layer (`Listener::Console`: the console's principal and the tier it
//! grants, the per-principal limits, the audit row) and the same egress
//! mask — so the console has no second copy of any logic, and the audit
//! trail shows what the people at the counter did as `console` calls.

use posdiag_core::Lang;
use posdiag_proto::v1 as pb;
use tonic::service::Routes;

use crate::auth::layer::{Auth, AuthLayer, AuthState, ConsoleCaller, Listener};
use crate::metrics::{Counted, GrpcCounters, GrpcMetricsLayer};
use crate::status::{Egress, EgressLayer};

/// The routes as the console reaches them.
pub type Channel = Counted<Auth<Egress<Routes>>>;

/// The API, in process.
#[derive(Debug, Clone)]
pub struct Api {
    channel: Channel,
}

impl Api {
    /// The API over `routes`, authorised by `auth` as the console, its calls
    /// counted in `/metrics` with every listener's (`grpc`).
    pub fn new(
        routes: Routes,
        auth: std::sync::Arc<AuthState>,
        grpc: std::sync::Arc<GrpcCounters>,
    ) -> Api {
        use tower::Layer;
        let channel = GrpcMetricsLayer::new(grpc)
            .layer(AuthLayer::new(auth, Listener::Console).layer(EgressLayer.layer(routes)));
        Api { channel }
    }

    /// A request for `who`.
    pub fn request<T>(msg: T, who: &ConsoleCaller, lang: Lang) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.extensions_mut().insert(who.clone());
        if let Ok(v) = lang.tag().parse() {
            r.metadata_mut().insert("posdiag-lang", v);
        }
        r
    }

    /// TerminalService.
    pub fn terminals(&self) -> pb::terminal_service_client::TerminalServiceClient<Channel> {
        pb::terminal_service_client::TerminalServiceClient::new(self.channel.clone())
    }

    /// CheckService.
    pub fn checks(&self) -> pb::check_service_client::CheckServiceClient<Channel> {
        pb::check_service_client::CheckServiceClient::new(self.channel.clone())
    }

    /// HistoryService.
    pub fn history(&self) -> pb::history_service_client::HistoryServiceClient<Channel> {
        pb::history_service_client::HistoryServiceClient::new(self.channel.clone())
    }

    /// IdService.
    pub fn ids(&self) -> pb::id_service_client::IdServiceClient<Channel> {
        pb::id_service_client::IdServiceClient::new(self.channel.clone())
    }

    /// CodeService.
    pub fn codes(&self) -> pb::code_service_client::CodeServiceClient<Channel> {
        pb::code_service_client::CodeServiceClient::new(self.channel.clone())
    }

    /// PluginService.
    pub fn plugins(&self) -> pb::plugin_service_client::PluginServiceClient<Channel> {
        pb::plugin_service_client::PluginServiceClient::new(self.channel.clone())
    }
}
