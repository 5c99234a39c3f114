// `smtpsend explain`: scans pasted text once, without regular expressions,
// for every fragment that looks like an SMTP reply (in the formats of the
// tools below) or a known transport error, and diagnoses the most specific.
#include "diagnosis/explain.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace smtpsend::diagnosis {

using transport::NetError;
using transport::Reply;
using transport::Stage;

namespace {

// Only this much of a paste is read; nothing useful hides beyond it.
constexpr size_t max_text = 4u << 20;
// A reply fragment keeps at most this much of its line, and this many lines.
constexpr size_t max_fragment = 2000;
constexpr size_t max_lines = 40;

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Tools whose messages explain reads, recognised by markers (lower case), most specific first.
struct Tool {
    std::string_view id;
    std::string_view title;
    std::vector<std::string_view> markers;
};

const std::vector<Tool>& tools() {
    static const std::vector<Tool> all = {
        {"powershell", "PowerShell Send-MailMessage", {"send-mailmessage"}},
        {"mailkit", ".NET MailKit", {"mailkit"}},
        {"dotnet", ".NET SmtpClient", {"system.net.mail", "smtpexception", "the server response was:",
                                       "the smtp server requires a secure connection",
                                       "remotecertificate", "transport stream",
                                       "system.security.authentication", "net_io_"}},
        {"msmtp", "msmtp", {"msmtp:"}},
        {"curl", "curl", {"curl: ("}},
        {"phpmailer", "PHPMailer", {"phpmailer", "smtp error:", "smtp connect() failed"}},
        {"java", "JavaMail", {"javax.mail", "jakarta.mail", "com.sun.mail", "javax.net.ssl",
                              "authenticationfailedexception", "messagingexception",
                              "pkix path building failed", "suncertpathbuilderexception",
                              "could not convert socket to tls"}},
        {"python", "Python smtplib", {"smtplib", "smtpauthenticationerror", "smtpnotsupportederror",
                                      "smtpserverdisconnected", "smtprecipientsrefused",
                                      "smtpsenderrefused", "smtpdataerror", "smtpconnecterror",
                                      "ssl.sslerror", "ssl.sslcertverificationerror"}},
        {"node", "Nodemailer", {"nodemailer", "greeting never received", "invalid login:",
                                "responsecode", "etimedout", "econnrefused", "econnreset",
                                "'eauth'", "'esocket'", "'econnection'", "depth_zero_self_signed",
                                "self_signed_cert_in_chain", "does not match certificate's altnames",
                                "self signed certificate in certificate chain",
                                "mail command failed", "recipient command failed", "message failed:",
                                "enotfound", "err_tls_"}},
        {"go", "Go net/smtp", {"x509:", "net/smtp", "gomail", "tls: first record",
                               "smtp: server doesn't support auth", "go-mail"}},
        {"postfix", "Postfix", {"postfix/", "status=deferred", "status=bounced",
                                "sasl authentication failed", "relay=", "dsn="}},
        {"gnutls", "GnuTLS", {"gnutls", "unexpected tls packet"}},
        {"openssl", "OpenSSL", {"ssl routines", "openssl", "error:0a0", "error:140", "error:1408"}},
    };
    return all;
}

const Tool* detect_tool(const std::string& lower) {
    for (const auto& t : tools())
        for (auto m : t.markers)
            if (lower.find(m) != std::string::npos)
                return &t;
    return nullptr;
}

// Transport and capability failures, as tools print them.
struct NetPhrase {
    std::string_view phrase;
    NetError error;
    Stage stage;
    int score;
};

const std::vector<NetPhrase>& net_phrases() {
    using E = NetError;
    using S = Stage;
    static const std::vector<NetPhrase> all = {
        // Certificates: the most specific.
        {"certificate is valid for", E::cert_name, S::tls, 26},
        {"does not match certificate's altnames", E::cert_name, S::tls, 26},
        {"hostname mismatch", E::cert_name, S::tls, 26},
        {"no subject alternative name", E::cert_name, S::tls, 25},
        {"remotecertificatenamemismatch", E::cert_name, S::tls, 26},
        {"doesn't match any of the subject alternative names", E::cert_name, S::tls, 26},
        {"certificate has expired", E::cert_expired, S::tls, 25},
        {"certificate expired", E::cert_expired, S::tls, 25},
        {"certificate_expired", E::cert_expired, S::tls, 25},
        {"certificate is not yet valid", E::cert_expired, S::tls, 25},
        {"pkix path building failed", E::cert_untrusted, S::tls, 24},
        {"unable to find valid certification path", E::cert_untrusted, S::tls, 24},
        {"self signed certificate", E::cert_untrusted, S::tls, 24},
        {"self-signed certificate", E::cert_untrusted, S::tls, 24},
        {"depth_zero_self_signed", E::cert_untrusted, S::tls, 24},
        {"self_signed_cert_in_chain", E::cert_untrusted, S::tls, 24},
        {"unable to get local issuer", E::cert_untrusted, S::tls, 24},
        {"unable to verify the first certificate", E::cert_untrusted, S::tls, 24},
        {"signed by unknown authority", E::cert_untrusted, S::tls, 24},
        {"remotecertificatechainerrors", E::cert_untrusted, S::tls, 23},
        {"remote certificate is invalid", E::cert_untrusted, S::tls, 20},
        {"certificate verify failed", E::cert_untrusted, S::tls, 20},
        {"the certificate is not trusted", E::cert_untrusted, S::tls, 22},
        {"certificate verification failed", E::cert_other, S::tls, 16},
        // TLS spoken to a plain port, and handshakes.
        {"wrong version number", E::tls_wrong_version, S::tls, 22},
        {"unexpected tls packet", E::tls_wrong_version, S::tls, 22},
        {"first record does not look like a tls handshake", E::tls_wrong_version, S::tls, 22},
        {"packet length too long", E::tls_wrong_version, S::tls, 20},
        {"unrecognized ssl message", E::tls_wrong_version, S::tls, 22},
        {"ssl3_get_record", E::tls_wrong_version, S::tls, 18},
        {"protocol_version", E::tls_handshake, S::tls, 18},
        {"unsupported protocol", E::tls_handshake, S::tls, 18},
        {"no protocols available", E::tls_handshake, S::tls, 18},
        {"protocol is disabled or cipher suites are inappropriate", E::tls_handshake, S::tls, 18},
        {"handshake failure", E::tls_handshake, S::tls, 16},
        {"handshake_failure", E::tls_handshake, S::tls, 16},
        {"remote party has closed the transport stream", E::tls_handshake, S::tls, 16},
        {"sslhandshakeexception", E::tls_handshake, S::tls, 14},
        {"could not convert socket to tls", E::tls_handshake, S::tls, 14},
        {"tls handshake", E::tls_handshake, S::tls, 12},
        {"ssl handshake", E::tls_handshake, S::tls, 12},
        {"starttls extension not supported", E::starttls_not_offered, S::starttls, 20},
        {"starttls not supported", E::starttls_not_offered, S::starttls, 20},
        {"does not support tls", E::starttls_not_offered, S::starttls, 20},
        {"doesn't support starttls", E::starttls_not_offered, S::starttls, 20},
        {"does not support starttls", E::starttls_not_offered, S::starttls, 20},
        // Capabilities.
        {"no authenticators", E::auth_not_offered, S::auth, 20},
        {"doesn't support auth", E::auth_not_offered, S::auth, 20},
        {"does not support auth", E::auth_not_offered, S::auth, 20},
        {"auth extension not supported", E::auth_not_offered, S::auth, 20},
        {"authentication not supported", E::auth_not_offered, S::auth, 18},
        {"no sasl mechanism", E::no_auth_mechanism, S::auth, 20},
        {"no compatible authentication mechanism", E::no_auth_mechanism, S::auth, 20},
        {"no authentication mechanisms supported", E::no_auth_mechanism, S::auth, 20},
        {"no suitable authentication method", E::no_auth_mechanism, S::auth, 20},
        {"no supported authentication methods", E::no_auth_mechanism, S::auth, 20},
        // Connections.
        {"greeting never received", E::timeout, S::greeting, 16},
        {"econnrefused", E::refused, S::connect, 14},
        {"connection refused", E::refused, S::connect, 14},
        {"actively refused", E::refused, S::connect, 14},
        {"enotfound", E::resolve, S::resolve, 14},
        {"getaddrinfo", E::resolve, S::resolve, 14},
        {"could not resolve", E::resolve, S::resolve, 14},
        {"name or service not known", E::resolve, S::resolve, 14},
        {"no such host", E::resolve, S::resolve, 14},
        {"nodename nor servname", E::resolve, S::resolve, 14},
        {"temporary failure in name resolution", E::resolve, S::resolve, 14},
        {"ehostunreach", E::connect_failed, S::connect, 12},
        {"enetunreach", E::connect_failed, S::connect, 12},
        {"network is unreachable", E::connect_failed, S::connect, 12},
        {"no route to host", E::connect_failed, S::connect, 12},
        {"could not connect to smtp host", E::connect_failed, S::connect, 10},
        {"etimedout", E::timeout, S::connect, 10},
        {"connection timed out", E::timeout, S::connect, 10},
        {"timed out", E::timeout, S::connect, 8},
        {"timeout", E::timeout, S::connect, 8},
        {"econnreset", E::closed, S::greeting, 10},
        {"connection reset", E::closed, S::greeting, 10},
        {"connection unexpectedly closed", E::closed, S::greeting, 10},
        {"net_io_connectionclosed", E::closed, S::greeting, 10},
        {"establish an ssl or tls connection", E::tls_handshake, S::tls, 14},
        {"smtpserverdisconnected", E::closed, S::greeting, 10},
        {"smtp connect() failed", E::connect_failed, S::connect, 6},
    };
    return all;
}

// Codes that a refusal comes with (RFC 5321, 4954, 3207, 7504); a port number
// such as 465 or 587 is not one.
bool known_failure_code(int c) {
    static const std::array<int, 27> codes = {421, 432, 450, 451, 452, 453, 454, 455, 458,
                                              500, 501, 502, 503, 504, 521, 523, 530, 534,
                                              535, 538, 550, 551, 552, 553, 554, 556, 557};
    return std::find(codes.begin(), codes.end(), c) != codes.end();
}

// Any 4xx or 5xx, but not the usual port numbers.
bool failure_code(int c) { return c >= 400 && c <= 599 && c != 443 && c != 465 && c != 587; }

// Python and JSON print line breaks and quotes escaped.
std::string unescape(std::string_view t) {
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '\\' && i + 1 < t.size()) {
            char n = t[i + 1];
            if (n == 'n' || n == 'r' || n == 't' || n == '\'' || n == '"') {
                if (n == 'n')
                    out += '\n';
                else if (n == 't')
                    out += ' ';
                else if (n != 'r')
                    out += n;
                ++i;
                continue;
            }
        }
        out += t[i];
    }
    return out;
}

