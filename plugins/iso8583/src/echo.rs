//! The echo run of `host.echo`: sends network-management echoes one after the other on the
//! daemon's TCP link, pairs each answer with its request by MTI and STAN, and records what
//! happened. Turning that record into findings is [`crate::report`]'s job.
//!
//! Everything waits on the host's transport reads, each bounded by what is left of the
//! echo's reply timeout and of the check's budget; the interval between echoes is spent
//! reading too, so a late answer is recognised as late instead of confusing the next echo.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use posdiag_core::iso8583::{FrameReader, Message, NetworkRequest, is_response_to};
use posdiag_plugin_api::sdk::{Host, PluginError, TransportError, ms};

use crate::args::EchoArgs;

/// The largest answer accepted; a length prefix announcing more is a framing error (an echo
/// answer is well under 200 bytes, so this only guards against a misread prefix).
const MAX_MESSAGE_BYTES: usize = 8192;

/// Why the run stopped before sending every echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The daemon has no link for this check (it could not connect to the host).
    NoLink,
    /// The host closed or reset the connection.
    Lost,
    /// The byte stream cannot be split into messages any more (a bad length prefix).
    Framing(String),
    /// Any other transport failure.
    Transport(String),
}

/// What one run observed.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Echoes written to the link.
    pub sent: u32,
    /// Echoes answered by a matching response (MTI + 10, same STAN) in time.
    pub answered: u32,
    /// Round trips of the answered echoes, in ms, in sending order.
    pub rtts_ms: Vec<f64>,
    /// Field 39 of each matching answer, in order (`None`: the answer had no field 39).
    pub codes: Vec<Option<String>>,
    /// Messages that answer none of our echoes, and frames that do not decode.
    pub mismatched: u32,
    /// Matching answers that arrived after their echo had been given up.
    pub late: u32,
    /// Why the run stopped early, if it did.
    pub stop: Option<Stop>,
    /// Whether the check's budget ran out before every echo was sent.
    pub budget_exhausted: bool,
}

/// Field 7, transmission date and time: UTC `MMDDhhmmss`.
pub fn transmission_date_time(now: SystemTime) -> String {
    // A clock before 1970 is broken anyway; any well-formed value is better than failing.
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (_, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The first STAN of a run: taken from the clock so that consecutive checks on a host do not
/// reuse trace numbers (a host may drop what looks like a duplicate), in 1..=999_999.
fn first_stan(now: SystemTime) -> u32 {
    let nanos = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    u32::try_from(nanos % 999_999).unwrap_or(0) + 1
}

/// The `i`th STAN after `first`, wrapping within 1..=999_999 (000000 is avoided: some hosts
/// treat it as "no trace number").
fn stan_at(first: u32, i: u32) -> u32 {
    (first - 1 + i) % 999_999 + 1
}

/// What a wait for frames ended with.
enum Received {
    /// A whole frame (without its length prefix).
    Frame(Vec<u8>),
    /// The instant waited for passed.
    TimedOut,
}

/// The link to the host: the transport callbacks plus the stream framing.
struct Link<'h> {
    host: &'h Host,
    reader: FrameReader,
    buf: Vec<u8>,
}

impl Link<'_> {
    /// The next frame, reading until `until` at most.
    fn receive(&mut self, until: Instant) -> Result<Received, Stop> {
        loop {
            match self.reader.next_frame() {
                Ok(Some(frame)) => return Ok(Received::Frame(frame)),
                Ok(None) => {}
                // After a framing error the stream cannot be resynchronised.
                Err(e) => return Err(Stop::Framing(e.to_string())),
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Received::TimedOut);
            }
            match self.host.read(&mut self.buf, left) {
                Ok(n) => {
                    let got = self.buf.get(..n).unwrap_or_default();
                    self.reader.push(got);
                }
                Err(TransportError::Timeout) => return Ok(Received::TimedOut),
                Err(e) => return Err(stop_for(e)),
            }
        }
    }
}

fn stop_for(e: TransportError) -> Stop {
    match e {
        TransportError::LinkLost => Stop::Lost,
        TransportError::NoLink => Stop::NoLink,
        other => Stop::Transport(other.to_string()),
    }
}

