//! `berth-bench`: the driver of `bash sidecar/bench/run.sh`.
//!
//! ```text
//! taskset -c 1 berth-bench --berth BIN --axum BIN --tgs BIN --go BIN
//! ```
//!
//! Starts each daemon pinned to `BENCH_SERVER_CPU` (default 0) with `taskset`; the driver,
//! wrk and the stop-test client run wherever the driver is pinned (run.sh: the other core).
//! Prints Markdown tables on stdout, progress on stderr, and every sample to
//! `$OUT_DIR/samples.tsv`. Settings (environment): `BENCH_ROUNDS` (5), `BENCH_DURATION`
//! (seconds per wrk run, 5), `BENCH_CONNECTIONS` (32), `BENCH_STOP_ROUNDS` (3),
//! `BENCH_STOP_CONNECTIONS` (16), `BENCH_PRE_STOP_DELAY` (1s), `BENCH_SERVER_CPU` (0),
//! `OUT_DIR` (a new directory under /tmp).
//!
//! Exit status 1 when berth lost a request on stop or did not exit 0 (its promise); the
//! throughput figures are reported, not enforced (the machine may be shared and noisy).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use berth_bench::client::{self, Load, SignalClock, Tally};
use berth_bench::stats::Spread;
use berth_bench::{BenchError, procfs, wrk};
use berth_sidecar::contract;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Server {
    Berth,
    Axum,
    Tgs,
    Go,
}

const SERVERS: [Server; 4] = [Server::Berth, Server::Axum, Server::Tgs, Server::Go];

impl Server {
    fn label(self) -> &'static str {
        match self {
            Server::Berth => "berth (echo-daemon)",
            Server::Axum => "bare axum",
            Server::Tgs => "tokio-graceful-shutdown",
            Server::Go => "Go net/http",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Server::Berth => "--berth",
            Server::Axum => "--axum",
            Server::Tgs => "--tgs",
            Server::Go => "--go",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Route {
    Readyz,
    Echo,
}

const ROUTES: [Route; 2] = [Route::Readyz, Route::Echo];

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Readyz => "`/readyz`",
            Route::Echo => "`/echo`",
        }
    }
}

/// The path of the app route every daemon serves (examples/echo-daemon's `/echo`).
const ECHO_PATH: &str = "/echo?msg=hello";

struct Settings {
    rounds: usize,
    duration_s: u64,
    connections: usize,
    stop_rounds: usize,
    stop_connections: usize,
    pre_stop: Duration,
    server_cpu: String,
    out_dir: PathBuf,
    bins: BTreeMap<Server, PathBuf>,
}

fn env_number(name: &str, default: u64) -> Result<u64, BenchError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .trim_end_matches('s')
            .parse()
            .map_err(|e| BenchError::Usage(format!("{name}={v:?}: {e}"))),
        _ => Ok(default),
    }
}

impl Settings {
    fn from_env() -> Result<Settings, BenchError> {
        let mut bins = BTreeMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let server = SERVERS
                .into_iter()
                .find(|s| s.flag() == flag)
                .ok_or_else(|| BenchError::Usage(format!("unknown argument {flag}")))?;
            let path = args
                .next()
                .ok_or_else(|| BenchError::Usage(format!("{flag} needs a path")))?;
            bins.insert(server, PathBuf::from(path));
        }
        for s in SERVERS {
            if !bins.contains_key(&s) {
                return Err(BenchError::Usage(format!(
                    "{} BINARY is required",
                    s.flag()
                )));
            }
        }
        let pre_stop = match std::env::var("BENCH_PRE_STOP_DELAY") {
            Ok(v) if !v.is_empty() => contract::parse_duration(&v)
                .map_err(|e| BenchError::Usage(format!("BENCH_PRE_STOP_DELAY: {e}")))?,
            _ => Duration::from_secs(1),
        };
        let out_dir = match std::env::var_os("OUT_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => std::env::temp_dir().join(format!("berth-bench.{}", std::process::id())),
        };
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| BenchError::io(format!("creating {}", out_dir.display()), e))?;
        Ok(Settings {
            rounds: env_number("BENCH_ROUNDS", 5)?.max(1) as usize,
            duration_s: env_number("BENCH_DURATION", 5)?.max(1),
            connections: env_number("BENCH_CONNECTIONS", 32)?.max(1) as usize,
            stop_rounds: env_number("BENCH_STOP_ROUNDS", 3)?.max(1) as usize,
            stop_connections: env_number("BENCH_STOP_CONNECTIONS", 16)?.max(1) as usize,
            pre_stop,
            server_cpu: std::env::var("BENCH_SERVER_CPU").unwrap_or_else(|_| "0".into()),
            out_dir,
            bins,
        })
    }
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

