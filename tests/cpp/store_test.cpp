// Every method and exception of s3os.hpp against a real server.
//
//   store_test <scratch-dir> <dead-endpoint> <corrupting-endpoint> key=value...
//
// The key=value settings reach the server (endpoint, credentials); <dead-endpoint> is an
// address where nothing listens, <corrupting-endpoint> a proxy to the server that damages
// every object it serves. Prints one line per group of checks and, at the end,
// "store_test: all N checks passed"; the first failed check ends the program with status 1.

#include <s3os.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <iostream>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace fs = std::filesystem;

static_assert(!std::is_copy_constructible_v<s3os::Store> &&
              !std::is_copy_assignable_v<s3os::Store>);
static_assert(std::is_nothrow_move_constructible_v<s3os::Store> &&
              std::is_nothrow_move_assignable_v<s3os::Store>);
static_assert(!std::is_copy_constructible_v<s3os::Config>);
static_assert(std::is_nothrow_move_constructible_v<s3os::Config>);
static_assert(std::is_base_of_v<std::runtime_error, s3os::Error> &&
              std::is_base_of_v<s3os::Error, s3os::NotFound> &&
              std::is_base_of_v<s3os::Error, s3os::TlsError>);

// The listing test makes this thread's next C++ allocation fail, to prove that an exception
// raised while the C library is calling back is carried out of it and rethrown.
static thread_local bool fail_next_allocation = false;

void* operator new(std::size_t size) {
    if (fail_next_allocation) {
        fail_next_allocation = false;
        throw std::bad_alloc();
    }
    if (void* memory = std::malloc(size ? size : 1)) {
        return memory;
    }
    throw std::bad_alloc();
}

void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }

namespace {

int checks = 0;

[[noreturn]] void fail(const std::string& what) {
    std::cerr << "FAILED: " << what << std::endl;
    std::exit(1);
}

void check(bool ok, const std::string& what) {
    ++checks;
    if (!ok) {
        fail(what);
    }
}

// Runs `body`, which must throw exactly `Expected`; returns the exception.
template <typename Expected, typename Body>
Expected expect_throw(const std::string& what, Body body) {
    ++checks;
    try {
        body();
    } catch (const Expected& e) {
        if (typeid(e) != typeid(Expected)) {
            fail(what + ": threw " + typeid(e).name() + " instead of " + typeid(Expected).name());
        }
        return e;
    } catch (const std::exception& e) {
        fail(what + ": threw " + typeid(e).name() + " (" + e.what() + ")");
    } catch (...) {
        fail(what + ": threw something that is not a std::exception");
    }
    fail(what + ": did not throw");
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return std::move(bytes).str();
}

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

// Deterministic bytes that do not repeat, so a misplaced part would show.
std::string pattern(std::size_t size, std::uint64_t seed) {
    std::string bytes(size + sizeof(std::uint64_t), '\0');
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull | 1;
    for (std::size_t at = 0; at < size; at += sizeof state) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::memcpy(&bytes[at], &state, sizeof state);
    }
    bytes.resize(size);
    return bytes;
}

// Temporary files a download leaves beside its target (there must be none).
int leftovers(const fs::path& dir) {
    int found = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        found += contains(entry.path().filename().string(), ".s3os.tmp");
    }
    return found;
}

struct Settings {
    std::vector<std::pair<std::string, std::string>> pairs;

    s3os::Config store_config(const std::string& prefix) const {
        s3os::Config config("test-bucket");
        for (const auto& [key, value] : pairs) {
            config.set(key, value);
        }
        config.set("prefix", prefix);
        return config;
    }
};

// Progress reports as the library delivers them.
struct ProgressLog {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;

    s3os::Progress recorder() {
        return [this](std::uint64_t done, std::uint64_t total) {
            calls.emplace_back(done, total);
            return true;
        };
    }