/// Sorts out one received frame while waiting for `current` (if any): the decoded answer if
/// it answers `current`. Late answers to echoes in `given_up` are counted and forgotten;
/// anything else is counted as mismatched and skipped.
fn classify(
    args: &EchoArgs,
    frame: &[u8],
    current: Option<&Message>,
    given_up: &mut Vec<Message>,
    out: &mut Outcome,
    host: &Host,
) -> Option<Message> {
    let message = match args.dialect.decode(frame) {
        Ok(m) => m,
        Err(e) => {
            // Only the error (which names the field), never the bytes: it could be anything.
            host.debug(&format!(
                "host.echo: skipping a frame that does not decode: {e}"
            ));
            out.mismatched += 1;
            return None;
        }
    };
    if current.is_some_and(|request| is_response_to(request, &message)) {
        return Some(message);
    }
    if let Some(i) = given_up.iter().position(|r| is_response_to(r, &message)) {
        given_up.swap_remove(i);
        out.late += 1;
        host.debug(&format!(
            "host.echo: late answer {} for STAN {}",
            message.mti(),
            message.stan().unwrap_or("?")
        ));
    } else {
        host.debug(&format!(
            "host.echo: skipping {} with STAN {}, which answers none of our echoes",
            message.mti(),
            message.stan().unwrap_or("(none)")
        ));
        out.mismatched += 1;
    }
    None
}

/// Runs the echoes until `deadline`. `Err` only for a request this plugin cannot build (an
/// argument the dialect refuses), which is an invalid request rather than a finding.
pub fn run(
    host: &Host,
    args: &EchoArgs,
    deadline: Instant,
    subject: &str,
) -> Result<Outcome, PluginError> {
    let mut link = Link {
        host,
        reader: FrameReader::new(args.dialect.length_prefix(), MAX_MESSAGE_BYTES),
        buf: vec![0; 2048],
    };
    let mut out = Outcome::default();
    let mut given_up: Vec<Message> = Vec::new();
    let first = first_stan(SystemTime::now());
    let mut next_send = Instant::now();
    for i in 0..args.count {
        // Spend the interval reading, so late answers are counted as late.
        while Instant::now() < next_send.min(deadline) {
            match link.receive(next_send.min(deadline)) {
                Ok(Received::Frame(frame)) => {
                    classify(args, &frame, None, &mut given_up, &mut out, host);
                }
                Ok(Received::TimedOut) => break,
                Err(stop) => {
                    out.stop = Some(stop);
                    return Ok(out);
                }
            }
        }
        if Instant::now() >= deadline {
            out.budget_exhausted = true;
            break;
        }
        let stan = stan_at(first, i);
        let mut request = NetworkRequest::echo(stan, transmission_date_time(SystemTime::now()));
        if let Some(tid) = &args.terminal_id {
            request.terminal_id.clone_from(tid);
        }
        if let Some(mid) = &args.merchant_id {
            request.merchant_id.clone_from(mid);
        }
        request.cup = args.cup;
        let invalid = |e: posdiag_core::iso8583::Iso8583Error| {
            PluginError::invalid(format!(
                "the echo request does not fit dialect {}: {e}",
                args.dialect.name()
            ))
        };
        let message = request.build(&args.dialect).map_err(invalid)?;
        let bytes = args.dialect.encode_framed(&message).map_err(invalid)?;

        let sent_at = Instant::now();
        if let Err(e) = host.write(&bytes, deadline.saturating_duration_since(sent_at)) {
            out.stop = Some(match e {
                // The host stopped taking our bytes; nothing more can be measured.
                TransportError::Timeout => {
                    Stop::Transport("the host did not accept the echo request in time".to_owned())
                }
                other => stop_for(other),
            });
            return Ok(out);
        }
        out.sent += 1;
        let give_up_at = (sent_at + args.reply_timeout).min(deadline);
        loop {
            match link.receive(give_up_at) {
                Ok(Received::Frame(frame)) => {
                    if let Some(answer) =
                        classify(args, &frame, Some(&message), &mut given_up, &mut out, host)
                    {
                        let rtt = ms(sent_at.elapsed());
                        let code = answer.response_code().map(str::to_owned);
                        host.debug(&format!(
                            "host.echo: STAN {stan:06} answered {} in {rtt:.1} ms",
                            code.as_deref().unwrap_or("without field 39")
                        ));
                        host.metric("echo_rtt", rtt, "ms");
                        out.answered += 1;
                        out.rtts_ms.push(rtt);
                        out.codes.push(code);
                        break;
                    }
                }
                Ok(Received::TimedOut) => {
                    host.debug(&format!(
                        "host.echo: no answer to STAN {stan:06} for {subject}"
                    ));
                    given_up.push(message);
                    break;
                }
                Err(stop) => {
                    out.stop = Some(stop);
                    return Ok(out);
                }
            }
        }
        next_send = (sent_at + args.interval).max(Instant::now());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn field_7_is_utc_month_day_time() {
        assert_eq!(transmission_date_time(UNIX_EPOCH), "0101000000");
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(transmission_date_time(leap), "0229123456");
        let new_year = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(transmission_date_time(new_year), "1231235959");
    }

    #[test]
    fn stans_stay_in_range_and_skip_zero() {
        assert_eq!(stan_at(999_999, 0), 999_999);
        assert_eq!(stan_at(999_999, 1), 1);
        assert_eq!(stan_at(1, 0), 1);
        let first = first_stan(SystemTime::now());
        assert!((1..=999_999).contains(&first));
    }
}
