//! `posdiag id`: validate customer identifiers (card numbers, resident
//! identity numbers, IBANs, phone numbers...) and say exactly why one is
//! rejected. `validate` asks posdiagd's `IdService` or, with `--local`, runs
//! `posdiag-ids` in this process; `audit` checks a column of an exported CSV
//! file locally; `kinds` lists the built-in kinds.
//!
//! Unlike the other commands, `id` exits 0 when every value is valid, 1 when
//! any is invalid and 2 on a usage error (the convention of validators such
//! as `grep`; issue 3 asks for it), 3 when the daemon cannot be reached.
//!
//! [`to_proto`] (the daemon's conversion) and [`Tally`] turn the library's
//! results into the API's messages, so the local modes print exactly what
//! the daemon would, and one renderer serves both.

mod audit;
pub use audit::{MAX_FIELDS, MAX_RECORD_BYTES, MAX_SKIP_BYTES};
mod config;
pub use config::{MAX_CONFIG_BYTES, local_rule_set};
mod json;
pub mod lines;
mod render;
mod validate;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use posdiag_core::{Lang, Text};
use posdiag_ids::{IdReason, Kind, KindSel, Validation};
use posdiag_proto::v1;

use crate::commands::Context;
use crate::error::{CliError, IoCause};

/// Where `--local` and `audit` read rule sets from unless `--config` says.
pub const DEFAULT_CONFIG: &str = "/etc/posdiag/posdiagd.toml";

/// Exit code: every value is valid.
pub const EXIT_ALL_VALID: u8 = 0;
/// Exit code: at least one value is invalid.
pub const EXIT_SOME_INVALID: u8 = 1;
/// Exit code of `posdiag id` for a usage error.
pub const EXIT_ID_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes of `posdiag id` (unlike the other commands):
  0  every value is valid
  1  at least one value is invalid
  2  usage error: bad arguments, unknown kind, rule set, terminal or column,
     unreadable file or configuration
  3  posdiagd could not be reached or failed";

/// `posdiag id ...`.
#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Validate identifiers and explain each rejection: what is wrong, what
    /// was expected, what the value looks like, and what to do.
    ///
    /// With no VALUE, reads one value per line from standard input (any
    /// bytes; only the line terminator is removed) and prints the results in
    /// input order as they come. --json prints one IdResult object per line.
    #[command(after_help = AFTER_HELP)]
    Validate(ValidateArgs),
    /// Audit a column of an exported customer file (CSV): counts per reason,
    /// the most common failing values (masked), and optionally every failing
    /// row. Runs locally; memory stays flat whatever the file size.
    #[command(after_help = AFTER_HELP)]
    Audit(AuditArgs),
    /// List the built-in identifier kinds.
    #[command(after_help = AFTER_HELP)]
    Kinds(KindsArgs),
}

/// `posdiag id validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The kind to validate as: auto (every kind the value could be) or a
    /// name from `posdiag id kinds` (pan, luhn, cn-ric, iban, phone...).
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub kind: String,
    /// Apply this configured rule set (a [rules.NAME] table of the daemon's
    /// configuration).
    #[arg(long, value_name = "NAME", conflicts_with = "terminal")]
    pub rules: Option<String>,
    /// Apply the rule set of this configured terminal (its id_rules).
    #[arg(long, value_name = "ID")]
    pub terminal: Option<String>,
    /// Validate in this process; posdiagd need not run.
    #[arg(long)]
    pub local: bool,
    /// With --local and --rules/--terminal: the daemon configuration to read
    /// rule sets from [default: /etc/posdiag/posdiagd.toml].
    #[arg(long, value_name = "FILE", requires = "local")]
    pub config: Option<PathBuf>,
    /// Print only the counts per verdict and per reason.
    #[arg(long)]
    pub summary: bool,
    /// Values to validate; none: read one per line from standard input.
    #[arg(value_name = "VALUE")]
    pub values: Vec<OsString>,
}

