// s3os.hpp: C++17 interface to s3os, header-only over the C API of s3os.h.
//
//   s3os::Config config("my-bucket");
//   config.set("prefix", "runs/exp1").set("endpoint_url", "http://127.0.0.1:9000");
//   s3os::Store store(config);
//   store.upload_file("ckpt/ep1.pt", "/tmp/ep1.pt");
//   store.download_file("ckpt/ep1.pt", "/tmp/restore/ep1.pt", /*overwrite=*/true);
//
// Every failure throws an s3os::Error (or a subclass naming its status, such as
// s3os::NotFound) whose what() is the library's message. Exceptions thrown by a progress
// callback stop the transfer and propagate from the call; no exception ever enters the C
// library. Link with -ls3os (pkg-config s3os, or the CMake target s3os::s3os).

#ifndef S3OS_HPP
#define S3OS_HPP

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "s3os.h"

namespace s3os {

/// Base of every exception s3os throws for a failed call: status() is the C API's status and
/// what() the library's message (operation, s3://bucket/key, cause; never credentials). A
/// status this header does not know (from a newer library) arrives as a plain Error.
class Error : public std::runtime_error {
public:
    Error(s3os_status status, const std::string& message)
        : std::runtime_error(message), status_(status) {}

    /// The status the C call returned.
    s3os_status status() const noexcept { return status_; }

    /// The status's name, such as "S3OS_NOT_FOUND" ("S3OS_UNKNOWN_STATUS" if the library does
    /// not know it either).
    const char* status_name() const noexcept {
        return s3os_status_name(static_cast<int>(status_));
    }

private:
    s3os_status status_;
};

/// S3OS_INVALID_ARGUMENT: an unknown configuration key, a bad value, a name S3 cannot hold, a
/// name or path containing a NUL character, or a moved-from Config or Store.
class InvalidArgument : public Error {
public:
    using Error::Error;
};

/// S3OS_NOT_FOUND: the object or bucket does not exist.
class NotFound : public Error {
public:
    using Error::Error;
};

/// S3OS_ALREADY_EXISTS: the download target exists and overwrite was false.
class AlreadyExists : public Error {
public:
    using Error::Error;
};

/// S3OS_PERMISSION_DENIED: the credentials were rejected or lack permission.
class PermissionDenied : public Error {
public:
    using Error::Error;
};

/// S3OS_TRANSIENT: throttling, 5xx, timeouts or connection failures that outlasted the
/// configured retries; worth retrying later.
class Transient : public Error {
public:
    using Error::Error;
};

/// S3OS_CANCELLED: a progress callback returned false.
class Cancelled : public Error {
public:
    using Error::Error;
};

/// S3OS_IO: a local file could not be read, created or written.
class IoError : public Error {
public:
    using Error::Error;
};

/// S3OS_INTEGRITY: received bytes did not match their checksum or announced length.
class IntegrityError : public Error {
public:
    using Error::Error;
};

/// S3OS_INTERNAL: a bug in s3os, or an answer it could not interpret.
class InternalError : public Error {
public:
    using Error::Error;
};

/// S3OS_TLS: no secure connection could be established (the server's certificate did not
/// verify, or the endpoint does not speak TLS). Not retried; the fix is configuration.
class TlsError : public Error {
public:
    using Error::Error;
};

/// Reports a transfer's progress: bytes moved so far (never decreasing) and the object's
/// size; the last call on success has done == total. Runs on the calling thread. Returning
/// false cancels the transfer (Cancelled is thrown); an exception thrown here cancels it too
/// and propagates from the call.
using Progress = std::function<bool(std::uint64_t done, std::uint64_t total)>;

/// One listed object: its name relative to the store's prefix, and its size in bytes.
struct Object {
    std::string name;
    std::uint64_t size;
};

namespace detail {

// S3OS_TLS, spelt by value so that this header builds against s3os.h versions without it.
inline constexpr int tls_status = 10;

/// Throws the exception for `status`, with this thread's last error message.
[[noreturn]] inline void throw_status(s3os_status status) {
    std::string message = s3os_last_error();
    if (message.empty()) {
        message = s3os_status_name(static_cast<int>(status));
    }
    switch (static_cast<int>(status)) {
    case S3OS_INVALID_ARGUMENT: throw InvalidArgument(status, message);
    case S3OS_NOT_FOUND: throw NotFound(status, message);
    case S3OS_ALREADY_EXISTS: throw AlreadyExists(status, message);
    case S3OS_PERMISSION_DENIED: throw PermissionDenied(status, message);
    case S3OS_TRANSIENT: throw Transient(status, message);
    case S3OS_CANCELLED: throw Cancelled(status, message);
    case S3OS_IO: throw IoError(status, message);
    case S3OS_INTEGRITY: throw IntegrityError(status, message);
    case S3OS_INTERNAL: throw InternalError(status, message);
    case tls_status: throw TlsError(status, message);
    default: throw Error(status, message);
    }
}

inline void check(s3os_status status) {
    if (status != S3OS_OK) {
        throw_status(status);
    }
}

/// A NUL-terminated copy of `text` for the C API, which would silently cut the text at an
/// embedded NUL; such text is refused instead.
inline std::string c_string(std::string_view text, const char* what) {
    if (text.find('\0') != std::string_view::npos) {
        throw InvalidArgument(S3OS_INVALID_ARGUMENT,
                              std::string(what) + ": contains a NUL character");
    }
    return std::string(text);
}

/// A path as the C API takes it: its native bytes (which the library requires to be UTF-8).
inline std::string c_path(const std::filesystem::path& path) {
    return c_string(path.native(), "path");
}

/// What the progress trampoline needs: the user's callback, and the exception it threw.
struct ProgressCall {
    const Progress& progress;
    std::exception_ptr thrown;

