#include "cli/cli.hpp"

#include <catch2/catch.hpp>

using namespace smtpsend;

namespace {
util::Result<cli::Invocation> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "smtpsend");
    return cli::parse(static_cast<int>(args.size()), args.data());
}
} // namespace

TEST_CASE("recipients, repeatable options and settings flags") {
    auto inv = parse({"-s", "subj", "--cc", "c@x.org", "--bcc", "b1@x.org", "--bcc", "b2@x.org",
                      "--server", "smtps://h.example", "--password-cmd", "pass show smtp",
                      "-H", "X-A: 1", "a@x.org", "d@x.org"});
    REQUIRE(inv);
    CHECK(inv->command == cli::Command::send);
    CHECK(inv->message.subject == "subj");
    CHECK(inv->message.to == std::vector<std::string>{"a@x.org", "d@x.org"});
    CHECK(inv->message.cc == std::vector<std::string>{"c@x.org"});
    CHECK(inv->message.bcc == std::vector<std::string>{"b1@x.org", "b2@x.org"});
    CHECK(inv->message.headers == std::vector<std::string>{"X-A: 1"});
    bool server = false, cmd = false;
    for (const auto& [k, v] : inv->settings) {
        server |= k == "server" && v == "smtps://h.example";
        cmd |= k == "password_cmd" && v == "pass show smtp";
    }
    CHECK(server);
    CHECK(cmd);
}

TEST_CASE("-t, output flags and explain") {
    auto inv = parse({"-t", "-v", "--json", "--dry-run"});
    REQUIRE(inv);
    CHECK(inv->message.extract_recipients);
    CHECK(inv->verbose);
    CHECK(inv->json);
    CHECK(inv->dry_run);
    inv = parse({"explain", "--stage", "mail", "530", "5.7.0", "Authentication", "required"});
    REQUIRE(inv);
    CHECK(inv->command == cli::Command::explain);
    CHECK(inv->explain_stage == "mail");
    CHECK(inv->explain_text.size() == 4);
}

TEST_CASE("bad command lines are usage errors; there is no --password flag") {
    auto inv = parse({"--no-such-flag"});
    REQUIRE_FALSE(inv);
    CHECK(inv.error().kind == util::ErrorKind::usage);
    CHECK_FALSE(parse({"--password", "x", "a@x.org"}));
    auto help = parse({"--help"});
    REQUIRE(help);
    CHECK(help->command == cli::Command::help);
    CHECK(help->help_text.find("--password-cmd") != std::string::npos);
    CHECK(help->help_text.find("SMTPSEND_PASSWORD_CMD") != std::string::npos);
}

TEST_CASE("a mistyped option or command gets the nearest name and is a usage error") {
    struct Row {
        std::vector<const char*> args;
        const char* message;
    };
    const Row rows[] = {
        {{"--subjet", "x", "a@x.org"}, "unknown option --subjet; did you mean --subject?"},
        {{"--no-queu", "a@x.org"}, "unknown option --no-queu; did you mean --no-queue?"},
        {{"config", "show", "--jsn"}, "unknown option --jsn; did you mean --json?"},
        {{"chekc"}, "unknown command \"chekc\"; did you mean \"check\"?"},
        {{"expalin", "x"}, "unknown command \"expalin\"; did you mean \"explain\"?"},
        {{"config", "shwo"}, "unknown command \"shwo\" for smtpsend config; did you mean \"show\"?"},
        {{"queue", "lst"}, "unknown command \"lst\" for smtpsend queue; did you mean \"list\"?"},
        {{"help", "chekc"}, "unknown command \"chekc\" for smtpsend; did you mean \"check\"?"},
    };
    for (const auto& row : rows) {
        INFO(row.message);
        auto inv = parse(row.args);
        REQUIRE_FALSE(inv);
        CHECK(inv.error().message == row.message);
        CHECK(inv.error().kind == util::ErrorKind::usage);
    }
}

TEST_CASE("an option value that starts with -- is a value, not a mistyped option") {
    auto inv = parse({"-s", "--- report ---", "a@x.org"});
    REQUIRE(inv);
    CHECK(inv->message.subject == "--- report ---");
}

TEST_CASE("a local name far from every command stays a recipient") {
    auto inv = parse({"root"});
    REQUIRE(inv);
    CHECK(inv->message.to == std::vector<std::string>{"root"});
    inv = parse({"--to", "chekc"}); // the escape the hint names
    REQUIRE(inv);
    CHECK(inv->message.to == std::vector<std::string>{"chekc"});
}

TEST_CASE("help [COMMAND], -V and version") {
    auto inv = parse({"help"});
    REQUIRE(inv);
    CHECK(inv->command == cli::Command::help);
    CHECK(inv->help_text.find("Commands:") != std::string::npos);
    inv = parse({"help", "check"});
    REQUIRE(inv);
    CHECK(inv->command == cli::Command::help);
    CHECK(inv->help_text.find("--rcpt") != std::string::npos);
    inv = parse({"help", "config", "import"});
    REQUIRE(inv);
    CHECK(inv->help_text.find("--name") != std::string::npos);
    inv = parse({"check", "--help"});
    REQUIRE(inv);
    CHECK(inv->help_text.find("--rcpt") != std::string::npos);
    for (auto args : {std::vector<const char*>{"-V"}, std::vector<const char*>{"--version"},
                      std::vector<const char*>{"version"}}) {
        inv = parse(args);
        REQUIRE(inv);
        CHECK(inv->command == cli::Command::version);
    }
}

TEST_CASE("the flags -4 and -6 set ip_version wherever they stand, after a command too", "[cli][ipflags]") {
    using Settings = std::vector<std::pair<std::string, std::string>>;
    struct Row {
        std::vector<const char*> args;
        cli::Command command;
        Settings settings;
        std::vector<std::string> recipients;
    };
    const std::vector<Row> rows = {
        {{"-6", "a@x.org"}, cli::Command::send, {{"ip_version", "6"}}, {"a@x.org"}},
        {{"a@x.org", "-4"}, cli::Command::send, {{"ip_version", "4"}}, {"a@x.org"}},
        {{"check", "-6"}, cli::Command::check, {{"ip_version", "6"}}, {}},
        {{"batch", "-4"}, cli::Command::batch, {{"ip_version", "4"}}, {}},
        {{"config", "show", "-6"}, cli::Command::config_show, {{"ip_version", "6"}}, {}},
        {{"queue", "flush", "-6"}, cli::Command::queue_flush, {{"ip_version", "6"}}, {}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.args);
        auto inv = parse(row.args);
        REQUIRE(inv);
        CHECK(inv->command == row.command);
        CHECK(inv->settings == row.settings);
        CHECK(inv->message.to == row.recipients);
    }
    CHECK_FALSE(parse({"-4", "-6", "a@x.org"}));
    CHECK_FALSE(parse({"check", "-4", "-6"}));
}
