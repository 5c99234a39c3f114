#include "delivery/deliver.hpp"

#include "message/address.hpp"
#include "transport/probe.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <random>

namespace smtpsend::delivery {

using diagnosis::Diagnosis;
using diagnosis::ExitCode;
using transport::Outcome;
using transport::Stage;

TransportFactory curl_transport_factory() {
    return [](const transport::TransportOptions& o) { return transport::make_curl_transport(o); };
}

CapabilityProbe curl_capability_probe() {
    return [](const transport::TransportOptions& o) -> std::optional<transport::Capabilities> {
        transport::TransportOptions quiet = o;
        quiet.credentials = nullptr; // the capabilities are known before AUTH
        quiet.on_line = nullptr;
        auto report = transport::make_curl_probe(quiet)->open();
        if (!report.outcome.capabilities.seen)
            return std::nullopt;
        return report.outcome.capabilities;
    };
}

// --- Session ------------------------------------------------------------------

Session::Session(Plan plan, TransportFactory factory, bool reuse, CapabilityProbe probe)
    : plan_(std::move(plan)), factory_(std::move(factory)), probe_(std::move(probe)) {
    plan_.options.reuse_connection = reuse;
}

void Session::set_on_line(std::function<void(const transport::TranscriptLine&)> fn) {
    plan_.options.on_line = std::move(fn);
}

void Session::set_on_progress(std::function<void(uint64_t, uint64_t)> fn) {
    on_progress_ = std::move(fn);
    if (transport_)
        transport_->set_on_progress(on_progress_);
}

Attempt Session::send(const message::Envelope& envelope, message::MessageSource& source,
                      long max_transfer_ms) {
    // check_smtputf8 fails without SMTPUTF8 exactly when an address needs it.
    if (auto needs = message::check_smtputf8(envelope, false); !needs) {
        if (!smtputf8_ && probe_)
            if (auto caps = probe_(plan_.options))
                smtputf8_ = caps->smtputf8;
        if (smtputf8_ && !*smtputf8_) {
            Attempt a;
            a.outcome.status = Outcome::Status::failed;
            a.outcome.stage = Stage::mail;
            a.outcome.error = transport::NetError::local;
            a.diagnosis = diagnosis::local_failure(diagnosis::Class::input, Stage::mail, needs.error().message,
                                                   needs.error().hint);
            return a;
        }
    }
    if (!transport_) {
        transport_ = factory_(plan_.options);
        if (on_progress_)
            transport_->set_on_progress(on_progress_);
    }
    transport_->set_max_transfer_ms(max_transfer_ms);
    Attempt a;
    a.outcome = transport_->send(envelope, source);
    const Outcome& o = a.outcome;
    if (o.capabilities.seen)
        smtputf8_ = o.capabilities.smtputf8;
    diagnosis::Context ctx = plan_.context;
    ctx.credentials_configured = o.credentials_configured;
    ctx.auth_sent = o.auth_sent;
    ctx.tls_active = o.tls_active;
    ctx.capabilities = o.capabilities;
    ctx.message_size = o.body_bytes;
    ctx.from = envelope.from;
    auto local_part_utf8 = [](const std::string& address) {
        return !util::is_ascii(address.substr(0, address.rfind('@')));
    };
    for (const auto& r : envelope.recipients)
        if (local_part_utf8(r))
            ctx.utf8_address = r;
    if (local_part_utf8(envelope.from))
        ctx.utf8_address = envelope.from;
    using transport::NetError;
    if (o.error == NetError::cert_untrusted || o.error == NetError::cert_name ||
        o.error == NetError::cert_expired || o.error == NetError::cert_other) {
        transport::TransportOptions quiet = plan_.options;
        quiet.credentials = nullptr;
        quiet.on_line = nullptr;
        ctx.certificate = transport::fetch_certificate(quiet);
    }
    a.diagnosis = diagnosis::diagnose_outcome(o, ctx);
    return a;
}

// --- Verdicts -----------------------------------------------------------------

std::string verdict_name(Verdict v) {
    switch (v) {
    case Verdict::accepted: return "accepted";
    case Verdict::temporary: return "temporary";
    case Verdict::permanent: return "permanent";
    case Verdict::deferred: return "deferred";
    case Verdict::unconfirmed: return "unconfirmed";
    case Verdict::uncertain: return "uncertain";
    }
    return "?";
}

namespace {

// RFC 5321 4.5.3.1.10: a server that takes only so many recipients per
// transaction answers the rest with 452 (RFC 3463: 4.5.3).
bool too_many_recipients(const transport::Reply& r) {
    return r.code == 452 && (r.enhanced == "4.5.3" ||
                             util::to_lower(r.text()).find("too many recipients") != std::string::npos);
}

bool temporary(const Diagnosis& d) { return d.exit_code == ExitCode::tempfail; }

} // namespace

std::vector<RecipientVerdict> judge(const message::Envelope& envelope, const Attempt& attempt) {
    const Outcome& o = attempt.outcome;
    const bool delivered = o.status == Outcome::Status::sent || o.status == Outcome::Status::partial;
    std::vector<RecipientVerdict> out;
    for (size_t i = 0; i < envelope.recipients.size(); ++i) {
        RecipientVerdict v;
        v.address = envelope.recipients[i];
        const transport::RecipientResult* r = nullptr;
        if (i < o.recipients.size() && o.recipients[i].address == v.address)
            r = &o.recipients[i];
        if (r)
            v.reply = r->reply;
        if (r && r->uncertain && !(r->accepted && delivered))
            v.verdict = Verdict::uncertain; // (an uncertain acceptance still got the message)
        else if (r && r->accepted)
            v.verdict = delivered                                 ? Verdict::accepted
                        : o.status == Outcome::Status::unconfirmed ? Verdict::unconfirmed
                        : temporary(attempt.diagnosis)             ? Verdict::temporary
                                                                   : Verdict::permanent;
        else if (r && r->reply && too_many_recipients(*r->reply))
            v.verdict = Verdict::deferred;
        else if (r && r->reply && r->reply->code >= 400 && r->reply->code < 600)
            v.verdict = diagnosis::classify_reply(Stage::rcpt, *r->reply).temporary ? Verdict::temporary
                                                                                   : Verdict::permanent;
        else if (delivered) // a later transaction of a long list did not go through: owed
            v.verdict = Verdict::temporary;
        else // not reached: the attempt stopped before its RCPT
            v.verdict = temporary(attempt.diagnosis) ? Verdict::temporary : Verdict::permanent;
        out.push_back(std::move(v));
    }
    return out;
}

// --- Names, back-off, policy --------------------------------------------------

std::string status_name(Status s) {
    switch (s) {
    case Status::sent: return "sent";
    case Status::partial: return "partial";
    case Status::queued: return "queued";
    case Status::failed: return "failed";
    case Status::unconfirmed: return "unconfirmed";
    case Status::dry_run: return "dry-run";
    }
    return "?";
}

std::string server_queue_id(const transport::Reply& reply) {
    std::string text = reply.text();
    std::string lower = util::to_lower(text);
    auto at = lower.find("queued as ");
    if (at == std::string::npos)
        return "";
    at += 10;
    size_t end = at;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '-' ||
                                 text[end] == '.' || text[end] == '_' || text[end] == '@'))
        ++end;
    std::string id = text.substr(at, end - at);
    while (!id.empty() && id.back() == '.')
        id.pop_back();
    return id;
}

