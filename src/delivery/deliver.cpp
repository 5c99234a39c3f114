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
    return [](const transport::TransportOptions& o) {
        transport::TransportOptions quiet = o;
        quiet.credentials = nullptr; // the capabilities are known before AUTH
        quiet.on_line = nullptr;
        return transport::make_curl_probe(quiet)->open().outcome;
    };
}

PoolFactory curl_pool_factory() {
    return [](const transport::TransportOptions& o, size_t n) { return transport::make_curl_pool(o, n); };
}

// --- Session ------------------------------------------------------------------

Session::Session(Plan plan, TransportFactory factory, bool reuse, CapabilityProbe probe)
    : plan_(std::move(plan)), factory_(std::move(factory)), probe_(std::move(probe)) {
    plan_.options.reuse_connection = reuse;
    smtputf8_.resize(plan_.server_count());
    transports_.resize(plan_.server_count());
}

void Session::set_on_line(std::function<void(const transport::TranscriptLine&)> fn) {
    plan_.options.on_line = std::move(fn);
}

void Session::set_on_progress(std::function<void(uint64_t, uint64_t)> fn) {
    on_progress_ = std::move(fn);
    for (auto& t : transports_)
        if (t)
            t->set_on_progress(on_progress_);
}

std::optional<Attempt> Session::refuse_before_sending(const message::Envelope& envelope, size_t server) {
    server = std::min(server, smtputf8_.size() - 1);
    std::optional<bool>& smtputf8 = smtputf8_[server];
    // check_smtputf8 fails without SMTPUTF8 exactly when an address needs it.
    auto needs = message::check_smtputf8(envelope, false);
    if (needs)
        return std::nullopt;
    if (!smtputf8 && probe_) {
        transport::Outcome asked = probe_(plan_.options_for(server));
        if (asked.status != Outcome::Status::sent) // not reached: fails as the send would
            return attempt_for(envelope, std::move(asked), server);
        // Connected: no EHLO (a HELO server) is no SMTPUTF8.
        smtputf8 = asked.capabilities.seen && asked.capabilities.smtputf8;
    }
    if (!smtputf8 || *smtputf8)
        return std::nullopt;
    Attempt a;
    a.outcome.status = Outcome::Status::failed;
    a.outcome.stage = Stage::mail;
    a.outcome.error = transport::NetError::local;
    a.diagnosis = diagnosis::local_failure(diagnosis::Class::input, Stage::mail, needs.error().message,
                                           needs.error().hint);
    return a;
}

void Session::learn(const transport::Outcome& outcome, size_t server) {
    if (outcome.capabilities.seen)
        smtputf8_[std::min(server, smtputf8_.size() - 1)] = outcome.capabilities.smtputf8;
}

Attempt Session::send(const message::Envelope& envelope, message::MessageSource& source,
                      long max_transfer_ms, size_t server) {
    server = std::min(server, transports_.size() - 1);
    if (auto refused = refuse_before_sending(envelope, server))
        return std::move(*refused);
    auto& transport = transports_[server];
    if (!transport) {
        transport = factory_(plan_.options_for(server));
        if (on_progress_)
            transport->set_on_progress(on_progress_);
    }
    transport->set_max_transfer_ms(max_transfer_ms);
    auto outcome = transport->send(envelope, source);
    learn(outcome, server);
    return attempt_for(envelope, std::move(outcome), server);
}