/// `posdiag id audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The CSV file (UTF-8 BOM, quotes, CRLF or LF line ends are fine).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The header of the column holding the identifiers.
    #[arg(long, value_name = "NAME")]
    pub column: String,
    /// The kind to validate as: auto or a name from `posdiag id kinds`.
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub kind: String,
    /// Apply this rule set from the configuration.
    #[arg(long, value_name = "NAME")]
    pub rules: Option<String>,
    /// The daemon configuration to read rule sets from
    /// [default: /etc/posdiag/posdiagd.toml].
    #[arg(long, value_name = "FILE", requires = "rules")]
    pub config: Option<PathBuf>,
    /// Write every failing row (row number counted from 1 after the header,
    /// masked value, reason, message) to this CSV file.
    #[arg(long, value_name = "FAILURES.csv")]
    pub out: Option<PathBuf>,
    /// Show this many example values per reason.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// Validate on this many threads [default: the number of cores; at
    /// most 16]. The output is the same whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// `posdiag id kinds`.
#[derive(Debug, Args)]
pub struct KindsArgs {
    /// List the kinds this client knows, without asking posdiagd.
    #[arg(long)]
    pub local: bool,
}

/// Why an `id` command could not do its work. Messages are in
/// [`IdError::text`].
#[derive(Debug)]
#[non_exhaustive]
pub enum IdError {
    /// `--kind` names no kind.
    UnknownKind(String),
    /// `--rules` names no rule set of the configuration.
    UnknownRules {
        /// The name given.
        name: String,
        /// The configuration file.
        config: String,
        /// The configured rule sets.
        known: Vec<String>,
    },
    /// `--terminal` names no terminal of the configuration.
    UnknownTerminal {
        /// The id given.
        id: String,
        /// The configuration file.
        config: String,
        /// The configured terminals.
        known: Vec<String>,
    },
    /// The terminal has no `id_rules`.
    TerminalWithoutRules {
        /// The terminal id.
        id: String,
        /// The configuration file.
        config: String,
    },
    /// The configuration cannot be read or is invalid (file:line: key: what).
    Config(String),
    /// The configuration file is larger than [`MAX_CONFIG_BYTES`].
    ConfigTooLarge {
        /// The path.
        path: String,
    },
    /// An input or output file cannot be opened.
    Open {
        /// The path.
        path: String,
        /// Why.
        cause: IoCause,
    },
    /// Reading failed part-way (standard input or a file).
    Read {
        /// The path, or "standard input".
        path: String,
        /// Why.
        cause: IoCause,
    },
    /// The file is not readable as CSV.
    Csv {
        /// The path.
        path: String,
        /// 1-based line, when known.
        line: Option<u64>,
        /// The CSV reader's explanation.
        message: String,
    },
    /// The first record of the file is longer than a CSV header can be (a
    /// binary file, `/dev/zero`): reading stopped at the limit.
    HeaderTooLong {
        /// The path.
        path: String,
        /// Bytes read of it before stopping.
        bytes: u64,
        /// Fields read of it before stopping.
        fields: u64,
    },
    /// An audit worker thread stopped (it panicked: a bug).
    Worker,
    /// A record went on past `audit::MAX_SKIP_BYTES`: not a CSV export.
    RecordTooLong {
        /// The path.
        path: String,
        /// The data row (1-based, header not counted).
        row: u64,
        /// Bytes read of it before stopping.
        bytes: u64,
    },
    /// The `--column` is not among the headers.
    MissingColumn {
        /// The path.
        path: String,
        /// The column asked for.
        column: String,
        /// The file's headers.
        headers: Vec<String>,
    },
    /// Writing `--out` failed.
    Write {
        /// The path.
        path: String,
        /// Why.
        cause: IoCause,
    },
    /// posdiagd rejected the request as invalid (unknown rule set...); its
    /// message names the field and the known values.
    Rejected(String),
    /// The daemon's stream ended before its summary.
    Incomplete,
}

