#include "config/keys.hpp"
#include "config/secrets.hpp"
#include "config/server_url.hpp"
#include "config/settings.hpp"

#include <catch2/catch.hpp>

using namespace smtpsend;
using config::TlsMode;

namespace {
config::Settings with_server(const std::string& url, const std::string& tls = "") {
    config::Settings s;
    s.server.assign(url, config::Origin::flag("--server"));
    if (!tls.empty())
        s.tls.assign(tls, config::Origin::flag("--tls"));
    return s;
}
} // namespace

TEST_CASE("server URLs give host, port and TLS mode") {
    auto ep = config::resolve_endpoint(with_server("smtp://mail.example.com"));
    REQUIRE(ep);
    CHECK(ep->host == "mail.example.com");
    CHECK(ep->port == 587);
    CHECK(ep->mode == TlsMode::starttls);
    CHECK(ep->curl_url() == "smtp://mail.example.com:587");

    ep = config::resolve_endpoint(with_server("smtps://mail.example.com"));
    REQUIRE(ep);
    CHECK(ep->port == 465);
    CHECK(ep->mode == TlsMode::implicit);

    ep = config::resolve_endpoint(with_server("SMTP://mail.example.com:2525/"));
    REQUIRE(ep);
    CHECK(ep->port == 2525);
    CHECK(ep->port_given);

    ep = config::resolve_endpoint(with_server("mail.example.com:25"));
    REQUIRE(ep);
    CHECK(ep->mode == TlsMode::starttls);
    CHECK(ep->port == 25);

    ep = config::resolve_endpoint(with_server("smtp://[::1]:2525"));
    REQUIRE(ep);
    CHECK(ep->host == "::1");
    CHECK(ep->curl_url() == "smtp://[::1]:2525");
}

TEST_CASE("--tls overrides the URL's mode and the default port follows it") {
    auto ep = config::resolve_endpoint(with_server("smtp://h.example", "implicit"));
    REQUIRE(ep);
    CHECK(ep->mode == TlsMode::implicit);
    CHECK(ep->port == 465);
    CHECK(ep->curl_url() == "smtps://h.example:465");
    ep = config::resolve_endpoint(with_server("smtps://h.example:465", "starttls"));
    REQUIRE(ep);
    CHECK(ep->mode == TlsMode::starttls);
    CHECK(ep->port == 465);
    ep = config::resolve_endpoint(with_server("smtp://h.example:25", "none"));
    REQUIRE(ep);
    CHECK(ep->mode == TlsMode::none);
}

TEST_CASE("bad server URLs are errors that name the value and its origin") {
    CHECK_FALSE(config::resolve_endpoint(config::Settings{}));
    auto r = config::resolve_endpoint(with_server("http://h.example"));
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("unknown scheme") != std::string::npos);
    CHECK(r.error().message.find("flag --server") != std::string::npos);
    r = config::resolve_endpoint(with_server("smtp://user:pw@h.example"));
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("login") != std::string::npos);
    CHECK_FALSE(config::resolve_endpoint(with_server("smtp://h.example:70000")));
    CHECK_FALSE(config::resolve_endpoint(with_server("smtp://h.example:0")));
    CHECK_FALSE(config::resolve_endpoint(with_server("smtp://h.example/path")));
    CHECK_FALSE(config::resolve_endpoint(with_server("smtp://:25")));
}

TEST_CASE("a server list gives each server in order, tls and port applying to each") {
    auto eps = config::resolve_endpoints(with_server(" smtp://a.example:2525 , smtps://b.example,c.example:25 "));
    REQUIRE(eps);
    REQUIRE(eps->size() == 3);
    CHECK((*eps)[0].host == "a.example");
    CHECK((*eps)[0].port == 2525);
    CHECK((*eps)[0].mode == TlsMode::starttls);
    CHECK((*eps)[1].host == "b.example");
    CHECK((*eps)[1].port == 465);
    CHECK((*eps)[1].mode == TlsMode::implicit);
    CHECK((*eps)[2].host == "c.example");
    CHECK((*eps)[2].port == 25);
    auto first = config::resolve_endpoint(with_server("smtp://a.example:2525,smtps://b.example"));
    REQUIRE(first);
    CHECK(first->host == "a.example");
    auto none = config::resolve_endpoints(with_server("smtp://a.example:2525,smtps://b.example", "none"));
    REQUIRE(none);
    CHECK((*none)[1].mode == TlsMode::none);
    CHECK((*none)[1].port == 587); // as for one URL: `tls` without a port gives its default
}