    // Cumulative, never decreasing, one total, ending with done == total == size.
    bool consistent(std::uint64_t size) const {
        if (calls.empty() || calls.back() != std::make_pair(size, size)) {
            return false;
        }
        for (std::size_t i = 0; i < calls.size(); i++) {
            if (calls[i].second != size || (i > 0 && calls[i].first < calls[i - 1].first)) {
                return false;
            }
        }
        return true;
    }
};

struct CallbackFailure {
    int code;
};

void configuration(const Settings& settings) {
    expect_throw<s3os::InvalidArgument>("an empty bucket", [] { s3os::Config(""); });
    auto spaced = expect_throw<s3os::InvalidArgument>("a bucket with a space",
                                                      [] { s3os::Config("my bucket"); });
    check(spaced.status() == S3OS_INVALID_ARGUMENT && contains(spaced.what(), "bucket"),
          "the bucket error names the bucket: " + std::string(spaced.what()));
    check(std::string(spaced.status_name()) == "S3OS_INVALID_ARGUMENT", "status_name()");
    expect_throw<s3os::InvalidArgument>("a bucket with a NUL",
                                        [] { s3os::Config(std::string("ab\0c", 4)); });

    s3os::Config config = settings.store_config("cpp");
    check(&config.set("max_concurrency", "2").set("max_attempts", "2") == &config,
          "set() chains on the same Config");
    auto unknown = expect_throw<s3os::InvalidArgument>(
        "an unknown key", [&] { config.set("no_such_key", "1"); });
    check(contains(unknown.what(), "no_such_key"), "the error names the key: " +
                                                        std::string(unknown.what()));
    expect_throw<s3os::InvalidArgument>("a bad value", [&] { config.set("max_concurrency", "0"); });
    auto nul = expect_throw<s3os::InvalidArgument>(
        "a key with a NUL", [&] { config.set(std::string("prefix\0x", 8), "p"); });
    check(contains(nul.what(), "NUL"), "the NUL error says so: " + std::string(nul.what()));
    expect_throw<s3os::InvalidArgument>("a value with a NUL",
                                        [&] { config.set("prefix", std::string("a\0b", 3)); });

    // A std::string_view need not end in a NUL: only its own characters may be passed on.
    const char text[] = "prefixJUNK";
    s3os::Config trimmed = settings.store_config("unused");
    trimmed.set(std::string_view(text, 6), std::string_view("viewed-prefix/xyz", 13));
    check(s3os::Store(trimmed).uri("o") == "s3://test-bucket/viewed-prefix/o",
          "string_views are passed with their length");

    s3os::Config moved = std::move(config);
    expect_throw<s3os::InvalidArgument>("set() on a moved-from Config",
                                        [&] { config.set("prefix", "x"); });
    expect_throw<s3os::InvalidArgument>("a Store from a moved-from Config",
                                        [&] { s3os::Store store(config); });
    s3os::Store store(moved);
    check(store.uri("x") == "s3://test-bucket/cpp/x", "the moved-to Config keeps its settings");
    std::cout << "configuration: ok" << std::endl;
}

void transfers(const s3os::Store& store, const fs::path& dir) {
    const std::string big = pattern(12 * 1024 * 1024 + 3, 7);  // in parts (5 MiB)
    const fs::path source = dir / "big.bin";
    write_file(source, big);

    ProgressLog up;
    store.upload_file("data/big.bin", source, up.recorder());
    check(up.consistent(big.size()), "upload progress is cumulative and ends at the size");
    check(store.object_size("data/big.bin") == big.size(), "object_size() after upload");

    ProgressLog down;
    const fs::path target = dir / "nested" / "dirs" / "big.copy";
    store.download_file("data/big.bin", target, false, down.recorder());
    check(down.consistent(big.size()), "download progress is cumulative and ends at the size");
    check(read_file(target) == big, "the downloaded bytes equal the uploaded ones");

    write_file(target, "local");
    auto exists = expect_throw<s3os::AlreadyExists>(
        "download onto an existing file", [&] { store.download_file("data/big.bin", target); });
    check(exists.status() == S3OS_ALREADY_EXISTS, "AlreadyExists carries its status");
    check(read_file(target) == "local", "an existing file is left alone without overwrite");
    store.download_file("data/big.bin", target, true);
    check(read_file(target) == big, "overwrite=true replaces the file");

    const fs::path small = dir / "small.txt";
    write_file(small, "small object");
    store.upload_file("data/small.txt", small.string());  // any path-convertible type
    store.download_file("data/small.txt", dir / "small.copy");
    check(read_file(dir / "small.copy") == "small object", "a small object without progress");
    check(leftovers(dir) == 0 && leftovers(target.parent_path()) == 0, "no temporary files");
    std::cout << "transfers: ok" << std::endl;
}

