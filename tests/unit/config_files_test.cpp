#include "config/files.hpp"
#include "config/load.hpp"
#include "config/server_url.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

using namespace smtpsend;
namespace fs = std::filesystem;

namespace {

// A fake machine: a system folder and a home, inside the test's TMPDIR.
struct Machine {
    fs::path root;
    util::MapEnvironment env;

    Machine() {
        root = fs::path(std::getenv("TMPDIR")) / ("machine-" + std::to_string(std::rand()));
        fs::create_directories(root / "etc");
        fs::create_directories(root / "home/.config/smtpsend");
        env.values["HOME"] = (root / "home").string();
    }
    std::string write(const std::string& rel, const std::string& text, mode_t mode = 0600) {
        fs::path p = root / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
        chmod(p.c_str(), mode);
        return p.string();
    }
    std::string user(const std::string& text, const std::string& ext = "ini", mode_t mode = 0600) {
        return write("home/.config/smtpsend/config." + ext, text, mode);
    }
    util::Result<config::Loaded> load(std::vector<std::pair<std::string, std::string>> flags = {},
                                      std::string profile = "", std::string config = "") {
        config::LayerInputs in;
        in.env = &env;
        in.flags = std::move(flags);
        in.profile_flag = std::move(profile);
        in.config_flag = std::move(config);
        in.system_dir = (root / "etc").string();
        return config::load_settings(in);
    }
};

const char* ini_model = "default = work\n"
                        "timeout = 20\n"
                        "[profile base]\n"
                        "server = smtp://base.example\n"
                        "from = base@example.com\n"
                        "[profile work]\n"
                        "inherit = base\n"
                        "server = smtps://work.example\n"
                        "user = me@work.example\n"
                        "password = p#ss;w=rd: x\n";

const char* json_model = R"({
  "default": "work",
  "timeout": 20,
  "profiles": {
    "base": {"server": "smtp://base.example", "from": "base@example.com"},
    "work": {"inherit": "base", "server": "smtps://work.example",
             "user": "me@work.example", "password": "p#ss;w=rd: x"}
  }
})";

} // namespace

TEST_CASE("INI and JSON files hold the same model") {
    for (auto [text, ext] : {std::pair{ini_model, "ini"}, std::pair{json_model, "json"}}) {
        Machine m;
        std::string path = m.user(text, ext);
        auto r = m.load();
        REQUIRE(r);
        const auto& s = r->settings;
        CHECK(r->profile == "work");
        CHECK(s.server.value == "smtps://work.example");
        CHECK(s.from.value == "base@example.com");
        CHECK(s.user.value == "me@work.example");
        CHECK(s.password.value == "p#ss;w=rd: x");
        CHECK(s.timeout.value == 20);
        CHECK(s.server.origin.describe().find("profile \"work\", " + path + ":") == 0);
        CHECK(s.from.origin.describe().find("profile \"base\"") == 0);
    }
}

TEST_CASE("each layer overrides the one before") {
    Machine m;
    m.write("etc/config.ini", "server = smtp://system.example\nhelo = sys\nfrom = sys@example.com\n"
                              "[profile work]\nhelo = sys-work\n", 0644);
    m.user("server = smtp://user.example\nfrom = user@example.com\n[profile work]\nfrom = work@example.com\n");
    auto r = m.load({}, "work");
    REQUIRE(r);
    CHECK(r->settings.server.value == "smtp://user.example");       // user file beats system
    CHECK(r->settings.helo.value == "sys-work");                    // profile beats top level
    CHECK(r->settings.from.value == "work@example.com");            // user's profile last
    m.env.values["SMTPSEND_FROM"] = "env@example.com";
    r = m.load({}, "work");
    REQUIRE(r);
    CHECK(r->settings.from.value == "env@example.com");
    CHECK(r->settings.from.origin.describe() == "env SMTPSEND_FROM");
    r = m.load({{"from", "flag@example.com"}}, "work");
    REQUIRE(r);
    CHECK(r->settings.from.value == "flag@example.com");
    CHECK(r->settings.from.origin.describe() == "flag --from");
    CHECK(r->settings.timeout.origin.describe() == "default");
}

