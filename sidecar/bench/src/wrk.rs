//! Reading wrk's report (`wrk --latency`).

/// The figures of one wrk run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Completed requests.
    pub requests: u64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Socket errors (connect + read + write + timeout) plus non-2xx/3xx responses.
    pub errors: u64,
}

/// Parses the text wrk prints; `None` if a figure is missing.
///
/// ```
/// let text = "  Latency Distribution\n     50%  270.00us\n     99%    1.20ms\n\
///             540242 requests in 5.00s, 72.66MB read\nRequests/sec: 108030.84\n";
/// let r = berth_bench::wrk::parse(text).unwrap();
/// assert_eq!((r.requests, r.p50_us, r.p99_us, r.errors), (540242, 270.0, 1200.0, 0));
/// ```
pub fn parse(text: &str) -> Option<Report> {
    let mut requests = None;
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0u64;
    for line in text.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("50%") => p50 = words.next().and_then(duration_us),
            Some("99%") => p99 = words.next().and_then(duration_us),
            Some("Requests/sec:") => rps = words.next().and_then(|w| w.parse().ok()),
            Some("Socket") => {
                // Socket errors: connect 0, read 0, write 0, timeout 0
                errors += line
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum::<u64>();
            }
            Some("Non-2xx") => {
                errors += line
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            }
            Some(first) if line.contains(" requests in ") => requests = first.parse().ok(),
            _ => {}
        }
    }
    Some(Report {
        requests: requests?,
        rps: rps?,
        p50_us: p50?,
        p99_us: p99?,
        errors,
    })
}

/// `270.00us`, `1.20ms`, `2.00s` in microseconds.
fn duration_us(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 5s test @ http://127.0.0.1:8080/readyz
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   293.90us  123.17us   5.22ms   93.45%
    Req/Sec   108.57k     5.15k  115.01k    84.00%
  Latency Distribution
     50%  270.00us
     75%  300.00us
     90%  353.00us
     99%    2.01s
  540242 requests in 5.00s, 72.66MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec: 108030.84
Transfer/sec:     14.53MB
";

    #[test]
    fn parses_a_full_report() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.requests, 540242);
        assert!((r.rps - 108030.84).abs() < 1e-6);
        assert_eq!(r.p50_us, 270.0);
        assert!((r.p99_us - 2.01e6).abs() < 1e-3);
        assert_eq!(r.errors, 17);
    }

    #[test]
    fn a_truncated_report_is_rejected() {
        assert_eq!(parse("Running 5s test @ http://x/\n"), None);
        assert_eq!(duration_us("12"), None);
    }
}
