#include "message/address.hpp"
#include "message/body_source.hpp"
#include "message/compose.hpp"
#include "message/headers.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

using namespace smtpsend;
using namespace smtpsend::message;

namespace {

std::string write_temp(const std::string& content) {
    std::string path = std::string(std::getenv("TMPDIR")) + "/msg-" + std::to_string(std::rand());
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

config::Settings sender(const std::string& from = "Ops <ops@example.com>") {
    config::Settings s;
    s.from.assign(from, config::Origin::flag("--from"));
    return s;
}

std::string wire(PreparedMessage& m) {
    auto text = read_all(*m.source);
    REQUIRE(text);
    return *text;
}

} // namespace

TEST_CASE("addresses parse with and without display names") {
    auto a = parse_address("Jane Doe <jane@example.com>");
    REQUIRE(a);
    CHECK(a->addr_spec == "jane@example.com");
    CHECK(a->display_name == "Jane Doe");
    CHECK(a->to_header() == "Jane Doe <jane@example.com>");
    a = parse_address("\"Doe, Jane\" <jane@example.com>");
    REQUIRE(a);
    CHECK(a->display_name == "Doe, Jane");
    CHECK(a->to_header() == "\"Doe, Jane\" <jane@example.com>");
    a = parse_address("jane@example.com (Jane)");
    REQUIRE(a);
    CHECK(a->addr_spec == "jane@example.com");
    a = parse_address("Jörg <j@example.com>");
    REQUIRE(a);
    CHECK(a->to_header() == "=?UTF-8?B?SsO2cmc=?= <j@example.com>");
    a = parse_address("\"quoted local\"@example.com");
    CHECK(a);
    CHECK(parse_address("user@[192.0.2.1]"));
}

TEST_CASE("invalid addresses are rejected before anything reaches the server") {
    for (const char* bad : {"", "no-at-sign", "a@", "@example.com", "a..b@example.com",
                            ".a@example.com", "a@-x.example", "a@exa mple.com",
                            "a@example.com>\r\nRSET", "a@example.com\nRCPT TO:<b@x.com>",
                            "Name <a@example.com", "a b@example.com"}) {
        INFO(bad);
        CHECK_FALSE(parse_address(bad));
    }
}

TEST_CASE("address lists split on commas outside quotes and take groups") {
    auto l = parse_address_list("a@x.org, \"Doe, J\" <j@x.org>, team: b@x.org, c@x.org;, d@x.org");
    REQUIRE(l);
    REQUIRE(l->size() == 5);
    CHECK((*l)[1].addr_spec == "j@x.org");
    CHECK((*l)[2].addr_spec == "b@x.org");
    CHECK((*l)[4].addr_spec == "d@x.org");
    auto empty = parse_address_list("undisclosed-recipients:;");
    REQUIRE(empty);
    CHECK(empty->empty());
}

TEST_CASE("RFC 2047 words round-trip and stay within 75 characters") {
    CHECK(encode_word("plain") == "plain");
    std::string long_text;
    for (int i = 0; i < 40; ++i)
        long_text += "ü€";
    std::string enc = encode_word(long_text);
    size_t start = 0;
    while (start < enc.size()) {
        size_t end = enc.find("\r\n ", start);
        std::string word = enc.substr(start, end == std::string::npos ? std::string::npos : end - start);
        CHECK(word.size() <= 75);
        start = end == std::string::npos ? enc.size() : end + 3;
    }
    CHECK(decode_words(enc) == long_text);
    CHECK(decode_words("=?utf-8?q?caf=C3=A9_au_lait?=") == "café au lait");
}

TEST_CASE("quoted-printable keeps lines short and encodes what it must") {
    std::string out;
    BodyEncoder qp(BodyEncoding::quoted_printable);
    std::string in = std::string(200, 'a') + "\nend with space \ncafé = ok\tx\t\n";
    qp.feed(in, out);
    qp.finish(out);
    size_t pos = 0;
    while (pos < out.size()) {
        size_t eol = out.find("\r\n", pos);
        REQUIRE(eol != std::string::npos);
        CHECK(eol - pos <= 76);
        pos = eol + 2;
    }
    CHECK(out.find("end with space=20\r\n") != std::string::npos);
    CHECK(out.find("caf=C3=A9 =3D ok\tx=09\r\n") != std::string::npos);
    CHECK(out.find('\n') == out.find("\r\n") + 1);
}

TEST_CASE("CRLF normalisation handles LF, CR and chunk boundaries") {
    std::string out;
    BodyEncoder crlf(BodyEncoding::crlf);
    crlf.feed("a\nb\r", out);
    crlf.feed("\nc\rd\r\n", out);
    crlf.finish(out);
    CHECK(out == "a\r\nb\r\nc\r\nd\r\n");
}

// The base64 body written in place: the whole input in any chunking gives
// the standard encoding in lines of 76 characters and a final CRLF.
TEST_CASE("base64 bodies are the same in any chunking") {
    std::string data;
    for (int i = 0; i < 700; ++i)
        data += static_cast<char>((i * 37 + 11) & 0xff);
    for (size_t size : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{56}, size_t{57}, size_t{58}, size_t{114},
                        size_t{700}}) {
        std::string in = data.substr(0, size);
        std::string whole = util::base64_encode(in), want;
        for (size_t pos = 0; pos < whole.size(); pos += 76)
            want += whole.substr(pos, 76) + "\r\n";
        for (size_t chunk : {size_t{1}, size_t{2}, size_t{4}, size_t{57}, size_t{1000}}) {
            CAPTURE(size, chunk);
            BodyEncoder b64(BodyEncoding::base64);
            std::string out;
            for (size_t pos = 0; pos < in.size(); pos += chunk)
                b64.feed(std::string_view(in).substr(pos, chunk), out);
            b64.finish(out);
            CHECK(out == want);
        }
    }
}

