// The batch progress line on a terminal:
//   412/1000 sent, 3 queued, 1 failed, 38 msg/s, 0:14 left
// drawn in place on stderr (\r), at most four times a second, erased at the end;
// redrawn on the clock (tick) while a message is slow.
#pragma once

#include "util/system.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace smtpsend::output {

// The messages of a batch settled so far.
struct BatchCounts {
    size_t sent = 0;   // sent (exit 0)
    size_t queued = 0; // kept in the queue (exit 0)
    size_t failed = 0; // any other result, and lines that are not a message
};

// The text of the line for `counts` after `elapsed_ms`, out of `total`
// inputs (nullopt: unknown, as for standard input). The rate is settled
// messages a second since the start: "0", "0.25" below 1, "2.5" below
// 10, whole numbers from 10. "M:SS left" (or "H:MM:SS left") only with a total and a rate
// above 0.
std::string progress_text(const BatchCounts &counts, std::optional<size_t> total,
                          int64_t elapsed_ms);

// The line itself. Call clear() before writing anything else to the same
// stream; the next update() draws it again.
class ProgressLine {
  public:
    static constexpr int64_t interval_ms = 250; // at most four draws a second
    ProgressLine(std::ostream &err, const util::Clock &clock, std::optional<size_t> total);
    // Draws the line for `counts`: at once the first time and after clear(),
    // else when interval_ms have passed since the last draw.
    void update(const BatchCounts &counts);
    // Draws the line again for the last counts as update() would (after
    // interval_ms, or at once after clear()), so the rate and the time left
    // move on while no result comes in. Nothing before the first update().
    void tick();
    // Erases the line, when it is drawn ("\r" and ESC [K).
    void clear();

  private:
    void draw(int64_t now);
    std::ostream &err_;
    const util::Clock &clock_;
    std::optional<size_t> total_;
    int64_t started_;
    int64_t last_draw_ = -1;
    bool shown_ = false;
    BatchCounts counts_;
};

} // namespace smtpsend::output