void cancellation(const s3os::Store& store, const fs::path& dir) {
    const fs::path source = dir / "cancel.bin";
    write_file(source, pattern(21 * 1024 * 1024, 3));

    // The uploads stop once bytes move, when the multipart upload exists on the server: the
    // test then also shows (through the server's files) that it was aborted.
    auto cancelled = expect_throw<s3os::Cancelled>("an upload whose progress returns false", [&] {
        store.upload_file("cancel/up.bin", source,
                          [](std::uint64_t done, std::uint64_t) { return done == 0; });
    });
    check(cancelled.status() == S3OS_CANCELLED, "Cancelled carries its status");
    expect_throw<s3os::NotFound>("a cancelled upload leaves no object",
                                 [&] { store.object_size("cancel/up.bin"); });

    int calls = 0;
    try {
        store.upload_file("cancel/thrown.bin", source, [&](std::uint64_t done, std::uint64_t) {
            if (done == 0) {
                return true;
            }
            ++calls;
            throw CallbackFailure{42};
        });
        fail("an upload whose progress throws did not throw");
    } catch (const CallbackFailure& e) {
        check(e.code == 42 && calls == 1, "the callback's own exception propagates, once");
    }
    expect_throw<s3os::NotFound>("an upload stopped by an exception leaves no object",
                                 [&] { store.object_size("cancel/thrown.bin"); });

    store.upload_file("cancel/down.bin", source);
    const fs::path target = dir / "cancelled" / "down.bin";
    expect_throw<s3os::Cancelled>("a download whose progress returns false", [&] {
        store.download_file("cancel/down.bin", target, false,
                            [](std::uint64_t, std::uint64_t) { return false; });
    });
    check(!fs::exists(target), "a cancelled download leaves no file");
    try {
        store.download_file("cancel/down.bin", target, false,
                            [](std::uint64_t, std::uint64_t) -> bool {
                                throw std::out_of_range("from the callback");
                            });
        fail("a download whose progress throws did not throw");
    } catch (const std::out_of_range& e) {
        check(std::string(e.what()) == "from the callback", "a std::exception keeps its type");
    }
    check(!fs::exists(target) && leftovers(target.parent_path()) == 0,
          "a download stopped by an exception leaves no file");
    store.download_file("cancel/down.bin", target);
    check(fs::file_size(target) == fs::file_size(source), "the store works after cancellations");
    std::cout << "cancellation: ok" << std::endl;
}