TEST_CASE("the profile comes from the flag, the environment or the file's default") {
    Machine m;
    m.user("default = a\n[profile a]\nhelo = A\n[profile b]\nhelo = B\n");
    auto r = m.load();
    REQUIRE(r);
    CHECK(r->settings.helo.value == "A");
    CHECK(r->profile_origin.find("config.ini:1") != std::string::npos);
    m.env.values["SMTPSEND_PROFILE"] = "b";
    r = m.load();
    REQUIRE(r);
    CHECK(r->settings.helo.value == "B");
    CHECK(r->profile_origin == "env SMTPSEND_PROFILE");
    r = m.load({}, "a");
    REQUIRE(r);
    CHECK(r->settings.helo.value == "A");
}

TEST_CASE("--config and SMTPSEND_CONFIG replace the user's file") {
    Machine m;
    m.user("helo = from-user-file\n");
    std::string other = m.write("other.json", R"({"helo": "from-other"})");
    auto r = m.load({}, "", other);
    REQUIRE(r);
    CHECK(r->settings.helo.value == "from-other");
    m.env.values["SMTPSEND_CONFIG"] = other;
    r = m.load();
    REQUIRE(r);
    CHECK(r->settings.helo.value == "from-other");
    auto missing = m.load({}, "", (m.root / "nope.ini").string());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("does not exist") != std::string::npos);
}

TEST_CASE("XDG_CONFIG_HOME is preferred over ~/.config") {
    Machine m;
    m.user("helo = home\n");
    m.write("xdg/smtpsend/config.ini", "helo = xdg\n");
    m.env.values["XDG_CONFIG_HOME"] = (m.root / "xdg").string();
    auto r = m.load();
    REQUIRE(r);
    CHECK(r->settings.helo.value == "xdg");
}

TEST_CASE("errors name the file, line and key") {
    Machine m;
    SECTION("unknown key with a suggestion") {
        std::string p = m.user("[profile x]\nserver = smtp://h\npasword_cmd = pass\n");
        auto r = m.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().message == p + ":3: unknown key \"pasword_cmd\"");
        CHECK(r.error().hint == "did you mean \"password_cmd\"?");
        CHECK(r.error().kind == util::ErrorKind::config);
    }
    SECTION("a wrong value lists the accepted ones, even in a profile not in use") {
        std::string p = m.user("[profile unused]\n\ntls = maybe\n");
        auto r = m.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().message ==
              p + ":3: tls = \"maybe\" is not one of starttls, implicit, none");
    }
    SECTION("out of range") {
        std::string p = m.user("port = 70000\n");
        auto r = m.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find(p + ":1: port = \"70000\"") == 0);
        CHECK(r.error().message.find("1 to 65535") != std::string::npos);
    }
    SECTION("INI syntax") {
        std::string p = m.user("server smtp://x\n");
        auto r = m.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().message == p + ":1: server: expected '=' after the key");
        m.user("[profile a\n");
        CHECK_FALSE(m.load());
        m.user("[server]\n");
        CHECK_FALSE(m.load());
        m.user("password = \"unclosed\n");
        CHECK_FALSE(m.load());
    }
    SECTION("JSON syntax with line and column") {
        std::string p = m.user("{\n  \"server\": \"smtp://x\",\n  \"tls\" \"none\"\n}\n", "json");
        auto r = m.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find(p + ":3: column ") == 0);
    }
    SECTION("JSON unknown key points at its line") {
        std::string p = m.user("{\n  \"profiles\": {\n    \"a\": {\n      \"sever\": \"x\"\n    }\n  }\n}\n", "json");
        auto r = m.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().message == p + ":4: unknown key \"sever\"");
        CHECK(r.error().hint == "did you mean \"server\"?");
    }
    SECTION("unknown profile lists the ones that exist") {
        m.user("[profile work]\n[profile home]\n");
        auto r = m.load({}, "wrok");
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "unknown profile \"wrok\" (flag --profile)");
        CHECK(r.error().hint == "profiles: home, work");
    }
    SECTION("inherit loop and unknown parent") {
        m.user("[profile a]\ninherit = b\n[profile b]\ninherit = c\n[profile c]\ninherit = a\n");
        auto r = m.load({}, "a");
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "inherit loop: a -> b -> c -> a");
        std::string p = m.user("[profile a]\ninherit = ghost\n");
        r = m.load({}, "a");
        REQUIRE_FALSE(r);
        CHECK(r.error().message == p + ":2: profile \"a\" inherits \"ghost\", which does not exist");
    }
    SECTION("both formats at once") {
        m.user("helo = a\n");
        m.user("{}", "json");
        auto r = m.load();
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("both") == 0);
    }
}

