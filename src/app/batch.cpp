// smtpsend batch: many messages over one authenticated connection (or
// --connections N at once), from
// JSON Lines (one message per line) or complete message files (--eml).
#include "app/commands.hpp"

#include "config/load.hpp"
#include "delivery/deliver.hpp"
#include "message/merge.hpp"
#include "output/progress.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

#include <algorithm>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <istream>
#include <sstream>
#include <streambuf>
#include <nlohmann/json.hpp>
#include <optional>
#include <sys/stat.h>
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
                return util::make_error(std::string(key) + ": expected strings", "", util::ErrorKind::input);
            out.push_back(item.get<std::string>());
        }
        return out;
    }
    return util::make_error(std::string(key) + ": expected a string or an array of strings", "", util::ErrorKind::input);
}

// "vars": {"name": "Ann", "n": 3}: each key a placeholder name, each value
// a string or a number (as JSON writes it).
util::Result<message::MergeVars> vars_from_json(const nlohmann::json& v) {
    if (!v.is_object())
        return util::make_error("vars: expected an object {\"name\": \"value\", ...}", "",
                                util::ErrorKind::input);
    message::MergeVars vars;
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (!message::is_placeholder_name(it.key()))
            return util::make_error("vars: \"" + it.key() + "\" is not a placeholder name",
                                    "a name is letters, digits and _, not starting with a digit",
                                    util::ErrorKind::input);
        if (it->is_string())
            vars[it.key()] = it->get<std::string>();
        else if (it->is_number())
            vars[it.key()] = it->dump();
        else
            return util::make_error("vars: \"" + it.key() + "\" must be a string or a number", "",
                                    util::ErrorKind::input);
    }
    return vars;
}

// A body_file or html_file whose placeholders are filled: read whole.
constexpr std::streamsize max_template_bytes = 10 << 20;
util::Result<std::string> read_template(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::string text;
    if (file) {
        text.assign(std::istreambuf_iterator<char>(file), {});
        if (!file.bad() && text.size() <= static_cast<size_t>(max_template_bytes))
            return text;
        if (!file.bad())
            return util::make_error(path + ": larger than 10 MiB, too large to fill placeholders in", "",
                                    util::ErrorKind::input);
    }
    return util::make_error("cannot read " + path, "check the file name", util::ErrorKind::noinput);
}

// `text` of the field `field` with the line's vars filled in.
util::Result<std::string> fill(const std::string& text, const message::MergeVars& vars, const char* field) {
    auto filled = message::fill_placeholders(text, vars);
    if (!filled) {
        auto e = filled.error();
        e.message = std::string(field) + ": " + e.message;
        return e;
    }
    return filled;
}