Attempt Session::attempt_for(const message::Envelope& envelope, transport::Outcome outcome,
                             size_t server) const {
    Attempt a;
    a.outcome = std::move(outcome);
    const Outcome& o = a.outcome;
    server = std::min(server, plan_.server_count() - 1);
    diagnosis::Context ctx = plan_.context_for(server);
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
        transport::TransportOptions quiet = plan_.options_for(server);
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

Delivery::Delivery(Job& job, const Session& session, const Policy& policy, const Hooks& hooks)
    : job_(job), session_(session), policy_(policy), hooks_(hooks) {
    started_ = hooks_.clock->now_ms();
    r_.server = session_.plan().server();
    owed_ = job_.envelope.recipients;
    allowed_ = 1 + static_cast<int>(std::max(0L, policy_.retries));
}

long Delivery::elapsed() const { return static_cast<long>(hooks_.clock->now_ms() - started_); }

void Delivery::warn(const std::string& w) const {
    if (!w.empty() && hooks_.warn)
        hooks_.warn(w);
}

std::optional<Result> Delivery::begin() {
    if (auto bad = check_envelope(job_.envelope)) {
        r_.diagnosis = bad;
        r_.exit_code = bad->exit_code;
        return r_;
    }
    if (policy_.dry_run) {
        if (hooks_.on_dry_run)
            hooks_.on_dry_run(job_, r_.server);
        r_.status = Status::dry_run;
        return r_;
    }
    return std::nullopt;
}

bool Delivery::next(message::Envelope& envelope, long& budget_ms) {
    if (owed_.empty())
        return false;
    budget_ms = 0;
    if (policy_.max_time > 0) {
        budget_ms = policy_.max_time * 1000 - elapsed();
        if (budget_ms <= 0)
            return false;
    }
    if (!first_)
        job_.source->rewind();
    first_ = false;
    envelope = message::Envelope{job_.envelope.from, owed_};
    return true;
}

bool Delivery::may_fall_back(const Attempt& attempt) {
    const Outcome& o = attempt.outcome;
    if (o.status != Outcome::Status::failed || o.error == transport::NetError::local)
        return false;
    for (const auto& rcpt : o.recipients)
        if (rcpt.accepted || rcpt.uncertain || (rcpt.reply && rcpt.reply->code >= 500))
            return false; // taken, or refused for good by this server: never asked elsewhere
    if (o.reply && o.reply->code >= 500)
        return false;
    if (attempt.diagnosis.temporary)
        return true;
    // A failure of the connection itself, before the server said anything
    // it could mean for good.
    const bool connection_stage = o.stage == Stage::resolve || o.stage == Stage::connect ||
                                  o.stage == Stage::tls || o.stage == Stage::greeting ||
                                  o.stage == Stage::starttls;
    return connection_stage && !o.reply;
}

bool Delivery::nothing_accepted() const {
    return r_.accepted.empty() && r_.uncertain.empty() && !unconfirmed_;
}

bool Delivery::skip_server(const Diagnosis& why) {
    const Plan& plan = session_.plan();
    if (!nothing_accepted() || server_ + 1 >= plan.server_count())
        return false;
    // The reply as this message would have heard it: failed before its RCPT.
    Attempt as_heard;
    as_heard.outcome.status = Outcome::Status::failed;
    as_heard.outcome.stage = why.stage;
    as_heard.outcome.reply = why.reply;
    as_heard.diagnosis = why;
    if (!may_fall_back(as_heard))
        return false;
    round_.emplace_back(plan.server(server_), why);
    ++server_;
    return true;
}

std::optional<long> Delivery::record(const message::Envelope& envelope, const Attempt& attempt) {
    const util::Clock& clock = *hooks_.clock;
    const std::string& user = session_.plan().credentials->user;
    const std::string entry_id = job_.entry ? job_.entry->id : "";
    auto& r = r_;
    auto& owed = owed_;
    const Plan& plan = session_.plan();
    ++r.attempts;
    r.server = plan.server(server_);
    warn(log::write(policy_.log, log_record(attempt, r.server, envelope, job_.message_id, user, entry_id)));
    history_.push_back(queue_attempt(attempt, clock.unix_seconds()));

    // A connection that carried earlier messages (no greeting in this
    // transfer) ended by the server's per-connection limit before it took
    // anything of this one: the message goes again at once on a new
    // connection (a failure always drops the old one), without using a
    // retry (and before a fallback server: this one is not failing). Bounded,
    // so a server that says it on every connection fails it.
    // Any other 421 there that does not ask to slow down (Postfix's idle
    // "421 4.4.2 ... timeout exceeded") also ended the connection, not the message.
    const Outcome& o = attempt.outcome;
    const bool connection_ended =
        diagnosis::per_connection_limit(attempt.diagnosis) ||
        (o.reply && o.reply->code == 421 && !diagnosis::asks_to_slow_down(attempt.diagnosis));
    if (o.status == Outcome::Status::failed && o.stage == Stage::mail && !o.greeting && connection_ended &&
        reconnects_ < max_reconnects) {
        ++reconnects_;
        return 0L; // owed_ is still this envelope's recipients
    }
    reconnects_ = 0;

    // Fallback servers: the next one at once, while none has accepted
    // anything. The same envelope is still owed.
    Attempt a = attempt;
    if (plan.server_count() > 1) {
        const bool falls_back = nothing_accepted() && may_fall_back(attempt);
        if (falls_back)
            round_.emplace_back(r.server, attempt.diagnosis);
        if (falls_back && server_ + 1 < plan.server_count()) {
            ++server_;
            if (hooks_.on_fallback)
                hooks_.on_fallback(r.server, plan.server(server_), attempt.diagnosis);
            return 0L;
        }
        if (falls_back && round_.size() > 1) {
            // No server took it. While any server failed only for now, the
            // message waits (as a temporary failure of any MX defers mail):
            // the worst of the temporary failures decides; else the worst
            // of all (diagnosis::worst). Each is reported.
            const bool any_temporary = std::any_of(round_.begin(), round_.end(),
                                                   [](const auto& f) { return f.second.temporary; });
            const Diagnosis* decisive = nullptr;
            for (const auto& [server, d] : round_) {
                if (any_temporary && !d.temporary)
                    continue;
                if (!decisive || diagnosis::worst(decisive->exit_code, d.exit_code) != decisive->exit_code)
                    decisive = &d;
            }
            a.diagnosis = *decisive;
            r.server_failures = round_;
        }
        round_.clear();
        if (falls_back)
            server_ = 0; // every server failed: a retry walks the list again from the first
        // else the server that answered keeps the rest (the recipients still owed)
    }
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
            if (!uncertain_failure_)
                uncertain_failure_ = diagnosis::local_failure(
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
            unconfirmed_ = true;
            owed.push_back(v.address);
            temporary_failure_ = a.diagnosis;
            break;
        case Verdict::temporary:
            owed.push_back(v.address);
            if (!temporary_failure_ || temporary(a.diagnosis)) {
                if (temporary(a.diagnosis))
                    temporary_failure_ = a.diagnosis;
                else if (v.reply)
                    temporary_failure_ = diagnosis::diagnose(Stage::rcpt, v.reply, transport::NetError::none,
                                                            session_.plan().context);
                else // delivered to others; a later transaction of a long list did not go through
                    temporary_failure_ = diagnosis::local_failure(
                        diagnosis::Class::network, Stage::rcpt,
                        "the message went to some recipients, but the transaction for the others "
                        "did not go through",
                        "they are retried (or queued with --queue)");
            }
            break;
        case Verdict::permanent:
            r.rejected.push_back({v.address, reply_line(v.reply, a.diagnosis)});
            if (!permanent_)
                permanent_ = !temporary(a.diagnosis) && a.diagnosis.cls != diagnosis::Class::ok
                                ? a.diagnosis
                                : diagnosis::diagnose(Stage::rcpt, v.reply, transport::NetError::none,
                                                      session_.plan().context);
            break;
        }
    }
    if (!deferred.empty()) {
        // A further transaction on the same connection, at once: the
        // server took some; it takes the rest in later transactions.
        if (progress) {
            owed.insert(owed.begin(), deferred.begin(), deferred.end());
            return 0L;
        }
        for (const auto& d : deferred)
            owed.push_back(d);
        if (!temporary_failure_)
            temporary_failure_ = a.diagnosis;
    }
    if (owed.empty() || unconfirmed_) // a retry now could deliver it twice; the queue marks it
        return std::nullopt;
    if (retry_ + 1 >= allowed_)
        return std::nullopt;
    long wait = backoff_ms(policy_.retry_wait, retry_, 300);
    // --max-time bounds the whole run: no retry that could not finish in it.
    if (policy_.max_time > 0 && elapsed() + wait + 1000 > policy_.max_time * 1000)
        return std::nullopt;
    ++retry_;
    if (hooks_.on_retry && temporary_failure_)
        hooks_.on_retry(retry_, allowed_, wait, // real retries only: resends on a new connection are not
                        *temporary_failure_);
    return wait;
}

