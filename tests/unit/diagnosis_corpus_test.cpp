// The reply corpus and other tools' messages, row by row: each row names its
// class, the exit codes that are acceptable and the words a hint must hold
// (tests/data/README.md). A failure names the row's id.
#include "diagnosis/diagnosis.hpp"
#include "diagnosis/explain.hpp"
#include "testutil.hpp"
#include "util/strings.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace smtpsend;
using namespace smtpsend::diagnosis;
using transport::Stage;

namespace {

std::vector<nlohmann::json> rows_of(const std::string& name) {
    std::ifstream in(testutil::data_dir() + "/" + name);
    REQUIRE(in);
    std::vector<nlohmann::json> rows;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty())
            rows.push_back(nlohmann::json::parse(line));
    return rows;
}

using testutil::reply_of;

bool acceptable(const nlohmann::json& row, ExitCode code) {
    for (int c : row["accept"])
        if (c == static_cast<int>(code))
            return true;
    return false;
}

void check_hint_words(const nlohmann::json& row, const Diagnosis& d) {
    REQUIRE_FALSE(d.hints.empty());
    std::string all = util::join(d.hints, " ");
    for (const auto& w : row["hint"]) {
        INFO("hints: " << all);
        CHECK(all.find(w.get<std::string>()) != std::string::npos);
    }
}

// A run with a login configured and sent, as a failed send has.
Context configured() {
    Context c;
    c.user = "me@example.com";
    c.credentials_configured = true;
    c.auth_sent = true;
    c.tls_active = true;
    c.tls_mode = config::TlsMode::starttls;
    c.port = 587;
    c.from = "me@example.com";
    c.password_source = "password_cmd \"pass show smtp\" (profile \"work\", config.ini:7)";
    return c;
}

void check_reply_file(const std::string& name, size_t at_least) {
    auto rows = rows_of(name);
    CHECK(rows.size() >= at_least);
    for (const auto& row : rows) {
        const std::string id = row["id"];
        DYNAMIC_SECTION(name << " " << id) {
            const std::string text = row["reply"];
            INFO(id << ": " << text);
            auto stage = transport::parse_stage(row["stage"].get<std::string>());
            REQUIRE(stage);
            // explain, as a user pastes it with --stage: no settings at all.
            auto ex = explain(text, stage, "");
            REQUIRE(ex.understood);
            CHECK(class_name(ex.diagnosis.cls) == row["class"].get<std::string>());
            CHECK(acceptable(row, ex.diagnosis.exit_code));
            check_hint_words(row, ex.diagnosis);
            // classify_reply reads the same table row.
            auto r = reply_of(text);
            auto rc = classify_reply(*stage, r);
            CHECK(class_name(rc.cls) == row["class"].get<std::string>());
            CHECK(exit_code_for(rc.cls, rc.temporary) == ex.diagnosis.exit_code);
            // A live send with settings: same class, and still a hint.
            auto d = diagnose(*stage, r, transport::NetError::none, configured());
            CHECK(class_name(d.cls) == row["class"].get<std::string>());
            CHECK(acceptable(row, d.exit_code));
            CHECK_FALSE(d.hints.empty());
        }
    }
}

} // namespace

TEST_CASE("corpus: replies seen in the wild, row by row", "[corpus]") {
    check_reply_file("smtp-replies.jsonl", 124);
}

TEST_CASE("corpus: round 1 of replies, row by row", "[corpus]") {
    check_reply_file("smtp-replies-round1.jsonl", 84);
}

TEST_CASE("corpus: replies written from real servers' wordings, row by row", "[corpus]") {
    check_reply_file("smtp-replies-more.jsonl", 80);
}

