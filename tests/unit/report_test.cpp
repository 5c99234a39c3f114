#include "output/report.hpp"

#include <catch2/catch.hpp>
#include <sstream>

using namespace smtpsend;

TEST_CASE("the progress bar shows bytes, percent, rate and time left, in place") {
    std::ostringstream err;
    int64_t now = 0;
    output::ProgressBar bar(err, 4 << 20, [&] { return now; });
    bar.update(1 << 20, 40 << 20); // the clock starts; drawn: the message is over the threshold
    now = 1000;
    bar.update(10 << 20, 40 << 20);
    CHECK(err.str().find("\r[######..................] 10.0 MiB of 40.0 MiB  25%  10.0 MiB/s  0:03 left") !=
          std::string::npos);
    std::string before = err.str();
    now = 1100; // within 200 ms: not drawn again
    bar.update(11 << 20, 40 << 20);
    CHECK(err.str() == before);
    now = 4000;
    bar.update(40 << 20, 40 << 20);
    CHECK(err.str().find("40.0 MiB of 40.0 MiB  99%") != std::string::npos); // never 100 before the end
    bar.finish(true);
    CHECK(err.str().find("40.0 MiB of 40.0 MiB  100%  10.0 MiB/s   \n") != std::string::npos);
}

TEST_CASE("the progress bar stays silent for small messages") {
    std::ostringstream err;
    int64_t now = 0;
    output::ProgressBar bar(err, 4 << 20, [&] { return now; });
    for (int i = 1; i <= 10; ++i) {
        now += 500;
        bar.update(static_cast<uint64_t>(i) * 100000, 1000000);
    }
    bar.finish(true);
    CHECK(err.str().empty());
}

TEST_CASE("human_bytes") {
    CHECK(output::human_bytes(900) == "900 B");
    CHECK(output::human_bytes(5000) == "4 KiB");
    CHECK(output::human_bytes(3 << 20) == "3.0 MiB");
}
