//! The library's log, for C: levels, and routing the lines to the host application.

use std::ffi::{c_char, c_int, c_void};

use crate::error::Error;
use crate::ffi::call_status;
use crate::log::{self, Level};
use crate::status::s3os_status;

/// How much the library logs; each level includes those before it. Lines at `S3OS_LOG_WARN`
/// and above point at trouble (a retry and its cause, certificates left unverified); at
/// `S3OS_LOG_INFO` every store's settings, every credential resolution and every finished
/// transfer with its timing; at `S3OS_LOG_DEBUG` every request attempt, connection and part
/// plan; at `S3OS_LOG_TRACE` every part and proxy exchange. No line ever contains a secret
/// key, session token, signature or proxy password.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum s3os_log_level {
    S3OS_LOG_ERROR = 1,
    S3OS_LOG_WARN = 2,
    S3OS_LOG_INFO = 3,
    S3OS_LOG_DEBUG = 4,
    S3OS_LOG_TRACE = 5,
}

impl s3os_log_level {
    fn of(level: Level) -> s3os_log_level {
        match level {
            Level::Error => s3os_log_level::S3OS_LOG_ERROR,
            Level::Warn => s3os_log_level::S3OS_LOG_WARN,
            Level::Info => s3os_log_level::S3OS_LOG_INFO,
            Level::Debug => s3os_log_level::S3OS_LOG_DEBUG,
            Level::Trace => s3os_log_level::S3OS_LOG_TRACE,
        }
    }
}

/// Receives one log line: its level and its text (UTF-8, one line without a line break, no
/// timestamp). `message` is valid only during the call: copy it to keep it.
pub type s3os_log_fn = Option<
    unsafe extern "C" fn(level: s3os_log_level, message: *const c_char, user_data: *mut c_void),
>;

/// The host's callback and its `user_data`, moved to the delivery thread.
struct HostCallback {
    callback: unsafe extern "C" fn(s3os_log_level, *const c_char, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the contract of s3os_set_log_callback: the callback and user_data are used on the
// library's log thread, which the host agrees to by registering them.
unsafe impl Send for HostCallback {}

/// Routes the library's log lines at `level` (an `s3os_log_level`) and above to `callback`
/// instead of where `S3OS_LOG` sends them (stderr, or the file `S3OS_LOG_FILE` names); a NULL
/// `callback` routes them back (`level` is then ignored). Without either, nothing is logged
/// and lines are not even formatted. Returns `S3OS_INVALID_ARGUMENT` for a `level` that is not
/// an `s3os_log_level`.
///
/// - Thread: `callback` is called on a thread of the library's own ("s3os-log"), never on a
///   transfer's threads or the caller's, one line at a time and in the order the lines were
///   logged: it needs no locking of its own, and a slow or blocking callback cannot stall a
///   transfer. Lines that arrive while more than 16384 wait are dropped; the callback is then
///   told how many (at `S3OS_LOG_WARN`).
/// - Re-entrancy: `callback` may call any s3os function, this one included; lines those calls
///   log are delivered after it returns.
/// - Lifetime: `message` is valid only during the call. `user_data` must stay valid until the
///   callback is replaced or unset. When this function returns, every line logged before it
///   was called has been delivered to the previous callback, which is then never called again
///   and may be freed with its `user_data`. Called from within a callback, it returns at once
///   and the switch happens after that callback returns.
/// - fork(): a child process starts without the parent's callback (its log thread does not
///   exist there); lines go where `S3OS_LOG` says until the child sets one.
#[no_mangle]
pub unsafe extern "C" fn s3os_set_log_callback(
    callback: s3os_log_fn,
    level: c_int,
    user_data: *mut c_void,
) -> s3os_status {
    call_status(|| {
        let sink = match callback {
            None => None,
            Some(callback) => {
                let level = Level::from_number(level).ok_or_else(|| {
                    Error::invalid(format!(
                        "level: {level} is not an s3os_log_level (S3OS_LOG_ERROR = 1 to S3OS_LOG_TRACE = 5)"
                    ))
                })?;
                let host = HostCallback {
                    callback,
                    user_data,
                };
                let sink: log::Sink = Box::new(move |level, message| {
                    let host = &host;
                    // SAFETY: registered by the host for this use; message lives until it returns.
                    unsafe {
                        (host.callback)(s3os_log_level::of(level), message.as_ptr(), host.user_data)
                    }
                });
                Some((sink, level))
            }
        };
        log::set_sink(sink).map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Internal,
                format!("starting the s3os log thread: {e}"),
            )
        })
    })
}
