//! What the driver reads about a running daemon from `/proc`.

use std::path::Path;

use crate::BenchError;

/// CPU time the process has used so far, in nanoseconds: the sum of the run times of its
/// threads (`/proc/<pid>/task/*/schedstat`, nanosecond resolution, user and system).
/// Threads that already exited are not counted; the daemons measured keep their threads.
pub fn cpu_ns(pid: u32) -> Result<u64, BenchError> {
    let dir = format!("/proc/{pid}/task");
    let entries =
        std::fs::read_dir(&dir).map_err(|e| BenchError::io(format!("reading {dir}"), e))?;
    let mut total = 0u64;
    for entry in entries.flatten() {
        // A thread may exit between the listing and the read: skip it.
        if let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) {
            total += parse_schedstat(&text).unwrap_or(0);
        }
    }
    Ok(total)
}

fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::io(format!("reading {path}"), e))?;
    parse_rss(&text).ok_or_else(|| BenchError::Run(format!("no VmRSS line in {path}")))
}

fn parse_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether `/proc/<pid>` exists.
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_lines() {
        assert_eq!(parse_schedstat("123456 789 10\n"), Some(123456));
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_rss("Name:\tx\nVmRSS:\t  5120 kB\n"), Some(5120));
        assert_eq!(parse_rss("Name:\tx\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(alive(me));
        assert!(rss_kib(me).unwrap() > 0);
        let before = cpu_ns(me).unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_ns(me).unwrap() > before);
    }
}
