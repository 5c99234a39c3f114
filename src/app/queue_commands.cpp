// smtpsend queue list|show|flush|drop (and sendmail's -bp / mailq).
#include "app/commands.hpp"

#include "config/load.hpp"
#include "delivery/deliver.hpp"
#include "message/compose.hpp"
#include "queue/incoming.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace smtpsend::app {

namespace {

using transport::Outcome;

std::string when(long t) {
    std::time_t tt = t;
    std::tm tm{};
    localtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

nlohmann::json entry_json(const queue::Entry& e) {
    nlohmann::json attempts = nlohmann::json::array();
    for (const auto& a : e.attempts)
        attempts.push_back({{"time", a.time}, {"status", a.status}, {"class", a.cls},
                            {"reply_code", a.reply_code}, {"reply", a.reply}, {"exit_code", a.exit_code}});
    return {{"id", e.id}, {"created", e.created}, {"profile", e.profile}, {"server", e.server},
            {"from", e.from}, {"recipients", e.recipients}, {"message_id", e.message_id},
            {"size", e.size}, {"first_failure", e.first_failure}, {"unconfirmed", e.unconfirmed},
            {"next_attempt", e.next_attempt}, {"attempts", attempts}};
}

// One connection (Session) per distinct plan: the entry's profile and the
// settings it recorded, under the flush's own flags.
struct Route {
    config::Loaded loaded;
    delivery::Policy policy;
    std::unique_ptr<delivery::Session> session;
};

using diagnosis::ExitCode;

// The log record of what became of an entry without an attempt.
log::Record entry_record(const queue::Entry& entry, const std::string& outcome, ExitCode code) {
    log::Record rec;
    rec.host = entry.server;
    rec.from = entry.from;
    rec.recipients = entry.recipients;
    rec.message_id = entry.message_id;
    rec.queue_id = entry.id;
    rec.outcome = outcome;
    rec.exit_code = static_cast<int>(code);
    return rec;
}

// The header block of a queued message (at most 64 KiB), for a bounce.
std::string header_block(message::MessageSource& source) {
    source.rewind();
    std::string out;
    char buf[8192];
    while (out.size() < (64 << 10)) {
        auto got = source.read(buf, sizeof buf);
        if (!got || *got == 0)
            break;
        out.append(buf, *got);
        if (auto end = out.find("\r\n\r\n"); end != std::string::npos) {
            out.resize(end + 2);
            break;
        }
    }
    return out.substr(0, 64 << 10);
}

// Root's flush first takes other users' mail from incoming/ into the queue
// (docs/sendmail.md, "Other users' mail"): the sender is the file's owner,
// the settings are root's own (never the submitter's); the entry goes
// through the normal flush below. Each entry is claimed first (renamed into
// root's claimed/ under the queue id it gets), then queued under that id,
// then its claim is removed: a message is in exactly one of incoming/,
// claimed/ or the queue, and a claim whose queue entry exists is never
// queued again (never sent twice). A refused one is reported (syslog and
// stderr) and never read again.
template <typename Problem>
void take_incoming(Io& io, const queue::Queue& q, const config::Loaded& flush_settings, long now,
                   const delivery::Hooks& hooks, Problem& problem) {
    auto opened = queue::Queue::open(q.dir(), now);
    if (!opened)
        return;
    // Created on the first flush of root's queue (incoming/ and incoming.tmp/
    // mode 1733, like Postfix's maildrop; claimed/ 0700), and the queue folder
    // made searchable (0711) to reach them.
    queue::create_incoming_dirs(q.dir());
    // One intake at a time (the timer and the path unit may overlap): an
    // entry is queued once.
    int lock = open((q.dir() + "/.incoming.lock").c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        if (lock >= 0)
            close(lock);
        return;
    }
    struct Unlock {
        int fd;
        ~Unlock() { close(fd); }
    } unlock{lock};
    auto in = queue::take_incoming(*opened, now);
    auto syslog = [&](const std::string& name, const std::string& outcome, const std::string& text,
                      const std::string& from) {
        log::Record rec;
        rec.queue_id = name.rfind("claimed/", 0) == 0 ? name : "incoming/" + name;
        rec.outcome = outcome;
        rec.from = from;
        rec.reply = text;
        if (auto w = log::write("syslog", rec); !w.empty())
            hooks.warn(w);
    };
    if (!in.status) {
        syslog("", "refused", in.status.error().message, "");
        queue::Entry none;
        none.id = "incoming";
        problem(none, in.status.error());
        return;
    }
    auto label = [](const std::string& name) { return name.rfind("claimed/", 0) == 0 ? name : "incoming/" + name; };
    for (const auto& r : in.refused) {
        syslog(r.name, "refused", r.reason + "; " + r.action, "");
        queue::Entry bad;
        bad.id = label(r.name);
        problem(bad, util::make_error("refused: " + r.reason + "; " + r.action, "", util::ErrorKind::io));
    }
    for (const auto& h : in.held)
        hooks.warn(h.name + ": " + h.reason + " (its queue entry is held until it is removed)");
    for (auto& t : in.taken) {
        const std::string name = t.name.empty() ? "claimed/" + t.claim : t.name;
        const passwd* pw = getpwuid(t.owner);
        queue::Entry e;
        e.id = label(name);
        auto refuse = [&](const util::Error& err) {
            std::string to = q.dir() + "/failed/incoming-" + (t.name.empty() ? t.claim : t.name) + ".bad";
            std::string from = queue::incoming_dirs(q.dir()).claimed + "/" + t.claim;
            std::string action = rename(from.c_str(), to.c_str()) == 0 ? "moved to " + to : "kept";
            syslog(name, "refused", err.message + "; " + action, pw ? pw->pw_name : "");
            problem(e, util::make_error("refused: " + err.message + "; " + action, err.hint, err.kind));
        };
        if (!pw) {
            refuse(util::make_error("its owner uid " + std::to_string(t.owner) + " is not in the user database", "",
                                    util::ErrorKind::io));
            continue;
        }
        message::MessageRequest req;
        req.complete_message = true;
        req.extract_recipients = t.submission.extract_recipients;
        req.ignore_dots = true; // the submitter applied -i when it read the message
        req.to = t.submission.recipients;
        req.full_name = t.submission.full_name;
        req.envelope_from = pw->pw_name; // qualified with `domain`
        message::ComposeContext ctx;
        ctx.hostname = util::local_hostname();
        ctx.notice_fd = -1;
        auto prepared = message::prepare_message(req, flush_settings.settings, ctx,
                                                 message::Spool::from_string(std::move(t.submission.message)));
        if (!prepared) {
            refuse(prepared.error());
            continue;
        }
        e.from = prepared->envelope.from;
        e.recipients = prepared->envelope.recipients;
        e.message_id = prepared->message_id;
        e.server = flush_settings.settings.server.value;
        e.first_failure = "from incoming/: submitted by " + std::string(pw->pw_name) + " (uid " +
                          std::to_string(t.owner) + ")";
        e.created = now;
        e.next_attempt = now;
        queue::Entry adding = e;
        adding.id = t.claim; // the claim names its queue entry
        auto id = opened->add(adding, *prepared->source, now);
        if (!id) {
            problem(e, id.error()); // kept in claimed/: the next flush queues it
            continue;
        }
        if (auto released = queue::release_claim(q.dir(), t.claim); !released)
            hooks.warn(released.error().message + " (it is queued as " + *id +
                       " and held until that file is removed)");
        syslog(name, "taken", "queued as " + *id, e.from);
        io.err << "smtpsend: " << output::printable(label(name)) << " from " << pw->pw_name << ": queued as " << *id
               << "\n";
    }
    if (in.left > 0 || in.unread) {
        std::string text = std::to_string(in.left) + " entries" + (in.unread ? " and names not read yet" : "") +
                           " left for the next flush";
        syslog("", "deferred", text, "");
        io.err << "smtpsend: incoming/: " << text << "\n";
    }
}

// One flush: oldest first.
int flush(const cli::Invocation& inv, Io& io, const delivery::Policy& base, const queue::Queue& q,
          const config::Loaded& flush_settings) {
    const long now = io.clock->unix_seconds();
    std::map<std::string, util::Result<Route>> routes;
    int delivered = 0, kept = 0, failed = 0, skipped = 0;
    auto worst = ExitCode::ok;
    auto hooks = output::delivery_hooks(io);
    auto emit = [&](const queue::Entry& entry, const std::string& outcome, const std::string& detail) {
        if (inv.json)
            io.out << util::json_text(nlohmann::json{{"id", entry.id},
                                                     {"outcome", outcome},
                                                     {"detail", detail},
                                                     {"recipients", entry.recipients}})
                   << "\n" << std::flush;
        else
            io.out << entry.id << "  " << outcome << "  " << output::printable(detail) << "\n";
    };
    // An entry that cannot be sent now (its settings, its files): reported, kept, the rest go on.
    auto problem = [&](const queue::Entry& entry, const util::Error& e) {
        auto d = diagnosis::local_failure(diagnosis::class_for_kind(e.kind), transport::Stage::config,
                                          e.message, e.hint);
        output::report_failure(io, output::Schema::queue, inv.json, d, entry.id);
        worst = diagnosis::worst(worst, d.exit_code);
        ++failed;
    };
    // An entry moved to failed/ is reported: one line to syslog always (and
    // to the log file when `log` is one); with sendmail -q also a bounce to
    // its sender, sent through deliver with the flush's own settings.
    std::unique_ptr<delivery::Session> bounce_session;
    auto given_up = [&](const queue::Entry& entry, const std::string& reason, const std::string& headers) {
        log::Record rec = entry_record(entry, "given-up", ExitCode::unavailable);
        rec.reply = reason;
        if (auto w = log::write("syslog", rec); !w.empty())
            hooks.warn(w);
        if (base.log != "syslog" && base.log != "none")
            if (auto w = log::write(base.log, rec); !w.empty())
                hooks.warn(w);
        if (!(inv.message.complete_message || inv.bounce) || entry.from.empty())
            return; // only sendmail -q bounces; a bounce (sender <>) is never bounced
        message::ComposeContext ctx;
        ctx.hostname = util::local_hostname();
        auto msg = message::compose_bounce({entry.from, entry.recipients, reason, headers}, ctx);
        if (!msg) {
            hooks.warn("no bounce for " + entry.id + ": " + msg.error().message);
            return;
        }
        if (!bounce_session) {
            auto plan = delivery::make_plan(flush_settings, io.env, ctx.hostname);
            if (!plan) {
                hooks.warn("no bounce for " + entry.id + ": " + plan.error().message);
                return;
            }
            bounce_session = std::make_unique<delivery::Session>(std::move(*plan),
                                                                 delivery::curl_transport_factory(), true);
        }
        auto job = delivery::job_for(*msg);
        auto result = delivery::deliver(job, *bounce_session, base, hooks);
        if (result.status == delivery::Status::sent)
            io.err << "smtpsend: " << entry.id << ": a bounce went to " << output::printable(entry.from) << "\n";
        else if (result.status != delivery::Status::queued)
            hooks.warn("the bounce for " + entry.id + " to " + entry.from + " failed" +
                       (result.diagnosis ? ": " + result.diagnosis->summary : std::string()));
    };
    if (geteuid() == 0)
        take_incoming(io, q, flush_settings, now, hooks, problem);
    auto scan = q.scan();
    if (!scan.status)
        return output::report_failure(io, output::Schema::queue, inv.json, scan.status.error());
    for (const auto& p : scan.problems) {
        queue::Entry bad;
        bad.id = p.id;
        problem(bad, util::make_error("a damaged entry, moved to failed/: " + p.reason,
                                      "`smtpsend queue drop " + p.id + "` removes it", util::ErrorKind::io));
    }
    for (auto entry : scan.entries) {
        if (!inv.profile.empty() && entry.profile != inv.profile)
            continue;
        // Taken from incoming/, its claim not removed yet: sent once that file is
        // gone (the next intake removes it), else a later intake would queue it again.
        if (queue::claim_pending(q.dir(), entry.id)) {
            problem(entry, util::make_error("held: its claim " + queue::incoming_dirs(q.dir()).claimed + "/" +
                                                entry.id + " cannot be removed yet",
                                            "it is sent once that file is removed", util::ErrorKind::io));
            continue;
        }
        auto lock = q.lock(entry.id);
        if (!lock) {
            ++skipped; // another flush holds it, or it is gone
            continue;
        }
        auto fresh = q.load(entry.id);
        if (!fresh) {
            problem(entry, fresh.error());
            continue;
        }
        entry = *fresh;
        if (now - entry.created > base.max_age) {
            std::string reason = "expired: queued for more than " + std::to_string(base.max_age / 3600) +
                                 " hours; first failure: " + entry.first_failure;
            std::string headers;
            if (auto source = q.open_message(entry.id))
                headers = header_block(**source);
            if (auto st = q.fail(entry, reason); !st) {
                problem(entry, st.error());
                continue;
            }
            log::Record rec = entry_record(entry, "expired", ExitCode::tempfail);
            if (auto w = log::write(base.log, rec); !w.empty())
                hooks.warn(w);
            emit(entry, "expired", reason);
            given_up(entry, reason, headers);
            ++failed;
            worst = diagnosis::worst(worst, ExitCode::tempfail);
            continue;
        }
        if (entry.next_attempt > now && !inv.flush_all) {
            ++skipped;
            continue;
        }
        std::string key = entry.profile;
        for (const auto& [k, v] : entry.settings)
            key += "\n" + k + "=" + v;
        auto it = routes.find(key);
        if (it == routes.end()) {
            util::Result<Route> route = [&]() -> util::Result<Route> {
                auto loaded = config::load_for_run(inv.settings, inv.config_path, entry.profile, io.env,
                                                   entry.settings, "queue entry " + entry.id);
                if (!loaded)
                    return loaded.error();
                auto plan = delivery::make_plan(*loaded, io.env, util::local_hostname());
                if (!plan) {
                    util::Error e = plan.error();
                    if (!entry.secrets.empty())
                        e.hint = "it was queued with " + util::join(entry.secrets, ", ") +
                                 ": give it to the flush the same way" + (e.hint.empty() ? "" : "; " + e.hint);
                    return e;
                }
                Route r{std::move(*loaded), {}, nullptr};
                r.policy = delivery::policy_for(r.loaded, io.env, inv.message.complete_message);
                r.session = std::make_unique<delivery::Session>(std::move(*plan),
                                                                delivery::curl_transport_factory(), true);
                r.session->set_on_line(output::verbose_printer(inv.verbose, io.err));
                return r;
            }();
            it = routes.emplace(key, std::move(route)).first;
        }
        if (!it->second) {
            util::Error e = it->second.error();
            e.message = "cannot send it: " + e.message;
            problem(entry, e);
            continue;
        }
        Route& route = *it->second;
        // Never send what cannot be recorded afterwards: it would go again.
        if (auto st = q.can_update(entry.id); !st) {
            problem(entry, st.error());
            continue;
        }
        auto source = q.open_message(entry.id);
        if (!source) {
            problem(entry, source.error());
            continue;
        }
        delivery::Job job;
        job.envelope = message::Envelope{entry.from, entry.recipients};
        job.message_id = entry.message_id;
        job.source = source->get();
        job.entry = entry;
        auto result = delivery::deliver(job, *route.session, route.policy, hooks);
        auto code = result.exit_code;
        if (result.status == delivery::Status::queued) {
            emit(*job.entry, "kept",
                 result.queue_reason + "; next attempt after " + when(job.entry->next_attempt));
            ++kept;
            code = diagnosis::worst(ExitCode::tempfail, code);
        } else if (result.status == delivery::Status::sent) {
            emit(entry, "delivered", "to " + util::join(result.accepted, ", "));
            ++delivered;
        } else {
            std::vector<std::string> refused;
            for (const auto& rej : result.rejected)
                refused.push_back(rej.address + " (" + rej.reply + ")");
            std::string reason = (result.diagnosis ? result.diagnosis->summary + "; " : std::string()) +
                                 "refused: " + util::join(refused, "; ");
            emit(entry, "failed", reason);
            auto still = q.load(entry.id);
            if (!result.rejected.empty() && !still && still.error().kind == util::ErrorKind::noinput) {
                // deliver moved it to failed/
                queue::Entry refused_entry = entry;
                refused_entry.recipients.clear();
                for (const auto& rej : result.rejected)
                    refused_entry.recipients.push_back(rej.address);
                given_up(refused_entry, reason, header_block(**source));
            }
            ++failed;
        }
        worst = diagnosis::worst(worst, code);
    }
    if (!inv.json)
        io.err << "smtpsend: queue flush: " << delivered << " delivered, " << kept << " kept, " << failed
               << " failed" << (skipped ? ", " + std::to_string(skipped) + " not due or busy" : "") << "\n";
    return static_cast<int>(worst);
}

} // namespace

int queue_command(const cli::Invocation& inv, Io& io) {
    using output::Schema;
    auto loaded = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded)
        return output::report_failure(io, Schema::queue, inv.json, loaded.error());
    output::print_warnings(io, loaded->warnings);
    auto policy = delivery::policy_for(*loaded, io.env, inv.message.complete_message);
    queue::Queue q(policy.queue_dir);
    switch (inv.command) {
    case cli::Command::list_queue: {
        auto scan = q.scan();
        if (!scan.status)
            return output::report_failure(io, Schema::queue, inv.json, scan.status.error());
        const auto& entries = scan.entries;
        if (inv.json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& e : entries)
                list.push_back(entry_json(e));
            for (const auto& p : scan.problems)
                list.push_back({{"id", p.id}, {"damaged", true}, {"reason", p.reason}});
            io.out << util::json_text(list, 2) << "\n";
            return 0;
        }
        for (const auto& p : scan.problems)
            io.out << p.id << "  damaged, moved to failed/: " << output::printable(p.reason) << "\n";
        if (entries.empty() && scan.problems.empty())
            io.out << "the queue is empty (" << q.dir() << ")\n";
        for (const auto& e : entries)
            io.out << e.id << "  " << when(e.created) << "  " << e.size << " bytes  <"
                   << output::printable(e.from) << "> -> " << output::printable(util::join(e.recipients, ", "))
                   << (e.unconfirmed ? "  (unconfirmed)" : "") << "\n"
                   << "    " << e.attempts.size() << " attempt(s); " << output::printable(e.first_failure)
                   << "\n";
        return 0;
    }
    case cli::Command::queue_show: {
        auto e = q.load(inv.queue_id);
        if (!e)
            return output::report_failure(io, Schema::queue, inv.json, e.error(), diagnosis::Class::noinput,
                                          inv.queue_id);
        io.out << util::json_text(entry_json(*e), 2) << "\n"; // JSON either way: it is the record
        return 0;
    }
    case cli::Command::queue_drop: {
        // Whatever its state: a damaged entry can be removed too. Its
        // incoming/ claim first: a claim without its entry would be queued again.
        if (auto st = queue::release_claim(q.dir(), inv.queue_id); !st)
            return output::report_failure(io, Schema::queue, inv.json, st.error(), diagnosis::Class::io,
                                          inv.queue_id);
        if (auto st = q.drop(inv.queue_id); !st)
            return output::report_failure(io, Schema::queue, inv.json, st.error(), diagnosis::Class::io,
                                          inv.queue_id);
        io.err << "smtpsend: dropped " << inv.queue_id << "\n";
        return 0;
    }
    case cli::Command::queue_flush:
        return flush(inv, io, policy, q, *loaded);
    default:
        return static_cast<int>(diagnosis::ExitCode::software);
    }
}

} // namespace smtpsend::app