impl IdError {
    /// The sentence a person reads, in every language.
    pub fn text(&self) -> Text {
        match self {
            IdError::UnknownKind(kind) => {
                let names: Vec<String> = posdiag_ids::Kind::ALL
                    .iter()
                    .map(|k| k.name().to_owned())
                    .collect();
                let names = names.join(", ");
                Text::new(
                    format!(
                        "unknown kind \"{kind}\": use auto or one of {names} (see \"posdiag id kinds\")"
                    ),
                    format!(
                        "未知的类型 \"{kind}\"：请使用 auto 或以下之一：{names}（见 \"posdiag id kinds\"）"
                    ),
                )
            }
            IdError::UnknownRules {
                name,
                config,
                known,
            } => {
                let Text {
                    en: known_en,
                    zh: known_zh,
                } = list_or_none(known);
                Text::new(
                    format!(
                        "no rule set \"{name}\" in {config}; configured rule sets: {known_en} (a rule set is a [rules.NAME] table)"
                    ),
                    format!(
                        "{config} 中没有规则集 \"{name}\"；已配置的规则集：{known_zh}（规则集是 [rules.名称] 表）"
                    ),
                )
            }
            IdError::UnknownTerminal { id, config, known } => {
                let Text {
                    en: known_en,
                    zh: known_zh,
                } = list_or_none(known);
                Text::new(
                    format!("no terminal \"{id}\" in {config}; configured terminals: {known_en}"),
                    format!("{config} 中没有终端 \"{id}\"；已配置的终端：{known_zh}"),
                )
            }
            IdError::TerminalWithoutRules { id, config } => Text::new(
                format!(
                    "terminal \"{id}\" in {config} names no rule set: add id_rules = \"NAME\" to its [[terminals]] entry, or use --rules NAME"
                ),
                format!(
                    "{config} 中的终端 \"{id}\" 没有指定规则集：在它的 [[terminals]] 条目中加上 id_rules = \"名称\"，或改用 --rules 名称"
                ),
            ),
            IdError::Config(what) => Text::new(
                format!(
                    "cannot use the configuration: {what} (name the daemon's configuration with --config FILE)"
                ),
                format!("无法使用配置：{what}（用 --config 文件 指定守护进程的配置）"),
            ),
            IdError::ConfigTooLarge { path } => {
                let max = crate::id::MAX_CONFIG_BYTES >> 20;
                let path = crate::output::sanitize(path);
                Text::new(
                    format!(
                        "{path} is over {max} MiB, too large to be the daemon's configuration (name the right one with --config FILE)"
                    ),
                    format!(
                        "{path} 超过 {max} MiB，不是守护进程的配置文件（用 --config 文件 指定正确的配置）"
                    ),
                )
            }
            IdError::Open { path, cause } => {
                let Text {
                    en: cause_en,
                    zh: cause_zh,
                } = cause.localized();
                Text::new(
                    format!("cannot open {path} ({cause_en})"),
                    format!("无法打开 {path}（{cause_zh}）"),
                )
            }
            IdError::Read { path, cause } => {
                let Text {
                    en: cause_en,
                    zh: cause_zh,
                } = cause.localized();
                let Text {
                    en: path_en,
                    zh: path_zh,
                } = if path.is_empty() {
                    Text::new("standard input", "标准输入")
                } else {
                    Text::new(path.clone(), path.clone())
                };
                Text::new(
                    format!("cannot read {path_en} ({cause_en})"),
                    format!("读取 {path_zh} 时出错（{cause_zh}）"),
                )
            }
            IdError::Csv {
                path,
                line,
                message,
            } => {
                let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                Text::new(
                    format!("{path}{at} is not readable as CSV: {message}"),
                    format!("{path}{at} 不是可读的 CSV：{message}"),
                )
            }
            IdError::HeaderTooLong {
                path,
                bytes,
                fields,
            } => {
                let (kb, max_kb, max_fields) = (
                    bytes / 1024,
                    crate::id::MAX_RECORD_BYTES / 1024,
                    crate::id::MAX_FIELDS,
                );
                Text::new(
                    format!(
                        "the first line (the header) of {path} is still going after {kb} KiB and {fields} fields, past the limit of {max_kb} KiB or {max_fields} fields: this is not a CSV export; check that this is the right file"
                    ),
                    format!(
                        "{path} 的第一行（表头）已读 {kb} KiB、{fields} 个字段仍未结束，超过上限（{max_kb} KiB 或 {max_fields} 个字段）：这不像 CSV 导出文件，请检查文件是否选错"
                    ),
                )
            }
            IdError::Worker => Text::new(
                "a worker thread of the audit stopped unexpectedly (a bug in posdiag): run again with --threads 1 and report it",
                "审计的工作线程意外停止（posdiag 的缺陷）：请加 --threads 1 重新运行并报告此问题",
            ),
            IdError::RecordTooLong { path, row, bytes } => {
                let mib = bytes >> 20;
                Text::new(
                    format!(
                        "data row {row} of {path} is still going after {mib} MiB: this is not a CSV export (a missing closing quote?); the audit stopped"
                    ),
                    format!(
                        "{path} 的第 {row} 行数据已读 {mib} MiB 仍未结束：这不像 CSV 导出文件（可能缺少闭合引号），审计已停止"
                    ),
                )
            }
            IdError::MissingColumn {
                path,
                column,
                headers,
            } => {
                // The headers are bytes from the file: quoted (escaped, masked,
                // cut), and only the first few, so a binary file cannot drive
                // the terminal or flood it.
                const SHOWN: usize = 20;
                let shown: Vec<String> = headers
                    .iter()
                    .take(SHOWN)
                    .map(|h| posdiag_core::quote(h))
                    .collect();
                let more = headers.len().saturating_sub(SHOWN);
                let path = crate::output::sanitize(path);
                let column = posdiag_core::quote(column);
                let list = |more_words: String| {
                    let mut shown = shown.clone();
                    if more > 0 {
                        shown.push(more_words);
                    }
                    list_or_none(&shown)
                };
                let headers_en = list(format!("and {more} more")).en;
                let headers_zh = list(format!("另有 {more} 列")).zh;
                Text::new(
                    format!("{path} has no column {column}; its columns are: {headers_en}"),
                    format!("{path} 没有名为 {column} 的列；它的列为：{headers_zh}"),
                )
            }
            IdError::Write { path, cause } => {
                let Text {
                    en: cause_en,
                    zh: cause_zh,
                } = cause.localized();
                Text::new(
                    format!("cannot write {path} ({cause_en})"),
                    format!("无法写入 {path}（{cause_zh}）"),
                )
            }
            // Shown as it arrives: the daemon wrote it in the user's language.
            IdError::Rejected(message) => Text::new(message.clone(), message.clone()),
            IdError::Incomplete => crate::error::ended_early(Text::new(
                "the validation stream before its summary",
                "在给出汇总之前结束了校验流",
            )),
        }
    }

