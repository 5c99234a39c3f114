#include "config/settings.hpp"
#include "log/attempt_log.hpp"
#include "message/body_source.hpp"
#include "queue/queue.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace smtpsend;
namespace fs = std::filesystem;

namespace {
std::string temp_queue() {
    return std::string(std::getenv("TMPDIR")) + "/queue-" + std::to_string(std::rand());
}
message::SegmentedSource text_source(const std::string& text) {
    return message::SegmentedSource({message::Segment::literal(text)});
}
} // namespace

TEST_CASE("a queued message and its entry round-trip") {
    queue::Queue q(temp_queue());
    auto src = text_source("Subject: x\r\n\r\nbody\r\n");
    queue::Entry e;
    e.from = "a@example.com";
    e.recipients = {"b@example.com", "c@example.com"};
    e.message_id = "<id@example.com>";
    e.attempts.push_back({1, "failed", "network", 0, "", "refused", 75});
    auto id = q.add(e, src);
    REQUIRE(id);
    auto list = q.list();
    REQUIRE(list.size() == 1);
    CHECK(list[0].id == *id);
    CHECK(list[0].recipients == e.recipients);
    CHECK(list[0].size == 20);
    CHECK(list[0].attempts.size() == 1);
    auto msg = q.open_message(*id);
    REQUIRE(msg);
    CHECK(*message::read_all(**msg) == "Subject: x\r\n\r\nbody\r\n");
    CHECK(fs::is_empty(q.dir() + "/tmp"));
}

TEST_CASE("an entry is locked by one holder at a time, and gone once removed") {
    queue::Queue q(temp_queue());
    auto src = text_source("x");
    auto id = q.add(queue::Entry{}, src);
    REQUIRE(id);
    {
        auto lock = q.lock(*id);
        REQUIRE(lock);
        CHECK_FALSE(q.lock(*id));
    }
    CHECK(q.lock(*id));
    REQUIRE(q.remove(*id));
    CHECK_FALSE(q.lock(*id));
    CHECK(q.list().empty());
    CHECK_FALSE(q.load(*id));
    CHECK_FALSE(q.load("../../etc/passwd"));
}

TEST_CASE("failed entries move to failed/ with the reason") {
    queue::Queue q(temp_queue());
    auto src = text_source("x");
    auto id = q.add(queue::Entry{}, src);
    REQUIRE(id);
    REQUIRE(q.fail(*q.load(*id), "550 5.1.1 user unknown"));
    CHECK(q.list().empty());
    auto failed = q.list_failed();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].failure == "550 5.1.1 user unknown");
    CHECK(fs::exists(q.dir() + "/failed/" + *id + ".eml"));
}

TEST_CASE("an entry of an unknown format version is refused") {
    queue::Queue q(temp_queue());
    auto src = text_source("x");
    auto id = q.add(queue::Entry{}, src);
    REQUIRE(id);
    std::ofstream(q.entry_path(*id)) << R"({"version": 99, "id": "x", "from": "a", "recipients": []})";
    auto e = q.load(*id);
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("version 99") != std::string::npos);
}

TEST_CASE("log lines are key=value and quote what needs it") {
    log::Record r;
    r.host = "smtp://h:587";
    r.from = "a@example.com";
    r.recipients = {"b@example.com", "c@example.com"};
    r.outcome = "failed";
    r.cls = "auth";
    r.reply_code = 535;
    r.reply = "535 5.7.8 bad \"creds\"\nsecond line";
    r.exit_code = 77;
    std::string line = log::format(r);
    CHECK(line.rfind("time=", 0) == 0);
    CHECK(line.find(" recipients=b@example.com,c@example.com ") != std::string::npos);
    CHECK(line.find(" reply=\"535 5.7.8 bad \\\"creds\\\" second line\" ") != std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find(" exit=77 ") != std::string::npos);
}

TEST_CASE("durations") {
    CHECK(config::parse_duration("90") == 90);
    CHECK(config::parse_duration("90s") == 90);
    CHECK(config::parse_duration("30m") == 1800);
    CHECK(config::parse_duration("12h") == 43200);
    CHECK(config::parse_duration("5d") == 432000);
    CHECK_FALSE(config::parse_duration(""));
    CHECK_FALSE(config::parse_duration("d"));
    CHECK_FALSE(config::parse_duration("5w"));
    CHECK_FALSE(config::parse_duration("-5s"));
}
