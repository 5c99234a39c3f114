// delivery::Parallel (batch --connections N) driven through a scripted fake
// pool and a fake clock: the order messages are handed out and reported in,
// and the same decisions as deliver().
#include "config/settings.hpp"
#include "delivery/deliver.hpp"
#include "diagnosis/exit_codes.hpp"
#include "message/body_source.hpp"

#include "testutil.hpp"

#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <memory>
#include <tuple>

using namespace smtpsend;
using delivery::Status;
using diagnosis::ExitCode;
using transport::Outcome;

namespace {

Outcome sent_to(const std::string& to) {
    Outcome o;
    o.status = Outcome::Status::sent;
    o.stage = transport::Stage::end_of_data;
    o.recipients.push_back({to, true, transport::make_reply({"250 2.1.5 Ok"})});
    o.final_reply = transport::make_reply({"250 2.0.0 Ok: queued as 1"});
    return o;
}

Outcome refused_connection(const std::string& to) {
    Outcome o;
    o.status = Outcome::Status::failed;
    o.stage = transport::Stage::connect;
    o.error = transport::NetError::refused;
    o.recipients.push_back({to, false, std::nullopt});
    return o;
}

Outcome unknown_user(const std::string& to) {
    Outcome o;
    o.status = Outcome::Status::failed;
    o.stage = transport::Stage::rcpt;
    o.recipients.push_back({to, false, transport::make_reply({"550 5.1.1 user unknown"})});
    o.reply = transport::make_reply({"550 5.1.1 user unknown"});
    return o;
}

// Outcomes by recipient, played back in turn; the started messages end in
// reverse slot order (the last connection first), one per run(). With
// fallback servers each server has its own pool: outcomes keyed
// "PORT recipient" are that server's (else the recipient's are).
struct PoolScript {
    std::map<std::string, std::deque<Outcome>> outcomes;
    std::vector<std::string> started;        // recipient, in the order started
    std::map<int, std::vector<std::string>> started_at; // by server port
    std::vector<std::tuple<int, size_t, std::string>> busy; // port, slot, recipient in flight
    size_t most_busy = 0;
    std::map<int, size_t> most_busy_at; // by server port
    int pools_made = 0;
    std::vector<size_t> reconnects;
    // A slow transfer: so many run() calls end at their wait with nothing
    // ended, moving `clock` on by the wait (none when the wait is unbounded).
    int idle_runs = 0;
    util::FakeClock* clock = nullptr;
    std::vector<long> waits; // every run()'s wait
};

class FakePool final : public transport::Pool {
  public:
    FakePool(PoolScript& s, size_t n, int port) : s_(s), n_(n), port_(port) {}
    size_t slots() const override { return n_; }
    void start(size_t slot, const message::Envelope& envelope, message::MessageSource&, long) override {
        REQUIRE(slot < n_);
        for (auto& [port, busy_slot, _] : s_.busy)
            REQUIRE((port != port_ || busy_slot != slot)); // a connection carries one message at a time
        s_.started.push_back(envelope.recipients.at(0));
        s_.started_at[port_].push_back(envelope.recipients.at(0));
        s_.busy.emplace_back(port_, slot, envelope.recipients.at(0));
        s_.most_busy = std::max(s_.most_busy, s_.busy.size());
        size_t here = static_cast<size_t>(
            std::count_if(s_.busy.begin(), s_.busy.end(), [this](const auto& b) { return std::get<0>(b) == port_; }));
        s_.most_busy_at[port_] = std::max(s_.most_busy_at[port_], here);
    }
    std::vector<std::pair<size_t, Outcome>> run(long wait) override {
        REQUIRE(!s_.busy.empty());
        s_.waits.push_back(wait);
        if (s_.idle_runs > 0 && wait >= 0) {
            --s_.idle_runs;
            s_.clock->ms += wait;
            return {};
        }
        auto last = s_.busy.end();
        for (auto b = s_.busy.begin(); b != s_.busy.end(); ++b)
            if (std::get<0>(*b) == port_ && (last == s_.busy.end() || std::get<1>(*b) > std::get<1>(*last)))
                last = b;
        REQUIRE(last != s_.busy.end());
        auto [port, slot, to] = *last;
        s_.busy.erase(last);
        auto own = s_.outcomes.find(std::to_string(port) + " " + to);
        auto& q = own != s_.outcomes.end() && !own->second.empty() ? own->second : s_.outcomes[to];
        REQUIRE(!q.empty());
        Outcome o = q.front();
        q.pop_front();
        return {{slot, o}};
    }
    void reconnect(size_t slot) override { s_.reconnects.push_back(slot); }

