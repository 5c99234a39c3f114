// The one delivery pipeline. Every mode that sends calls deliver(): the send
// command, each batch message, each queue entry of a flush and each
// transaction of sendmail -bs. It applies the policy (retries with back-off,
// the --max-time budget, the queue, the attempt log) and returns one Result
// with per-recipient verdicts computed once (judge).
#pragma once

#include "delivery/plan.hpp"
#include "log/attempt_log.hpp"
#include "message/compose.hpp"
#include "queue/queue.hpp"
#include "transport/transport.hpp"
#include "util/system.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smtpsend::delivery {

// Makes the transport for a plan. A seam: unit tests pass a recording fake,
// the program passes curl_transport_factory().
using TransportFactory =
    std::function<std::unique_ptr<transport::Transport>(const transport::TransportOptions&)>;
TransportFactory curl_transport_factory();

// Asks the server what it offers (EHLO) without sending anything: the
// outcome of connecting (status sent: connected, with the capabilities its
// EHLO showed; failed: why it could not be asked). A seam like
// TransportFactory.
using CapabilityProbe = std::function<transport::Outcome(const transport::TransportOptions&)>;
CapabilityProbe curl_capability_probe();

// What one attempt produced.
struct Attempt {
    transport::Outcome outcome;
    diagnosis::Diagnosis diagnosis; // Class::ok when sent
};

// One plan and one transport; with `reuse`, one connection (one login) for
// as long as the server keeps it. The transport is made at the first send,
// so a Session that never sends never connects.
class Session {
  public:
    Session(Plan plan, TransportFactory factory, bool reuse = false,
            CapabilityProbe probe = curl_capability_probe());
    // -v: each dialogue line; empty for none.
    void set_on_line(std::function<void(const transport::TranscriptLine&)> fn);
    // Upload progress (a progress bar); empty for none.
    void set_on_progress(std::function<void(uint64_t sent, uint64_t total)> fn);
    // One attempt, bounded to `max_transfer_ms` (0: no bound). An envelope
    // address with a non-ASCII local part needs SMTPUTF8: when the server's
    // capabilities are not known yet they are asked first (libcurl sends
    // MAIL right after EHLO), and without SMTPUTF8 the attempt fails (input,
    // exit 65) before MAIL: such an address is never sent raw. When they
    // cannot be asked, the attempt fails as that connection did (a retry, the
    // next server or the queue), without sending.
    // `server`: the index in the plan's server list (0: the first); each
    // server has its own connection.
    Attempt send(const message::Envelope& envelope, message::MessageSource& source,
                 long max_transfer_ms, size_t server = 0);
    // send()'s check before sending, for a caller that sends through
    // another transport (a Pool): the failed Attempt (input, 65, before
    // MAIL) when an address needs SMTPUTF8 and server `server` lacks it
    // (asked once when not known yet), or the failed connection when it
    // could not be asked; else nothing.
    std::optional<Attempt> refuse_before_sending(const message::Envelope& envelope, size_t server = 0);
    // Keeps what an outcome's EHLO showed (SMTPUTF8) of server `server`.
    void learn(const transport::Outcome& outcome, size_t server = 0);
    // The Attempt of an outcome another transport (a Pool) gave for
    // `envelope` under this plan, from server `server`: diagnosed as send()
    // diagnoses.
    Attempt attempt_for(const message::Envelope& envelope, transport::Outcome outcome,
                        size_t server = 0) const;
    const Plan& plan() const { return plan_; }

  private:
    Plan plan_;
    TransportFactory factory_;
    CapabilityProbe probe_;
    std::vector<std::optional<bool>> smtputf8_; // what each server said, once known
    std::vector<std::unique_ptr<transport::Transport>> transports_; // one per server, made at need
    std::function<void(uint64_t, uint64_t)> on_progress_;
};

