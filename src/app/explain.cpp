// smtpsend explain [TEXT]: the diagnosis of a reply or error pasted from any tool.
#include "app/commands.hpp"

#include "diagnosis/explain.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

#include <optional>
#include <sstream>
#include <unistd.h>

namespace smtpsend::app {

int explain_command(const cli::Invocation& inv, Io& io) {
    using output::printable;
    using transport::Stage;
    std::string text = util::join(inv.explain_text, " ");
    if (text.empty()) {
        std::ostringstream all;
        char buf[4096];
        ssize_t n;
        while ((n = read(io.stdin_fd, buf, sizeof buf)) > 0)
            all.write(buf, n);
        text = all.str();
    }
    std::optional<Stage> stage;
    if (!inv.explain_stage.empty()) {
        stage = transport::parse_stage(inv.explain_stage);
        if (!stage)
            return output::report_failure(
                io, output::Schema::explain, inv.json,
                diagnosis::local_failure(diagnosis::Class::usage, Stage::input,
                                         "unknown stage \"" + inv.explain_stage + "\"",
                                         "use one of greeting, ehlo, starttls, auth, mail, rcpt, data, "
                                         "end-of-data"));
    }
    auto ex = diagnosis::explain(text, stage, inv.explain_server);
    if (!ex.understood)
        return output::report_failure(
            io, output::Schema::explain, inv.json,
            diagnosis::local_failure(diagnosis::Class::input, Stage::input,
                                     "found no SMTP reply or known error in the text",
                                     "paste the server's reply including its three-digit code, e.g. "
                                     "\"535 5.7.8 ...\""));
    const auto& d = ex.diagnosis;
    if (inv.json) {
        nlohmann::json j = output::error_json(d);
        j["understood"] = true;
        j["exit_code"] = static_cast<int>(d.exit_code);
        j["tool"] = ex.tool.empty() ? nlohmann::json() : nlohmann::json(ex.tool);
        io.out << util::json_text(j) << "\n";
        return 0;
    }
    io.out << "class:     " << diagnosis::class_name(d.cls) << (d.temporary ? " (temporary)" : "") << "\n"
           << "exit code: " << static_cast<int>(d.exit_code) << "\n"
           << "stage:     " << transport::stage_name(d.stage) << "\n";
    if (d.reply)
        io.out << "reply:     " << d.reply->code << (d.reply->enhanced.empty() ? "" : " " + d.reply->enhanced)
               << "\n";
    if (!ex.tool.empty())
        io.out << "tool:      " << ex.tool << "\n";
    io.out << "summary:   " << printable(d.summary) << "\n";
    for (const auto& h : d.hints)
        io.out << "hint:      " << printable(h) << "\n";
    return 0;
}

} // namespace smtpsend::app
