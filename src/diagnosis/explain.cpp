#include "diagnosis/explain.hpp"

#include "util/strings.hpp"

#include <regex>

namespace smtpsend::diagnosis {

using transport::NetError;
using transport::Reply;
using transport::Stage;

namespace {

std::string detect_tool(const std::string& t) {
    if (util::contains_icase(t, "Send-MailMessage"))
        return "powershell";
    if (util::contains_icase(t, "The SMTP server requires a secure connection") ||
        util::contains_icase(t, "System.Net.Mail") || util::contains_icase(t, "SmtpException") ||
        util::contains_icase(t, "The server response was:"))
        return "dotnet";
    if (util::contains_icase(t, "msmtp:"))
        return "msmtp";
    if (t.find("curl: (") != std::string::npos)
        return "curl";
    if (util::contains_icase(t, "smtplib") || std::regex_search(t, std::regex(R"(SMTP\w*Error)")) ||
        std::regex_search(t, std::regex(R"(\(\d{3}, b['"])")))
        return "python";
    return "";
}

// Python prints bytes with escaped line breaks.
std::string unescape(const std::string& t) {
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '\\' && i + 1 < t.size() && (t[i + 1] == 'n' || t[i + 1] == 'r')) {
            if (t[i + 1] == 'n')
                out += '\n';
            ++i;
            continue;
        }
        out += t[i];
    }
    return out;
}

std::optional<Stage> stage_from_words(const std::string& lower) {
    if (lower.find("authenticationerror") != std::string::npos ||
        lower.find("authentication failed") != std::string::npos ||
        lower.find("login denied") != std::string::npos)
        return Stage::auth;
    if (lower.find("senderrefused") != std::string::npos ||
        lower.find("mail failed") != std::string::npos ||
        lower.find("envelope from") != std::string::npos || lower.find("mail from") != std::string::npos)
        return Stage::mail;
    if (lower.find("recipientsrefused") != std::string::npos ||
        lower.find("rcpt failed") != std::string::npos || lower.find("recipient address") != std::string::npos)
        return Stage::rcpt;
    if (lower.find("dataerror") != std::string::npos)
        return Stage::end_of_data;
    if (lower.find("data failed") != std::string::npos)
        return Stage::data;
    return std::nullopt;
}

Stage stage_from_reply(const Reply& r) {
    const std::string& e = r.enhanced;
    if (r.code == 534 || r.code == 535 || r.code == 538 || r.code == 432 || r.code == 435 ||
        (r.code == 454 && util::contains_icase(r.text(), "auth")))
        return Stage::auth;
    if (r.code == 530)
        return Stage::mail;
    if (e.size() > 2 && (e.compare(1, 2, ".1") == 0 || e.compare(1, 2, ".2") == 0))
        return Stage::rcpt;
    if (r.code == 220 || r.code == 554 || r.code == 421)
        return r.code == 554 ? Stage::end_of_data : Stage::greeting;
    return Stage::end_of_data;
}

// Reply lines written as "NNN text" or "NNN-text" anywhere on a line.
std::optional<Reply> find_reply_lines(const std::string& text) {
    static const std::regex line_re(R"((?:^|[^\d.])([245]\d\d)([ -])(.*)$)");
    std::vector<std::string> lines;
    int code = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t eol = text.find('\n', pos);
        std::string line = util::trim(text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos));
        std::smatch m;
        if (std::regex_search(line, m, line_re)) {
            int c = std::stoi(m[1]);
            if (code == 0 || c == code) {
                code = c;
                lines.push_back(m[1].str() + m[2].str() + m[3].str());
            }
        }
        if (eol == std::string::npos)
            break;
        pos = eol + 1;
    }
    if (lines.empty())
        return std::nullopt;
    return transport::make_reply(lines);
}

