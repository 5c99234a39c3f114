#include "config/provider_knowledge.hpp"
#include "diagnosis/diagnosis.hpp"
#include "diagnosis/explain.hpp"
#include "testutil.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace smtpsend;
using namespace smtpsend::diagnosis;
using transport::NetError;
using transport::Stage;

namespace {

transport::Reply reply(const std::string& text) { return testutil::reply_of(text); }

int exit_for(Stage stage, const std::string& text) {
    auto c = classify_reply(stage, reply(text));
    return static_cast<int>(exit_code_for(c.cls, c.temporary));
}

bool any_hint(const Diagnosis& d, const std::string& needle) {
    for (const auto& h : d.hints)
        if (h.find(needle) != std::string::npos)
            return true;
    return false;
}

} // namespace

TEST_CASE("every reply seen in the wild gets its exit code") {
    std::ifstream in(testutil::data_dir() + "/smtp-replies.jsonl");
    REQUIRE(in);
    std::string line;
    int rows = 0;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        auto j = nlohmann::json::parse(line);
        auto stage = transport::parse_stage(j["stage"].get<std::string>());
        REQUIRE(stage);
        auto r = reply(j["reply"].get<std::string>());
        CHECK(r.code == j["code"].get<int>());
        if (!j["enhanced"].is_null())
            CHECK(r.enhanced == j["enhanced"].get<std::string>());
        INFO(j["id"].get<std::string>() << ": " << j["reply"].get<std::string>());
        CHECK(exit_for(*stage, j["reply"].get<std::string>()) == j["sysexit"].get<int>());
        ++rows;
    }
    CHECK(rows >= 100);
}

// Cases written from RFC 3463, RFC 4954, RFC 3207, RFC 5321 and providers'
// documentation, in wordings that the sample above does not hold.
TEST_CASE("classification works by structure for replies not in the sample") {
    struct Case {
        Stage stage;
        const char* reply;
        int code;
    };
    const Case cases[] = {
        // RFC 4954 section 6
        {Stage::auth, "535 5.7.8 Credentials invalid", 77},
        {Stage::auth, "534 5.7.9 Authentication mechanism is too weak", 77},
        {Stage::auth, "454 4.7.0 Temporary authentication failure", 75},
        {Stage::auth, "538 5.7.11 Encryption required for requested authentication mechanism", 78},
        {Stage::mail, "530 5.7.0 Authentication required", 77},
        {Stage::auth, "500 5.5.6 Authentication Exchange line is too long", 76},
        // RFC 3207
        {Stage::mail, "530 5.7.0 Must issue a STARTTLS command first", 78},
        {Stage::starttls, "454 4.7.0 TLS not available due to temporary reason", 75},
        {Stage::starttls, "501 5.5.4 Syntax error (no parameters allowed)", 76},
        // RFC 3463 subjects, in other words than the sample's
        {Stage::rcpt, "550 5.1.1 Mailbox does not exist here", 67},
        {Stage::rcpt, "553 5.1.3 Bad destination mailbox address syntax", 65},
        {Stage::rcpt, "550 5.1.2 Bad destination system address", 68},
        {Stage::rcpt, "450 4.2.1 Mailbox disabled, not accepting messages for now", 75},
        {Stage::rcpt, "552 5.2.2 Mailbox full", 69},
        {Stage::end_of_data, "552 5.3.4 Message too big for system", 65},
        {Stage::end_of_data, "554 5.6.0 Other or undefined media error", 65},
        {Stage::end_of_data, "451 4.3.0 Local error in processing", 75},
        {Stage::end_of_data, "554 5.7.1 Message refused by policy", 69},
        {Stage::rcpt, "554 5.7.1 Relay access denied", 77},
        {Stage::rcpt, "550 5.7.1 Sender not allowed to send as this address", 77},
        {Stage::end_of_data, "550 5.7.25 Reverse DNS validation failed", 69},
        {Stage::rcpt, "450 4.2.0 Greylisted, please try again in 300 seconds", 75},
        {Stage::rcpt, "451 4.7.1 Greylisting in action, please come back later", 75},
        // RFC 5321 codes without enhanced status codes
        {Stage::greeting, "554 No SMTP service here", 69},
        {Stage::data, "503 Bad sequence of commands", 76},
        {Stage::rcpt, "550 Requested action not taken: mailbox unavailable", 69},
        {Stage::end_of_data, "552 Requested mail action aborted: exceeded storage allocation", 65},
        {Stage::end_of_data, "451 Requested action aborted: local error in processing", 75},
        {Stage::rcpt, "550 No such user here", 67},
        // Providers
        {Stage::auth, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                      "for the Tenant.", 77},
        {Stage::mail, "451 5.7.3 STARTTLS is required to send mail", 78},
        {Stage::end_of_data, "550 5.4.5 Daily user sending quota exceeded.", 75},
        {Stage::rcpt, "421 4.7.0 Too many connections, try again later", 75},
        {Stage::mail, "553 5.7.1 Sender address rejected: not owned by user ops@example.com", 77},
        {Stage::end_of_data, "554 5.7.1 Message rejected: Email address is not verified.", 77},
        {Stage::mail, "550 5.7.1 Your IP is listed at zen.spamhaus.org", 69},
        {Stage::ehlo, "501 5.5.2 Helo command rejected: need fully-qualified hostname", 78},
    };
    for (const auto& c : cases) {
        INFO(c.reply);
        CHECK(exit_for(c.stage, c.reply) == c.code);
    }
}

