// The server to talk to, resolved from `server` and `tls`.
#pragma once

#include "config/settings.hpp"

#include <string>
#include <vector>

namespace smtpsend::config {

struct Endpoint {
    std::string host;  // as given (no brackets for IPv6)
    int port = 0;
    TlsMode mode = TlsMode::starttls;
    bool port_given = false;

    // "smtp://host:port" or "smtps://host:port" for libcurl.
    std::string curl_url() const;
    // "host:port" for messages.
    std::string display() const;
};

// The `proxy` setting: the mail goes through it to the server.
struct ProxyUrl {
    std::string scheme; // socks5h, socks5, socks4a, socks4 or http (a CONNECT tunnel)
    std::string host;
    int port = 0;       // 1080 for SOCKS, 8080 for http when not given
    std::string user;   // from USER@ in the URL, "" when none

    // "socks5h://host:port" for libcurl, never with the login.
    std::string curl_url() const;
};

// "starttls", "implicit", "none".
std::string tls_mode_name(TlsMode mode);

// Parses a server URL alone (smtp://, smtps:// or host[:port]); the port is
// the scheme's default when not given. Errors name the key `server`; a URL
// with a control character or a login is not echoed.
util::Result<Endpoint> parse_server_url(const std::string& text);

// Parses a proxy URL: SCHEME://[USER@]HOST[:PORT]. A password in the URL is
// refused (it would show in `config show`, process lists and the queue): it
// comes from a proxy password source. Errors name the key `proxy`.
util::Result<ProxyUrl> parse_proxy_url(const std::string& text);

// Parses `server` (smtp://, smtps:// or a bare host[:port]) and applies `tls`.
// Fails when no server is set, the scheme is unknown, the port is out of
// range, or the URL carries a user name or password.
util::Result<Endpoint> resolve_endpoint(const Settings& settings);

// The items of a `server` list ("smtp://a:587, smtp://b:587"), trimmed, in
// order; one item for a single URL. Empty items are kept (as "") so that
// parse_server_list can name them.
std::vector<std::string> split_server_list(const std::string& text);

// Parses each item of a `server` list as parse_server_url does; an error
// names the item ("server item 2 of 3: ...").
util::Result<std::vector<Endpoint>> parse_server_list(const std::string& text);

// Every server of the `server` list, in the order they are tried, each with
// `tls` and `port` applied as resolve_endpoint applies them (which gives the
// first). Fails as resolve_endpoint does, naming the item.
util::Result<std::vector<Endpoint>> resolve_endpoints(const Settings& settings);

} // namespace smtpsend::config