// What became of one recipient in one attempt.
enum class Verdict {
    accepted,    // the server took the message for it
    temporary,   // refused or not reached for a reason that may pass: retry or queue
    permanent,   // refused for good
    deferred,    // "452 too many recipients": send in a further transaction now
    unconfirmed, // accepted at RCPT, but the reply to the message never came
    uncertain,   // the server's replies could not be matched to recipients
};
std::string verdict_name(Verdict v);

struct RecipientVerdict {
    std::string address;
    Verdict verdict = Verdict::temporary;
    std::optional<transport::Reply> reply; // the server's reply for it, if any
};

// The verdict of each envelope recipient after one attempt: by its own RCPT
// reply where it has one, otherwise by the attempt's diagnosis.
std::vector<RecipientVerdict> judge(const message::Envelope& envelope, const Attempt& attempt);

enum class Status { sent, partial, queued, failed, unconfirmed, dry_run };
// "sent", "partial", "queued", "failed", "unconfirmed", "dry-run" (--json "status").
std::string status_name(Status s);

struct Rejection {
    std::string address;
    std::string reply; // the server's reply on one line, or the summary without one
};

struct Result {
    Status status = Status::failed;
    diagnosis::ExitCode exit_code = diagnosis::ExitCode::ok;
    std::optional<diagnosis::Diagnosis> diagnosis; // the failure that decides the exit code
    std::vector<std::string> accepted;             // over all attempts
    std::vector<Rejection> rejected;               // for good, or still owed when not queued
    std::vector<std::string> uncertain;            // may have been accepted; never sent again
    std::optional<transport::Reply> final_reply;   // the server's reply to the message
    std::string queue_id;                          // the entry that holds what is owed
    std::string queue_reason;
    std::string server;                            // smtp://host:port that took it (else the last tried)
    // With fallback servers, when none took the message: each server's
    // failure in the order tried (the worst decides `diagnosis`).
    std::vector<std::pair<std::string, diagnosis::Diagnosis>> server_failures;
    int attempts = 0;
    long elapsed_ms = 0;
};

// The "queued as X" id in a reply to the message ("250 2.0.0 Ok: queued as
// 86F1EF484EC"), or "".
std::string server_queue_id(const transport::Reply& reply);

struct Policy {
    long retries = 2;
    long retry_wait = 5;   // seconds; see backoff_ms
    bool queue = false;
    std::string queue_dir;
    std::string log = "none"; // none, syslog or a file
    long max_time = 0;     // seconds for all attempts (0: none)
    long max_age = 432000; // seconds an entry may wait in the queue
    bool dry_run = false;  // show, never send
};

// The policy for these settings. `sendmail_mode` turns the queue on by
// default when a queue folder is configured.
Policy policy_for(const config::Loaded& loaded, const util::Environment& env, bool sendmail_mode);

// The one back-off rule: milliseconds to wait before retry `n` (0-based),
// `base_seconds` doubled n times, at most `cap_seconds`, ±20 % jitter.
// Within a run the base is retry_wait (cap 5 minutes); a queue entry's next
// attempt uses queue_backoff_seconds (5, 10, 20 ... minutes, cap 2 hours).
long backoff_ms(long base_seconds, int n, long cap_seconds);
constexpr long queue_backoff_seconds = 300;

// One message to deliver.
struct Job {
    message::Envelope envelope;
    std::string message_id;
    message::MessageSource* source = nullptr;
    Recorded recorded;                 // what a new queue entry records
    std::optional<queue::Entry> entry; // a queue entry being flushed: its state is updated
};

// The job for a composed message; `recorded` is what a queue entry of it
// would replay. The message must outlive the job.
Job job_for(message::PreparedMessage& message, Recorded recorded = {});

// What deliver tells the caller while it works.
struct Hooks {
    const util::Clock* clock = &util::system_clock();
    std::function<void(const std::string&)> warn; // a log or queue problem that does not stop it
    // Before each wait: the attempt that failed (1-based), all attempts allowed, the wait.
    std::function<void(int attempt, int attempts, long wait_ms, const diagnosis::Diagnosis&)> on_retry;
    // --dry-run: show the message instead of sending it.
    std::function<void(const Job& job, const std::string& server)> on_dry_run;
    // A server of the list failed before any recipient was accepted: the
    // next one is tried at once.
    std::function<void(const std::string& failed, const std::string& next, const diagnosis::Diagnosis&)>
        on_fallback;
};

