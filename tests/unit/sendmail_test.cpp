#include "cli/cli.hpp"
#include "message/aliases.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

using namespace smtpsend;

namespace {
util::Result<cli::Invocation> sendmail(std::vector<const char*> args) {
    args.insert(args.begin(), "/usr/sbin/sendmail");
    return cli::parse(static_cast<int>(args.size()), args.data());
}
} // namespace

TEST_CASE("cron's, mutt's and PHP's sendmail command lines") {
    auto inv = sendmail({"-i", "-FCronDaemon", "-B8BITMIME", "-oem", "root"});
    REQUIRE(inv);
    CHECK(inv->message.complete_message);
    CHECK(inv->message.ignore_dots);
    CHECK(inv->message.full_name == "CronDaemon");
    CHECK(inv->message.to == std::vector<std::string>{"root"});
    inv = sendmail({"-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"});
    REQUIRE(inv);
    CHECK(inv->message.extract_recipients);
    CHECK(inv->message.envelope_from == "root");
    CHECK(inv->message.to.empty());
    inv = sendmail({"-oem", "-oi", "--", "-weird@example.com", "b@example.com"});
    REQUIRE(inv);
    CHECK(inv->message.to == std::vector<std::string>{"-weird@example.com", "b@example.com"});
    inv = sendmail({"-t"});
    REQUIRE(inv);
    CHECK_FALSE(inv->message.ignore_dots);
    inv = sendmail({"-fbounce@example.com", "-C", "/etc/other.ini", "-N", "never", "-L", "tag", "x@example.com"});
    REQUIRE(inv);
    CHECK(inv->message.envelope_from == "bounce@example.com");
    CHECK(inv->config_path == "/etc/other.ini");
    CHECK(inv->message.to == std::vector<std::string>{"x@example.com"});
}

TEST_CASE("sendmail modes and bad options") {
    auto inv = sendmail({"-bs"});
    REQUIRE(inv);
    CHECK(inv->command == cli::Command::smtp_stdio);
    inv = sendmail({"-bp"});
    REQUIRE(inv);
    CHECK(inv->command == cli::Command::list_queue);
    const char* mailq[] = {"mailq"};
    inv = cli::parse(1, mailq);
    REQUIRE(inv);
    CHECK(inv->command == cli::Command::list_queue);
    for (const char* q : {"-q", "-qf", "-q30m"}) {
        CAPTURE(q);
        inv = sendmail({q});
        REQUIRE(inv);
        CHECK(inv->command == cli::Command::queue_flush);
        CHECK(inv->flush_all);
        CHECK(inv->message.complete_message);
    }
    CHECK_FALSE(sendmail({"-bt"}));
    CHECK_FALSE(sendmail({"-Z"}));
    CHECK_FALSE(sendmail({"-f"}));
}

TEST_CASE("aliases resolve recursively, with default and domain") {
    std::string path = std::string(std::getenv("TMPDIR")) + "/aliases";
    std::ofstream(path) << "# comment\nroot: admin, ops@example.com\nadmin: boss@example.com,\n"
                           "  deputy@example.com\nloop: loop\nprog: |/usr/bin/true\n";
    auto table = message::read_aliases(path);
    REQUIRE(table);
    auto r = message::resolve_local("root", &*table, "");
    REQUIRE(r);
    CHECK(*r == std::vector<std::string>{"boss@example.com", "deputy@example.com", "ops@example.com"});
    CHECK(message::resolve_local("ROOT", &*table, "")->size() == 3);
    auto loop = message::resolve_local("loop", &*table, "");
    REQUIRE_FALSE(loop);
    CHECK(loop.error().kind == util::ErrorKind::nouser);
    CHECK_FALSE(message::resolve_local("prog", &*table, ""));
    auto unknown = message::resolve_local("alice", &*table, "");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().hint.find("alice: you@example.com") != std::string::npos);
    CHECK(*message::resolve_local("alice", &*table, "example.org") ==
          std::vector<std::string>{"alice@example.org"});
    std::ofstream(path, std::ios::app) << "default: catchall@example.com\n";
    table = message::read_aliases(path);
    CHECK(*message::resolve_local("alice", &*table, "") ==
          std::vector<std::string>{"catchall@example.com"});
    std::ofstream(path) << "no colon here\n";
    auto bad = message::read_aliases(path);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == path + ":1: expected \"name: address, ...\"");
}

TEST_CASE("-F with a line break or control character is refused") {
    for (const char* name : {"Cron\r\nBcc: hidden@evil.test", "Cron\n.\nMAIL FROM:<s@evil.test>",
                             "Cron\rX", "Cron\x1b]0;t\x07"}) {
        CAPTURE(name);
        auto inv = sendmail({"-i", "-F", name, "root"});
        REQUIRE_FALSE(inv);
        CHECK(inv.error().kind == util::ErrorKind::usage);
        CHECK(inv.error().message.rfind("sendmail mode: -F \"Cron\\", 0) == 0);
    }
    auto glued = sendmail({"-i", "-FCron\r\nBcc: x@evil.test", "root"});
    REQUIRE_FALSE(glued);
    CHECK(glued.error().message ==
          "sendmail mode: -F \"Cron\\r\\nBcc: x@evil.test\": the full name contains a line break "
          "or control character");
    auto tab = sendmail({"-i", "-F", "Cron\tDaemon", "root"});
    REQUIRE(tab);
    CHECK(tab->message.full_name == "Cron\tDaemon");
}
