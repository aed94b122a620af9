//! The library's log: lines about requests, retries and their causes, part plans, connections,
//! credentials and timings, at five levels.
//!
//! Lines go to one of two places. By default `S3OS_LOG=<level>` writes them to stderr (or,
//! with `S3OS_LOG_FILE=<path>`, appends them to that file); with nothing set nothing is even
//! formatted. [`set_callback`] hands them to the host application instead: a thread of the
//! library's own delivers them one at a time, in order, so that the host's callback never runs
//! on a transfer's threads and cannot stall one (a callback that falls behind loses lines, and
//! is told how many). No line carries a secret: none is formatted into one, and every line is
//! also scrubbed of the secrets the library knows ([`register_secret`]).

use std::collections::VecDeque;
use std::ffi::{c_int, CStr, CString};
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// How much the library says: each level includes those above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub fn from_number(value: c_int) -> Option<Level> {
        Some(match value {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            5 => Level::Trace,
            _ => return None,
        })
    }

    fn parse(name: &str) -> Option<Level> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// Logs a line at `level` if anything listens at that level; the arguments are formatted
/// only then.
macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, format_args!($($arg)*));
        }
    };
}

macro_rules! log_error { ($($arg:tt)*) => { log_at!($crate::log::Level::Error, $($arg)*) }; }
macro_rules! log_warn { ($($arg:tt)*) => { log_at!($crate::log::Level::Warn, $($arg)*) }; }
macro_rules! log_info { ($($arg:tt)*) => { log_at!($crate::log::Level::Info, $($arg)*) }; }
macro_rules! log_debug { ($($arg:tt)*) => { log_at!($crate::log::Level::Debug, $($arg)*) }; }
macro_rules! log_trace { ($($arg:tt)*) => { log_at!($crate::log::Level::Trace, $($arg)*) }; }

/// The most detailed level anything listens at, 0 for none; `UNSET` until the environment
/// has been read.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(UNSET);
const UNSET: u8 = u8::MAX;

/// Whether lines go to the host's callback (through the delivery thread) rather than to the
/// environment's destination.
static TO_CALLBACK: AtomicBool = AtomicBool::new(false);

/// Whether a line at `level` would be written anywhere.
#[inline]
pub fn enabled(level: Level) -> bool {
    let max = MAX_LEVEL.load(Ordering::Relaxed);
    let max = if max == UNSET {
        environment().level
    } else {
        max
    };
    level as u8 <= max
}

/// What `S3OS_LOG` and `S3OS_LOG_FILE` ask for, read once.
struct Environment {
    /// 0 when `S3OS_LOG` is unset.
    level: u8,
    /// The file lines are appended to; stderr when `None`.
    file: Option<File>,
}

fn environment() -> &'static Environment {
    static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let requested = std::env::var("S3OS_LOG").ok().filter(|v| !v.is_empty());
        let level = match requested.as_deref().map(|v| (v, Level::parse(v))) {
            None => 0,
            Some((_, Some(level))) => level as u8,
            Some((value, None)) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "s3os: S3OS_LOG={value:?} is not a level (error, warn, info, debug or trace); not logging"
                );
                0
            }
        };
        let file = std::env::var_os("S3OS_LOG_FILE")
            .filter(|path| level > 0 && !path.is_empty())
            .and_then(|path| {
                match File::options().create(true).append(true).open(&path) {
                    Ok(file) => Some(file),
                    Err(err) => {
                        let _ = writeln!(
                            std::io::stderr(),
                            "s3os: S3OS_LOG_FILE={path:?} cannot be opened ({err}); logging to stderr"
                        );
                        None
                    }
                }
            });
        let environment = Environment { level, file };
        let _ = MAX_LEVEL.compare_exchange(
            UNSET,
            environment.level,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        environment
    })
}

/// Formats, scrubs and writes one line. Use the `log_*!` macros, which check the level first.
pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    let mut message = args.to_string();
    if message.contains(['\n', '\r']) {
        message = message.replace(['\n', '\r'], " ");
    }
    let message = scrub(message);
    if TO_CALLBACK.load(Ordering::Acquire) {
        match delivery_for_this_process() {
            Some(delivery) => {
                match delivery.queue.try_send(Message::Line(level, message)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        DROPPED.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => {}
                }
                return;
            }
            // A child after fork(): the parent's delivery thread does not exist here, and the
            // callback was the parent's choice. Lines go where the environment says.
            None => {
                TO_CALLBACK.store(false, Ordering::Release);
                MAX_LEVEL.store(environment().level, Ordering::Relaxed);
            }
        }
    }
    if level as u8 <= environment().level {
        write_line(level, &message);
    }
}