    /// 2 for everything the user can fix on the command line, 3 for
    /// failures part-way (the verdict is unknown).
    pub fn exit_code(&self) -> u8 {
        match self {
            IdError::Read { .. } | IdError::Incomplete => crate::error::EXIT_UNKNOWN,
            _ => EXIT_ID_USAGE,
        }
    }
}

impl From<IdError> for CliError {
    fn from(e: IdError) -> CliError {
        CliError::Id(e)
    }
}

/// Runs `posdiag id ...`; returns the exit code.
pub async fn run(command: IdCommand, ctx: &Context) -> Result<u8, CliError> {
    match command {
        IdCommand::Validate(args) => validate::run(args, ctx).await,
        IdCommand::Audit(args) => audit::run(&args, &ctx.out),
        IdCommand::Kinds(args) => kinds(&args, ctx).await,
    }
}

/// The exit code for a command line that clap rejected: 2 when it is a
/// `posdiag id` command line, else the usual 64. `args` includes the program
/// name, as `std::env::args_os()` does.
pub fn usage_exit_code<I, S>(args: I) -> u8
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    // Global options that take a separate value.
    const WITH_VALUE: &[&str] = &["--endpoint", "--lang", "--color"];
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.as_ref();
        let Some(s) = arg.to_str() else { break };
        if s == "--" {
            break;
        }
        if s.starts_with('-') {
            if WITH_VALUE.contains(&s) {
                args.next();
            }
            continue;
        }
        return if s == "id" {
            EXIT_ID_USAGE
        } else {
            crate::error::EXIT_USAGE
        };
    }
    crate::error::EXIT_USAGE
}