Result Delivery::finish() {
    const util::Clock& clock = *hooks_.clock;
    auto& r = r_;
    auto& owed = owed_;
    if (!owed.empty() && !temporary_failure_) // the budget ran out before any attempt
        temporary_failure_ = diagnosis::local_failure(diagnosis::Class::network, Stage::connect,
                                                     "the --max-time budget ran out before the "
                                                     "message could be sent",
                                                     "raise max_time (--max-time)");
    r.elapsed_ms = elapsed();

    // The queue: a new entry for what is owed, or the flushed entry's new state.
    queue::Queue q(policy_.queue_dir);
    const long now = clock.unix_seconds();
    if (job_.entry) {
        queue::Entry& e = *job_.entry;
        e.attempts.insert(e.attempts.end(), history_.begin(), history_.end());
        util::Status st = util::Ok{};
        if (!owed.empty()) {
            e.recipients = owed;
            e.unconfirmed = e.unconfirmed || unconfirmed_;
            e.next_attempt = now + backoff_ms(queue_backoff_seconds, static_cast<int>(e.attempts.size()) - 2, 7200) / 1000;
            st = q.update(e);
            if (st) {
                r.queue_id = e.id;
                r.queue_reason = temporary_failure_->summary;
            }
        } else if (!r.rejected.empty()) {
            std::vector<std::string> refused;
            for (const auto& rej : r.rejected)
                refused.push_back(rej.address + " (" + rej.reply + ")");
            st = q.fail(e, (r.accepted.empty() && permanent_ ? failure_text(*permanent_) + "; " : std::string()) +
                               "refused: " + util::join(refused, "; "));
        } else {
            st = q.remove(e.id);
        }
        if (!st) {
            auto d = diagnosis::local_failure(diagnosis::Class::io, Stage::input,
                                              "cannot record the state of queue entry " + e.id + ": " +
                                                  st.error().message,
                                              st.error().hint);
            permanent_ = permanent_ ? permanent_ : d;
            warn(d.summary);
        }
    } else if (!owed.empty() && policy_.queue) {
        queue::Entry e;
        e.profile = session_.plan().profile;
        e.server = r.server;
        e.from = job_.envelope.from;
        e.recipients = owed;
        e.message_id = job_.message_id;
        e.first_failure = failure_text(*temporary_failure_);
        e.unconfirmed = unconfirmed_;
        e.next_attempt = now;
        e.attempts = history_;
        e.settings = job_.recorded.settings;
        e.secrets = job_.recorded.secrets;
        job_.source->rewind();
        auto id = q.add(std::move(e), *job_.source, now);
        if (id) {
            r.queue_id = *id;
            r.queue_reason = temporary_failure_->summary;
            log::Record rec;
            rec.host = r.server;
            rec.from = job_.envelope.from;
            rec.recipients = owed;
            rec.message_id = job_.message_id;
            rec.queue_id = *id;
            rec.outcome = "queued";
            rec.cls = diagnosis::class_name(temporary_failure_->cls);
            warn(log::write(policy_.log, rec));
        } else {
            // Never exit 0 without a delivery or a durable queue entry.
            warn("could not queue the message: " + id.error().message);
        }
    }

    if (!r.queue_id.empty()) {
        r.status = Status::queued;
        r.diagnosis = permanent_;
        r.exit_code = permanent_ ? permanent_->exit_code : ExitCode::ok;
        return r;
    }
    for (const auto& a : owed)
        r.rejected.push_back({a, reply_line(temporary_failure_->reply, *temporary_failure_)});
    if (owed.empty() && !permanent_ && !uncertain_failure_) {
        r.status = Status::sent;
        return r;
    }
    // The most severe failure decides: a permanent_ one beats a temporary one.
    r.diagnosis = permanent_ ? permanent_ : !owed.empty() ? temporary_failure_ : uncertain_failure_;
    r.exit_code = r.diagnosis->exit_code;
    r.status = !r.accepted.empty() ? Status::partial : unconfirmed_ ? Status::unconfirmed : Status::failed;
    return r;
}


