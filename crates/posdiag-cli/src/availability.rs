//! `posdiag availability`: how a terminal and each of its checks did over a
//! window (GetAvailability), as a table (runs, share OK, outages, the
//! longest, mean time to recover, last change, current verdict) and under
//! it a one-line timeline per check, one character per bucket (an hour or a
//! day: the daemon picks and says which), so an outage pattern shows at a
//! glance.
//!
//! With colour every bucket is a block in its verdict's colour; without
//! (NO_COLOR, a pipe) each verdict has its own character, so the pattern
//! survives, and a legend line says which is which.

use std::io::Write;

use jiff::tz::TimeZone;
use posdiag_core::{Lang, Verdict};
use posdiag_proto::v1;
use posdiag_proto::v1::history_service_client::HistoryServiceClient;

use crate::cli::AvailabilityArgs;
use crate::commands::Context;

use crate::error::CliError;
use crate::i18n::{Label, availability_heading, per_bucket, t};
use crate::json::to_json;
use crate::output::{Cell, Output, Table, display_width, paint, sanitize, verdict_style};
use crate::render::verdict_from_proto;
use crate::when::{
    duration_secs, from_proto, local_date, local_hour, local_minute, local_zone, parse_window,
};

/// `posdiag availability`.
pub async fn run(args: AvailabilityArgs, ctx: &Context) -> Result<u8, CliError> {
    let window = args.window.as_deref().map(parse_window).transpose()?;
    let channel = crate::endpoint::connect_with(&ctx.endpoint, ctx.out.lang, &ctx.creds).await?;
    let req = v1::GetAvailabilityRequest {
        terminal_id: args.terminal,
        check: args.check.unwrap_or_default(),
        window: window.map(|d| prost_types::Duration {
            seconds: d.as_secs(),
            nanos: 0,
        }),
        bucket: None,
        lang: ctx.out.lang.tag().to_owned(),
    };
    let resp = HistoryServiceClient::new(channel)
        .get_availability(req)
        .await
        .map_err(|s| ctx.status(s))?
        .into_inner();
    let mut stdout = crate::term::stdout();
    if ctx.out.json {
        writeln!(stdout, "{}", to_json(&resp)?)?;
    } else {
        stdout.write_all(render(&resp, &ctx.out, &local_zone()).as_bytes())?;
    }
    stdout.flush()?;
    Ok(0)
}

/// A length of time in its two largest units: `2 h 5 min`, `3 d 4 h`,
/// `40 s` (`2 小时 5 分钟` in Chinese).
pub fn format_span(secs: u64, lang: Lang) -> String {
    let units = [
        (86_400, Label::UnitDay),
        (3_600, Label::UnitHour),
        (60, Label::UnitMinute),
        (1, Label::UnitSecond),
    ];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, label) in units {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n} {}", t(label, lang)));
        } else if !parts.is_empty() {
            // "2 h" rather than "2 h 0 min".
            break;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        format!("0 {}", t(Label::UnitSecond, lang))
    } else {
        parts.join(" ")
    }
}

/// The share of OK runs as a percentage with at most two decimals, never
/// rounded up to 100% while a run failed; `-` without runs.
pub fn ok_percent(ok_runs: u64, runs: u64) -> String {
    if runs == 0 {
        return "-".to_owned();
    }
    if ok_runs >= runs {
        return "100%".to_owned();
    }
    // Floor to two decimals: 99.996% of runs OK is not 100%.
    let hundredths = (ok_runs as u128 * 10_000) / runs as u128;
    let whole = hundredths / 100;
    let frac = hundredths % 100;
    let text = if frac == 0 {
        format!("{whole}")
    } else if frac.is_multiple_of(10) {
        format!("{whole}.{}", frac / 10)
    } else {
        format!("{whole}.{frac:02}")
    };
    format!("{text}%")
}

/// What a bucket looks like: its character and SGR style.
fn glyph(v: i32, color: bool) -> (char, &'static str) {
    if v == v1::Verdict::Unspecified as i32 {
        return ('·', if color { "2" } else { "" });
    }
    let verdict = verdict_from_proto(v);
    if color {
        let style = match verdict {
            Verdict::Ok => "32",
            Verdict::Warning => "33",
            Verdict::Critical | Verdict::Error => "31",
            Verdict::Unknown => "90",
        };
        return ('█', style);
    }
    let c = match verdict {
        Verdict::Ok => '▁',
        Verdict::Warning => '▄',
        Verdict::Critical | Verdict::Error => '█',
        Verdict::Unknown => '?',
    };
    (c, "")
}