TEST_CASE("a bad item of a server list is an error that names the item") {
    struct Row {
        const char* value;
        const char* message;
    };
    const Row rows[] = {
        {"smtp://a.example,http://b.example", "server item 2 of 2: server = \"http://b.example\": unknown scheme"},
        {"smtp://a.example,,smtp://b.example", "server item 2 of 3: empty"},
        {"smtp://a.example,", "server item 2 of 2: empty"},
        {"smtp://a.example:0,smtp://b.example", "server item 1 of 2: server = \"smtp://a.example:0\": port"},
        {"smtp://a.example,smtp://u:pw@b.example", "server item 2 of 2: server: the URL holds a login"},
    };
    for (const auto& row : rows) {
        DYNAMIC_SECTION(row.value) {
            auto r = config::resolve_endpoints(with_server(row.value));
            REQUIRE_FALSE(r);
            CHECK(r.error().message.rfind(row.message, 0) == 0);
            CHECK(r.error().message.find("(flag --server)") != std::string::npos);
            CHECK(r.error().message.find("pw") == std::string::npos);
        }
    }
}

TEST_CASE("one vocabulary: key, flag and environment variable") {
    CHECK(config::flag_name("password_cmd") == "--password-cmd");
    CHECK(config::env_name("password_cmd") == "SMTPSEND_PASSWORD_CMD");
    for (const auto& k : config::keys()) {
        CHECK(config::find_key(k.name) == &k);
        CHECK_FALSE(k.help.empty());
    }
    CHECK(config::find_key("password")->has_flag == false);
    CHECK(config::find_key("password")->secret);
    CHECK(config::suggest_key("pasword_cmd") == "password_cmd");
    CHECK(config::suggest_key("zzzzzz").empty());
}

TEST_CASE("the environment fills settings and records the variable") {
    util::MapEnvironment env;
    env.values = {{"SMTPSEND_SERVER", "smtps://h.example"}, {"SMTPSEND_TIMEOUT", "12"},
                  {"SMTPSEND_TLS", "STARTTLS"}};
    config::Settings s;
    REQUIRE(config::apply_environment(s, env));
    CHECK(s.server.value == "smtps://h.example");
    CHECK(s.server.origin.describe() == "env SMTPSEND_SERVER");
    CHECK(s.timeout.value == 12);
    CHECK(s.tls.value == "starttls");
    CHECK(s.user.origin.describe() == "default");
}

TEST_CASE("invalid values name the accepted ones") {
    util::MapEnvironment env;
    env.values = {{"SMTPSEND_TLS", "maybe"}};
    config::Settings s;
    auto st = config::apply_environment(s, env);
    REQUIRE_FALSE(st);
    CHECK(st.error().message ==
          "SMTPSEND_TLS: tls = \"maybe\" is not one of starttls, implicit, none");
    env.values = {{"SMTPSEND_TIMEOUT", "0"}};
    st = config::apply_environment(s, env);
    REQUIRE_FALSE(st);
    CHECK(st.error().message ==
          "SMTPSEND_TIMEOUT: timeout = \"0\" is not a duration from 1s to 1h (30 or 30s, 5m, 2h, 5d)");
}

TEST_CASE("credentials come from the latest layer's password source") {
    util::MapEnvironment env;
    env.values = {{"MY_SECRET", "from-env-var\nignored"}};
    config::Settings s;
    s.user.assign("alice", config::Origin::env("SMTPSEND_USER"));
    s.password.assign("from-password", config::Origin::env("SMTPSEND_PASSWORD"));
    auto c = config::load_credentials(s, env);
    REQUIRE(c);
    CHECK(c->password.reveal() == "from-password");

    s.password_env.assign("MY_SECRET", config::Origin::flag("--password-env"));
    CHECK(config::password_source_key(s) == "password_env");
    c = config::load_credentials(s, env);
    REQUIRE(c);
    CHECK(c->password.reveal() == "from-env-var");
    CHECK(c->source == "password_env \"MY_SECRET\" (flag --password-env)");

    s.password_cmd.assign("printf 'cmd-secret\\n'", config::Origin::flag("--password-cmd"));
    c = config::load_credentials(s, env);
    REQUIRE(c);
    CHECK(c->password.reveal() == "cmd-secret");
}