TEST_CASE("CRLF normalisation copies whole lines between line ends") {
    std::string out;
    BodyEncoder crlf(BodyEncoding::crlf);
    crlf.feed("first line\r", out);
    crlf.feed("\nsecond\n\nthird\rfourth", out);
    crlf.feed(" goes on\r\r\n", out);
    crlf.finish(out);
    CHECK(out == "first line\r\nsecond\r\n\r\nthird\r\nfourth goes on\r\n\r\n");
}

TEST_CASE("composing from flags builds the headers and hides Bcc") {
    MessageRequest req;
    req.subject = "Build ☃ failed";
    req.to = {"dev@example.com, qa@example.com"};
    req.cc = {"Lead <lead@example.com>"};
    req.bcc = {"audit@example.com"};
    req.reply_to = {"noreply@example.com"};
    req.headers = {"X-Build: 42", "Message-ID: <fixed@example.com>"};
    req.body_file = write_temp("line one\nline two\n");
    auto m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE(m);
    CHECK(m->envelope.from == "ops@example.com");
    CHECK(m->envelope.recipients ==
          std::vector<std::string>{"dev@example.com", "qa@example.com", "lead@example.com",
                                   "audit@example.com"});
    CHECK(m->message_id == "<fixed@example.com>");
    std::string text = wire(*m);
    CHECK(text.find("From: Ops <ops@example.com>\r\n") != std::string::npos);
    CHECK(text.find("To: dev@example.com, qa@example.com\r\n") != std::string::npos);
    CHECK(text.find("Cc: Lead <lead@example.com>\r\n") != std::string::npos);
    CHECK(text.find("Reply-To: noreply@example.com\r\n") != std::string::npos);
    CHECK(text.find("Subject: =?UTF-8?B?") != std::string::npos);
    CHECK(text.find("X-Build: 42\r\n") != std::string::npos);
    CHECK(text.find("Message-ID: <fixed@example.com>\r\n") != std::string::npos);
    CHECK(text.find("Date: ") == 0);
    CHECK(text.find("Bcc") == std::string::npos);
    CHECK(text.find("audit@") == std::string::npos);
    CHECK(text.find("Content-Transfer-Encoding: 7bit\r\n\r\nline one\r\nline two\r\n") !=
          std::string::npos);
}

TEST_CASE("8-bit bodies and long lines go quoted-printable") {
    MessageRequest req;
    req.to = {"dev@example.com"};
    req.body_file = write_temp("Grüße\n");
    auto m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE(m);
    std::string text = wire(*m);
    CHECK(text.find("Content-Transfer-Encoding: quoted-printable") != std::string::npos);
    CHECK(text.find("Gr=C3=BC=C3=9Fe\r\n") != std::string::npos);

    req.body_file = write_temp(std::string(2000, 'x') + "\n");
    m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE(m);
    CHECK(wire(*m).find("quoted-printable") != std::string::npos);
}

