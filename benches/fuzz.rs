//! The fuzz targets of `tests/fuzz` against the clock: each runs for a fixed time over
//! generated and mutated inputs, and the figures say how many inputs it read, how fast, and
//! which input took longest. Exits non-zero when an input panics or takes longer than
//! 100 ms — an input over the limit is timed twice more and counts by its fastest run, so
//! that a moment without the CPU (other builds on the machine) does not count against it.
//!
//!   cargo bench --bench fuzz [-- SECONDS] [-- TARGET…]
//!
//! Environment: RATHAUS_FUZZ_SECONDS per target (default 20), MUNICH_DIR (default
//! ../shared/data/munich, for a figure of scale), RATHAUS_FUZZ_SEED (default:
//! the clock; printed, so that a run can be repeated). Each offending input is written whole
//! (as Rust's `Debug` shows it) to `target/tmp/fuzz/`.

#[path = "../tests/fuzz/targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use targets::Input;

/// The longest an input may take.
const LIMIT: Duration = Duration::from_millis(100);
/// The stack of a Tokio worker and of a blocking task: where the readers run in production.
const STACK: usize = 2 << 20;

/// The last panic's message and place, kept by the hook instead of printed.
static PANIC: Mutex<Option<String>> = Mutex::new(None);

struct Figures {
    executions: u64,
    wall: Duration,
    slowest: Duration,
    slowest_bytes: usize,
    panics: Vec<String>,
    slow: Vec<String>,
}

/// An input's `Debug` cut to a length a terminal shows; the whole of it goes to a file.
fn shown(input: &impl Input, name: &str) -> String {
    let text = format!("{input:?}");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz");
    let file = dir.join(format!("{name}.txt"));
    let kept = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &text));
    let cut: String = text.chars().take(400).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    match kept {
        Ok(()) => format!(
            "{cut}{more}\n      ({} bytes; whole in {})",
            input.bytes(),
            file.display()
        ),
        Err(e) => format!(
            "{cut}{more}\n      ({} bytes; not kept: {e})",
            input.bytes()
        ),
    }
}

fn time<T>(target: &impl Fn(&T), input: &T) -> (Duration, Result<(), String>) {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| target(input)));
    let took = started.elapsed();
    let outcome = outcome.map_err(|_| {
        PANIC
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default()
    });
    (took, outcome)
}

fn fuzz<T: Input>(
    name: &str,
    inputs: impl Strategy<Value = T>,
    target: impl Fn(&T),
    seconds: f64,
    seed: [u8; 32],
) -> Figures {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let mut next = || {
        inputs
            .new_tree(&mut runner)
            .expect("the generators reject nothing")
            .current()
    };
    // Lazily built patterns and tables are built before the clock starts.
    let _ = time(&target, &next());
    let mut f = Figures {
        executions: 0,
        wall: Duration::ZERO,
        slowest: Duration::ZERO,
        slowest_bytes: 0,
        panics: Vec::new(),
        slow: Vec::new(),
    };
    let started = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    while started.elapsed() < budget {
        let input = next();
        let (mut took, outcome) = time(&target, &input);
        f.executions += 1;
        if let Err(message) = outcome {
            f.panics.push(format!(
                "input {}: panicked: {message}\n      {}",
                f.executions,
                shown(&input, &format!("{name}-panic-{}", f.panics.len() + 1))
            ));
            continue;
        }
        if took > LIMIT {
            took = took
                .min(time(&target, &input).0)
                .min(time(&target, &input).0);
            if took > LIMIT {
                f.slow.push(format!(
                    "input {}: {:.1} ms\n      {}",
                    f.executions,
                    took.as_secs_f64() * 1e3,
                    shown(&input, &format!("{name}-slow-{}", f.slow.len() + 1))
                ));
            }
        }
        if took > f.slowest {
            f.slowest = took;
            f.slowest_bytes = input.bytes();
        }
    }
    f.wall = started.elapsed();
    f
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: f64 = args
        .iter()
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var("RATHAUS_FUZZ_SECONDS").ok()?.parse().ok())
        .unwrap_or(20.0);
    let only: Vec<&String> = args.iter().filter(|a| a.parse::<f64>().is_err()).collect();
    let seed: u64 = std::env::var("RATHAUS_FUZZ_SEED")
        .ok()
        .map(|s| s.parse().expect("RATHAUS_FUZZ_SEED is a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    println!("fuzz: {seconds} s per target, seed {seed} (RATHAUS_FUZZ_SEED={seed} repeats it)");
    std::panic::set_hook(Box::new(|info| {
        *PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(info.to_string());
    }));

    let started = Instant::now();
    let reader = targets::Reader::demo();
    println!(
        "message reader built over the shipped knowledge in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // For scale: the whole Munich export, 287 services and 109 locations, read once.
    let munich = std::path::PathBuf::from(
        std::env::var("MUNICH_DIR").unwrap_or("../shared/data/munich".into()),
    );
    if let (Ok(services), Ok(locations)) = (
        std::fs::read_to_string(munich.join("services_de.json")),
        std::fs::read_to_string(munich.join("locations_de.json")),
    ) {
        let started = Instant::now();
        let read = rathaus::knowledge::dldb::parse(&services, &locations).map(|e| e.entries.len());
        println!(
            "for scale: the Munich export ({} KB) read in {:.0} ms ({read:?} entries)",
            (services.len() + locations.len()) >> 10,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    let mut failed = false;
    let mut run = |name: &str, index: u8, fuzz_one: &(dyn Fn([u8; 32]) -> Figures + Sync)| {
        if !wanted(name) {
            return;
        }
        let mut rng_seed = [index; 32];
        rng_seed[..8].copy_from_slice(&seed.to_le_bytes());
        let f = std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(STACK)
                .spawn_scoped(s, || fuzz_one(rng_seed))
                .expect("a thread")
                .join()
                .expect("the fuzz loop itself does not panic")
        });
        println!(
            "{name:<8} executions {:>8}  {:>8.0}/s  slowest {:>7.2} ms ({} bytes)  panics {}  over {} ms {}",
            f.executions,
            f.executions as f64 / f.wall.as_secs_f64(),
            f.slowest.as_secs_f64() * 1e3,
            f.slowest_bytes,
            f.panics.len(),
            LIMIT.as_millis(),
            f.slow.len(),
        );
        for line in f.panics.iter().chain(&f.slow).take(5) {
            println!("    {line}");
        }
        failed |= !f.panics.is_empty() || !f.slow.is_empty();
    };
    run("message", 1, &|s| {
        fuzz(
            "message",
            targets::messages(),
            |m| reader.read(m),
            seconds,
            s,
        )
    });
    run("dldb", 2, &|s| {
        fuzz("dldb", targets::exports(), targets::import_dldb, seconds, s)
    });
    run("entry", 3, &|s| {
        fuzz(
            "entry",
            targets::entry_files(),
            targets::read_entry,
            seconds,
            s,
        )
    });
    run("mail", 4, &|s| {
        fuzz("mail", targets::mails(), targets::parse_mail, seconds, s)
    });
    run("audio", 5, &|s| {
        fuzz(
            "audio",
            targets::utterances(),
            targets::decode_audio,
            seconds,
            s,
        )
    });
    if failed {
        println!("fuzz: FAILED (seed {seed})");
        ExitCode::FAILURE
    } else {
        println!(
            "fuzz: every input read or refused, none over {} ms",
            LIMIT.as_millis()
        );
        ExitCode::SUCCESS
    }
}