void names_and_listing(const s3os::Store& store, const fs::path& dir) {
    check(store.uri("a/b.pt") == "s3://test-bucket/cpp/a/b.pt", "uri() adds bucket and prefix");
    check(store.uri(std::string_view("a/bJUNK", 3)) == "s3://test-bucket/cpp/a/b",
          "uri() takes the string_view's length");

    const fs::path one = dir / "one", three = dir / "three";
    write_file(one, "1");
    write_file(three, "333");
    store.upload_file("list/b/second", three);
    store.upload_file("list/a", one);
    store.upload_file("list/b/first", one);

    std::vector<s3os::Object> under_b = store.list("list/b/");
    check(under_b.size() == 2 && under_b[0].name == "list/b/first" && under_b[0].size == 1 &&
              under_b[1].name == "list/b/second" && under_b[1].size == 3,
          "list(prefix) gives names relative to the store prefix, sizes, in key order");
    std::vector<s3os::Object> all = store.list();
    std::size_t listed = 0;
    for (const auto& object : all) {
        listed += object.name.rfind("list/", 0) == 0;
    }
    check(listed == 3 && all.size() > 3, "list() gives everything");
    check(store.list("nothing/here/").empty(), "list() with no match is empty");

    fail_next_allocation = true;
    try {
        store.list("list/");
        fail("a listing whose allocation fails did not throw");
    } catch (const std::bad_alloc&) {
        check(!fail_next_allocation, "std::bad_alloc from the list callback propagates");
    }
    check(store.list("list/").size() == 3, "the store lists again after that");

    store.remove("list/a");
    auto missing = expect_throw<s3os::NotFound>("object_size() of a removed object",
                                                [&] { store.object_size("list/a"); });
    check(missing.status() == S3OS_NOT_FOUND &&
              contains(missing.what(), "s3://test-bucket/cpp/list/a"),
          "NotFound names the object: " + std::string(missing.what()));
    store.remove("list/a");  // deleting a missing object succeeds, as in S3
    const fs::path target = dir / "never" / "there";
    expect_throw<s3os::NotFound>("download of a missing object",
                                 [&] { store.download_file("list/a", target); });
    check(!fs::exists(target), "a failed download creates no file");
    std::cout << "names and listing: ok" << std::endl;
}

void bad_input(const s3os::Store& store, const fs::path& dir) {
    const std::string nul_name("a\0b", 3);
    expect_throw<s3os::InvalidArgument>("upload_file() name with a NUL",
                                        [&] { store.upload_file(nul_name, dir / "one"); });
    expect_throw<s3os::InvalidArgument>("download_file() name with a NUL",
                                        [&] { store.download_file(nul_name, dir / "x"); });
    expect_throw<s3os::InvalidArgument>("object_size() name with a NUL",
                                        [&] { store.object_size(nul_name); });
    expect_throw<s3os::InvalidArgument>("uri() name with a NUL", [&] { store.uri(nul_name); });
    expect_throw<s3os::InvalidArgument>("remove() name with a NUL",
                                        [&] { store.remove(nul_name); });
    expect_throw<s3os::InvalidArgument>("list() prefix with a NUL", [&] { store.list(nul_name); });
    expect_throw<s3os::InvalidArgument>(
        "a path with a NUL",
        [&] { store.upload_file("x", fs::path(std::string("/tmp/a\0b", 8))); });
    expect_throw<s3os::InvalidArgument>("a name over 1024 bytes",
                                        [&] { store.object_size(std::string(1100, 'k')); });
    expect_throw<s3os::InvalidArgument>(
        "a path that is not UTF-8", [&] { store.upload_file("x", dir / std::string("\xff\xfe")); });

    auto io = expect_throw<s3os::IoError>("upload of a missing file",
                                          [&] { store.upload_file("x", dir / "no-such-file"); });
    check(io.status() == S3OS_IO, "IoError carries its status");
    write_file(dir / "plain-file", "not a directory");
    expect_throw<s3os::IoError>("download below a regular file", [&] {
        store.download_file("data/small.txt", dir / "plain-file" / "child");
    });
    std::cout << "bad input: ok" << std::endl;
}

// throw_status(status) throws `Expected`, carrying the status.
template <typename Expected>
void maps(int status) {
    auto thrown = expect_throw<Expected>("status " + std::to_string(status), [&] {
        s3os::detail::throw_status(static_cast<s3os_status>(status));
    });
    check(static_cast<int>(thrown.status()) == status && *thrown.what() != '\0',
          "status " + std::to_string(status) + " is carried, with a message");
}

