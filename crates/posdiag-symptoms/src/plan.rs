//! The doctor's troubleshooting stages and which of them a symptom calls
//! for: one table, read by posdiagd's doctor (which runs them) and by the
//! matcher's answers (which say which checks would run), so the two cannot
//! disagree.

use posdiag_codes::Category;

/// The well-known check a plugin offers to look up the customer behind an ID
/// (docs/plugin-guide.md, "Well-known check ids"); it gets the ID in the
/// argument `customer_id`.
pub const CUSTOMER_STATUS: &str = "customer.status";

/// The troubleshooting stages, in order; each lists the checks it may run.
pub const STAGES: &[(&str, &[&str])] = &[
    ("link", &["terminal.link"]),
    ("terminal", &["terminal.status", "poi.diagnosis"]),
    ("reader", &["reader.status"]),
    (
        "network",
        &["host.dns", "host.tcp", "host.tls", "host.exchange"],
    ),
    ("echo", &["host.echo"]),
    // A plugin's lookup of the customer behind an ID (registered, blocked):
    // only for the unsupported-id symptom, with the ID as its argument.
    ("customer", &[CUSTOMER_STATUS]),
    ("host diagnosis", &["host.terminal_diagnosis"]),
    ("software", &["terminal.software"]),
];

/// Every stage but the customer lookup: the full check-up.
pub const ALL_STAGES: &[&str] = &[
    "link",
    "terminal",
    "reader",
    "network",
    "echo",
    "host diagnosis",
    "software",
];

/// Which stages a code's category calls for.
pub fn stages_for(category: Category) -> &'static [&'static str] {
    match category {
        Category::Card | Category::Reader => &["link", "terminal", "reader"],
        Category::Network | Category::Host | Category::Maintenance => {
            &["link", "network", "echo", "host diagnosis"]
        }
        Category::Terminal | Category::MerchantConfig | Category::Security => {
            &["link", "terminal", "echo", "software"]
        }
        // Issuer-side decisions: show the path to the acquirer works.
        Category::Account | Category::Limit | Category::Approved | Category::Format => {
            &["link", "network", "echo"]
        }
        Category::IdFormat => &["link", "terminal", "network", "echo", "customer"],
        _ => ALL_STAGES,
    }
}

/// The checks of `stages`, in [`STAGES`] order.
pub fn checks_of(stages: &[&str]) -> Vec<&'static str> {
    STAGES
        .iter()
        .filter(|(s, _)| stages.contains(s))
        .flat_map(|(_, c)| c.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_named_anywhere_exists() {
        let known: Vec<&str> = STAGES.iter().map(|(s, _)| *s).collect();
        for c in Category::ALL {
            for s in stages_for(*c) {
                assert!(known.contains(s), "{s}");
            }
        }
        assert!(ALL_STAGES.iter().all(|s| known.contains(s)));
        assert_eq!(
            checks_of(&["echo", "link"]),
            vec!["terminal.link", "host.echo"]
        );
    }
}
