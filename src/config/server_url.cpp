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

std::string ProxyUrl::curl_url() const {
    bool v6 = host.find(':') != std::string::npos;
    return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Endpoint::curl_url() const {
    return std::string(mode == TlsMode::implicit ? "smtps://" : "smtp://") + display();
}

namespace {

// host, host:port, [v6] or [v6]:port after the scheme; errors name `key`
// and show `text` (which holds no login: the callers refuse one first).
util::Status parse_authority(const std::string& key, const std::string& text,
                             const std::string& rest, std::string& host, int& port,
                             bool& port_given) {
    std::string port_text;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos)
            return make_error(key + " = \"" + text + "\": unclosed '['");
        host = rest.substr(1, close - 1);
        std::string after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return make_error(key + " = \"" + text + "\": junk after ']'");
            port_text = after.substr(1);
        }
    } else {
        auto colon = rest.rfind(':');
        if (colon != std::string::npos && rest.find(':') == colon) {
            host = rest.substr(0, colon);
            port_text = rest.substr(colon + 1);
        } else {
            host = rest;
        }
    }
    if (host.empty())
        return make_error(key + " = \"" + text + "\": no host name");
    for (char c : host)
        if (static_cast<unsigned char>(c) <= ' ')
            return make_error(key + " = \"" + text +
                              "\": the host name contains a space or control character");
    if (!port_text.empty()) {
        int n = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), n);
        if (ec != std::errc() || ptr != port_text.data() + port_text.size() || n < 1 || n > 65535)
            return make_error(key + " = \"" + text + "\": port \"" + port_text +
                              "\" is not a number from 1 to 65535");
        port = n;
        port_given = true;
    }
    return util::Ok{};
}

} // namespace

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
    if (auto ok = parse_authority("server", text, rest, ep.host, ep.port, ep.port_given); !ok)
        return ok.error();
    if (!ep.port_given)
        ep.port = ep.mode == TlsMode::implicit ? 465 : 587;
    return ep;
}

std::vector<std::string> split_server_list(const std::string& text) {
    std::vector<std::string> items;
    size_t start = 0;
    while (true) {
        size_t comma = text.find(',', start);
        items.push_back(util::trim(text.substr(start, comma == std::string::npos ? std::string::npos
                                                                                  : comma - start)));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return items;
}

util::Result<std::vector<Endpoint>> parse_server_list(const std::string& text) {
    auto items = split_server_list(text);
    std::vector<Endpoint> out;
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string item_name = items.size() == 1 ? std::string()
                                      : "server item " + std::to_string(i + 1) + " of " +
                                            std::to_string(items.size()) + ": ";
        if (items[i].empty())
            return make_error(item_name + "empty (two commas, or a comma at an end)",
                              "separate the servers with one comma: smtp://a.example:587,smtp://b.example:587");
        auto ep = parse_server_url(items[i]);
        if (!ep) {
            util::Error e = ep.error();
            e.message = item_name + e.message;
            return e;
        }
        out.push_back(*ep);
    }
    return out;
}

util::Result<std::vector<Endpoint>> resolve_endpoints(const Settings& settings) {
    if (util::trim(settings.server.value).empty())
        return make_error("no server is set",
                          "give --server smtp://HOST:587 (or smtps://HOST:465), or set "
                          "SMTPSEND_SERVER or `server` in a profile");
    auto parsed = parse_server_list(settings.server.value);
    if (!parsed) {
        util::Error e = parsed.error();
        e.message += " (" + settings.server.origin.describe() + ")";
        e.kind = error_kind(settings.server.origin);
        return e;
    }
    std::vector<Endpoint> out;
    for (const Endpoint& given : *parsed) {
        Endpoint ep = given;
        ep.port_given = ep.port_given || settings.port.set;
        if (settings.tls.set && !settings.tls.value.empty()) {
            const auto& t = settings.tls.value;
            ep.mode = t == "implicit" ? TlsMode::implicit : t == "none" ? TlsMode::none : TlsMode::starttls;
            if (!given.port_given && !settings.port.set)
                ep.port = ep.mode == TlsMode::implicit ? 465 : 587;
        }
        if (settings.port.set)
            ep.port = static_cast<int>(settings.port.value);
        out.push_back(ep);
    }
    return out;
}

util::Result<Endpoint> resolve_endpoint(const Settings& settings) {
    auto all = resolve_endpoints(settings);
    if (!all)
        return all.error();
    return all->front();
}

util::Result<ProxyUrl> parse_proxy_url(const std::string& value) {
    std::string text = util::trim(value);
    for (char c : text)
        if (static_cast<unsigned char>(c) < ' ' || c == 0x7f)
            return make_error("proxy: the URL contains a line break or control character",
                              "give socks5h://HOST:PORT, socks5://HOST:PORT or http://HOST:PORT");
    ProxyUrl px;
    auto scheme_end = text.find("://");
    if (scheme_end == std::string::npos)
        return make_error("proxy: the URL has no scheme",
                          "give socks5h://HOST:PORT (the proxy resolves the server's name), "
                          "socks5://HOST:PORT or http://HOST:PORT (a CONNECT tunnel)");
    px.scheme = util::to_lower(text.substr(0, scheme_end));
    std::string rest = text.substr(scheme_end + 3);
    if (px.scheme != "socks5h" && px.scheme != "socks5" && px.scheme != "socks4a" &&
        px.scheme != "socks4" && px.scheme != "http")
        return make_error("proxy: unknown scheme \"" + util::one_line(px.scheme) + "://\"",
                          "use socks5h://, socks5://, socks4a://, socks4:// or http://");
    if (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    auto at = rest.rfind('@');
    if (at != std::string::npos) {
        std::string login = rest.substr(0, at);
        if (login.find(':') != std::string::npos)
            return make_error("proxy: the URL holds a password (not shown)",
                              "keep the user name in the URL (or proxy_user) and give the "
                              "password with --proxy-password-cmd, --proxy-password-env or "
                              "SMTPSEND_PROXY_PASSWORD, never in the URL");
        px.user = login;
        rest = rest.substr(at + 1);
        if (px.user.empty())
            return make_error("proxy: the URL has an empty user name before '@'",
                              "give socks5://USER@HOST:PORT, or drop the '@'");
    }
    if (rest.find('/') != std::string::npos || rest.find('?') != std::string::npos)
        return make_error("proxy = \"" + text + "\": a path is not allowed",
                          "give only SCHEME://HOST:PORT");
    bool port_given = false;
    if (auto ok = parse_authority("proxy", px.scheme + "://" + rest, rest, px.host, px.port,
                                  port_given);
        !ok)
        return ok.error();
    if (!port_given)
        px.port = px.scheme == "http" ? 8080 : 1080;
    return px;
}

} // namespace smtpsend::config
