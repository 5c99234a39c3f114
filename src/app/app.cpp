#include "app/app.hpp"
#include "util/json_text.hpp"

#include "app/batch.hpp"
#include "app/config_commands.hpp"
#include "app/deliver.hpp"
#include "app/policy.hpp"
#include "app/queue_commands.hpp"
#include "app/report.hpp"
#include "app/smtp_stdio.hpp"
#include "check/check.hpp"
#include "cli/cli.hpp"
#include "config/keys.hpp"
#include "config/load.hpp"
#include "config/secrets.hpp"
#include "config/server_url.hpp"
#include "diagnosis/explain.hpp"
#include "message/compose.hpp"
#include "transport/probe.hpp"
#include "transport/transport.hpp"
#include "util/strings.hpp"
#include "version.hpp"

#include <chrono>
#include <iostream>
#include <sstream>
#include <optional>
#include <unistd.h>

namespace smtpsend::app {

namespace {

using diagnosis::Class;
using diagnosis::Diagnosis;
using transport::Stage;

Class class_for_kind(const std::string& kind) {
    if (kind == "usage") return Class::usage;
    if (kind == "nouser") return Class::recipient;
    if (kind == "input") return Class::input;
    if (kind == "noinput") return Class::noinput;
    if (kind == "io") return Class::io;
    return Class::config;
}

Stage stage_for_class(Class c) {
    return c == Class::config ? Stage::config : Stage::input;
}

// Reports a failure that happened before any connection: text or JSON.
int report_local(const cli::Invocation& inv, Io& io, const Diagnosis& d,
                 const std::string& server = {}) {
    if (inv.json) {
        SendReport r;
        r.status = "failed";
        r.exit_code = static_cast<int>(d.exit_code);
        r.server = server;
        r.diagnosis = &d;
        io.out << util::json_text(send_json(r)) << "\n";
    } else {
        print_diagnosis(io.err, d);
    }
    return static_cast<int>(d.exit_code);
}

int fail_local(const cli::Invocation& inv, Io& io, const util::Error& e,
               const std::string& default_kind = "config") {
    Class c = class_for_kind(e.kind.empty() ? default_kind : e.kind);
    return report_local(inv, io, diagnosis::local_failure(c, stage_for_class(c), e.message, e.hint));
}

int run_explain(const cli::Invocation& inv, Io& io) {
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
        if (!stage) {
            io.err << "smtpsend: unknown stage \"" << inv.explain_stage << "\"\n"
                   << "hint: use one of greeting, ehlo, starttls, auth, mail, rcpt, data, "
                      "end-of-data\n";
            return static_cast<int>(diagnosis::ExitCode::usage);
        }
    }
    auto ex = diagnosis::explain(text, stage, inv.explain_server);
    if (!ex.understood) {
        if (inv.json)
            io.out << util::json_text(nlohmann::json{{"understood", false}, {"exit_code", 65}}) << "\n";
        else
            io.err << "smtpsend: found no SMTP reply or known error in the text\n"
                   << "hint: paste the server's reply including its three-digit code, e.g. "
                      "\"535 5.7.8 ...\"\n";
        return static_cast<int>(diagnosis::ExitCode::dataerr);
    }
    const auto& d = ex.diagnosis;
    if (inv.json) {
        nlohmann::json j = error_json(d);
        j["exit_code"] = static_cast<int>(d.exit_code);
        j["tool"] = ex.tool.empty() ? nlohmann::json() : nlohmann::json(ex.tool);
        io.out << util::json_text(j) << "\n";
    } else {
        io.out << "class:     " << diagnosis::class_name(d.cls)
               << (d.temporary ? " (temporary)" : "") << "\n"
               << "exit code: " << static_cast<int>(d.exit_code) << "\n"
               << "stage:     " << transport::stage_name(d.stage) << "\n";
        if (d.reply)
            io.out << "reply:     " << d.reply->code
                   << (d.reply->enhanced.empty() ? "" : " " + d.reply->enhanced) << "\n";
        if (!ex.tool.empty())
            io.out << "tool:      " << ex.tool << "\n";
        io.out << "summary:   " << d.summary << "\n";
        for (const auto& h : d.hints)
            io.out << "hint:      " << h << "\n";
    }
    return 0;
}

void print_dry_run(std::ostream& out, const message::Envelope& env, const std::string& message,
                   const std::string& server) {
    out << "--- envelope (dry run: nothing was sent) ---\n";
    if (!server.empty())
        out << "server: " << server << "\n";
    out << "from: <" << env.from << ">\n";
    for (const auto& r : env.recipients)
        out << "to: <" << r << ">\n";
    out << "--- message (" << message.size() << " bytes) ---\n" << message;
    if (!message.empty() && message.back() != '\n')
        out << "\n";
}

util::Result<config::Loaded> load(const cli::Invocation& inv, Io& io) {
    auto loaded = load_settings_for(inv.settings, inv.config_path, inv.profile, io.env);
    if (loaded)
        for (const auto& w : loaded->warnings)
            io.err << "smtpsend: warning: " << w << "\n";
    return loaded;
}

// Masks secrets for display: never the value, only that it is set.
std::string shown_value(const config::KeyInfo& key, const config::Settings& s) {
    std::string v = key.text(s);
    if (key.secret && !v.empty())
        return "********";
    return v;
}

int run_config_show(const cli::Invocation& inv, Io& io) {
    auto loaded = load(inv, io);
    if (!loaded)
        return fail_local(inv, io, loaded.error());
    const auto& s = loaded->settings;
    if (inv.json) {
        nlohmann::json j;
        j["profile"] = loaded->profile.empty() ? nlohmann::json() : nlohmann::json(loaded->profile);
        j["profile_origin"] = loaded->profile_origin;
        j["files"] = nlohmann::json::array();
        for (const auto& f : loaded->files)
            j["files"].push_back(f.path);
        for (const auto& key : config::keys())
            j["settings"][std::string(key.name)] = {{"value", shown_value(key, s)},
                                                    {"origin", key.origin(s).describe()},
                                                    {"set", key.is_set(s)}};
        io.out << util::json_text(j, 2) << "\n";
        return 0;
    }
    io.out << "profile = " << (loaded->profile.empty() ? "(none)" : loaded->profile);
    if (!loaded->profile_origin.empty())
        io.out << "  (" << loaded->profile_origin << ")";
    io.out << "\n";
    size_t width = 0;
    for (const auto& key : config::keys())
        width = std::max(width, key.name.size());
    for (const auto& key : config::keys()) {
        std::string v = shown_value(key, s);
        io.out << std::string(key.name) << std::string(width - key.name.size(), ' ') << " = "
               << (v.empty() ? "(unset)" : v) << "  (" << key.origin(s).describe() << ")\n";
    }
    return 0;
}

int run_config_profiles(const cli::Invocation& inv, Io& io) {
    auto loaded = load(inv, io);
    if (!loaded)
        return fail_local(inv, io, loaded.error());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& f : loaded->files)
        for (const auto& [name, section] : f.profiles) {
            std::string inherits;
            for (const auto& e : section.entries)
                if (e.key == "inherit")
                    inherits = e.value;
            list.push_back({{"name", name},
                            {"file", f.path},
                            {"line", section.line},
                            {"inherit", inherits},
                            {"selected", name == loaded->profile}});
        }
    if (inv.names_only) {
        for (const auto& p : list)
            io.out << p["name"].get<std::string>() << "\n";
        return 0;
    }
    if (inv.json) {
        io.out << util::json_text(list, 2) << "\n";
        return 0;
    }
    if (list.empty()) {
        io.out << "no profiles";
        if (loaded->files.empty())
            io.out << " (no settings file found; see docs/configuration.md)";
        io.out << "\n";
    }
    for (const auto& p : list) {
        io.out << (p["selected"].get<bool>() ? "* " : "  ") << p["name"].get<std::string>() << "  ("
               << p["file"].get<std::string>() << ":" << p["line"].get<int>() << ")";
        if (!p["inherit"].get<std::string>().empty())
            io.out << "  inherits " << p["inherit"].get<std::string>();
        io.out << "\n";
    }
    return 0;
}