TEST_CASE("header injection from flags is refused") {
    MessageRequest req;
    req.to = {"dev@example.com"};
    req.body_file = write_temp("x");
    req.subject = "hi\r\nBcc: victim@example.com";
    auto m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::input);
    req.subject = "ok";
    req.headers = {"X-A: b\nX-Evil: 1"};
    m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::input);
    req.headers = {"Bcc: x@example.com"};
    m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::usage);
}

TEST_CASE("no recipients and no sender are distinct errors") {
    MessageRequest req;
    req.body_file = write_temp("x");
    auto m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::usage);
    req.to = {"dev@example.com"};
    m = prepare_message(req, config::Settings{}, ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::config);
    req.body_file = "/nonexistent/body";
    m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::noinput);
}

TEST_CASE("-t reads recipients from the headers and strips Bcc") {
    MessageRequest req;
    req.extract_recipients = true;
    req.body_file = write_temp("From: Cron <cron@example.com>\n"
                               "To: root@example.com\n"
                               "Subject: report\n"
                               "Bcc: hidden@example.com,\n"
                               " second-hidden@example.com\n"
                               "Resent-To: resent@example.com\n"
                               "\n"
                               "body\n.\n");
    auto m = prepare_message(req, config::Settings{}, ComposeContext{});
    REQUIRE(m);
    CHECK(m->envelope.from == "cron@example.com");
    CHECK(m->envelope.recipients ==
          std::vector<std::string>{"root@example.com", "hidden@example.com",
                                   "second-hidden@example.com", "resent@example.com"});
    std::string text = wire(*m);
    CHECK(text.find("hidden") == std::string::npos);
    CHECK(text.find("Message-ID: <") != std::string::npos);
    CHECK(text.find("Date: ") != std::string::npos);
    CHECK(text.find("From: Cron <cron@example.com>\r\nTo: root@example.com\r\n") == 0);
    CHECK(text.find("\r\n\r\nbody\r\n.\r\n") != std::string::npos);
}

TEST_CASE("-t keeps an existing Message-ID and adds From from the settings") {
    MessageRequest req;
    req.extract_recipients = true;
    req.body_file = write_temp("To: a@example.com\nMessage-ID: <given@example.com>\n\nx\n");
    auto m = prepare_message(req, sender("robot@example.com"), ComposeContext{});
    REQUIRE(m);
    CHECK(m->message_id == "<given@example.com>");
    std::string text = wire(*m);
    CHECK(text.find("From: robot@example.com\r\n") != std::string::npos);
}

TEST_CASE("-t refuses input that is not a message") {
    MessageRequest req;
    req.extract_recipients = true;
    req.body_file = write_temp("just a line of text\n");
    auto m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::input);
    req.body_file = write_temp(std::string("To: a@example.com\n\nnul\0here\n", 27));
    m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE_FALSE(m);
    CHECK(m.error().message.find("NUL") != std::string::npos);
}

TEST_CASE("a source rewinds to the first byte") {
    MessageRequest req;
    req.to = {"dev@example.com"};
    req.body_file = write_temp("once\n");
    auto m = prepare_message(req, sender(), ComposeContext{});
    REQUIRE(m);
    std::string first = wire(*m);
    m->source->rewind();
    CHECK(wire(*m) == first);
}

TEST_CASE("a display name never carries a control character into a header") {
    const std::string long_name(1000, 'n');
    struct Row { const char* name; const char* header; };
    for (const Row& row : std::initializer_list<Row>{
             {"Cron\r\nBcc: hidden@evil.test", "\"Cron  Bcc: hidden@evil.test\" <cron@example.com>"},
             {"Cron\n.\nMAIL FROM:<s@evil.test>", "\"Cron . MAIL FROM:<s@evil.test>\" <cron@example.com>"},
             {"Cron\x1b[31mDaemon", "\"Cron [31mDaemon\" <cron@example.com>"},
             {"J\xc3\xb6rg\r\nBcc: x@evil.test", "=?UTF-8?B?SsO2cmcgIEJjYzogeEBldmlsLnRlc3Q=?= <cron@example.com>"},
             {"\r\n", "cron@example.com"},
             {long_name.c_str(), nullptr}}) {
        CAPTURE(row.name);
        Address a{row.name, "cron@example.com"};
        if (row.header) {
            CHECK(a.to_header() == row.header);
        } else { // an unbreakable name is encoded, so that the From line can fold
            CHECK(a.to_header().rfind("=?UTF-8?B?", 0) == 0);
            CHECK(decode_words(a.to_header().substr(0, a.to_header().find(" <"))) == row.name);
        }
    }
}