// Delivers one message through `session` under `policy`.
Result deliver(Job& job, Session& session, const Policy& policy, const Hooks& hooks);

// deliver() in steps, for a caller that runs the attempts itself (the
// batch over several connections): the same decisions, whoever sends.
//   begin()    nothing to send (a bad envelope, a dry run): the Result;
//   next()     the envelope and the --max-time budget of the next attempt,
//              false when there is none; server() is the server to send to;
//   record()   the attempt's outcome judged: the wait before the next
//              attempt (0: at once), or nothing when it is settled;
//   finish()   the queue and the Result.
class Delivery {
  public:
    Delivery(Job& job, const Session& session, const Policy& policy, const Hooks& hooks);
    std::optional<Result> begin();
    bool next(message::Envelope& envelope, long& budget_ms);
    std::optional<long> record(const message::Envelope& envelope, const Attempt& attempt);
    Result finish();
    Job& job() { return job_; }
    // The index in the plan's server list of the next attempt's server.
    size_t server() const { return server_; }

    // The fallback rule: whether a failed attempt lets the next server of
    // the list be tried. Only when the attempt got no recipient accepted
    // (never a duplicate), and the failure is of the connection (DNS,
    // refused, timeout, TLS handshake) or temporary (a 4xx greeting, MAIL
    // or RCPT); never after a permanent (5xx) reply.
    static bool may_fall_back(const Attempt& attempt);
    // The batch over several connections: the next attempt's server has
    // paused its connections after a rate reply (`why`, to another
    // message). Moves this message on to the next server of the list, as
    // if it had heard `why` itself, when the fallback rule (may_fall_back)
    // allows it: nothing accepted yet and a server after this one. No
    // attempt is made or logged; the skipped server's `why` is listed with
    // the others when none takes the message. False: it waits for that server.
    bool skip_server(const diagnosis::Diagnosis& why);

  private:
    long elapsed() const;
    // No server has accepted (or maybe accepted) a recipient of this
    // message yet: the condition of any move to the next server.
    bool nothing_accepted() const;
    void warn(const std::string& w) const;
    Job& job_;
    const Session& session_;
    const Policy& policy_;
    const Hooks& hooks_;
    int64_t started_ = 0;
    Result r_;
    // What decides the exit code, most severe first: a refusal for good, a
    // failure a retry can fix, then recipients that may have the message
    // (never sent again; reported only when nothing else failed).
    std::optional<diagnosis::Diagnosis> permanent_, temporary_failure_, uncertain_failure_;
    bool unconfirmed_ = false;
    std::vector<std::string> owed_;
    std::vector<queue::Attempt> history_;
    int allowed_ = 1;
    int retry_ = 0;
    // Resends after a per-connection limit in a row (see record()).
    int reconnects_ = 0;
    static constexpr int max_reconnects = 2;
    bool first_ = true;
    size_t server_ = 0; // the server of the next attempt
    std::vector<std::pair<std::string, diagnosis::Diagnosis>> round_; // this pass over the list
};

// At most `per_second` messages a second (--rate), spaced evenly: each
// start is due one interval after the one before, never before now.
class RateLimiter {
  public:
    RateLimiter(double per_second, const util::Clock& clock)
        : interval_ms_(per_second > 0 ? 1000.0 / per_second : 0), clock_(&clock) {}
    // Milliseconds until the next start is allowed (0: now).
    long wait_ms() const;
    // A start now: the next is due one interval later.
    void take();

  private:
    double interval_ms_;
    const util::Clock* clock_;
    double next_ms_ = -1; // on the clock; -1: none yet
};

// Makes the pool of connections for a plan (batch --connections). A seam:
// unit tests pass a scripted fake, the program curl_pool_factory().
using PoolFactory = std::function<std::unique_ptr<transport::Pool>(
    const transport::TransportOptions&, size_t connections)>;
