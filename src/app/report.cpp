#include "app/report.hpp"

#include "util/strings.hpp"

namespace smtpsend::app {

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
    j["accepted"] = nlohmann::json::array();
    j["rejected"] = nlohmann::json::array();
    if (r.outcome) {
        for (const auto& rc : r.outcome->recipients) {
            if (rc.accepted && r.status != "failed")
                j["accepted"].push_back(rc.address);
            else if (rc.reply && !rc.accepted)
                j["rejected"].push_back({{"address", rc.address}, {"reply", rc.reply->text()}});
        }
    }
    j["elapsed_ms"] = r.elapsed_ms;
    if (r.diagnosis)
        j["error"] = error_json(*r.diagnosis);
    return j;
}

} // namespace smtpsend::app