/// `--kind` as the library takes it.
pub fn parse_kind(s: &str) -> Result<KindSel, IdError> {
    s.parse::<KindSel>()
        .map_err(|_| IdError::UnknownKind(s.to_owned()))
}

/// The kind's name as the API takes it (`auto` or a kind name).
pub fn kind_sel_name(sel: KindSel) -> &'static str {
    match sel {
        KindSel::Auto => "auto",
        KindSel::Kind(k) => k.name(),
    }
}

/// The reason with this code, if this client knows it.
pub fn reason_from_code(code: &str) -> Option<IdReason> {
    IdReason::from_code(code)
}

/// The slot of a reason in [`Tally`]'s array: its discriminant, which is
/// dense and below `IdReason::ALL.len()` (checked by a test), so counting
/// costs no search.
#[inline]
fn reason_index(r: IdReason) -> usize {
    r as usize
}

/// A library result as the API's `IdResult`, in `lang`; `index` is its
/// position in the input (0 for a single value). This is the daemon's own
/// conversion (`posdiag_api::id_result`), so `--local` prints exactly what
/// the IdService would.
pub fn to_proto(v: &Validation, lang: Lang, index: u64) -> v1::IdResult {
    posdiag_api::id_result(v, lang, index)
}

/// Counts of a run: total, valid, and invalid per reason. Known reasons are
/// counted in an array (the `--summary` fast path adds millions); codes
/// from a newer daemon that this client does not know are kept by name.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Values counted.
    pub total: u64,
    /// Valid values.
    pub valid: u64,
    known: Vec<u64>,
    other: BTreeMap<String, u64>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            total: 0,
            valid: 0,
            known: vec![0; IdReason::ALL.len()],
            other: BTreeMap::new(),
        }
    }
}

impl Tally {
    /// Counts one value: valid when `reason` is `None`.
    #[inline]
    pub fn add(&mut self, reason: Option<IdReason>) {
        self.total += 1;
        match reason {
            None => self.valid += 1,
            Some(r) => match self.known.get_mut(reason_index(r)) {
                Some(n) => *n += 1,
                None => *self.other.entry(r.code().to_owned()).or_default() += 1,
            },
        }
    }

    /// Counts one library result.
    pub fn add_validation(&mut self, v: &Validation) {
        match (v.valid, v.reason) {
            (true, _) => self.add(None),
            (false, Some(r)) => self.add(Some(r)),
            (false, None) => {
                // Not produced by the library; counted rather than lost.
                self.total += 1;
                *self.other.entry(String::new()).or_default() += 1;
            }
        }
    }

    /// Counts one result from the API.
    pub fn add_result(&mut self, r: &v1::IdResult) {
        if r.valid {
            self.add(None);
        } else if let Some(reason) = reason_from_code(&r.reason) {
            self.add(Some(reason));
        } else {
            self.total += 1;
            *self.other.entry(r.reason.clone()).or_default() += 1;
        }
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: Tally) {
        self.total += other.total;
        self.valid += other.valid;
        for (a, b) in self.known.iter_mut().zip(other.known) {
            *a += b;
        }
        for (code, n) in other.other {
            *self.other.entry(code).or_default() += n;
        }
    }

    /// Values that were not valid.
    pub fn invalid(&self) -> u64 {
        self.total - self.valid
    }

    /// 0 when every value was valid, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.invalid() == 0 {
            EXIT_ALL_VALID
        } else {
            EXIT_SOME_INVALID
        }
    }

    /// The counts as the API's `IdSummary` (reasons with no value left out).
    pub fn to_proto(&self) -> v1::IdSummary {
        let mut by_reason: std::collections::HashMap<String, u64> = IdReason::ALL
            .iter()
            .map(|&r| (r, self.known.get(reason_index(r)).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| (r.code().to_owned(), n))
            .collect();
        for (code, n) in &self.other {
            *by_reason.entry(code.clone()).or_default() += n;
        }
        v1::IdSummary {
            total: self.total,
            valid: self.valid,
            by_reason,
        }
    }
}

