//! The engine's errors: requests it cannot serve. A failing host is not an
//! error; it is a finding, and so is a run that shutdown cancelled
//! ([`cancelled_by_shutdown`]).

use posdiag_core::{IdError, Text};

/// The summary of the `check.cancelled` finding a run ends with when posdiagd shuts down
/// under it (host, link and plugin checks alike).
pub(crate) fn cancelled_by_shutdown() -> Text {
    let why = EngineError::ShuttingDown.text();
    Text::new(
        format!("cancelled: {}", why.en),
        format!("已取消：{}", why.zh),
    )
}

/// A request the engine cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The terminal id is malformed.
    #[error("invalid terminal id {}: {source}", posdiag_core::quote(id))]
    InvalidId {
        /// The id given.
        id: String,
        /// What is wrong with it.
        #[source]
        source: IdError,
    },
    /// No terminal has that id.
    #[error("unknown terminal {}; configured terminals: {}", posdiag_core::quote(id), if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    NotFound {
        /// The id given.
        id: String,
        /// The configured ids.
        known: Vec<String>,
    },
    /// No check has that id.
    #[error("unknown check {}; known checks: {}", posdiag_core::quote(id), known.join(", "))]
    UnknownCheck {
        /// The id given.
        id: String,
        /// The known check ids.
        known: Vec<String>,
    },
    /// Too many ad-hoc probes are running.
    #[error("too many probes in flight (at most {limit}); retry when one has finished")]
    Busy {
        /// The limit.
        limit: usize,
    },
    /// An ad-hoc serial probe named something that is not a serial port.
    #[error("{0}")]
    NotSerial(#[from] posdiag_transport::NotSerial),
    /// The engine is shutting down.
    #[error("posdiagd is shutting down")]
    ShuttingDown,
}

impl EngineError {
    /// The message in every language; the English is the `Display` text.
    pub fn text(&self) -> Text {
        let none = |known: &[String]| {
            if known.is_empty() {
                "无".to_owned()
            } else {
                known.join(", ")
            }
        };
        let zh = match self {
            EngineError::InvalidId { id, source } => format!(
                "终端 ID {} 无效：{}",
                posdiag_core::quote(id),
                source.text().zh
            ),
            EngineError::NotFound { id, known } => format!(
                "未知终端 {}；已配置的终端：{}",
                posdiag_core::quote(id),
                none(known)
            ),
            EngineError::UnknownCheck { id, known } => format!(
                "未知检查 {}；已知检查：{}",
                posdiag_core::quote(id),
                known.join(", ")
            ),
            EngineError::Busy { limit } => {
                format!("进行中的探测过多（最多 {limit} 个）；请等其中一个结束后重试")
            }
            EngineError::NotSerial(e) => not_serial_zh(e),
            EngineError::ShuttingDown => "posdiagd 正在关闭".to_owned(),
        };
        Text::new(self.to_string(), zh)
    }
}

/// [`posdiag_transport::NotSerial`] in Chinese (the transport crate has no
/// [`Text`]; its `Display` is the English).
fn not_serial_zh(e: &posdiag_transport::NotSerial) -> String {
    use posdiag_transport::NotSerial;
    match e {
        NotSerial::Missing(path) => format!("{path}：没有这个设备"),
        NotSerial::NotADevice(path) => {
            format!("{path} 不是设备；应为串口，例如 /dev/ttyUSB0 或 /dev/ttyS0")
        }
        NotSerial::OtherDevice { path, what } => format!(
            "{path} 是设备但不是串口（{what}）；应为串口，例如 /dev/ttyUSB0、/dev/ttyACM0 或 /dev/ttyS0"
        ),
        other => format!("不是串口：{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shutdown_texts_are_one_sentence() {
        assert_eq!(
            cancelled_by_shutdown(),
            Text::new(
                "cancelled: posdiagd is shutting down",
                "已取消：posdiagd 正在关闭"
            )
        );
    }

    #[test]
    fn every_error_has_english_and_chinese_text() {
        let all = [
            EngineError::InvalidId {
                id: "a b".into(),
                source: posdiag_core::IdError::BadChar(' '),
            },
            EngineError::NotFound {
                id: "T9".into(),
                known: vec![],
            },
            EngineError::UnknownCheck {
                id: "x".into(),
                known: vec!["tcp".into()],
            },
            EngineError::Busy { limit: 2 },
            EngineError::NotSerial(posdiag_transport::NotSerial::Missing("/dev/x".into())),
            EngineError::ShuttingDown,
        ];
        for e in all {
            let t = e.text();
            assert_eq!(t.en, e.to_string());
            assert!(!t.zh.is_empty() && t.zh != t.en, "{e:?}: {t:?}");
        }
        for e in [
            posdiag_core::IdError::Empty,
            posdiag_core::IdError::TooLong(65),
            posdiag_core::IdError::BadChar('/'),
        ] {
            assert!(!e.text().zh.is_empty() && e.text().en == e.to_string());
        }
    }
}