    static int report(std::uint64_t done, std::uint64_t total, void* user_data) noexcept {
        auto* call = static_cast<ProgressCall*>(user_data);
        try {
            return call->progress(done, total) ? 0 : 1;
        } catch (...) {
            call->thrown = std::current_exception();
            return 1;
        }
    }
};

/// Runs a transfer: `start(callback, user_data)` calls the C function. An exception from the
/// progress callback wins over the status it caused.
template <typename Start>
void transfer(const Progress& progress, Start start) {
    if (!progress) {
        check(start(nullptr, nullptr));
        return;
    }
    ProgressCall call{progress, nullptr};
    s3os_status status = start(&ProgressCall::report, &call);
    if (call.thrown) {
        std::rethrow_exception(call.thrown);
    }
    check(status);
}

/// What the listing trampoline needs: where the objects go, and an exception (such as
/// std::bad_alloc) raised while storing one.
struct ListCall {
    std::vector<Object> objects;
    std::exception_ptr thrown;

    static int collect(const char* name, std::uint64_t size, void* user_data) noexcept {
        auto* call = static_cast<ListCall*>(user_data);
        try {
            call->objects.push_back(Object{name, size});
            return 0;
        } catch (...) {
            call->thrown = std::current_exception();
            return 1;
        }
    }
};

struct ConfigDeleter {
    void operator()(s3os_config* config) const noexcept { s3os_config_free(config); }
};

struct StoreDeleter {
    void operator()(s3os_store* store) const noexcept { s3os_store_free(store); }
};

struct StringDeleter {
    void operator()(char* text) const noexcept { s3os_string_free(text); }
};

[[noreturn]] inline void moved_from(const char* type) {
    throw InvalidArgument(S3OS_INVALID_ARGUMENT,
                          std::string(type) + ": used after being moved from");
}

}  // namespace detail

/// A store's configuration: the bucket plus the C API's keys (prefix, endpoint_url,
/// aws_access_key_id, max_concurrency, ...; see README). Move-only.
class Config {
public:
    /// A configuration for `bucket` with the library's defaults. Throws InvalidArgument for a
    /// name that is not a valid bucket name.
    explicit Config(std::string_view bucket) {
        std::string name = detail::c_string(bucket, "bucket");
        handle_.reset(s3os_config_new(name.c_str()));
        if (!handle_) {
            detail::throw_status(S3OS_INVALID_ARGUMENT);
        }
    }

    /// Sets `key` to `value`; returns *this for chaining. An unknown key or bad value throws
    /// InvalidArgument and leaves the configuration unchanged.
    Config& set(std::string_view key, std::string_view value) {
        if (!handle_) {
            detail::moved_from("s3os::Config");
        }
        std::string c_key = detail::c_string(key, "key");
        std::string c_value = detail::c_string(value, "value");
        detail::check(s3os_config_set(handle_.get(), c_key.c_str(), c_value.c_str()));
        return *this;
    }

    /// The C handle, for calls this header does not wrap; owned by this object.
    s3os_config* native_handle() const noexcept { return handle_.get(); }

private:
    std::unique_ptr<s3os_config, detail::ConfigDeleter> handle_;
};

/// A connected store. Move-only; its methods may be called from many threads at once.
/// Object names are relative to the configured prefix.
class Store {
public:
    /// Connects with `config` (which may be changed or destroyed afterwards). Credentials and
    /// region not configured come from the standard AWS chain.
    explicit Store(const Config& config) {
        if (!config.native_handle()) {
            detail::moved_from("s3os::Config");
        }
        s3os_store* store = nullptr;
        detail::check(s3os_store_new(config.native_handle(), &store));
        handle_.reset(store);
    }

    /// Uploads the file at `path` as object `name`; large files go up in concurrent parts.
    void upload_file(std::string_view name, const std::filesystem::path& path,
                     const Progress& progress = {}) const {
        std::string c_name = detail::c_string(name, "object_name");
        std::string c_file = detail::c_path(path);
        s3os_store* store = handle();
        detail::transfer(progress, [&](s3os_progress_fn report, void* user_data) {
            return s3os_upload_file(store, c_name.c_str(), c_file.c_str(), report, user_data);
        });
    }