std::optional<NetError> find_net_error(const std::string& lower) {
    if (lower.find("wrong version number") != std::string::npos)
        return NetError::tls_wrong_version;
    if (lower.find("self-signed") != std::string::npos || lower.find("self signed") != std::string::npos ||
        lower.find("unable to get local issuer") != std::string::npos ||
        lower.find("certificate verify failed") != std::string::npos ||
        lower.find("remote certificate is invalid") != std::string::npos)
        return NetError::cert_untrusted;
    if (lower.find("certificate has expired") != std::string::npos)
        return NetError::cert_expired;
    if (lower.find("connection refused") != std::string::npos ||
        lower.find("actively refused") != std::string::npos)
        return NetError::refused;
    if (lower.find("could not resolve") != std::string::npos ||
        lower.find("name or service not known") != std::string::npos ||
        lower.find("no such host") != std::string::npos ||
        lower.find("nodename nor servname") != std::string::npos)
        return NetError::resolve;
    if (lower.find("timed out") != std::string::npos || lower.find("timeout") != std::string::npos)
        return NetError::timeout;
    if (lower.find("starttls not supported") != std::string::npos ||
        lower.find("does not support tls") != std::string::npos)
        return NetError::starttls_not_offered;
    return std::nullopt;
}

} // namespace

Explanation explain(const std::string& raw, std::optional<Stage> stage, const std::string& server) {
    Explanation ex;
    std::string text = unescape(raw);
    std::string lower = util::to_lower(text);
    ex.tool = detect_tool(text);
    Context ctx;
    ctx.host = server;
    ctx.tool = ex.tool.empty() ? "generic" : ex.tool;

    std::optional<Reply> reply;
    // Python: (535, b'5.7.8 Username and Password not accepted...\n5.7.8 https://...')
    static const std::regex py_re(R"(\((\d{3}),\s*b?['"]([^'"]*)['"])");
    std::smatch m;
    if (std::regex_search(text, m, py_re)) {
        std::vector<std::string> lines;
        for (const auto& l : util::split_list(m[2].str(), '\n'))
            lines.push_back(m[1].str() + " " + l);
        reply = transport::make_reply(lines);
    }
    // .NET: "... The server response was: 5.5.1 Authentication Required"
    auto resp = lower.find("the server response was:");
    if (!reply && resp != std::string::npos) {
        std::string rest = util::trim(text.substr(resp + 24));
        auto eol = rest.find('\n');
        rest = util::trim(rest.substr(0, eol));
        int code = 0;
        if (rest.size() > 3 && std::isdigit(static_cast<unsigned char>(rest[0])) &&
            std::isdigit(static_cast<unsigned char>(rest[1])) && std::isdigit(static_cast<unsigned char>(rest[2])) &&
            rest[3] == ' ') {
            reply = transport::make_reply({rest});
        } else {
            if (lower.find("requires a secure connection") != std::string::npos)
                code = 530;
            else if (!rest.empty() && rest[0] == '4')
                code = 450;
            else
                code = 550;
            reply = transport::make_reply({std::to_string(code) + " " + rest});
        }
    }
    // curl: "curl: (55) MAIL failed: 530" and "curl: (67) Login denied"
    static const std::regex curl_re(R"((MAIL|RCPT|DATA) failed: (\d{3}))");
    if (!reply && std::regex_search(text, m, curl_re))
        reply = transport::make_reply({m[2].str() + " (" + util::trim(text) + ")"});
    if (!reply)
        reply = find_reply_lines(text);
    if (!reply && lower.find("login denied") != std::string::npos)
        reply = transport::make_reply({"535 (" + util::trim(text) + ")"});
    if (!reply && ex.tool == "msmtp" && lower.find("authentication failed") != std::string::npos)
        reply = transport::make_reply({"535 (" + util::trim(text) + ")"});

    Stage st = stage ? *stage : Stage::end_of_data;
    if (!stage) {
        auto words = stage_from_words(lower);
        if (words)
            st = *words;
        else if (reply)
            st = stage_from_reply(*reply);
    }
    if (reply && reply->code >= 400) {
        ex.understood = true;
        ex.diagnosis = diagnose(st, reply, NetError::none, ctx);
        return ex;
    }
    auto net = find_net_error(lower);
    if (net) {
        ex.understood = true;
        Stage nst = stage ? *stage
                    : *net == NetError::refused || *net == NetError::resolve ? Stage::connect
                    : *net == NetError::timeout ? Stage::greeting
                                                : Stage::tls;
        ex.diagnosis = diagnose(nst, std::nullopt, *net, ctx);
        return ex;
    }
    return ex;
}

} // namespace smtpsend::diagnosis
