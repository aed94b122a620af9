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

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <algorithm>
#include <ios>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <streambuf>
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

/// S3OS_BUFFER_TOO_SMALL: download_buffer() was given a buffer smaller than the object;
/// nothing was written into it. required_size() is the object's size.
class BufferTooSmall : public Error {
public:
    BufferTooSmall(s3os_status status, const std::string& message, std::size_t required_size = 0)
        : Error(status, message), required_size_(required_size) {}

    /// The object's size in bytes: a buffer this large holds it.
    std::size_t required_size() const noexcept { return required_size_; }

private:
    std::size_t required_size_;
};

/// S3OS_IN_PROGRESS (status 12): a background transfer was still running when a wait for it
/// ended. Transfer::wait with a timeout reports that by returning false instead.
class InProgress : public Error {
public:
    using Error::Error;
};

/// A call on many objects in which some failed: status() and what() are those of the first
/// object (in the order given) that failed, with how many failed; statuses() has each
/// object's status, in order (S3OS_OK for those that succeeded). The others were not stopped
/// by the failures.
class BatchError : public Error {
public:
    BatchError(s3os_status status, const std::string& message, std::vector<s3os_status> statuses)
        : Error(status, message), statuses_(std::move(statuses)) {}

    /// Each object's status, in the order of the call's arguments.
    const std::vector<s3os_status>& statuses() const noexcept { return statuses_; }

private:
    std::vector<s3os_status> statuses_;
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
// S3OS_BUFFER_TOO_SMALL, likewise.
inline constexpr int buffer_too_small_status = 11;
// S3OS_IN_PROGRESS, likewise.
inline constexpr int in_progress_status = 12;

/// Throws the exception for `status` with `message`.
[[noreturn]] inline void throw_error(s3os_status status, const std::string& message) {
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
    case buffer_too_small_status: throw BufferTooSmall(status, message);
    case in_progress_status: throw InProgress(status, message);
    default: throw Error(status, message);
    }
}

