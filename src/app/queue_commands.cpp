#include "app/queue_commands.hpp"
#include "util/json_text.hpp"

#include "app/policy.hpp"
#include "app/report.hpp"
#include "config/load.hpp"
#include "util/strings.hpp"

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

namespace smtpsend::app {

namespace {

using transport::Outcome;

util::Result<config::Loaded> load_for(const cli::Invocation& inv, Io& io, const std::string& profile) {
    return load_settings_for(inv.settings, inv.config_path, profile, io.env);
}

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

int report_error(Io& io, const util::Error& e, int code) {
    io.err << "smtpsend: " << e.message << "\n";
    if (!e.hint.empty())
        io.err << "hint: " << e.hint << "\n";
    return code;
}

// One flush: oldest first, one Sender (one connection) per profile.
int flush(const cli::Invocation& inv, Io& io, const config::Loaded& base, const queue::Queue& q) {
    const long now = static_cast<long>(std::time(nullptr));
    const Policy base_policy = policy_for(base, io.env, false);
    std::map<std::string, std::pair<config::Loaded, std::unique_ptr<Sender>>> senders;
    int delivered = 0, kept = 0, failed = 0, skipped = 0;
    int worst_permanent = 0;
    for (auto entry : q.list()) {
        if (!inv.profile.empty() && entry.profile != inv.profile)
            continue;
        auto lock = q.lock(entry.id);
        if (!lock) {
            ++skipped; // another flush holds it, or it is gone
            continue;
        }
        auto fresh = q.load(entry.id);
        if (!fresh)
            continue;
        entry = *fresh;
        auto emit = [&](const std::string& outcome, const std::string& detail) {
            if (inv.json)
                io.out << util::json_text(nlohmann::json{{"id", entry.id},
                                                         {"outcome", outcome},
                                                         {"detail", detail},
                                                         {"recipients", entry.recipients}})
                       << "\n";
            else
                io.out << entry.id << "  " << outcome << "  " << detail << "\n";
        };
        if (now - entry.created > base.settings.max_age.value) {
            std::string reason = "expired: queued for more than " +
                                 std::to_string(base.settings.max_age.value / 3600) +
                                 " hours; first failure: " + entry.first_failure;
            if (auto st = q.fail(entry, reason); !st)
                return report_error(io, st.error(), 74);
            log::Record rec;
            rec.host = entry.server;
            rec.from = entry.from;
            rec.recipients = entry.recipients;
            rec.message_id = entry.message_id;
            rec.queue_id = entry.id;
            rec.outcome = "expired";
            rec.exit_code = 75;
            log::write(base_policy.log, rec);
            emit("expired", reason);
            ++failed;
            worst_permanent = std::max(worst_permanent, 75);
            continue;
        }
        if (entry.next_attempt > now && !inv.flush_all) {
            ++skipped;
            continue;
        }
        auto it = senders.find(entry.profile);
        if (it == senders.end()) {
            auto loaded = load_for(inv, io, entry.profile);
            if (!loaded)
                return report_error(io, loaded.error(), 78);
            auto holder = std::make_pair(std::move(*loaded), std::unique_ptr<Sender>());
            it = senders.emplace(entry.profile, std::move(holder)).first;
            auto sender = Sender::create(it->second.first, io.env, util::local_hostname(),
                                         nullptr, /*reuse=*/true);
            if (!sender)
                return report_error(io, sender.error(), 78);
            it->second.second = std::move(*sender);
        }
        Sender& sender = *it->second.second;
        auto source = q.open_message(entry.id);
        if (!source)
            return report_error(io, source.error(), 74);
        message::Envelope envelope{entry.from, entry.recipients};
        Delivery d = sender.send(envelope, **source);
        const Outcome& o = d.outcome;
        if (auto w = log::write(policy_for(it->second.first, io.env, false).log,
                                log_record(d, envelope, entry.message_id, sender.user(), entry.id));
            !w.empty())
            io.err << "smtpsend: warning: " << w << "\n";
        queue::Attempt attempt{now, transport::status_name(o.status), diagnosis::class_name(d.diagnosis.cls),
                               d.diagnosis.reply ? d.diagnosis.reply->code : 0,
                               d.diagnosis.reply ? d.diagnosis.reply->enhanced : "",
                               d.diagnosis.reply ? util::one_line(d.diagnosis.reply->text()) : d.diagnosis.summary,
                               static_cast<int>(d.diagnosis.exit_code)};
        entry.attempts.push_back(attempt);
        std::vector<std::string> owed, refused;
        if (o.status == Outcome::Status::sent || o.status == Outcome::Status::partial) {
            for (const auto& r : o.recipients) {
                if (r.accepted || !r.reply)
                    continue;
                auto one = diagnosis::diagnose(transport::Stage::rcpt, r.reply, transport::NetError::none,
                                               diagnosis::Context{});
                if (one.exit_code == diagnosis::ExitCode::tempfail)
                    owed.push_back(r.address);
                else
                    refused.push_back(r.address + " (" + util::one_line(r.reply->text()) + ")");
            }
        } else if (d.diagnosis.exit_code == diagnosis::ExitCode::tempfail) {
            owed = entry.recipients;
            entry.unconfirmed = entry.unconfirmed || o.status == Outcome::Status::unconfirmed;
        }
        bool permanent = o.status == Outcome::Status::failed &&
                         d.diagnosis.exit_code != diagnosis::ExitCode::tempfail;
        if (permanent || (!refused.empty() && owed.empty())) {
            std::string reason = d.diagnosis.summary +
                                 (d.diagnosis.reply ? " (" + util::one_line(d.diagnosis.reply->text()) + ")" : "");
            if (!refused.empty())
                reason = "refused: " + util::join(refused, "; ");
            if (auto st = q.fail(entry, reason); !st)
                return report_error(io, st.error(), 74);
            emit("failed", reason);
            ++failed;
            worst_permanent = std::max(worst_permanent, static_cast<int>(d.diagnosis.exit_code));
        } else if (owed.empty()) {
            if (auto st = q.remove(entry.id); !st)
                return report_error(io, st.error(), 74);
            emit("delivered", "to " + util::join(entry.recipients, ", "));
            ++delivered;
        } else {
            entry.recipients = owed;
            long wait = std::max(300L, base.settings.retry_wait.value) *
                        (1L << std::min<size_t>(entry.attempts.size() - 1, 5));
            entry.next_attempt = now + std::min(wait, 7200L);
            if (auto st = q.update(entry); !st)
                return report_error(io, st.error(), 74);
            emit("kept", d.diagnosis.summary + "; next attempt after " + when(entry.next_attempt));
            ++kept;
        }
    }
    if (!inv.json)
        io.err << "smtpsend: queue flush: " << delivered << " delivered, " << kept << " kept, " << failed
               << " failed" << (skipped ? ", " + std::to_string(skipped) + " not due or busy" : "") << "\n";
    if (worst_permanent)
        return worst_permanent;
    return kept ? 75 : 0;
}

} // namespace

int run_queue(const cli::Invocation& inv, Io& io) {
    auto loaded = load_for(inv, io, inv.profile);
    if (!loaded)
        return report_error(io, loaded.error(), 78);
    Policy policy = policy_for(*loaded, io.env, inv.message.complete_message);
    queue::Queue q(policy.queue_dir);
    switch (inv.command) {
    case cli::Command::list_queue: {
        auto entries = q.list();
        if (inv.json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& e : entries)
                list.push_back(entry_json(e));
            io.out << util::json_text(list, 2) << "\n";
            return 0;
        }
        if (entries.empty())
            io.out << "the queue is empty (" << q.dir() << ")\n";
        for (const auto& e : entries)
            io.out << e.id << "  " << when(e.created) << "  " << e.size << " bytes  <" << e.from << "> -> "
                   << util::join(e.recipients, ", ") << (e.unconfirmed ? "  (unconfirmed)" : "") << "\n"
                   << "    " << e.attempts.size() << " attempt(s); " << e.first_failure << "\n";
        return 0;
    }
    case cli::Command::queue_show: {
        auto e = q.load(inv.queue_id);
        if (!e)
            return report_error(io, e.error(), 66);
        io.out << util::json_text(entry_json(*e), 2) << "\n"; // JSON either way: it is the record
        return 0;
    }
    case cli::Command::queue_drop: {
        auto e = q.load(inv.queue_id);
        if (!e)
            return report_error(io, e.error(), 66);
        auto lock = q.lock(inv.queue_id);
        if (!lock) {
            io.err << "smtpsend: " << inv.queue_id << " is being sent by a flush right now\n";
            return 75;
        }
        if (auto st = q.remove(inv.queue_id); !st)
            return report_error(io, st.error(), 74);
        io.err << "smtpsend: dropped " << inv.queue_id << "\n";
        return 0;
    }
    case cli::Command::queue_flush:
        return flush(inv, io, *loaded, q);
    default:
        return 70;
    }
}

} // namespace smtpsend::app