  private:
    PoolScript& s_;
    size_t n_;
    int port_;
};

struct Batch {
    PoolScript script;
    util::FakeClock clock;
    delivery::Policy policy;
    std::unique_ptr<delivery::Session> session;
    std::vector<std::unique_ptr<message::SegmentedSource>> sources;
    std::vector<std::string> reported; // "to status exit"
    std::vector<delivery::Result> results;
    double rate = 0;
    long max_per_connection = 0;
    std::function<void(const diagnosis::Diagnosis&, size_t, long)> on_slow_down;
    size_t most_busy_after_slow_down = 0;
    std::optional<bool> smtputf8; // what the capability probe finds (nothing: unreachable)
    int probes = 0;
    std::vector<int64_t> ticks; // the clock at each on_tick, when tick_ms > 0
    long tick_ms = 0;
    std::vector<std::string> slow_downs; // "server connections" of each slow-down

    // `servers`: 127.0.0.1:2525, then fallback servers on 2526, 2527 ...
    explicit Batch(int servers = 1) {
        script.clock = &clock;
        policy.retries = 1;
        policy.retry_wait = 5;
        delivery::Plan plan;
        plan.endpoint.host = "127.0.0.1";
        plan.endpoint.port = 2525;
        for (int i = 1; i < servers; ++i) {
            config::Endpoint fallback = plan.endpoint;
            fallback.port = 2525 + i;
            plan.fallbacks.push_back(fallback);
        }
        plan.credentials = std::make_unique<config::Credentials>();
        session = std::make_unique<delivery::Session>(
            std::move(plan), [](const transport::TransportOptions&) -> std::unique_ptr<transport::Transport> {
                FAIL("the pool sends, not a transport");
                return nullptr;
            },
            false,
            [this](const transport::TransportOptions&) {
                ++probes;
                return testutil::probed(smtputf8);
            });
    }
    void run(size_t connections, const std::vector<std::string>& to) {
        delivery::Parallel parallel(*session, [this](const transport::TransportOptions& o, size_t n) {
            ++script.pools_made;
            return std::unique_ptr<transport::Pool>(new FakePool(script, n, o.endpoint.port));
        }, connections, policy, rate, max_per_connection);
        bool slowed = false;
        if (tick_ms > 0)
            parallel.set_on_tick([this] { ticks.push_back(clock.ms); }, tick_ms);
        parallel.set_on_slow_down([&](size_t server, const diagnosis::Diagnosis& d, size_t n, long pause_ms) {
            slow_downs.push_back(std::to_string(server) + " " + std::to_string(n));
            slowed = true;
            script.most_busy = 0; // counted again from the next start
            if (on_slow_down)
                on_slow_down(d, n, pause_ms);
        });
        for (const auto& t : to) {
            sources.push_back(std::make_unique<message::SegmentedSource>(
                std::vector<message::Segment>{message::Segment::literal("Subject: t\r\n\r\nbody\r\n")}));
            delivery::Job job;
            job.envelope = message::Envelope{"s@example.com", {t}};
            job.message_id = "<" + t + ">";
            job.source = sources.back().get();
            delivery::Hooks hooks;
            hooks.clock = &clock;
            parallel.add(std::move(job), hooks, nullptr, [this, t](const delivery::Result& r) {
                reported.push_back(t + " " + delivery::status_name(r.status) + " " +
                                   std::to_string(static_cast<int>(r.exit_code)));
                results.push_back(r);
            });
        }
        parallel.drain();
        if (slowed)
            most_busy_after_slow_down = script.most_busy;
    }
};

} // namespace

