#include "output/progress.hpp"

#include <catch2/catch.hpp>
#include <sstream>

using namespace smtpsend;

TEST_CASE("the batch progress text for given counts and times", "[progress]") {
    struct Row {
        output::BatchCounts counts;
        std::optional<size_t> total;
        int64_t elapsed_ms;
        const char *want;
    };
    const Row rows[] = {
        // 416 settled in 10.95 s: 38 msg/s; 584 left at that rate: 15 s
        {{412, 3, 1}, 1000, 10950, "412/1000 sent, 3 queued, 1 failed, 38 msg/s, 0:15 left"},
        {{412, 3, 1},
         std::nullopt,
         10950,
         "412 sent, 3 queued, 1 failed, 38 msg/s"}, // total unknown: no "left"
        {{0, 0, 0}, 1000, 0, "0/1000 sent, 0 queued, 0 failed, 0 msg/s"}, // rate 0: no "left"
        {{0, 0, 0}, 1000, 5000, "0/1000 sent, 0 queued, 0 failed, 0 msg/s"},
        {{0, 0, 0}, std::nullopt, 0, "0 sent, 0 queued, 0 failed, 0 msg/s"},
        {{10, 0, 0}, 10, 2000, "10/10 sent, 0 queued, 0 failed, 5.0 msg/s, 0:00 left"}, // done
        {{1, 0, 0}, 100, 4000, "1/100 sent, 0 queued, 0 failed, 0.25 msg/s, 6:36 left"},
        {{1, 0, 0},
         10000,
         2000,
         "1/10000 sent, 0 queued, 0 failed, 0.50 msg/s, 5:33:18 left"}, // hours
        {{99, 0, 0}, 1000, 10000, "99/1000 sent, 0 queued, 0 failed, 9.9 msg/s, 1:31 left"},
        {{100, 0, 0}, 1000, 10000, "100/1000 sent, 0 queued, 0 failed, 10 msg/s, 1:30 left"},
        {{0, 0, 3}, 3, 1000, "0/3 sent, 0 queued, 3 failed, 3.0 msg/s, 0:00 left"},
        {{5, 0, 0},
         3,
         1000,
         "5/3 sent, 0 queued, 0 failed, 5.0 msg/s, 0:00 left"}, // never a negative time
    };
    for (const auto &row : rows) {
        INFO(row.want);
        CHECK(output::progress_text(row.counts, row.total, row.elapsed_ms) == row.want);
    }
}

TEST_CASE("the batch progress line is drawn in place at most four times a second", "[progress]") {
    std::ostringstream err;
    util::FakeClock clock;
    clock.ms = 1000;
    output::ProgressLine line(err, clock, 4);
    line.update({0, 0, 0}); // the first update draws at once
    CHECK(err.str() == "\r0/4 sent, 0 queued, 0 failed, 0 msg/s\x1b[K");
    clock.ms += 249;
    line.update({1, 0, 0}); // within 250 ms: not drawn
    CHECK(err.str() == "\r0/4 sent, 0 queued, 0 failed, 0 msg/s\x1b[K");
    clock.ms += 1;
    line.update({2, 0, 0});
    CHECK(err.str() == "\r0/4 sent, 0 queued, 0 failed, 0 msg/s\x1b[K"
                       "\r2/4 sent, 0 queued, 0 failed, 8.0 msg/s, 0:00 left\x1b[K");
    err.str("");
    line.clear(); // before another line on stderr
    CHECK(err.str() == "\r\x1b[K");
    line.clear(); // nothing shown: nothing written
    CHECK(err.str() == "\r\x1b[K");
    err.str("");
    clock.ms += 10;
    line.update({2, 0, 1}); // after clear(): drawn at once
    CHECK(err.str() == "\r2/4 sent, 0 queued, 1 failed, 12 msg/s, 0:00 left\x1b[K");
}

TEST_CASE("the batch progress line is redrawn on the clock while no result comes in", "[progress]") {
    std::ostringstream err;
    util::FakeClock clock;
    output::ProgressLine line(err, clock, 100);
    line.tick(); // before the first update: nothing
    CHECK(err.str().empty());
    line.update({0, 0, 0});
    clock.ms = 2000;
    line.update({1, 0, 0});
    err.str("");
    clock.ms += 249;
    line.tick(); // within 250 ms of the last draw: not drawn
    CHECK(err.str().empty());
    clock.ms += 1;
    line.tick(); // the same count, a lower rate, a later end
    CHECK(err.str() == "\r1/100 sent, 0 queued, 0 failed, 0.44 msg/s, 3:43 left\x1b[K");
    err.str("");
    clock.ms += 2250; // a slow message: the rate keeps falling
    line.tick();
    CHECK(err.str() == "\r1/100 sent, 0 queued, 0 failed, 0.22 msg/s, 7:26 left\x1b[K");
    err.str("");
    line.clear(); // another line on stderr (a retry's warning)
    clock.ms += 10;
    line.tick(); // the line comes back at once
    CHECK(err.str() == "\r\x1b[K\r1/100 sent, 0 queued, 0 failed, 0.22 msg/s, 7:26 left\x1b[K");
}
