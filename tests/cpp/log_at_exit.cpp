// A log handler still busy when the program ends: main returns while the library's log thread
// has a backlog of lines for the handler and background uploads go on logging. Built with
// AddressSanitizer, which reports the handler being called after it was freed.
//
//   log_at_exit key=value...
//
// The key=value settings reach the server. Prints "log_at_exit: <n> lines after main
// returned" as the last thing the process does; the handler may not be called after that.

#include <s3os.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// Set once main has returned (by the last function registered with atexit, the first to run).
std::atomic<bool> main_returned{false};
std::atomic<long> lines_after_main{0};
std::atomic<bool> reported{false};
std::atomic<long> lines_after_report{0};

// Constructed before the handler is set, so destroyed after the header's own state: its
// report is the last word, and the handler may still use `last_line` until then.
struct Report {
    std::string last_line;

    ~Report() {
        reported = true;
        // Time for a handler that was freed, but not unregistered, to be called.
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        std::printf("log_at_exit: %ld lines after main returned\n", lines_after_main.load());
        if (lines_after_report > 0) {
            std::printf("FAILED: the handler ran during the report\n");
        }
        std::fflush(stdout);
    }
} report;

}  // namespace

// Reachable to the end (for the leak checker), never freed; not in the anonymous namespace,
// where the optimizer would drop stores nothing reads.
const std::vector<char>* data = nullptr;
s3os::Store* store = nullptr;
s3os::Transfer* uploads[4] = {};

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " key=value...\n";
        return 2;
    }
    s3os::Config config("test-bucket");
    config.set("prefix", "cpp-log-at-exit").set("multipart_chunksize", "5MiB");
    for (int i = 1; i < argc; i++) {
        std::string setting = argv[i];
        auto eq = setting.find('=');
        config.set(setting.substr(0, eq), setting.substr(eq + 1));
    }
    // The first line holds the handler until main has returned, so that every line logged
    // meanwhile waits in the library's queue: the handler is busy when the program ends. It
    // owns heap memory (`text`), as most handlers do, which it uses on every line.
    s3os::set_log_handler(
        [text = std::make_shared<std::string>()](s3os::LogLevel, std::string_view message) {
            while (!main_returned) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            *text = message;
            report.last_line = *text;
            lines_after_main++;
            if (reported) {
                lines_after_report++;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        },
        s3os::LogLevel::Trace);

    // None of these is destroyed: the uploads are still running, and logging, when the
    // process ends, and the memory they read must outlive them.
    data = new std::vector<char>(64 * 1024 * 1024, 'x');
    store = new s3os::Store(config);
    store->upload_buffer("small", data->data(), 1000);
    for (std::size_t i = 0; i < std::size(uploads); i++) {
        uploads[i] = new s3os::Transfer(store->upload_buffer_start(
            "big-" + std::to_string(i), data->data(), data->size()));
    }
    for (int i = 0; i < 20; i++) {
        store->object_size("small");
    }
    std::atexit([] { main_returned = true; });
    return 0;
}
