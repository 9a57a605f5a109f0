//! The `/metrics` text read back into OTLP metrics, so the export carries
//! exactly what Prometheus scrapes and there is one metrics model: each
//! `# TYPE` family becomes one metric, gauges (state sets and info series
//! included) as OTLP gauges, counters as cumulative monotonic sums named
//! without `_total` (an OTLP-to-Prometheus exporter adds it back, so it is
//! not doubled), each label an attribute.

use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, Sum, metric, number_data_point,
};

use super::attribute;

/// The metrics of one rendering of `/metrics`. Counters start at `start`
/// (the daemon's start), every point is taken at `now` (Unix nanoseconds).
/// A line that does not parse is skipped (the renderer is ours; this is
/// only a guard).
pub(super) fn metrics(text: &str, start: u64, now: u64) -> Vec<Metric> {
    let mut out: Vec<Metric> = Vec::new();
    let mut help = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest
                .split_once(' ')
                .map(|(_, h)| h)
                .unwrap_or("")
                .to_owned();
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let Some((name, kind)) = rest.split_once(' ') else {
                continue;
            };
            let data = match kind.trim() {
                "counter" => metric::Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
                _ => metric::Data::Gauge(Gauge {
                    data_points: Vec::new(),
                }),
            };
            let name = match data {
                metric::Data::Sum(_) => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            out.push(Metric {
                name: name.to_owned(),
                description: std::mem::take(&mut help),
                data: Some(data),
                ..Default::default()
            });
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((name, labels, value)) = sample(line) else {
            continue;
        };
        let Some(metric) = out.last_mut() else {
            continue;
        };
        let point = |start_time_unix_nano| NumberDataPoint {
            attributes: labels.iter().map(|(k, v)| attribute(k, v)).collect(),
            start_time_unix_nano,
            time_unix_nano: now,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..Default::default()
        };
        match &mut metric.data {
            Some(metric::Data::Sum(s))
                if name.strip_suffix("_total").unwrap_or(name) == metric.name =>
            {
                s.data_points.push(point(start));
            }
            Some(metric::Data::Gauge(g)) if name == metric.name => g.data_points.push(point(0)),
            _ => {}
        }
    }
    out.retain(|m| match &m.data {
        Some(metric::Data::Sum(s)) => !s.data_points.is_empty(),
        Some(metric::Data::Gauge(g)) => !g.data_points.is_empty(),
        _ => false,
    });
    out
}

/// A sample line's labels, in order.
type Labels = Vec<(String, String)>;

/// `name{k="v",...} value [timestamp]`.
fn sample(line: &str) -> Option<(&str, Labels, f64)> {
    let end = line.find(['{', ' '])?;
    let name = &line[..end];
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &body[i + 1..];
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_text_becomes_gauges_and_monotonic_sums() {
        let text = "# HELP posdiag_build_info The running posdiagd's version.\n\
            # TYPE posdiag_build_info gauge\n\
            posdiag_build_info{version=\"0.1.0\"} 1\n\
            # HELP posdiag_check_runs Runs.\n\
            # TYPE posdiag_check_runs counter\n\
            posdiag_check_runs_total{terminal=\"T1\",check=\"host.tcp\",target=\"a \\\"b\\\"\",verdict=\"ok\"} 3\n\
            posdiag_check_runs_total{terminal=\"T1\",check=\"host.tcp\",target=\"\",verdict=\"critical\"} 1.5e0\n\
            # HELP posdiag_empty Nothing.\n\
            # TYPE posdiag_empty gauge\n\
            # EOF\n";
        let m = metrics(text, 10, 20);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].name, "posdiag_build_info");
        assert_eq!(m[0].description, "The running posdiagd's version.");
        let Some(metric::Data::Gauge(g)) = &m[0].data else {
            panic!("{m:?}")
        };
        assert_eq!(g.data_points[0].attributes[0].key, "version");
        assert_eq!(m[1].name, "posdiag_check_runs");
        let Some(metric::Data::Sum(s)) = &m[1].data else {
            panic!("{m:?}")
        };
        assert!(s.is_monotonic);
        assert_eq!(s.data_points.len(), 2);
        assert_eq!(s.data_points[0].start_time_unix_nano, 10);
        assert_eq!(s.data_points[0].time_unix_nano, 20);
        assert_eq!(
            s.data_points[1].value,
            Some(number_data_point::Value::AsDouble(1.5))
        );
        let target = format!("{:?}", s.data_points[0].attributes[2]);
        assert!(target.contains(r#"a \"b\""#), "{target}");
    }
}
