#include "app/report.hpp"

#include "util/strings.hpp"

namespace smtpsend::app {

std::function<void(const transport::TranscriptLine&)> verbose_printer(bool verbose, std::ostream& err) {
    if (!verbose)
        return nullptr;
    return [&err](const transport::TranscriptLine& line) { err << line.who << ": " << line.text << "\n"; };
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