PoolFactory curl_pool_factory();

// Many messages over several connections at once. Each message goes through
// its own Delivery, so it gets the decisions deliver() makes (verdicts,
// retries, queue, log); a retry waits its back-off without holding a
// connection. Messages are handed to free connections in the order they were
// added, and reported in that order.
class Parallel {
  public:
    // `rate`: messages per second across all connections (0: no limit);
    // `max_per_connection`: reconnect after so many (0: never).
    Parallel(Session& session, PoolFactory factory, size_t connections, Policy policy,
             double rate = 0, long max_per_connection = 0);
    ~Parallel();
    Parallel(const Parallel&) = delete;
    Parallel& operator=(const Parallel&) = delete;
    // Adds a message; `keep` owns its source. `report` gets its Result when
    // every message added before it has been reported. Runs the pool while
    // more than a few messages per connection are pending.
    void add(Job job, Hooks hooks, std::shared_ptr<void> keep,
             std::function<void(const Result&)> report);
    // An input that failed before it became a message: reported in its turn.
    void add_report(std::function<void()> report);
    // Runs until every message added is settled and reported.
    void drain();
    // A reply that asks to slow down (diagnosis::asks_to_slow_down) on any
    // connection to a server slows that server's lane (each server of the
    // list has its own): its message is retried as deliver() decides (or
    // falls back at once), no message starts there for the back-off
    // (backoff_ms over retry_wait, longer at each further slow-down of that
    // server), and half its connections are used (at least one); each run
    // of `recover_after` messages it took gives one back. Meanwhile a
    // message due to go to that server goes on to the next one when the
    // fallback rule allows it (Delivery::skip_server), else it waits. `fn`
    // hears of each slow-down once: the server's index in the plan's list,
    // the reply's diagnosis, the connections now used there, the pause.
    using SlowDownFn = std::function<void(size_t server, const diagnosis::Diagnosis&, size_t connections,
                                          long pause_ms)>;
    void set_on_slow_down(SlowDownFn fn) { on_slow_down_ = std::move(fn); }
    static constexpr long recover_after = 20;
    // `fn` runs after each round of the pool, and at least every `every_ms`
    // while the batch waits (on a transfer, a back-off, the rate or a pause):
    // the progress line redraws on the clock. The waits stay blocking.
    void set_on_tick(std::function<void()> fn, long every_ms) {
        on_tick_ = std::move(fn);
        tick_ms_ = every_ms;
    }

  private:
    struct Item;
    void pump();
    void emit();
    Session& session_;
    PoolFactory factory_;
    size_t connections_;
    Policy policy_;
    const util::Clock* clock_ = &util::system_clock();
    std::vector<std::unique_ptr<Item>> items_; // in input order; reported ones removed from the front
    // The connections to one server of the plan's list, made at need, and
    // that server's slow-down: connections in use, no start before
    // paused_until (the reply that asked for it: `why`).
    struct Lane {
        std::unique_ptr<transport::Pool> pool;
        std::vector<Item*> slots;  // the message on each connection, or null
        std::vector<long> sent_on; // messages ended on each connection since it opened
        size_t active = 1;
        int64_t paused_until = 0;
        int slow_downs = 0;
        long sent_since_slow_down = 0;
        diagnosis::Diagnosis why;
    };
    std::vector<Lane> lanes_; // one per server
    double rate_ = 0;
    long max_per_connection_ = 0;
    std::optional<RateLimiter> limiter_;
    SlowDownFn on_slow_down_;
    std::function<void()> on_tick_;
    long tick_ms_ = 0;
    // The slow-down of server `server`'s lane, after an attempt there.
    void note(size_t server, const Attempt& a);
    // Its Delivery decides: settled, or due again after the wait.
    void record(Item& it, const Attempt& a);
};

// The log record of one attempt.
log::Record log_record(const Attempt& a, const std::string& server, const message::Envelope& envelope,
                       const std::string& message_id, const std::string& user,
                       const std::string& queue_id);

} // namespace smtpsend::delivery
