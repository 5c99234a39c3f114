// smtpsend check: walk the path to the server; send nothing.
#include "app/commands.hpp"

#include "check/check.hpp"
#include "config/load.hpp"
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
    check::Request rq;
    rq.loaded = &*loaded;
    rq.env = &io.env;
    rq.rcpt = inv.check_rcpt;
    rq.hostname = util::local_hostname();
    rq.on_line = output::verbose_printer(inv.verbose, io.err);
    auto report = check::run(rq);
    if (inv.json)
        io.out << util::json_text(output::check_json(report)) << "\n";
    else
        output::print_check(io.out, io.err, report);
    return report.exit_code;
}

} // namespace smtpsend::app
