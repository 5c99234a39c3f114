#include "app/policy.hpp"

#include "config/server_url.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <thread>

namespace smtpsend::app {

using transport::Outcome;

Policy policy_for(const config::Loaded& loaded, const util::Environment& env, bool sendmail_mode) {
    const auto& s = loaded.settings;
    Policy p;
    p.retries = s.retries.value;
    p.retry_wait = s.retry_wait.value;
    p.queue = s.queue.set ? s.queue.value : (sendmail_mode && s.queue_dir.set);
    p.queue_dir = s.queue_dir.set && !s.queue_dir.value.empty() ? s.queue_dir.value
                                                                : queue::default_dir(env);
    p.log = s.log.value;
    p.profile = loaded.profile;
    p.max_time = s.max_time.value;
    return p;
}

long backoff_ms(long base_seconds, int n) {
    double ms = static_cast<double>(base_seconds) * 1000.0 * static_cast<double>(1L << std::min(n, 16));
    ms = std::min(ms, 300000.0);
    static std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return static_cast<long>(ms * jitter(rng));
}

log::Record log_record(const Delivery& d, const message::Envelope& envelope,
                       const std::string& message_id, const std::string& user,
                       const std::string& queue_id) {
    const auto& o = d.outcome;
    log::Record r;
    r.host = d.server;
    r.tls = o.tls_active ? "on" : "off";
    r.auth = o.auth_sent ? o.auth_mechanism : "";
    r.user = user;
    r.from = envelope.from;
    r.recipients = envelope.recipients;
    r.size = o.body_bytes;
    r.message_id = message_id;
    r.queue_id = queue_id;
    r.outcome = transport::status_name(o.status);
    r.cls = diagnosis::class_name(d.diagnosis.cls);
    if (d.diagnosis.reply) {
        r.reply_code = d.diagnosis.reply->code;
        r.enhanced = d.diagnosis.reply->enhanced;
        r.reply = d.diagnosis.reply->text();
    } else if (o.final_reply) {
        r.reply_code = o.final_reply->code;
        r.enhanced = o.final_reply->enhanced;
        r.reply = o.final_reply->text();
    }
    if (!d.diagnosis.summary.empty() && d.diagnosis.cls != diagnosis::Class::ok && !d.diagnosis.reply)
        r.reply = d.diagnosis.summary;
    r.exit_code = static_cast<int>(d.diagnosis.exit_code);
    r.ms = o.elapsed_ms;
    return r;
}

SendRun send_with_policy(message::PreparedMessage& msg, Sender& the_sender, const Policy& policy,
                         std::ostream& warnings) {
    auto started = std::chrono::steady_clock::now();
    Sender* sender = &the_sender;
    SendRun run;
    run.server = sender->endpoint().curl_url();
    std::optional<diagnosis::Diagnosis> permanent, temporary;
    bool unconfirmed = false;
    const int max_attempts = 1 + static_cast<int>(policy.retries);
    auto elapsed_ms = [&] {
        return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count());
    };
    for (int attempt = 0; attempt < max_attempts && !msg.envelope.recipients.empty(); ++attempt) {
        if (attempt > 0) {
            long wait = backoff_ms(policy.retry_wait, attempt - 1);
            // --max-time bounds the whole run: no retry that could not finish in it.
            if (policy.max_time > 0 && elapsed_ms() + wait + 1000 > policy.max_time * 1000)
                break;
            if (policy.on_retry)
                policy.on_retry(attempt, wait, *temporary);
            std::this_thread::sleep_for(std::chrono::milliseconds(wait));
            msg.source->rewind();
        }
        if (policy.max_time > 0)
            sender->set_max_transfer_ms(std::max(1L, policy.max_time * 1000 - elapsed_ms()));
        Delivery d = sender->send(msg.envelope, *msg.source);
        ++run.attempts;
        if (auto w = log::write(policy.log, log_record(d, msg.envelope, msg.message_id,
                                                       sender->user(), ""));
            !w.empty())
            warnings << "smtpsend: warning: " << w << "\n";
        const Outcome& o = d.outcome;
        std::vector<std::string> owed;
        temporary.reset();
        if (o.status == Outcome::Status::sent || o.status == Outcome::Status::partial) {
            for (const auto& r : o.recipients) {
                if (r.accepted) {
                    run.accepted.push_back(r.address);
                    continue;
                }
                if (!r.reply) { // a later transaction of a long list did not go through
                    if (r.uncertain) { // it may have it: reported, never sent again
                        run.rejected.push_back({r.address, d.diagnosis.summary});
                        if (!permanent)
                            permanent = d.diagnosis;
                    } else { // not sent: owed
                        owed.push_back(r.address);
                        temporary = d.diagnosis;
                    }
                    continue;
                }
                auto one = diagnosis::diagnose(transport::Stage::rcpt, r.reply, transport::NetError::none,
                                               diagnosis::Context{});
                if (one.exit_code == diagnosis::ExitCode::tempfail) {
                    owed.push_back(r.address);
                    temporary = d.diagnosis;
                } else {
                    run.rejected.push_back({r.address, util::one_line(r.reply->text())});
                    if (!permanent)
                        permanent = d.diagnosis;
                }
            }
        } else if (d.diagnosis.exit_code == diagnosis::ExitCode::tempfail) {
            owed = msg.envelope.recipients;
            temporary = d.diagnosis;
            unconfirmed = o.status == Outcome::Status::unconfirmed;
        } else {
            permanent = d.diagnosis;
            for (const auto& r : o.recipients)
                run.rejected.push_back({r.address, r.reply ? util::one_line(r.reply->text())
                                                           : d.diagnosis.summary});
        }
        msg.envelope.recipients = owed;
        if (unconfirmed)
            break; // a retry now could deliver it twice; the queue marks it
    }

