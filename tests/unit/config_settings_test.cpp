// Settings a user can trust (issue 16) and settings-file errors that never
// show a secret (issue 14): comments, presets, regions, durations, wire-safe
// values, exit-code kinds by layer, warnings.
#include "config/files.hpp"
#include "config/keys.hpp"
#include "config/load.hpp"
#include "config/server_url.hpp"
#include "message/body_source.hpp"
#include "message/compose.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

using namespace smtpsend;
namespace fs = std::filesystem;

namespace {

struct Home {
    fs::path root;
    util::MapEnvironment env;
    Home() {
        root = fs::path(std::getenv("TMPDIR")) / ("settings-" + std::to_string(std::rand()));
        fs::create_directories(root / "etc");
        fs::create_directories(root / "home/.config/smtpsend");
        env.values["HOME"] = (root / "home").string();
    }
    std::string user(const std::string& text, const std::string& ext = "ini") {
        fs::path p = root / ("home/.config/smtpsend/config." + ext);
        std::ofstream(p) << text;
        chmod(p.c_str(), 0600);
        return p.string();
    }
    util::Result<config::Loaded> load(std::vector<std::pair<std::string, std::string>> flags = {},
                                      std::string profile = "") {
        config::LayerInputs in;
        in.env = &env;
        in.flags = std::move(flags);
        in.profile_flag = std::move(profile);
        in.system_dir = (root / "etc").string();
        return config::load_settings(in);
    }
};

config::ConfigFile ini(const std::string& text) {
    auto f = config::parse_ini("c.ini", text);
    REQUIRE(f);
    return *f;
}

std::string ini_error(const std::string& text) {
    auto f = config::parse_ini("c.ini", text);
    REQUIRE_FALSE(f);
    return f.error().message + " | " + f.error().hint;
}

std::string json_error(const std::string& text) {
    auto f = config::parse_json("c.json", text);
    REQUIRE_FALSE(f);
    return f.error().message + " | " + f.error().hint;
}

} // namespace

TEST_CASE("INI: '#' or ';' after whitespace starts a comment, outside quotes") {
    struct Row {
        const char* line;
        const char* value;
    };
    const Row rows[] = {
        {"provider = office365            # server, port, TLS mode and auth", "office365"},
        {"domain = example.com   # cron mails \"root\"", "example.com"},
        {"queue = true\t; keep mail", "true"},
        {"password = p#ss;w=rd: x", "p#ss;w=rd: x"},        // inside a word: literal
        {"password = \"a # b ; c\"  # comment", "a # b ; c"}, // inside quotes: literal
        {"password = \"a \\\"q\\\" \\\\\"", "a \"q\" \\"},
        {"helo = # only a comment", ""},
        {"helo =#x", "#x"},
    };
    for (const auto& row : rows) {
        INFO(row.line);
        auto f = ini(std::string(row.line) + "\n");
        REQUIRE(f.top.entries.size() == 1);
        CHECK(f.top.entries[0].value == row.value);
    }
}

TEST_CASE("settings-file syntax errors name file, line and key, never a value") {
    const std::string secret = "S3cr3t-value";
    SECTION("an unclosed quote") {
        std::string e = ini_error("password = \"" + secret + "\n");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.ini:1: password: the quoted value has no closing quote") == 0);
    }
    SECTION("text after a closing quote") {
        std::string e = ini_error("password = \"a\"" + secret + "\n");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.ini:1: password: text follows the closing quote") == 0);
    }
    SECTION("a colon instead of '='") {
        std::string e = ini_error("password: " + secret + "\n");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.ini:1: password: expected '=' after the key") == 0);
    }
    SECTION("a line that is not key = value at all") {
        std::string e = ini_error("[profile a]\n" + secret + "\n");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.ini:2: expected \"key = value\" (the line is not shown)") == 0);
    }
    SECTION("a key that is not a name") {
        std::string e = ini_error("pass word " + secret + " = x\n");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.ini:1: expected \"key = value\"") == 0);
    }
    SECTION("a section header that is not a name") {
        std::string e = ini_error("[" + secret + " !]\n");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.ini:1: unknown section |") == 0);
    }
    SECTION("JSON: an unclosed string") {
        std::string e = json_error("{\n  \"password\": \"" + secret + "\n}\n");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("last read") == std::string::npos);
        CHECK(e.find("c.json:2: column ") == 0);
        CHECK(e.find(": password: syntax error while parsing value - invalid string") !=
              std::string::npos);
    }
    SECTION("JSON: a bare word as a value") {
        std::string e = json_error("{\"password\": " + secret + "}");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.json:1: column ") == 0);
        CHECK(e.find("password: syntax error") != std::string::npos);
    }
    SECTION("JSON: a value followed by ':' is not taken for a key") {
        std::string e = json_error("{\"password\": \"Hunter2\": 1}");
        CHECK(e.find("Hunter2") == std::string::npos);
        CHECK(e.find("c.json:1: column ") == 0);
    }
    SECTION("JSON: a number out of range is not echoed") {
        std::string e = json_error("{\"password\": 1e99999" + std::string("9") + "}");
        CHECK(e.find("99999") == std::string::npos);
        CHECK(e.find("a number is out of range") != std::string::npos);
    }
    SECTION("JSON: a key that is not a name") {
        std::string e = json_error("{\"" + secret + " x\": 1}");
        CHECK(e.find(secret) == std::string::npos);
        CHECK(e.find("c.json:1: a key that is not a name") == 0);
    }
}

