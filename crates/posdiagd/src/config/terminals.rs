//! `[[terminals]]`: each terminal's link (through `LinkSpec`'s parser), serial
//! settings, protocol, hosts, schedule, plugin, customer-ID rules and code
//! dialect, validated into one [`TerminalConfig`] per terminal.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use posdiag_codes::{KnowledgeBase, Scheme};
use posdiag_core::TerminalId;
use posdiag_engine::model::{HostSpec, LinkProbeSpec, LinkProtocol, LinkSpec, TerminalSpec};
use posdiag_ids::RuleSet;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// A terminal as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTerminal {
    id: Spanned<String>,
    name: Option<String>,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    model: String,
    link: Option<Spanned<String>>,
    /// Serial line settings, for example "9600-8N2" (serial and usb links).
    serial: Option<Spanned<String>>,
    /// What posdiagd speaks on the link: "zvt".
    protocol: Option<Spanned<String>>,
    /// Password sent with ZVT commands, 6 digits.
    zvt_password: Option<Spanned<String>>,
    /// The vendor plugin serving the terminal, by id (default: manifest match).
    plugin: Option<Spanned<String>>,
    /// Arguments for the terminal's plugin checks, e.g. min_version.
    #[serde(default)]
    plugin_args: BTreeMap<String, String>,
    /// Deadline of each plugin check, overriding the manifest's.
    plugin_timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    check_interval_s: Option<Spanned<u64>>,
    id_rules: Option<Spanned<String>>,
    dialect: Option<Spanned<String>>,
}

/// Everything the daemon knows about one configured terminal.
#[derive(Debug, Clone)]
pub struct TerminalConfig {
    /// What the engine runs: link, protocol, hosts, plugin, schedule.
    pub spec: TerminalSpec,
    /// The customer-ID rule set it uses (`id_rules`), if any.
    pub id_rules: Option<Arc<RuleSet>>,
    /// The code scheme its messages use (`dialect`), if any.
    pub dialect: Option<Scheme>,
}

impl TerminalConfig {
    /// The terminal with id `id` among `terminals`.
    pub fn find<'a>(terminals: &'a [TerminalConfig], id: &str) -> Option<&'a TerminalConfig> {
        terminals.iter().find(|t| t.spec.id.as_str() == id)
    }
}

/// What a terminal may refer to, validated before the terminals are.
pub(super) struct Known<'a> {
    pub(super) hosts: &'a BTreeMap<String, Arc<HostSpec>>,
    pub(super) rule_sets: &'a BTreeMap<String, Arc<RuleSet>>,
    pub(super) codes: &'a KnowledgeBase,
    /// `[defaults] check_interval_s`.
    pub(super) check_interval_s: u64,
}

/// Validates every `[[terminals]]`, in order; ids must be unique.
pub(super) fn validate(
    v: &Validator,
    raw: &[RawTerminal],
    known: &Known<'_>,
) -> Result<Vec<TerminalConfig>, ConfigError> {
    let mut terminals = Vec::new();
    let mut seen = HashSet::new();
    for (i, t) in raw.iter().enumerate() {
        let key = format!("terminals[{i}].id");
        let id = TerminalId::new(t.id.get_ref()).map_err(|e| v.at(&t.id, &key, format!("{e}")))?;
        if !seen.insert(id.clone()) {
            return Err(v.at(
                &t.id,
                &key,
                format!(
                    "terminal id {id:?} is used twice; ids must be unique",
                    id = id.as_str()
                ),
            ));
        }
        terminals.push(terminal(v, i, id, t, known)?);
    }
    Ok(terminals)
}

