//! `berth status`: the rollout status of the daemon's workload (desired, updated, ready and
//! available pods); with `--wait`, a live progress line until the rollout completes (exit 0)
//! or the timeout passes (exit 1, with the reason the pods give).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::apply::{connect, load_spec, runtime};
use super::{CommandError, CommandResult};
use crate::cluster::{self, Connection, Phase, Rollout};
use crate::spec::Spec;

/// Options of `berth status`.
#[derive(Debug, Clone)]
pub struct StatusCommand {
    /// The description.
    pub file: PathBuf,
    /// The kubeconfig context (default: the current context).
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    pub namespace: Option<String>,
    /// Wait until the rollout completes.
    pub wait: bool,
    /// How long `--wait` waits.
    pub timeout: Duration,
}

/// How often `--wait` polls the API server.
const POLL: Duration = Duration::from_secs(1);
/// Pod problems are looked up once a rollout has been in progress this long (a pod that is
/// starting is not a problem yet).
const GRACE: Duration = Duration::from_secs(3);

/// `90s` → `1m30s`, `300s` → `5m`.
pub fn human(d: Duration) -> String {
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut text = String::new();
    if h > 0 {
        text.push_str(&format!("{h}h"));
    }
    if m > 0 {
        text.push_str(&format!("{m}m"));
    }
    if s > 0 || text.is_empty() {
        if text.is_empty() && d.subsec_millis() > 0 && total == 0 {
            return format!("{}ms", d.subsec_millis());
        }
        text.push_str(&format!("{s}s"));
    }
    text
}

fn runtime_error(e: cluster::ClusterError) -> CommandError {
    CommandError::from(e)
}

/// The report of a rollout that did not complete: what it waits for, then one indented line
/// per pod problem.
fn failure(rollout: &Rollout, headline: &str, problems: &[String]) -> String {
    let mut text = format!(
        "{}: {headline}\n  {}",
        rollout.reference(),
        rollout.counts()
    );
    for p in problems {
        text.push_str("\n  ");
        text.push_str(p);
    }
    text
}

/// Runs `berth status`.
pub fn run(options: &StatusCommand) -> CommandResult {
    let spec = load_spec(&options.file)?;
    runtime()?.block_on(async {
        let conn = connect(options.context.as_deref(), options.namespace.as_deref()).await?;
        if options.wait {
            wait(&conn, &spec, options.timeout).await
        } else {
            once(&conn, &spec).await
        }
    })
}