// One JSON line into a request and its body.
util::Result<std::pair<message::MessageRequest, std::shared_ptr<message::Spool>>>
request_from_json(const std::string& line, std::string& from) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) { // parse_error, and out_of_range for huge numbers
        return util::make_error(std::string("not JSON: ") + e.what(), "", util::ErrorKind::input);
    }
    if (!j.is_object())
        return util::make_error("expected an object {\"to\": ..., \"subject\": ...}", "", util::ErrorKind::input);
    static const std::vector<std::string> known = {"to",        "cc",   "bcc",       "from",   "subject", "body",
                                                   "body_file", "html", "html_file", "attach", "headers", "vars"};
    for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(known.begin(), known.end(), it.key()) == known.end())
            return util::make_error("unknown field \"" + it.key() + "\" (fields: " + util::join(known, ", ") + ")",
                                    "", util::ErrorKind::input);
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
    // "-" (standard input) is never read for a line: stdin is the batch's
    // input, or one stream that many lines would share.
    auto stdin_refused = [](const char* key) {
        return util::make_error(std::string(key) + ": \"-\" (standard input) cannot be read in a batch",
                                "give a file path; standard input is the batch's input", util::ErrorKind::input);
    };
    for (const auto& spec : req.attach)
        if (spec.substr(0, spec.find(';')) == "-")
            return stdin_refused("attach");
    for (const char* key : {"body_file", "html_file"})
        if (j.contains(key) && text(key) == "-")
            return stdin_refused(key);
    req.subject = text("subject");
    req.html_file = text("html_file");
    if (j.contains("html"))
        req.html_text = text("html");
    from = text("from");
    // Mail merge: only the subject and the bodies, never addresses or headers.
    std::optional<message::MergeVars> vars;
    if (j.contains("vars")) {
        auto v = vars_from_json(j["vars"]);
        if (!v)
            return v.error();
        vars = std::move(*v);
        auto subject = fill(req.subject, *vars, "subject");
        if (!subject)
            return subject.error();
        req.subject = std::move(*subject);
        if (!req.html_text && !req.html_file.empty()) {
            auto html = read_template(req.html_file);
            if (!html)
                return html.error();
            req.html_text = std::move(*html);
        }
        if (req.html_text) {
            auto html = fill(*req.html_text, *vars, j.contains("html") ? "html" : "html_file");
            if (!html)
                return html.error();
            req.html_text = std::move(*html);
        }
    }
    const bool body_file = j.contains("body_file");
    std::shared_ptr<message::Spool> body;
    if (vars) { // read whole to be filled
        auto t = body_file ? read_template(text("body_file")) : util::Result<std::string>(text("body"));
        if (!t)
            return t.error();
        auto filled = fill(*t, *vars, body_file ? "body_file" : "body");
        if (!filled)
            return filled.error();
        body = message::Spool::from_string(std::move(*filled));
    } else if (body_file) {
        auto spool = message::Spool::from_path(text("body_file"));
        if (!spool)
            return spool.error();
        body = *spool;
    } else {
        body = message::Spool::from_string(text("body"));
    }
    return std::make_pair(std::move(req), std::move(body));
}

// How many inputs the batch will read, for the progress line: the
// non-blank lines of the files (standard input too when it is a regular
// file, read with pread so its offset stays), or the --eml files; nullopt
// when a pipe or terminal makes it unknown.
std::optional<size_t> count_inputs(const std::vector<std::string>& names, bool eml, long limit, int stdin_fd) {
    size_t n = 0;
    auto count_text = [&n](std::string& pending, std::string_view chunk) {
        for (char c : chunk) {
            if (c != '\n') {
                pending += c;
                continue;
            }
            if (!util::trim(pending).empty())
                ++n;
            pending.clear();
        }
    };
    for (const auto& name : names) {
        if (eml) {
            ++n;
            continue;
        }
        std::string pending;
        if (name == "-") {
            struct stat st {};
            if (fstat(stdin_fd, &st) != 0 || !S_ISREG(st.st_mode))
                return std::nullopt;
            off_t at = lseek(stdin_fd, 0, SEEK_CUR);
            if (at < 0)
                return std::nullopt;
            char buf[65536];
            for (;;) {
                ssize_t got = pread(stdin_fd, buf, sizeof buf, at);
                if (got < 0)
                    return std::nullopt;
                if (got == 0)
                    break;
                count_text(pending, std::string_view(buf, static_cast<size_t>(got)));
                at += got;
            }
        } else {
            std::ifstream file(name, std::ios::binary);
            if (!file)
                continue; // reported when it is read
            char buf[65536];
            while (file.read(buf, sizeof buf) || file.gcount() > 0)
                count_text(pending, std::string_view(buf, static_cast<size_t>(file.gcount())));
        }
        if (!util::trim(pending).empty())
            ++n;
    }
    if (limit > 0)
        n = std::min(n, static_cast<size_t>(limit));
    return n;
}

// Standard input as the Io gives it (a descriptor), read as a stream: tests
// pass a pipe; nothing reads the process's std::cin.
class FdBuf final : public std::streambuf {
  public:
    explicit FdBuf(int fd) : fd_(fd) {}

  private:
    int_type underflow() override {
        ssize_t n;
        do
            n = ::read(fd_, buf_, sizeof buf_);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return traits_type::eof();
        setg(buf_, buf_, buf_ + n);
        return traits_type::to_int_type(*gptr());
    }
    int fd_;
    char buf_[1 << 16];
};

struct Input {
    std::string label; // "FILE:LINE" or the file
    std::string text;  // a JSON line, or "" for --eml
    std::string path;  // for --eml
};

} // namespace