TEST_CASE("sendmail's -F name with a line break cannot add a header field") {
    // The From built from -F comes after the CRLF clean-up of the kept headers.
    MessageRequest req;
    req.complete_message = true;
    req.to = {"dev@example.com"};
    req.full_name = "Cron\r\nBcc: hidden@evil.test";
    req.body_file = write_temp("Subject: x\n\nbody\n");
    auto m = prepare_message(req, sender("cron@example.com"), ComposeContext{});
    REQUIRE(m);
    std::string text = wire(*m);
    CHECK(text.find("\r\nFrom: \"Cron  Bcc: hidden@evil.test\" <cron@example.com>\r\n") !=
          std::string::npos);
    CHECK(text.find("\nBcc") == std::string::npos);
}

TEST_CASE("util::quote keeps a value on its line") {
    CHECK(util::quote("a \"b\" \\c") == "\"a \\\"b\\\" \\\\c\"");
    CHECK(util::quote("x\r\nBcc: y") == "\"x\\r\\nBcc: y\"");
    CHECK(util::quote(std::string("\x1b]0;t\x07\x7f\0", 8)) == "\"\\x1b]0;t\\x07\\x7f\\x00\"");
    CHECK(util::quote("tab\there") == "\"tab\there\"");
}

TEST_CASE("a composed line over 78 characters makes the text quoted-printable") {
    struct Row { size_t length; const char* cte; };
    for (const Row& row : std::initializer_list<Row>{{78, "7bit"}, {79, "quoted-printable"},
                                                    {998, "quoted-printable"}}) {
        CAPTURE(row.length);
        MessageRequest req;
        req.to = {"dev@example.com"};
        req.body_file = write_temp("short\n" + std::string(row.length, 'x') + "\n");
        auto m = prepare_message(req, sender(), ComposeContext{});
        REQUIRE(m);
        std::string text = wire(*m);
        CHECK(text.find("Content-Transfer-Encoding: " + std::string(row.cte) + "\r\n\r\nshort\r\n") !=
              std::string::npos);
        size_t body = text.find("\r\n\r\n");
        size_t longest = 0, start = body + 4;
        for (size_t eol; (eol = text.find("\r\n", start)) != std::string::npos; start = eol + 2)
            longest = std::max(longest, eol - start);
        CHECK(longest <= 78);
    }
}

namespace {
// The lengths of a folded field's lines, and the field unfolded (CRLF removed).
std::pair<size_t, std::string> longest_and_unfolded(const std::string& field) {
    size_t longest = 0, start = 0;
    std::string unfolded;
    for (size_t eol; (eol = field.find("\r\n", start)) != std::string::npos; start = eol + 2) {
        longest = std::max(longest, eol - start);
        unfolded += field.substr(start, eol - start);
    }
    return {longest, unfolded};
}
} // namespace

TEST_CASE("headers fold to 78 characters; unbreakable or look-alike text is encoded") {
    std::string utf8;
    for (int i = 0; i < 30; ++i)
        utf8 += "Grüße ";
    struct Row { std::string subject; bool plain; };
    for (const Row& row : std::initializer_list<Row>{
             {utf8, false},
             {std::string(1100, 'x'), false},
             {"=?UTF-8?B?SGk=?=", false},
             {"a =?iso-8859-1?q?x?= b", false},
             {"word " + std::string(70, 'y'), false},
             {"release notes for the build that failed last night on the nightly branch again", true},
             {std::string(200, 'a') .replace(10, 1, " ").replace(80, 1, " ").replace(150, 1, " "), false}}) {
        CAPTURE(row.subject);
        std::string field = fold_header("Subject", encode_text(row.subject));
        auto [longest, unfolded] = longest_and_unfolded(field);
        CHECK(longest <= 78);
        CHECK(unfolded.rfind("Subject: ", 0) == 0);
        std::string value = unfolded.substr(9);
        if (row.plain)
            CHECK(value == row.subject);
        else
            CHECK(decode_words(value) == row.subject);
    }
}