Result deliver(Job& job, Session& session, const Policy& policy, const Hooks& hooks) {
    Delivery d(job, session, policy, hooks);
    if (auto early = d.begin())
        return *early;
    message::Envelope envelope;
    long budget = 0;
    while (d.next(envelope, budget)) {
        Attempt a = session.send(envelope, *job.source, budget, d.server());
        auto wait = d.record(envelope, a);
        if (!wait)
            break;
        if (*wait > 0)
            hooks.clock->sleep_ms(*wait);
    }
    return d.finish();
}

// --- Parallel -----------------------------------------------------------------

struct Parallel::Item {
    Job job;
    Hooks hooks;
    std::shared_ptr<void> keep;
    std::function<void(const Result&)> report;
    std::function<void()> report_only;
    std::unique_ptr<Delivery> delivery;
    std::optional<Result> result;
    message::Envelope envelope; // of the attempt in progress
    int64_t not_before = 0;     // a retry's back-off, on the clock
    bool running = false;
    bool settled() const { return result.has_value() || report_only != nullptr; }
};

long RateLimiter::wait_ms() const {
    if (interval_ms_ <= 0 || next_ms_ < 0)
        return 0;
    double left = next_ms_ - static_cast<double>(clock_->now_ms());
    return left > 0 ? static_cast<long>(left + 0.999) : 0;
}

