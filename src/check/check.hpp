// `smtpsend check`: walks the path to the server step by step (settings, DNS,
// TCP, greeting, EHLO, TLS, AUTH, and optionally MAIL/RCPT) and stops at the
// first failure with its diagnosis. Never sends a message.
#pragma once

#include "config/load.hpp"
#include "diagnosis/diagnosis.hpp"
#include "transport/outcome.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace smtpsend::check {

struct Step {
    std::string name;                  // settings, dns, connect, greeting, ehlo, tls, auth, rcpt
    bool ok = true;
    long ms = 0;
    std::string details;
    std::vector<std::string> warnings;
    std::optional<diagnosis::Diagnosis> error;
};

struct Report {
    std::vector<Step> steps;
    int exit_code = 0;
};

struct Request {
    const config::Loaded* loaded = nullptr;
    const util::Environment* env = nullptr;
    std::string rcpt;                  // --rcpt: also try MAIL FROM and RCPT TO, then RSET
    std::string hostname;              // the EHLO name when `helo` is unset
    std::function<void(const transport::TranscriptLine&)> on_line; // -v
};

// Runs the steps in order and stops at the first failure.
Report run(const Request& request);

} // namespace smtpsend::check