TEST_CASE("a long field name folds before its first word; a line is never only white space") {
    std::string field = fold_header("X-A-Rather-Long-Header-Name-For-The-Test", encode_word("Grüße aus dem Büro"));
    CHECK(field.find(":\r\n =?UTF-8?B?") != std::string::npos);
    field = fold_header("Subject", std::string(40, 'a') + "      " + std::string(40, 'b'));
    auto [longest, unfolded] = longest_and_unfolded(field);
    CHECK(longest <= 78);
    CHECK(unfolded == "Subject: " + std::string(40, 'a') + "      " + std::string(40, 'b'));
    CHECK(field.find("\r\n \r\n") == std::string::npos);
    // -H values stay as written unless a word could not fit in 998.
    CHECK(encode_word("<https://example.com/" + std::string(200, 'u') + ">") ==
          "<https://example.com/" + std::string(200, 'u') + ">");
    CHECK(encode_word(std::string(1000, 'y')).rfind("=?UTF-8?B?", 0) == 0);
}

TEST_CASE("a non-ASCII domain becomes its IDNA A-label in the envelope and the headers") {
    struct Row { const char* text; const char* addr_spec; };
    for (const Row& row : std::initializer_list<Row>{
             {"user@bücher.test", "user@xn--bcher-kva.test"},
             {"Jörg <j@BÜCHER.test>", "j@xn--bcher-kva.test"},
             {"jörg@münchen.example", "jörg@xn--mnchen-3ya.example"},
             {"plain@example.com", "plain@example.com"},
             {"lit@[127.0.0.1]", "lit@[127.0.0.1]"}}) {
        CAPTURE(row.text);
        auto a = parse_address(row.text);
        REQUIRE(a);
        CHECK(a->addr_spec == row.addr_spec);
    }
    auto bad = parse_address("a@bücher\u200d.test");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("has an invalid internationalised domain") != std::string::npos);

    MessageRequest req;
    req.to = {"Anna <anna@bücher.test>"};
    req.cc = {"c@bücher.test"};
    req.body_file = write_temp("x\n");
    auto m = prepare_message(req, sender("Ops <ops@bücher.test>"), ComposeContext{});
    REQUIRE(m);
    CHECK(m->envelope.from == "ops@xn--bcher-kva.test");
    CHECK(m->envelope.recipients ==
          std::vector<std::string>{"anna@xn--bcher-kva.test", "c@xn--bcher-kva.test"});
    std::string text = wire(*m);
    CHECK(text.find("\r\nFrom: Ops <ops@xn--bcher-kva.test>\r\n") != std::string::npos);
    CHECK(text.find("\r\nTo: Anna <anna@xn--bcher-kva.test>\r\n") != std::string::npos);
    CHECK(text.find("\r\nCc: c@xn--bcher-kva.test\r\n") != std::string::npos);
    CHECK(m->message_id.find("@xn--bcher-kva.test>") != std::string::npos);
}

TEST_CASE("a non-ASCII local part needs a server with SMTPUTF8") {
    Envelope e{"ops@example.com", {"ok@xn--bcher-kva.test", "jörg@example.com"}};
    CHECK(check_smtputf8(e, true));
    auto st = check_smtputf8(e, false);
    REQUIRE_FALSE(st);
    CHECK(st.error().kind == util::ErrorKind::input);
    CHECK(st.error().message == "address \"jörg@example.com\" has a non-ASCII local part "
                                "(before the @), and the server does not offer SMTPUTF8");
    CHECK(check_smtputf8(Envelope{"ops@example.com", {"ok@xn--bcher-kva.test"}}, false));
}

#include <fcntl.h>
#include <unistd.h>