TEST_CASE("a number too large for JSON is an error, not a crash (found by fuzzing)") {
    auto r = config::parse_json("x.json", "{\"timeout\": 1e999999}");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("out of range") != std::string::npos);
    CHECK_FALSE(config::parse_json("x.json", "31000000000000000033198403894815419e666"));
}

TEST_CASE("values keep #, ;, =, : and quoted spaces") {
    Machine m;
    m.user("password = a#b;c=d:e\npassword_cmd = \"  spaced \\\"q\\\" \"\n");
    auto r = m.load();
    REQUIRE(r);
    CHECK(r->settings.password.value == "a#b;c=d:e");
    CHECK(r->settings.password_cmd.value == "  spaced \"q\" ");
}

TEST_CASE("a readable file with a secret is refused, with the chmod fix") {
    Machine m;
    std::string p = m.user("[profile a]\npassword_cmd = pass x\n", "ini", 0644);
    auto r = m.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().message == p + ":2: password_cmd is set in a file that others can read");
    CHECK(r.error().hint == "chmod 600 " + p);
    m.user("helo = x\n", "ini", 0644); // no secret: fine
    CHECK(m.load());
}

TEST_CASE("a settings path that is a directory or FIFO is refused") {
    Machine m;
    fs::create_directories(m.root / "dir.ini");
    auto r = m.load({}, "", (m.root / "dir.ini").string());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("is a directory") != std::string::npos);
    std::string fifo = (m.root / "fifo.ini").string();
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    r = m.load({}, "", fifo);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("not a regular file") != std::string::npos);
}

TEST_CASE("no files at all is fine") {
    Machine m;
    auto r = m.load();
    REQUIRE(r);
    CHECK(r->files.empty());
    CHECK(r->profile.empty());
}

TEST_CASE("a provider preset fills only what no layer set") {
    Machine m;
    m.user("port = 2525\n"                   // an earlier layer: still wins over the preset
           "[profile mail]\n"
           "auth = login\n"                  // same section, written before: wins
           "provider = gmail\n"
           "user = me@gmail.com\n");
    auto r = m.load({}, "mail");
    REQUIRE(r);
    const auto& s = r->settings;
    CHECK(s.server.value == "smtp://smtp.gmail.com");
    CHECK(s.port.value == 2525);
    CHECK_FALSE(s.port.origin.preset);
    CHECK(s.tls.value == "starttls");
    CHECK(s.tls.origin.preset);
    CHECK(s.auth.value == "login");
    CHECK(s.server.origin.preset);
    CHECK(s.server.origin.describe().find("provider gmail (profile \"mail\", ") == 0);
    CHECK_FALSE(s.auth.origin.preset);

    r = m.load({{"port", "465"}, {"tls", "implicit"}}, "mail"); // flags beat the preset
    REQUIRE(r);
    CHECK(r->settings.port.value == 465);
    CHECK(r->settings.tls.value == "implicit");
    CHECK(r->settings.server.value == "smtp://smtp.gmail.com");
}

TEST_CASE("a server URL from any layer wins over a preset's host, port and TLS mode") {
    Machine m;
    std::string p = m.user("server = smtp://127.0.0.1:42999\n" // the lowest file layer
                           "[profile g]\n"
                           "provider = gmail\n");
    auto r = m.load({}, "g");
    REQUIRE(r);
    auto ep = config::resolve_endpoint(r->settings);
    REQUIRE(ep);
    CHECK(ep->curl_url() == "smtp://127.0.0.1:42999");
    CHECK(r->settings.port.value == 42999);
    CHECK(r->settings.port.origin.describe() == p + ":1"); // the winner's origin
    CHECK(r->settings.tls.origin.describe() == p + ":1");
    CHECK(r->settings.auth.origin.preset);                 // what the URL does not say

    Machine flags;
    flags.env.values["SMTPSEND_PROVIDER"] = "gmail";
    r = flags.load({{"server", "smtps://host.example:2465"}});
    REQUIRE(r);
    ep = config::resolve_endpoint(r->settings);
    REQUIRE(ep);
    CHECK(ep->port == 2465);
    CHECK(ep->mode == config::TlsMode::implicit);
    CHECK(r->settings.tls.value == "implicit");
    CHECK(r->settings.port.origin.describe() == "flag --server");
}