void failures(const Settings& settings, const fs::path& dir, const std::string& dead_endpoint,
              const std::string& corrupting_endpoint) {
    s3os::Config wrong = settings.store_config("cpp");
    wrong.set("aws_secret_access_key", "not-the-secret");
    auto denied = expect_throw<s3os::PermissionDenied>(
        "rejected credentials", [&] { s3os::Store(wrong).object_size("data/small.txt"); });
    check(denied.status() == S3OS_PERMISSION_DENIED, "PermissionDenied carries its status");

    s3os::Config dead = settings.store_config("cpp");
    dead.set("endpoint_url", dead_endpoint).set("max_attempts", "1").set("connect_timeout", "2");
    auto transient = expect_throw<s3os::Transient>(
        "a server that does not answer", [&] { s3os::Store(dead).object_size("x"); });
    check(transient.status() == S3OS_TRANSIENT, "Transient carries its status");

    s3os::Config corrupting = settings.store_config("cpp");
    corrupting.set("endpoint_url", corrupting_endpoint).set("max_attempts", "2");
    const fs::path target = dir / "corrupted" / "small.txt";
    auto damaged = expect_throw<s3os::IntegrityError>("bytes that fail their checksum", [&] {
        s3os::Store(corrupting).download_file("data/small.txt", target);
    });
    check(damaged.status() == S3OS_INTEGRITY && !fs::exists(target),
          "IntegrityError carries its status, and no file is left");

    // Every status to its class (S3OS_INTERNAL, a bug, cannot be provoked from outside).
    maps<s3os::InvalidArgument>(S3OS_INVALID_ARGUMENT);
    maps<s3os::NotFound>(S3OS_NOT_FOUND);
    maps<s3os::AlreadyExists>(S3OS_ALREADY_EXISTS);
    maps<s3os::PermissionDenied>(S3OS_PERMISSION_DENIED);
    maps<s3os::Transient>(S3OS_TRANSIENT);
    maps<s3os::Cancelled>(S3OS_CANCELLED);
    maps<s3os::IoError>(S3OS_IO);
    maps<s3os::IntegrityError>(S3OS_INTEGRITY);
    maps<s3os::InternalError>(S3OS_INTERNAL);

    // Statuses the library may add: S3OS_TLS and S3OS_IN_PROGRESS by value, later ones as a
    // plain Error.
    maps<s3os::TlsError>(10);
    maps<s3os::BufferTooSmall>(11);
    maps<s3os::InProgress>(12);
    auto newer = expect_throw<s3os::Error>(
        "a status this header does not know",
        [] { s3os::detail::throw_status(static_cast<s3os_status>(13)); });
    check(static_cast<int>(newer.status()) == 13 &&
              std::string(newer.status_name()) == s3os_status_name(13) && *newer.what() != '\0',
          "an unknown status keeps its number and the library's name for it");
    std::cout << "failures: ok" << std::endl;
}

void moves(const Settings& settings) {
    s3os::Store first(settings.store_config("cpp"));
    s3os::Store second(std::move(first));
    check(second.object_size("data/small.txt") == 12, "a moved-to Store works");
    auto moved = expect_throw<s3os::InvalidArgument>("a moved-from Store",
                                                     [&] { first.object_size("data/small.txt"); });
    check(contains(moved.what(), "moved"), "the error says why: " + std::string(moved.what()));
    check(first.native_handle() == nullptr && second.native_handle() != nullptr, "handles moved");

    s3os::Store third(settings.store_config("other"));
    third = std::move(second);
    check(third.uri("x") == "s3://test-bucket/cpp/x", "move assignment takes the other store");
    std::cout << "moves: ok" << std::endl;
}

