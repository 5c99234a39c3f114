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