TEST_CASE("a failing or silent password command is an error, never an empty password") {
    util::MapEnvironment env;
    config::Settings s;
    s.user.assign("alice", config::Origin::flag("--user"));
    s.password_cmd.assign("exit 4", config::Origin::flag("--password-cmd"));
    auto c = config::load_credentials(s, env);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.find("exited with status 4") != std::string::npos);
    s.password_cmd.assign("true", config::Origin::flag("--password-cmd"));
    c = config::load_credentials(s, env);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.find("empty") != std::string::npos);
}

TEST_CASE("a user without a password source, or the reverse, is an error") {
    util::MapEnvironment env;
    config::Settings s;
    s.user.assign("alice", config::Origin::flag("--user"));
    CHECK_FALSE(config::load_credentials(s, env));
    config::Settings t;
    t.password.assign("x", config::Origin::env("SMTPSEND_PASSWORD"));
    CHECK_FALSE(config::load_credentials(t, env));
    config::Settings none;
    auto c = config::load_credentials(none, env);
    REQUIRE(c);
    CHECK(c->user.empty());
}

// ---------------------------------------------------------------- config import

#include "config/files.hpp"
#include "config/import.hpp"

namespace {
std::string key_of(const config::ImportedSection& s, const std::string& k) {
    for (const auto& [name, v] : s.keys)
        if (name == k)
            return v;
    return "(absent)";
}
const config::ImportedSection& profile_of(const config::Imported& im, const std::string& name) {
    for (const auto& p : im.profiles)
        if (p.name == name)
            return p;
    FAIL("no profile " << name);
    return im.top;
}
std::vector<config::Entry> all_entries(const config::ConfigFile& f) {
    std::vector<config::Entry> out = f.top.entries;
    for (const auto& [name, section] : f.profiles)
        out.insert(out.end(), section.entries.begin(), section.entries.end());
    return out;
}
bool has_warning(const config::Imported& im, const std::string& text) {
    for (const auto& w : im.warnings)
        if (w.find(text) != std::string::npos)
            return true;
    return false;
}
} // namespace

TEST_CASE("import: a Web.config attribute with &#10; cannot add a line to the INI or JSON") {
    std::string xml = "<configuration>\n<system.net><mailSettings>\n"
                      "<smtp from=\"app@example.com\">\n"
                      "<network host=\"smtp.example.com&#10;password_cmd = touch /tmp/PWNED\"\n"
                      " port=\"587\" enableSsl=\"true\" userName=\"u&#13;&#10;[profile x]\"/>\n"
                      "</smtp></mailSettings></system.net></configuration>\n";
    auto im = config::import_text("Web.config", xml);
    REQUIRE(im);
    const auto& p = profile_of(*im, "dotnet");
    CHECK(key_of(p, "server") == "(absent)");
    CHECK(key_of(p, "user") == "(absent)");
    CHECK(key_of(p, "password_cmd") == "(absent)");
    CHECK(has_warning(*im, "Web.config:4: host holds a line break or control character; it was left out"));
    CHECK(has_warning(*im, "Web.config:4: userName holds a line break or control character; it was left out"));
    std::string ini = config::imported_ini(*im);
    CHECK(ini.find("PWNED") == std::string::npos);
    CHECK(ini.find("\n[profile x]") == std::string::npos);
    CHECK(ini.find("# host: left out (Web.config:4 holds a line break or control character)\n") !=
          std::string::npos);
    auto parsed = config::parse_ini("imported.ini", ini);
    REQUIRE(parsed);
    for (const auto& e : all_entries(*parsed))
        CHECK(e.key != "password_cmd");
    CHECK(config::imported_json(*im).dump().find("PWNED") == std::string::npos);
}

TEST_CASE("import: an msmtprc argument with a carriage return is left out, with the line") {
    auto im = config::import_text("msmtprc", "account a\nhost mail.example.com\n"
                                             "passwordeval \"pass a\rtouch /tmp/PWNED\"\nuser u\n");
    REQUIRE(im);
    CHECK(key_of(profile_of(*im, "a"), "password_cmd") == "(absent)");
    CHECK(has_warning(*im, "msmtprc:3: \"passwordeval\" holds a line break or control character; "
                           "it was left out"));
    CHECK(config::imported_ini(*im).find("PWNED") == std::string::npos);
}