TEST_CASE("parallel: messages start in input order and are reported in it, whatever ends first") {
    Batch b;
    std::vector<std::string> to;
    for (int i = 0; i < 7; ++i) {
        to.push_back("r" + std::to_string(i) + "@x.test");
        b.script.outcomes[to.back()].push_back(sent_to(to.back()));
    }
    b.run(3, to);
    CHECK(b.script.pools_made == 1);
    CHECK(b.script.started == to);
    CHECK(b.script.most_busy == 3);
    REQUIRE(b.reported.size() == 7);
    for (int i = 0; i < 7; ++i)
        CHECK(b.reported[static_cast<size_t>(i)] == to[static_cast<size_t>(i)] + " sent 0");
    CHECK(b.clock.sleeps.empty());
}

TEST_CASE("parallel: without a tick a slow transfer is waited for unbounded (the old behaviour)") {
    Batch b;
    b.script.idle_runs = 3; // never used: the wait is unbounded
    b.script.outcomes["a@x.test"] = {sent_to("a@x.test")};
    b.run(2, {"a@x.test"});
    CHECK(b.script.waits == std::vector<long>{-1});
    CHECK(b.ticks.empty());
}

TEST_CASE("parallel: with a tick a slow transfer is waited for in tick-long blocking waits, a tick after each") {
    Batch b;
    b.tick_ms = 250;
    b.script.idle_runs = 3; // the message takes 750 ms and a bit
    b.script.outcomes["a@x.test"] = {sent_to("a@x.test")};
    b.run(2, {"a@x.test"});
    CHECK(b.reported == std::vector<std::string>{"a@x.test sent 0"});
    CHECK(b.script.waits == std::vector<long>{250, 250, 250, 250});
    CHECK(b.ticks == std::vector<int64_t>{250, 500, 750, 750});
    CHECK(b.clock.sleeps.empty()); // the pool waited, nothing slept beside it
}

TEST_CASE("parallel: with a tick a back-off is slept in tick-long pieces, a tick after each") {
    Batch b;
    b.tick_ms = 250;
    b.script.outcomes["a@x.test"] = {refused_connection("a@x.test"), sent_to("a@x.test")};
    b.run(1, {"a@x.test"});
    CHECK(b.reported == std::vector<std::string>{"a@x.test sent 0"});
    REQUIRE(b.clock.sleeps.size() >= 16); // the back-off is 4 to 6 s
    long slept = 0;
    for (long s : b.clock.sleeps) {
        CHECK(s <= 250);
        slept += s;
    }
    CHECK(slept >= 4000);
    CHECK(slept <= 6000);
    CHECK(b.ticks.size() == b.clock.sleeps.size() + 2); // each sleep, and the two transfers
}

TEST_CASE("parallel: a temporary failure is retried after its back-off, as deliver() decides") {
    Batch b;
    b.script.outcomes["a@x.test"] = {refused_connection("a@x.test"), sent_to("a@x.test")};
    b.script.outcomes["b@x.test"] = {sent_to("b@x.test")};
    b.run(2, {"a@x.test", "b@x.test"});
    CHECK(b.reported == std::vector<std::string>{"a@x.test sent 0", "b@x.test sent 0"});
    REQUIRE(b.results.size() == 2);
    CHECK(b.results[0].attempts == 2);
    CHECK(b.script.started == std::vector<std::string>{"a@x.test", "b@x.test", "a@x.test"});
    // Nothing else was running: the batch waited the back-off (4 to 6 s).
    REQUIRE(b.clock.sleeps.size() == 1);
    CHECK(b.clock.sleeps[0] >= 4000);
    CHECK(b.clock.sleeps[0] <= 6000);
}