/// Throws the exception for `status`, with this thread's last error message.
[[noreturn]] inline void throw_status(s3os_status status) {
    std::string message = s3os_last_error();
    if (message.empty()) {
        message = s3os_status_name(static_cast<int>(status));
    }
    throw_error(status, message);
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

struct TransferDeleter {
    void operator()(s3os_transfer* transfer) const noexcept { s3os_transfer_free(transfer); }
};

/// NUL-terminated copies of names or paths, and the array of pointers to them the C API takes.
struct CStrings {
    std::vector<std::string> owned;
    std::vector<const char*> pointers;

    template <typename Items, typename Convert>
    CStrings(const Items& items, Convert convert) {
        owned.reserve(items.size());
        for (const auto& item : items) {
            owned.push_back(convert(item));
        }
        pointers.reserve(owned.size());
        for (const std::string& text : owned) {
            pointers.push_back(text.c_str());
        }
    }
};

inline CStrings c_names(const std::vector<std::string>& names) {
    return CStrings(names, [](const std::string& name) { return c_string(name, "object name"); });
}

inline CStrings c_paths(const std::vector<std::filesystem::path>& paths) {
    return CStrings(paths, [](const std::filesystem::path& path) { return c_path(path); });
}

/// Throws BatchError for a failed call on many objects, with each object's status.
inline void check_batch(s3os_status status, std::vector<s3os_status> statuses) {
    if (status != S3OS_OK) {
        std::string message = s3os_last_error();
        throw BatchError(status, message.empty() ? s3os_status_name(static_cast<int>(status))
                                                 : message,
                         std::move(statuses));
    }
}

/// Runs a call on many objects with progress, as `transfer` does; its failure is a BatchError.
template <typename Start>
void batch(const Progress& progress, std::vector<s3os_status>& statuses, Start start) {
    ProgressCall call{progress, nullptr};
    s3os_status status = progress ? start(&ProgressCall::report, &call) : start(nullptr, nullptr);
    if (call.thrown) {
        std::rethrow_exception(call.thrown);
    }
    check_batch(status, std::move(statuses));
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

/// A transfer running in the background, from one of Store's `..._start` methods. Move-only;
/// destroying it cancels the transfer if it still runs and waits for its cleanup.
///
/// progress(), wait() and cancel() may be called from any thread, several at once; the
/// destructor must not run while another call is on its way. A Transfer may outlive its
/// Store: destroying the Store cancels the transfers still running, whose wait() then throws
/// Cancelled. Nothing is called back: progress is polled. After fork(), a Transfer of the
/// parent is unusable in the child (its calls throw InvalidArgument).
class Transfer {
public:
    /// Takes ownership of a C handle; `items` is the number of objects of a batch started
    /// with a list of them (0 otherwise).
    explicit Transfer(s3os_transfer* handle, std::size_t items = 0) noexcept
        : handle_(handle), items_(items) {}

    /// Bytes moved so far and the total (0 and 0 until it is known).
    std::pair<std::uint64_t, std::uint64_t> progress() const {
        std::uint64_t done = 0, total = 0;
        detail::check(s3os_transfer_progress(handle(), &done, &total));
        return {done, total};
    }

    /// Waits until the transfer has finished, at most `timeout`: true once it succeeded, false
    /// if it is still running; throws as wait() does if it failed.
    bool wait(std::chrono::milliseconds timeout) const {
        s3os_status status = s3os_transfer_wait(handle(), static_cast<int64_t>(timeout.count()));
        if (static_cast<int>(status) == detail::in_progress_status) {
            return false;
        }
        check_finished(status);
        return true;
    }

    /// Waits for as long as the transfer takes; throws the exception of its status if it
    /// failed. A batch with failed objects throws BatchError.
    void wait() const { check_finished(s3os_transfer_wait(handle(), -1)); }

    /// Asks the transfer to stop; returns at once (it cleans up in the background and
    /// finishes as Cancelled unless it had finished already).
    void cancel() const { detail::check(s3os_transfer_cancel(handle())); }

    /// Each object's status, for a batch started with a list of objects (S3OS_IN_PROGRESS for
    /// those still on their way); empty for other transfers.
    std::vector<s3os_status> item_statuses() const {
        std::vector<s3os_status> statuses(items_, S3OS_OK);
        if (items_ > 0) {
            detail::check(s3os_transfer_item_statuses(handle(), statuses.data(), items_));
        }
        return statuses;
    }

    /// For a transfer from Store::download_buffer_start: the object's size once its first
    /// answer has announced it (after wait() succeeded, the bytes written into the buffer).
    /// Throws InProgress before that, InvalidArgument for any other transfer or when the
    /// download ended without an answer (a missing object).
    std::uint64_t object_size() const {
        std::uint64_t size = 0;
        detail::check(s3os_transfer_object_size(handle(), &size));
        return size;
    }

    /// The C handle, for calls this header does not wrap; owned by this object.
    s3os_transfer* native_handle() const noexcept { return handle_.get(); }

private:
    s3os_transfer* handle() const {
        if (!handle_) {
            detail::moved_from("s3os::Transfer");
        }
        return handle_.get();
    }

    /// Throws for a transfer that failed with `status`: a batch with its objects' statuses.
    void check_finished(s3os_status status) const {
        if (static_cast<int>(status) == detail::buffer_too_small_status) {
            std::string message = s3os_last_error();
            std::uint64_t size = 0;
            s3os_transfer_object_size(handle(), &size);
            throw BufferTooSmall(status, message, static_cast<std::size_t>(size));
        }
        if (status != S3OS_OK && items_ > 0) {
            // Read before the next C call, which resets this thread's last error.
            std::string message = s3os_last_error();
            throw BatchError(status, message, item_statuses());
        }
        detail::check(status);
    }

    std::unique_ptr<s3os_transfer, detail::TransferDeleter> handle_;
    std::size_t items_;
};

/// Bytes s3os allocated for a downloaded object (Store::download_alloc), released when this
/// object is destroyed. Move-only.
class Buffer {
public:
    Buffer() noexcept = default;
    Buffer(std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}
    Buffer(Buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    Buffer& operator=(Buffer&& other) noexcept {
        if (this != &other) {
            s3os_buffer_free(data_, size_);
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { s3os_buffer_free(data_, size_); }

    /// The object's bytes (nullptr for an empty object).
    const std::uint8_t* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

private:
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

/// An object being written in pieces (Store::open_writer). Parts go up in the background,
/// at most max_concurrency at once, while writing goes on; close() completes the object,
/// which appears only then. A Writer destroyed before close() aborts the upload (a destructor
/// cannot report a failed completion), as abort() does: nothing remains on the server.
/// Move-only; one thread at a time. It keeps working after its Store is destroyed.
class Writer {
public:
    explicit Writer(s3os_writer* handle) noexcept : handle_(handle) {}
    Writer(Writer&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Writer& operator=(Writer&& other) noexcept {
        if (this != &other) {
            s3os_writer_abort(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer() { s3os_writer_abort(handle_); }

    /// Appends `size` bytes at `data` (copied before returning). A failed part is thrown here
    /// or by close(); the upload is then aborted and the writer is finished.
    void write(const void* data, std::size_t size) {
        s3os_status status = s3os_writer_write(handle(), data, size);
        if (status != S3OS_OK) {
            // Read before the abort, another s3os call, replaces this thread's last error.
            std::string message = s3os_last_error();
            s3os_writer_abort(std::exchange(handle_, nullptr));
            detail::throw_error(status, message);
        }
    }

    void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

    /// Completes the object (one PUT below multipart_threshold). Throws if that fails, after
    /// aborting the upload. The writer is finished either way.
    void close() {
        detail::check(s3os_writer_close(std::exchange(handle_, nullptr)));
    }

    /// Abandons the object: nothing remains on the server. Throws only if the abort itself
    /// failed. The writer is finished either way; aborting a finished writer does nothing.
    void abort() {
        if (handle_) {
            detail::check(s3os_writer_abort(std::exchange(handle_, nullptr)));
        }
    }

    /// Whether close() or abort() may still be called.
    bool is_open() const noexcept { return handle_ != nullptr; }

private:
    s3os_writer* handle() const {
        if (!handle_) {
            throw InvalidArgument(S3OS_INVALID_ARGUMENT, "s3os::Writer: already closed or aborted");
        }
        return handle_;
    }

    s3os_writer* handle_;
};

/// An object being read in pieces (Store::open_reader), pinned to the version found when it
/// was opened: if the object is overwritten meanwhile, reads throw Transient rather than mix
/// versions. Reads that continue where the last one ended are served from parts fetched ahead;
/// a read after a seek fetches exactly what it asks for. Bytes read in order from the start
/// are checked against the object's CRC (when it has one) by the read that reaches the end
/// (IntegrityError). Move-only; one thread at a time. It keeps working after its Store is
/// destroyed.
class Reader {
public:
    explicit Reader(s3os_reader* handle) noexcept : handle_(handle) {}
    Reader(Reader&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Reader& operator=(Reader&& other) noexcept {
        if (this != &other) {
            s3os_reader_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    ~Reader() { s3os_reader_free(handle_); }

    /// The object's size in bytes.
    std::uint64_t size() const {
        std::uint64_t size = 0;
        detail::check(s3os_reader_size(handle(), &size));
        return size;
    }

    /// Reads up to `size` bytes into `data`; fewer only at the end of the object (0 there).
    std::size_t read(void* data, std::size_t size) {
        std::size_t read = 0;
        detail::check(s3os_reader_read(handle(), data, size, &read));
        return read;
    }

    /// Moves to `offset` (at most size()); makes no request.
    void seek(std::uint64_t offset) { detail::check(s3os_reader_seek(handle(), offset)); }

    /// The C handle, owned by this object.
    s3os_reader* native_handle() const noexcept { return handle_; }

private:
    s3os_reader* handle() const {
        if (!handle_) {
            throw InvalidArgument(S3OS_INVALID_ARGUMENT, "s3os::Reader: used after being moved from");
        }
        return handle_;
    }

    s3os_reader* handle_;
};

/// A std::streambuf over a Reader, for std::istream users: buffered, seekable (seekg,
/// tellg). A failure inside sets the stream's badbit, or is rethrown when the stream's
/// exceptions() ask for it.
class ReaderStreambuf : public std::streambuf {
public:
    explicit ReaderStreambuf(Reader& reader, std::size_t buffer_size = 256 * 1024)
        : reader_(reader), buffer_(buffer_size ? buffer_size : 1) {
        setg(buffer_.data(), buffer_.data(), buffer_.data());
    }

protected:
    int_type underflow() override {
        if (gptr() < egptr()) {
            return traits_type::to_int_type(*gptr());
        }
        std::size_t read = reader_.read(buffer_.data(), buffer_.size());
        position_ += read;
        setg(buffer_.data(), buffer_.data(), buffer_.data() + read);
        return read == 0 ? traits_type::eof() : traits_type::to_int_type(*gptr());
    }

    std::streamsize xsgetn(char* out, std::streamsize count) override {
        std::streamsize done = 0;
        while (done < count) {
            std::streamsize buffered = egptr() - gptr();
            if (buffered > 0) {
                std::streamsize n = std::min(buffered, count - done);
                traits_type::copy(out + done, gptr(), static_cast<std::size_t>(n));
                gbump(static_cast<int>(n));
                done += n;
            } else if (count - done >= static_cast<std::streamsize>(buffer_.size())) {
                // Large reads go straight into the caller's memory.
                std::size_t read = reader_.read(out + done, static_cast<std::size_t>(count - done));
                position_ += read;
                if (read == 0) break;
                done += static_cast<std::streamsize>(read);
            } else if (traits_type::eq_int_type(underflow(), traits_type::eof())) {
                break;
            }
        }
        return done;
    }

    pos_type seekoff(off_type offset, std::ios_base::seekdir dir,
                     std::ios_base::openmode which) override {
        if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
        off_type current = static_cast<off_type>(position_) - (egptr() - gptr());
        off_type base = dir == std::ios_base::beg   ? 0
                        : dir == std::ios_base::cur ? current
                                                    : static_cast<off_type>(reader_.size());
        return seekpos(pos_type(base + offset), which);
    }

    pos_type seekpos(pos_type target, std::ios_base::openmode which) override {
        off_type at = off_type(target);
        if (!(which & std::ios_base::in) || at < 0 ||
            static_cast<std::uint64_t>(at) > reader_.size()) {
            return pos_type(off_type(-1));
        }
        reader_.seek(static_cast<std::uint64_t>(at));
        position_ = static_cast<std::uint64_t>(at);
        setg(buffer_.data(), buffer_.data(), buffer_.data());
        return target;
    }

private:
    Reader& reader_;
    std::vector<char> buffer_;
    std::uint64_t position_ = 0;  // of the reader: the end of what the buffer holds
};

/// A std::streambuf over a Writer, for std::ostream users: buffered; pubsync() (flush) hands
/// the buffered bytes to the writer. Completing the object stays the Writer's close(), after
/// flushing the stream. A failure inside sets the stream's badbit, or is rethrown when the
/// stream's exceptions() ask for it.
class WriterStreambuf : public std::streambuf {
public:
    explicit WriterStreambuf(Writer& writer, std::size_t buffer_size = 256 * 1024)
        : writer_(writer), buffer_(buffer_size ? buffer_size : 1) {
        setp(buffer_.data(), buffer_.data() + buffer_.size());
    }

protected:
    int_type overflow(int_type ch) override {
        flush_buffer();
        if (!traits_type::eq_int_type(ch, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(ch);
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }

    std::streamsize xsputn(const char* data, std::streamsize count) override {
        if (count >= static_cast<std::streamsize>(buffer_.size())) {
            flush_buffer();
            writer_.write(data, static_cast<std::size_t>(count));
            return count;
        }
        return std::streambuf::xsputn(data, count);
    }

    int sync() override {
        flush_buffer();
        return 0;
    }

private:
    void flush_buffer() {
        std::ptrdiff_t pending = pptr() - pbase();
        if (pending > 0) {
            writer_.write(pbase(), static_cast<std::size_t>(pending));
        }
        setp(buffer_.data(), buffer_.data() + buffer_.size());
    }

    Writer& writer_;
    std::vector<char> buffer_;
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

    /// Uploads the `size` bytes at `data` as object `name`, straight from that memory (parts
    /// are sent concurrently from it, never copied); it must stay unchanged during the call.
    void upload_buffer(std::string_view name, const void* data, std::size_t size,
                       const Progress& progress = {}) const {
        std::string c_name = detail::c_string(name, "object_name");
        s3os_store* store = handle();
        detail::transfer(progress, [&](s3os_progress_fn report, void* user_data) {
            return s3os_upload_buffer(store, c_name.c_str(), data, size, report, user_data);
        });
    }

    /// Downloads object `name` into `buffer` (`capacity` bytes) and returns its size, verified
    /// as download_file() verifies. Throws BufferTooSmall (with required_size()) if the object
    /// is larger, having written nothing into the buffer.
    std::size_t download_buffer(std::string_view name, void* buffer, std::size_t capacity,
                                const Progress& progress = {}) const {
        std::string c_name = detail::c_string(name, "object_name");
        s3os_store* store = handle();
        std::size_t size = 0;
        try {
            detail::transfer(progress, [&](s3os_progress_fn report, void* user_data) {
                return s3os_download_buffer(store, c_name.c_str(), buffer, capacity, &size,
                                            report, user_data);
            });
        } catch (const BufferTooSmall& e) {
            throw BufferTooSmall(e.status(), e.what(), size);
        }
        return size;
    }

    /// Downloads object `name` into memory s3os allocates, verified as download_file()
    /// verifies; the Buffer releases it.
    Buffer download_alloc(std::string_view name, const Progress& progress = {}) const {
        std::string c_name = detail::c_string(name, "object_name");
        s3os_store* store = handle();
        std::uint8_t* data = nullptr;
        std::size_t size = 0;
        detail::transfer(progress, [&](s3os_progress_fn report, void* user_data) {
            return s3os_download_alloc(store, c_name.c_str(), &data, &size, report, user_data);
        });
        return Buffer(data, size);
    }

    /// Reads bytes [offset, offset + size) of object `name` into `buffer`; returns how many
    /// (fewer if the object ends first, 0 if `offset` is its size). An offset beyond the size
    /// throws InvalidArgument naming it. Checked by length and Content-Range (S3 keeps no
    /// checksum of a range); a read that holds the whole object also against its CRC.
    std::size_t read_range(std::string_view name, std::uint64_t offset, void* buffer,
                           std::size_t size) const {
        std::string c_name = detail::c_string(name, "object_name");
        std::size_t read = 0;
        detail::check(s3os_read_range(handle(), c_name.c_str(), offset, buffer, size, &read));
        return read;
    }

    /// A Writer that makes object `name` when closed.
    Writer open_writer(std::string_view name) const {
        std::string c_name = detail::c_string(name, "object_name");
        s3os_writer* writer = nullptr;
        detail::check(s3os_writer_open(handle(), c_name.c_str(), &writer));
        return Writer(writer);
    }

    /// A Reader over object `name` (one request now: size, version and checksum). Throws
    /// NotFound for a missing object.
    Reader open_reader(std::string_view name) const {
        std::string c_name = detail::c_string(name, "object_name");
        s3os_reader* reader = nullptr;
        detail::check(s3os_reader_open(handle(), c_name.c_str(), &reader));
        return Reader(reader);
    }

    /// Uploads `paths[i]` as object `names[i]` for every i, up to max_objects_in_flight at a
    /// time within one bound on memory; `progress` reports all of them together. One failing
    /// does not stop the others; if any failed, throws BatchError once all have finished.
    void upload_files(const std::vector<std::string>& names,
                      const std::vector<std::filesystem::path>& paths,
                      const Progress& progress = {}) const {
        same_length(names.size(), paths.size());
        detail::CStrings c_names = detail::c_names(names), c_paths = detail::c_paths(paths);
        std::vector<s3os_status> statuses(names.size(), S3OS_OK);
        s3os_store* store = handle();
        detail::batch(progress, statuses, [&](s3os_progress_fn report, void* user_data) {
            return s3os_upload_files(store, c_names.pointers.data(), c_paths.pointers.data(),
                                     names.size(), statuses.data(), report, user_data);
        });
    }

    /// Downloads object `names[i]` to `paths[i]` for every i, each as download_file does;
    /// failures as for upload_files. The progress total grows as sizes become known.
    void download_files(const std::vector<std::string>& names,
                        const std::vector<std::filesystem::path>& paths, bool overwrite = false,
                        const Progress& progress = {}) const {
        same_length(names.size(), paths.size());
        detail::CStrings c_names = detail::c_names(names), c_paths = detail::c_paths(paths);
        std::vector<s3os_status> statuses(names.size(), S3OS_OK);
        s3os_store* store = handle();
        detail::batch(progress, statuses, [&](s3os_progress_fn report, void* user_data) {
            return s3os_download_files(store, c_names.pointers.data(), c_paths.pointers.data(),
                                       names.size(), overwrite, statuses.data(), report,
                                       user_data);
        });
    }

    /// Uploads every regular file under `dir` (recursively, symbolic links not followed) as
    /// `<prefix>/<relative path>`. Throws the exception of the first failed file's status.
    void upload_dir(const std::filesystem::path& dir, std::string_view prefix,
                    const Progress& progress = {}) const {
        std::string c_dir = detail::c_path(dir);
        std::string c_prefix = detail::c_string(prefix, "object_prefix");
        s3os_store* store = handle();
        detail::transfer(progress, [&](s3os_progress_fn report, void* user_data) {
            return s3os_upload_dir(store, c_dir.c_str(), c_prefix.c_str(), report, user_data);
        });
    }

    /// Downloads every object under the folder `prefix` into the same relative paths under
    /// `dir`; names that would leave `dir` fail with InvalidArgument, the others go on.
    void download_prefix(std::string_view prefix, const std::filesystem::path& dir,
                         bool overwrite = false, const Progress& progress = {}) const {
        std::string c_prefix = detail::c_string(prefix, "object_prefix");
        std::string c_dir = detail::c_path(dir);
        s3os_store* store = handle();
        detail::transfer(progress, [&](s3os_progress_fn report, void* user_data) {
            return s3os_download_prefix(store, c_prefix.c_str(), c_dir.c_str(), overwrite,
                                        report, user_data);
        });
    }

    /// Deletes the objects (S3's DeleteObjects, 1,000 per request); missing ones count as
    /// deleted. Throws BatchError if any could not be deleted.
    void remove_many(const std::vector<std::string>& names) const {
        detail::CStrings c_names = detail::c_names(names);
        std::vector<s3os_status> statuses(names.size(), S3OS_OK);
        s3os_status status =
            s3os_delete_objects(handle(), c_names.pointers.data(), names.size(), statuses.data());
        detail::check_batch(status, std::move(statuses));
    }

    /// Deletes every object under the folder `prefix` (which must not be empty); returns how
    /// many were deleted.
    std::uint64_t remove_prefix(std::string_view prefix) const {
        std::string c_prefix = detail::c_string(prefix, "object_prefix");
        std::uint64_t deleted = 0;
        detail::check(s3os_delete_prefix(handle(), c_prefix.c_str(), &deleted));
        return deleted;
    }

    /// Starts uploading `path` as `name` in the background; see Transfer.
    Transfer upload_file_start(std::string_view name, const std::filesystem::path& path) const {
        std::string c_name = detail::c_string(name, "object_name");
        std::string c_file = detail::c_path(path);
        s3os_transfer* transfer = nullptr;
        detail::check(s3os_upload_file_start(handle(), c_name.c_str(), c_file.c_str(), &transfer));
        return Transfer(transfer);
    }

    /// Starts downloading `name` to `path` in the background; see Transfer.
    Transfer download_file_start(std::string_view name, const std::filesystem::path& path,
                                 bool overwrite = false) const {
        std::string c_name = detail::c_string(name, "object_name");
        std::string c_file = detail::c_path(path);
        s3os_transfer* transfer = nullptr;
        detail::check(s3os_download_file_start(handle(), c_name.c_str(), c_file.c_str(),
                                               overwrite, &transfer));
        return Transfer(transfer);
    }

    /// upload_buffer() in the background. The `size` bytes at `data` are lent to the transfer:
    /// they must stay valid and unchanged until it has finished (wait() returned true or
    /// threw) or the Transfer is destroyed, and are not used afterwards.
    Transfer upload_buffer_start(std::string_view name, const void* data, std::size_t size) const {
        std::string c_name = detail::c_string(name, "object_name");
        s3os_transfer* transfer = nullptr;
        detail::check(s3os_upload_buffer_start(handle(), c_name.c_str(), data, size, &transfer));
        return Transfer(transfer);
    }

    /// download_buffer() in the background, into `buffer` (`capacity` bytes), lent to the
    /// transfer as in upload_buffer_start(): nothing else may touch it until the transfer has
    /// finished or is destroyed. Transfer::object_size() gives the object's size; wait()
    /// throws BufferTooSmall (with required_size()) if it does not fit, having written nothing.
    Transfer download_buffer_start(std::string_view name, void* buffer,
                                   std::size_t capacity) const {
        std::string c_name = detail::c_string(name, "object_name");
        s3os_transfer* transfer = nullptr;
        detail::check(
            s3os_download_buffer_start(handle(), c_name.c_str(), buffer, capacity, &transfer));
        return Transfer(transfer);
    }

    /// upload_files in the background; Transfer::item_statuses() gives each file's status.
    Transfer upload_files_start(const std::vector<std::string>& names,
                                const std::vector<std::filesystem::path>& paths) const {
        same_length(names.size(), paths.size());
        detail::CStrings c_names = detail::c_names(names), c_paths = detail::c_paths(paths);
        s3os_transfer* transfer = nullptr;
        detail::check(s3os_upload_files_start(handle(), c_names.pointers.data(),
                                              c_paths.pointers.data(), names.size(), &transfer));
        return Transfer(transfer, names.size());
    }

    /// download_files in the background; Transfer::item_statuses() gives each object's status.
    Transfer download_files_start(const std::vector<std::string>& names,
                                  const std::vector<std::filesystem::path>& paths,
                                  bool overwrite = false) const {
        same_length(names.size(), paths.size());
        detail::CStrings c_names = detail::c_names(names), c_paths = detail::c_paths(paths);
        s3os_transfer* transfer = nullptr;
        detail::check(s3os_download_files_start(handle(), c_names.pointers.data(),
                                                c_paths.pointers.data(), names.size(), overwrite,
                                                &transfer));
        return Transfer(transfer, names.size());
    }

    /// upload_dir in the background.
    Transfer upload_dir_start(const std::filesystem::path& dir, std::string_view prefix) const {
        std::string c_dir = detail::c_path(dir);
        std::string c_prefix = detail::c_string(prefix, "object_prefix");
        s3os_transfer* transfer = nullptr;
        detail::check(s3os_upload_dir_start(handle(), c_dir.c_str(), c_prefix.c_str(), &transfer));
        return Transfer(transfer);
    }

    /// download_prefix in the background.
    Transfer download_prefix_start(std::string_view prefix, const std::filesystem::path& dir,
                                   bool overwrite = false) const {
        std::string c_prefix = detail::c_string(prefix, "object_prefix");
        std::string c_dir = detail::c_path(dir);
        s3os_transfer* transfer = nullptr;
        detail::check(s3os_download_prefix_start(handle(), c_prefix.c_str(), c_dir.c_str(),
                                                 overwrite, &transfer));
        return Transfer(transfer);
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

    static void same_length(std::size_t names, std::size_t paths) {
        if (names != paths) {
            throw InvalidArgument(S3OS_INVALID_ARGUMENT,
                                  "names and paths differ in length (" + std::to_string(names) +
                                      " and " + std::to_string(paths) + ")");
        }
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