fn write_line(level: Level, message: &str) {
    let line = format!(
        "{} s3os[{}] {:<5} {message}\n",
        timestamp(SystemTime::now()),
        std::process::id(),
        level.name()
    );
    // One write per line: lines of concurrent threads and processes do not interleave.
    let _ = match &environment().file {
        Some(file) => (&*file).write_all(line.as_bytes()),
        None => std::io::stderr().lock().write_all(line.as_bytes()),
    };
}

/// `2025-01-31T23:59:59.123Z`.
fn timestamp(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

// ---- secrets ------------------------------------------------------------------------------

/// At most this many secrets are remembered for scrubbing: the newest win.
const SECRETS_KEPT: usize = 512;

/// Secrets known to this process, tagged with the process: a child after fork() starts a list
/// of its own rather than touching a lock a parent thread may have held at the fork.
struct Secrets {
    pid: u32,
    list: Mutex<VecDeque<String>>,
}

static SECRETS: AtomicPtr<Secrets> = AtomicPtr::new(std::ptr::null_mut());

fn secrets_for_this_process() -> &'static Secrets {
    let pid = std::process::id();
    loop {
        let current = SECRETS.load(Ordering::Acquire);
        // SAFETY: published pointers come from Box::leak below and are never freed.
        if let Some(secrets) = unsafe { current.as_ref() } {
            if secrets.pid == pid {
                return secrets;
            }
        }
        let fresh: *mut Secrets = Box::leak(Box::new(Secrets {
            pid,
            list: Mutex::new(VecDeque::new()),
        }));
        if SECRETS
            .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: never published, so this is its only owner.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }
}

/// Remembers `secret` (a key, password or token) so that no log line ever shows it.
pub fn register_secret(secret: &str) {
    // Short strings would scrub ordinary words out of lines; no real secret is that short.
    if secret.len() < 4 {
        return;
    }
    let mut list = secrets_for_this_process()
        .list
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if list.iter().any(|known| known == secret) {
        return;
    }
    if list.len() == SECRETS_KEPT {
        list.pop_front();
    }
    list.push_back(secret.to_string());
}

/// `message` with every remembered secret replaced by `***`.
pub fn scrub(mut message: String) -> String {
    let list = secrets_for_this_process()
        .list
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    for secret in list.iter() {
        if message.contains(secret.as_str()) {
            message = message.replace(secret.as_str(), "***");
        }
    }
    message
}

// ---- the host's callback ------------------------------------------------------------------

/// Where the host wants lines: called on the delivery thread with each line's level and text.
pub type Sink = Box<dyn Fn(Level, &CStr) + Send>;

struct Registration {
    sink: Sink,
    level: Level,
}

enum Message {
    Line(Level, String),
    /// Lines queued before it go to the previous callback, those after it to this one; the
    /// sender (if any) hears once the previous callback has had its last line.
    Switch(Option<Registration>, Option<SyncSender<()>>),
}

/// The delivery thread of one process and the queue that feeds it.
struct Delivery {
    pid: u32,
    queue: SyncSender<Message>,
    /// Orders the switches made outside the delivery thread, so that the sink in place and
    /// the level the library logs at always belong to the same call.
    switching: Mutex<()>,
}

static DELIVERY: AtomicPtr<Delivery> = AtomicPtr::new(std::ptr::null_mut());

/// Lines the queue had no room for since the last report.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Lines waiting for a slow callback, beyond which new ones are dropped (and counted): a
/// callback that blocks must not stall or deadlock transfers.
const QUEUE_LINES: usize = 16_384;

thread_local! {
    static ON_DELIVERY_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// This process's delivery thread, if one was started in it.
fn delivery_for_this_process() -> Option<&'static Delivery> {
    // SAFETY: published pointers come from Box::leak and are never freed.
    unsafe { DELIVERY.load(Ordering::Acquire).as_ref() }
        .filter(|delivery| delivery.pid == std::process::id())
}