struct Candidate {
    std::optional<Reply> reply;
    std::optional<NetError> error;
    std::optional<Stage> stage; // what the format says
    int score = 0;
};

// The enhanced code "5.7.8" at `p`, when its class agrees with the reply code.
bool enhanced_at(std::string_view s, size_t p, char cls) {
    if (p + 5 > s.size() || s[p] != cls || s[p + 1] != '.' || !digit(s[p + 2]))
        return false;
    size_t q = p + 2;
    while (q < s.size() && digit(s[q]))
        ++q;
    return q + 1 < s.size() && s[q] == '.' && digit(s[q + 1]);
}

bool marker_before(std::string_view lower_line, size_t at) {
    static const std::array<std::string_view, 9> markers = {
        "said:", "failed:", "response:", "error:", "exception:", "was:", "message:", "reply:",
        "(", };
    std::string_view before = lower_line.substr(0, at);
    while (!before.empty() && (before.back() == ' ' || before.back() == '\'' || before.back() == '"'))
        before.remove_suffix(1);
    for (auto m : markers)
        if (!m.empty() && before.size() >= m.size() &&
            before.compare(before.size() - m.size(), m.size(), m) == 0)
            return true;
    return false;
}

// The reply fragments on one line: "NNN text" or "NNN-text" wherever they start.
struct Fragment {
    int code = 0;
    std::string text; // from the code to the end of the line (bounded)
    int score = 0;
};

