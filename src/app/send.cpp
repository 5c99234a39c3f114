// smtpsend [OPTIONS] RCPT... and sendmail's delivery mode: one message.
#include "app/commands.hpp"

#include "config/load.hpp"
#include "delivery/deliver.hpp"
#include "message/compose.hpp"
#include "util/json_text.hpp"

#include <optional>

namespace smtpsend::app {

int send_command(const cli::Invocation& inv, Io& io) {
    using output::Schema;
    // Settings: defaults < system file < user file < profile < environment < flags.
    auto loaded = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded)
        return output::report_failure(io, Schema::send, inv.json, loaded.error());
    output::print_warnings(io, loaded->warnings);
    const config::Settings& settings = loaded->settings;

    message::ComposeContext ctx;
    ctx.stdin_fd = io.stdin_fd;
    ctx.hostname = util::local_hostname();
    auto prepared = message::prepare_message(inv.message, settings, ctx);
    if (!prepared)
        return output::report_failure(io, Schema::send, inv.json, prepared.error(), diagnosis::Class::input);
    auto& msg = *prepared;

    auto policy = delivery::policy_for(*loaded, io.env, inv.message.complete_message);
    policy.dry_run = inv.dry_run;
    auto plan = delivery::make_plan(*loaded, io.env, ctx.hostname, !inv.dry_run);
    if (!plan)
        return output::report_failure(io, Schema::send, inv.json, plan.error());
    // One connection for all transactions of this message (452 too many recipients).
    delivery::Session session(std::move(*plan), delivery::curl_transport_factory(), /*reuse=*/true);
    session.set_on_line(output::verbose_printer(inv.verbose, io.err));
    // A progress bar only for a person watching: stderr a terminal, no --json.
    std::optional<output::ProgressBar> bar;
    if (!inv.json && io.err_is_terminal) {
        bar.emplace(io.err);
        session.set_on_progress([&bar](uint64_t sent, uint64_t total) { bar->update(sent, total); });
    }

    auto job = delivery::job_for(msg, delivery::recorded_settings(settings));
    auto result = delivery::deliver(job, session, policy, output::delivery_hooks(io));
    if (bar)
        bar->finish(result.status == delivery::Status::sent || result.status == delivery::Status::partial);
    if (result.status == delivery::Status::dry_run)
        return 0;
    if (inv.json)
        io.out << util::json_text(output::result_json(result, msg.message_id, msg.envelope.from)) << "\n";
    else
        output::print_result(io.err, result, msg.message_id, inv.verbose);
    return static_cast<int>(result.exit_code);
}

} // namespace smtpsend::app