void RateLimiter::take() {
    double now = static_cast<double>(clock_->now_ms());
    next_ms_ = std::max(now, next_ms_) + interval_ms_;
}

Parallel::Parallel(Session& session, PoolFactory factory, size_t connections, Policy policy,
                   double rate, long max_per_connection)
    : session_(session), factory_(std::move(factory)), connections_(std::max<size_t>(1, connections)),
      policy_(std::move(policy)), lanes_(session.plan().server_count()), rate_(rate),
      max_per_connection_(max_per_connection) {
    for (auto& lane : lanes_) {
        lane.slots.assign(connections_, nullptr);
        lane.sent_on.assign(connections_, 0);
        lane.active = connections_;
    }
}

Parallel::~Parallel() = default;

void Parallel::add(Job job, Hooks hooks, std::shared_ptr<void> keep,
                   std::function<void(const Result&)> report) {
    auto item = std::make_unique<Item>();
    item->job = std::move(job);
    item->hooks = std::move(hooks);
    item->keep = std::move(keep);
    item->report = std::move(report);
    clock_ = item->hooks.clock;
    item->delivery = std::make_unique<Delivery>(item->job, session_, policy_, item->hooks);
    item->result = item->delivery->begin();
    items_.push_back(std::move(item));
    emit();
    // A bounded window: memory stays flat however long the batch.
    while (items_.size() > 2 * connections_ + 1)
        pump();
}

void Parallel::add_report(std::function<void()> report) {
    auto item = std::make_unique<Item>();
    item->report_only = std::move(report);
    items_.push_back(std::move(item));
    emit();
}

void Parallel::drain() {
    while (!items_.empty())
        pump();
}

void Parallel::emit() {
    size_t n = 0;
    while (n < items_.size() && items_[n]->settled()) {
        Item& it = *items_[n];
        if (it.report_only)
            it.report_only();
        else
            it.report(*it.result);
        ++n;
    }
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(n));
}

void Parallel::note(size_t server, const Attempt& a) {
    Lane& lane = lanes_.at(server);
    const int64_t now = clock_->now_ms();
    if (diagnosis::asks_to_slow_down(a.diagnosis)) {
        lane.sent_since_slow_down = 0;
        if (lane.paused_until > now)
            return; // the same slow-down, heard on another connection to this server
        long pause = backoff_ms(policy_.retry_wait, lane.slow_downs++, 300);
        lane.active = std::max<size_t>(1, lane.active / 2);
        lane.paused_until = now + pause;
        lane.why = a.diagnosis;
        // The connections no longer used are closed (they hold a login).
        if (lane.pool)
            for (size_t i = lane.active; i < lane.slots.size(); ++i)
                if (!lane.slots[i])
                    lane.pool->reconnect(i);
        if (on_slow_down_)
            on_slow_down_(server, a.diagnosis, lane.active, pause);
        return;
    }
    if (a.diagnosis.cls == diagnosis::Class::ok && lane.active < connections_ &&
        ++lane.sent_since_slow_down >= recover_after) {
        ++lane.active;
        lane.sent_since_slow_down = 0;
    }
}

void Parallel::record(Item& it, const Attempt& a) {
    auto wait_ms = it.delivery->record(it.envelope, a);
    if (!wait_ms)
        it.result = it.delivery->finish();
    else
        it.not_before = clock_->now_ms() + *wait_ms;
}

