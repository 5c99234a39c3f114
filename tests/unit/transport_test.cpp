#include "transport/dialogue.hpp"

#include <catch2/catch.hpp>

using namespace smtpsend::transport;

namespace {
void server(Dialogue& d, std::initializer_list<const char*> lines) {
    for (auto l : lines)
        d.on_reply_line(std::string(l) + "\r\n");
}
} // namespace

TEST_CASE("replies carry their code and enhanced code") {
    auto r = make_reply({"535-5.7.8 Username and Password not accepted.", "535 5.7.8 https://x gsmtp"});
    CHECK(r.code == 535);
    CHECK(r.enhanced == "5.7.8");
    CHECK(r.text() == "535-5.7.8 Username and Password not accepted.\n535 5.7.8 https://x gsmtp");
    CHECK(make_reply({"250 2.0.0 Ok"}).enhanced == "2.0.0");
    CHECK(make_reply({"550 Mailbox unavailable"}).enhanced.empty());
    CHECK(make_reply({"550 4.1.1 mismatched class"}).enhanced.empty());
    CHECK(make_reply({"421 4.7.0"}).enhanced == "4.7.0");
}

TEST_CASE("the dialogue follows stages, capabilities and recipients") {
    std::vector<TranscriptLine> shown;
    Dialogue d({"a@x.org", "b@x.org", "c@x.org"}, [&](const TranscriptLine& l) { shown.push_back(l); });
    CHECK(d.stage() == Stage::connect);
    server(d, {"220 mx ESMTP"});
    CHECK(d.stage() == Stage::greeting);
    d.on_command("EHLO me\r\n");
    server(d, {"250-mx", "250-STARTTLS", "250-SIZE 1000", "250 AUTH PLAIN LOGIN"});
    d.on_command("STARTTLS\r\n");
    server(d, {"220 go"});
    CHECK(d.stage() == Stage::tls);
    CHECK(d.tls_started());
    d.on_command("EHLO me\r\n");
    server(d, {"250-mx", "250-SIZE 2048", "250-8BITMIME", "250 AUTH PLAIN LOGIN XOAUTH2"});
    d.on_command("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    server(d, {"235 2.7.0 ok"});
    d.on_command("MAIL FROM:<me@x.org>\r\n");
    server(d, {"250 ok"});
    d.on_command("RCPT TO:<a@x.org>\r\n");
    server(d, {"250 ok"});
    d.on_command("RCPT TO:<b@x.org>\r\n");
    server(d, {"550-5.1.1 no such", "550 5.1.1 user"});
    d.on_command("RCPT TO:<c@x.org>\r\n");
    server(d, {"250 ok"});
    d.on_command("DATA\r\n");
    server(d, {"354 go"});
    d.on_body_complete();
    server(d, {"250 2.0.0 queued as X"});

    Outcome out;
    d.fill(out);
    CHECK(out.capabilities.seen);
    CHECK(out.capabilities.after_tls);
    CHECK_FALSE(out.capabilities.starttls);
    CHECK(out.capabilities.size == 2048u);
    CHECK(out.capabilities.eightbitmime);
    CHECK(out.capabilities.auth == std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2"});
    CHECK(out.auth_sent);
    CHECK(out.auth_mechanism == "PLAIN");
    REQUIRE(out.recipients.size() == 3);
    CHECK(out.recipients[0].accepted);
    CHECK_FALSE(out.recipients[1].accepted);
    CHECK(out.recipients[1].reply->enhanced == "5.1.1");
    CHECK(out.recipients[1].reply->lines.size() == 2);
    CHECK(out.recipients[2].accepted);
    REQUIRE(out.final_reply);
    CHECK(out.final_reply->code == 250);
    CHECK(d.failing_stage() == Stage::rcpt);

    bool masked = false;
    for (const auto& l : shown) {
        CHECK(l.text.find("AGFsaWNl") == std::string::npos);
        if (l.text == "AUTH PLAIN ***")
            masked = true;
    }
    CHECK(masked);
}

TEST_CASE("SASL continuation lines are masked until AUTH ends") {
    std::vector<std::string> client;
    Dialogue d({}, [&](const TranscriptLine& l) {
        if (l.who == 'C')
            client.push_back(l.text);
    });
    d.on_command("AUTH LOGIN\r\n");
    server(d, {"334 VXNlcm5hbWU6"});
    d.on_command("YWxpY2U=\r\n");
    server(d, {"334 UGFzc3dvcmQ6"});
    d.on_command("c2VjcmV0\r\n");
    server(d, {"235 ok"});
    d.on_command("MAIL FROM:<a@x.org>\r\n");
    CHECK(client == std::vector<std::string>{"AUTH LOGIN", "***", "***", "MAIL FROM:<a@x.org>"});
}

TEST_CASE("the stage before QUIT is kept (libcurl 7.88 sends QUIT on failure)") {
    Dialogue d({"a@x.org"}, nullptr);
    server(d, {"220 hi"});
    d.on_command("EHLO me\r\n");
    server(d, {"250 mx"});
    d.on_command("MAIL FROM:<a@x.org>\r\n");
    server(d, {"530 5.7.0 Authentication required"});
    d.on_command("QUIT\r\n");
    server(d, {"221 bye"});
    CHECK(d.stage() == Stage::quit);
    CHECK(d.stage_before_quit() == Stage::mail);
    CHECK(d.failing_stage() == Stage::mail);
    CHECK(d.failing_reply()->code == 530);
}

TEST_CASE("lines that are not SMTP replies are noticed") {
    Dialogue d({}, nullptr);
    server(d, {"HTTP/1.1 400 Bad Request"});
    CHECK(d.saw_garbage());
}

TEST_CASE("a stray line among RCPT replies does not shift the recipients") {
    Dialogue d({"a@x.org", "b@x.org"}, nullptr);
    server(d, {"220 hi"});
    d.on_command("EHLO me\r\n");
    server(d, {"250 mx"});
    d.on_command("MAIL FROM:<s@x.org>\r\n");
    server(d, {"250 ok"});
    d.on_command("RCPT TO:<a@x.org>\r\n");
    server(d, {"stray line from a broken filter", "250 2.1.5 ok"});
    d.on_command("RCPT TO:<b@x.org>\r\n");
    server(d, {"550 5.1.1 no such user"});
    d.on_command("DATA\r\n");
    server(d, {"354 go"});
    Outcome out;
    d.fill(out);
    REQUIRE(out.recipients.size() == 2);
    CHECK(out.recipients[0].accepted);
    CHECK(out.recipients[0].reply->code == 250);
    CHECK_FALSE(out.recipients[1].accepted);
    CHECK(out.recipients[1].reply->code == 550);
    // From the stray line on, the mapping is not known for sure.
    CHECK(out.recipients[0].uncertain);
    CHECK(out.recipients[1].uncertain);
    CHECK(d.saw_garbage());
}

TEST_CASE("recipients answered before a stray line stay certain") {
    Dialogue d({"a@x.org", "b@x.org"}, nullptr);
    d.on_command("RCPT TO:<a@x.org>\r\n");
    server(d, {"550 5.1.1 no"});
    d.on_command("RCPT TO:<b@x.org>\r\n");
    server(d, {"junk", "250 ok"});
    Outcome out;
    d.fill(out);
    CHECK_FALSE(out.recipients[0].uncertain);
    CHECK_FALSE(out.recipients[0].accepted);
    CHECK(out.recipients[1].uncertain);
    CHECK(out.recipients[1].accepted);
}

TEST_CASE("an endless reply keeps its first 1000 lines") {
    Dialogue d({}, nullptr);
    d.on_command("EHLO me\r\n");
    for (int i = 0; i < 5000; ++i)
        d.on_reply_line("250-more\r\n");
    CHECK(d.in_reply());
    CHECK(d.reply_overflowed());
    d.on_reply_line("250 end\r\n");
    CHECK_FALSE(d.in_reply());
    REQUIRE(d.last_reply());
    CHECK(d.last_reply()->lines.size() == Dialogue::max_reply_lines + 1);
    CHECK(d.transcript().size() < Dialogue::max_reply_lines + 10);
    std::string huge = "250 " + std::string(3 << 20, 'x') + "\r\n";
    d.on_reply_line(huge);
    CHECK(d.last_reply()->lines.front().size() <= Dialogue::max_line_bytes);
}

TEST_CASE("stage names round-trip") {
    for (int i = 0; i <= static_cast<int>(Stage::quit); ++i) {
        auto s = static_cast<Stage>(i);
        CHECK(parse_stage(stage_name(s)) == s);
    }
    CHECK(stage_name(Stage::end_of_data) == "end-of-data");
}