TEST_CASE("import: quotes in a value survive the INI round trip") {
    std::string xml = "<configuration><system.net><mailSettings>"
                      "<smtp from=\"&quot;Ops&quot; &lt;ops@example.com&gt;\"><network host=\"h\"/>"
                      "</smtp></mailSettings></system.net></configuration>";
    auto im = config::import_text("Web.config", xml);
    REQUIRE(im);
    std::string ini = config::imported_ini(*im);
    CHECK(ini.find("from = \"\\\"Ops\\\" <ops@example.com>\"\n") != std::string::npos);
    auto parsed = config::parse_ini("imported.ini", ini);
    REQUIRE(parsed);
    bool found = false;
    for (const auto& e : all_entries(*parsed))
        if (e.key == "from") {
            CHECK(e.value == "\"Ops\" <ops@example.com>");
            found = true;
        }
    CHECK(found);
}

TEST_CASE("import: an account never inherits another account's password source") {
    auto im = config::import_text("msmtprc", "defaults\ntls on\n"
                                             "account a\nhost a.example.com\nuser ua\n"
                                             "passwordeval \"pass a\"\n"
                                             "account b : a\nhost b.example.com\nuser ub\n"
                                             "password hunter2\n"
                                             "account other : a\nhost other.example.com\n"
                                             "account alias : a\nfrom alias@example.com\n");
    REQUIRE(im);
    const auto& a = profile_of(*im, "a");
    CHECK(key_of(a, "password_cmd") == "pass a");
    // b has its own password (not copied): no inherit, so no a's password_cmd.
    const auto& b = profile_of(*im, "b");
    CHECK(b.inherit == "");
    CHECK(key_of(b, "password_cmd") == "(absent)");
    CHECK(key_of(b, "server") == "b.example.com");
    CHECK(key_of(b, "user") == "ub");
    CHECK(key_of(b, "tls") == "(absent)"); // from defaults (the top level)
    // other: a's server differs: a's command is not used, with a note.
    const auto& other = profile_of(*im, "other");
    CHECK(other.inherit == "");
    CHECK(key_of(other, "password_cmd") == "(absent)");
    CHECK(key_of(other, "server") == "other.example.com");
    CHECK(key_of(other, "user") == "ua");
    CHECK(has_warning(*im, "msmtprc:11: account other: the passwordeval of account a (line 6) "
                           "belongs to another server or user and was not used"));
    // alias: same server and user as a: the command is written explicitly.
    const auto& alias = profile_of(*im, "alias");
    CHECK(alias.inherit == "a");
    CHECK(key_of(alias, "password_cmd") == "pass a");
    std::string ini = config::imported_ini(*im);
    CHECK(ini.find("[profile b]\n# password: not copied from msmtprc:10;") != std::string::npos);
    CHECK(ini.find("hunter2") == std::string::npos);
}

TEST_CASE("import: a passwordeval in defaults is written into each account") {
    auto im = config::import_text("msmtprc", "defaults\npasswordeval \"pass mail\"\n"
                                             "account one\nhost one.example.com\nuser u\n"
                                             "account two\nhost two.example.com\nuser v\npassword x\n");
    REQUIRE(im);
    CHECK(key_of(im->top, "password_cmd") == "(absent)");
    CHECK(key_of(profile_of(*im, "one"), "password_cmd") == "pass mail");
    CHECK(key_of(profile_of(*im, "two"), "password_cmd") == "(absent)");
}

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

TEST_CASE("once a password is loaded the process cannot dump core or be traced") {
    // In a child, so that the test starts dumpable whatever ran before.
    for (const char* source : {"password", "password_cmd"}) {
        CAPTURE(source);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
            if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
                _exit(10);
            util::MapEnvironment env;
            config::Settings s;
            s.user.assign("alice", config::Origin::flag("--user"));
            if (std::string(source) == "password")
                s.password.assign("S3cret", config::Origin::env("SMTPSEND_PASSWORD"));
            else
                s.password_cmd.assign("echo S3cret", config::Origin::flag("--password-cmd"));
            auto c = config::load_credentials(s, env);
            if (!c || c->password.reveal() != "S3cret")
                _exit(11);
            if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
                _exit(12);
            struct rlimit core {};
            if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0)
                _exit(13);
            _exit(0);
        }
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
}

TEST_CASE("wipe_string clears every byte it owns, the short buffer too") {
    std::string s = "short";
    const char* p = s.data();
    size_t cap = s.capacity();
    config::wipe_string(s);
    CHECK(s.empty());
    CHECK(s.data() == p);
    for (size_t i = 0; i < cap; ++i)
        CHECK(p[i] == '\0');
}

