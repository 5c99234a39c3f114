// smtpsend check: walk the path to the server; send nothing.
#include "app/commands.hpp"

#include "check/check.hpp"
#include "config/load.hpp"
#include "config/server_url.hpp"
#include "diagnosis/exit_codes.hpp"
#include "message/address.hpp"
#include "util/json_text.hpp"

namespace smtpsend::app {

int check_command(const cli::Invocation& inv, Io& io) {
    using output::Schema;
    auto loaded = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded)
        return output::report_failure(io, Schema::check, inv.json, loaded.error());
    output::print_warnings(io, loaded->warnings);
    if (!inv.check_rcpt.empty())
        if (auto st = message::check_addr_spec(inv.check_rcpt); !st)
            return output::report_failure(io, Schema::check, inv.json, st.error(), diagnosis::Class::usage);
    // A `server` list: each server is walked on its own, in the order
    // sending tries them, and the exit code is the worst (a broken
    // fallback shows before it is needed).
    std::vector<std::string> servers = config::split_server_list(loaded->settings.server.value);
    if (servers.size() < 2)
        servers = {loaded->settings.server.value};
    auto worst = diagnosis::ExitCode::ok;
    nlohmann::json all = nlohmann::json::array();
    for (size_t i = 0; i < servers.size(); ++i) {
        config::Loaded one = *loaded;
        one.settings.server.value = servers[i];
        check::Request rq;
        rq.loaded = &one;
        rq.env = &io.env;
        rq.rcpt = inv.check_rcpt;
        rq.hostname = util::local_hostname();
        rq.on_line = output::verbose_printer(inv.verbose, io.err);
        auto report = check::run(rq);
        worst = diagnosis::worst(worst, static_cast<diagnosis::ExitCode>(report.exit_code));
        if (servers.size() == 1) {
            if (inv.json)
                io.out << util::json_text(output::check_json(report)) << "\n";
            else
                output::print_check(io.out, io.err, report);
            return report.exit_code;
        }
        if (inv.json) {
            nlohmann::json j = output::check_json(report);
            j["server"] = servers[i];
            all.push_back(std::move(j));
        } else {
            io.out << (i ? "\n" : "") << "server " << (i + 1) << " of " << servers.size() << ": "
                   << output::printable(servers[i]) << "\n";
            output::print_check(io.out, io.err, report);
        }
    }
    if (inv.json)
        io.out << util::json_text(nlohmann::json{{"servers", all}, {"exit_code", static_cast<int>(worst)}})
               << "\n";
    return static_cast<int>(worst);
}

} // namespace smtpsend::app