/// A timeline: one character per bucket, oldest first; runs of the same
/// colour share one escape sequence.
pub fn timeline(verdicts: &[i32], color: bool) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let mut style = "";
    for &v in verdicts {
        let (c, s) = glyph(v, color);
        if s != style && !run.is_empty() {
            out.push_str(&paint(color, style, &run));
            run.clear();
        }
        style = s;
        run.push(c);
    }
    out.push_str(&paint(color, style, &run));
    out
}

/// The line saying which character means what.
pub fn legend(color: bool, lang: Lang) -> String {
    let entries = [
        (v1::Verdict::Ok, "OK".to_owned()),
        (v1::Verdict::Warning, "WARNING".to_owned()),
        (v1::Verdict::Critical, "CRITICAL/ERROR".to_owned()),
        (v1::Verdict::Unknown, "UNKNOWN".to_owned()),
        (v1::Verdict::Unspecified, t(Label::NoRun, lang).to_owned()),
    ];
    entries
        .iter()
        .map(|(v, word)| {
            let (c, s) = glyph(*v as i32, color);
            format!("{} {word}", paint(color, s, &c.to_string()))
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// A row's name: its check and subject, or "overall".
fn row_name(c: &v1::CheckAvailability, lang: Lang) -> (String, String) {
    if c.check.is_empty() {
        (t(Label::Overall, lang).to_owned(), String::new())
    } else {
        (sanitize(&c.check), sanitize(&c.subject))
    }
}

/// The availability table: CHECK, SUBJECT, RUNS, OK %, OUTAGES, LONGEST,
/// MTTR, LAST CHANGE, NOW; the overall line first.
pub fn table(a: &v1::Availability, lang: Lang, tz: &TimeZone) -> Table {
    let mut table = Table::new(
        [
            Label::Check,
            Label::Subject,
            Label::Runs,
            Label::OkShare,
            Label::Outages,
            Label::LongestOutage,
            Label::Mttr,
            Label::LastChange,
            Label::Now,
        ]
        .map(|l| t(l, lang)),
    );
    let span = |d: Option<&prost_types::Duration>| match duration_secs(d) {
        Some(s) if s > 0 => format_span(s, lang),
        _ => "-".to_owned(),
    };
    for c in a.overall.iter().chain(&a.checks) {
        let (check, subject) = row_name(c, lang);
        let now = if c.current == v1::Verdict::Unspecified as i32 {
            Cell::new("-")
        } else {
            let v = verdict_from_proto(c.current);
            Cell::styled(v.as_str(), verdict_style(v))
        };
        table.push(vec![
            Cell::new(check),
            Cell::new(subject),
            Cell::new(c.runs.to_string()),
            Cell::new(ok_percent(c.ok_runs, c.runs)),
            Cell::new(c.outages.to_string()),
            Cell::new(span(c.longest_outage.as_ref())),
            Cell::new(span(c.mean_time_to_recover.as_ref())),
            Cell::new(from_proto(c.last_change.as_ref()).map_or_else(
                || t(Label::Never, lang).to_owned(),
                |ts| local_minute(ts, tz),
            )),
            now,
        ]);
    }
    table
}

/// The whole screen: heading, table, one timeline per row with the dates at
/// its ends, and the legend.
pub fn render(a: &v1::Availability, out: &Output, tz: &TimeZone) -> String {
    let lang = out.lang;
    let bucket = duration_secs(a.bucket.as_ref()).unwrap_or(0);
    let daily = bucket >= 86_400;
    let (from, to) = (from_proto(a.from.as_ref()), from_proto(a.to.as_ref()));
    let minute =
        |ts: Option<jiff::Timestamp>| ts.map_or_else(|| "-".to_owned(), |t| local_minute(t, tz));
    let per = match bucket {
        3_600 => t(Label::PerHour, lang).to_owned(),
        86_400 => t(Label::PerDay, lang).to_owned(),
        0 => String::new(),
        s => per_bucket(&format_span(s, lang)).get(lang).to_owned(),
    };
    let mut s = availability_heading(&sanitize(&a.terminal_id), &minute(from), &minute(to), &per)
        .get(lang)
        .to_owned();
    s.push('\n');
    s.push_str(&table(a, lang, tz).render(out.color));

    let rows: Vec<&v1::CheckAvailability> = a.overall.iter().chain(&a.checks).collect();
    if rows.iter().all(|r| r.timeline.is_empty()) {
        return s;
    }
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            let (check, subject) = row_name(r, lang);
            if subject.is_empty() {
                check
            } else {
                format!("{check} {subject}")
            }
        })
        .collect();
    let name_width = names.iter().map(|n| display_width(n)).max().unwrap_or(0);
    let width = rows.iter().map(|r| r.timeline.len()).max().unwrap_or(0);
    s.push('\n');
    for (name, row) in names.iter().zip(&rows) {
        let pad = name_width - display_width(name);
        s.push_str(&format!(
            "{name}{}  {}\n",
            " ".repeat(pad),
            timeline(&row.timeline, out.color)
        ));
    }
    // The dates (or hours) at the timeline's two ends.
    let label = |ts: Option<jiff::Timestamp>| match ts {
        None => "-".to_owned(),
        Some(ts) if daily => local_date(ts, tz),
        Some(ts) => local_hour(ts, tz),
    };
    let (start, end) = (label(from), label(to));
    let gap = width.saturating_sub(display_width(&start) + display_width(&end));
    let axis = if gap >= 2 {
        format!("{start}{}{end}", " ".repeat(gap))
    } else {
        format!("{start} → {end}")
    };
    s.push_str(&format!("{}  {axis}\n", " ".repeat(name_width)));
    s.push_str(&legend(out.color, lang));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    use v1::Verdict as V;

    fn ts(s: &str) -> prost_types::Timestamp {
        crate::when::to_proto(s.parse().expect("timestamp"))
    }

    fn secs(n: i64) -> Option<prost_types::Duration> {
        Some(prost_types::Duration {
            seconds: n,
            nanos: 0,
        })
    }

    fn week() -> v1::Availability {
        let tl = |vs: &[V]| vs.iter().map(|v| *v as i32).collect::<Vec<_>>();
        v1::Availability {
            terminal_id: "T1".into(),
            from: Some(ts("2026-11-29T05:00:00Z")),
            to: Some(ts("2026-12-06T05:00:00Z")),
            bucket: secs(86_400),
            overall: Some(v1::CheckAvailability {
                runs: 2016,
                ok_runs: 1990,
                ok_ratio: 1990.0 / 2016.0,
                outages: 2,
                longest_outage: secs(2 * 3600 + 5 * 60),
                mean_time_to_recover: secs(40 * 60),
                last_change: Some(ts("2026-12-05T14:02:00Z")),
                current: V::Ok as i32,
                timeline: tl(&[
                    V::Ok,
                    V::Ok,
                    V::Critical,
                    V::Warning,
                    V::Ok,
                    V::Unspecified,
                    V::Ok,
                    V::Ok,
                ]),
                ..Default::default()
            }),
            checks: vec![v1::CheckAvailability {
                check: "host.tcp".into(),
                subject: "收单行 (127.0.0.1:5000)".into(),
                runs: 1008,
                ok_runs: 982,
                outages: 2,
                longest_outage: secs(2 * 3600 + 5 * 60),
                mean_time_to_recover: None,
                last_change: None,
                current: V::Critical as i32,
                timeline: tl(&[
                    V::Ok,
                    V::Error,
                    V::Critical,
                    V::Warning,
                    V::Unknown,
                    V::Unspecified,
                    V::Ok,
                    V::Ok,
                ]),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn spans_read_in_their_two_largest_units() {
        let cases = [
            (0, Lang::En, "0 s"),
            (40, Lang::En, "40 s"),
            (2400, Lang::En, "40 min"),
            (7500, Lang::En, "2 h 5 min"),
            (7200, Lang::En, "2 h"),
            (7230, Lang::En, "2 h"),
            (3 * 86_400 + 4 * 3600 + 59, Lang::En, "3 d 4 h"),
            (7500, Lang::ZhCn, "2 小时 5 分钟"),
        ];
        for (s, lang, want) in cases {
            assert_eq!(format_span(s, lang), want, "{s}");
        }
    }

    #[test]
    fn ok_share_never_rounds_a_failure_up_to_100() {
        let cases = [
            (0, 0, "-"),
            (10, 10, "100%"),
            (9999, 10_000, "99.99%"),
            (99_999, 100_000, "99.99%"),
            (1, 2, "50%"),
            (1990, 2016, "98.71%"),
            (19, 20, "95%"),
            (199, 200, "99.5%"),
        ];
        for (ok, runs, want) in cases {
            assert_eq!(ok_percent(ok, runs), want, "{ok}/{runs}");
        }
    }

    #[test]
    fn a_plain_timeline_has_a_character_per_verdict() {
        let vs = [
            V::Ok,
            V::Warning,
            V::Critical,
            V::Error,
            V::Unknown,
            V::Unspecified,
        ]
        .map(|v| v as i32);
        assert_eq!(timeline(&vs, false), "▁▄██?·");
        assert_eq!(
            legend(false, Lang::En),
            "▁ OK  ▄ WARNING  █ CRITICAL/ERROR  ? UNKNOWN  · no run"
        );
        assert_eq!(
            legend(false, Lang::ZhCn),
            "▁ OK  ▄ WARNING  █ CRITICAL/ERROR  ? UNKNOWN  · 未运行"
        );
    }

    #[test]
    fn a_coloured_timeline_is_blocks_in_the_verdicts_colours() {
        let vs = [
            V::Ok,
            V::Ok,
            V::Warning,
            V::Critical,
            V::Error,
            V::Unknown,
            V::Unspecified,
        ]
        .map(|v| v as i32);
        assert_eq!(
            timeline(&vs, true),
            "\x1b[32m██\x1b[0m\x1b[33m█\x1b[0m\x1b[31m██\x1b[0m\x1b[90m█\x1b[0m\x1b[2m·\x1b[0m"
        );
        assert!(legend(true, Lang::En).starts_with("\x1b[32m█\x1b[0m OK  "));
    }

    #[test]
    fn the_plain_screen_in_english() {
        let text = render(&week(), &Output::plain(Lang::En), &TimeZone::UTC);
        let want = "\
T1, 2026-11-29 05:00 to 2026-12-06 05:00 (one character per day)
CHECK     SUBJECT                  RUNS  OK %    OUTAGES  LONGEST    MTTR    LAST CHANGE       NOW
overall                            2016  98.71%  2        2 h 5 min  40 min  2026-12-05 14:02  OK
host.tcp  收单行 (127.0.0.1:5000)  1008  97.42%  2        2 h 5 min  -       never             CRITICAL

overall                           ▁▁█▄▁·▁▁
host.tcp 收单行 (127.0.0.1:5000)  ▁██▄?·▁▁
                                  2026-11-29 → 2026-12-06
▁ OK  ▄ WARNING  █ CRITICAL/ERROR  ? UNKNOWN  · no run
";
        assert_eq!(text, want);
    }

    #[test]
    fn the_screen_in_chinese_aligns_by_display_width() {
        let mut a = week();
        // Hourly buckets over a day: the axis has room for both ends.
        a.bucket = secs(3600);
        a.from = Some(ts("2026-12-05T05:00:00Z"));
        for row in a.overall.iter_mut().chain(a.checks.iter_mut()) {
            row.timeline = vec![V::Ok as i32; 24];
        }
        let shanghai = TimeZone::fixed(jiff::tz::offset(8));
        let text = render(&a, &Output::plain(Lang::ZhCn), &shanghai);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "T1，2026-12-05 13:00 至 2026-12-06 13:00（每个字符代表一小时）"
        );
        assert!(
            lines[1].starts_with("检查项    对象                     运行次数  正常率"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("总体                               2016      98.71%"),
            "{text}"
        );
        assert!(lines[3].contains("2 小时 5 分钟  -         从未"), "{text}");
        // Timelines start in the same column after the CJK subject.
        let tl_col = |l: &str| display_width(&l[..l.find('▁').expect("timeline")]);
        assert_eq!(tl_col(lines[5]), tl_col(lines[6]));
        assert_eq!(lines[7].trim_start(), "12-05 13:00  12-06 13:00");
        assert_eq!(
            display_width(lines[7]),
            tl_col(lines[5]) + 24,
            "the end date ends where the timeline ends"
        );
        assert!(lines[8].ends_with("· 未运行"));
    }
}