TEST_CASE("corpus: other tools' messages, row by row", "[corpus]") {
    auto rows = rows_of("tool-errors.jsonl");
    CHECK(rows.size() >= 60);
    for (const auto& row : rows) {
        const std::string id = row["id"];
        DYNAMIC_SECTION("tool-errors " << id) {
            const std::string text = row["text"];
            INFO(id << ": " << text);
            auto ex = explain(text, std::nullopt, "");
            REQUIRE(ex.understood);
            INFO("summary: " << ex.diagnosis.summary);
            CHECK(class_name(ex.diagnosis.cls) == row["class"].get<std::string>());
            CHECK(acceptable(row, ex.diagnosis.exit_code));
            check_hint_words(row, ex.diagnosis);
            if (row["tool"].is_null()) {
                CHECK(ex.tool.empty());
            } else {
                CHECK(ex.tool == row["tool"].get<std::string>());
                CHECK(ex.diagnosis.summary.find("(reported by ") != std::string::npos);
            }
            if (!row["stage"].is_null())
                CHECK(transport::stage_name(ex.diagnosis.stage) == row["stage"].get<std::string>());
        }
    }
}

// These crashed the regex-based explain (stack overflow in std::regex).
TEST_CASE("explain reads huge pastes without regular expressions", "[explain]") {
    SECTION("a 100 kB reply line") {
        auto ex = explain("535 5.7.8 " + std::string(100 * 1024, 'x'), std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.cls == Class::auth);
        CHECK(ex.diagnosis.reply->code == 535);
    }
    SECTION("a 1 MB line with the reply at its end") {
        auto ex = explain(std::string(1 << 20, 'y') + " said: 550 5.1.1 <a@b.example>: user unknown",
                          Stage::rcpt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.cls == Class::recipient);
        CHECK(ex.diagnosis.exit_code == ExitCode::nouser);
    }
    SECTION("a 1 MB reply line") {
        auto ex = explain("550 " + std::string(1 << 20, 'z'), Stage::rcpt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.reply->code == 550);
        CHECK(ex.diagnosis.reply->text().size() <= 4096);
    }
    SECTION("a 300 kB Python tuple") {
        auto ex = explain("smtplib.SMTPAuthenticationError: (535, b'5.7.8 " +
                              std::string(300 * 1024, 'w') + "')",
                          std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.tool == "python");
        CHECK(ex.diagnosis.stage == Stage::auth);
        CHECK(ex.diagnosis.exit_code == ExitCode::noperm);
    }
    SECTION("a megabyte of digits and reply-like noise") {
        std::string noise;
        while (noise.size() < (1u << 20))
            noise += "535 550-421 5.7.8 123456 (535, b' code: 550 ";
        auto ex = explain(noise, std::nullopt, "");
        CHECK(ex.understood);
        CHECK_FALSE(ex.diagnosis.summary.empty());
    }
}

TEST_CASE("explain picks the most specific fragment", "[explain]") {
    SECTION("a certificate error inside a generic TLS failure") {
        auto ex = explain("javax.mail.MessagingException: Could not convert socket to TLS;\n"
                          "  nested exception is: javax.net.ssl.SSLHandshakeException: PKIX path "
                          "building failed",
                          std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.cls == Class::tls);
        CHECK(ex.diagnosis.summary.find("trusted authority") != std::string::npos);
    }
    SECTION("the server's reply beats PHPMailer's generic connect() failed") {
        auto ex = explain("SMTP ERROR: Password command failed: 535 5.7.8 Error: authentication "
                          "failed\nSMTP connect() failed. https://github.com/PHPMailer/PHPMailer/wiki/"
                          "Troubleshooting",
                          std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK(ex.diagnosis.cls == Class::auth);
        CHECK(ex.diagnosis.stage == Stage::auth);
    }
    SECTION("port numbers are not reply codes") {
        auto ex = explain("Error: connect ECONNREFUSED 10.0.0.1:465 port 587 ", std::nullopt, "");
        REQUIRE(ex.understood);
        CHECK_FALSE(ex.diagnosis.reply);
        CHECK(ex.diagnosis.cls == Class::network);
    }
}