std::optional<Fragment> fragment_on(std::string_view line, std::string_view lower_line) {
    std::optional<Fragment> best;
    int seen = 0;
    for (size_t i = 0; i + 3 <= line.size() && seen < 8; ++i) {
        if (!digit(line[i]) || !digit(line[i + 1]) || !digit(line[i + 2]))
            continue;
        char prev = i ? line[i - 1] : ' ';
        if (alnum(prev) || prev == '.' || prev == '-' || prev == '/' || prev == ':' ||
            prev == '#' || prev == '=' || prev == '+' || prev == '_') {
            i += 2;
            continue;
        }
        char next = i + 3 < line.size() ? line[i + 3] : ' ';
        bool colon = next == ':' && i + 4 < line.size() && line[i + 4] == ' ';
        if (next != ' ' && next != '-' && next != ')' && next != ',' && next != '\'' &&
            next != '"' && next != ']' && !colon && i + 3 != line.size()) {
            i += 2;
            continue;
        }
        int code = (line[i] - '0') * 100 + (line[i + 1] - '0') * 10 + (line[i + 2] - '0');
        ++seen;
        bool fail = failure_code(code);
        bool positive = code == 220 || code == 250;
        if (!fail && !positive) {
            i += 2;
            continue;
        }
        Fragment f;
        f.code = code;
        std::string_view rest = line.substr(i, max_fragment);
        // Inside parentheses ("(... said: 535 ...)"): stop at the unbalanced ")".
        int depth = 0;
        size_t end = rest.size();
        for (size_t k = 0; k < rest.size(); ++k) {
            if (rest[k] == '(')
                ++depth;
            else if (rest[k] == ')' && --depth < 0) {
                end = k;
                break;
            }
        }
        rest = rest.substr(0, end);
        std::string text(rest);
        // "(in reply to RCPT TO command)" is Postfix's note, not the server's.
        auto note = util::to_lower(text).find(" (in reply to ");
        if (note != std::string::npos)
            text.erase(note);
        while (!text.empty() && (text.back() == ' ' || text.back() == '\'' || text.back() == '"' ||
                                 text.back() == ',' || text.back() == '\r'))
            text.pop_back();
        if (text.size() > 3 && (text[3] == ',' || text[3] == ':' || text[3] == ')' || text[3] == '\'' || text[3] == '"'))
            text = text.substr(0, 3) + " " + util::trim(text.substr(4));
        f.text = text;
        f.score = !fail ? 1 : known_failure_code(code) ? 10 : 3;
        size_t after = i + 4;
        if (enhanced_at(line, after, line[i]))
            f.score += 6;
        if (util::trim(line.substr(0, i)).empty())
            f.score += 3;
        if (marker_before(lower_line, i))
            f.score += 4;
        if (!best || f.score > best->score)
            best = f;
        i += 2;
    }
    return best;
}

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t eol = text.find('\n', pos);
        size_t end = eol == std::string_view::npos ? text.size() : eol;
        std::string_view l = text.substr(pos, end - pos);
        if (!l.empty() && l.back() == '\r')
            l.remove_suffix(1);
        out.push_back(l);
        if (eol == std::string_view::npos)
            break;
        pos = eol + 1;
    }
    return out;
}

