//! The one table that says which tier each RPC needs. A method the table
//! does not name is denied whoever calls it (fail closed); a test parses
//! the .proto files and fails when an RPC is missing here.

use std::fmt;

/// What a caller may do; each tier includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Nothing at all (a principal without a role, anonymous TCP when
    /// `[auth] loopback_tier = "none"`).
    None,
    /// Look: terminals, history, availability, explanations, ID
    /// validation, plugin list, health, reflection.
    Read,
    /// Act on terminals and hosts: checks, the doctor, probes, live
    /// read-card tests, customer lookups.
    Diagnose,
    /// Change the daemon's state: reload, plugin quarantine and release,
    /// history purge, and read the audit trail.
    Admin,
}

impl Tier {
    /// The name used in the config and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Tier::None => "none",
            Tier::Read => "read",
            Tier::Diagnose => "diagnose",
            Tier::Admin => "admin",
        }
    }

    /// Parses a config value.
    pub fn parse(s: &str) -> Option<Tier> {
        Some(match s {
            "none" => Tier::None,
            "read" => Tier::Read,
            "diagnose" => Tier::Diagnose,
            "admin" => Tier::Admin,
            _ => return None,
        })
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a method costs: the expensive ones count against a principal's
/// limits (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Answered from memory or the history.
    Cheap,
    /// Talks to terminals or hosts, or streams work in.
    Expensive,
}

/// Every RPC the daemon serves: its path, the tier it needs, its cost.
pub const METHODS: &[(&str, Tier, Cost)] = &[
    // Health and reflection: what any client may ask first.
    ("/grpc.health.v1.Health/Check", Tier::Read, Cost::Cheap),
    ("/grpc.health.v1.Health/Watch", Tier::Read, Cost::Cheap),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Tier::Read,
        Cost::Cheap,
    ),
    // Terminals.
    (
        "/posdiag.v1.TerminalService/ListTerminals",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.TerminalService/GetTerminal",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.TerminalService/WatchTerminals",
        Tier::Read,
        Cost::Cheap,
    ),
    // Checks: everything that talks to a terminal or a host.
    (
        "/posdiag.v1.CheckService/RunCheck",
        Tier::Diagnose,
        Cost::Expensive,
    ),
    (
        "/posdiag.v1.CheckService/GetHistory",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.CheckService/Probe",
        Tier::Diagnose,
        Cost::Expensive,
    ),
    (
        "/posdiag.v1.CheckService/RunDoctor",
        Tier::Diagnose,
        Cost::Expensive,
    ),
    (
        "/posdiag.v1.CheckService/ProbeLink",
        Tier::Diagnose,
        Cost::Expensive,
    ),
    // Codes and IDs: explanations and validation, no terminal touched.
    (
        "/posdiag.v1.CodeService/ExplainCode",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.CodeService/ListSchemes",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.CodeService/SearchCodes",
        Tier::Read,
        Cost::Cheap,
    ),
    // EMV data decoded and explained: no terminal touched.
    ("/posdiag.v1.EmvService/Decode", Tier::Read, Cost::Cheap),
    ("/posdiag.v1.EmvService/Explain", Tier::Read, Cost::Cheap),
    (
        "/posdiag.v1.SymptomService/MatchSymptom",
        Tier::Read,
        Cost::Cheap,
    ),
    ("/posdiag.v1.IdService/ValidateId", Tier::Read, Cost::Cheap),
    (
        "/posdiag.v1.IdService/ValidateIds",
        Tier::Read,
        Cost::Expensive,
    ),
    ("/posdiag.v1.IdService/ListKinds", Tier::Read, Cost::Cheap),
    (
        "/posdiag.v1.IdService/ListRuleSets",
        Tier::Read,
        Cost::Cheap,
    ),
    // Plugins: the list is public, changing their state is not.
    (
        "/posdiag.v1.PluginService/ListPlugins",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.PluginService/GetPlugin",
        Tier::Read,
        Cost::Cheap,
    ),
    // Ports.
    ("/posdiag.v1.PortService/ListPorts", Tier::Read, Cost::Cheap),
    (
        "/posdiag.v1.PortService/WatchPorts",
        Tier::Read,
        Cost::Cheap,
    ),
    // History. ListEvents is read, but its API call events (the audit
    // trail) are the admin tier's: `history_service.rs` leaves them out
    // below it, and refuses them when asked for by kind.
    (
        "/posdiag.v1.HistoryService/ListFindings",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.HistoryService/ListTransitions",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.HistoryService/ListEvents",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.HistoryService/GetAvailability",
        Tier::Read,
        Cost::Cheap,
    ),
    (
        "/posdiag.v1.HistoryService/WatchFindings",
        Tier::Read,
        Cost::Cheap,
    ),
    // Administration: what changes the daemon's state.
    ("/posdiag.v1.AdminService/Reload", Tier::Admin, Cost::Cheap),
];