Policy policy_for(const config::Loaded& loaded, const util::Environment& env, bool sendmail_mode) {
    const auto& s = loaded.settings;
    Policy p;
    p.retries = s.retries.value;
    p.retry_wait = s.retry_wait.value;
    p.queue = s.queue.set ? s.queue.value : (sendmail_mode && s.queue_dir.set);
    p.queue_dir = s.queue_dir.set && !s.queue_dir.value.empty() ? s.queue_dir.value
                                                                : queue::default_dir(env);
    // sendmail mode logs to syslog unless `log` is set: cron shows only an exit status.
    p.log = s.log.set ? s.log.value : sendmail_mode ? "syslog" : s.log.value;
    p.max_time = s.max_time.value;
    p.max_age = s.max_age.value;
    return p;
}

long backoff_ms(long base_seconds, int n, long cap_seconds) {
    double ms = static_cast<double>(base_seconds) * 1000.0 * static_cast<double>(1L << std::clamp(n, 0, 20));
    ms = std::min(ms, static_cast<double>(cap_seconds) * 1000.0);
    static std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return static_cast<long>(ms * jitter(rng));
}

log::Record log_record(const Attempt& a, const std::string& server, const message::Envelope& envelope,
                       const std::string& message_id, const std::string& user,
                       const std::string& queue_id) {
    const auto& o = a.outcome;
    const auto& d = a.diagnosis;
    log::Record r;
    r.host = server;
    r.tls = o.tls_active ? "on" : "off";
    r.auth = o.auth_sent ? o.auth_mechanism : "";
    r.user = user;
    r.from = envelope.from;
    r.recipients = envelope.recipients;
    r.size = o.body_bytes;
    r.message_id = message_id;
    r.queue_id = queue_id;
    r.outcome = transport::status_name(o.status);
    r.cls = diagnosis::class_name(d.cls);
    if (d.reply) {
        r.reply_code = d.reply->code;
        r.enhanced = d.reply->enhanced;
        r.reply = d.reply->text();
    } else if (o.final_reply) {
        r.reply_code = o.final_reply->code;
        r.enhanced = o.final_reply->enhanced;
        r.reply = o.final_reply->text();
    }
    if (!d.summary.empty() && d.cls != diagnosis::Class::ok && !d.reply)
        r.reply = d.summary;
    r.exit_code = static_cast<int>(d.exit_code);
    r.ms = o.elapsed_ms;
    return r;
}