TEST_CASE("region picks the provider's host, in any layer order") {
    Machine m;
    m.user("region = eu\n[profile mg]\nprovider = mailgun\n[profile ses]\nprovider = ses\nregion = eu-west-1\n");
    auto r = m.load({}, "mg");
    REQUIRE(r);
    CHECK(r->settings.server.value == "smtp://smtp.eu.mailgun.org");
    r = m.load({}, "ses");
    REQUIRE(r);
    CHECK(r->settings.server.value == "smtp://email-smtp.eu-west-1.amazonaws.com");
    m.env.values["SMTPSEND_REGION"] = "ap-south-1"; // a later layer moves the preset's host
    r = m.load({}, "ses");
    REQUIRE(r);
    CHECK(r->settings.server.value == "smtp://email-smtp.ap-south-1.amazonaws.com");
    r = m.load({{"server", "smtp://relay.example"}}, "ses"); // an explicit server stays
    REQUIRE(r);
    CHECK(r->settings.server.value == "smtp://relay.example");
}

TEST_CASE("an unknown provider or region is an error that lists the choices") {
    Machine m;
    m.user("[profile a]\nprovider = gmial\n[profile b]\nprovider = mailgun\nregion = asia\n");
    auto r = m.load({}, "a");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("config.ini:2: provider = \"gmial\" is not a known provider; "
                                 "did you mean \"gmail\"?") != std::string::npos);
    m.user("[profile b]\nprovider = mailgun\nregion = asia\n");
    r = m.load({}, "b");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("region = \"asia\" is not a region of mailgun: us, eu (profile \"b\", ") ==
          0);
    CHECK(r.error().kind == util::ErrorKind::config);
}

TEST_CASE("a leading ~/ in a file setting is the home folder") {
    Machine m;
    m.user("password_file = ~/.secret\ncafile = ~/ca.pem\nlog = syslog\nhelo = ~/not-a-path\n");
    auto r = m.load();
    REQUIRE(r);
    CHECK(r->settings.password_file.value == m.env.values["HOME"] + "/.secret");
    CHECK(r->settings.cafile.value == m.env.values["HOME"] + "/ca.pem");
    CHECK(r->settings.log.value == "syslog");
    CHECK(r->settings.helo.value == "~/not-a-path");
}

TEST_CASE("JSON lines are right when a top-level key comes after the profiles") {
    // What config import --json prints (nlohmann sorts keys): the old forward
    // search for each key's text lost its place here and reported line 0.
    Machine m;
    std::string path = m.user(
                              "{\n"
                              "  \"auth\": \"auto\",\n"
                              "  \"cafile\": \"/etc/ssl/certs/ca-certificates.crt\",\n"
                              "  \"default\": \"default\",\n"
                              "  \"log\": \"~/.msmtp.log\",\n"
                              "  \"profiles\": {\n"
                              "    \"default\": {\n"
                              "      \"inherit\": \"work\"\n"
                              "    },\n"
                              "    \"gmail\": {\n"
                              "      \"from\": \"me@gmail.com\",\n"
                              "      \"port\": 587,\n"
                              "      \"server\": \"smtp.gmail.com\",\n"
                              "      \"user\": \"me\"\n"
                              "    },\n"
                              "    \"plain\": {\n"
                              "      \"port\": 25,\n"
                              "      \"server\": \"relay.lan\",\n"
                              "      \"tls\": \"none\",\n"
                              "      \"user\": \"bob\"\n"
                              "    },\n"
                              "    \"work\": {\n"
                              "      \"inherit\": \"gmail\",\n"
                              "      \"password_cmd\": \"pass show work\",\n"
                              "      \"server\": \"mail.example.com\",\n"
                              "      \"tls\": \"implicit\",\n"
                              "      \"user\": \"me@example.com\"\n"
                              "    }\n"
                              "  },\n"
                              "  \"tls\": \"starttls\"\n"
                              "}\n",
        "json");
    auto r = m.load({}, "plain");
    REQUIRE(r);
    CHECK(r->profile_origin == "flag --profile");
    CHECK(r->settings.port.origin.describe() == "profile \"plain\", " + path + ":17");
    CHECK(r->settings.server.origin.describe() == "profile \"plain\", " + path + ":18");
    CHECK(r->settings.tls.origin.describe() == "profile \"plain\", " + path + ":19");
    CHECK(r->settings.user.origin.describe() == "profile \"plain\", " + path + ":20");
    r = m.load();
    REQUIRE(r);
    CHECK(r->profile_origin == path + ":4");
    CHECK(r->settings.tls.origin.describe() == "profile \"work\", " + path + ":26");
    m.user("{\"profiles\": {\"a\": {\"tls\": \"none\"}},\n\"timeout\": \"soon\"}\n", "json");
    r = m.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("config.json:2: timeout = \"soon\"") != std::string::npos);
}