// Reply lines anywhere; consecutive lines with the same code are one reply.
void reply_lines(std::string_view text, std::string_view lower, std::vector<Candidate>& out,
                 std::string& greeting) {
    auto lines = lines_of(text);
    auto lower_lines = lines_of(lower);
    std::vector<std::string> group;
    int group_code = 0, group_score = 0;
    auto flush = [&]() {
        if (!group.empty() && failure_code(group_code)) {
            Candidate c;
            c.reply = transport::make_reply(group);
            c.score = group_score + static_cast<int>(std::min<size_t>(group.size(), 3));
            out.push_back(std::move(c));
        } else if (!group.empty() && group_code == 220 && greeting.empty()) {
            greeting = util::join(group, "\n");
        }
        group.clear();
        group_code = group_score = 0;
    };
    for (size_t i = 0; i < lines.size() && i < lower_lines.size(); ++i) {
        auto f = fragment_on(lines[i], lower_lines[i]);
        if (!f) {
            flush();
            continue;
        }
        if (f->code != group_code || group.size() >= max_lines)
            flush();
        group_code = f->code;
        group_score = std::max(group_score, f->score);
        group.push_back(f->text);
    }
    flush();
}

// Python's (535, b'5.7.8 Username and Password not accepted...') and ('...', "...").
void python_tuples(std::string_view text, std::vector<Candidate>& out) {
    for (size_t at = text.find('('); at != std::string_view::npos && out.size() < 64;
         at = text.find('(', at + 1)) {
        size_t p = at + 1;
        if (p + 3 > text.size() || !digit(text[p]) || !digit(text[p + 1]) || !digit(text[p + 2]))
            continue;
        int code = (text[p] - '0') * 100 + (text[p + 1] - '0') * 10 + (text[p + 2] - '0');
        p += 3;
        if (p >= text.size() || text[p] != ',' || !failure_code(code))
            continue;
        ++p;
        while (p < text.size() && text[p] == ' ')
            ++p;
        if (p < text.size() && text[p] == 'b')
            ++p;
        if (p >= text.size() || (text[p] != '\'' && text[p] != '"'))
            continue;
        char q = text[p++];
        size_t close = text.find(std::string{q, ')'}, p);
        size_t end = close == std::string_view::npos ? std::min(text.size(), p + max_fragment)
                                                     : close;
        std::string_view body = text.substr(p, std::min(end - p, max_fragment * 4));
        std::vector<std::string> lines;
        for (auto l : lines_of(body)) {
            std::string s = util::trim(l.substr(0, max_fragment));
            if (!s.empty() && lines.size() < max_lines)
                lines.push_back(std::to_string(code) + " " + s);
        }
        if (lines.empty())
            lines.push_back(std::to_string(code));
        Candidate c;
        c.reply = transport::make_reply(lines);
        c.score = 20 + (c.reply->enhanced.empty() ? 0 : 6);
        out.push_back(std::move(c));
        at = end;
    }
}

