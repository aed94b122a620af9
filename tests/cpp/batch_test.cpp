// Many objects per call and background transfers through s3os.hpp, against a real server.
//
//   batch_test <scratch-dir> <slow-endpoint> key=value...
//
// The key=value settings reach the server; <slow-endpoint> is a proxy to it that lets bodies
// through slowly, so that background transfers are still running when looked at. Prints
// "batch_test: all N checks passed"; the first failed check ends the program with status 1.

#include <s3os.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

static_assert(!std::is_copy_constructible_v<s3os::Transfer> &&
              std::is_nothrow_move_constructible_v<s3os::Transfer>);
static_assert(std::is_base_of_v<s3os::Error, s3os::BatchError> &&
              std::is_base_of_v<s3os::Error, s3os::InProgress>);

namespace {

int checks = 0;

void check(bool condition, const std::string& what) {
    ++checks;
    if (!condition) {
        std::cerr << "FAILED: " << what << "\n";
        std::exit(1);
    }
}

std::string write(const fs::path& path, std::size_t size, int seed) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        data[i] = static_cast<char>((i * 31 + static_cast<std::size_t>(seed) * 7 + i / 253) & 0xff);
    }
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(size));
    return data;
}

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

s3os::Store make_store(const std::vector<std::string>& settings, const std::string& endpoint) {
    s3os::Config config("test-bucket");
    for (const std::string& setting : settings) {
        auto eq = setting.find('=');
        config.set(setting.substr(0, eq), setting.substr(eq + 1));
    }
    if (!endpoint.empty()) {
        config.set("endpoint_url", endpoint).set("multipart_threshold", "5MiB");
    }
    return s3os::Store(config);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        return 2;
    }
    fs::path dir = argv[1];
    std::string slow = argv[2];
    std::vector<std::string> settings(argv + 3, argv + argc);
    s3os::Store store = make_store(settings, "");

    // Files up and down, one progress for all.
    std::vector<std::string> names;
    std::vector<fs::path> paths, targets;
    std::vector<std::string> contents;
    std::size_t total = 0;
    for (int i = 0; i < 6; ++i) {
        std::size_t size = i == 3 ? (9u << 20) : static_cast<std::size_t>(i) * 10000;
        names.push_back("cpp-batch/" + std::to_string(i));
        paths.push_back(dir / "src" / std::to_string(i));
        targets.push_back(dir / "out" / std::to_string(i));
        contents.push_back(write(paths.back(), size, i));
        total += size;
    }
    std::uint64_t last_done = 0, last_total = 0;
    store.upload_files(names, paths, [&](std::uint64_t done, std::uint64_t all) {
        last_done = done;
        last_total = all;
        return true;
    });
    check(last_done == total && last_total == total, "upload_files progress ends at the total");
    store.download_files(names, targets);
    bool same = true;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        same = same && read(targets[i]) == contents[i];
    }
    check(same, "download_files brings every byte back");
    std::cout << "files: " << names.size() << " up and down\n";

    // One missing object: BatchError with each status; the others are there.
    std::vector<std::string> with_missing = names;
    with_missing[2] = "cpp-batch/missing";
    try {
        store.download_files(with_missing, targets, true);
        check(false, "a missing object fails the batch");
    } catch (const s3os::BatchError& e) {
        check(e.status() == S3OS_NOT_FOUND, "the first failure's status");
        check(e.statuses().size() == 6 && e.statuses()[2] == S3OS_NOT_FOUND &&
                  e.statuses()[0] == S3OS_OK && e.statuses()[5] == S3OS_OK,
              "each object's status");
        check(std::string(e.what()).find("1 of 6") != std::string::npos, "the count");
    }
    try {
        store.upload_files({"a", "b"}, {paths[0]});
        check(false, "lengths must match");
    } catch (const s3os::InvalidArgument&) {
        check(true, "InvalidArgument for different lengths");
    }
    try {
        store.upload_files({std::string("nul\0name", 8)}, {paths[0]});
        check(false, "a NUL in a name is refused");
    } catch (const s3os::InvalidArgument&) {
        check(true, "InvalidArgument for a NUL");
    }
    // An exception from the callback cancels the batch and comes out as itself.
    try {
        store.upload_files(names, paths, [](std::uint64_t done, std::uint64_t) -> bool {
            if (done > 0) {
                throw std::runtime_error("stop");
            }
            return true;
        });
        check(false, "the callback's exception propagates");
    } catch (const s3os::Error&) {
        check(false, "the callback's exception, not the library's");
    } catch (const std::runtime_error& e) {
        check(std::string(e.what()) == "stop", "the callback's own exception");
    }

    // Folders.
    store.upload_dir(dir / "src", "cpp-dir");
    check(store.list("cpp-dir/").size() == 6, "upload_dir uploads every file");
    store.download_prefix("cpp-dir", dir / "restored");
    check(read(dir / "restored" / "3") == contents[3], "download_prefix restores them");
    store.remove_many({"cpp-dir/0", "cpp-dir/1", "cpp-dir/never"});
    check(store.list("cpp-dir/").size() == 4, "remove_many");
    check(store.remove_prefix("cpp-dir") == 4 && store.list("cpp-dir/").empty(), "remove_prefix");
    try {
        store.remove_prefix("");
        check(false, "an empty prefix is refused");
    } catch (const s3os::InvalidArgument&) {
        check(true, "InvalidArgument for an empty prefix");
    }
    std::cout << "folders: up, down, deleted\n";

    // Background transfers over the slow link.
    s3os::Store slow_store = make_store(settings, slow);
    {
        s3os::Transfer upload = slow_store.upload_file_start("cpp-bg/big", paths[3]);
        check(!upload.wait(0ms), "a slow upload is still running");
        std::uint64_t seen = 0;
        std::thread poller([&] {
            while (!upload.wait(10ms)) {
                seen = upload.progress().first;
            }
        });
        upload.wait();
        poller.join();
        check(upload.progress() == std::make_pair(std::uint64_t{9u << 20}, std::uint64_t{9u << 20}),
              "progress at the end");
        check(seen <= (9u << 20), "progress polled from another thread");
    }
    {
        s3os::Transfer cancelled = slow_store.upload_file_start("cpp-bg/cancelled", paths[3]);
        std::this_thread::sleep_for(100ms);
        cancelled.cancel();
        try {
            cancelled.wait();
            check(false, "a cancelled transfer throws");
        } catch (const s3os::Cancelled&) {
            check(true, "Cancelled");
        }
        try {
            store.object_size("cpp-bg/cancelled");
            check(false, "a cancelled upload leaves no object");
        } catch (const s3os::NotFound&) {
            check(true, "nothing landed");
        }
    }
    {
        // Destroyed while running: cancelled, and cleaned up before the destructor returns.
        s3os::Transfer running = slow_store.download_file_start("cpp-bg/big", dir / "dropped" / "x");
        std::this_thread::sleep_for(50ms);
    }
    check(!fs::exists(dir / "dropped" / "x") &&
              (!fs::exists(dir / "dropped") || fs::is_empty(dir / "dropped")),
          "a destroyed transfer leaves nothing behind");
    {
        s3os::Transfer batch =
            slow_store.upload_files_start({"cpp-bg/0", "cpp-bg/1"}, {paths[1], dir / "no-such-file"});
        try {
            batch.wait();
            check(false, "a batch with a missing file fails");
        } catch (const s3os::BatchError& e) {
            check(e.status() == S3OS_IO && e.statuses().size() == 2 &&
                      e.statuses()[0] == S3OS_OK && e.statuses()[1] == S3OS_IO,
                  "a background batch's statuses");
        }
        check(batch.item_statuses()[1] == S3OS_IO, "item_statuses after the end");
    }
    {
        s3os::Transfer moved = slow_store.download_file_start("cpp-bg/big", dir / "moved", true);
        s3os::Transfer owner = std::move(moved);
        try {
            moved.wait();
            check(false, "a moved-from Transfer throws");
        } catch (const s3os::InvalidArgument&) {
            check(true, "InvalidArgument for a moved-from Transfer");
        }
        owner.wait();
        check(read(dir / "moved") == contents[3], "the moved Transfer finished");
    }
    {
        const std::string& bytes = contents[3];
        s3os::Transfer upload = slow_store.upload_buffer_start("cpp-bg/memory", bytes.data(),
                                                               bytes.size());
        try {
            upload.object_size();
            check(false, "an upload has no object size to give");
        } catch (const s3os::InvalidArgument&) {
            check(true, "object_size() is for downloads into memory");
        }
        upload.wait();
        std::vector<char> back(bytes.size() + 10, 'x');
        s3os::Transfer download =
            slow_store.download_buffer_start("cpp-bg/memory", back.data(), back.size());
        download.wait();
        check(download.object_size() == bytes.size() &&
                  std::string(back.data(), bytes.size()) == bytes && back.back() == 'x',
              "from memory and back into memory in the background");
        s3os::Transfer too_small =
            slow_store.download_buffer_start("cpp-bg/memory", back.data(), bytes.size() - 1);
        try {
            too_small.wait();
            check(false, "a too-small buffer is refused");
        } catch (const s3os::BufferTooSmall& e) {
            check(e.required_size() == bytes.size(), "BufferTooSmall names the size");
        }
    }
    std::cout << "background: waits, progress, cancel, destroy, batch, move, memory\n";
    std::cout << "batch_test: all " << checks << " checks passed\n";
    return 0;
}
