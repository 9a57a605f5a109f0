//! The one place that decides which gRPC status a failed request gets.

use posdiag_engine::EngineError;
use tonic::{Code, Status};

/// A request the API cannot serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The engine refused the request.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A request field is invalid.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The proto field name.
        field: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },
    /// A service this daemon was built without.
    #[error("{0} is not available in this daemon")]
    NotServed(&'static str),
    /// The plugin a request needs is not loaded.
    #[error(
        "plugin {id:?} is not loaded; install its bundle in the plugin directory (sh plugins/assemble.sh DIR, then posdiagd --plugin-dir DIR) and see `posdiag plugins`"
    )]
    PluginNotLoaded {
        /// The plugin id.
        id: String,
    },
    /// No plugin has that id.
    #[error("no plugin {id:?}; known plugins: {}", if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownPlugin {
        /// The id asked for.
        id: String,
        /// The ids there are.
        known: Vec<String>,
    },
}

impl ApiError {
    /// An invalid request field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = match &e {
            ApiError::InvalidArgument { .. } => Code::InvalidArgument,
            ApiError::Engine(EngineError::InvalidId { .. } | EngineError::UnknownCheck { .. }) => {
                Code::InvalidArgument
            }
            ApiError::Engine(EngineError::NotFound { .. }) | ApiError::UnknownPlugin { .. } => {
                Code::NotFound
            }
            ApiError::Engine(EngineError::Busy { .. }) => Code::ResourceExhausted,
            ApiError::PluginNotLoaded { .. } => Code::FailedPrecondition,
            ApiError::NotServed(_) => Code::Unavailable,
            ApiError::Engine(EngineError::ShuttingDown) => Code::Unavailable,
            ApiError::Engine(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_gets_the_status_a_client_can_act_on() {
        let nf = EngineError::NotFound {
            id: "T9".into(),
            known: vec!["T1".into(), "T2".into()],
        };
        let s = Status::from(ApiError::from(nf));
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(
            s.message(),
            "unknown terminal \"T9\"; configured terminals: T1, T2"
        );
        assert_eq!(
            Status::from(ApiError::invalid("terminal_id", "is required")).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            Status::from(ApiError::from(EngineError::ShuttingDown)).code(),
            Code::Unavailable
        );
        assert_eq!(
            Status::from(ApiError::from(EngineError::Busy { limit: 2 })).code(),
            Code::ResourceExhausted
        );
    }
}
