//! Lifecycle metrics (Prometheus); a no-op when the `metrics` feature is off.

#[cfg(not(feature = "metrics"))]
use {crate::check::Registered, crate::state::Phase, std::time::Duration};

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

    use crate::check::Registered;
    use crate::state::Phase;

    type Labels = Vec<(&'static str, String)>;

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
        pub fn new(checks: &[Registered]) -> Metrics {
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
                let l = labels(c);
                m.check_up.get_or_create(&l).set(0);
                let _ = m.check_failures.get_or_create(&l);
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

        pub fn encode(&self) -> String {
            let mut out = String::new();
            let registry = self.registry();
            // Writing into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
            out
        }

        pub fn phase(&self, phase: Phase) {
            for p in Phase::ALL {
                self.phase
                    .get_or_create(&vec![("phase", p.as_str().to_owned())])
                    .set(i64::from(p == phase));
            }
        }

        pub fn ready(&self, ready: bool) {
            self.ready.set(i64::from(ready));
        }

        pub fn inflight_inc(&self) {
            self.inflight.inc();
        }

        pub fn inflight_dec(&self) {
            self.inflight.dec();
        }

        pub fn check_result(&self, check: &Registered, ok: bool, elapsed: Duration) {
            let l = labels(check);
            self.check_up.get_or_create(&l).set(i64::from(ok));
            if !ok {
                self.check_failures.get_or_create(&l).inc();
            }
            self.check_duration
                .get_or_create(&l)
                .observe(elapsed.as_secs_f64());
        }

        pub fn drain_duration(&self, d: Duration) {
            self.drain_seconds.set(d.as_secs_f64());
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

    fn labels(check: &Registered) -> Labels {
        let kinds: Vec<&str> = check.kinds.iter().map(|k| k.as_str()).collect();
        vec![("check", check.name.clone()), ("kind", kinds.join(","))]
    }
}

#[cfg(feature = "metrics")]
pub(crate) use imp::Metrics;

/// Stand-in when the `metrics` feature is off: every method does nothing.
#[cfg(not(feature = "metrics"))]
pub(crate) struct Metrics;

#[cfg(not(feature = "metrics"))]
impl Metrics {
    pub fn new(_: &[Registered]) -> Metrics {
        Metrics
    }
    pub fn phase(&self, _: Phase) {}
    pub fn ready(&self, _: bool) {}
    pub fn inflight_inc(&self) {}
    pub fn inflight_dec(&self) {}
    pub fn check_result(&self, _: &Registered, _: bool, _: Duration) {}
    pub fn drain_duration(&self, _: Duration) {}
    pub fn handler_panic(&self) {}
    pub fn task_panic(&self) {}
    #[allow(dead_code)]
    pub fn reload(&self, _: bool) {}
}