// "text" after `key` up to the closing quote or the end of the line, lower-case key.
std::string quoted_after(std::string_view text, size_t at) {
    while (at < text.size() && text[at] == ' ')
        ++at;
    if (at >= text.size())
        return "";
    char q = text[at];
    if (q != '\'' && q != '"' && q != '`')
        q = '\n';
    else
        ++at;
    size_t end = text.find(q, at);
    size_t eol = text.find('\n', at);
    end = std::min(end == std::string_view::npos ? text.size() : end,
                   eol == std::string_view::npos ? text.size() : eol);
    return std::string(text.substr(at, std::min(end - at, max_fragment)));
}

// A number after `key` ("code: 535", "responseCode: 535", "\"code\":535", "(535)").
int code_after(std::string_view text, size_t at) {
    while (at < text.size() && (text[at] == ' ' || text[at] == ':' || text[at] == '=' ||
                                text[at] == '"' || text[at] == '\''))
        ++at;
    if (at + 3 > text.size() || !digit(text[at]) || !digit(text[at + 1]) || !digit(text[at + 2]))
        return 0;
    if (at + 3 < text.size() && digit(text[at + 3]))
        return 0;
    int code = (text[at] - '0') * 100 + (text[at + 1] - '0') * 10 + (text[at + 2] - '0');
    return failure_code(code) ? code : 0;
}