void Parallel::pump() {
    // Free connections take the first messages waiting, in input order;
    // each message goes to the connections of the server its Delivery is on.
    // A server that asked to slow down takes nothing before its pause ends;
    // its messages go on to the next server where the fallback rule lets them.
    const int64_t now = clock_->now_ms();
    int64_t next_due = -1;
    auto due_at = [&next_due](int64_t t) { next_due = next_due < 0 ? t : std::min(next_due, t); };
    for (auto& p : items_) {
        Item& it = *p;
        if (it.settled() || it.running)
            continue;
        if (it.not_before > now) {
            due_at(it.not_before);
            continue;
        }
        size_t at = std::min(it.delivery->server(), lanes_.size() - 1);
        while (lanes_[at].paused_until > now && it.delivery->skip_server(lanes_[at].why))
            at = std::min(it.delivery->server(), lanes_.size() - 1);
        Lane& lane = lanes_[at];
        if (lane.paused_until > now) {
            due_at(lane.paused_until); // slowed down, and it may not go elsewhere: it waits
            continue;
        }
        const auto in_use = lane.slots.begin() + static_cast<std::ptrdiff_t>(lane.active);
        auto free = std::find(lane.slots.begin(), in_use, nullptr);
        if (free == in_use)
            continue; // its server's connections are busy; another server's may not be
        if (rate_ > 0 && !limiter_)
            limiter_.emplace(rate_, *clock_);
        if (limiter_) {
            if (long w = limiter_->wait_ms(); w > 0) {
                due_at(clock_->now_ms() + w);
                break;
            }
        }
        long budget = 0;
        if (!it.delivery->next(it.envelope, budget)) {
            it.result = it.delivery->finish();
            continue;
        }
        const size_t server = static_cast<size_t>(&lane - lanes_.data());
        if (auto refused = session_.refuse_before_sending(it.envelope, server)) {
            record(it, *refused); // as a single send refuses it (no connection is taken)
            continue;
        }
        if (!lane.pool)
            lane.pool = factory_(session_.plan().options_for(server), connections_);
        size_t slot = static_cast<size_t>(free - lane.slots.begin());
        if (max_per_connection_ > 0 && lane.sent_on[slot] >= max_per_connection_) {
            lane.pool->reconnect(slot); // --max-per-connection: a new connection, a new login
            lane.sent_on[slot] = 0;
        }
        *free = &it;
        it.running = true;
        if (limiter_)
            limiter_->take();
        lane.pool->start(slot, it.envelope, *it.job.source, budget);
    }
    auto busy = [](const Lane& lane) {
        return std::any_of(lane.slots.begin(), lane.slots.end(), [](Item* i) { return i != nullptr; });
    };
    const auto busy_lanes = std::count_if(lanes_.begin(), lanes_.end(), busy);
    if (busy_lanes > 0) {
        long wait = next_due < 0 ? -1 : static_cast<long>(std::max<int64_t>(0, next_due - clock_->now_ms()));
        if (busy_lanes > 1) // one lane must not hold up the others' transfers
            wait = wait < 0 ? 20 : std::min(wait, 20L);
        if (on_tick_)
            wait = wait < 0 ? tick_ms_ : std::min(wait, tick_ms_);
        for (size_t server = 0; server < lanes_.size(); ++server) {
            Lane& lane = lanes_[server];
            if (!busy(lane))
                continue;
            for (auto& [slot, outcome] : lane.pool->run(wait)) {
                Item& it = *lane.slots.at(slot);
                lane.slots[slot] = nullptr;
                ++lane.sent_on[slot];
                if (slot >= lane.active)
                    lane.pool->reconnect(slot); // slowed down: this connection is no longer used
                it.running = false;
                session_.learn(outcome, server);
                Attempt a = session_.attempt_for(it.envelope, std::move(outcome), server);
                note(server, a);
                record(it, a);
            }
        }
    } else if (next_due >= 0) {
        long wait = static_cast<long>(std::max<int64_t>(0, next_due - clock_->now_ms()));
        clock_->sleep_ms(on_tick_ ? std::min(wait, tick_ms_) : wait);
    }
    emit();
    if (on_tick_)
        on_tick_();
}

} // namespace smtpsend::delivery
