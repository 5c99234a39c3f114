#include "output/report.hpp"

#include <chrono>
#include <cstdio>

#include "util/json_text.hpp"
#include "util/strings.hpp"

namespace smtpsend::output {

std::function<void(const transport::TranscriptLine&)> verbose_printer(bool verbose, std::ostream& err) {
    if (!verbose)
        return nullptr;
    return [&err](const transport::TranscriptLine& line) {
        if (line.connection)
            err << '[' << line.connection << "] ";
        err << line.who << ": " << printable(line.text) << "\n";
    };
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

std::string printable(std::string_view text) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += ch;
        }
    }
    return out;
}

void print_diagnosis(std::ostream& err, const diagnosis::Diagnosis& d, const std::string& prefix) {
    err << "smtpsend: " << printable(prefix) << printable(d.summary);
    if (d.reply && !d.reply->lines.empty())
        err << " (" << printable(util::one_line(d.reply->text())) << ")";
    err << "\n";
    for (const auto& h : d.hints)
        err << "hint: " << printable(h) << "\n";
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

nlohmann::json result_json(const delivery::Result& r, const std::string& message_id,
                           const std::string& from) {
    nlohmann::json j;
    j["status"] = delivery::status_name(r.status);
    j["exit_code"] = static_cast<int>(r.exit_code);
    j["server"] = r.server;
    j["message_id"] = message_id;
    j["from"] = from;
    j["accepted"] = r.accepted;
    j["rejected"] = nlohmann::json::array();
    for (const auto& rej : r.rejected)
        j["rejected"].push_back({{"address", rej.address}, {"reply", rej.reply}});
    if (!r.uncertain.empty())
        j["uncertain"] = r.uncertain;
    if (r.final_reply) {
        j["reply"] = r.final_reply->text();
        std::string id = delivery::server_queue_id(*r.final_reply);
        j["server_queue_id"] = id.empty() ? nlohmann::json() : nlohmann::json(id);
    }
    if (!r.queue_id.empty())
        j["queue_id"] = r.queue_id;
    if (r.attempts > 0)
        j["attempts"] = r.attempts;
    j["elapsed_ms"] = r.elapsed_ms;
    if (r.diagnosis)
        j["error"] = error_json(*r.diagnosis);
    if (!r.server_failures.empty()) {
        j["servers"] = nlohmann::json::array();
        for (const auto& [server, d] : r.server_failures)
            j["servers"].push_back({{"server", server}, {"error", error_json(d)}});
    }
    return j;
}

void print_result(std::ostream& err, const delivery::Result& r, const std::string& message_id,
                  bool verbose, const std::string& prefix) {
    const std::string start = "smtpsend: " + printable(prefix);
    if (!r.accepted.empty())
        for (const auto& rej : r.rejected)
            err << start << "rejected <" << printable(rej.address) << ">: " << printable(rej.reply) << "\n";
    if (!r.queue_id.empty())
        err << start << "queued as " << r.queue_id << " (" << printable(r.queue_reason)
            << "); `smtpsend queue flush` sends it\n";
    if (!r.server_failures.empty()) {
        err << start << "no server took the message (" << r.server_failures.size() << " tried):\n";
        for (const auto& [server, d] : r.server_failures) {
            err << start << "  " << printable(server) << ": " << printable(d.summary);
            if (d.reply && !d.reply->lines.empty())
                err << " (" << printable(util::one_line(d.reply->text())) << ")";
            err << "\n";
        }
    }
    if (r.diagnosis)
        print_diagnosis(err, *r.diagnosis, prefix);
    else if (verbose && r.status == delivery::Status::sent)
        err << start << "sent " << printable(message_id) << " to " << r.accepted.size() << " recipient(s)"
            << (r.server.empty() ? "" : " via " + printable(r.server))
            << (r.final_reply ? " (" + printable(util::one_line(r.final_reply->text())) + ")" : "") << "\n";
}

namespace {

std::string seconds_text(long ms) {
    char buf[32];
    if (ms < 10000 && ms % 1000)
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
    else
        std::snprintf(buf, sizeof buf, "%ld s", (ms + 500) / 1000);
    return buf;
}

} // namespace

void print_warnings(Io& io, const std::vector<std::string>& warnings) {
    for (const auto& w : warnings)
        io.err << "smtpsend: warning: " << printable(w) << "\n";
}

delivery::Hooks delivery_hooks(Io& io, const std::string& prefix) {
    delivery::Hooks h;
    h.clock = io.clock;
    std::ostream* err = &io.err;
    std::ostream* out = &io.out;
    const std::string start = "smtpsend: " + printable(prefix);
    h.warn = [err, start](const std::string& w) { *err << start << "warning: " << printable(w) << "\n"; };
    h.on_retry = [err, start](int attempt, int attempts, long wait_ms, const diagnosis::Diagnosis& why) {
        *err << start << "attempt " << attempt << " of " << attempts << " failed (" << printable(why.summary)
             << "): retrying in " << seconds_text(wait_ms) << "\n"
             << std::flush;
    };
    h.on_fallback = [err, start](const std::string& failed, const std::string& next,
                                 const diagnosis::Diagnosis& why) {
        *err << start << printable(failed) << " failed (" << printable(why.summary)
             << (why.reply && !why.reply->lines.empty() ? ": " + printable(util::one_line(why.reply->text())) : "")
             << "): trying " << printable(next) << "\n"
             << std::flush;
    };
    h.on_dry_run = [out, err, start](const delivery::Job& job, const std::string& server) {
        // Read twice, a chunk at a time: for the size the header gives, then
        // to print it; never the whole message in memory.
        uint64_t size = 0;
        auto counted = message::read_chunks(*job.source, [&size](std::string_view chunk) { size += chunk.size(); });
        job.source->rewind();
        if (!counted) {
            *err << start << "cannot read the message: " << printable(counted.error().message) << "\n";
            return;
        }
        *out << "--- envelope (dry run: nothing was sent) ---\n";
        if (!server.empty())
            *out << "server: " << server << "\n";
        *out << "from: <" << job.envelope.from << ">\n";
        for (const auto& r : job.envelope.recipients)
            *out << "to: <" << r << ">\n";
        *out << "--- message (" << size << " bytes) ---\n";
        char last = '\n';
        auto printed = message::read_chunks(*job.source, [out, &last](std::string_view chunk) {
            out->write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
            last = chunk.back();
        });
        job.source->rewind();
        if (last != '\n')
            *out << "\n";
        if (!printed)
            *err << start << "cannot read the message: " << printable(printed.error().message) << "\n";
    };
    return h;
}

int report_failure(Io& io, Schema schema, bool json, const diagnosis::Diagnosis& d, const std::string& id) {
    const int code = static_cast<int>(d.exit_code);
    if (!json) {
        print_diagnosis(io.err, d, id.empty() ? "" : id + ": ");
        return code;
    }
    nlohmann::json j;
    switch (schema) {
    case Schema::send:
        j = {{"status", "failed"}, {"exit_code", code}, {"error", error_json(d)}};
        break;
    case Schema::check:
        j = {{"steps", nlohmann::json::array({{{"name", "settings"}, {"ok", false}, {"ms", 0},
                                               {"details", ""}, {"warnings", nlohmann::json::array()},
                                               {"error", error_json(d)}}})},
             {"exit_code", code}};
        break;
    case Schema::explain:
        j = {{"understood", false}, {"exit_code", code}, {"error", error_json(d)}};
        break;
    case Schema::queue:
        j = {{"outcome", "failed"}, {"exit_code", code}, {"error", error_json(d)}};
        if (!id.empty())
            j["id"] = id;
        break;
    case Schema::config:
        j = {{"exit_code", code}, {"error", error_json(d)}};
        break;
    }
    io.out << util::json_text(j) << "\n" << std::flush;
    return code;
}

int report_failure(Io& io, Schema schema, bool json, const util::Error& e, diagnosis::Class fallback,
                   const std::string& id) {
    diagnosis::Class c = diagnosis::class_for_kind(e.kind, fallback);
    auto d = diagnosis::local_failure(c, c == diagnosis::Class::config ? transport::Stage::config
                                                                      : transport::Stage::input,
                                      e.message, e.hint);
    return report_failure(io, schema, json, d, id);
}

void print_check(std::ostream& out, std::ostream& err, const check::Report& report) {
    for (const auto& step : report.steps) {
        std::string ms = std::to_string(std::max(0L, step.ms)) + " ms";
        out << (step.ok ? "  ok    " : "  FAIL  ") << step.name
            << std::string(step.name.size() < 9 ? 9 - step.name.size() : 1, ' ') << ms
            << std::string(ms.size() < 8 ? 8 - ms.size() : 1, ' ') << printable(step.details) << "\n";
        for (const auto& w : step.warnings)
            out << "  warn  " << step.name << std::string(step.name.size() < 9 ? 9 - step.name.size() : 1, ' ')
                << "        " << printable(w) << "\n";
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

} // namespace smtpsend::output