/// A free loopback port (bound, read, released).
fn free_addr() -> Result<SocketAddr, BenchError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| BenchError::io("binding a port", e))?;
    l.local_addr()
        .map_err(|e| BenchError::io("reading a port", e))
}

/// A daemon under test.
struct Daemon {
    server: Server,
    child: Child,
    app: SocketAddr,
    admin: SocketAddr,
}

impl Daemon {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn start(
        settings: &Settings,
        server: Server,
        pre_stop: Duration,
        name: &str,
    ) -> Result<Daemon, BenchError> {
        let app = free_addr()?;
        let admin = free_addr()?;
        let drain = "5s";
        let pre_stop_text = format!("{}ms", pre_stop.as_millis());
        let bin = &settings.bins[&server];
        let mut cmd = Command::new("taskset");
        cmd.arg("-c").arg(&settings.server_cpu).arg(bin);
        match server {
            Server::Berth => {
                // A user's environment must not leak into the daemon under test.
                for var in [
                    contract::ENV_CONFIG_FILE,
                    contract::ENV_METRICS,
                    contract::ENV_LOG_FORMAT,
                    "RUST_LOG",
                    "NOTIFY_SOCKET",
                    "WATCHDOG_USEC",
                    "ECHO_DEBUG",
                    "ECHO_STARTUP_DELAY",
                ] {
                    cmd.env_remove(var);
                }
                cmd.env("ECHO_LISTEN", app.to_string())
                    .env(contract::ENV_ADMIN_ADDR, admin.to_string())
                    .env(contract::ENV_PRE_STOP_DELAY, &pre_stop_text)
                    .env(contract::ENV_DRAIN_TIMEOUT, drain);
            }
            Server::Axum | Server::Tgs => {
                cmd.arg("--app").arg(app.to_string());
                cmd.arg("--admin").arg(admin.to_string());
                cmd.args(["--pre-stop-delay", &pre_stop_text, "--drain-timeout", drain]);
            }
            Server::Go => {
                cmd.arg("-app").arg(app.to_string());
                cmd.arg("-admin").arg(admin.to_string());
                cmd.args(["-pre-stop-delay", &pre_stop_text, "-drain-timeout", drain]);
                cmd.env_remove("GOMAXPROCS");
            }
        }
        let out = |suffix: &str| {
            let path = settings.out_dir.join(format!("{name}.{suffix}"));
            std::fs::File::create(&path)
                .map(Stdio::from)
                .map_err(|e| BenchError::io(format!("creating {}", path.display()), e))
        };
        cmd.stdin(Stdio::null())
            .stdout(out("out")?)
            .stderr(out("err")?);
        let child = cmd
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", bin.display()), e))?;
        let mut daemon = Daemon {
            server,
            child,
            app,
            admin,
        };
        daemon.wait_ready()?;
        Ok(daemon)
    }

    /// Waits until `/readyz` answers 200 and the app answers `/echo`.
    fn wait_ready(&mut self) -> Result<(), BenchError> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let rt = current_thread()?;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::Run(format!(
                    "{} exited during start-up ({status})",
                    self.server.label()
                )));
            }
            let ready = rt.block_on(async {
                matches!(client::get_status(self.admin, "/readyz").await, Ok(200))
                    && matches!(client::get_status(self.app, ECHO_PATH).await, Ok(200))
            });
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(BenchError::Run(format!(
                    "{} not ready after 15 s",
                    self.server.label()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: rustix::process::Signal) -> Result<(), BenchError> {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32)
            .ok_or_else(|| BenchError::Run("pid 0".into()))?;
        rustix::process::kill_process(pid, sig)
            .map_err(|e| BenchError::io(format!("signalling {}", self.server.label()), e.into()))
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `limit`): (elapsed, exit code or
    /// `None` when it had to be killed).
    fn stop(mut self, limit: Duration) -> Result<(Duration, Option<i32>), BenchError> {
        let started = Instant::now();
        self.signal(rustix::process::Signal::TERM)?;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok((started.elapsed(), status.code())),
                Ok(None) if started.elapsed() > limit => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Ok((started.elapsed(), None));
                }
                Ok(None) => std::thread::sleep(Duration::from_micros(50)),
                Err(e) => return Err(BenchError::io("waiting for a daemon", e)),
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn current_thread() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::io("starting the client runtime", e))
}