    /// Downloads object `name` to `path`, creating missing directories. The file appears only
    /// once every byte arrived and was verified. Throws AlreadyExists, before any request, if
    /// `path` exists and `overwrite` is false.
    void download_file(std::string_view name, const std::filesystem::path& path,
                       bool overwrite = false, const Progress& progress = {}) const {
        std::string c_name = detail::c_string(name, "object_name");
        std::string c_file = detail::c_path(path);
        s3os_store* store = handle();
        detail::transfer(progress, [&](s3os_progress_fn report, void* user_data) {
            return s3os_download_file(store, c_name.c_str(), c_file.c_str(), overwrite, report,
                                      user_data);
        });
    }

    /// The size in bytes of object `name`.
    std::uint64_t object_size(std::string_view name) const {
        std::string c_name = detail::c_string(name, "object_name");
        std::uint64_t size = 0;
        detail::check(s3os_object_size(handle(), c_name.c_str(), &size));
        return size;
    }

    /// `s3://<bucket>/<prefix><name>`.
    std::string uri(std::string_view name) const {
        std::string c_name = detail::c_string(name, "object_name");
        char* raw = nullptr;
        detail::check(s3os_get_uri(handle(), c_name.c_str(), &raw));
        std::unique_ptr<char, detail::StringDeleter> owned(raw);
        return std::string(owned.get());
    }

    /// Every object whose name (relative to the prefix) starts with `prefix`, in key order.
    std::vector<Object> list(std::string_view prefix = {}) const {
        std::string c_prefix = detail::c_string(prefix, "prefix");
        detail::ListCall call{{}, nullptr};
        s3os_status status =
            s3os_list_objects(handle(), c_prefix.c_str(), &detail::ListCall::collect, &call);
        if (call.thrown) {
            std::rethrow_exception(call.thrown);
        }
        detail::check(status);
        return std::move(call.objects);
    }

    /// Deletes object `name`; deleting an object that does not exist succeeds, as in S3.
    void remove(std::string_view name) const {
        std::string c_name = detail::c_string(name, "object_name");
        detail::check(s3os_delete_object(handle(), c_name.c_str()));
    }

    /// The C handle, for calls this header does not wrap; owned by this object.
    s3os_store* native_handle() const noexcept { return handle_.get(); }

private:
    s3os_store* handle() const {
        if (!handle_) {
            detail::moved_from("s3os::Store");
        }
        return handle_.get();
    }

    std::unique_ptr<s3os_store, detail::StoreDeleter> handle_;
};

// ---- The library's log ----------------------------------------------------------------------

/// How much the library logs (s3os_log_level); each level includes those before it: Warn adds
/// retries and their causes, Info every store's settings, credential resolution and finished
/// transfer, Debug every request attempt, connection and part plan, Trace every part.
enum class LogLevel : int {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
};

/// Receives one line of the library's log: its level and its text (one line, no timestamp),
/// valid only during the call.
using LogHandler = std::function<void(LogLevel level, std::string_view message)>;

namespace detail {

struct LogRouting {
    /// Serialises set_log_handler: each call's handler is in place, and the one it replaced
    /// freed, before the next call starts.
    std::mutex order;
    std::unique_ptr<LogHandler> current;
};

inline LogRouting& log_routing() {
    static LogRouting routing;
    return routing;
}

/// Set while a handler runs on the library's log thread.
inline thread_local bool in_log_handler = false;

inline void log_trampoline(s3os_log_level level, const char* message, void* user_data) noexcept {
    in_log_handler = true;
    try {
        (*static_cast<LogHandler*>(user_data))(static_cast<LogLevel>(level),
                                                std::string_view(message));
    } catch (...) {
        // A log line has nowhere to report a failure to: it is dropped.
    }
    in_log_handler = false;
}

}  // namespace detail

/// Routes the library's log lines at `level` and above to `handler`, or, with an empty
/// handler, back to where S3OS_LOG sends them (stderr, or S3OS_LOG_FILE).
///
/// The handler runs on a thread of the library's own, one line at a time, in order, never on
/// a transfer's threads: it needs no locking against itself, and a slow handler cannot stall a
/// transfer (lines beyond 16384 waiting are dropped, and counted in a warning). An exception
/// it throws is caught and the line dropped. It may call the library, except this function:
/// called from a handler, set_log_handler throws InvalidArgument. When set_log_handler
/// returns, every line logged before it was called has reached the previous handler, which
/// has been destroyed.
inline void set_log_handler(LogHandler handler, LogLevel level = LogLevel::Info) {
    if (detail::in_log_handler) {
        throw InvalidArgument(S3OS_INVALID_ARGUMENT,
                              "s3os::set_log_handler: cannot be called from a log handler");
    }
    detail::LogRouting& routing = detail::log_routing();
    std::unique_ptr<LogHandler> next;
    if (handler) {
        next = std::make_unique<LogHandler>(std::move(handler));
    }
    std::lock_guard<std::mutex> guard(routing.order);
    detail::check(s3os_set_log_callback(next ? &detail::log_trampoline : nullptr,
                                        static_cast<int>(level), next.get()));
    // The previous handler has had its last line: it goes.
    routing.current = std::move(next);
}

}  // namespace s3os

#endif  // S3OS_HPP