void threads(const s3os::Store& store, const fs::path& dir) {
    std::atomic<int> correct{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; t++) {
        workers.emplace_back([&, t] {
            const std::string name = "threads/" + std::to_string(t);
            const std::string bytes =
                pattern(64 * 1024 + static_cast<std::size_t>(t), static_cast<std::uint64_t>(t));
            const fs::path source = dir / ("thread-" + std::to_string(t));
            const fs::path copy = dir / ("thread-copy-" + std::to_string(t));
            try {
                write_file(source, bytes);
                store.upload_file(name, source);
                store.download_file(name, copy, true);
                correct += read_file(copy) == bytes && store.object_size(name) == bytes.size();
            } catch (const std::exception& e) {
                std::cerr << "thread " << t << ": " << e.what() << std::endl;
            }
        });
    }
    for (auto& worker : workers) {
        worker.join();
    }
    check(correct == 4, "four threads transfer through one store at once");
    std::cout << "threads: ok" << std::endl;
}

void memory_and_streams(const Settings& settings, const fs::path& dir) {
    s3os::Config config = settings.store_config("cpp-memory");
    config.set("multipart_threshold", "5MiB").set("multipart_chunksize", "5MiB");
    s3os::Store store(config);
    for (const char* left : {"written.bin", "dropped.bin", "aborted.bin"}) {
        store.remove(left);  // from an earlier run of this program against the same server
    }
    const std::string data = pattern(11 * 1024 * 1024 + 7, 9);  // three parts

    ProgressLog up;
    store.upload_buffer("buffer.bin", data.data(), data.size(), up.recorder());
    check(up.consistent(data.size()), "upload_buffer progress ends at the size");
    std::string back(data.size(), '\0');
    check(store.download_buffer("buffer.bin", back.data(), back.size()) == data.size() &&
              back == data,
          "download_buffer gives the bytes");
    std::string small(data.size() - 1, 'z');
    auto too_small = expect_throw<s3os::BufferTooSmall>("a buffer one byte short", [&] {
        store.download_buffer("buffer.bin", small.data(), small.size());
    });
    check(too_small.required_size() == data.size() && too_small.status() == 11 &&
              small == std::string(data.size() - 1, 'z'),
          "BufferTooSmall names the size and nothing was written");
    s3os::Buffer allocated = store.download_alloc("buffer.bin");
    check(allocated.size() == data.size() &&
              std::memcmp(allocated.data(), data.data(), data.size()) == 0,
          "download_alloc gives the bytes");
    s3os::Buffer moved = std::move(allocated);
    check(allocated.empty() && moved.size() == data.size(), "a Buffer moves");
    store.upload_buffer("empty", nullptr, 0);
    check(store.download_alloc("empty").data() == nullptr, "an empty object allocates nothing");

    char range[100];
    check(store.read_range("buffer.bin", 1000, range, sizeof range) == sizeof range &&
              std::memcmp(range, data.data() + 1000, sizeof range) == 0,
          "read_range gives the bytes");
    check(store.read_range("buffer.bin", data.size() - 10, range, sizeof range) == 10,
          "read_range past the end reads what exists");
    auto beyond = expect_throw<s3os::InvalidArgument>("read_range beyond the end", [&] {
        store.read_range("buffer.bin", data.size() + 1, range, 1);
    });
    check(contains(beyond.what(), std::to_string(data.size())), "the message names the size");

    {
        s3os::Writer writer = store.open_writer("written.bin");
        for (std::size_t at = 0; at < data.size(); at += 1000003) {
            writer.write(std::string_view(data).substr(at, 1000003));
        }
        expect_throw<s3os::NotFound>("no object before close()",
                                     [&] { store.object_size("written.bin"); });
        writer.close();
        check(!writer.is_open(), "a closed writer is finished");
        expect_throw<s3os::InvalidArgument>("write() after close()", [&] { writer.write("x"); });
    }
    check(store.download_alloc("written.bin").size() == data.size(), "the writer's object");
    {
        s3os::Writer writer = store.open_writer("dropped.bin");
        writer.write(data.data(), data.size());
    }  // destroyed unclosed: aborted
    {
        s3os::Writer writer = store.open_writer("aborted.bin");
        writer.write(data.data(), data.size());
        writer.abort();
        writer.abort();
    }
    expect_throw<s3os::NotFound>("a destroyed writer leaves no object",
                                 [&] { store.object_size("dropped.bin"); });
    expect_throw<s3os::NotFound>("an aborted writer leaves no object",
                                 [&] { store.object_size("aborted.bin"); });

    {
        s3os::Writer writer = store.open_writer("streamed.bin");
        {
            s3os::WriterStreambuf buffer(writer, 4096);
            std::ostream out(&buffer);
            out << "header;";
            out.write(data.data(), static_cast<std::streamsize>(data.size()));
            out.flush();
            check(out.good(), "the ostream wrote");
        }
        writer.close();
    }

    s3os::Reader reader = store.open_reader("streamed.bin");
    const std::string expected = "header;" + data;
    check(reader.size() == expected.size(), "Reader::size()");
    s3os::ReaderStreambuf buffer(reader, 64 * 1024);
    std::istream in(&buffer);
    std::string word;
    std::getline(in, word, ';');
    check(word == "header", "an istream reads through the streambuf");
    std::string rest(data.size(), '\0');
    in.read(rest.data(), static_cast<std::streamsize>(rest.size()));
    check(in.gcount() == static_cast<std::streamsize>(data.size()) && rest == data,
          "a large istream read gives the bytes");
    check(in.peek() == std::char_traits<char>::eof(), "then the end");
    in.clear();
    in.seekg(-3, std::ios_base::end);
    char tail[3];
    in.read(tail, 3);
    check(in.good() && std::string(tail, 3) == data.substr(data.size() - 3), "seekg from the end");
    in.seekg(7 + 12345);
    check(in.tellg() == std::streampos(7 + 12345) && in.get() == data[12345], "seekg, tellg");
    s3os::Reader moved_reader = std::move(reader);
    expect_throw<s3os::InvalidArgument>("a moved-from Reader", [&] { reader.size(); });
    moved_reader.seek(5);
    char five[5];
    check(moved_reader.read(five, 5) == 5 && std::string(five, 5) == expected.substr(5, 5),
          "a moved-to Reader reads on");
    expect_throw<s3os::NotFound>("open_reader of a missing object",
                                 [&] { store.open_reader("missing"); });
    (void)dir;
    std::cout << "memory and streams: ok" << std::endl;
}

}  // namespace

