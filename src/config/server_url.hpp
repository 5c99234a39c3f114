// The server to talk to, resolved from `server` and `tls`.
#pragma once

#include "config/settings.hpp"

#include <string>

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

// "starttls", "implicit", "none".
std::string tls_mode_name(TlsMode mode);

// Parses a server URL alone (smtp://, smtps:// or host[:port]); the port is
// the scheme's default when not given. Errors name the key `server`; a URL
// with a control character or a login is not echoed.
util::Result<Endpoint> parse_server_url(const std::string& text);

// Parses `server` (smtp://, smtps:// or a bare host[:port]) and applies `tls`.
// Fails when no server is set, the scheme is unknown, the port is out of
// range, or the URL carries a user name or password.
util::Result<Endpoint> resolve_endpoint(const Settings& settings);

} // namespace smtpsend::config