TEST_CASE("parallel: the same outcomes give the same results as deliver() on one connection") {
    Batch b;
    b.script.outcomes["gone@x.test"] = {unknown_user("gone@x.test")};
    b.script.outcomes["down@x.test"] = {refused_connection("down@x.test"), refused_connection("down@x.test")};
    b.script.outcomes["ok@x.test"] = {sent_to("ok@x.test")};
    b.run(2, {"gone@x.test", "down@x.test", "ok@x.test"});
    CHECK(b.reported == std::vector<std::string>{"gone@x.test failed 67", "down@x.test failed 75",
                                                 "ok@x.test sent 0"});
    REQUIRE(b.results.size() == 3);
    CHECK(b.results[1].attempts == 2);
    REQUIRE(b.results[0].rejected.size() == 1);
    CHECK(b.results[0].rejected[0].reply == "550 5.1.1 user unknown");
}

TEST_CASE("rate limiter: starts are spaced one interval apart, never before now") {
    util::FakeClock clock;
    delivery::RateLimiter limiter(2.0, clock); // 2/s: every 500 ms
    CHECK(limiter.wait_ms() == 0);
    limiter.take();
    CHECK(limiter.wait_ms() == 500);
    clock.ms += 200;
    CHECK(limiter.wait_ms() == 300);
    clock.ms += 300;
    CHECK(limiter.wait_ms() == 0);
    limiter.take();
    CHECK(limiter.wait_ms() == 500);
    // After a pause no burst builds up: the next start is due an interval after now.
    clock.ms += 10000;
    CHECK(limiter.wait_ms() == 0);
    limiter.take();
    CHECK(limiter.wait_ms() == 500);
}

TEST_CASE("rate: N/s and N/min are messages per second; anything else is an error naming rate") {
    REQUIRE(config::parse_rate("10/s"));
    CHECK(*config::parse_rate("10/s") == 10.0);
    REQUIRE(config::parse_rate("120/min"));
    CHECK(*config::parse_rate("120/min") == 2.0);
    for (const char* bad : {"", "10", "/s", "0/s", "10/h", "-1/s", "1.5/s", "10/ s", "100001/s"}) {
        auto r = config::parse_rate(bad);
        CHECK_FALSE(r);
        if (!r)
            CHECK(r.error().hint.find("rate") != std::string::npos);
    }
}

TEST_CASE("parallel: --rate spaces the starts across all connections") {
    Batch b;
    std::vector<std::string> to;
    for (int i = 0; i < 4; ++i) {
        to.push_back("r" + std::to_string(i) + "@x.test");
        b.script.outcomes[to.back()].push_back(sent_to(to.back()));
    }
    b.rate = 2.0; // every 500 ms
    b.run(4, to);
    CHECK(b.script.started == to);
    // The fake pool ends each message at once: the batch waits for each start.
    CHECK(b.script.most_busy == 1);
    CHECK(b.clock.ms == 1500);
}

TEST_CASE("parallel: --max-per-connection reconnects a connection after N messages") {
    Batch b;
    std::vector<std::string> to;
    for (int i = 0; i < 5; ++i) {
        to.push_back("r" + std::to_string(i) + "@x.test");
        b.script.outcomes[to.back()].push_back(sent_to(to.back()));
    }
    b.max_per_connection = 2;
    b.run(1, to);
    CHECK(b.script.reconnects == std::vector<size_t>{0, 0});
    CHECK(b.reported.size() == 5);
}

namespace {

Outcome rate_limited(const std::string& to) {
    Outcome o;
    o.status = Outcome::Status::failed;
    o.stage = transport::Stage::mail;
    o.recipients.push_back({to, false, std::nullopt});
    o.reply = transport::make_reply({"421 4.7.0 rate limit exceeded, slow down"});
    return o;
}

} // namespace