/// Terminal `i`, whose `id` has been checked.
fn terminal(
    v: &Validator,
    i: usize,
    id: TerminalId,
    t: &RawTerminal,
    known: &Known<'_>,
) -> Result<TerminalConfig, ConfigError> {
    let key = |k: &str| format!("terminals[{i}].{k}");
    let link = link(v, t, &key)?;
    let protocol = protocol(v, t, &link, &key)?;
    let mut link_probe = LinkProbeSpec::default();
    if let Some(pw) = &t.zvt_password {
        link_probe.zvt_password =
            parse_zvt_password(pw.get_ref()).map_err(|m| v.at(pw, &key("zvt_password"), m))?;
    }
    let mut hosts = Vec::new();
    for h in &t.hosts {
        let spec = known.hosts.get(h.get_ref()).ok_or_else(|| {
            v.at(
                h,
                &key("hosts"),
                format!(
                    "no host called {:?} is defined; defined hosts: {}",
                    h.get_ref(),
                    defined(known.hosts.keys(), "none (add a [hosts.NAME] table)")
                ),
            )
        })?;
        hosts.push(spec.clone());
    }
    let check_interval_s = match &t.check_interval_s {
        Some(s) => v.range_u64(&Some(s.clone()), &key("check_interval_s"), 0, 86_400, 0)?,
        None => known.check_interval_s,
    };
    let dialect = match &t.dialect {
        None => None,
        Some(d) => Some(
            d.get_ref()
                .parse::<Scheme>()
                .ok()
                .filter(|s| known.codes.entries(s).is_some())
                .ok_or_else(|| {
                    let schemes: Vec<&str> =
                        known.codes.schemes().iter().map(|s| s.name()).collect();
                    v.at(
                        d,
                        &key("dialect"),
                        format!(
                            "{:?} is not a code scheme; known schemes: {}",
                            d.get_ref(),
                            schemes.join(", ")
                        ),
                    )
                })?,
        ),
    };
    let id_rules = match &t.id_rules {
        None => None,
        Some(r) => Some(known.rule_sets.get(r.get_ref()).cloned().ok_or_else(|| {
            v.at(
                r,
                &key("id_rules"),
                format!(
                    "no rule set called {:?} is defined; defined rule sets: {}",
                    r.get_ref(),
                    defined(known.rule_sets.keys(), "none (add a [rules.NAME] table)")
                ),
            )
        })?),
    };
    let plugin_timeout = match &t.plugin_timeout_ms {
        None => None,
        Some(_) => Some(Duration::from_millis(v.range_u64(
            &t.plugin_timeout_ms,
            &key("plugin_timeout_ms"),
            100,
            600_000,
            0,
        )?)),
    };
    Ok(TerminalConfig {
        spec: TerminalSpec {
            name: t.name.clone().unwrap_or_else(|| id.to_string()),
            id,
            vendor: t.vendor.clone(),
            model: t.model.clone(),
            link,
            protocol,
            link_probe,
            plugin: t.plugin.as_ref().map(|p| p.get_ref().clone()),
            plugin_args: t.plugin_args.clone(),
            plugin_timeout,
            hosts,
            check_interval: Some(check_interval_s)
                .filter(|s| *s > 0)
                .map(Duration::from_secs),
        },
        id_rules,
        dialect,
    })
}

/// `link` and, on serial links, `serial`.
fn link(
    v: &Validator,
    t: &RawTerminal,
    key: &dyn Fn(&str) -> String,
) -> Result<LinkSpec, ConfigError> {
    let link = match &t.link {
        None => LinkSpec::None,
        Some(l) => l
            .get_ref()
            .parse::<LinkSpec>()
            .map_err(|e| v.at(l, &key("link"), e.to_string()))?,
    };
    match (link, &t.serial) {
        (LinkSpec::Serial { port, .. }, Some(s)) => Ok(LinkSpec::Serial {
            port,
            settings: s.get_ref().parse().map_err(|e| {
                v.at(
                    s,
                    &key("serial"),
                    format!("{e}; expected for example \"9600-8N2\" or \"115200-8N1-rtscts\""),
                )
            })?,
        }),
        (_, Some(s)) => Err(v.at(
            s,
            &key("serial"),
            "serial settings need a serial link; set link = \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"",
        )),
        (link, None) => Ok(link),
    }
}

/// `protocol`: ZVT unless said otherwise, on terminals with a link only.
fn protocol(
    v: &Validator,
    t: &RawTerminal,
    link: &LinkSpec,
    key: &dyn Fn(&str) -> String,
) -> Result<Option<LinkProtocol>, ConfigError> {
    match (link, &t.protocol) {
        (LinkSpec::None, Some(p)) => Err(v.at(
            p,
            &key("protocol"),
            "a protocol needs a link; set link = \"tcp:HOST:PORT\", \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"",
        )),
        (LinkSpec::None, None) => Ok(None),
        (_, None) => Ok(Some(LinkProtocol::Zvt)),
        (_, Some(p)) => match p.get_ref().as_str() {
            "zvt" => Ok(Some(LinkProtocol::Zvt)),
            "nexo" => Ok(Some(LinkProtocol::Nexo)),
            other => Err(v.at(
                p,
                &key("protocol"),
                format!(
                    "{other:?} is not a link protocol posdiagd speaks; expected \"zvt\" or \"nexo\""
                ),
            )),
        },
    }
}

/// The defined names for a message, or `none` when there are none.
fn defined<'a>(names: impl Iterator<Item = &'a String>, none: &str) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        none.to_owned()
    } else {
        names.join(", ")
    }
}

fn parse_zvt_password(s: &str) -> Result<[u8; 3], String> {
    posdiag_core::zvt::Password::from_digits(s)
        .map(posdiag_core::zvt::Password::bcd)
        .ok_or_else(|| {
            format!("{s:?} is not a ZVT password; expected 6 digits, for example \"000000\"")
        })
}
