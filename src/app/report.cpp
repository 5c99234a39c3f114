#include "app/report.hpp"

#include <chrono>
#include <cstdio>

#include "util/strings.hpp"

namespace smtpsend::app {

std::function<void(const transport::TranscriptLine&)> verbose_printer(bool verbose, std::ostream& err) {
    if (!verbose)
        return nullptr;
    return [&err](const transport::TranscriptLine& line) { err << line.who << ": " << line.text << "\n"; };
}

ProgressBar::ProgressBar(std::ostream& err, uint64_t threshold, std::function<int64_t()> now_ms)
    : err_(err), threshold_(threshold), now_ms_(std::move(now_ms)) {
    if (!now_ms_)
        now_ms_ = [] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                .count();
        };
}

std::string human_bytes(uint64_t n) {
    char buf[32];
    if (n >= (1u << 20))
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
    else if (n >= 1024)
        std::snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>(n / 1024));
    else
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    return buf;
}

void ProgressBar::update(uint64_t sent, uint64_t total) {
    int64_t now = now_ms_();
    if (started_ < 0)
        started_ = now;
    sent_ = sent;
    total_ = total;
    if (std::max(sent, total) < threshold_ || (last_draw_ >= 0 && now - last_draw_ < 200))
        return;
    draw(now);
}

void ProgressBar::draw(int64_t now, bool complete) {
    last_draw_ = now;
    double seconds = static_cast<double>(now - started_) / 1000.0;
    double rate = seconds > 0.05 ? static_cast<double>(sent_) / seconds : 0.0;
    // The total is an estimate: never claim more than 99% before the end.
    uint64_t total = std::max(total_, sent_);
    int percent = complete ? 100 : total ? static_cast<int>(std::min<uint64_t>(99, sent_ * 100 / total)) : 0;
    constexpr int width = 24;
    int filled = total ? static_cast<int>(sent_ * width / total) : 0;
    std::string line = "\r[" + std::string(static_cast<size_t>(filled), '#') +
                       std::string(static_cast<size_t>(width - filled), '.') + "] " +
                       human_bytes(sent_) + (total_ ? " of " + human_bytes(total) : "") + "  " +
                       std::to_string(percent) + "%";
    if (rate > 0)
        line += "  " + human_bytes(static_cast<uint64_t>(rate)) + "/s";
    if (rate > 0 && total > sent_ && !complete) {
        long left = static_cast<long>(static_cast<double>(total - sent_) / rate + 0.5);
        char eta[32];
        std::snprintf(eta, sizeof eta, "  %ld:%02ld left", left / 60, left % 60);
        line += eta;
    }
    err_ << line << "   " << std::flush; // the spaces clear a longer previous line
    drawn_ = true;
}

void ProgressBar::finish(bool complete) {
    if (!drawn_)
        return;
    draw(now_ms_(), complete);
    err_ << "\n" << std::flush;
    drawn_ = false;
}

void print_diagnosis(std::ostream& err, const diagnosis::Diagnosis& d) {
    err << "smtpsend: " << d.summary;
    if (d.reply && !d.reply->lines.empty())
        err << " (" << util::one_line(d.reply->text()) << ")";
    err << "\n";
    for (const auto& h : d.hints)
        err << "hint: " << h << "\n";
}

nlohmann::json error_json(const diagnosis::Diagnosis& d) {
    nlohmann::json e;
    e["class"] = diagnosis::class_name(d.cls);
    e["stage"] = transport::stage_name(d.stage);
    e["summary"] = d.summary;
    e["temporary"] = d.temporary;
    if (d.reply) {
        e["reply_code"] = d.reply->code;
        e["enhanced_code"] = d.reply->enhanced.empty() ? nlohmann::json() : nlohmann::json(d.reply->enhanced);
        e["reply"] = d.reply->text();
    } else {
        e["reply_code"] = nullptr;
        e["enhanced_code"] = nullptr;
        e["reply"] = nullptr;
    }
    e["hints"] = d.hints;
    return e;
}

nlohmann::json send_json(const SendReport& r) {
    nlohmann::json j;
    j["status"] = r.status;
    j["exit_code"] = r.exit_code;
    j["server"] = r.server;
    j["message_id"] = r.message_id;
    j["from"] = r.from;
    j["accepted"] = r.accepted;
    j["rejected"] = nlohmann::json::array();
    for (const auto& [address, reply] : r.rejected)
        j["rejected"].push_back({{"address", address}, {"reply", reply}});
    if (!r.queue_id.empty())
        j["queue_id"] = r.queue_id;
    if (r.attempts > 0)
        j["attempts"] = r.attempts;
    j["elapsed_ms"] = r.elapsed_ms;
    if (r.diagnosis)
        j["error"] = error_json(*r.diagnosis);
    return j;
}

void print_check(std::ostream& out, std::ostream& err, const check::Report& report) {
    for (const auto& step : report.steps) {
        std::string ms = std::to_string(std::max(0L, step.ms)) + " ms";
        out << (step.ok ? "  ok    " : "  FAIL  ") << step.name
            << std::string(step.name.size() < 9 ? 9 - step.name.size() : 1, ' ') << ms
            << std::string(ms.size() < 8 ? 8 - ms.size() : 1, ' ') << step.details << "\n";
        for (const auto& w : step.warnings)
            out << "  warn  " << step.name << std::string(step.name.size() < 9 ? 9 - step.name.size() : 1, ' ')
                << "        " << w << "\n";
    }
    out.flush();
    if (report.exit_code == 0)
        out << "all steps passed; no message was sent\n";
    else
        for (const auto& step : report.steps)
            if (step.error)
                print_diagnosis(err, *step.error);
}

nlohmann::json check_json(const check::Report& report) {
    nlohmann::json j;
    j["steps"] = nlohmann::json::array();
    for (const auto& step : report.steps) {
        nlohmann::json s = {{"name", step.name},   {"ok", step.ok},
                            {"ms", step.ms},       {"details", step.details},
                            {"warnings", step.warnings}};
        s["error"] = step.error ? error_json(*step.error) : nlohmann::json();
        j["steps"].push_back(s);
    }
    j["exit_code"] = report.exit_code;
    return j;
}

} // namespace smtpsend::app
