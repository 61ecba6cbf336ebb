//! Progress on stderr that knows where it writes: on a terminal a bar (or a
//! spinner) redrawn in place; in a log file or a pipe plain lines, a few of
//! them, each complete.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whether stderr is a terminal (so `\r` redraws a line in place).
fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A count of runs: `step` before each, `finish` after the last.
pub struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    enabled: bool,
    terminal: bool,
    /// Plain mode: the last tenth printed, and when.
    last_tenth: usize,
    last_line: Instant,
}

impl Progress {
    pub fn new(total: usize, enabled: bool) -> Progress {
        Progress {
            total,
            done: 0,
            started: Instant::now(),
            enabled,
            terminal: stderr_is_terminal(),
            last_tenth: usize::MAX,
            last_line: Instant::now(),
        }
    }

    fn eta(&self) -> String {
        if self.done == 0 {
            "?".to_string()
        } else {
            let per = self.started.elapsed().as_secs_f64() / self.done as f64;
            format!("{:.0}s", per * (self.total - self.done) as f64)
        }
    }

    /// Announces the next run.
    pub fn step(&mut self, what: &str) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            if self.terminal {
                let width = 30;
                let filled = width * self.done / self.total.max(1);
                let line = format!(
                    "\r[{}{}] {}/{} ETA {:>4} {what:<36.36}",
                    "#".repeat(filled),
                    "-".repeat(width - filled),
                    self.done + 1,
                    self.total,
                    self.eta()
                );
                let _ = err.write_all(line.as_bytes());
                let _ = err.flush();
            } else {
                // A line at each tenth of the way, and at least every 30 s.
                let tenth = 10 * self.done / self.total.max(1);
                if tenth != self.last_tenth || self.last_line.elapsed() >= Duration::from_secs(30) {
                    self.last_tenth = tenth;
                    self.last_line = Instant::now();
                    let _ = writeln!(
                        err,
                        "gb-bench: {}/{} ({}%) after {:.0}s, ETA {}: {what}",
                        self.done + 1,
                        self.total,
                        100 * self.done / self.total.max(1),
                        self.started.elapsed().as_secs_f64(),
                        self.eta()
                    );
                }
            }
        }
        self.done += 1;
    }

    pub fn finish(&self) {
        if self.enabled {
            let took = self.started.elapsed().as_secs_f64();
            if self.terminal {
                eprintln!(
                    "\r[{}] {}/{} done in {took:.0}s{:40}",
                    "#".repeat(30),
                    self.total,
                    self.total,
                    ""
                );
            } else {
                eprintln!("gb-bench: {}/{} done in {took:.0}s", self.total, self.total);
            }
        }
    }
}

/// A long step of unknown length (a cargo build): on a terminal a spinner
/// with the elapsed time and the latest sub-step, redrawn every 100 ms by a
/// thread; elsewhere a line when it starts, one per `set` at most every
/// 15 s, one a minute at least, and one when it ends.
pub struct Spinner {
    state: Arc<Mutex<SpinState>>,
    thread: Option<std::thread::JoinHandle<()>>,
    terminal: bool,
}

struct SpinState {
    title: String,
    detail: String,
    started: Instant,
    stop: bool,
    last_plain: Instant,
}

impl Spinner {
    pub fn start(title: &str) -> Spinner {
        let terminal = stderr_is_terminal();
        let state = Arc::new(Mutex::new(SpinState {
            title: title.to_string(),
            detail: String::new(),
            started: Instant::now(),
            stop: false,
            last_plain: Instant::now(),
        }));
        if !terminal {
            eprintln!("gb-bench: {title} ...");
        }
        // On a terminal: the spinner, redrawn every 100 ms. In a log: a
        // line at least every minute, so that a long step is not silence.
        let thread = {
            let state = Arc::clone(&state);
            Some(std::thread::spawn(move || {
                const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
                let mut frame = 0;
                loop {
                    {
                        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                        if s.stop {
                            break;
                        }
                        let elapsed = s.started.elapsed().as_secs_f64();
                        if terminal {
                            let line = format!(
                                "\r{} {} ({elapsed:.0}s) {:<40.40}",
                                FRAMES[frame % FRAMES.len()],
                                s.title,
                                s.detail
                            );
                            let mut err = std::io::stderr().lock();
                            let _ = err.write_all(line.as_bytes());
                            let _ = err.flush();
                        } else if s.last_plain.elapsed() >= Duration::from_secs(60) {
                            s.last_plain = Instant::now();
                            eprintln!(
                                "gb-bench: {} ({elapsed:.0}s): still at: {}",
                                s.title, s.detail
                            );
                        }
                    }
                    frame += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }))
        };
        Spinner {
            state,
            thread,
            terminal,
        }
    }

    /// The current sub-step (e.g. "Compiling tikv-jemalloc-sys").
    pub fn set(&self, detail: &str) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.detail = detail.to_string();
        if !self.terminal && s.last_plain.elapsed() >= Duration::from_secs(15) {
            s.last_plain = Instant::now();
            eprintln!(
                "gb-bench: {} ({:.0}s): {detail}",
                s.title,
                s.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Stops the spinner and prints the outcome on a line of its own.
    pub fn finish(mut self, outcome: &str) {
        let (title, took) = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.stop = true;
            (s.title.clone(), s.started.elapsed().as_secs_f64())
        };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            if self.terminal {
                eprint!("\r{:100}\r", "");
            }
        }
        eprintln!("gb-bench: {title}: {outcome} in {took:.0}s");
    }
}