// Replies split into fields: Nodemailer's `response: '...', responseCode: 535`,
// Go's `permanent error (535): 5.7.139 ...`, `code: 535, response: '...'`.
void split_replies(std::string_view text, std::string_view lower, std::vector<Candidate>& out) {
    int code = 0;
    for (std::string_view key : {"responsecode", "\"code\"", "code:", "code=", "smtp code", "status code"}) {
        for (size_t at = lower.find(key); at != std::string_view::npos && !code;
             at = lower.find(key, at + 1))
            code = code_after(lower, at + key.size());
        if (code)
            break;
    }
    for (std::string_view key : {"response:", "\"response\":", "response=", "message:"}) {
        size_t at = lower.find(key);
        if (at == std::string_view::npos)
            continue;
        std::string resp = util::trim(quoted_after(text, at + key.size()));
        if (resp.empty())
            continue;
        bool has_code = resp.size() >= 3 && digit(resp[0]) && digit(resp[1]) && digit(resp[2]);
        if (!has_code && !code)
            continue;
        std::string line = has_code ? resp : std::to_string(code) + " " + resp;
        Candidate c;
        c.reply = transport::make_reply({line});
        if (!failure_code(c.reply->code))
            continue;
        c.score = 18 + (c.reply->enhanced.empty() ? 0 : 6);
        out.push_back(std::move(c));
        break;
    }
    // "(535): text" and "(535) text"
    for (size_t at = text.find('('); at != std::string_view::npos && out.size() < 64;
         at = text.find('(', at + 1)) {
        if (at + 5 > text.size() || !digit(text[at + 1]) || !digit(text[at + 2]) ||
            !digit(text[at + 3]) || text[at + 4] != ')')
            continue;
        int c3 = (text[at + 1] - '0') * 100 + (text[at + 2] - '0') * 10 + (text[at + 3] - '0');
        if (!failure_code(c3))
            continue;
        size_t p = at + 5;
        if (p < text.size() && text[p] == ':')
            ++p;
        std::string rest = util::trim(quoted_after(text, p));
        Candidate c;
        c.reply = transport::make_reply({std::to_string(c3) + " " + rest});
        c.score = 14 + (c.reply->enhanced.empty() ? 0 : 6);
        out.push_back(std::move(c));
        break;
    }
}

// .NET: "... The server response was: 5.5.1 Authentication Required"
void dotnet_response(std::string_view text, std::string_view lower, std::vector<Candidate>& out) {
    auto resp = lower.find("the server response was:");
    if (resp == std::string_view::npos)
        return;
    std::string rest = util::trim(quoted_after(text, resp + 24));
    if (rest.size() > 3 && digit(rest[0]) && digit(rest[1]) && digit(rest[2]) && rest[3] == ' ')
        return; // a full reply line: reply_lines has it
    int code = lower.find("requires a secure connection") != std::string_view::npos ? 530
               : !rest.empty() && rest[0] == '4'                                    ? 450
                                                                                    : 550;
    Candidate c;
    c.reply = transport::make_reply({std::to_string(code) + " " + rest});
    c.score = 17;
    out.push_back(std::move(c));
}

void net_errors(std::string_view lower, std::vector<Candidate>& out) {
    const NetPhrase* best = nullptr;
    for (const auto& p : net_phrases())
        if ((!best || p.score > best->score) && lower.find(p.phrase) != std::string_view::npos)
            best = &p;
    if (best) {
        Candidate c;
        c.error = best->error;
        c.stage = best->stage;
        c.score = best->score;
        out.push_back(std::move(c));
    }
}

// The stage, from words of the tool's message.
std::optional<Stage> stage_from_words(const std::string& lower) {
    struct W {
        std::string_view word;
        Stage stage;
    };
    static const std::vector<W> words = {
        {"in reply to rcpt to", Stage::rcpt},
        {"in reply to mail from", Stage::mail},
        {"in reply to end of data", Stage::end_of_data},
        {"in reply to data", Stage::data},
        {"after end of data", Stage::end_of_data},
        {"password command failed", Stage::auth},
        {"username command failed", Stage::auth},
        {"auth command failed", Stage::auth},
        {"mail from command failed", Stage::mail},
        {"rcpt to command failed", Stage::rcpt},
        {"data end command failed", Stage::end_of_data},
        {"mail command failed", Stage::mail},
        {"recipient command failed", Stage::rcpt},
        {"message failed", Stage::end_of_data},
        {"data command failed", Stage::data},
        {"command: 'auth", Stage::auth},
        {"command: 'mail", Stage::mail},
        {"command: 'rcpt", Stage::rcpt},
        {"command: 'data", Stage::end_of_data},
        {"authenticationfailedexception", Stage::auth},
        {"sasl authentication failed", Stage::auth},
        {"authenticationerror", Stage::auth},
        {"authentication failed", Stage::auth},
        {"invalid login", Stage::auth},
        {"login denied", Stage::auth},
        {"senderrefused", Stage::mail},
        {"mail failed", Stage::mail},
        {"envelope from", Stage::mail},
        {"mail from", Stage::mail},
        {"recipientsrefused", Stage::rcpt},
        {"smtpaddressfailedexception", Stage::rcpt},
        {"invalid addresses", Stage::rcpt},
        {"rcpt failed", Stage::rcpt},
        {"recipient address", Stage::rcpt},
        {"dataerror", Stage::end_of_data},
        {"data failed", Stage::data},
    };
    for (const auto& w : words)
        if (lower.find(w.word) != std::string::npos)
            return w.stage;
    return std::nullopt;
}