    run.elapsed_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - started)
                                           .count());
    const auto& owed = msg.envelope.recipients;
    if (!owed.empty() && temporary && policy.queue) {
        queue::Queue q(policy.queue_dir);
        queue::Entry e;
        e.profile = policy.profile;
        e.server = run.server;
        e.from = msg.envelope.from;
        e.recipients = owed;
        e.message_id = msg.message_id;
        e.first_failure = temporary->summary +
                          (temporary->reply ? " (" + util::one_line(temporary->reply->text()) + ")" : "");
        e.unconfirmed = unconfirmed;
        e.next_attempt = static_cast<long>(std::time(nullptr));
        e.attempts.push_back(queue::Attempt{static_cast<long>(std::time(nullptr)),
                                            unconfirmed ? "unconfirmed" : "failed",
                                            diagnosis::class_name(temporary->cls),
                                            temporary->reply ? temporary->reply->code : 0,
                                            temporary->reply ? temporary->reply->enhanced : "",
                                            temporary->reply ? util::one_line(temporary->reply->text()) : "",
                                            static_cast<int>(temporary->exit_code)});
        auto id = q.add(std::move(e), *msg.source);
        if (id) {
            run.queue_id = *id;
            run.queue_reason = temporary->summary;
            log::Record rec;
            rec.host = run.server;
            rec.from = msg.envelope.from;
            rec.recipients = owed;
            rec.message_id = msg.message_id;
            rec.queue_id = *id;
            rec.outcome = "queued";
            rec.cls = diagnosis::class_name(temporary->cls);
            rec.exit_code = 0;
            if (auto w = log::write(policy.log, rec); !w.empty())
                warnings << "smtpsend: warning: " << w << "\n";
        } else {
            // Never exit 0 without a delivery or a durable queue entry.
            warnings << "smtpsend: could not queue the message: " << id.error().message << "\n";
        }
    }
    if (!run.queue_id.empty()) {
        run.status = "queued";
        run.exit_code = permanent ? static_cast<int>(permanent->exit_code) : 0;
        run.diagnosis = permanent;
        return run;
    }
    for (const auto& a : owed)
        run.rejected.push_back({a, temporary && temporary->reply ? util::one_line(temporary->reply->text())
                                                                 : (temporary ? temporary->summary : "")});
    if (owed.empty() && !permanent) {
        run.status = "sent";
        run.exit_code = 0;
        return run;
    }
    // The most severe failure decides: a permanent one beats a temporary one.
    run.diagnosis = permanent ? permanent : temporary;
    run.exit_code = static_cast<int>(run.diagnosis->exit_code);
    run.status = !run.accepted.empty() ? "partial" : unconfirmed ? "unconfirmed" : "failed";
    return run;
}

} // namespace smtpsend::app