/// The tier and cost of a method path; `None` for a path the table does
/// not know, which no one may call.
pub fn method(path: &str) -> Option<(Tier, Cost)> {
    METHODS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|&(_, tier, cost)| (tier, cost))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `rpc` of every service in `proto/posdiag/v1/*.proto`, and the
    /// health and reflection services the daemon also serves, as paths.
    fn served_rpcs() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto/posdiag/v1");
        let mut paths = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&root)
            .expect("proto dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "proto"))
            .collect();
        files.sort();
        assert!(files.len() >= 8, "{files:?}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("proto");
            let mut service = None;
            for line in text.lines() {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("service ") {
                    service = rest.split_whitespace().next().map(str::to_owned);
                } else if let Some(rest) = line.strip_prefix("rpc ") {
                    let name = rest.split('(').next().expect("name").trim();
                    let service = service.as_ref().expect("rpc outside a service");
                    paths.push(format!("/posdiag.v1.{service}/{name}"));
                }
            }
        }
        paths.extend(
            [
                "/grpc.health.v1.Health/Check",
                "/grpc.health.v1.Health/Watch",
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            ]
            .map(str::to_owned),
        );
        paths
    }

    #[test]
    fn every_rpc_in_the_protos_has_a_tier_and_the_table_names_no_other() {
        let served = served_rpcs();
        let missing: Vec<_> = served.iter().filter(|p| method(p).is_none()).collect();
        assert!(
            missing.is_empty(),
            "RPCs without a tier in auth/tiers.rs METHODS (add each with the tier it needs): {missing:?}"
        );
        let stale: Vec<_> = METHODS
            .iter()
            .filter(|(p, _, _)| !served.iter().any(|s| s == p))
            .map(|(p, _, _)| p)
            .collect();
        assert!(
            stale.is_empty(),
            "METHODS names RPCs no .proto has: {stale:?}"
        );
        let mut seen = std::collections::HashSet::new();
        for (p, _, _) in METHODS {
            assert!(seen.insert(p), "{p} twice");
        }
    }

    #[test]
    fn the_tiers_are_the_issue_s_and_unknown_methods_need_more_than_anyone_has() {
        assert_eq!(
            method("/posdiag.v1.CheckService/RunCheck"),
            Some((Tier::Diagnose, Cost::Expensive))
        );
        assert_eq!(
            method("/posdiag.v1.TerminalService/ListTerminals").map(|m| m.0),
            Some(Tier::Read)
        );
        assert_eq!(
            method("/posdiag.v1.AdminService/Reload").map(|m| m.0),
            Some(Tier::Admin)
        );
        assert_eq!(method("/posdiag.v1.CheckService/RunEverything"), None);
        assert!(Tier::None < Tier::Read && Tier::Read < Tier::Diagnose);
        assert!(Tier::Diagnose < Tier::Admin);
        for t in [Tier::None, Tier::Read, Tier::Diagnose, Tier::Admin] {
            assert_eq!(Tier::parse(t.name()), Some(t));
        }
    }
}