TEST_CASE("--attach - reads the attachment from standard input") {
    std::string data = "a,b\n1,2\n";
    int fd = open(write_temp(data).c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    MessageRequest req;
    req.to = {"dev@example.com"};
    req.attach = {"-;name=report.csv"};
    ComposeContext ctx;
    ctx.stdin_fd = fd;
    auto m = prepare_message(req, sender(), ctx);
    REQUIRE(m);
    std::string text = wire(*m);
    close(fd);
    CHECK(text.find("Content-Type: text/csv; name=\"report.csv\"\r\n"
                    "Content-Disposition: attachment; filename=\"report.csv\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\n" + util::base64_encode(data) + "\r\n") !=
          std::string::npos);
    // The body is empty (standard input is the attachment).
    CHECK(text.find("Content-Transfer-Encoding: 7bit\r\n\r\n\r\n--") != std::string::npos);

    req.attach = {"-", "-;name=x.txt"};
    m = prepare_message(req, sender(), ctx);
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::usage);
    req.attach = {"-"};
    req.extract_recipients = true;
    m = prepare_message(req, sender(), ctx);
    REQUIRE_FALSE(m);
    CHECK(m.error().kind == util::ErrorKind::usage);
}

namespace {
std::string passed_through(const std::string& input) {
    MessageRequest req;
    req.extract_recipients = true;
    req.body_file = write_temp(input);
    auto m = prepare_message(req, config::Settings{}, ComposeContext{});
    REQUIRE(m);
    return wire(*m);
}
std::string body_of(const std::string& text) { return text.substr(text.find("\r\n\r\n") + 4); }
} // namespace

TEST_CASE("-t: an 8-bit or long-line body is re-encoded, the rest passes as it is") {
    struct Row { std::string name, input, header, body; };
    for (const Row& row : std::initializer_list<Row>{
             {"8-bit, no MIME header", "From: a@example.com\nTo: b@example.com\n\nGr\xc3\xbc\xc3\x9f" "e\n",
              "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n",
              "Gr=C3=BC=C3=9Fe\r\n"},
             {"Latin-1, no MIME header", "From: a@example.com\nTo: b@example.com\n\ncaf\xe9\n",
              "Content-Type: text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: quoted-printable\r\n",
              "caf=E9\r\n"},
             {"cron's 8bit text", "From: a@example.com\nTo: b@example.com\nMIME-Version: 1.0\n"
              "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n\xe2\x98\x83\n",
              "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\nDate: ",
              "=E2=98=83\r\n"},
             {"a 2000-octet line", "From: a@example.com\nTo: b@example.com\n\n" + std::string(2000, 'x') + "\n",
              "Content-Transfer-Encoding: quoted-printable\r\n",
              std::string(75, 'x') + "=\r\n"},
             {"short ASCII", "From: a@example.com\nTo: b@example.com\nContent-Transfer-Encoding: 8bit\n\nplain\n",
              "Content-Transfer-Encoding: 8bit\r\n", "plain\r\n"}}) {
        CAPTURE(row.name);
        std::string text = passed_through(row.input);
        CHECK(text.find(row.header) != std::string::npos);
        CHECK(body_of(text).rfind(row.body, 0) == 0);
        CHECK(text.find("MIME-Version") == text.rfind("MIME-Version"));
        if (row.name != "short ASCII") // the old label is gone
            CHECK(text.find("Content-Transfer-Encoding: 8bit") == std::string::npos);
        for (unsigned char c : text)
            CHECK(c < 0x80);
    }
}