/// `posdiag id kinds`.
async fn kinds(args: &KindsArgs, ctx: &Context) -> Result<u8, CliError> {
    let lang = ctx.out.lang;
    let resp = if args.local {
        v1::ListKindsResponse {
            kinds: Kind::ALL
                .iter()
                .map(|&k| posdiag_api::id_kind(k, lang))
                .collect(),
        }
    } else {
        let channel =
            crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
        posdiag_proto::v1::id_service_client::IdServiceClient::new(channel)
            .list_kinds(v1::ListKindsRequest {
                lang: lang.tag().to_owned(),
            })
            .await
            .map_err(|s| validate::id_status(s, &ctx.endpoint.to_string()))?
            .into_inner()
    };
    let mut stdout = crate::term::stdout();
    render::print_kinds(&resp, &ctx.out, &mut stdout)?;
    Ok(0)
}

/// A list for a message: `a, b, c`, or a word saying there is none.
fn list_or_none(items: &[String]) -> Text {
    if items.is_empty() {
        Text::new("none", "无")
    } else {
        let list = items.join(", ");
        Text::new(list.clone(), list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_command_lines_exit_2_on_usage_errors_and_others_64() {
        let code = |args: &[&str]| usage_exit_code(args);
        assert_eq!(code(&["posdiag", "id", "validate", "--bogus"]), 2);
        assert_eq!(
            code(&["posdiag", "--lang", "zh-CN", "--endpoint", "unix:/x", "id"]),
            2
        );
        assert_eq!(code(&["posdiag", "--json", "id", "audit"]), 2);
        assert_eq!(code(&["posdiag", "--lang=en", "id"]), 2);
        assert_eq!(code(&["posdiag", "check"]), 64);
        assert_eq!(code(&["posdiag", "--endpoint", "id", "check"]), 64);
        assert_eq!(code(&["posdiag"]), 64);
    }

    #[test]
    fn kinds_parse_by_name_and_auto_and_unknown_ones_are_usage_errors() {
        assert!(matches!(parse_kind("auto"), Ok(KindSel::Auto)));
        assert!(matches!(
            parse_kind("cn-ric"),
            Ok(KindSel::Kind(Kind::CnRic))
        ));
        let err = parse_kind("passport").expect_err("unknown");
        assert_eq!(CliError::from(err).exit_code(), 2);
        for &k in Kind::ALL {
            assert_eq!(kind_sel_name(KindSel::Kind(k)), k.name());
            assert!(matches!(parse_kind(k.name()), Ok(KindSel::Kind(x)) if x == k));
        }
    }

    #[test]
    fn reason_slots_are_distinct_and_in_range() {
        let mut slots: Vec<usize> = IdReason::ALL.iter().map(|&r| reason_index(r)).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), IdReason::ALL.len());
        assert!(slots.iter().all(|&i| i < IdReason::ALL.len()));
    }

    #[test]
    fn every_reason_code_round_trips_and_is_tallied() {
        let mut t = Tally::default();
        for &r in IdReason::ALL {
            assert_eq!(reason_from_code(r.code()), Some(r));
            t.add(Some(r));
        }
        t.add(None);
        t.add_result(&v1::IdResult {
            valid: false,
            reason: "from-the-future".into(),
            ..Default::default()
        });
        let s = t.to_proto();
        assert_eq!(s.total, IdReason::ALL.len() as u64 + 2);
        assert_eq!(s.valid, 1);
        assert_eq!(s.by_reason.get("from-the-future"), Some(&1));
        assert_eq!(s.by_reason.get("checksum"), Some(&1));
        assert_eq!(t.exit_code(), 1);
        assert_eq!(Tally::default().exit_code(), 0);
    }
}
