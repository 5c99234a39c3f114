#include "app/batch.hpp"
#include "util/json_text.hpp"

#include "app/policy.hpp"
#include "app/report.hpp"
#include "util/strings.hpp"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace smtpsend::app {

namespace {

// A field that may be a string (comma list) or an array of strings.
util::Result<std::vector<std::string>> strings(const nlohmann::json& j, const char* key) {
    std::vector<std::string> out;
    if (!j.contains(key) || j[key].is_null())
        return out;
    const auto& v = j[key];
    if (v.is_string()) {
        out.push_back(v.get<std::string>());
        return out;
    }
    if (v.is_array()) {
        for (const auto& item : v) {
            if (!item.is_string())
                return util::make_error(std::string(key) + ": expected strings", "", "input");
            out.push_back(item.get<std::string>());
        }
        return out;
    }
    return util::make_error(std::string(key) + ": expected a string or an array of strings", "", "input");
}

// One JSON line into a request and its body.
util::Result<std::pair<message::MessageRequest, std::shared_ptr<message::Spool>>>
request_from_json(const std::string& line, std::string& from) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) { // parse_error, and out_of_range for huge numbers
        return util::make_error(std::string("not JSON: ") + e.what(), "", "input");
    }
    if (!j.is_object())
        return util::make_error("expected an object {\"to\": ..., \"subject\": ...}", "", "input");
    static const std::vector<std::string> known = {"to", "cc", "bcc", "from", "subject", "body",
                                                   "body_file", "html_file", "attach", "headers"};
    for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(known.begin(), known.end(), it.key()) == known.end())
            return util::make_error("unknown field \"" + it.key() + "\" (fields: " + util::join(known, ", ") + ")",
                                    "", "input");
    message::MessageRequest req;
    for (auto [key, target] : {std::pair{"to", &req.to}, std::pair{"cc", &req.cc}, std::pair{"bcc", &req.bcc},
                               std::pair{"attach", &req.attach}, std::pair{"headers", &req.headers}}) {
        auto v = strings(j, key);
        if (!v)
            return v.error();
        *target = *v;
    }
    auto text = [&](const char* key) -> std::string {
        return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
    };
    req.subject = text("subject");
    req.html_file = text("html_file");
    from = text("from");
    std::shared_ptr<message::Spool> body;
    if (j.contains("body_file")) {
        auto spool = message::Spool::from_path(text("body_file"));
        if (!spool)
            return spool.error();
        body = *spool;
    } else {
        body = message::Spool::from_string(text("body"));
    }
    return std::make_pair(std::move(req), std::move(body));
}

struct Input {
    std::string label; // "FILE:LINE" or the file
    std::string text;  // a JSON line, or "" for --eml
    std::string path;  // for --eml
};

} // namespace

int run_batch(const cli::Invocation& inv, Io& io) {
    auto loaded = load_settings_for(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded) {
        io.err << "smtpsend: " << loaded.error().message << "\n";
        if (!loaded.error().hint.empty())
            io.err << "hint: " << loaded.error().hint << "\n";
        return 78;
    }
    auto on_line = verbose_printer(inv.verbose, io.err);
    std::string hostname = util::local_hostname();
    auto sender = Sender::create(*loaded, io.env, hostname, on_line, /*reuse=*/true);
    if (!sender) {
        io.err << "smtpsend: " << sender.error().message << "\n";
        if (!sender.error().hint.empty())
            io.err << "hint: " << sender.error().hint << "\n";
        return 78;
    }
    Policy policy = policy_for(*loaded, io.env, false);

    // Inputs are read one at a time, so a batch of any length needs no more memory.
    std::vector<std::string> names = inv.batch_inputs;
    if (names.empty())
        names.push_back("-");
    int worst = 0;
    size_t count = 0, failures = 0;
    auto handle = [&](const Input& input) {
        ++count;
        message::ComposeContext ctx;
        ctx.hostname = hostname;
        util::Result<message::PreparedMessage> msg = util::make_error("");
        if (inv.batch_eml) {
            message::MessageRequest req;
            req.extract_recipients = true;
            req.body_file = input.path;
            msg = message::prepare_message(req, loaded->settings, ctx);
        } else {
            std::string from;
            auto parsed = request_from_json(input.text, from);
            if (!parsed) {
                msg = parsed.error();
            } else {
                config::Settings settings = loaded->settings;
                if (!from.empty())
                    settings.from.assign(from, config::Origin::file(input.label));
                msg = message::prepare_message(parsed->first, settings, ctx, parsed->second);
            }
        }
        nlohmann::json result{{"input", input.label}};
        int code = 0;
        if (!msg) {
            code = msg.error().kind == "noinput" ? 66 : msg.error().kind == "config" ? 78
                   : msg.error().kind == "usage" ? 64 : 65;
            result["status"] = "failed";
            result["exit_code"] = code;
            result["error"] = {{"class", msg.error().kind.empty() ? "input" : msg.error().kind},
                               {"stage", "input"}, {"summary", msg.error().message}};
            if (!inv.json)
                io.err << "smtpsend: " << input.label << ": " << msg.error().message << "\n";
        } else {
            SendRun run = send_with_policy(*msg, **sender, policy, io.err);
            code = run.exit_code;
            result["status"] = run.status;
            result["exit_code"] = code;
            result["message_id"] = msg->message_id;
            result["accepted"] = run.accepted;
            nlohmann::json rejected = nlohmann::json::array();
            for (const auto& r : run.rejected)
                rejected.push_back({{"address", r.address}, {"reply", r.reply}});
            result["rejected"] = rejected;
            if (!run.queue_id.empty())
                result["queue_id"] = run.queue_id;
            if (run.diagnosis)
                result["error"] = error_json(*run.diagnosis);
            result["elapsed_ms"] = run.elapsed_ms;
            if (!inv.json && run.diagnosis) {
                io.err << "smtpsend: " << input.label << ": ";
                print_diagnosis(io.err, *run.diagnosis);
            }
        }
        if (code != 0) {
            ++failures;
            // The most severe: a permanent failure beats a temporary one.
            if (worst == 0 || worst == 75)
                worst = code;
        }
        if (inv.json)
            io.out << util::json_text(result) << "\n" << std::flush;
    };
    for (const auto& name : names) {
        if (inv.batch_eml) {
            handle(Input{name, "", name});
            continue;
        }
        std::ifstream file;
        std::istream* stream = &std::cin;
        if (name != "-") {
            file.open(name);
            if (!file) {
                io.err << "smtpsend: cannot read " << name << "\n";
                return 66;
            }
            stream = &file;
        }
        std::string line;
        size_t line_no = 0;
        while (std::getline(*stream, line)) {
            ++line_no;
            if (util::trim(line).empty())
                continue;
            handle(Input{(name == "-" ? std::string("stdin") : name) + ":" + std::to_string(line_no), line, ""});
        }
    }
    if (!inv.json)
        io.err << "smtpsend: batch: " << count - failures << " of " << count << " sent or queued\n";
    return worst;
}

} // namespace smtpsend::app