std::function<void(const transport::TranscriptLine&)> verbose_sink(const cli::Invocation& inv,
                                                                  Io& io) {
    return verbose_printer(inv.verbose, io.err);
}

int run_check(const cli::Invocation& inv, Io& io) {
    auto loaded = load(inv, io);
    if (!loaded)
        return fail_local(inv, io, loaded.error());
    check::Request rq;
    rq.loaded = &*loaded;
    rq.env = &io.env;
    rq.rcpt = inv.check_rcpt;
    rq.hostname = util::local_hostname();
    rq.on_line = verbose_sink(inv, io);
    if (!inv.check_rcpt.empty())
        if (auto st = message::check_addr_spec(inv.check_rcpt); !st)
            return fail_local(inv, io, util::make_error(st.error().message, "", "usage"));
    auto report = check::run(rq);
    if (inv.json)
        io.out << util::json_text(check_json(report)) << "\n";
    else
        print_check(io.out, io.err, report);
    return report.exit_code;
}

int run_send(const cli::Invocation& inv, Io& io) {
    // Settings: defaults < system file < user file < profile < environment < flags.
    auto loaded = load(inv, io);
    if (!loaded)
        return fail_local(inv, io, loaded.error());
    const config::Settings& settings = loaded->settings;

    message::ComposeContext ctx;
    ctx.stdin_fd = io.stdin_fd;
    ctx.hostname = util::local_hostname();
    auto prepared = message::prepare_message(inv.message, settings, ctx);
    if (!prepared)
        return fail_local(inv, io, prepared.error(), "input");
    auto& msg = *prepared;

    if (inv.dry_run) {
        auto endpoint = config::resolve_endpoint(settings);
        auto text = message::read_all(*msg.source);
        if (!text)
            return fail_local(inv, io, text.error(), "noinput");
        print_dry_run(io.out, msg.envelope, *text, endpoint ? endpoint->curl_url() : "");
        return 0;
    }
    Policy policy = policy_for(*loaded, io.env, inv.message.complete_message);
    if (inv.verbose)
        policy.on_retry = [&io](int attempt, long wait_ms, const Diagnosis& why) {
            io.err << "smtpsend: attempt " << attempt << " failed (" << why.summary << "); retrying in "
                   << wait_ms << " ms\n";
        };
    auto sender = Sender::create(*loaded, io.env, ctx.hostname, verbose_sink(inv, io));
    if (!sender)
        return fail_local(inv, io, sender.error(), "config");
    // A progress bar only for a person watching: stderr a terminal, no --json.
    std::optional<ProgressBar> bar;
    if (!inv.json && isatty(STDERR_FILENO)) {
        bar.emplace(io.err);
        (*sender)->set_on_progress([&bar](uint64_t sent, uint64_t total) { bar->update(sent, total); });
    }
    auto run = send_with_policy(msg, **sender, policy, io.err);
    if (bar)
        bar->finish(run.status == "sent" || run.status == "partial");
    if (inv.json) {
        SendReport r;
        r.status = run.status;
        r.exit_code = run.exit_code;
        r.server = run.server;
        r.message_id = msg.message_id;
        r.from = msg.envelope.from;
        r.accepted = run.accepted;
        for (const auto& rej : run.rejected)
            r.rejected.emplace_back(rej.address, rej.reply);
        r.diagnosis = run.diagnosis ? &*run.diagnosis : nullptr;
        r.queue_id = run.queue_id;
        r.attempts = run.attempts;
        r.elapsed_ms = run.elapsed_ms;
        io.out << util::json_text(send_json(r)) << "\n";
    } else {
        if (!run.accepted.empty())
            for (const auto& rej : run.rejected)
                io.err << "smtpsend: rejected <" << rej.address << ">: " << rej.reply << "\n";
        if (!run.queue_id.empty())
            io.err << "smtpsend: queued as " << run.queue_id << " (" << run.queue_reason
                   << "); `smtpsend queue flush` sends it\n";
        if (run.diagnosis)
            print_diagnosis(io.err, *run.diagnosis);
        else if (inv.verbose && run.status == "sent")
            io.err << "smtpsend: sent " << msg.message_id << " to " << run.accepted.size()
                   << " recipient(s)\n";
    }
    return run.exit_code;
}

} // namespace

