//! Lifecycle metrics (Prometheus); a no-op when the `metrics` feature is off.
//!
//! A leaf: events (check runs, panics, reloads) are counted by whoever sees them; the state
//! gauges (phase, readiness, requests in flight, last drain) are read from the lifecycle and
//! the health state when `/metrics` is scraped ([`Snapshot`]), so nothing pushes into them.

use std::time::Duration;

use crate::state::Phase;

/// The state gauges, read at scrape time.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct Snapshot {
    pub phase: Phase,
    pub ready: bool,
    pub in_flight: usize,
    pub last_drain: Option<Duration>,
}

#[cfg(feature = "metrics")]
mod imp {
    use std::sync::{Mutex, MutexGuard};
    use std::time::Duration;

    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
    use prometheus_client::registry::Registry;
    use std::sync::atomic::AtomicU64;

    use super::Snapshot;
    use crate::state::Phase;

    type Labels = Vec<(&'static str, String)>;

    /// The labels of one health check's series, built once.
    #[derive(Debug, Clone)]
    pub(crate) struct CheckLabels(Labels);

    impl CheckLabels {
        pub fn new(name: &str, kinds: &str) -> CheckLabels {
            CheckLabels(vec![("check", name.to_owned()), ("kind", kinds.to_owned())])
        }
    }

    fn check_histogram() -> Histogram {
        // 1 ms .. ~4 s
        Histogram::new(exponential_buckets(0.001, 2.0, 13))
    }

    pub(crate) struct Metrics {
        registry: Mutex<Registry>,
        ready: Gauge,
        phase: Family<Labels, Gauge>,
        inflight: Gauge,
        drain_seconds: Gauge<f64, AtomicU64>,
        check_up: Family<Labels, Gauge>,
        check_failures: Family<Labels, Counter>,
        check_duration: Family<Labels, Histogram, fn() -> Histogram>,
        handler_panics: Counter,
        task_panics: Counter,
        reloads: Family<Labels, Counter>,
    }

    impl Metrics {
        pub fn new(checks: &[&CheckLabels]) -> Metrics {
            let m = Metrics {
                registry: Mutex::new(Registry::default()),
                ready: Gauge::default(),
                phase: Family::default(),
                inflight: Gauge::default(),
                drain_seconds: Gauge::default(),
                check_up: Family::default(),
                check_failures: Family::default(),
                check_duration: Family::new_with_constructor(check_histogram as fn() -> Histogram),
                handler_panics: Counter::default(),
                task_panics: Counter::default(),
                reloads: Family::default(),
            };
            for c in checks {
                m.check_up.get_or_create(&c.0).set(0);
                let _ = m.check_failures.get_or_create(&c.0);
            }
            for result in ["success", "failure"] {
                let _ = m
                    .reloads
                    .get_or_create(&vec![("result", result.to_owned())]);
            }
            {
                let mut r = m.registry.lock().unwrap_or_else(|e| e.into_inner());
                r.register("berth_ready", "1 when /readyz answers 200", m.ready.clone());
                r.register(
                    "berth_lifecycle_phase",
                    "1 for the current lifecycle phase",
                    m.phase.clone(),
                );
                r.register(
                    "berth_in_flight_requests",
                    "Requests being served by Handle::serve",
                    m.inflight.clone(),
                );
                r.register(
                    "berth_drain_duration_seconds",
                    "Duration of the last drain (after the pre-stop delay)",
                    m.drain_seconds.clone(),
                );
                r.register(
                    "berth_check_up",
                    "1 when the last run of the health check succeeded",
                    m.check_up.clone(),
                );
                r.register(
                    "berth_check_failures",
                    "Failed health check runs (errors, timeouts, panics)",
                    m.check_failures.clone(),
                );
                r.register(
                    "berth_check_duration_seconds",
                    "Duration of health check runs",
                    m.check_duration.clone(),
                );
                r.register(
                    "berth_handler_panics",
                    "Request handlers that panicked (answered 500)",
                    m.handler_panics.clone(),
                );
                r.register(
                    "berth_task_panics",
                    "Tracked tasks that panicked",
                    m.task_panics.clone(),
                );
                r.register(
                    "berth_reloads",
                    "Configuration reloads by result",
                    m.reloads.clone(),
                );
            }
            m
        }

        pub fn registry(&self) -> MutexGuard<'_, Registry> {
            self.registry.lock().unwrap_or_else(|e| e.into_inner())
        }

        pub fn encode(&self, now: &Snapshot) -> String {
            self.phase(now.phase);
            self.ready.set(i64::from(now.ready));
            self.inflight
                .set(i64::try_from(now.in_flight).unwrap_or(i64::MAX));
            if let Some(d) = now.last_drain {
                self.drain_seconds.set(d.as_secs_f64());
            }
            let mut out = String::new();
            let registry = self.registry();
            // Writing into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
            out
        }

        fn phase(&self, phase: Phase) {
            for p in Phase::ALL {
                self.phase
                    .get_or_create(&vec![("phase", p.as_str().to_owned())])
                    .set(i64::from(p == phase));
            }
        }

        pub fn check_result(&self, check: &CheckLabels, ok: bool, elapsed: Duration) {
            let l = &check.0;
            self.check_up.get_or_create(l).set(i64::from(ok));
            if !ok {
                self.check_failures.get_or_create(l).inc();
            }
            self.check_duration
                .get_or_create(l)
                .observe(elapsed.as_secs_f64());
        }

        pub fn handler_panic(&self) {
            self.handler_panics.inc();
        }

        pub fn task_panic(&self) {
            self.task_panics.inc();
        }

        #[cfg_attr(not(feature = "reload"), allow(dead_code))]
        pub fn reload(&self, ok: bool) {
            let result = if ok { "success" } else { "failure" };
            self.reloads
                .get_or_create(&vec![("result", result.to_owned())])
                .inc();
        }
    }
}

#[cfg(feature = "metrics")]
pub(crate) use imp::{CheckLabels, Metrics};

/// Stand-in when the `metrics` feature is off: every method does nothing.
#[cfg(not(feature = "metrics"))]
pub(crate) struct Metrics;

/// Stand-in when the `metrics` feature is off.
#[cfg(not(feature = "metrics"))]
#[derive(Debug, Clone)]
pub(crate) struct CheckLabels;

#[cfg(not(feature = "metrics"))]
impl CheckLabels {
    pub fn new(_: &str, _: &str) -> CheckLabels {
        CheckLabels
    }
}

#[cfg(not(feature = "metrics"))]
impl Metrics {
    pub fn new(_: &[&CheckLabels]) -> Metrics {
        Metrics
    }
    pub fn check_result(&self, _: &CheckLabels, _: bool, _: Duration) {}
    pub fn handler_panic(&self) {}
    pub fn task_panic(&self) {}
    #[allow(dead_code)]
    pub fn reload(&self, _: bool) {}
}