/// A figure of a sample, by name.
type Metric = (&'static str, fn(&Sample) -> f64);

/// One wrk run against one daemon.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rps: f64,
    cpu_us: f64,
    p50_us: f64,
    p99_us: f64,
}

fn url(d: &Daemon, route: Route) -> String {
    match route {
        Route::Readyz => format!("http://{}/readyz", d.admin),
        Route::Echo => format!("http://{}{ECHO_PATH}", d.app),
    }
}

fn wrk_run(
    d: &Daemon,
    route: Route,
    seconds: u64,
    connections: usize,
) -> Result<Sample, BenchError> {
    let cpu0 = procfs::cpu_ns(d.pid())?;
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .arg(url(d, route))
        .output()
        .map_err(|e| BenchError::io("running wrk (installed by .ci/install-deps.sh)", e))?;
    let cpu1 = procfs::cpu_ns(d.pid())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let report = wrk::parse(&text).ok_or_else(|| {
        BenchError::Run(format!(
            "unreadable wrk report for {}: {text}{}",
            d.server.label(),
            String::from_utf8_lossy(&output.stderr)
        ))
    })?;
    if report.errors > 0 {
        return Err(BenchError::Run(format!(
            "wrk saw {} errors against {} {}:\n{text}",
            report.errors,
            d.server.label(),
            route.label()
        )));
    }
    Ok(Sample {
        rps: report.rps,
        cpu_us: (cpu1 - cpu0) as f64 / 1e3 / report.requests.max(1) as f64,
        p50_us: report.p50_us,
        p99_us: report.p99_us,
    })
}

/// `items` rotated left by `round`: every daemon goes first once every 4 rounds.
fn rotated<T: Copy>(items: &[T], round: usize) -> Vec<T> {
    let n = items.len();
    (0..n).map(|i| items[(i + round) % n]).collect()
}

struct Throughput {
    /// (server, route) -> one sample per round.
    samples: BTreeMap<(Server, Route), Vec<Sample>>,
    idle_rss: BTreeMap<Server, u64>,
    loaded_rss: BTreeMap<Server, u64>,
}

fn throughput(settings: &Settings, tsv: &mut String) -> Result<Throughput, BenchError> {
    let mut daemons = Vec::new();
    for s in SERVERS {
        daemons.push(Daemon::start(
            settings,
            s,
            Duration::ZERO,
            &format!("load-{s:?}"),
        )?);
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut idle_rss = BTreeMap::new();
    for d in &daemons {
        idle_rss.insert(d.server, procfs::rss_kib(d.pid())?);
    }
    log("warm-up: 1 s per daemon and route");
    for d in &daemons {
        for route in ROUTES {
            wrk_run(d, route, 1, settings.connections)?;
        }
    }
    let mut samples: BTreeMap<(Server, Route), Vec<Sample>> = BTreeMap::new();
    for round in 0..settings.rounds {
        for route in ROUTES {
            let mut line = format!("round {}/{} {}:", round + 1, settings.rounds, route.label());
            for i in rotated(&[0, 1, 2, 3], round) {
                let d = &daemons[i];
                let s = wrk_run(d, route, settings.duration_s, settings.connections)?;
                let _ = write!(
                    line,
                    " {:?} {:.0} req/s {:.1} µs",
                    d.server, s.rps, s.cpu_us
                );
                let _ = writeln!(
                    tsv,
                    "throughput\t{round}\t{:?}\t{route:?}\t{:.1}\t{:.3}\t{:.0}\t{:.0}",
                    d.server, s.rps, s.cpu_us, s.p50_us, s.p99_us
                );
                samples.entry((d.server, route)).or_default().push(s);
            }
            log(line);
        }
    }
    let mut loaded_rss = BTreeMap::new();
    for d in &daemons {
        loaded_rss.insert(d.server, procfs::rss_kib(d.pid())?);
    }
    for d in daemons {
        d.stop(Duration::from_secs(10))?;
    }
    Ok(Throughput {
        samples,
        idle_rss,
        loaded_rss,
    })
}

/// SIGTERM → exit of an idle daemon, pre-stop delay 0, `rounds` times each (rotated).
fn idle_stop(
    settings: &Settings,
    rounds: usize,
    tsv: &mut String,
) -> Result<BTreeMap<Server, Vec<f64>>, BenchError> {
    let mut times: BTreeMap<Server, Vec<f64>> = BTreeMap::new();
    for round in 0..rounds {
        for s in rotated(&SERVERS, round) {
            let d = Daemon::start(settings, s, Duration::ZERO, &format!("idle-{s:?}-{round}"))?;
            std::thread::sleep(Duration::from_millis(300));
            let (took, code) = d.stop(Duration::from_secs(10))?;
            if code != Some(0) {
                return Err(BenchError::Run(format!(
                    "{} exited with {code:?} on an idle stop",
                    s.label()
                )));
            }
            let ms = took.as_secs_f64() * 1e3;
            let _ = writeln!(tsv, "idle-stop\t{round}\t{s:?}\t{ms:.3}");
            times.entry(s).or_default().push(ms);
        }
    }
    Ok(times)
}

/// The SIGTERM-under-load scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum StopCase {
    /// Pre-stop delay 0: the listener closes at the signal.
    NoDelay,
    /// The pre-stop delay; every client stays on the signalled instance.
    Delay,
    /// The pre-stop delay behind a load balancer: half-way through the delay (the endpoint
    /// removal has propagated) new connections go to a second instance.
    Service,
}