TEST_CASE("a key set twice in one section is a warning; the last wins") {
    Home h;
    std::string p = h.user("[profile a]\nserver = smtp://one\nhelo = x\nserver = smtp://two\n");
    auto r = h.load({}, "a");
    REQUIRE(r);
    CHECK(r->settings.server.value == "smtp://two");
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0] == p + ":4: server is set twice in [profile a] (line 2 and here); the "
                                "last one wins");
    p = h.user("{\"profiles\": {\"a\": {\"helo\": \"x\",\n \"helo\": \"y\"}}}", "json");
    fs::remove(h.root / "home/.config/smtpsend/config.ini");
    r = h.load({}, "a");
    REQUIRE(r);
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0] == p + ":2: helo is set twice in profile \"a\" (line 1 and here); the "
                                "last one wins");
}

TEST_CASE("an SMTPSEND_ variable that is not a setting is a warning with a suggestion") {
    Home h;
    h.env.values["SMTPSEND_PASWORD"] = "x";
    h.env.values["SMTPSEND_CONFIG"] = "";      // read on purpose
    h.env.values["SMTPSEND_TEST_WRAPPER"] = ""; // the test tools' own
    h.env.values["SMTPSEND_BIN"] = "/x";
    auto r = h.load();
    REQUIRE(r);
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0] ==
          "env SMTPSEND_PASWORD is not a setting and is ignored; did you mean SMTPSEND_PASSWORD?");
}

TEST_CASE("ses needs a region from the known list, with a suggestion") {
    Home h;
    h.user("[profile s]\nprovider = ses\n[profile t]\nprovider = ses\nregion = eu-west1\n");
    auto r = h.load({}, "s");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("provider ses needs region (profile \"s\", ") == 0);
    CHECK(r.error().kind == util::ErrorKind::config);
    r = h.load({}, "t");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("region = \"eu-west1\" is not an AWS region with SES") == 0);
    CHECK(r.error().hint == "did you mean \"eu-west-1\"?");
    r = h.load({{"region", "eu-west1"}}, "s"); // from a flag: a usage error
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == util::ErrorKind::usage);
    r = h.load({{"region", "eu-west-1"}}, "s");
    REQUIRE(r);
    CHECK(r->settings.server.value == "smtp://email-smtp.eu-west-1.amazonaws.com");
}

TEST_CASE("every duration key takes 30, 30s, 5m, 2h, 5d and shows it as written") {
    const char* keys[] = {"timeout", "max_time", "retry_wait", "max_age"};
    struct Row {
        const char* text;
        long seconds;
    };
    const Row rows[] = {{"30", 30}, {"30s", 30}, {"5m", 300}, {"1h", 3600}};
    for (const char* name : keys)
        for (const auto& row : rows) {
            INFO(name << " = " << row.text);
            config::Settings s;
            const auto* k = config::find_key(name);
            REQUIRE(k);
            REQUIRE(k->assign(s, row.text, config::Origin::flag("--x")));
            CHECK(k->text(s) == row.text);
        }
    config::Settings s;
    REQUIRE(config::find_key("max_age")->assign(s, "5d", config::Origin::flag("--max-age")));
    CHECK(s.max_age.value == 432000);
    CHECK(config::find_key("max_age")->text(s) == "5d");
    CHECK(config::find_key("max_age")->text(config::Settings{}) == "5d"); // the default
    CHECK(config::find_key("timeout")->text(config::Settings{}) == "30s");
    REQUIRE(config::find_key("timeout")->assign(s, "2m", config::Origin::flag("--timeout")));
    CHECK(s.timeout.value == 120);
    CHECK_FALSE(config::find_key("timeout")->assign(s, "2h", config::Origin::flag("--timeout")));
    CHECK_FALSE(config::find_key("timeout")->assign(s, "30x", config::Origin::flag("--timeout")));
}