TEST_CASE("the exit-code table") {
    CHECK(static_cast<int>(exit_code_for(Class::auth, true)) == 77);
    CHECK(static_cast<int>(exit_code_for(Class::tls, true)) == 78);
    CHECK(static_cast<int>(exit_code_for(Class::recipient, false)) == 67);
    CHECK(static_cast<int>(exit_code_for(Class::recipient, true)) == 75);
    CHECK(static_cast<int>(exit_code_for(Class::policy, false)) == 69);
    CHECK(static_cast<int>(exit_code_for(Class::dns, false)) == 68);
    CHECK(static_cast<int>(exit_code_for(Class::network, false)) == 75);
    CHECK(static_cast<int>(exit_code_for(Class::usage, false)) == 64);
    CHECK(static_cast<int>(exit_code_for(Class::noinput, false)) == 66);
    CHECK(static_cast<int>(exit_code_for(Class::io, false)) == 74);
    CHECK(static_cast<int>(exit_code_for(Class::software, false)) == 70);
    CHECK(static_cast<int>(exit_code_for(Class::protocol, false)) == 76);
}

TEST_CASE("hints speak about this run's settings") {
    Context ctx;
    ctx.host = "smtp.gmail.com";
    ctx.port = 587;
    ctx.tls_mode = config::TlsMode::starttls;

    SECTION("auth required without credentials") {
        auto d = diagnose(Stage::mail, reply("530 5.7.0 Authentication Required."), NetError::none, ctx);
        CHECK(d.exit_code == ExitCode::noperm);
        CHECK(d.summary == "the server requires a login, and none is configured");
        CHECK(any_hint(d, "--user"));
    }
    SECTION("auth required although credentials were configured but not sent") {
        ctx.credentials_configured = true;
        ctx.user = "me@gmail.com";
        ctx.tls_active = false;
        auto d = diagnose(Stage::mail, reply("530 5.7.0 Authentication Required."), NetError::none, ctx);
        CHECK(d.summary.find("credentials were not sent") != std::string::npos);
        CHECK(any_hint(d, "after TLS"));
    }
    SECTION("Gmail app password") {
        ctx.credentials_configured = ctx.auth_sent = true;
        ctx.user = "me@gmail.com";
        auto d = diagnose(Stage::auth,
                          reply("534-5.7.9 Application-specific password required.\n534 5.7.9 "
                                "https://support.google.com/mail/?p=InvalidSecondFactor"),
                          NetError::none, ctx);
        CHECK(d.exit_code == ExitCode::noperm);
        CHECK(d.summary.find("app password") != std::string::npos);
        CHECK(any_hint(d, "support.google.com/accounts/answer/185833"));
    }
    SECTION("Microsoft 365 SMTP AUTH disabled") {
        ctx.host = "smtp.office365.com";
        ctx.credentials_configured = ctx.auth_sent = true;
        auto d = diagnose(Stage::auth,
                          reply("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                                "is disabled for the Tenant."),
                          NetError::none, ctx);
        CHECK(d.summary.find("SMTP AUTH is disabled") != std::string::npos);
        CHECK(any_hint(d, "OAuth2"));
    }
    SECTION("too big, with the server's SIZE limit") {
        ctx.capabilities.size = 35882577;
        ctx.message_size = 40000000;
        auto d = diagnose(Stage::end_of_data, reply("552 5.3.4 Message size exceeds fixed limit"),
                          NetError::none, ctx);
        CHECK(d.exit_code == ExitCode::dataerr);
        CHECK(any_hint(d, "35882577 bytes"));
        CHECK(any_hint(d, "40000000 bytes"));
    }
    SECTION("TLS to a plain port, and plain to port 465") {
        ctx.tls_mode = config::TlsMode::implicit;
        auto d = diagnose(Stage::tls, std::nullopt, NetError::tls_wrong_version, ctx);
        CHECK(d.exit_code == ExitCode::config);
        CHECK(any_hint(d, "--tls starttls"));
        ctx.tls_mode = config::TlsMode::starttls;
        ctx.port = 465;
        d = diagnose(Stage::greeting, std::nullopt, NetError::timeout, ctx);
        CHECK(d.exit_code == ExitCode::config);
        CHECK(d.summary.find("port 465 expects TLS") != std::string::npos);
        CHECK(any_hint(d, "--tls implicit"));
    }
    SECTION("network failures are temporary and name the stage") {
        ctx.timeout_seconds = 30;
        auto d = diagnose(Stage::rcpt, std::nullopt, NetError::timeout, ctx);
        CHECK(d.exit_code == ExitCode::tempfail);
        CHECK(d.summary.find("stage rcpt") != std::string::npos);
        d = diagnose(Stage::connect, std::nullopt, NetError::refused, ctx);
        CHECK(d.exit_code == ExitCode::tempfail);
        d = diagnose(Stage::resolve, std::nullopt, NetError::resolve, ctx);
        CHECK(d.exit_code == ExitCode::nohost);
    }
}

TEST_CASE("a partial delivery is judged by its worst rejected recipient") {
    transport::Outcome out;
    out.status = transport::Outcome::Status::partial;
    out.recipients = {{"a@x.org", true, reply("250 ok")},
                      {"b@x.org", false, reply("450 4.2.0 greylisted")},
                      {"c@x.org", false, reply("550 5.1.1 user unknown")}};
    auto d = diagnose_outcome(out, Context{});
    CHECK(d.exit_code == ExitCode::nouser);
    CHECK(d.summary.find("<c@x.org>") != std::string::npos);
    out.recipients.pop_back();
    d = diagnose_outcome(out, Context{});
    CHECK(d.exit_code == ExitCode::tempfail);
}

TEST_CASE("an unconfirmed send is temporary and says the message may have arrived") {
    transport::Outcome out;
    out.status = transport::Outcome::Status::unconfirmed;
    auto d = diagnose_outcome(out, Context{});
    CHECK(d.exit_code == ExitCode::tempfail);
    CHECK(d.summary.find("may or may not") != std::string::npos);
}

TEST_CASE("explain reads errors from other tools") {
    SECTION(".NET's 5.5.1 text mentions the credentials and STARTTLS on 587") {
        auto ex = explain("System.Net.Mail.SmtpException: The SMTP server requires a secure "
                          "connection or the client was not authenticated. The server response "
                          "was: 5.5.1 Authentication Required",
                          std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.tool == "dotnet");
        CHECK(ex.diagnosis.exit_code == ExitCode::noperm);
        CHECK(ex.diagnosis.reply->code == 530);
        CHECK(ex.diagnosis.reply->enhanced == "5.5.1");
        CHECK(any_hint(ex.diagnosis, "UseDefaultCredentials = false"));
        CHECK(any_hint(ex.diagnosis, "587"));
        CHECK(any_hint(ex.diagnosis, "TLS"));
    }
    SECTION("Python's smtplib") {
        auto ex = explain("smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not "
                          "accepted. Learn more at\\n5.7.8  https://support.google.com/mail/?p="
                          "BadCredentials a1-2 - gsmtp')",
                          std::nullopt, "smtp.gmail.com");
        REQUIRE(ex.understood);
        CHECK(ex.tool == "python");
        CHECK(ex.diagnosis.stage == Stage::auth);
        CHECK(ex.diagnosis.reply->lines.size() == 2);
        CHECK(ex.diagnosis.exit_code == ExitCode::noperm);
        CHECK(any_hint(ex.diagnosis, "app password"));
    }
    SECTION("msmtp, curl and a raw multi-line reply") {
        auto ex = explain("msmtp: envelope from address me@example.com not accepted by the server\n"
                          "msmtp: server message: 530 5.7.57 Client not authenticated to send mail.",
                          std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.tool == "msmtp");
        CHECK(ex.diagnosis.stage == Stage::mail);
        CHECK(ex.diagnosis.exit_code == ExitCode::noperm);
        ex = explain("curl: (55) MAIL failed: 530", std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.tool == "curl");
        CHECK(ex.diagnosis.stage == Stage::mail);
        ex = explain("curl: (67) Login denied", std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.stage == Stage::auth);
        ex = explain("550-5.1.1 The email account that you tried to reach does not exist.\n"
                     "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser",
                     std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.exit_code == ExitCode::nouser);
        CHECK(ex.diagnosis.reply->lines.size() == 2);
    }
    SECTION("PowerShell and a TLS mismatch") {
        auto ex = explain("Send-MailMessage : The SMTP server requires a secure connection or the "
                          "client was not authenticated. The server response was: 5.7.0 Must "
                          "issue a STARTTLS command first",
                          std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.tool == "powershell");
        CHECK(ex.diagnosis.exit_code == ExitCode::config);
        ex = explain("error:0A00010B:SSL routines::wrong version number", std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.exit_code == ExitCode::config);
    }
    SECTION("nothing readable") {
        CHECK_FALSE(explain("it does not work", std::nullopt, "").understood);
    }
}

TEST_CASE("providers are known by host name") {
    CHECK(config::provider_from_host("smtp.gmail.com") == "gmail");
    CHECK(config::provider_from_host("smtp-relay.gmail.com") == "google-workspace-relay");
    CHECK(config::provider_from_host("smtp.office365.com") == "office365");
    CHECK(config::provider_from_host("smtp-mail.outlook.com") == "outlook");
    CHECK(config::provider_from_host("email-smtp.eu-west-1.amazonaws.com") == "ses");
    CHECK(config::provider_from_host("smtp.eu.mailgun.org") == "mailgun");
    CHECK(config::provider_from_host("notgmail.com") == "");
    CHECK(config::provider_from_host("mail.example.com") == "");
}

TEST_CASE("providers are recognised from the greeting, the EHLO name and the reply") {
    Context ctx;
    CHECK(recognise_provider(ctx, nullptr) == "");
    ctx.greeting = "220 mx.google.com ESMTP a1sm2 - gsmtp";
    CHECK(recognise_provider(ctx, nullptr) == "gmail");
    ctx.greeting = "220 BN8PR04CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready";
    CHECK(recognise_provider(ctx, nullptr) == "office365");
    ctx.greeting.clear();
    ctx.ehlo_name = "250-email-smtp.amazonaws.com";
    CHECK(recognise_provider(ctx, nullptr) == "ses");
    ctx.ehlo_name.clear();
    auto r = reply("554 5.7.9 Message not accepted for policy reasons. See "
                   "https://postmaster.yahooinc.com/error-codes");
    CHECK(recognise_provider(ctx, &r) == "yahoo");
    r = reply("535 Login Fail. Please enter your authorization code to login. More information "
              "in https://service.mail.qq.com/detail/0/53");
    CHECK(recognise_provider(ctx, &r) == "qq");
    ctx.provider = "sendgrid"; // the preset wins
    CHECK(recognise_provider(ctx, &r) == "sendgrid");
    CHECK(config::provider_from_text("it uses sessions") == "");
    CHECK(config::provider_from_text("me@xqq.com") == "");
}

TEST_CASE("diagnose_outcome reads the provider from the greeting and EHLO reply") {
    transport::Outcome out;
    out.status = transport::Outcome::Status::failed;
    out.stage = Stage::auth;
    out.reply = reply("535 5.7.8 Authentication failed");
    out.greeting = reply("220 smtp.sendgrid.net ESMTP service ready");
    auto d = diagnose_outcome(out, Context{});
    CHECK(any_hint(d, "apikey"));
    out.greeting = reply("220 ESMTP ready");
    out.transcript = {{'C', "EHLO client.example", 0},
                      {'S', "250-p00-icloudmta-asmtp-us-west-1a.icloud-mail-production.svc", 1},
                      {'S', "250 AUTH PLAIN", 1}};
    d = diagnose_outcome(out, Context{});
    CHECK(any_hint(d, "app-specific password"));
}

TEST_CASE("every login failure names the usual causes, with or without settings") {
    struct Case {
        const char* host;
        const char* reply;
        const char* words;
    };
    const Case cases[] = {
        {"smtp.gmail.com", "535 5.7.8 Username and Password not accepted.", "app password"},
        {"smtp.mail.yahoo.com", "535 5.7.0 (#AUTH005) Too many bad auth attempts.", "app password"},
        {"smtp.mail.me.com", "535 5.7.8 Authentication failed", "app-specific password"},
        {"smtp.office365.com", "535 5.7.3 Authentication unsuccessful", "SMTP AUTH"},
        {"email-smtp.eu-west-1.amazonaws.com", "535 Authentication Credentials Invalid",
         "SMTP credentials"},
        {"smtp.sendgrid.net", "535 Authentication failed: Bad username / password", "apikey"},
        {"smtp.qq.com", "535 Login Fail.", "authorisation code"},
        {"smtp.163.com", "535 Error: authentication failed", "authorisation code"},
        {"mail.example.com", "535 5.7.8 Error: authentication failed", "app password"},
        {"mail.example.com", "534 5.7.9 Application-specific password required", "app password"},
        {"mail.example.com", "530 5.7.0 Authentication required", "password"},
        {"mail.example.com", "454 4.7.0 Temporary authentication failure", "retry"},
    };
    for (const auto& c : cases) {
        INFO(c.host << ": " << c.reply);
        Context none;
        none.host = c.host;
        auto d = diagnose(Stage::auth, reply(c.reply), NetError::none, none);
        CHECK(any_hint(d, c.words));
        auto ex = explain(c.reply, Stage::auth, c.host);
        CHECK(any_hint(ex.diagnosis, c.words));
        Context set = none;
        set.user = "me@example.com";
        set.credentials_configured = set.auth_sent = true;
        d = diagnose(Stage::auth, reply(c.reply), NetError::none, set);
        CHECK(any_hint(d, c.words));
    }
}

TEST_CASE("the wrong-password hint names the password source") {
    Context ctx;
    ctx.host = "smtp.gmail.com";
    ctx.user = "me@gmail.com";
    ctx.credentials_configured = ctx.auth_sent = true;
    ctx.password_source = "password_cmd \"pass show smtp/work\" (profile \"work\", config.ini:7)";
    auto d = diagnose(Stage::auth, reply("535-5.7.8 Username and Password not accepted.\n535 5.7.8 "
                                         "https://support.google.com/mail/?p=BadCredentials"),
                      NetError::none, ctx);
    CHECK(d.summary == "the server refused the login for user \"me@gmail.com\"");
    CHECK(any_hint(d, "password_cmd \"pass show smtp/work\" (profile \"work\", config.ini:7)"));
    CHECK(any_hint(d, "password source"));
    CHECK(any_hint(d, "app password"));
}

TEST_CASE("the missing-login hint lists every password source") {
    auto d = diagnose(Stage::mail, reply("530 5.7.0 Authentication Required."), NetError::none,
                      Context{});
    CHECK(any_hint(d, "--password-env NAME"));
    CHECK(any_hint(d, "--password-file FILE"));
    CHECK(any_hint(d, "--password-cmd CMD"));
}

// Misclassifications reported in issue 18, fixed by structure.
TEST_CASE("classes the issue found wrong") {
    struct Case {
        Stage stage;
        const char* reply;
        Class cls;
        int code;
    };
    const Case cases[] = {
        {Stage::end_of_data, "554 5.7.9 Message not accepted for policy reasons.", Class::policy, 69},
        {Stage::rcpt, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
                      "address lookup", Class::recipient, 67},
        {Stage::rcpt, "550 5.7.1 Sender is not allowed to send per SPF", Class::policy, 69},
        {Stage::mail, "503 5.5.1 Error: send HELO/EHLO first", Class::protocol, 76},
        {Stage::greeting, "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update "
                          "your client to support TLS 1.2.", Class::tls, 78},
        {Stage::end_of_data, "554 Transaction failed: Duplicate header 'Message-ID'.", Class::input, 65},
        {Stage::end_of_data, "554 Transaction failed: Missing final '@domain'", Class::input, 65},
        {Stage::mail, "501 5.5.4 Syntax: MAIL FROM:<address>", Class::input, 65},
        {Stage::mail, "553 Invalid sender address syntax", Class::input, 65},
        {Stage::mail, "553 Mail from must equal authorized user", Class::sender, 77},
    };
    for (const auto& c : cases) {
        INFO(c.reply);
        auto rc = classify_reply(c.stage, reply(c.reply));
        CHECK(class_name(rc.cls) == class_name(c.cls));
        CHECK(static_cast<int>(exit_code_for(rc.cls, rc.temporary)) == c.code);
        auto d = diagnose(c.stage, reply(c.reply), NetError::none, Context{});
        CHECK_FALSE(d.hints.empty());
    }
}

TEST_CASE("a wait that ran out after the final dot names data_timeout, not timeout") {
    diagnosis::Context ctx;
    ctx.host = "mx.example.com";
    ctx.timeout_seconds = 30;
    ctx.data_timeout_seconds = 600;
    auto d = diagnosis::diagnose(transport::Stage::end_of_data, std::nullopt, transport::NetError::timeout, ctx);
    CHECK(d.summary.find("within 600 s") != std::string::npos);
    bool names_it = false;
    for (const auto& h : d.hints)
        names_it |= h.find("--data-timeout") != std::string::npos;
    CHECK(names_it);
    auto before = diagnosis::diagnose(transport::Stage::rcpt, std::nullopt, transport::NetError::timeout, ctx);
    CHECK(before.summary.find("within 30 s") != std::string::npos);
}

TEST_CASE("proxy failures blame the proxy, with its class, exit code and a hint naming `proxy`") {
    Context ctx;
    ctx.host = "mail.example.com";
    ctx.port = 587;
    ctx.proxy = "socks5h://127.0.0.1:1080";
    ctx.proxy_origin = "flag --proxy";
    struct Row {
        NetError error;
        Class cls;
        ExitCode code;
        const char* summary;
        const char* hint;
    };
    const Row rows[] = {
        {NetError::proxy_resolve, Class::dns, ExitCode::nohost, "cannot resolve the proxy's name",
         "check the host name in proxy = socks5h://127.0.0.1:1080 (flag --proxy)"},
        {NetError::proxy_refused, Class::network, ExitCode::tempfail,
         "the connection to the proxy failed; nothing reached mail.example.com:587",
         "is the proxy running? check proxy = socks5h://127.0.0.1:1080 (flag --proxy)"},
        {NetError::proxy_auth, Class::auth, ExitCode::noperm, "the proxy refused its login",
         "check the proxy's login: proxy_user"},
        {NetError::proxy_tunnel, Class::network, ExitCode::tempfail,
         "the proxy did not connect to mail.example.com:587",
         "the proxy socks5h://127.0.0.1:1080 (flag --proxy) may not allow mail.example.com:587"},
        {NetError::proxy_failed, Class::protocol, ExitCode::protocol,
         "the proxy failed; nothing reached mail.example.com:587",
         "check the scheme in proxy = socks5h://127.0.0.1:1080 (flag --proxy)"},
    };
    for (const auto& row : rows) {
        CAPTURE(transport::net_error_name(row.error));
        auto d = diagnose(Stage::connect, std::nullopt, row.error, ctx);
        CHECK(d.cls == row.cls);
        CHECK(d.exit_code == row.code);
        CHECK(d.summary == row.summary);
        CHECK(any_hint(d, row.hint));
    }
}

TEST_CASE("a client certificate that cannot be loaded is config, 78, naming client_cert") {
    Context ctx;
    ctx.host = "relay.example.com";
    ctx.port = 465;
    ctx.client_cert = "/etc/ssl/me.pem (flag --client-cert)";
    auto d = diagnose(Stage::tls, std::nullopt, NetError::client_cert_bad, ctx);
    CHECK(d.cls == Class::config);
    CHECK(d.exit_code == ExitCode::config);
    CHECK(d.summary == "the client certificate or its key cannot be loaded");
    CHECK(any_hint(d, "check client_cert = /etc/ssl/me.pem (flag --client-cert) and client_key"));
}

TEST_CASE("a refused or missing client certificate is tls, 78, with a hint naming client_cert and client_key") {
    for (bool configured : {false, true}) {
        DYNAMIC_SECTION("configured " << configured) {
            Context ctx;
            ctx.host = "relay.example.com";
            ctx.port = 465;
            if (configured)
                ctx.client_cert = "/etc/ssl/me.pem (flag --client-cert)";
            auto d = diagnose(Stage::tls, std::nullopt, NetError::client_cert_refused, ctx);
            CHECK(d.cls == Class::tls);
            CHECK(d.exit_code == ExitCode::config);
            CHECK(d.summary == "relay.example.com:465 refused the TLS connection: it requires a client "
                               "certificate it trusts");
            CHECK(any_hint(d, configured ? "client_cert = /etc/ssl/me.pem (flag --client-cert) was not accepted: "
                                           "give client_cert and client_key"
                                         : "set client_cert and client_key (--client-cert, --client-key)"));
        }
    }
}

TEST_CASE("a close right after a handshake that asked for a client certificate is 75, naming "
          "client_cert") {
    for (bool configured : {false, true}) {
        SECTION(configured ? "one configured" : "none configured") {
            Context ctx;
            ctx.host = "relay.example.com";
            ctx.port = 587;
            if (configured)
                ctx.client_cert = "/etc/ssl/me.pem (flag --client-cert)";
            auto d = diagnose(Stage::ehlo, std::nullopt, NetError::closed_after_cert_request, ctx);
            CHECK(d.cls == Class::network);
            CHECK(d.temporary);
            CHECK(d.exit_code == ExitCode::tempfail);
            CHECK(d.summary ==
                  "relay.example.com:587 closed the connection right after the TLS handshake, "
                  "in which it asked for a client certificate");
            REQUIRE(!d.hints.empty());
            CHECK(d.hints[0] ==
                  (configured ? "the server may not accept client_cert = /etc/ssl/me.pem (flag "
                                "--client-cert): give client_cert and client_key of a "
                                "certificate the server's CA issued"
                              : "if the server requires a client certificate, set client_cert and "
                                "client_key (--client-cert, --client-key): PEM files of a "
                                "certificate the server's CA issued"));
            CHECK(any_hint(d, "retry later"));
        }
    }
}

TEST_CASE("the handshake failure alert is tls, 78, naming tls_min, client_cert and check") {
    Context ctx;
    ctx.host = "relay.example.com";
    ctx.port = 465;
    ctx.tls_min = "1.2";
    ctx.tls_min_origin = "default";
    auto d = diagnose(Stage::tls, std::nullopt, NetError::tls_handshake_refused, ctx);
    CHECK(d.cls == Class::tls);
    CHECK(!d.temporary);
    CHECK(d.exit_code == ExitCode::config);
    CHECK(d.summary ==
          "relay.example.com:465 refused the TLS handshake (alert \"handshake failure\"): no TLS "
          "version or cipher in common, or it requires a client certificate");
    REQUIRE(d.hints.size() == 2);
    CHECK(d.hints[0] ==
          "check tls_min = 1.2 (default): the server may allow only other TLS versions or "
          "ciphers; smtpsend check shows the handshake");
    CHECK(d.hints[1] ==
          "if the server requires a client certificate, set client_cert and client_key "
          "(--client-cert, --client-key): PEM files of a certificate the server's CA issued");
    ctx.client_cert = "/etc/ssl/me.pem (flag --client-cert)";
    d = diagnose(Stage::tls, std::nullopt, NetError::tls_handshake_refused, ctx);
    CHECK(any_hint(d,
                   "the server may not accept client_cert = /etc/ssl/me.pem (flag --client-cert)"));
}

TEST_CASE("no TLS version in common is tls, 78, with a hint naming tls_min") {
    Context ctx;
    ctx.host = "relay.example.com";
    ctx.port = 465;
    ctx.tls_min = "1.3";
    ctx.tls_min_origin = "flag --tls-min";
    auto d = diagnose(Stage::tls, std::nullopt, NetError::tls_version, ctx);
    CHECK(d.cls == Class::tls);
    CHECK(d.exit_code == ExitCode::config);
    CHECK(d.summary == "relay.example.com:465 does not speak TLS 1.3 or newer (tls_min = 1.3)");
    CHECK(any_hint(d, "set tls_min = 1.2 (tls_min = 1.3 from flag --tls-min)"));
    ctx.tls_min = "1.2";
    d = diagnose(Stage::tls, std::nullopt, NetError::tls_version, ctx);
    CHECK(d.summary == "relay.example.com:465 does not speak TLS 1.2 or newer (tls_min = 1.2)");
    CHECK(any_hint(d, "its admin must enable TLS 1.2"));
}

TEST_CASE("an option libcurl refuses is config, 78") {
    Context ctx;
    auto d = diagnose(Stage::config, std::nullopt, NetError::option_refused, ctx);
    CHECK(d.cls == Class::config);
    CHECK(d.exit_code == ExitCode::config);
    CHECK(any_hint(d, "smtpsend --version shows libcurl"));
}

TEST_CASE("a handshake that fails with tls_min = 1.3 names tls_min (servers that close without an alert)") {
    Context ctx;
    ctx.host = "relay.example.com";
    ctx.port = 465;
    ctx.tls_min = "1.3";
    ctx.tls_min_origin = "env SMTPSEND_TLS_MIN";
    auto d = diagnose(Stage::tls, std::nullopt, NetError::tls_handshake, ctx);
    CHECK(d.cls == Class::tls);
    CHECK(any_hint(d, "if the server speaks only TLS 1.2, set tls_min = 1.2 (tls_min = 1.3 from env SMTPSEND_TLS_MIN)"));
    ctx.tls_min = "1.2";
    d = diagnose(Stage::tls, std::nullopt, NetError::tls_handshake, ctx);
    CHECK_FALSE(any_hint(d, "tls_min"));
}

TEST_CASE("a server key that is not pinned is tls, 78, with both keys") {
    Context ctx;
    ctx.host = "relay.example.com";
    ctx.port = 465;
    ctx.pinned_pubkey = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    ctx.pinned_pubkey_origin = "flag --pinned-pubkey";
    ctx.server_key = "sha256//KvshRUiYY2L2/t4O/dkVzNiuKjfNBl3reOQ/enKvplY=";
    auto d = diagnose(Stage::tls, std::nullopt, NetError::pin_mismatch, ctx);
    CHECK(d.cls == Class::tls);
    CHECK(d.exit_code == ExitCode::config);
    CHECK(d.summary == "the server's key is not one pinned_pubkey trusts: the server's is "
                       "sha256//KvshRUiYY2L2/t4O/dkVzNiuKjfNBl3reOQ/enKvplY=, pinned_pubkey = "
                       "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= (flag --pinned-pubkey); "
                       "nothing was sent");
    CHECK(any_hint(d, "pin the new one: pinned_pubkey = sha256//KvshRUiYY2L2/t4O/dkVzNiuKjfNBl3reOQ/enKvplY="));
}

TEST_CASE("a per-connection limit is told apart from a rate reply: the batch reconnects, it does not slow down") {
    struct Case {
        const char* reply;
        bool per_connection;
        bool slow_down;
    };
    const std::vector<Case> cases = {
        {"421 4.7.0 Max message per connection reached, closing", true, false},
        {"421 Max message per connection reached, closing transmission channel", true, false},
        {"421 4.7.0 Too many messages in this connection", true, false},
        {"421 4.7.0 rate limit exceeded, try again later", false, true},
        {"421 4.7.0 Too many connections, try again later", false, true},
        {"451 4.7.1 Sending rate exceeded", false, true},
        {"421 4.3.2 Service shutting down, closing transmission channel", false, false},
        {"550 5.7.1 Max message per connection reached", false, true}, // not 421: a sending limit
    };
    for (const auto& c : cases) {
        INFO(c.reply);
        auto d = diagnose(transport::Stage::mail, transport::make_reply({c.reply}), transport::NetError::none,
                          Context{});
        CHECK(per_connection_limit(d) == c.per_connection);
        CHECK(asks_to_slow_down(d) == c.slow_down);
        if (c.per_connection)
            CHECK(d.cls == Class::rate); // still a limit; exit 75 when it fails a message
    }
}