const STOP_CASES: [StopCase; 3] = [StopCase::NoDelay, StopCase::Delay, StopCase::Service];

impl StopCase {
    fn pre_stop(self, settings: &Settings) -> Duration {
        match self {
            StopCase::NoDelay => Duration::ZERO,
            StopCase::Delay | StopCase::Service => settings.pre_stop,
        }
    }

    fn label(self, settings: &Settings) -> String {
        let delay = format!("{} ms", settings.pre_stop.as_millis());
        match self {
            StopCase::NoDelay => "0".to_owned(),
            StopCase::Delay => delay,
            StopCase::Service => format!(
                "{delay}, behind a Service (new connections to another instance after {} ms)",
                (settings.pre_stop / 2).as_millis()
            ),
        }
    }
}

/// One SIGTERM-under-load run.
#[derive(Debug, Clone)]
struct StopRun {
    tally: Tally,
    exit_ms: f64,
    code: Option<i32>,
}

fn stop_under_load(
    settings: &Settings,
    server: Server,
    case: StopCase,
    name: &str,
) -> Result<StopRun, BenchError> {
    let pre_stop = case.pre_stop(settings);
    let other = match case {
        StopCase::Service => Some(Daemon::start(
            settings,
            server,
            Duration::ZERO,
            &format!("{name}-other"),
        )?),
        StopCase::NoDelay | StopCase::Delay => None,
    };
    let d = Daemon::start(settings, server, pre_stop, name)?;
    let rt = current_thread()?;
    let clock = Arc::new(SignalClock::new(pre_stop));
    let stop = Arc::new(AtomicBool::new(false));
    let load = Load {
        addr: d.app,
        path: ECHO_PATH.to_owned(),
        connections: settings.stop_connections,
        request_timeout: Duration::from_secs(3),
        reroute: other.as_ref().map(|o| (pre_stop / 2, o.app)),
    };
    let client = rt.spawn(client::run(load, clock.clone(), stop.clone()));
    // Let the load settle on its keep-alive connections.
    rt.block_on(async { tokio::time::sleep(Duration::from_secs(1)).await });
    // The daemon is stopped from a thread, so the client keeps running meanwhile.
    let limit = pre_stop + Duration::from_secs(10);
    let stopper = std::thread::spawn(move || {
        let clock = clock;
        let started = Instant::now();
        let signalled = d.signal(rustix::process::Signal::TERM);
        clock.mark();
        signalled?;
        let mut d = d;
        loop {
            match d.child.try_wait() {
                Ok(Some(status)) => return Ok((started.elapsed(), status.code())),
                Ok(None) if started.elapsed() > limit => {
                    let _ = d.child.kill();
                    let _ = d.child.wait();
                    return Ok((started.elapsed(), None));
                }
                Ok(None) => std::thread::sleep(Duration::from_micros(100)),
                Err(e) => return Err(BenchError::io("waiting for a daemon", e)),
            }
        }
    });
    let (took, code) = rt.block_on(async {
        while !stopper.is_finished() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Workers still connected to nothing get a moment to see the refusal.
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        stopper
            .join()
            .map_err(|_| BenchError::Run("the stopper thread panicked".into()))?
    })?;
    let tally = rt
        .block_on(client)
        .map_err(|e| BenchError::Run(format!("load client: {e}")))?;
    if let Some(other) = other {
        other.stop(Duration::from_secs(10))?;
    }
    Ok(StopRun {
        tally,
        exit_ms: took.as_secs_f64() * 1e3,
        code,
    })
}

