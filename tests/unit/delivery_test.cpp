// The delivery policy, driven through a recording fake transport and a fake
// clock: no network, no sleeping.
#include "delivery/deliver.hpp"
#include "diagnosis/exit_codes.hpp"
#include "message/body_source.hpp"

#include "testutil.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <deque>
#include <memory>

using namespace smtpsend;
using delivery::Status;
using diagnosis::ExitCode;
using transport::Outcome;

namespace {

struct Sent {
    message::Envelope envelope;
    std::string body;
    int port = 0; // the server it went to
};

// Plays back scripted outcomes and records what it was asked to send.
struct Script {
    std::deque<Outcome> outcomes;
    std::vector<Sent> sent;
    int transports_made = 0;
    int probes = 0;
};

class FakeTransport final : public transport::Transport {
  public:
    FakeTransport(Script& s, int port) : s_(s), port_(port) {}
    Outcome send(const message::Envelope& envelope, message::MessageSource& source) override {
        auto body = message::read_all(source);
        s_.sent.push_back({envelope, body ? *body : "", port_});
        REQUIRE(!s_.outcomes.empty());
        Outcome o = s_.outcomes.front();
        s_.outcomes.pop_front();
        return o;
    }
    void set_max_transfer_ms(long) override {}
    void set_on_progress(std::function<void(uint64_t, uint64_t)>) override {}

  private:
    Script& s_;
    int port_;
};

// A session to 127.0.0.1:2525, then to each of `fallback_ports`.
delivery::Session session_for(Script& script, std::optional<bool> smtputf8 = std::nullopt,
                              const std::vector<int>& fallback_ports = {}) {
    delivery::Plan plan;
    plan.endpoint.host = "127.0.0.1";
    plan.endpoint.port = 2525;
    for (int port : fallback_ports) {
        config::Endpoint ep = plan.endpoint;
        ep.port = port;
        plan.fallbacks.push_back(ep);
    }
    plan.credentials = std::make_unique<config::Credentials>();
    return delivery::Session(
        std::move(plan),
        [&script](const transport::TransportOptions& o) {
            ++script.transports_made;
            return std::unique_ptr<transport::Transport>(new FakeTransport(script, o.endpoint.port));
        },
        false,
        [&script, smtputf8](const transport::TransportOptions&) {
            ++script.probes;
            return testutil::probed(smtputf8);
        });
}

transport::Reply reply(const std::string& line) { return transport::make_reply({line}); }

// An outcome for these recipients with these RCPT replies ("" for not reached).
Outcome outcome(Outcome::Status status, transport::Stage stage, std::vector<std::string> rcpt_replies,
                const std::vector<std::string>& to) {
    Outcome o;
    o.status = status;
    o.stage = stage;
    for (size_t i = 0; i < to.size(); ++i) {
        transport::RecipientResult r{to[i], false, std::nullopt};
        if (i < rcpt_replies.size() && !rcpt_replies[i].empty()) {
            r.reply = reply(rcpt_replies[i]);
            r.accepted = r.reply->code / 100 == 2;
        }
        o.recipients.push_back(r);
    }
    if (status == Outcome::Status::sent || status == Outcome::Status::partial)
        o.final_reply = reply("250 2.0.0 Ok: queued as 86F1EF484EC");
    return o;
}

Outcome refused(const std::vector<std::string>& to) {
    Outcome o = outcome(Outcome::Status::failed, transport::Stage::connect, {}, to);
    o.error = transport::NetError::refused;
    return o;
}

struct Run {
    Script script;
    util::FakeClock clock;
    delivery::Policy policy;
    std::vector<std::string> retries;
    std::vector<std::string> fallbacks_seen; // "from -> to"
    std::vector<int> fallback_ports;
    std::string queue_dir = std::string(std::getenv("TMPDIR")) + "/dq-" + std::to_string(std::rand());
    message::SegmentedSource source{{message::Segment::literal("Subject: t\r\n\r\nbody\r\n")}};

    Run() {
        policy.queue_dir = queue_dir;
        policy.retries = 2;
        policy.retry_wait = 5;
    }
    delivery::Result go(std::vector<std::string> to, std::optional<queue::Entry> entry = std::nullopt) {
        auto session = session_for(script, std::nullopt, fallback_ports);
        delivery::Job job;
        job.envelope = message::Envelope{"s@example.com", std::move(to)};
        job.message_id = "<m@example.com>";
        job.source = &source;
        job.entry = std::move(entry);
        delivery::Hooks hooks;
        hooks.clock = &clock;
        hooks.on_retry = [this](int attempt, int attempts, long wait, const diagnosis::Diagnosis&) {
            retries.push_back(std::to_string(attempt) + "/" + std::to_string(attempts) + " " +
                              std::to_string(wait));
        };
        hooks.on_fallback = [this](const std::string& failed, const std::string& next, const diagnosis::Diagnosis&) {
            fallbacks_seen.push_back(failed + " -> " + next);
        };
        return delivery::deliver(job, session, policy, hooks);
    }
    std::vector<int> ports() const {
        std::vector<int> out;
        for (const auto& s : script.sent)
            out.push_back(s.port);
        return out;
    }
};

} // namespace