/// This process's delivery thread, started on first use.
fn start_delivery() -> std::io::Result<&'static Delivery> {
    let pid = std::process::id();
    loop {
        let current = DELIVERY.load(Ordering::Acquire);
        // SAFETY: as above.
        if let Some(delivery) = unsafe { current.as_ref() } {
            if delivery.pid == pid {
                return Ok(delivery);
            }
        }
        let (queue, lines) = mpsc::sync_channel(QUEUE_LINES);
        let fresh: *mut Delivery = Box::leak(Box::new(Delivery {
            pid,
            queue,
            switching: Mutex::new(()),
        }));
        if DELIVERY
            .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            std::thread::Builder::new()
                .name("s3os-log".into())
                .spawn(move || deliver(lines))?;
        } else {
            // SAFETY: never published, so this is its only owner.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }
}

fn deliver(lines: Receiver<Message>) {
    ON_DELIVERY_THREAD.with(|on| on.set(true));
    let mut current: Option<Registration> = None;
    for message in lines {
        match message {
            Message::Line(level, text) => {
                let Some(registration) = &current else {
                    continue;
                };
                let dropped = DROPPED.swap(0, Ordering::Relaxed);
                if dropped > 0 && registration.level >= Level::Warn {
                    call(
                        registration,
                        Level::Warn,
                        &format!(
                            "{dropped} log lines were dropped: the log callback did not keep up"
                        ),
                    );
                }
                if level <= registration.level {
                    call(registration, level, &text);
                }
            }
            Message::Switch(next, done) => {
                current = next;
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
        }
    }
}

fn call(registration: &Registration, level: Level, text: &str) {
    if let Ok(text) = CString::new(text) {
        (registration.sink)(level, &text);
    }
}

/// Routes lines at `level` and above to `sink`, or with `None` back to the environment's
/// destination. Returns once every line logged before the call has been delivered to the
/// previous sink, which is then never called again, unless called from a sink itself (on the
/// delivery thread), when the switch happens after that sink returns.
pub fn set_sink(sink: Option<(Sink, Level)>) -> std::io::Result<()> {
    let delivery = start_delivery()?;
    let on_delivery_thread = ON_DELIVERY_THREAD.with(|on| on.get());
    // Not on the delivery thread itself: a switch made there must not wait for one that waits
    // for the delivery thread.
    let _switching =
        (!on_delivery_thread).then(|| delivery.switching.lock().unwrap_or_else(|p| p.into_inner()));
    let (done, finished) = mpsc::sync_channel(1);
    let done = (!on_delivery_thread).then_some(done);
    match sink {
        Some((sink, level)) => {
            // Lines logged before the switch is queued still go where they went before.
            let registration = Registration { sink, level };
            let _ = delivery
                .queue
                .send(Message::Switch(Some(registration), done));
            MAX_LEVEL.store(level as u8, Ordering::Relaxed);
            TO_CALLBACK.store(true, Ordering::Release);
        }
        None => {
            TO_CALLBACK.store(false, Ordering::Release);
            MAX_LEVEL.store(environment().level, Ordering::Relaxed);
            let _ = delivery.queue.send(Message::Switch(None, done));
        }
    }
    if !on_delivery_thread {
        let _ = finished.recv();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let at = UNIX_EPOCH + std::time::Duration::from_millis(951_825_600_123);
        assert_eq!(timestamp(at), "2000-02-29T12:00:00.123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let at = UNIX_EPOCH + std::time::Duration::from_secs(4_102_444_799);
        assert_eq!(timestamp(at), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn registered_secrets_are_scrubbed() {
        register_secret("sekrit-token-value");
        register_secret("ab");
        assert_eq!(
            scrub("token sekrit-token-value and ab".into()),
            "token *** and ab"
        );
    }

    #[test]
    fn levels_parse_like_the_environment_spells_them() {
        assert_eq!(Level::parse("TRACE"), Some(Level::Trace));
        assert_eq!(Level::parse(" warn "), Some(Level::Warn));
        assert_eq!(Level::parse("verbose"), None);
        assert_eq!(Level::from_number(0), None);
        assert_eq!(Level::from_number(3), Some(Level::Info));
    }
}