TEST_CASE("-t: a header field with 8-bit bytes or a line over 998 octets is re-encoded, others pass as written") {
    struct Row { std::string name, field, sent; };
    const std::string ids = [] {
        std::string v;
        for (int i = 0; i < 40; ++i)
            v += (i ? " " : "") + std::string("<message-") + std::to_string(i) + "@example.com>";
        return v;
    }();
    for (const Row& row : std::initializer_list<Row>{
             {"a raw UTF-8 subject", "Subject: Gr\xc3\xbc\xc3\x9f" "e", "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"},
             {"a raw UTF-8 display name", "From: J\xc3\xb6rg <a@example.com>",
              "From: =?UTF-8?B?SsO2cmc=?= <a@example.com>\r\n"},
             {"a non-ASCII domain", "Cc: c@b\xc3\xbc" "cher.test", "Cc: c@xn--bcher-kva.test\r\n"},
             {"a folded line over 998 at spaces", "References: " + ids,
              fold_header("References", ids)},
             {"an encoded word as written", "Subject: =?UTF-8?B?SGk=?=", "Subject: =?UTF-8?B?SGk=?=\r\n"},
             {"a long line under 998", "X-Note: " + std::string(990, 'n'), "X-Note: " + std::string(990, 'n') + "\r\n"}}) {
        CAPTURE(row.name);
        std::string text = passed_through("From: a@example.com\nTo: b@example.com\n" + row.field + "\n\nbody\n");
        if (row.field.rfind("From:", 0) == 0)
            text = passed_through("To: b@example.com\n" + row.field + "\n\nbody\n");
        CHECK(text.find("\r\n" + row.sent) != std::string::npos);
    }
    // One word of 1500 characters: encoded, in lines within 78, reading as written.
    std::string text = passed_through("From: a@example.com\nTo: b@example.com\nSubject: " + std::string(1500, 'y') +
                                      "\n\nbody\n");
    auto block = parse_header_block(text);
    REQUIRE(block);
    CHECK(decode_words(block->values("Subject").front()) == std::string(1500, 'y'));
    size_t longest = 0, start = 0;
    for (size_t eol; (eol = text.find("\r\n", start)) != std::string::npos; start = eol + 2)
        longest = std::max(longest, eol - start);
    CHECK(longest <= 78);
    for (unsigned char c : text)
        CHECK(c < 0x80);
}

TEST_CASE("MIME parameters: quoted ASCII, else RFC 2231 continuations or RFC 2047 words in name=") {
    CHECK(mime_param("filename", "say \"hi\".txt") == "filename=\"say \\\"hi\\\".txt\"");
    CHECK(mime_param("filename", "\xc3\x9c" "b.csv") == "filename*=UTF-8''%C3%9Cb.csv");
    CHECK(mime_param("name", "\xc3\x9c" "b.csv") == "name=\"=?UTF-8?B?w5xiLmNzdg==?=\"");
    // 40 "Ü" are 240 percent-encoded characters: sections of at most 54, whole characters.
    std::string long_name, nine, four;
    for (int i = 0; i < 40; ++i)
        long_name += "\xc3\x9c";
    for (int i = 0; i < 9; ++i)
        nine += "%C3%9C";
    for (int i = 0; i < 4; ++i)
        four += "%C3%9C";
    CHECK(mime_param("filename", long_name) == "filename*0*=UTF-8''" + nine + "; filename*1*=" + nine +
                                                   "; filename*2*=" + nine + "; filename*3*=" + nine +
                                                   "; filename*4*=" + four);
    std::string field = fold_header("Content-Disposition", "attachment; " + mime_param("filename", long_name));
    for (size_t start = 0, eol; (eol = field.find("\r\n", start)) != std::string::npos; start = eol + 2)
        CHECK(eol - start <= 78);
    // A raw UTF-8 parameter in a passed-through field is encoded; ASCII ones stay.
    CHECK(encode_mime_params("Content-Type", "text/csv; charset=utf-8; name=\"\xc3\x9c" "b.csv\"") ==
          "Content-Type: text/csv; charset=utf-8; name=\"=?UTF-8?B?w5xiLmNzdg==?=\"\r\n");
    CHECK(encode_mime_params("Content-Disposition", "attachment; filename=\xc3\x9c" "b.csv") ==
          "Content-Disposition: attachment; filename*=UTF-8''%C3%9Cb.csv\r\n");
    CHECK(encode_mime_params("Content-Type", "text/plain; charset=utf-8").empty());
}

TEST_CASE("-t: in a multipart message each part that needs it is re-encoded, boundaries kept") {
    std::string input = "From: a@example.com\nTo: b@example.com\nMIME-Version: 1.0\n"
                        "Content-Type: multipart/mixed; boundary=\"BB\"\n\n"
                        "preamble\n"
                        "--BB\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
                        "Gr\xc3\xbc\xc3\x9f" "e\n"
                        "--BB\nContent-Type: text/plain\n\nascii only\n"
                        "--BB\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n"
                        "\xff\xfe\x01\n"
                        "--BB\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n"
                        "--BB--\nepilogue\n";
    std::string text = passed_through(input);
    CHECK(body_of(text) ==
          "preamble\r\n"
          "--BB\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
          "Gr=C3=BC=C3=9Fe\r\n"
          "--BB\r\nContent-Type: text/plain\r\n\r\nascii only\r\n"
          "--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
          "//4B\r\n\r\n"
          "--BB\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
          "--BB--\r\nepilogue\r\n");
    CHECK(text.find("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\nDate: ") !=
          std::string::npos);
}