TEST_CASE("values that reach the wire are refused with a control character, naming the key") {
    struct Row {
        const char* key;
        std::string value;
    };
    const Row rows[] = {
        {"domain", "example.com\r\nRCPT TO:<x@evil.test>"},
        {"domain", std::string("example.com\0x", 13)},
        {"helo", "host\r\nMAIL FROM:<a@b>"},
        {"from", "a@example.com\nBcc: x@evil.test"},
        {"user", "me\r\nQUIT"},
        {"server", "smtp://host\r\n"},
        {"region", "eu\nx"},
        {"provider", "gmail\r\n"},
    };
    for (const auto& row : rows) {
        INFO(row.key);
        config::Settings s;
        auto st = config::find_key(row.key)->assign(s, row.value, config::Origin::flag("--x"));
        REQUIRE_FALSE(st);
        CHECK(st.error().message.find(row.key) == 0);
        CHECK(st.error().message.find('\r') == std::string::npos);
        CHECK(st.error().message.find('\n') == std::string::npos);
        CHECK(st.error().message.find("evil") == std::string::npos);
    }
}

TEST_CASE("helo with a space and a domain that is not a domain name are refused") {
    config::Settings s;
    auto st = config::find_key("helo")->assign(s, "my host", config::Origin::flag("--helo"));
    REQUIRE_FALSE(st);
    CHECK(st.error().message == "helo = \"my host\" is not a host name (it holds a space)");
    for (const char* bad : {"exa mple.com", "-a.example", "a..b", ".example.com", "x_y.com", ""}) {
        INFO(bad);
        CHECK_FALSE(config::find_key("domain")->assign(s, bad, config::Origin::flag("--domain")));
    }
    for (const char* good : {"example.com", "mail-1.example.org", "localhost"}) {
        INFO(good);
        CHECK(config::find_key("domain")->assign(s, good, config::Origin::flag("--domain")));
    }
}

TEST_CASE("a bad value is a usage error from a flag and a config error from a file or env") {
    struct Row {
        const char* key;
        const char* value;
    };
    const Row rows[] = {{"provider", "gmial"}, {"region", "eu-west1"}, {"server", "ftp://x"},
                        {"port", "0"},         {"tls", "maybe"},       {"helo", "a b"},
                        {"domain", "a..b"},    {"timeout", "soon"},    {"queue", "perhaps"},
                        {"auth", "magic"}};
    for (const auto& row : rows) {
        INFO(row.key << " = " << row.value);
        std::vector<std::pair<std::string, std::string>> flags = {{row.key, row.value}};
        if (std::string(row.key) == "region")
            flags.emplace_back("provider", "ses");
        Home flag;
        auto r = flag.load(flags);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == util::ErrorKind::usage);
        Home env;
        env.env.values[config::env_name(row.key)] = row.value;
        if (std::string(row.key) == "region")
            env.env.values["SMTPSEND_PROVIDER"] = "ses";
        r = env.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == util::ErrorKind::config);
        Home file;
        file.user(std::string(row.key) + " = " + row.value + "\n" +
                  (std::string(row.key) == "region" ? "provider = ses\n" : ""));
        r = file.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == util::ErrorKind::config);
    }
}

TEST_CASE("a bad server URL is refused when the settings are loaded, by layer") {
    Home h;
    auto r = h.load({{"server", "ftp://x"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "--server: server = \"ftp://x\": unknown scheme \"ftp://\"");
    CHECK(r.error().kind == util::ErrorKind::usage);
}

TEST_CASE("domain qualifies local recipients in every mode, not only sendmail mode") {
    std::string body = std::string(std::getenv("TMPDIR")) + "/body-" + std::to_string(std::rand());
    std::ofstream(body) << "hi\n";
    message::MessageRequest req;
    req.to = {"root", "bob@x.org"};
    req.cc = {"ops"};
    req.body_file = body;
    config::Settings s;
    s.from.assign("me@example.com", config::Origin::flag("--from"));
    REQUIRE(config::find_key("domain")->assign(s, "example.com", config::Origin::flag("--domain")));
    auto m = message::prepare_message(req, s, message::ComposeContext{});
    REQUIRE(m);
    CHECK(m->envelope.recipients ==
          std::vector<std::string>{"root@example.com", "bob@x.org", "ops@example.com"});
    auto text = message::read_all(*m->source);
    REQUIRE(text);
    CHECK(text->find("To: root@example.com, bob@x.org\r\n") != std::string::npos);
    CHECK(text->find("Cc: ops@example.com\r\n") != std::string::npos);

    config::Settings bare; // no domain, no aliases: an error that names `domain`
    bare.from.assign("me@example.com", config::Origin::flag("--from"));
    m = message::prepare_message(req, bare, message::ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().hint.find("set `domain`") != std::string::npos);
}