TEST_CASE("policy: every recipient accepted is sent at the first attempt") {
    Run run;
    run.script.outcomes.push_back(outcome(Outcome::Status::sent, transport::Stage::end_of_data,
                                          {"250 2.1.5 Ok", "250 2.1.5 Ok"}, {"a@x.test", "b@x.test"}));
    auto r = run.go({"a@x.test", "b@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(r.exit_code == ExitCode::ok);
    CHECK(r.attempts == 1);
    CHECK(r.accepted == std::vector<std::string>{"a@x.test", "b@x.test"});
    CHECK(run.clock.sleeps.empty());
    REQUIRE(r.final_reply);
    CHECK(delivery::server_queue_id(*r.final_reply) == "86F1EF484EC");
}

TEST_CASE("policy: a temporary failure is retried with back-off, then fails with 75 without the queue") {
    Run run;
    for (int i = 0; i < 3; ++i)
        run.script.outcomes.push_back(refused({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::tempfail);
    CHECK(r.attempts == 3);
    REQUIRE(run.clock.sleeps.size() == 2);
    CHECK(run.clock.sleeps[0] >= 4000);
    CHECK(run.clock.sleeps[0] <= 6000);
    CHECK(run.clock.sleeps[1] >= 8000);
    CHECK(run.clock.sleeps[1] <= 12000);
    REQUIRE(run.retries.size() == 2);
    CHECK(run.retries[0].rfind("1/3 ", 0) == 0);
    CHECK(run.retries[1].rfind("2/3 ", 0) == 0);
    REQUIRE(r.rejected.size() == 1);
    CHECK(r.rejected[0].address == "a@x.test");
}

TEST_CASE("policy: a retry that succeeds ends as sent, each attempt rewinds the message") {
    Run run;
    run.script.outcomes.push_back(refused({"a@x.test"}));
    run.script.outcomes.push_back(
        outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(r.attempts == 2);
    REQUIRE(run.script.sent.size() == 2);
    CHECK(run.script.sent[1].body == "Subject: t\r\n\r\nbody\r\n");
    CHECK(run.script.transports_made == 1);
}

TEST_CASE("policy: a temporary failure with the queue on is queued and exits 0") {
    Run run;
    run.policy.queue = true;
    run.policy.retries = 0;
    run.script.outcomes.push_back(refused({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::queued);
    CHECK(r.exit_code == ExitCode::ok);
    REQUIRE(!r.queue_id.empty());
    auto e = queue::Queue(run.queue_dir).load(r.queue_id);
    REQUIRE(e);
    CHECK(e->recipients == std::vector<std::string>{"a@x.test"});
    CHECK(e->attempts.size() == 1);
}

TEST_CASE("policy: greylisted and unknown recipients with none accepted: the grey one is queued") {
    Run run;
    run.policy.queue = true;
    run.policy.retries = 0;
    run.script.outcomes.push_back(outcome(Outcome::Status::failed, transport::Stage::rcpt,
                                          {"450 4.2.0 <grey@x.test>: Recipient address rejected: Greylisted",
                                           "550 5.1.1 <bad@x.test>: Recipient address rejected: User unknown"},
                                          {"grey@x.test", "bad@x.test"}));
    auto r = run.go({"grey@x.test", "bad@x.test"});
    CHECK(r.status == Status::queued);
    CHECK(r.exit_code == ExitCode::nouser);
    REQUIRE(r.rejected.size() == 1);
    CHECK(r.rejected[0].address == "bad@x.test");
    CHECK(r.rejected[0].reply == "550 5.1.1 <bad@x.test>: Recipient address rejected: User unknown");
    auto e = queue::Queue(run.queue_dir).load(r.queue_id);
    REQUIRE(e);
    CHECK(e->recipients == std::vector<std::string>{"grey@x.test"});
}

TEST_CASE("policy: greylisted and unknown recipients without the queue: failed, the permanent code wins") {
    Run run;
    run.policy.retries = 0;
    run.script.outcomes.push_back(outcome(Outcome::Status::failed, transport::Stage::rcpt,
                                          {"450 4.2.0 Greylisted", "550 5.1.1 User unknown"},
                                          {"grey@x.test", "bad@x.test"}));
    auto r = run.go({"grey@x.test", "bad@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::nouser);
    CHECK(r.rejected.size() == 2);
}

TEST_CASE("policy: one accepted and one unknown recipient is partial with the recipient's code") {
    Run run;
    run.script.outcomes.push_back(outcome(Outcome::Status::partial, transport::Stage::end_of_data,
                                          {"250 Ok", "550 5.1.1 User unknown"}, {"a@x.test", "bad@x.test"}));
    auto r = run.go({"a@x.test", "bad@x.test"});
    CHECK(r.status == Status::partial);
    CHECK(r.exit_code == ExitCode::nouser);
    CHECK(r.accepted == std::vector<std::string>{"a@x.test"});
    CHECK(r.attempts == 1);
}

TEST_CASE("policy: an unconfirmed send is never retried at once; queued and marked with the queue on") {
    Run run;
    run.policy.queue = true;
    Outcome o = outcome(Outcome::Status::unconfirmed, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"});
    o.error = transport::NetError::closed;
    run.script.outcomes.push_back(o);
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::queued);
    CHECK(r.attempts == 1);
    auto e = queue::Queue(run.queue_dir).load(r.queue_id);
    REQUIRE(e);
    CHECK(e->unconfirmed);
}

TEST_CASE("policy: an unconfirmed send without the queue is unconfirmed, exit 75, one attempt") {
    Run run;
    Outcome o = outcome(Outcome::Status::unconfirmed, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"});
    o.error = transport::NetError::closed;
    run.script.outcomes.push_back(o);
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::unconfirmed);
    CHECK(r.exit_code == ExitCode::tempfail);
    CHECK(r.attempts == 1);
}

TEST_CASE("policy: 452 too many recipients sends the rest in a further transaction at once") {
    Run run;
    std::vector<std::string> to;
    for (int i = 0; i < 7; ++i)
        to.push_back("r" + std::to_string(i) + "@x.test");
    std::vector<std::string> first(5, "250 2.1.5 Ok");
    first.push_back("452 4.5.3 Error: too many recipients");
    first.push_back("452 4.5.3 Error: too many recipients");
    run.script.outcomes.push_back(outcome(Outcome::Status::partial, transport::Stage::end_of_data, first, to));
    std::vector<std::string> rest(to.begin() + 5, to.end());
    run.script.outcomes.push_back(
        outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok", "250 Ok"}, rest));
    auto r = run.go(to);
    CHECK(r.status == Status::sent);
    CHECK(r.exit_code == ExitCode::ok);
    CHECK(r.accepted.size() == 7);
    REQUIRE(run.script.sent.size() == 2);
    CHECK(run.script.sent[1].envelope.recipients == rest);
    CHECK(run.clock.sleeps.empty());
}

TEST_CASE("policy: --max-time stops retries that could not finish in the budget") {
    Run run;
    run.policy.max_time = 8; // the first wait (about 5 s) fits, the second (about 10 s) does not
    for (int i = 0; i < 3; ++i)
        run.script.outcomes.push_back(refused({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.attempts == 2);
    CHECK(r.exit_code == ExitCode::tempfail);
}

TEST_CASE("policy: a dry run makes no transport and sends nothing") {
    Run run;
    run.policy.dry_run = true;
    auto session = session_for(run.script);
    delivery::Job job;
    job.envelope = message::Envelope{"s@example.com", {"a@x.test"}};
    job.source = &run.source;
    bool shown = false;
    delivery::Hooks hooks;
    hooks.clock = &run.clock;
    hooks.on_dry_run = [&](const delivery::Job&, const std::string& server) {
        shown = true;
        CHECK(server == "smtp://127.0.0.1:2525");
    };
    auto r = delivery::deliver(job, session, run.policy, hooks);
    CHECK(r.status == Status::dry_run);
    CHECK(r.exit_code == ExitCode::ok);
    CHECK(shown);
    CHECK(run.script.transports_made == 0);
}

TEST_CASE("policy: an envelope address with a line break never reaches the transport") {
    Run run;
    auto r = run.go({"b@example.com>\r\nRSET"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::dataerr);
    CHECK(run.script.transports_made == 0);
}

TEST_CASE("policy: a recipient whose reply is uncertain is never sent again") {
    Run run;
    run.policy.queue = true;
    Outcome o = outcome(Outcome::Status::partial, transport::Stage::end_of_data, {"250 Ok", "550 No"},
                        {"a@x.test", "b@x.test"});
    o.recipients[0].uncertain = true; // an uncertain acceptance: it got the message
    o.recipients[1].uncertain = true;
    run.script.outcomes.push_back(o);
    auto r = run.go({"a@x.test", "b@x.test"});
    CHECK(r.status == Status::partial);
    CHECK(r.exit_code == ExitCode::protocol);
    CHECK(r.accepted == std::vector<std::string>{"a@x.test"});
    CHECK(r.uncertain == std::vector<std::string>{"b@x.test"});
    CHECK(r.queue_id.empty());
    CHECK(run.script.sent.size() == 1);
}

TEST_CASE("policy: a flushed entry that is delivered is removed; one still owed is updated") {
    Run run;
    run.policy.retries = 0;
    queue::Queue q(run.queue_dir);
    queue::Entry e;
    e.from = "s@example.com";
    e.recipients = {"a@x.test"};
    e.message_id = "<m@example.com>";
    auto id = q.add(e, run.source);
    REQUIRE(id);
    auto entry = q.load(*id);
    REQUIRE(entry);
    run.script.outcomes.push_back(refused({"a@x.test"}));
    auto kept = run.go({"a@x.test"}, *entry);
    CHECK(kept.status == Status::queued);
    CHECK(kept.queue_id == *id);
    auto after = q.load(*id);
    REQUIRE(after);
    CHECK(after->attempts.size() == 1);
    CHECK(after->next_attempt >= run.clock.unix_seconds() + 240); // 5 minutes, -20 %
    run.script.outcomes.push_back(
        outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"}));
    auto done = run.go({"a@x.test"}, *after);
    CHECK(done.status == Status::sent);
    CHECK(!q.load(*id));
}

TEST_CASE("back-off doubles from its base with jitter, up to its cap") {
    for (int n = 0; n < 4; ++n) {
        long ms = delivery::backoff_ms(5, n, 300);
        CHECK(ms >= static_cast<long>(5000 * (1 << n) * 0.8));
        CHECK(ms <= static_cast<long>(5000 * (1 << n) * 1.2));
    }
    CHECK(delivery::backoff_ms(300, 30, 7200) <= 7200L * 1000 * 12 / 10);
    CHECK(delivery::backoff_ms(300, 30, 7200) >= 7200L * 1000 * 8 / 10);
}

TEST_CASE("aggregation: a permanent failure beats a temporary one, the first permanent stays") {
    using diagnosis::worst;
    CHECK(worst(ExitCode::ok, ExitCode::ok) == ExitCode::ok);
    CHECK(worst(ExitCode::ok, ExitCode::tempfail) == ExitCode::tempfail);
    CHECK(worst(ExitCode::tempfail, ExitCode::ok) == ExitCode::tempfail);
    CHECK(worst(ExitCode::tempfail, ExitCode::nouser) == ExitCode::nouser);
    CHECK(worst(ExitCode::nouser, ExitCode::tempfail) == ExitCode::nouser);
    CHECK(worst(ExitCode::nouser, ExitCode::noperm) == ExitCode::nouser);
}

TEST_CASE("sendmail mode logs each attempt to syslog unless log is set") {
    // cron shows only an exit status: the attempt log is where a failure is read.
    util::MapEnvironment env;
    config::Loaded loaded;
    CHECK(delivery::policy_for(loaded, env, /*sendmail_mode=*/true).log == "syslog");
    CHECK(delivery::policy_for(loaded, env, /*sendmail_mode=*/false).log == "none");
    loaded.settings.log.assign("none", config::Origin::flag("--log"));
    CHECK(delivery::policy_for(loaded, env, /*sendmail_mode=*/true).log == "none");
    loaded.settings.log.assign("/var/log/smtpsend.log", config::Origin::flag("--log"));
    CHECK(delivery::policy_for(loaded, env, /*sendmail_mode=*/true).log == "/var/log/smtpsend.log");
}

// A non-ASCII local part and what the SMTPUTF8 probe finds: a server without
// it is refused before MAIL (65); one that could not be asked is not sent to
// (75 after the retry: the address went raw when the send's own connection
// then got through to a server without SMTPUTF8).
TEST_CASE("policy: a non-ASCII local part is sent only where SMTPUTF8 is known") {
    struct Row {
        std::optional<bool> smtputf8;
        ExitCode exit;
        int attempts;
    };
    for (const Row& row : {Row{false, ExitCode::dataerr, 1}, Row{std::nullopt, ExitCode::tempfail, 2}}) {
        CAPTURE(row.attempts);
        Script script;
        auto session = session_for(script, row.smtputf8);
        message::SegmentedSource source{{message::Segment::literal("Subject: t\r\n\r\nb\r\n")}};
        delivery::Job job;
        job.envelope = message::Envelope{"s@example.com", {"j\xc3\xb6rg@example.com"}};
        job.source = &source;
        util::FakeClock clock;
        delivery::Hooks hooks;
        hooks.clock = &clock;
        delivery::Policy policy;
        policy.retries = 1;
        auto r = delivery::deliver(job, session, policy, hooks);
        CHECK(r.status == Status::failed);
        CHECK(r.exit_code == row.exit);
        CHECK(r.attempts == row.attempts);
        CHECK(script.probes == row.attempts); // asked again at the retry: nothing was learnt
        CHECK(script.transports_made == 0);
        CHECK(script.sent.empty());
    }
}

TEST_CASE("policy: a non-ASCII local part goes to a server that offers SMTPUTF8; ASCII asks nothing") {
    Script script;
    auto session = session_for(script, true);
    message::SegmentedSource source{{message::Segment::literal("Subject: t\r\n\r\nb\r\n")}};
    delivery::Job job;
    job.envelope = message::Envelope{"s@example.com", {"j\xc3\xb6rg@example.com"}};
    job.source = &source;
    script.outcomes.push_back(outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok"},
                                      job.envelope.recipients));
    util::FakeClock clock;
    delivery::Hooks hooks;
    hooks.clock = &clock;
    delivery::Policy policy;
    auto r = delivery::deliver(job, session, policy, hooks);
    CHECK(r.status == Status::sent);
    CHECK(script.probes == 1);
    Run ascii;
    ascii.script.outcomes.push_back(
        outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"}));
    ascii.go({"a@x.test"});
    CHECK(ascii.script.probes == 0);
}

// The policy table: each outcome of one attempt (no retries) with the queue
// off and on gives one status and one exit code.
TEST_CASE("policy table: (outcome, recipient verdicts, queue) -> (status, exit code)") {
    struct Row {
        const char* name;
        Outcome::Status status;
        transport::Stage stage;
        std::vector<std::string> replies; // for a@x.test, b@x.test
        transport::NetError error;
        bool queue;
        Status want;
        ExitCode code;
    };
    using S = Outcome::Status;
    using T = transport::Stage;
    using E = transport::NetError;
    const Row rows[] = {
        {"all accepted", S::sent, T::end_of_data, {"250 Ok", "250 Ok"}, E::none, false, Status::sent, ExitCode::ok},
        {"all accepted, queue on", S::sent, T::end_of_data, {"250 Ok", "250 Ok"}, E::none, true, Status::sent,
         ExitCode::ok},
        {"one unknown", S::partial, T::end_of_data, {"250 Ok", "550 5.1.1 No"}, E::none, false, Status::partial,
         ExitCode::nouser},
        {"one unknown, queue on", S::partial, T::end_of_data, {"250 Ok", "550 5.1.1 No"}, E::none, true,
         Status::partial, ExitCode::nouser},
        {"one greylisted", S::partial, T::end_of_data, {"250 Ok", "450 4.2.0 Grey"}, E::none, false,
         Status::partial, ExitCode::tempfail},
        {"one greylisted, queue on", S::partial, T::end_of_data, {"250 Ok", "450 4.2.0 Grey"}, E::none, true,
         Status::queued, ExitCode::ok},
        {"grey and unknown, none accepted", S::failed, T::rcpt, {"450 4.2.0 Grey", "550 5.1.1 No"}, E::none,
         false, Status::failed, ExitCode::nouser},
        {"grey and unknown, none accepted, queue on", S::failed, T::rcpt, {"450 4.2.0 Grey", "550 5.1.1 No"},
         E::none, true, Status::queued, ExitCode::nouser},
        {"both unknown", S::failed, T::rcpt, {"550 5.1.1 No", "550 5.1.1 No"}, E::none, true, Status::failed,
         ExitCode::nouser},
        {"refused connection", S::failed, T::connect, {}, E::refused, false, Status::failed, ExitCode::tempfail},
        {"refused connection, queue on", S::failed, T::connect, {}, E::refused, true, Status::queued,
         ExitCode::ok},
        {"unconfirmed", S::unconfirmed, T::end_of_data, {"250 Ok", "250 Ok"}, E::closed, false,
         Status::unconfirmed, ExitCode::tempfail},
        {"unconfirmed, queue on", S::unconfirmed, T::end_of_data, {"250 Ok", "250 Ok"}, E::closed, true,
         Status::queued, ExitCode::ok},
    };
    for (const auto& row : rows) {
        DYNAMIC_SECTION(row.name) {
            Run run;
            run.policy.retries = 0;
            run.policy.queue = row.queue;
            Outcome o = outcome(row.status, row.stage, row.replies, {"a@x.test", "b@x.test"});
            o.error = row.error;
            run.script.outcomes.push_back(o);
            auto r = run.go({"a@x.test", "b@x.test"});
            CHECK(delivery::status_name(r.status) == delivery::status_name(row.want));
            CHECK(static_cast<int>(r.exit_code) == static_cast<int>(row.code));
            CHECK(r.attempts == 1);
        }
    }
}

// --- Fallback servers ---------------------------------------------------------

namespace {

Outcome greeting_reply(const std::string& line, const std::vector<std::string>& to) {
    Outcome o = outcome(Outcome::Status::failed, transport::Stage::greeting, {}, to);
    o.reply = reply(line);
    return o;
}

Outcome sent_to(const std::vector<std::string>& to) {
    std::vector<std::string> ok(to.size(), "250 2.1.5 Ok");
    return outcome(Outcome::Status::sent, transport::Stage::end_of_data, ok, to);
}

} // namespace

TEST_CASE("fallback: a refused first server, the second takes it at once; the result names it") {
    Run run;
    run.fallback_ports = {2526};
    run.script.outcomes.push_back(refused({"a@x.test"}));
    run.script.outcomes.push_back(sent_to({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(r.exit_code == ExitCode::ok);
    CHECK(run.ports() == std::vector<int>{2525, 2526});
    CHECK(r.server == "smtp://127.0.0.1:2526");
    CHECK(r.attempts == 2);
    CHECK(run.clock.sleeps.empty()); // no back-off between servers
    CHECK(run.retries.empty());
    CHECK(run.fallbacks_seen == std::vector<std::string>{"smtp://127.0.0.1:2525 -> smtp://127.0.0.1:2526"});
    CHECK(run.script.transports_made == 2);
    CHECK(r.server_failures.empty());
}

TEST_CASE("fallback: a first server that works is the only one asked") {
    Run run;
    run.fallback_ports = {2526};
    run.script.outcomes.push_back(sent_to({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(run.ports() == std::vector<int>{2525});
    CHECK(r.server == "smtp://127.0.0.1:2525");
}

TEST_CASE("fallback: a 421 greeting tries the next server") {
    Run run;
    run.fallback_ports = {2526};
    run.script.outcomes.push_back(greeting_reply("421 4.3.2 busy, try later", {"a@x.test"}));
    run.script.outcomes.push_back(sent_to({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(run.ports() == std::vector<int>{2525, 2526});
}

TEST_CASE("fallback: a 554 greeting is permanent: no fallback") {
    Run run;
    run.fallback_ports = {2526};
    run.script.outcomes.push_back(greeting_reply("554 5.7.1 go away", {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(run.ports() == std::vector<int>{2525});
}

TEST_CASE("fallback: 550 at RCPT on the first server: the second gets nothing") {
    Run run;
    run.fallback_ports = {2526};
    run.script.outcomes.push_back(
        outcome(Outcome::Status::failed, transport::Stage::rcpt, {"550 5.1.1 no such user"}, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::nouser);
    CHECK(run.ports() == std::vector<int>{2525});
    CHECK(r.server == "smtp://127.0.0.1:2525");
}

TEST_CASE("fallback: 451 at DATA after RCPT was accepted: never sent to the second (queued, or 75)") {
    for (bool queue : {true, false}) {
        DYNAMIC_SECTION("queue " << queue) {
            Run run;
            run.fallback_ports = {2526};
            run.policy.queue = queue;
            run.policy.retries = 0;
            Outcome o = outcome(Outcome::Status::failed, transport::Stage::end_of_data, {"250 2.1.5 Ok"},
                                {"a@x.test"});
            o.reply = reply("451 4.3.0 try again later");
            run.script.outcomes.push_back(o);
            auto r = run.go({"a@x.test"});
            CHECK(run.ports() == std::vector<int>{2525});
            CHECK(delivery::status_name(r.status) == (queue ? "queued" : "failed"));
            CHECK(static_cast<int>(r.exit_code) == (queue ? 0 : 75));
        }
    }
}

TEST_CASE("fallback: RCPT 450 for every recipient (none accepted) tries the next server") {
    Run run;
    run.fallback_ports = {2526};
    run.script.outcomes.push_back(
        outcome(Outcome::Status::failed, transport::Stage::rcpt, {"450 4.2.0 greylisted"}, {"a@x.test"}));
    run.script.outcomes.push_back(sent_to({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(run.ports() == std::vector<int>{2525, 2526});
}

TEST_CASE("fallback: one recipient accepted and one greylisted: the rest is not sent to the next server") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 1;
    run.script.outcomes.push_back(outcome(Outcome::Status::partial, transport::Stage::end_of_data,
                                          {"250 Ok", "450 4.2.0 greylisted"}, {"a@x.test", "b@x.test"}));
    run.script.outcomes.push_back(
        outcome(Outcome::Status::failed, transport::Stage::connect, {}, {"b@x.test"}));
    run.script.outcomes.back().error = transport::NetError::refused;
    auto r = run.go({"a@x.test", "b@x.test"});
    // The retry goes to the first server again, and its refusal does not
    // fall back: server 1 already took the message for a@.
    CHECK(run.ports() == std::vector<int>{2525, 2525});
    CHECK(r.status == Status::partial);
    CHECK(r.server == "smtp://127.0.0.1:2525");
}

TEST_CASE("fallback: three servers, two fail, the third takes it") {
    Run run;
    run.fallback_ports = {2526, 2527};
    run.script.outcomes.push_back(refused({"a@x.test"}));
    run.script.outcomes.push_back(greeting_reply("421 4.3.2 shutting down", {"a@x.test"}));
    run.script.outcomes.push_back(sent_to({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(run.ports() == std::vector<int>{2525, 2526, 2527});
    CHECK(r.server == "smtp://127.0.0.1:2527");
    CHECK(run.fallbacks_seen.size() == 2);
}

TEST_CASE("fallback: every server fails: each failure is reported, a retry walks the list again") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 1;
    for (int i = 0; i < 4; ++i)
        run.script.outcomes.push_back(refused({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(run.ports() == std::vector<int>{2525, 2526, 2525, 2526});
    REQUIRE(run.clock.sleeps.size() == 1); // one back-off, between the two rounds
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::tempfail);
    REQUIRE(r.server_failures.size() == 2);
    CHECK(r.server_failures[0].first == "smtp://127.0.0.1:2525");
    CHECK(r.server_failures[1].first == "smtp://127.0.0.1:2526");
    REQUIRE(run.retries.size() == 1);
    CHECK(run.retries[0].rfind("1/2 ", 0) == 0);
}

TEST_CASE("fallback: every server fails for good: the worst failure decides the exit code") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 0;
    Outcome untrusted = outcome(Outcome::Status::failed, transport::Stage::tls, {}, {"a@x.test"});
    untrusted.error = transport::NetError::cert_untrusted;
    run.script.outcomes.push_back(untrusted);
    run.script.outcomes.push_back(untrusted);
    auto r = run.go({"a@x.test"});
    CHECK(run.ports() == std::vector<int>{2525, 2526});
    CHECK(r.status == Status::failed);
    REQUIRE(r.diagnosis);
    CHECK(diagnosis::class_name(r.diagnosis->cls) == "tls");
    CHECK(r.exit_code == ExitCode::config);
    REQUIRE(r.server_failures.size() == 2);
}

TEST_CASE("fallback: one server failing for now and one for good: the message waits (75), "
          "as a temporary failure of any MX defers the mail") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 0;
    Outcome untrusted = outcome(Outcome::Status::failed, transport::Stage::tls, {}, {"a@x.test"});
    untrusted.error = transport::NetError::cert_untrusted;
    run.script.outcomes.push_back(untrusted);
    run.script.outcomes.push_back(refused({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(run.ports() == std::vector<int>{2525, 2526});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::tempfail);
    REQUIRE(r.diagnosis);
    CHECK(r.diagnosis->temporary);
    REQUIRE(r.server_failures.size() == 2); // the certificate's 78 is still reported
    CHECK(r.server_failures[0].second.exit_code == ExitCode::config);
}

TEST_CASE("fallback: one server failing for now and one for good, with the queue on: queued, not dropped") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 0;
    run.policy.queue = true;
    run.script.outcomes.push_back(refused({"a@x.test"}));
    Outcome untrusted = outcome(Outcome::Status::failed, transport::Stage::tls, {}, {"a@x.test"});
    untrusted.error = transport::NetError::cert_untrusted;
    run.script.outcomes.push_back(untrusted);
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::queued);
    CHECK(r.exit_code == ExitCode::ok);
}

TEST_CASE("fallback: the second server took one recipient and greylisted the other: the rest goes to it, "
          "not back to the first") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 1;
    run.script.outcomes.push_back(refused({"a@x.test", "b@x.test"}));
    run.script.outcomes.push_back(outcome(Outcome::Status::partial, transport::Stage::end_of_data,
                                          {"250 Ok", "450 4.2.0 greylisted"}, {"a@x.test", "b@x.test"}));
    run.script.outcomes.push_back(sent_to({"b@x.test"}));
    auto r = run.go({"a@x.test", "b@x.test"});
    CHECK(run.ports() == std::vector<int>{2525, 2526, 2526});
    CHECK(r.status == Status::sent);
    CHECK(r.server == "smtp://127.0.0.1:2526");
}

TEST_CASE("fallback: one recipient refused for good (550) and one for now (450): no fallback, "
          "the 550 stands") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 0;
    Outcome o = outcome(Outcome::Status::failed, transport::Stage::rcpt,
                        {"550 5.1.1 no such user", "450 4.2.0 greylisted"}, {"a@x.test", "b@x.test"});
    o.reply = reply("450 4.2.0 greylisted");
    run.script.outcomes.push_back(o);
    auto r = run.go({"a@x.test", "b@x.test"});
    CHECK(run.ports() == std::vector<int>{2525});
    CHECK(run.fallbacks_seen.empty());
    REQUIRE(r.rejected.size() >= 1);
    CHECK(r.rejected[0].address == "a@x.test");
    CHECK(r.rejected[0].reply.rfind("550 ", 0) == 0);
}

TEST_CASE("fallback: with the queue on, total failure queues the message once") {
    Run run;
    run.fallback_ports = {2526};
    run.policy.retries = 0;
    run.policy.queue = true;
    run.script.outcomes.push_back(refused({"a@x.test"}));
    run.script.outcomes.push_back(refused({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::queued);
    CHECK(r.exit_code == ExitCode::ok);
    auto e = queue::Queue(run.queue_dir).load(r.queue_id);
    REQUIRE(e);
    CHECK(e->attempts.size() == 2);
}

namespace {

// A failure at MAIL with this reply, on a connection reused from an earlier
// message (no greeting in this transfer) or on a new one.
Outcome at_mail(const std::string& text, bool new_connection, const std::vector<std::string>& to) {
    Outcome o = outcome(Outcome::Status::failed, transport::Stage::mail, {}, to);
    o.reply = reply(text);
    if (new_connection)
        o.greeting = reply("220 mx.example.com ESMTP");
    return o;
}

const std::string max_per_connection_reply = "421 4.7.0 Max message per connection reached, closing";
const std::string rate_reply = "421 4.7.0 rate limit exceeded, try again later";

} // namespace

TEST_CASE("policy: a per-connection limit at MAIL on a reused connection sends the message again at once, "
          "on a new connection, without using a retry") {
    Run run;
    run.policy.retries = 0;
    run.script.outcomes.push_back(at_mail(max_per_connection_reply, false, {"a@x.test"}));
    run.script.outcomes.push_back(
        outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(r.exit_code == ExitCode::ok);
    CHECK(r.attempts == 2); // both attempts are counted (and logged)
    CHECK(run.clock.sleeps.empty());
    CHECK(run.retries.empty());
    REQUIRE(run.script.sent.size() == 2);
    CHECK(run.script.sent[1].body == "Subject: t\r\n\r\nbody\r\n");
}

TEST_CASE("policy: a per-connection limit on a new connection is a failure (75), not sent again") {
    Run run;
    run.policy.retries = 0;
    run.script.outcomes.push_back(at_mail(max_per_connection_reply, true, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::tempfail);
    CHECK(r.attempts == 1);
    CHECK(run.script.sent.size() == 1);
}

TEST_CASE("policy: a rate reply at MAIL on a reused connection is a server reply, not a stale connection: "
          "without retries it fails (75) after one attempt") {
    Run run;
    run.policy.retries = 0;
    run.script.outcomes.push_back(at_mail(rate_reply, false, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::tempfail);
    CHECK(r.attempts == 1);
    CHECK(run.script.sent.size() == 1);
    REQUIRE(r.diagnosis);
    CHECK(r.diagnosis->cls == diagnosis::Class::rate);
}

TEST_CASE("policy: a rate reply at MAIL on a reused connection takes a retry, after the back-off") {
    Run run;
    run.policy.retries = 1;
    run.script.outcomes.push_back(at_mail(rate_reply, false, {"a@x.test"}));
    run.script.outcomes.push_back(
        outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(r.attempts == 2);
    REQUIRE(run.clock.sleeps.size() == 1);
    CHECK(run.clock.sleeps[0] >= 4000);
    REQUIRE(run.retries.size() == 1);
    CHECK(run.retries[0].rfind("1/2 ", 0) == 0);
}

TEST_CASE("policy: the per-connection resend is bounded: a third such reply in a row fails the message") {
    Run run;
    run.policy.retries = 0;
    for (int i = 0; i < 3; ++i)
        run.script.outcomes.push_back(at_mail(max_per_connection_reply, false, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::tempfail);
    CHECK(r.attempts == 3);
    CHECK(run.script.outcomes.empty());
}

TEST_CASE("fallback: a per-connection limit at MAIL on a reused connection reconnects to the same server, "
          "not the next") {
    Run run;
    run.policy.retries = 0;
    run.fallback_ports = {2526};
    run.script.outcomes.push_back(at_mail(max_per_connection_reply, false, {"a@x.test"}));
    run.script.outcomes.push_back(sent_to({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(run.ports() == std::vector<int>{2525, 2525});
    CHECK(r.server == "smtp://127.0.0.1:2525");
    CHECK(run.fallbacks_seen.empty());
}

TEST_CASE("policy: an idle timeout's 421 at MAIL on a reused connection sends the message again at once, "
          "without using a retry") {
    // Postfix closes an idle connection with an unsolicited "421 4.4.2 ... timeout
    // exceeded", read as the next MAIL's reply: the server did not refuse the message.
    Run run;
    run.policy.retries = 0;
    run.script.outcomes.push_back(at_mail("421 4.4.2 mx.example.com Error: timeout exceeded", false, {"a@x.test"}));
    run.script.outcomes.push_back(
        outcome(Outcome::Status::sent, transport::Stage::end_of_data, {"250 Ok"}, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    CHECK(r.attempts == 2);
    CHECK(run.clock.sleeps.empty());
    CHECK(run.retries.empty());
}

TEST_CASE("policy: a 421 at MAIL on a new connection is the server's answer: without retries, 75") {
    Run run;
    run.policy.retries = 0;
    run.script.outcomes.push_back(at_mail("421 4.4.2 mx.example.com Error: timeout exceeded", true, {"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::failed);
    CHECK(r.exit_code == ExitCode::tempfail);
    CHECK(r.attempts == 1);
}

TEST_CASE("fallback: a server paused by a rate reply is skipped by the fallback rule: only while "
          "nothing was accepted, never past the last server, never for a 5xx") {
    Script script;
    auto session = session_for(script, std::nullopt, {2526});
    util::FakeClock clock;
    delivery::Policy policy;
    policy.retries = 1;
    policy.retry_wait = 5;
    policy.queue_dir = std::string(std::getenv("TMPDIR")) + "/dq-skip";
    delivery::Hooks hooks;
    hooks.clock = &clock;
    message::SegmentedSource source{{message::Segment::literal("Subject: t\r\n\r\nbody\r\n")}};
    auto diagnosis_of = [&](const std::string& line) {
        Outcome o = outcome(Outcome::Status::failed, transport::Stage::mail, {}, {"x@x.test"});
        o.reply = reply(line);
        return session.attempt_for(message::Envelope{"s@example.com", {"x@x.test"}}, o).diagnosis;
    };
    const auto rate = diagnosis_of("421 4.7.0 rate limit exceeded, try again later");
    REQUIRE(diagnosis::asks_to_slow_down(rate));
    auto job_to = [&](std::vector<std::string> to) {
        delivery::Job job;
        job.envelope = message::Envelope{"s@example.com", std::move(to)};
        job.message_id = "<m@example.com>";
        job.source = &source;
        return job;
    };
    message::Envelope envelope;
    long budget = 0;

    SECTION("a fresh message goes on to the next server; none follows the last; no attempt is counted") {
        auto job = job_to({"a@x.test"});
        delivery::Delivery d(job, session, policy, hooks);
        REQUIRE_FALSE(d.begin());
        CHECK(d.skip_server(rate));
        CHECK(d.server() == 1);
        CHECK_FALSE(d.skip_server(rate));
        CHECK(d.server() == 1);
        // The second server fails too: both are listed, the skipped one with its rate reply.
        REQUIRE(d.next(envelope, budget));
        auto wait = d.record(envelope, session.attempt_for(envelope, refused({"a@x.test"}), 1));
        REQUIRE(wait);
        CHECK(d.server() == 0); // a retry walks the list again
        auto r = d.finish();
        CHECK(r.attempts == 1);
        REQUIRE(r.server_failures.size() == 2);
        CHECK(r.server_failures[0].first == "smtp://127.0.0.1:2525");
        CHECK(r.server_failures[0].second.cls == diagnosis::Class::rate);
        CHECK(r.server_failures[1].first == "smtp://127.0.0.1:2526");
    }
    SECTION("a message the first server took for some recipients stays with it (it waits)") {
        auto job = job_to({"a@x.test", "b@x.test"});
        delivery::Delivery d(job, session, policy, hooks);
        REQUIRE_FALSE(d.begin());
        REQUIRE(d.next(envelope, budget));
        auto partial = outcome(Outcome::Status::partial, transport::Stage::end_of_data,
                               {"250 2.1.5 Ok", "451 4.3.0 try again later"}, {"a@x.test", "b@x.test"});
        REQUIRE(d.record(envelope, session.attempt_for(envelope, partial, 0)));
        CHECK_FALSE(d.skip_server(rate));
        CHECK(d.server() == 0);
    }
    SECTION("a permanent refusal is no reason to go elsewhere") {
        auto job = job_to({"a@x.test"});
        delivery::Delivery d(job, session, policy, hooks);
        REQUIRE_FALSE(d.begin());
        CHECK_FALSE(d.skip_server(diagnosis_of("554 5.7.1 sending rate exceeded, go away")));
        CHECK(d.server() == 0);
    }
}

TEST_CASE("policy: a resend after a per-connection limit is not a retry: the retry line counts real retries") {
    Run run;
    run.policy.retries = 1;
    Outcome closing = outcome(Outcome::Status::failed, transport::Stage::mail, {}, {"a@x.test"});
    closing.reply = reply("421 4.7.0 Max message per connection reached, closing");
    run.script.outcomes.push_back(closing);
    run.script.outcomes.push_back(refused({"a@x.test"}));
    run.script.outcomes.push_back(sent_to({"a@x.test"}));
    auto r = run.go({"a@x.test"});
    CHECK(r.status == Status::sent);
    REQUIRE(run.retries.size() == 1);
    CHECK(run.retries[0].substr(0, 4) == "1/2 ");
}