// --- deliver ------------------------------------------------------------------

Job job_for(message::PreparedMessage& message, Recorded recorded) {
    Job job;
    job.envelope = message.envelope;
    job.message_id = message.message_id;
    job.source = message.source.get();
    job.recorded = std::move(recorded);
    return job;
}

namespace {

std::string reply_line(const std::optional<transport::Reply>& reply, const Diagnosis& d) {
    return reply ? util::one_line(reply->text()) : d.summary;
}

std::string failure_text(const Diagnosis& d) {
    return d.summary + (d.reply ? " (" + util::one_line(d.reply->text()) + ")" : "");
}

queue::Attempt queue_attempt(const Attempt& a, long now) {
    const Diagnosis& d = a.diagnosis;
    return queue::Attempt{now,
                          transport::status_name(a.outcome.status),
                          diagnosis::class_name(d.cls),
                          d.reply ? d.reply->code : 0,
                          d.reply ? d.reply->enhanced : "",
                          reply_line(d.reply, d),
                          static_cast<int>(d.exit_code)};
}

// An envelope address must be one before it reaches the wire, whatever its
// source (flags, a profile, -t, a queue entry read back from disk).
std::optional<Diagnosis> check_envelope(const message::Envelope& e) {
    auto bad = [](const std::string& address) -> std::optional<Diagnosis> {
        auto st = message::check_addr_spec(address);
        if (st)
            return std::nullopt;
        return diagnosis::local_failure(diagnosis::Class::input, Stage::input,
                                        "refusing to send: " + st.error().message,
                                        "an envelope address must be local@domain without "
                                        "spaces, angle brackets or control characters");
    };
    if (!e.from.empty())
        if (auto d = bad(e.from))
            return d;
    for (const auto& r : e.recipients)
        if (auto d = bad(r))
            return d;
    return std::nullopt;
}

} // namespace