TEST_CASE("parallel: a rate reply retries that message and slows the whole batch (pause, half the connections)") {
    Batch b;
    std::vector<std::string> to;
    for (int i = 0; i < 8; ++i) {
        to.push_back("r" + std::to_string(i) + "@x.test");
        b.script.outcomes[to.back()].push_back(sent_to(to.back()));
    }
    // The fake pool ends the last slot first: r3 (slot 3) ends first, refused.
    b.script.outcomes["r3@x.test"].push_front(rate_limited("r3@x.test"));
    std::vector<std::string> notices;
    b.on_slow_down = [&](const diagnosis::Diagnosis& d, size_t connections, long pause_ms) {
        notices.push_back(d.reply->text() + " " + std::to_string(connections));
        CHECK(pause_ms >= 4000);
        CHECK(pause_ms <= 6000);
    };
    b.run(4, to);
    REQUIRE(b.reported.size() == 8);
    for (size_t i = 0; i < 8; ++i)
        CHECK(b.reported[i] == to[i] + " sent 0");
    CHECK(b.results[3].attempts == 2);
    CHECK(notices == std::vector<std::string>{"421 4.7.0 rate limit exceeded, slow down 2"});
    // The batch paused once for the back-off, not message by message.
    REQUIRE_FALSE(b.clock.sleeps.empty());
    CHECK(b.clock.sleeps[0] >= 4000);
    // After the slow-down at most 2 messages are in flight at once.
    CHECK(b.most_busy_after_slow_down <= 2);
}

TEST_CASE("parallel: a plain temporary failure does not slow the batch") {
    Batch b;
    b.script.outcomes["a@x.test"] = {refused_connection("a@x.test"), sent_to("a@x.test")};
    b.script.outcomes["b@x.test"] = {sent_to("b@x.test")};
    int notices = 0;
    b.on_slow_down = [&](const diagnosis::Diagnosis&, size_t, long) { ++notices; };
    b.run(2, {"a@x.test", "b@x.test"});
    CHECK(notices == 0);
}

TEST_CASE("parallel: the slow-down never goes below one connection") {
    Batch b;
    b.script.outcomes["a@x.test"] = {rate_limited("a@x.test"), rate_limited("a@x.test"), sent_to("a@x.test")};
    b.policy.retries = 2;
    std::vector<size_t> connections;
    b.on_slow_down = [&](const diagnosis::Diagnosis&, size_t n, long) { connections.push_back(n); };
    b.run(2, {"a@x.test"});
    CHECK(connections == std::vector<size_t>{1, 1});
    CHECK(b.reported == std::vector<std::string>{"a@x.test sent 0"});
}

TEST_CASE("parallel: a per-connection limit on a reused connection is sent again at once, without a "
          "retry and without slowing the batch") {
    Batch b;
    b.policy.retries = 0;
    Outcome closing;
    closing.status = Outcome::Status::failed;
    closing.stage = transport::Stage::mail;
    closing.recipients.push_back({"b@x.test", false, std::nullopt});
    closing.reply = transport::make_reply({"421 4.7.0 Max message per connection reached, closing"});
    b.script.outcomes["a@x.test"] = {sent_to("a@x.test")};
    b.script.outcomes["b@x.test"] = {closing, sent_to("b@x.test")};
    int notices = 0;
    b.on_slow_down = [&](const diagnosis::Diagnosis&, size_t, long) { ++notices; };
    b.run(2, {"a@x.test", "b@x.test"});
    CHECK(b.reported == std::vector<std::string>{"a@x.test sent 0", "b@x.test sent 0"});
    CHECK(b.results[1].attempts == 2);
    CHECK(notices == 0);
    CHECK(b.clock.sleeps.empty());
}

