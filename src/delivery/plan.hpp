// The connection plan: where to connect, how to log in, the transport's
// options and what the diagnosis must know of the settings. Built by one
// function, used by every mode that sends and by `check`, so they cannot
// disagree on what the settings mean.
#pragma once

#include "config/load.hpp"
#include "config/secrets.hpp"
#include "config/server_url.hpp"
#include "diagnosis/diagnosis.hpp"
#include "transport/transport.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace smtpsend::delivery {

struct Plan {
    config::Endpoint endpoint;               // the first server of the list
    std::vector<config::Endpoint> fallbacks; // the others, tried in order (`server = a, b`)
    // Owned here so that options.credentials stays valid when the Plan moves.
    std::unique_ptr<config::Credentials> credentials;
    std::unique_ptr<config::Credentials> proxy_credentials; // user "" when no proxy login
    transport::TransportOptions options; // callbacks unset; the Session sets them
    diagnosis::Context context;          // the settings part; each attempt adds what it saw
    std::string profile;                 // "" for none

    // "smtp://host:port" for reports and the log.
    std::string server() const { return endpoint.host.empty() ? std::string() : endpoint.curl_url(); }

    // The servers in the order they are tried: 1 + fallbacks.size().
    size_t server_count() const { return 1 + fallbacks.size(); }
    // Server `i` of the list (0: endpoint).
    const config::Endpoint& endpoint_at(size_t i) const { return i == 0 ? endpoint : fallbacks.at(i - 1); }
    // "smtp://host:port" of server `i`.
    std::string server(size_t i) const { return i == 0 ? server() : endpoint_at(i).curl_url(); }
    // The transport's options and the diagnosis context for server `i`:
    // the plan's, with that server's host, port and TLS mode.
    transport::TransportOptions options_for(size_t i) const;
    diagnosis::Context context_for(size_t i) const;
};

// Builds the plan. `load_secrets` false (a dry run) reads no password and
// runs no command. Fails (kind "config") when the settings cannot work: no
// server, a login over plain text, an unreadable password source.
util::Result<Plan> make_plan(const config::Loaded& loaded, const util::Environment& env,
                             const std::string& hostname, bool load_secrets = true);

// What a queue entry records so that a flush can replay the run: every
// value that came from a flag or the environment (settings files are read
// again at flush time; a preset's values follow from `provider`). Never a
// secret: of `password` only where it came from, so that a flush that lacks
// it can say how to give it.
struct Recorded {
    std::vector<std::pair<std::string, std::string>> settings; // key, value as written
    std::vector<std::string> secrets;                           // "password (env SMTPSEND_PASSWORD)"
};
Recorded recorded_settings(const config::Settings& settings);

} // namespace smtpsend::delivery