Result deliver(Job& job, Session& session, const Policy& policy, const Hooks& hooks) {
    const util::Clock& clock = *hooks.clock;
    const int64_t started = clock.now_ms();
    auto elapsed = [&] { return static_cast<long>(clock.now_ms() - started); };
    auto warn = [&](const std::string& w) {
        if (!w.empty() && hooks.warn)
            hooks.warn(w);
    };
    Result r;
    r.server = session.plan().server();
    const std::string& user = session.plan().credentials->user;
    const std::string entry_id = job.entry ? job.entry->id : "";

    if (auto bad = check_envelope(job.envelope)) {
        r.diagnosis = bad;
        r.exit_code = bad->exit_code;
        return r;
    }
    if (policy.dry_run) {
        if (hooks.on_dry_run)
            hooks.on_dry_run(job, r.server);
        r.status = Status::dry_run;
        return r;
    }

    // What decides the exit code, most severe first: a refusal for good, a
    // failure a retry can fix, then recipients that may have the message
    // (never sent again; reported only when nothing else failed).
    std::optional<Diagnosis> permanent, temporary_failure, uncertain_failure;
    bool unconfirmed = false;
    std::vector<std::string> owed = job.envelope.recipients;
    std::vector<queue::Attempt> history;
    const int allowed = 1 + static_cast<int>(std::max(0L, policy.retries));
    int retry = 0;
    for (bool first = true; !owed.empty(); first = false) {
        long budget = 0;
        if (policy.max_time > 0) {
            budget = policy.max_time * 1000 - elapsed();
            if (budget <= 0)
                break;
        }
        if (!first)
            job.source->rewind();
        message::Envelope envelope{job.envelope.from, owed};
        Attempt a = session.send(envelope, *job.source, budget);
        ++r.attempts;
        warn(log::write(policy.log, log_record(a, r.server, envelope, job.message_id, user, entry_id)));
        history.push_back(queue_attempt(a, clock.unix_seconds()));
        if (a.outcome.final_reply && a.outcome.final_reply->positive())
            r.final_reply = a.outcome.final_reply;

        owed.clear();
        std::vector<std::string> deferred;
        bool progress = false;
        for (auto& v : judge(envelope, a)) {
            switch (v.verdict) {
            case Verdict::accepted:
                r.accepted.push_back(v.address);
                progress = true;
                break;
            case Verdict::uncertain:
                // It may have the message: reported, never sent again.
                r.uncertain.push_back(v.address);
                r.rejected.push_back({v.address, v.reply ? "uncertain: " + util::one_line(v.reply->text())
                                                         : std::string("uncertain")});
                if (!uncertain_failure)
                    uncertain_failure = diagnosis::local_failure(
                        diagnosis::Class::protocol, Stage::rcpt,
                        "the server's replies to RCPT could not be matched to the recipients for sure "
                        "(it wrote a line that is not a reply); " + v.address +
                            " may or may not have the message, so it is not sent again",
                        "run with -v to see the dialogue; the server or a filter in front of it "
                        "breaks SMTP");
                break;
            case Verdict::deferred:
                deferred.push_back(v.address);
                break;
            case Verdict::unconfirmed:
                unconfirmed = true;
                owed.push_back(v.address);
                temporary_failure = a.diagnosis;
                break;
            case Verdict::temporary:
                owed.push_back(v.address);
                if (!temporary_failure || temporary(a.diagnosis)) {
                    if (temporary(a.diagnosis))
                        temporary_failure = a.diagnosis;
                    else if (v.reply)
                        temporary_failure = diagnosis::diagnose(Stage::rcpt, v.reply, transport::NetError::none,
                                                                session.plan().context);
                    else // delivered to others; a later transaction of a long list did not go through
                        temporary_failure = diagnosis::local_failure(
                            diagnosis::Class::network, Stage::rcpt,
                            "the message went to some recipients, but the transaction for the others "
                            "did not go through",
                            "they are retried (or queued with --queue)");
                }
                break;
            case Verdict::permanent:
                r.rejected.push_back({v.address, reply_line(v.reply, a.diagnosis)});
                if (!permanent)
                    permanent = !temporary(a.diagnosis) && a.diagnosis.cls != diagnosis::Class::ok
                                    ? a.diagnosis
                                    : diagnosis::diagnose(Stage::rcpt, v.reply, transport::NetError::none,
                                                          session.plan().context);
                break;
            }
        }
        if (!deferred.empty()) {
            // A further transaction on the same connection, at once: the
            // server took some; it takes the rest in later transactions.
            if (progress) {
                owed.insert(owed.begin(), deferred.begin(), deferred.end());
                continue;
            }
            for (const auto& d : deferred)
                owed.push_back(d);
            if (!temporary_failure)
                temporary_failure = a.diagnosis;
        }
        if (owed.empty() || unconfirmed) // a retry now could deliver it twice; the queue marks it
            break;
        if (retry + 1 >= allowed)
            break;
        long wait = backoff_ms(policy.retry_wait, retry, 300);
        // --max-time bounds the whole run: no retry that could not finish in it.
        if (policy.max_time > 0 && elapsed() + wait + 1000 > policy.max_time * 1000)
            break;
        ++retry;
        if (hooks.on_retry && temporary_failure)
            hooks.on_retry(r.attempts, allowed, wait, *temporary_failure);
        clock.sleep_ms(wait);
    }
    if (!owed.empty() && !temporary_failure) // the budget ran out before any attempt
        temporary_failure = diagnosis::local_failure(diagnosis::Class::network, Stage::connect,
                                                     "the --max-time budget ran out before the "
                                                     "message could be sent",
                                                     "raise max_time (--max-time)");
    r.elapsed_ms = elapsed();

    // The queue: a new entry for what is owed, or the flushed entry's new state.
    queue::Queue q(policy.queue_dir);
    const long now = clock.unix_seconds();
    if (job.entry) {
        queue::Entry& e = *job.entry;
        e.attempts.insert(e.attempts.end(), history.begin(), history.end());
        util::Status st = util::Ok{};
        if (!owed.empty()) {
            e.recipients = owed;
            e.unconfirmed = e.unconfirmed || unconfirmed;
            e.next_attempt = now + backoff_ms(queue_backoff_seconds, static_cast<int>(e.attempts.size()) - 2, 7200) / 1000;
            st = q.update(e);
            if (st) {
                r.queue_id = e.id;
                r.queue_reason = temporary_failure->summary;
            }
        } else if (!r.rejected.empty()) {
            std::vector<std::string> refused;
            for (const auto& rej : r.rejected)
                refused.push_back(rej.address + " (" + rej.reply + ")");
            st = q.fail(e, (r.accepted.empty() && permanent ? failure_text(*permanent) + "; " : std::string()) +
                               "refused: " + util::join(refused, "; "));
        } else {
            st = q.remove(e.id);
        }
        if (!st) {
            auto d = diagnosis::local_failure(diagnosis::Class::io, Stage::input,
                                              "cannot record the state of queue entry " + e.id + ": " +
                                                  st.error().message,
                                              st.error().hint);
            permanent = permanent ? permanent : d;
            warn(d.summary);
        }
    } else if (!owed.empty() && policy.queue) {
        queue::Entry e;
        e.profile = session.plan().profile;
        e.server = r.server;
        e.from = job.envelope.from;
        e.recipients = owed;
        e.message_id = job.message_id;
        e.first_failure = failure_text(*temporary_failure);
        e.unconfirmed = unconfirmed;
        e.next_attempt = now;
        e.attempts = history;
        e.settings = job.recorded.settings;
        e.secrets = job.recorded.secrets;
        job.source->rewind();
        auto id = q.add(std::move(e), *job.source, now);
        if (id) {
            r.queue_id = *id;
            r.queue_reason = temporary_failure->summary;
            log::Record rec;
            rec.host = r.server;
            rec.from = job.envelope.from;
            rec.recipients = owed;
            rec.message_id = job.message_id;
            rec.queue_id = *id;
            rec.outcome = "queued";
            rec.cls = diagnosis::class_name(temporary_failure->cls);
            warn(log::write(policy.log, rec));
        } else {
            // Never exit 0 without a delivery or a durable queue entry.
            warn("could not queue the message: " + id.error().message);
        }
    }

    if (!r.queue_id.empty()) {
        r.status = Status::queued;
        r.diagnosis = permanent;
        r.exit_code = permanent ? permanent->exit_code : ExitCode::ok;
        return r;
    }
    for (const auto& a : owed)
        r.rejected.push_back({a, reply_line(temporary_failure->reply, *temporary_failure)});
    if (owed.empty() && !permanent && !uncertain_failure) {
        r.status = Status::sent;
        return r;
    }
    // The most severe failure decides: a permanent one beats a temporary one.
    r.diagnosis = permanent ? permanent : !owed.empty() ? temporary_failure : uncertain_failure;
    r.exit_code = r.diagnosis->exit_code;
    r.status = !r.accepted.empty() ? Status::partial : unconfirmed ? Status::unconfirmed : Status::failed;
    return r;
}

} // namespace smtpsend::delivery
