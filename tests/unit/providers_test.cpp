#include "config/import.hpp"
#include "config/providers.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace smtpsend;
namespace fs = std::filesystem;

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
    fs::path p = fs::path(std::getenv("TMPDIR")) / name;
    std::ofstream(p) << text;
    return p.string();
}

const config::ImportedSection* find(const config::Imported& im, const std::string& name) {
    for (const auto& p : im.profiles)
        if (p.name == name)
            return &p;
    return nullptr;
}

std::string key(const config::ImportedSection& s, const std::string& k) {
    for (const auto& [name, value] : s.keys)
        if (name == k)
            return value;
    return "(absent)";
}

bool warned(const config::Imported& im, const std::string& part) {
    for (const auto& w : im.warnings)
        if (w.find(part) != std::string::npos)
            return true;
    return false;
}

} // namespace

TEST_CASE("every preset names a host, a port that matches its TLS mode, and a setup page") {
    for (const auto& p : config::providers()) {
        INFO(p.name);
        bool aws = p.host.find("{region}") != std::string_view::npos; // SES: region required
        auto host = config::provider_host(p, aws ? "us-east-1" : "");
        REQUIRE(host);
        CHECK(host->find('.') != std::string::npos);
        CHECK((p.port == 587 || p.port == 465));
        CHECK((p.port == 465) == (p.tls == config::TlsMode::implicit));
        CHECK(p.setup_url.substr(0, 8) == "https://");
        CHECK_FALSE(p.supply.empty());
    }
    CHECK(config::find_provider("sendgrid")->user == "apikey");
    CHECK(config::provider_host(*config::find_provider("zoho"), "eu").value() == "smtp.zoho.eu");
    CHECK(config::provider_host(*config::find_provider("gmail"), "eu").value() == "smtp.gmail.com");
    CHECK_FALSE(config::provider_host(*config::find_provider("ses"), "EU WEST"));
}

TEST_CASE("msmtprc: defaults, accounts, inheritance and the default account") {
    auto path = write_temp("msmtprc", "defaults\n"
                                      "auth on\n"
                                      "tls on\n"
                                      "tls_trust_file system\n"
                                      "\n"
                                      "account gmail\n"
                                      "host smtp.gmail.com\n"
                                      "port 587\n"
                                      "from me@gmail.com\n"
                                      "user me\n"
                                      "password \"not printed\"\n"
                                      "account work : gmail\n"
                                      "host mail.example.com\n"
                                      "tls_starttls off\n"
                                      "passwordeval \"pass show work\"\n"
                                      "domain client.example.com\n"
                                      "account plain\n"
                                      "tls off\n"
                                      "host relay.lan\n"
                                      "user bob\n"
                                      "account default : work\n");
    auto im = config::import_config(path);
    REQUIRE(im);
    CHECK(im->format == "msmtp");
    CHECK(im->default_profile == "default");
    CHECK(key(im->top, "tls") == "starttls");
    CHECK(key(im->top, "auth") == "auto");
    CHECK(key(im->top, "cafile") == "(absent)");
    const auto* gmail = find(*im, "gmail");
    REQUIRE(gmail);
    CHECK(key(*gmail, "server") == "smtp.gmail.com");
    CHECK(key(*gmail, "port") == "587");
    CHECK(key(*gmail, "password") == "(absent)");
    const auto* work = find(*im, "work");
    REQUIRE(work);
    CHECK(work->inherit == "gmail");
    CHECK(key(*work, "tls") == "implicit");
    CHECK(key(*work, "password_cmd") == "pass show work");
    CHECK(key(*work, "helo") == "client.example.com");
    const auto* plain = find(*im, "plain");
    REQUIRE(plain);
    CHECK(key(*plain, "tls") == "none");
    CHECK(key(*plain, "port") == "25");
    CHECK(find(*im, "default")->inherit == "work");
    CHECK(warned(*im, "msmtprc:11: account gmail: the password was not copied"));
    CHECK(warned(*im, "account plain: tls is off, so msmtp sends this login in clear text"));
    std::string ini = config::imported_ini(*im);
    CHECK(ini.find("not printed") == std::string::npos);
    CHECK(ini.find("[profile work]\ninherit = gmail\n") != std::string::npos);
}

TEST_CASE("msmtprc errors name the line") {
    auto im = config::import_config(write_temp("bad-msmtprc", "account a : missing\nhost x\n"));
    REQUIRE_FALSE(im);
    CHECK(im.error().message == std::string(std::getenv("TMPDIR")) +
                                    "/bad-msmtprc:1: account a inherits from unknown account missing");
    CHECK(im.error().kind == util::ErrorKind::input);
    auto none = config::import_config(std::string(std::getenv("TMPDIR")) + "/no-such-file");
    REQUIRE_FALSE(none);
    CHECK(none.error().kind == util::ErrorKind::noinput);
}

TEST_CASE(".NET config: the settings the application uses, and its traps") {
    auto path = write_temp("Web.config",
                           "<?xml version=\"1.0\"?>\n"
                           "<configuration>\n"
                           " <system.net>\n"
                           "  <mailSettings>\n"
                           "   <smtp from=\"app@example.com\">\n"
                           "    <network host=\"smtp.office365.com\" port=\"587\" userName=\"app@example.com\"\n"
                           "             password=\"secret\" enableSsl=\"false\" defaultCredentials=\"true\"/>\n"
                           "   </smtp>\n"
                           "  </mailSettings>\n"
                           " </system.net>\n"
                           "</configuration>\n");
    auto im = config::import_config(path, "legacy");
    REQUIRE(im);
    CHECK(im->format == ".NET");
    const auto* p = find(*im, "legacy");
    REQUIRE(p);
    CHECK(key(*p, "server") == "smtp.office365.com");
    CHECK(key(*p, "port") == "587");
    CHECK(key(*p, "tls") == "none");          // what the application does
    CHECK(key(*p, "user") == "(absent)");     // ignored by .NET with defaultCredentials
    CHECK(key(*p, "from") == "app@example.com");
    CHECK(warned(*im, "Web.config:6: defaultCredentials=\"true\" next to userName"));
    CHECK(warned(*im, "enableSsl=\"false\" on port 587"));
    CHECK(config::imported_ini(*im).find("secret") == std::string::npos);

    auto smtps = config::import_config(write_temp(
        "App.config", "<configuration><system.net><mailSettings><smtp><network host=\"mail.example.com\" "
                      "port=\"465\" enableSsl=\"true\" userName=\"u\"/></smtp></mailSettings>"
                      "</system.net></configuration>"));
    REQUIRE(smtps);
    CHECK(key(smtps->profiles.at(0), "tls") == "starttls");
    CHECK(key(smtps->profiles.at(0), "user") == "u");
    CHECK(warned(*smtps, "port 465 wants TLS from the first byte, which .NET's SmtpClient cannot speak"));
}

TEST_CASE(".NET config errors: bad XML names the line; no <smtp> says where to look") {
    auto bad = config::import_config(write_temp("broken.config", "<configuration>\n<system.net>\n</configuration>\n"));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("broken.config:3: not well-formed XML") != std::string::npos);
    auto empty = config::import_config(write_temp("empty.config", "<configuration/>"));
    REQUIRE_FALSE(empty);
    CHECK(empty.error().message.find("no <system.net><mailSettings><smtp> element") != std::string::npos);
}