util::Result<config::Loaded> load_settings_for(const std::vector<std::pair<std::string, std::string>>& flags,
                                               const std::string& config_path, const std::string& profile,
                                               const util::Environment& env) {
    config::LayerInputs in;
    in.env = &env;
    in.flags = flags;
    in.config_flag = config_path;
    in.profile_flag = profile;
    in.system_dir = SMTPSEND_SYSCONFDIR;
    return config::load_settings(in);
}

int run(int argc, const char* const* argv, Io io) {
    try {
        auto parsed = cli::parse(argc, argv);
        if (!parsed) {
            io.err << "smtpsend: " << parsed.error().message << "\n";
            if (!parsed.error().hint.empty())
                io.err << "hint: " << parsed.error().hint << "\n";
            return static_cast<int>(diagnosis::ExitCode::usage);
        }
        auto& inv = *parsed;
        switch (inv.command) {
        case cli::Command::help:
            io.out << inv.help_text;
            return 0;
        case cli::Command::version:
            io.out << "smtpsend " << SMTPSEND_VERSION << "\n"
                   << transport::curl_version_text() << "\n";
            return 0;
        case cli::Command::explain:
            return run_explain(inv, io);
        case cli::Command::check:
            return run_check(inv, io);
        case cli::Command::config_show:
            return run_config_show(inv, io);
        case cli::Command::config_profiles:
            return run_config_profiles(inv, io);
        case cli::Command::config_providers:
            io.out << providers_text(inv.json, inv.names_only);
            return 0;
        case cli::Command::config_import: {
            auto text = render_import(inv.import_path, inv.import_name, inv.json);
            if (!text)
                return fail_local(inv, io, text.error());
            io.out << text->profiles;
            io.err << text->notes;
            return 0;
        }
        case cli::Command::send:
            return run_send(inv, io);
        case cli::Command::smtp_stdio: {
            auto loaded = load(inv, io);
            if (!loaded)
                return fail_local(inv, io, loaded.error());
            return serve_smtp_stdio(*loaded, io, verbose_sink(inv, io));
        }
        case cli::Command::batch:
            return run_batch(inv, io);
        case cli::Command::list_queue:
        case cli::Command::queue_show:
        case cli::Command::queue_flush:
        case cli::Command::queue_drop:
            return run_queue(inv, io);
        }
        return 0;
    } catch (const std::exception& e) {
        io.err << "smtpsend: error: " << e.what() << "\n";
        return static_cast<int>(diagnosis::ExitCode::software);
    }
}

int run(int argc, const char* const* argv) {
    util::ProcessEnvironment env;
    return run(argc, argv, Io{env, STDIN_FILENO, std::cout, std::cerr});
}

} // namespace smtpsend::app