TEST_CASE("-t: a part's header fields with 8-bit bytes are re-encoded, its body kept") {
    std::string input = "From: a@example.com\nTo: b@example.com\nMIME-Version: 1.0\n"
                        "Content-Type: multipart/mixed; boundary=\"BB\"\n\n"
                        "--BB\nContent-Type: text/csv; name=\"\xc3\x9c" "b.csv\"\n"
                        "Content-Disposition: attachment; filename=\"\xc3\x9c" "b.csv\"\n"
                        "Content-Transfer-Encoding: base64\n\nYSxiCg==\n"
                        "--BB--\n";
    CHECK(body_of(passed_through(input)) ==
          "--BB\r\nContent-Type: text/csv; name=\"=?UTF-8?B?w5xiLmNzdg==?=\"\r\n"
          "Content-Disposition: attachment; filename*=UTF-8''%C3%9Cb.csv\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\nYSxiCg==\r\n"
          "--BB--\r\n");
}

TEST_CASE("sendmail mode: input without a header field is the body, with the headers added") {
    // `echo test | sendmail -i root`, as Postfix and msmtp accept it.
    MessageRequest req;
    req.complete_message = true;
    req.to = {"root"};
    req.body_file = write_temp("test\n");
    config::Settings s = sender("cron@example.com");
    s.domain.assign("example.com", config::Origin::flag("--domain"));
    auto m = prepare_message(req, s, ComposeContext{});
    REQUIRE(m);
    CHECK(m->envelope.from == "cron@example.com");
    CHECK(m->envelope.recipients == std::vector<std::string>{"root@example.com"});
    std::string text = wire(*m);
    CHECK(text.rfind("From: cron@example.com\r\nTo: root@example.com\r\nDate: ", 0) == 0);
    CHECK(text.find("\r\nMessage-ID: " + m->message_id + "\r\n\r\ntest\r\n") != std::string::npos);
    CHECK(text.substr(text.size() - 10) == "\r\n\r\ntest\r\n");
}

TEST_CASE("sendmail mode without any sender goes as LOGIN@domain, as Postfix does") {
    // mailx writes no From: and gives no -f; Postfix sends as login@myorigin.
    struct Row {
        const char* input;
        bool sendmail_mode;
        const char* domain;
        const char* envelope; // "" = fails with "no sender address"
        const char* from_header;
    };
    for (const Row& row : std::initializer_list<Row>{
             {"Subject: x\n\nbody\n", true, "example.org", "bob@example.org", "From: bob@example.org\r\n"},
             {"body alone\n", true, "example.org", "bob@example.org", "From: bob@example.org\r\n"},
             // cron's bare From: the header is qualified, the envelope is the login
             {"From: root (Cron Daemon)\nSubject: x\n\nbody\n", true, "example.org", "bob@example.org",
              "From: Cron Daemon <root@example.org>\r\n"},
             // a full From header still gives the envelope sender
             {"From: App <app@example.com>\n\nbody\n", true, "example.org", "app@example.com",
              "From: App <app@example.com>\r\n"},
             // no domain: no guess at one
             {"Subject: x\n\nbody\n", true, "", "", ""},
             // the composer does not invent a sender
             {"Subject: x\n\nbody\n", false, "example.org", "", ""},
         }) {
        CAPTURE(row.input, row.sendmail_mode, row.domain);
        MessageRequest req;
        req.complete_message = row.sendmail_mode;
        req.to = {"dev@example.com"};
        req.body_file = write_temp(row.input);
        config::Settings s;
        if (*row.domain)
            s.domain.assign(row.domain, config::Origin::flag("--domain"));
        ComposeContext ctx;
        ctx.login = "bob";
        auto m = prepare_message(req, s, ctx);
        if (!*row.envelope) {
            REQUIRE_FALSE(m);
            CHECK(m.error().kind == util::ErrorKind::config);
            CHECK(m.error().message.rfind("no sender address", 0) == 0);
            continue;
        }
        REQUIRE(m);
        CHECK(m->envelope.from == row.envelope);
        std::string text = wire(*m);
        CHECK(text.find(row.from_header) != std::string::npos);
    }
}
