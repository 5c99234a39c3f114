#include "config/server_url.hpp"

#include "util/strings.hpp"

#include <charconv>

namespace smtpsend::config {

using util::make_error;

std::string tls_mode_name(TlsMode mode) {
    switch (mode) {
    case TlsMode::starttls: return "starttls";
    case TlsMode::implicit: return "implicit";
    case TlsMode::none: return "none";
    }
    return "?";
}

std::string Endpoint::display() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Endpoint::curl_url() const {
    return std::string(mode == TlsMode::implicit ? "smtps://" : "smtp://") + display();
}

util::Result<Endpoint> parse_server_url(const std::string& value) {
    std::string text = util::trim(value);
    for (char c : text)
        if (static_cast<unsigned char>(c) < ' ' || c == 0x7f)
            return make_error("server: the URL contains a line break or control character",
                              "give smtp://HOST[:PORT] or smtps://HOST[:PORT]");
    Endpoint ep;
    std::string rest = text;
    auto scheme_end = text.find("://");
    std::string scheme = "smtp";
    if (scheme_end != std::string::npos) {
        scheme = util::to_lower(text.substr(0, scheme_end));
        rest = text.substr(scheme_end + 3);
    }
    if (scheme == "smtp")
        ep.mode = TlsMode::starttls;
    else if (scheme == "smtps")
        ep.mode = TlsMode::implicit;
    else
        return make_error("server = \"" + text + "\": unknown scheme \"" + scheme + "://\"",
                          "use smtp://HOST (STARTTLS, port 587) or smtps://HOST (TLS, port 465)");
    if (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    if (rest.find('@') != std::string::npos)
        return make_error("server: the URL holds a login (not shown)",
                          "put the user name in --user and the password in SMTPSEND_PASSWORD, "
                          "--password-file or --password-cmd, never in the URL");
    if (rest.find('/') != std::string::npos || rest.find('?') != std::string::npos)
        return make_error("server = \"" + text + "\": a path is not allowed",
                          "give only smtp://HOST[:PORT]; the EHLO name is set with --helo");
    std::string port_text;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos)
            return make_error("server = \"" + text + "\": unclosed '['");
        ep.host = rest.substr(1, close - 1);
        std::string after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return make_error("server = \"" + text + "\": junk after ']'");
            port_text = after.substr(1);
        }
    } else {
        auto colon = rest.rfind(':');
        if (colon != std::string::npos && rest.find(':') == colon) {
            ep.host = rest.substr(0, colon);
            port_text = rest.substr(colon + 1);
        } else {
            ep.host = rest;
        }
    }
    if (ep.host.empty())
        return make_error("server = \"" + text + "\": no host name");
    for (char c : ep.host)
        if (static_cast<unsigned char>(c) <= ' ')
            return make_error("server = \"" + text +
                              "\": the host name contains a space or control character");
    if (!port_text.empty()) {
        int port = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 1 ||
            port > 65535)
            return make_error("server = \"" + text + "\": port \"" + port_text +
                              "\" is not a number from 1 to 65535");
        ep.port = port;
        ep.port_given = true;
    }
    if (!ep.port_given)
        ep.port = ep.mode == TlsMode::implicit ? 465 : 587;
    return ep;
}

util::Result<Endpoint> resolve_endpoint(const Settings& settings) {
    if (util::trim(settings.server.value).empty())
        return make_error("no server is set",
                          "give --server smtp://HOST:587 (or smtps://HOST:465), or set "
                          "SMTPSEND_SERVER or `server` in a profile");
    auto parsed = parse_server_url(settings.server.value);
    if (!parsed) {
        util::Error e = parsed.error();
        e.message += " (" + settings.server.origin.describe() + ")";
        e.kind = error_kind(settings.server.origin);
        return e;
    }
    Endpoint ep = *parsed;
    ep.port_given = ep.port_given || settings.port.set;
    if (settings.tls.set && !settings.tls.value.empty()) {
        const auto& t = settings.tls.value;
        ep.mode = t == "implicit" ? TlsMode::implicit : t == "none" ? TlsMode::none : TlsMode::starttls;
        if (!parsed->port_given && !settings.port.set)
            ep.port = ep.mode == TlsMode::implicit ? 465 : 587;
    }
    if (settings.port.set)
        ep.port = static_cast<int>(settings.port.value);
    return ep;
}

} // namespace smtpsend::config