Stage stage_from_reply(const Reply& r) {
    const std::string& e = r.enhanced;
    const std::string t = util::to_lower(r.text());
    if (r.code == 534 || r.code == 535 || r.code == 538 || r.code == 432 || r.code == 435 ||
        (r.code == 454 && t.find("auth") != std::string::npos))
        return Stage::auth;
    if (r.code == 530)
        return Stage::mail;
    if ((r.code == 504 || r.code == 503) && t.find("auth") != std::string::npos)
        return Stage::auth;
    if (r.code == 552 && t.find("quota") != std::string::npos)
        return Stage::rcpt; // a full mailbox, refused at RCPT
    if ((r.code == 501 || r.code == 553) && t.find("sender") != std::string::npos)
        return Stage::mail;
    if (e.size() > 2 && (e.compare(1, 2, ".1") == 0 || e.compare(1, 2, ".2") == 0))
        return Stage::rcpt;
    if (t.find("recipient") != std::string::npos)
        return Stage::rcpt;
    if (r.code == 554)
        return Stage::end_of_data;
    if (r.code == 421)
        return Stage::greeting;
    return Stage::end_of_data;
}

} // namespace

Explanation explain(const std::string& raw, std::optional<Stage> stage, const std::string& server) {
    Explanation ex;
    std::string text = unescape(std::string_view(raw).substr(0, max_text));
    std::string lower = util::to_lower(text);
    const Tool* tool = detect_tool(lower);

    std::vector<Candidate> found;
    std::string greeting;
    python_tuples(text, found);
    split_replies(text, lower, found);
    dotnet_response(text, lower, found);
    reply_lines(text, lower, found, greeting);
    net_errors(lower, found);
    // curl and msmtp say only that the login failed.
    if (lower.find("login denied") != std::string::npos ||
        (tool && tool->id == "msmtp" && lower.find("authentication failed") != std::string::npos)) {
        Candidate c;
        c.reply = transport::make_reply({"535 (" + util::trim(text.substr(0, max_fragment)) + ")"});
        c.stage = Stage::auth;
        c.score = 5;
        found.push_back(std::move(c));
    }
    if (!tool) {
        bool tuple = std::any_of(found.begin(), found.end(),
                                 [](const Candidate& c) { return c.score >= 20 && c.reply; }) &&
                     text.find(", b'") != std::string::npos;
        if (tuple)
            tool = &*std::find_if(tools().begin(), tools().end(),
                                  [](const Tool& t) { return t.id == "python"; });
    }
    if (tool)
        ex.tool = std::string(tool->id);

    const Candidate* best = nullptr;
    for (const auto& c : found)
        if (!best || c.score > best->score)
            best = &c;
    if (!best)
        return ex;

    Context ctx;
    ctx.host = server;
    ctx.tool = ex.tool.empty() ? "generic" : ex.tool;
    ctx.greeting = greeting;
    ex.understood = true;
    if (best->reply) {
        Stage st = Stage::end_of_data;
        if (stage)
            st = *stage;
        else if (auto words = stage_from_words(lower))
            st = *words;
        else if (best->stage)
            st = *best->stage;
        else
            st = stage_from_reply(*best->reply);
        ex.diagnosis = diagnose(st, best->reply, NetError::none, ctx);
    } else {
        ex.diagnosis = diagnose(stage ? *stage : *best->stage, std::nullopt, *best->error, ctx);
    }
    if (tool)
        ex.diagnosis.summary += " (reported by " + std::string(tool->title) + ")";
    return ex;
}

} // namespace smtpsend::diagnosis