int batch_command(const cli::Invocation& inv, Io& io) {
    using output::Schema;
    auto loaded = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded)
        return output::report_failure(io, Schema::send, inv.json, loaded.error());
    output::print_warnings(io, loaded->warnings);
    const std::string hostname = util::local_hostname();
    auto plan = delivery::make_plan(*loaded, io.env, hostname, !inv.dry_run);
    if (!plan)
        return output::report_failure(io, Schema::send, inv.json, plan.error());
    delivery::Session session(std::move(*plan), delivery::curl_transport_factory(), /*reuse=*/true);
    session.set_on_line(output::verbose_printer(inv.verbose, io.err));
    auto policy = delivery::policy_for(*loaded, io.env, false);
    policy.dry_run = inv.dry_run;
    const auto recorded = delivery::recorded_settings(loaded->settings);

    // Inputs are read one at a time, so a batch of any length needs no more memory.
    std::vector<std::string> names = inv.batch_inputs;
    if (names.empty())
        names.push_back("-");
    auto worst = diagnosis::ExitCode::ok;
    size_t count = 0, failures = 0;
    // --connections N: several connections at once through one pool (a dry
    // run sends nothing: it needs none).
    std::unique_ptr<delivery::Parallel> parallel;
    const auto& s = loaded->settings;
    const long connections = s.connections.value;
    // Validated when it was read: a bad rate never gets here.
    double rate = 0;
    if (auto r = config::parse_rate(s.rate.value); !s.rate.value.empty() && r)
        rate = *r;
    if ((connections > 1 || rate > 0 || s.max_per_connection.value > 0) && !inv.dry_run)
        parallel = std::make_unique<delivery::Parallel>(session, delivery::curl_pool_factory(),
                                                        static_cast<size_t>(connections), policy, rate,
                                                        s.max_per_connection.value);
    // The progress line: for a person watching stderr, never between
    // --json results or -v's protocol lines; --progress forces it on a
    // file or pipe, --no-progress keeps it off.
    const std::string& mode = s.progress.value;
    std::optional<output::ProgressLine> progress;
    output::BatchCounts counts;
    if (!inv.json && !inv.verbose &&
        (mode == "always" || (mode == "auto" && io.err_is_terminal && !inv.dry_run)))
        progress.emplace(io.err, *io.clock, count_inputs(names, inv.batch_eml, inv.batch_limit, io.stdin_fd));
    auto clear_progress = [&progress] {
        if (progress)
            progress->clear();
    };
    if (progress)
        progress->update(counts);
    if (parallel && progress) // a slow message does not freeze the rate and the time left
        parallel->set_on_tick([&progress] { progress->tick(); }, output::ProgressLine::interval_ms);
    if (parallel)
        parallel->set_on_slow_down([&io, &clear_progress, &session](size_t server, const diagnosis::Diagnosis& d,
                                                                     size_t n, long pause_ms) {
            // With fallback servers the line names the server (each has its own slow-down).
            const auto& servers = session.plan();
            const bool several = servers.server_count() > 1;
            clear_progress();
            io.err << "smtpsend: batch: " << (several ? servers.server(server) : std::string("server"))
                   << " asked to slow down: " << (d.reply ? util::one_line(d.reply->text()) : d.summary)
                   << "; now " << n << (n == 1 ? " connection" : " connections") << (several ? " to it" : "")
                   << ", pausing " << std::max(1L, (pause_ms + 500) / 1000) << "s";
            if (server + 1 < servers.server_count())
                io.err << "; meanwhile messages go on to " << servers.server(server + 1);
            io.err << "\n" << std::flush;
        });
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
        // Reported in input order, also over several connections.
        auto tally = [&worst, &failures, &counts, &progress](diagnosis::ExitCode code, bool queued) {
            if (code != diagnosis::ExitCode::ok) {
                ++failures;
                ++counts.failed;
            } else if (queued)
                ++counts.queued;
            else
                ++counts.sent;
            worst = diagnosis::worst(worst, code);
            if (progress)
                progress->update(counts);
        };
        if (!msg) {
            // The message cannot be made: reported like a send that failed before sending.
            auto d = diagnosis::local_failure(diagnosis::class_for_kind(msg.error().kind, diagnosis::Class::input),
                                              transport::Stage::input, msg.error().message, msg.error().hint);
            auto report = [&io, &inv, tally, clear_progress, d, label = input.label] {
                if (inv.json)
                    io.out << util::json_text(nlohmann::json{{"input", label},
                                                             {"status", "failed"},
                                                             {"exit_code", static_cast<int>(d.exit_code)},
                                                             {"error", output::error_json(d)}})
                           << "\n" << std::flush;
                else {
                    clear_progress();
                    output::print_diagnosis(io.err, d, label + ": ");
                }
                tally(d.exit_code, false);
            };
            if (parallel)
                parallel->add_report(report);
            else
                report();
            return;
        }
        auto prepared = std::make_shared<message::PreparedMessage>(std::move(*msg));
        auto job = delivery::job_for(*prepared, recorded);
        auto report = [&io, &inv, tally, clear_progress, prepared,
                       label = input.label](const delivery::Result& result) {
            if (inv.json) {
                nlohmann::json j = output::result_json(result, prepared->message_id, prepared->envelope.from);
                j["input"] = label;
                io.out << util::json_text(j) << "\n" << std::flush;
            } else if (result.status != delivery::Status::dry_run) {
                std::ostringstream text; // written only when there is something to say
                output::print_result(text, result, prepared->message_id, inv.verbose, label + ": ");
                if (!text.str().empty()) {
                    clear_progress();
                    io.err << text.str();
                }
            }
            tally(result.exit_code, result.status == delivery::Status::queued);
        };
        auto hooks = output::delivery_hooks(io, input.label + ": ");
        if (progress) { // its lines on stderr first erase the progress line
            hooks.warn = [warn = hooks.warn, clear_progress](const std::string& w) {
                clear_progress();
                warn(w);
            };
            hooks.on_retry = [retry = hooks.on_retry, clear_progress](int attempt, int attempts, long wait_ms,
                                                                      const diagnosis::Diagnosis& why) {
                clear_progress();
                retry(attempt, attempts, wait_ms, why);
            };
            hooks.on_fallback = [fallback = hooks.on_fallback, clear_progress](
                                    const std::string& failed, const std::string& next,
                                    const diagnosis::Diagnosis& why) {
                clear_progress();
                fallback(failed, next, why);
            };
        }
        if (parallel)
            parallel->add(std::move(job), std::move(hooks), prepared, report);
        else
            report(delivery::deliver(job, session, policy, hooks));
    };
    // --limit N: the first N inputs (messages, and lines that fail to be one).
    auto limited = [&] { return inv.batch_limit > 0 && count >= static_cast<size_t>(inv.batch_limit); };
    for (const auto& name : names) {
        if (limited())
            break;
        if (inv.batch_eml) {
            handle(Input{name, "", name});
            continue;
        }
        std::ifstream file;
        FdBuf stdin_buf(io.stdin_fd);
        std::istream stdin_stream(&stdin_buf);
        std::istream* stream = &stdin_stream;
        if (name != "-") {
            file.open(name);
            if (!file) {
                auto d = diagnosis::local_failure(diagnosis::Class::noinput, transport::Stage::input,
                                                  "cannot read " + name, "check the file name");
                auto report = [&io, &inv, &worst, clear_progress, d] {
                    clear_progress();
                    output::report_failure(io, Schema::send, inv.json, d);
                    worst = diagnosis::worst(worst, d.exit_code);
                };
                if (parallel)
                    parallel->add_report(report);
                else
                    report();
                continue;
            }
            stream = &file;
        }
        std::string line;
        size_t line_no = 0;
        while (std::getline(*stream, line)) {
            ++line_no;
            if (util::trim(line).empty())
                continue;
            if (limited())
                break;
            handle(Input{(name == "-" ? std::string("stdin") : name) + ":" + std::to_string(line_no), line, ""});
        }
    }
    if (parallel)
        parallel->drain();
    clear_progress();
    if (!inv.json)
        io.err << "smtpsend: batch: " << count - failures << " of " << count
               << (inv.dry_run ? " shown (dry run: nothing was sent)" : " sent or queued") << "\n";
    return static_cast<int>(worst);
}

} // namespace smtpsend::app