// Over HTTPS, with the certificate of a private CA trusted through ca_bundle; without it the
// connection is refused as TlsError, naming the problem.
void https(const Settings& settings, const fs::path& dir) {
    const char* endpoint = std::getenv("S3OS_TEST_HTTPS_ENDPOINT");
    const char* bundle = std::getenv("S3OS_TEST_CA_BUNDLE");
    if (!endpoint || !bundle) {
        fail("S3OS_TEST_HTTPS_ENDPOINT and S3OS_TEST_CA_BUNDLE must name the HTTPS front");
    }
    s3os::Config config = settings.store_config("cpp-https");
    config.set("endpoint_url", endpoint).set("ca_bundle", bundle);
    s3os::Store store(config);
    const std::string bytes = pattern(11 * 1024 * 1024 + 1, 21);  // in parts
    write_file(dir / "https.bin", bytes);
    store.upload_file("https.bin", dir / "https.bin");
    store.download_file("https.bin", dir / "https.copy", true);
    check(read_file(dir / "https.copy") == bytes, "a round trip over HTTPS");

    s3os::Config untrusting = settings.store_config("cpp-https");
    untrusting.set("endpoint_url", endpoint).set("ca_bundle", "/dev/null");
    expect_throw<s3os::InvalidArgument>("a CA bundle without certificates",
                                        [&] { s3os::Store refused(untrusting); });
    s3os::Config system_roots = settings.store_config("cpp-https");
    system_roots.set("endpoint_url", endpoint);
    s3os::Store unverified(system_roots);
    auto refused = expect_throw<s3os::TlsError>(
        "a certificate of an unknown authority", [&] { unverified.object_size("https.bin"); });
    check(refused.status() == 10 && contains(refused.what(), "unknown issuer"),
          "TlsError names the problem: " + std::string(refused.what()));
    std::cout << "https: ok" << std::endl;
}

