#include "output/progress.hpp"

#include <cmath>
#include <cstdio>

namespace smtpsend::output {

namespace {

std::string rate_text(double rate) {
    if (rate <= 0)
        return "0";
    char buf[32];
    std::snprintf(buf, sizeof buf, rate < 0.995 ? "%.2f" : rate < 9.95 ? "%.1f" : "%.0f", rate);
    return buf;
}

std::string clock_text(long seconds) {
    char buf[32];
    if (seconds >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", seconds / 3600, seconds / 60 % 60,
                      seconds % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", seconds / 60, seconds % 60);
    return buf;
}

} // namespace

std::string progress_text(const BatchCounts &c, std::optional<size_t> total, int64_t elapsed_ms) {
    const size_t settled = c.sent + c.queued + c.failed;
    const double rate =
        elapsed_ms > 0 ? static_cast<double>(settled) * 1000.0 / static_cast<double>(elapsed_ms)
                       : 0;
    std::string line = std::to_string(c.sent);
    if (total)
        line += "/" + std::to_string(*total);
    line += " sent, " + std::to_string(c.queued) + " queued, " + std::to_string(c.failed) +
            " failed, " + rate_text(rate) + " msg/s";
    if (total && rate > 0) {
        const size_t left = *total > settled ? *total - settled : 0;
        line += ", " + clock_text(std::lround(static_cast<double>(left) / rate)) + " left";
    }
    return line;
}

ProgressLine::ProgressLine(std::ostream &err, const util::Clock &clock, std::optional<size_t> total)
    : err_(err), clock_(clock), total_(total), started_(clock.now_ms()) {}

void ProgressLine::update(const BatchCounts &counts) {
    counts_ = counts;
    const int64_t now = clock_.now_ms();
    if (shown_ && now - last_draw_ < interval_ms)
        return;
    draw(now);
}

void ProgressLine::tick() {
    if (last_draw_ >= 0)
        update(counts_);
}

void ProgressLine::draw(int64_t now) {
    last_draw_ = now;
    shown_ = true;
    err_ << "\r" << progress_text(counts_, total_, now - started_) << "\x1b[K" << std::flush;
}

void ProgressLine::clear() {
    if (!shown_)
        return;
    err_ << "\r\x1b[K" << std::flush;
    shown_ = false;
}

} // namespace smtpsend::output
