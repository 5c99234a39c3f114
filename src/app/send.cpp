// smtpsend [OPTIONS] RCPT... and sendmail's delivery mode: one message.
#include "app/commands.hpp"

#include "config/keys.hpp"
#include "config/load.hpp"
#include "delivery/deliver.hpp"
#include "message/compose.hpp"
#include "queue/incoming.hpp"
#include "util/json_text.hpp"

#include <cerrno>
#include <optional>
#include <pwd.h>
#include <unistd.h>

namespace smtpsend::app {

namespace {

// Where a non-root sendmail leaves its message for root's flush, or nothing.
// Only when the caller has no settings of its own (no user file, -C, flag or
// SMTPSEND_ variable: what it chose would be dropped) and cannot read the
// password file of the system settings (root:mail 640), and the system's
// incoming/ and incoming.tmp/ folders exist (docs/sendmail.md, "Other users' mail").
std::optional<std::string> incoming_for(const cli::Invocation& inv, const config::Loaded& loaded) {
    const auto& s = loaded.settings;
    if (!inv.message.complete_message || inv.dry_run || geteuid() == 0 || !inv.settings.empty() ||
        !inv.config_path.empty() || !inv.profile.empty() || loaded.profile_origin.rfind("env", 0) == 0)
        return std::nullopt;
    for (const auto& f : loaded.files)
        if (!f.system)
            return std::nullopt;
    for (const auto& k : config::keys())
        if (k.origin(s).kind == config::Origin::Kind::env)
            return std::nullopt;
    if (!s.password_file.set || s.password_file.origin.kind != config::Origin::Kind::file ||
        access(s.password_file.value.c_str(), R_OK) == 0 || errno != EACCES)
        return std::nullopt;
    const std::string queue_dir = s.queue_dir.set && !s.queue_dir.value.empty() ? s.queue_dir.value
                                                                                 : queue::kSystemDir;
    if (access(queue::incoming_dir(queue_dir).c_str(), W_OK | X_OK) != 0 ||
        access(queue::incoming_tmp_dir(queue_dir).c_str(), W_OK | X_OK) != 0)
        return std::nullopt;
    return queue_dir;
}

// Checks the message as root's flush will (the same request, the sender
// the caller's login name), then writes it to incoming.tmp/ and renames it
// into incoming/ of `queue_dir`. Exit 0: accepted.
int submit_incoming(const cli::Invocation& inv, Io& io, const config::Loaded& loaded, const std::string& queue_dir) {
    const std::string dir = queue::incoming_dir(queue_dir);
    using output::Schema;
    const passwd* pw = getpwuid(getuid());
    if (!pw)
        return output::report_failure(io, Schema::send, inv.json,
                                      util::make_error("uid " + std::to_string(getuid()) + " is not in the user database",
                                                       "", util::ErrorKind::config));
    auto spool = message::Spool::from_fd(io.stdin_fd, "standard input", 1 << 20, true,
                                         /*dot_ends=*/!inv.message.ignore_dots);
    if (!spool)
        return output::report_failure(io, Schema::send, inv.json, spool.error(), diagnosis::Class::input);
    if ((*spool)->size() > queue::max_incoming_bytes)
        return output::report_failure(
            io, Schema::send, inv.json,
            util::make_error("the message is larger than " + std::to_string(queue::max_incoming_bytes >> 20) +
                                 " MiB, the limit for other users' mail",
                             "", util::ErrorKind::input),
            diagnosis::Class::input);
    message::MessageRequest req = inv.message;
    req.envelope_from = pw->pw_name; // -f is not the caller's to choose here
    message::ComposeContext ctx;
    ctx.hostname = util::local_hostname();
    if (auto prepared = message::prepare_message(req, loaded.settings, ctx, *spool); !prepared)
        return output::report_failure(io, Schema::send, inv.json, prepared.error(), diagnosis::Class::input);
    queue::Submission sub;
    sub.uid = getuid();
    sub.recipients = inv.message.to;
    sub.extract_recipients = inv.message.extract_recipients;
    sub.ignore_dots = inv.message.ignore_dots;
    sub.full_name = inv.message.full_name;
    auto whole = (*spool)->head(static_cast<size_t>((*spool)->size())); // at most max_incoming_bytes
    if (!whole)
        return output::report_failure(io, Schema::send, inv.json, whole.error(), diagnosis::Class::io);
    sub.message = std::move(*whole);
    auto name = queue::submit(queue::incoming_tmp_dir(queue_dir), dir, sub);
    if (!name)
        return output::report_failure(io, Schema::send, inv.json, name.error(), diagnosis::Class::io);
    log::Record rec;
    rec.from = pw->pw_name;
    rec.recipients = sub.recipients;
    rec.queue_id = "incoming/" + *name;
    rec.outcome = "submitted";
    auto policy = delivery::policy_for(loaded, io.env, true);
    if (auto w = log::write(policy.log == "none" ? "none" : "syslog", rec); !w.empty())
        io.err << "smtpsend: warning: " << w << "\n";
    if (inv.verbose)
        io.err << "smtpsend: the password file is root's: the message is in " << dir << "/" << *name
               << " for root's flush\n";
    return 0;
}

} // namespace

int send_command(const cli::Invocation& inv, Io& io) {
    using output::Schema;
    // Settings: defaults < system file < user file < profile < environment < flags.
    auto loaded = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded)
        return output::report_failure(io, Schema::send, inv.json, loaded.error());
    output::print_warnings(io, loaded->warnings);
    const config::Settings& settings = loaded->settings;
    if (auto dir = incoming_for(inv, *loaded))
        return submit_incoming(inv, io, *loaded, *dir);

    message::ComposeContext ctx;
    ctx.stdin_fd = io.stdin_fd;
    ctx.hostname = util::local_hostname();
    if (const passwd* pw = getpwuid(getuid()))
        ctx.login = pw->pw_name;
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