/// Prints the status once. Exit 0 unless the rollout failed (progress deadline exceeded).
async fn once(conn: &Connection, spec: &Spec) -> CommandResult {
    let rollout = cluster::rollout(conn, spec).await.map_err(runtime_error)?;
    let mut out = format!(
        "{} (namespace {})\n  {}\n",
        rollout.reference(),
        conn.namespace,
        rollout.counts()
    );
    match &rollout.phase {
        Phase::Complete => out.push_str("  successfully rolled out\n"),
        Phase::Progressing(m) => out.push_str(&format!("  rolling out: {m}\n")),
        Phase::Failed(m) => {
            let problems = cluster::pod_problems(conn, spec).await.unwrap_or_default();
            return Err(CommandError::runtime(failure(&rollout, m, &problems)));
        }
    }
    if !rollout.is_complete() {
        for p in cluster::pod_problems(conn, spec)
            .await
            .map_err(runtime_error)?
        {
            out.push_str(&format!("  {p}\n"));
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(())
}

/// Polls until the rollout completes, fails or `timeout` passes. On a terminal, the progress
/// is one live line on stderr; otherwise each change is printed on its own line.
async fn wait(conn: &Connection, spec: &Spec, timeout: Duration) -> CommandResult {
    let started = Instant::now();
    let deadline = started + timeout;
    let live = std::io::stderr().is_terminal();
    let bar = if live {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut last_line = String::new();
    // Since when the API server has not answered (a restart, an overload), and why.
    let mut outage: Option<(Instant, cluster::ClusterError)> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // One poll never outlives the deadline (plus a moment to report).
        let polled = tokio::time::timeout(left + POLL, cluster::rollout(conn, spec))
            .await
            .unwrap_or_else(|_| {
                Err(cluster::ClusterError::Unavailable {
                    what: format!("get {}", cluster::workload_reference(spec)),
                    message: format!("no answer within {}", human(left + POLL)),
                })
            });
        let rollout = match polled {
            Ok(r) => {
                if let Some((since, _)) = outage.take() {
                    let line = format!(
                        "the API server answers again after {}; still waiting",
                        human(since.elapsed())
                    );
                    if live {
                        bar.set_message(line);
                    } else {
                        eprintln!("[{:>4}s] {line}", started.elapsed().as_secs());
                    }
                    last_line.clear();
                }
                r
            }
            // The API server restarting or overloaded: keep asking until the deadline.
            Err(e) if e.is_transient() => {
                if outage.is_none() {
                    let line = format!("{e}; retrying until the timeout").replace('\n', " ");
                    if live {
                        bar.set_message(line);
                    } else {
                        eprintln!("[{:>4}s] {line}", started.elapsed().as_secs());
                    }
                }
                let since = outage.map_or_else(Instant::now, |(since, _)| since);
                let now = Instant::now();
                if now >= deadline {
                    bar.finish_and_clear();
                    let err = CommandError::runtime(format!(
                        "{e}\n  the rollout status is unknown: the API server has not answered for {} and the timeout ({}) passed",
                        human(since.elapsed()),
                        human(timeout)
                    ));
                    return Err(match e.hint() {
                        Some(h) => err.with_hint(h),
                        None => err,
                    });
                }
                outage = Some((since, e));
                tokio::time::sleep(POLL.min(deadline - now)).await;
                continue;
            }
            Err(e) => {
                bar.finish_and_clear();
                return Err(runtime_error(e));
            }
        };
        let mut problems = Vec::new();
        if !rollout.is_complete() && started.elapsed() >= GRACE {
            problems = cluster::pod_problems(conn, spec).await.unwrap_or_default();
        }
        let mut line = rollout.to_string();
        if let Some(first) = problems.first() {
            line.push_str(&format!(" [{first}]"));
        }
        if line != last_line {
            if live {
                bar.set_message(line.clone());
            } else {
                eprintln!("[{:>4}s] {line}", started.elapsed().as_secs());
            }
            last_line = line;
        }
        match &rollout.phase {
            Phase::Complete => {
                bar.finish_and_clear();
                println!(
                    "{} successfully rolled out ({}) in namespace {}",
                    rollout.reference(),
                    rollout.counts(),
                    conn.namespace
                );
                return Ok(());
            }
            Phase::Failed(m) => {
                bar.finish_and_clear();
                let problems = cluster::pod_problems(conn, spec).await.unwrap_or_default();
                return Err(CommandError::runtime(failure(&rollout, m, &problems)));
            }
            Phase::Progressing(m) => {
                let now = Instant::now();
                if now >= deadline {
                    bar.finish_and_clear();
                    let problems = cluster::pod_problems(conn, spec).await.unwrap_or_default();
                    let headline = format!(
                        "rollout did not finish within {}: {m}{}",
                        human(timeout),
                        if problems.is_empty() {
                            ""
                        } else {
                            "; pods not Ready:"
                        }
                    );
                    return Err(CommandError::runtime(failure(
                        &rollout, &headline, &problems,
                    )));
                }
                tokio::time::sleep(POLL.min(deadline - now)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_secs(300)), "5m");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(0)), "0s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn failure_lists_problems_under_the_counts() {
        let rollout = Rollout {
            resource: "deployment.apps",
            name: "web".into(),
            desired: 2,
            updated: 1,
            ready: 0,
            available: 0,
            phase: Phase::Progressing("x".into()),
        };
        assert_eq!(
            failure(&rollout, "timed out", &["Unschedulable (pod a): no".into()]),
            "deployment.apps/web: timed out\n  desired 2, updated 1, ready 0, available 0\n  Unschedulable (pod a): no"
        );
    }
}