fn kib_mib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

fn spread(values: impl IntoIterator<Item = f64>) -> Spread {
    let v: Vec<f64> = values.into_iter().collect();
    Spread::of(&v).unwrap_or(Spread {
        median: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
    })
}

fn run() -> Result<bool, BenchError> {
    let settings = Settings::from_env()?;
    let mut tsv = String::from("# kind\tround\tserver\troute/pre-stop\tvalues...\n");
    log(format!(
        "servers on CPU {}; wrk -t1 -c{} -d{}s; {} rounds; stop test: {} connections, {} rounds, pre-stop 0 and {:?}; raw data in {}",
        settings.server_cpu,
        settings.connections,
        settings.duration_s,
        settings.rounds,
        settings.stop_connections,
        settings.stop_rounds,
        settings.pre_stop,
        settings.out_dir.display()
    ));
    let tp = throughput(&settings, &mut tsv)?;
    log("idle SIGTERM -> exit");
    let idle = idle_stop(&settings, settings.stop_rounds.max(5), &mut tsv)?;
    let mut stops: BTreeMap<(Server, StopCase), Vec<StopRun>> = BTreeMap::new();
    for case in STOP_CASES {
        for round in 0..settings.stop_rounds {
            for s in rotated(&SERVERS, round) {
                let name = format!("stop-{s:?}-{case:?}-{round}");
                let r = stop_under_load(&settings, s, case, &name)?;
                log(format!(
                    "stop under load, {case:?}, {}: {:?}, exit {:.1} ms code {:?}",
                    s.label(),
                    r.tally,
                    r.exit_ms,
                    r.code
                ));
                let t = &r.tally;
                let _ = writeln!(
                    tsv,
                    "stop\t{round}\t{s:?}\t{case:?}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.1}\t{:?}",
                    t.ok,
                    t.ok_after_signal,
                    t.ok_in_window,
                    t.ok_rerouted,
                    t.failed,
                    t.refused,
                    t.other_status,
                    r.exit_ms,
                    r.code
                );
                stops.entry((s, case)).or_default().push(r);
            }
        }
    }
    let tsv_path = settings.out_dir.join("samples.tsv");
    std::fs::write(&tsv_path, &tsv)
        .map_err(|e| BenchError::io(format!("writing {}", tsv_path.display()), e))?;

    // ---- report ----
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Each daemon pinned to CPU {} (`taskset`), wrk `-t1 -c{} -d{}s` and the stop-test client on the other CPU; {} rounds, the daemons' order rotated every round; figures are medians [min–max] over the rounds.\n",
        settings.server_cpu, settings.connections, settings.duration_s, settings.rounds
    );
    let _ = writeln!(
        out,
        "| Route | Daemon | req/s | CPU µs per request | p50 latency | p99 latency |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for route in ROUTES {
        for s in SERVERS {
            let v = &tp.samples[&(s, route)];
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} µs | {} µs |",
                route.label(),
                s.label(),
                spread(v.iter().map(|x| x.rps)).show(0),
                spread(v.iter().map(|x| x.cpu_us)).show(2),
                spread(v.iter().map(|x| x.p50_us)).show(0),
                spread(v.iter().map(|x| x.p99_us)).show(0),
            );
        }
    }
    // Per-round ratios (same round = same machine conditions).
    let ratio = |route: Route, peer: Server, f: fn(&Sample) -> f64| {
        let b = &tp.samples[&(Server::Berth, route)];
        let p = &tp.samples[&(peer, route)];
        spread(b.iter().zip(p).map(|(b, p)| f(b) / f(p)))
    };
    let peers = [Server::Axum, Server::Tgs, Server::Go];
    let _ = writeln!(
        out,
        "\nPer-round ratios, berth ÷ peer (req/s: higher is better; CPU and latency: lower is better):\n"
    );
    let _ = writeln!(
        out,
        "| | berth / bare axum | berth / tokio-graceful-shutdown | berth / Go |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    let metrics: [Metric; 4] = [
        ("req/s", |s| s.rps),
        ("CPU per request", |s| s.cpu_us),
        ("p50 latency", |s| s.p50_us),
        ("p99 latency", |s| s.p99_us),
    ];
    for (name, f) in metrics {
        for route in ROUTES {
            let cells: Vec<String> = peers.iter().map(|&p| ratio(route, p, f).show(2)).collect();
            let _ = writeln!(out, "| {name}, {} | {} |", route.label(), cells.join(" | "));
        }
    }
    let rps_ok = ROUTES
        .iter()
        .all(|&r| ratio(r, Server::Axum, |s| s.rps).median >= 0.95);
    let cpu_ok = ROUTES
        .iter()
        .all(|&r| ratio(r, Server::Axum, |s| s.cpu_us).median <= 1.05);
    let _ = writeln!(
        out,
        "\nTarget (issue 16) berth ≥ 0.95× bare axum req/s on both routes: **{}**; CPU per request ≤ 1.05×: **{}**.",
        if rps_ok { "met" } else { "not met" },
        if cpu_ok { "met" } else { "not met" }
    );

    let _ = writeln!(
        out,
        "\n| Daemon | idle RSS | RSS after the load | idle SIGTERM → exit (pre-stop 0) |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for s in SERVERS {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ms |",
            s.label(),
            kib_mib(tp.idle_rss[&s]),
            kib_mib(tp.loaded_rss[&s]),
            spread(idle[&s].iter().copied()).show(1)
        );
    }

    let _ = writeln!(
        out,
        "\nSIGTERM 1 s into a keep-alive load on `/echo` ({} connections, one request at a time each, drain deadline 5 s); sums over {} runs per row, exit time median [min–max]. *Failed*: a request written on an accepted connection that got no response (the user sees an error). *Refused*: a new connection refused once the listener closed (a client behind a Service retries another pod). *Served in the pre-stop window*: 2xx responses between SIGTERM and the end of the delay.\n",
        settings.stop_connections, settings.stop_rounds
    );
    let _ = writeln!(
        out,
        "| Daemon | pre-stop delay | failed | refused after close | served after SIGTERM | of which in the pre-stop window | served by the other instance | `Connection: close` responses | SIGTERM → exit | exit codes |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    let mut berth_ok = true;
    for case in STOP_CASES {
        for s in SERVERS {
            let runs = &stops[&(s, case)];
            let sum = |f: fn(&Tally) -> u64| runs.iter().map(|r| f(&r.tally)).sum::<u64>();
            let failed = sum(|t| t.failed) + sum(|t| t.other_status) + sum(|t| t.connect_errors);
            let mut codes: Vec<String> = runs
                .iter()
                .map(|r| r.code.map_or("killed".to_owned(), |c| c.to_string()))
                .collect();
            codes.sort();
            codes.dedup();
            if s == Server::Berth && (failed > 0 || runs.iter().any(|r| r.code != Some(0))) {
                berth_ok = false;
            }
            let dash = |show: bool, v: u64| {
                if show {
                    v.to_string()
                } else {
                    "–".to_owned()
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | **{}** | {} | {} | {} | {} | {} | {} ms | {} |",
                s.label(),
                case.label(&settings),
                failed,
                sum(|t| t.refused),
                sum(|t| t.ok_after_signal),
                dash(case != StopCase::NoDelay, sum(|t| t.ok_in_window)),
                dash(case == StopCase::Service, sum(|t| t.ok_rerouted)),
                sum(|t| t.closed_by_response),
                spread(runs.iter().map(|r| r.exit_ms)).show(1),
                codes.join(", ")
            );
        }
    }
    println!("{out}");
    log(format!("samples in {}", tsv_path.display()));
    Ok(berth_ok)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            log("FAILED: berth lost requests on stop or did not exit 0");
            ExitCode::FAILURE
        }
        Err(e) => {
            log(format!("error: {e}"));
            ExitCode::from(2)
        }
    }
}