// The library's log through set_log_handler: lines on the library's thread, at the level
// asked for, none after the handler is unset; a throwing handler is harmless; a handler may
// not replace itself.
void logging(const Settings& settings, const fs::path& dir) {
    struct Lines {
        std::mutex lock;
        std::vector<std::pair<s3os::LogLevel, std::string>> seen;
        bool on_caller = false;
    } lines;
    const std::thread::id caller = std::this_thread::get_id();
    s3os::set_log_handler(
        [&](s3os::LogLevel level, std::string_view message) {
            std::lock_guard<std::mutex> guard(lines.lock);
            lines.seen.emplace_back(level, std::string(message));
            lines.on_caller = lines.on_caller || std::this_thread::get_id() == caller;
        },
        s3os::LogLevel::Debug);
    const fs::path source = dir / "logged.bin";
    write_file(source, pattern(6 * 1024 * 1024, 5));
    s3os::Store store(settings.store_config("cpp-log"));
    store.upload_file("logged.bin", source);
    store.download_file("logged.bin", dir / "logged.copy", true);
    s3os::set_log_handler({});  // returns once every line so far has arrived

    bool attempts = false;
    bool too_detailed = false;
    for (const auto& [level, message] : lines.seen) {
        attempts = attempts || contains(message, " attempt 1: HTTP 200 in ");
        too_detailed = too_detailed || level > s3os::LogLevel::Debug;
    }
    check(attempts, "request attempts reach the handler");
    check(!too_detailed, "no line more detailed than asked for");
    check(!lines.on_caller, "the handler runs on the library's thread, not the caller's");
    const std::size_t delivered = lines.seen.size();
    store.object_size("logged.bin");
    check(lines.seen.size() == delivered, "the handler is not called once unset");

    s3os::set_log_handler(
        [](s3os::LogLevel, std::string_view) { throw std::runtime_error("a failing handler"); },
        s3os::LogLevel::Trace);
    store.object_size("logged.bin");
    s3os::set_log_handler({});

    std::atomic<int> refused{0};
    s3os::set_log_handler(
        [&](s3os::LogLevel, std::string_view) {
            try {
                s3os::set_log_handler({});
            } catch (const s3os::InvalidArgument&) {
                refused++;
            }
        },
        s3os::LogLevel::Info);
    store.object_size("logged.bin");
    store.upload_file("logged.bin", source);
    s3os::set_log_handler({});
    check(refused > 0, "set_log_handler from a handler throws InvalidArgument");
    std::cout << "logging: ok (" << delivered << " lines)" << std::endl;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: " << argv[0]
                  << " <scratch-dir> <dead-endpoint> <corrupting-endpoint> key=value...\n";
        return 2;
    }
    const fs::path dir = argv[1];
    Settings settings;
    for (int i = 4; i < argc; i++) {
        std::string setting = argv[i];
        auto eq = setting.find('=');
        if (eq == std::string::npos) {
            fail("expected key=value, got " + setting);
        }
        settings.pairs.emplace_back(setting.substr(0, eq), setting.substr(eq + 1));
    }
    try {
        configuration(settings);
        s3os::Store store(settings.store_config("cpp"));
        transfers(store, dir);
        cancellation(store, dir);
        names_and_listing(store, dir);
        bad_input(store, dir);
        failures(settings, dir, argv[2], argv[3]);
        moves(settings);
        threads(store, dir);
        memory_and_streams(settings, dir);
        https(settings, dir);
        logging(settings, dir);
    } catch (const s3os::Error& e) {
        fail(std::string("unexpected ") + e.status_name() + ": " + e.what());
    } catch (const std::exception& e) {
        fail(std::string("unexpected exception: ") + e.what());
    }
    std::cout << "store_test: all " << checks << " checks passed" << std::endl;
    return 0;
}