TEST_CASE("parallel: a non-ASCII local part to a server without SMTPUTF8 is refused before MAIL (65), "
          "as a single send refuses it; the others go") {
    Batch b;
    b.smtputf8 = false;
    b.script.outcomes["a@x.test"] = {sent_to("a@x.test")};
    b.script.outcomes["b@x.test"] = {sent_to("b@x.test")};
    b.run(2, {"a@x.test", "j\xc3\xbcrgen@x.test", "b@x.test"});
    CHECK(b.reported ==
          std::vector<std::string>{"a@x.test sent 0", "j\xc3\xbcrgen@x.test failed 65", "b@x.test sent 0"});
    CHECK(b.script.started == std::vector<std::string>{"a@x.test", "b@x.test"}); // never reached MAIL
    REQUIRE(b.results[1].diagnosis);
    CHECK(b.results[1].diagnosis->stage == transport::Stage::mail);
    CHECK(b.results[1].diagnosis->cls == diagnosis::Class::input);
    CHECK_FALSE(b.results[1].diagnosis->hints.empty());
    CHECK(b.probes == 1);
}

TEST_CASE("parallel: a non-ASCII local part whose server could not be asked is not sent (75 after its retry); "
          "the others go") {
    Batch b; // smtputf8 unknown: the probe's connection is refused
    b.script.outcomes["a@x.test"] = {sent_to("a@x.test")};
    b.run(2, {"a@x.test", "j\xc3\xbcrgen@x.test"});
    CHECK(b.reported == std::vector<std::string>{"a@x.test sent 0", "j\xc3\xbcrgen@x.test failed 75"});
    CHECK(b.script.started == std::vector<std::string>{"a@x.test"});
    CHECK(b.results[1].attempts == 2);
    CHECK(b.probes == 2);
}

TEST_CASE("parallel: what a message's EHLO showed decides later non-ASCII addresses without a probe") {
    Batch b;
    Outcome first = sent_to("a@x.test");
    first.capabilities.seen = true;
    first.capabilities.smtputf8 = true;
    b.script.outcomes["a@x.test"] = {first};
    b.script.outcomes["j\xc3\xbcrgen@x.test"] = {sent_to("j\xc3\xbcrgen@x.test")};
    b.run(1, {"a@x.test", "j\xc3\xbcrgen@x.test"});
    CHECK(b.reported == std::vector<std::string>{"a@x.test sent 0", "j\xc3\xbcrgen@x.test sent 0"});
    CHECK(b.probes == 0);
}

TEST_CASE("parallel: a rate reply from the first server pauses only its lane; new messages go on to "
          "the fallback server at once, which keeps all its connections") {
    Batch b(2);
    std::vector<std::string> to;
    for (int i = 0; i < 8; ++i) {
        to.push_back("r" + std::to_string(i) + "@x.test");
        b.script.outcomes["2525 " + to.back()] = {rate_limited(to.back()), rate_limited(to.back())};
        b.script.outcomes["2526 " + to.back()] = {sent_to(to.back())};
    }
    b.run(2, to);
    REQUIRE(b.reported.size() == 8);
    for (size_t i = 0; i < 8; ++i)
        CHECK(b.reported[i] == to[i] + " sent 0");
    // The two messages on the first server's connections when it answered; none after.
    CHECK(b.script.started_at[2525] == std::vector<std::string>{"r0@x.test", "r1@x.test"});
    CHECK(b.script.started_at[2526].size() == 8);
    for (const auto& r : b.results)
        CHECK(r.server == "smtp://127.0.0.1:2526");
    // Those two were attempted there (the rate reply, then the fallback); the others skipped it.
    CHECK(b.results[0].attempts == 2);
    CHECK(b.results[1].attempts == 2);
    CHECK(b.results[2].attempts == 1);
    // One slow-down, of the first server; nobody waited for its pause, and the
    // fallback server used both connections.
    CHECK(b.slow_downs == std::vector<std::string>{"0 1"});
    CHECK(b.clock.sleeps.empty());
    CHECK(b.clock.ms == 0);
    CHECK(b.script.most_busy_at[2526] == 2);
}
