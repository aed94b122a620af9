// roundtrip: upload a file, download it back, verify every byte, print the throughput.
//
//   roundtrip <bucket> <file> <object-name> [key=value ...]
//
// Each key=value is a configuration key (endpoint_url=..., prefix=..., ...); anything not given
// comes from the environment and the standard AWS chain, as in boto3.

#include <s3os.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <istream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Prints a progress line at most every 10 percent; returning false would cancel.
s3os::Progress progress_display() {
    return [last_tenth = -1](std::uint64_t done, std::uint64_t total) mutable {
        int tenth = total ? static_cast<int>(done * 10 / total) : 10;
        if (tenth != last_tenth) {
            last_tenth = tenth;
            std::fprintf(stderr, "\r  %3d%% of %.1f MiB", tenth * 10,
                         static_cast<double>(total) / (1 << 20));
            if (done == total) {
                std::fputc('\n', stderr);
            }
        }
        return true;
    };
}

bool same_contents(const std::filesystem::path& a, const std::filesystem::path& b) {
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    std::vector<char> ba(1 << 16), bb(1 << 16);
    while (fa && fb) {
        fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
        fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
        if (fa.gcount() != fb.gcount() ||
            !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) {
            return false;
        }
    }
    return fa.eof() && fb.eof();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: " << argv[0] << " <bucket> <file> <object-name> [key=value ...]\n";
        return 2;
    }
    const std::filesystem::path file = argv[2];
    const std::string_view object = argv[3];
    try {
        s3os::Config config(argv[1]);
        for (int i = 4; i < argc; i++) {
            std::string_view setting = argv[i];
            auto eq = setting.find('=');
            if (eq == std::string_view::npos) {
                std::cerr << "expected key=value, got " << setting << "\n";
                return 2;
            }
            config.set(setting.substr(0, eq), setting.substr(eq + 1));
        }
        s3os::Store store(config);
        std::cout << "s3os " << s3os_version() << ": " << file.string() << " -> "
                  << store.uri(object) << std::endl;

        auto start = std::chrono::steady_clock::now();
        store.upload_file(object, file, progress_display());
        double upload_s = seconds_since(start);

        std::uint64_t size = store.object_size(object);
        for (const s3os::Object& listed : store.list(object)) {
            std::cout << "listed " << listed.name << " (" << listed.size << " bytes)\n";
        }

        std::filesystem::path copy = file;
        copy += ".roundtrip";
        start = std::chrono::steady_clock::now();
        store.download_file(object, copy, /*overwrite=*/true, progress_display());
        double download_s = seconds_since(start);

        bool identical = same_contents(file, copy);
        std::filesystem::remove(copy);
        if (!identical) {
            std::cerr << "MISMATCH: the downloaded bytes differ from " << file.string() << "\n";
            return 1;
        }
        // The object again, as a std::istream over a stream reader: no local file needed.
        s3os::Reader reader = store.open_reader(object);
        s3os::ReaderStreambuf streambuf(reader);
        std::istream streamed(&streambuf);
        std::ifstream original(file, std::ios::binary);
        bool same = std::equal(std::istreambuf_iterator<char>(streamed),
                               std::istreambuf_iterator<char>(),
                               std::istreambuf_iterator<char>(original),
                               std::istreambuf_iterator<char>());
        if (!same) {
            std::cerr << "MISMATCH: the streamed object differs from " << file.string() << "\n";
            return 1;
        }
        std::cout << "read back through an std::istream: identical\n";

        double mib = static_cast<double>(size) / (1 << 20);
        std::printf("verified %.1f MiB: upload %.2f s (%.0f MiB/s), download %.2f s (%.0f MiB/s)\n",
                    mib, upload_s, mib / upload_s, download_s, mib / download_s);
        return 0;
    } catch (const s3os::NotFound& e) {
        std::cerr << "no such object: " << e.what() << "\n";
    } catch (const s3os::Error& e) {
        std::cerr << e.status_name() << ": " << e.what() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}
