//! How results are shown: language, JSON or text, colour, and aligned tables
//! whose columns are measured in terminal cells (CJK characters take two).

use posdiag_core::{Lang, Verdict};
use unicode_width::UnicodeWidthStr;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always colour, even into a pipe.
    Always,
    /// Never colour.
    Never,
}

/// Whether to write ANSI colours to stdout. `no_color` is the value of the
/// `NO_COLOR` environment variable (<https://no-color.org>: set and not
/// empty means no colour).
pub fn use_color(choice: ColorChoice, stdout_is_tty: bool, no_color: Option<&str>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout_is_tty && no_color.is_none_or(str::is_empty),
    }
}

/// Presentation settings shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// Language of the CLI's words; also sent in every request.
    pub lang: Lang,
    /// Print the proto3 JSON mapping instead of tables.
    pub json: bool,
    /// ANSI colours on stdout.
    pub color: bool,
    /// Show progress on stderr (stderr is a terminal).
    pub progress: bool,
}

impl Output {
    /// Plain English text, no colour, no progress: for tests and pipes.
    pub fn plain(lang: Lang) -> Output {
        Output {
            lang,
            json: false,
            color: false,
            progress: false,
        }
    }

    /// `text` in the colour of `verdict` when colour is on.
    pub fn paint(&self, verdict: Verdict, text: &str) -> String {
        paint(self.color, verdict_style(verdict), text)
    }
}

/// The ANSI SGR parameters for a verdict.
pub fn verdict_style(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "32",
        Verdict::Warning => "33",
        Verdict::Critical => "1;31",
        Verdict::Error => "31",
        Verdict::Unknown => "35",
    }
}

/// `text` wrapped in an SGR sequence when `color` is on.
pub fn paint(color: bool, style: &str, text: &str) -> String {
    if color && !style.is_empty() {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Columns a string takes in a terminal.
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Text from the daemon made safe for one table cell or line: control
/// characters (newlines, escape sequences) become spaces, so a summary can
/// neither break the alignment nor drive the terminal.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// One cell: its text and an optional SGR style applied after padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The visible text.
    pub text: String,
    /// SGR parameters, empty for none.
    pub style: &'static str,
}

impl Cell {
    /// An unstyled cell.
    pub fn new(text: impl AsRef<str>) -> Cell {
        Cell {
            text: sanitize(text.as_ref()),
            style: "",
        }
    }

    /// A styled cell.
    pub fn styled(text: impl AsRef<str>, style: &'static str) -> Cell {
        Cell {
            text: sanitize(text.as_ref()),
            style,
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::new(s)
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::new(s)
    }
}

/// A table with a header row, columns separated by two spaces, the last
/// column not padded (no trailing blanks).
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are blank, extra cells are kept.
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, each ending in `\n`.
    pub fn render(&self, color: bool) -> String {
        let ncols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; ncols];
        for (i, h) in self.header.iter().enumerate() {
            widths[i] = widths[i].max(display_width(h));
        }
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                widths[i] = widths[i].max(display_width(&c.text));
            }
        }
        let mut out = String::new();
        let header: Vec<Cell> = self.header.iter().map(|h| Cell::styled(h, "1")).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let (text, style) = row.get(i).map_or(("", ""), |c| (c.text.as_str(), c.style));
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&paint(color, style, text));
                if i + 1 < ncols {
                    let pad = width.saturating_sub(display_width(text));
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_display_width_including_cjk() {
        let mut t = Table::new(["ID", "NAME", "STATUS"]);
        t.push(vec!["T1".into(), "收银台一".into(), "OK".into()]);
        t.push(vec!["T22".into(), "Checkout 2".into(), "CRITICAL".into()]);
        let text = t.render(false);
        let want = "\
ID   NAME        STATUS
T1   收银台一    OK
T22  Checkout 2  CRITICAL
";
        assert_eq!(text, want);
        // Every STATUS cell starts in the same terminal column.
        for (line, word) in text.lines().zip(["STATUS", "OK", "CRITICAL"]) {
            let byte = line.rfind(word).expect(word);
            assert_eq!(display_width(&line[..byte]), 17, "{line}");
        }
    }

    #[test]
    fn colour_codes_do_not_count_toward_width() {
        let mut t = Table::new(["VERDICT", "CHECK"]);
        t.push(vec![Cell::styled("OK", "32"), "host.dns".into()]);
        let text = t.render(true);
        let row = text.lines().nth(1).expect("row");
        assert_eq!(row, "\x1b[32mOK\x1b[0m       host.dns");
    }

    #[test]
    fn newlines_and_escapes_from_the_daemon_cannot_break_a_row() {
        let mut t = Table::new(["A", "B"]);
        t.push(vec!["x\ny".into(), "\x1b[2Jz".into()]);
        assert_eq!(t.render(false).lines().count(), 2);
        assert!(!t.render(false).contains('\x1b'));
    }

    #[test]
    fn colour_is_off_when_not_a_tty_or_no_color_is_set() {
        assert!(!use_color(ColorChoice::Auto, false, None));
        assert!(use_color(ColorChoice::Auto, true, None));
        assert!(use_color(ColorChoice::Auto, true, Some("")));
        assert!(!use_color(ColorChoice::Auto, true, Some("1")));
        assert!(use_color(ColorChoice::Always, false, Some("1")));
        assert!(!use_color(ColorChoice::Never, true, None));
        let out = Output::plain(Lang::En);
        assert_eq!(out.paint(Verdict::Critical, "CRITICAL"), "CRITICAL");
    }
}
