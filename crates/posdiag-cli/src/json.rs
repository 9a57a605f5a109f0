//! `--json`: messages in the canonical proto3 JSON mapping (lowerCamelCase
//! field names, enums by name, `Duration` as `"1.5s"`, `Timestamp` as
//! RFC 3339), produced by reflection over the daemon's own descriptors so the
//! JSON cannot drift from the `.proto` files.

use std::sync::OnceLock;

use posdiag_proto::v1;
use prost_reflect::{DescriptorPool, DynamicMessage};

use crate::error::CliError;

/// A generated message and its fully qualified protobuf name.
pub trait ProtoMessage: prost::Message {
    /// For example `posdiag.v1.Finding`.
    const FULL_NAME: &'static str;
}

macro_rules! proto_names {
    ($($ty:ty => $name:literal),* $(,)?) => {
        $(impl ProtoMessage for $ty { const FULL_NAME: &'static str = $name; })*
        #[cfg(test)]
        const ALL_NAMES: &[&str] = &[$($name),*];
    };
}

proto_names! {
    v1::Finding => "posdiag.v1.Finding",
    v1::CheckEvent => "posdiag.v1.CheckEvent",
    v1::Terminal => "posdiag.v1.Terminal",
    v1::ListTerminalsResponse => "posdiag.v1.ListTerminalsResponse",
    v1::GetHistoryResponse => "posdiag.v1.GetHistoryResponse",
    v1::TerminalEvent => "posdiag.v1.TerminalEvent",
    v1::IdResult => "posdiag.v1.IdResult",
    v1::IdSummary => "posdiag.v1.IdSummary",
    v1::ValidateIdsResponse => "posdiag.v1.ValidateIdsResponse",
    v1::ListKindsResponse => "posdiag.v1.ListKindsResponse",
    v1::ListRuleSetsResponse => "posdiag.v1.ListRuleSetsResponse",
    v1::ExplainCodeResponse => "posdiag.v1.ExplainCodeResponse",
    v1::DecodeEmvResponse => "posdiag.v1.DecodeEmvResponse",
    v1::SearchCodesResponse => "posdiag.v1.SearchCodesResponse",
    v1::ListPortsResponse => "posdiag.v1.ListPortsResponse",
    v1::PortEvent => "posdiag.v1.PortEvent",
    v1::ListPluginsResponse => "posdiag.v1.ListPluginsResponse",
    v1::DoctorEvent => "posdiag.v1.DoctorEvent",
    v1::StoredFinding => "posdiag.v1.StoredFinding",
    v1::ListFindingsResponse => "posdiag.v1.ListFindingsResponse",
    v1::ListTransitionsResponse => "posdiag.v1.ListTransitionsResponse",
    v1::ListEventsResponse => "posdiag.v1.ListEventsResponse",
    v1::ReloadState => "posdiag.v1.ReloadState",
    v1::Availability => "posdiag.v1.Availability",
    v1::MatchSymptomResponse => "posdiag.v1.MatchSymptomResponse",
}

fn pool() -> Result<&'static DescriptorPool, CliError> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(posdiag_proto::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| CliError::Internal(format!("embedded protobuf descriptors: {e}")))
}

/// `msg` as one line of proto3 JSON.
pub fn to_json<M: ProtoMessage>(msg: &M) -> Result<String, CliError> {
    let desc = pool()?
        .get_message_by_name(M::FULL_NAME)
        .ok_or_else(|| CliError::Internal(format!("no descriptor for {}", M::FULL_NAME)))?;
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice())
        .map_err(|e| CliError::Internal(format!("re-decoding {}: {e}", M::FULL_NAME)))?;
    serde_json::to_string(&dynamic)
        .map_err(|e| CliError::Internal(format!("serializing {}: {e}", M::FULL_NAME)))
}

/// `msg` as one line of proto3 JSON with every field, defaults included
/// (an empty list shows as `[]` rather than not at all).
pub fn to_json_with_defaults<M: ProtoMessage>(msg: &M) -> Result<String, CliError> {
    let desc = pool()?
        .get_message_by_name(M::FULL_NAME)
        .ok_or_else(|| CliError::Internal(format!("no descriptor for {}", M::FULL_NAME)))?;
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice())
        .map_err(|e| CliError::Internal(format!("re-decoding {}: {e}", M::FULL_NAME)))?;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::new(&mut out);
    dynamic
        .serialize_with_options(
            &mut ser,
            &prost_reflect::SerializeOptions::new().skip_default_fields(false),
        )
        .map_err(|e| CliError::Internal(format!("serializing {}: {e}", M::FULL_NAME)))?;
    String::from_utf8(out).map_err(|e| CliError::Internal(format!("JSON is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_message_has_a_descriptor() {
        let pool = pool().expect("pool");
        for name in ALL_NAMES {
            assert!(pool.get_message_by_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_finding_uses_the_proto3_json_mapping() {
        let f = v1::Finding {
            check: "host.tcp".into(),
            verdict: v1::Verdict::Critical as i32,
            reason: "tcp.refused".into(),
            summary: "refused".into(),
            evidence: vec![v1::Evidence {
                name: "loss_ratio".into(),
                unit: "ratio".into(),
                value: Some(v1::evidence::Value::Number(1.0)),
            }],
            remedies: vec![v1::Remedy {
                actor: v1::Actor::Merchant as i32,
                text: "Check the cable".into(),
            }],
            duration: Some(prost_types::Duration {
                seconds: 1,
                nanos: 500_000_000,
            }),
            observed_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            terminal_id: "T1".into(),
            subject: "acquirer-a (127.0.0.1:5000)".into(),
            producer: None,
        };
        let text = to_json(&f).expect("json");
        assert!(!text.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["verdict"], "VERDICT_CRITICAL");
        assert_eq!(v["observedAt"], "2023-11-14T22:13:20Z");
        assert_eq!(v["terminalId"], "T1");
        assert_eq!(v["duration"], "1.500s");
        assert_eq!(v["evidence"][0]["number"], 1.0);
        assert_eq!(v["remedies"][0]["actor"], "ACTOR_MERCHANT");
        assert!(v.get("observed_at").is_none());
    }

    #[test]
    fn a_check_event_names_its_oneof_case() {
        let ev = v1::CheckEvent {
            event: Some(v1::check_event::Event::Completed(v1::Completed {
                overall: v1::Verdict::Ok as i32,
                findings: 3,
                duration: None,
            })),
        };
        let v: serde_json::Value =
            serde_json::from_str(&to_json(&ev).expect("json")).expect("valid");
        assert_eq!(v["completed"]["overall"], "VERDICT_OK");
        assert_eq!(v["completed"]["findings"], 3);
    }
}