TEST_CASE("the credentials' source names the key, the command, file or variable, and the origin") {
    util::MapEnvironment env;
    config::Settings s;
    s.user.assign("alice", config::Origin::flag("--user"));
    s.password.assign("Hunter2-secret", config::Origin::env("SMTPSEND_PASSWORD"));
    auto c = config::load_credentials(s, env);
    REQUIRE(c);
    CHECK(c->source == "password (env SMTPSEND_PASSWORD)"); // never the value
    s.password_cmd.assign("echo from-cmd", config::Origin::file("profile \"work\", config.ini:7"));
    s.password.set = false;
    c = config::load_credentials(s, env);
    REQUIRE(c);
    CHECK(c->password.reveal() == "from-cmd");
    CHECK(c->source == "password_cmd \"echo from-cmd\" (profile \"work\", config.ini:7)");
}

TEST_CASE("the missing-password hint lists every source, password_env included") {
    util::MapEnvironment env;
    config::Settings s;
    s.user.assign("alice", config::Origin::flag("--user"));
    auto c = config::load_credentials(s, env);
    REQUIRE_FALSE(c);
    CHECK(c.error().hint ==
          "set SMTPSEND_PASSWORD, --password-file FILE, --password-cmd CMD or --password-env NAME "
          "(password, password_file, password_cmd or password_env in a profile)");
}

TEST_CASE("proxy URLs give scheme, host, port and user, never a password") {
    auto p = config::parse_proxy_url("socks5h://alice@proxy.example.com:1081");
    REQUIRE(p);
    CHECK(p->scheme == "socks5h");
    CHECK(p->host == "proxy.example.com");
    CHECK(p->port == 1081);
    CHECK(p->user == "alice");
    CHECK(p->curl_url() == "socks5h://proxy.example.com:1081");
    p = config::parse_proxy_url("http://[::1]");
    REQUIRE(p);
    CHECK(p->port == 8080);
    CHECK(p->curl_url() == "http://[::1]:8080");
    p = config::parse_proxy_url("socks5://127.0.0.1");
    REQUIRE(p);
    CHECK(p->port == 1080);

    auto bad = config::parse_proxy_url("socks5h://alice:hunter2@127.0.0.1:1080");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "proxy: the URL holds a password (not shown)");
    bad = config::parse_proxy_url("ftp://127.0.0.1:21");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "proxy: unknown scheme \"ftp://\"");
    bad = config::parse_proxy_url("127.0.0.1:1080");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "proxy: the URL has no scheme");
    bad = config::parse_proxy_url("http://127.0.0.1:99999");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "proxy = \"http://127.0.0.1:99999\": port \"99999\" is not a number from 1 to 65535");
}

TEST_CASE("the proxy's login: proxy_user wins over the URL's, the password from its sources") {
    util::MapEnvironment env;
    env.values = {{"PX", "px-secret\nignored"}};
    config::Settings s;
    s.proxy.assign("socks5h://url-user@127.0.0.1:1080", config::Origin::flag("--proxy"));
    auto c = config::load_proxy_credentials(s, env);
    REQUIRE(c);
    CHECK(c->user == "url-user");
    CHECK(c->password.empty());

    s.proxy_user.assign("bob", config::Origin::flag("--proxy-user"));
    s.proxy_password_env.assign("PX", config::Origin::flag("--proxy-password-env"));
    c = config::load_proxy_credentials(s, env);
    REQUIRE(c);
    CHECK(c->user == "bob");
    CHECK(c->password.reveal() == "px-secret");
    CHECK(c->source == "proxy_password_env \"PX\" (flag --proxy-password-env)");

    s.proxy_password_cmd.assign("printf 'cmd-secret\\n'", config::Origin::flag("--proxy-password-cmd"));
    c = config::load_proxy_credentials(s, env);
    REQUIRE(c);
    CHECK(c->password.reveal() == "cmd-secret");

    s.proxy_password_cmd.assign("exit 3", config::Origin::flag("--proxy-password-cmd"));
    c = config::load_proxy_credentials(s, env);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.find("the proxy password command failed") == 0);
}

TEST_CASE("a proxy password source without a proxy user is an error; no proxy, no login") {
    util::MapEnvironment env;
    config::Settings s;
    s.proxy.assign("http://127.0.0.1:8080", config::Origin::env("SMTPSEND_PROXY"));
    s.proxy_password.assign("x", config::Origin::env("SMTPSEND_PROXY_PASSWORD"));
    auto c = config::load_proxy_credentials(s, env);
    REQUIRE_FALSE(c);
    CHECK(c.error().message == "a proxy password source is set (proxy_password) but no proxy user");
    config::Settings none;
    c = config::load_proxy_credentials(none, env);
    REQUIRE(c);
    CHECK(c->user.empty());
}
