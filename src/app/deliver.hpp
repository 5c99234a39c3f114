// One delivery: settings and a prepared message in, outcome and diagnosis
// out. Shared by the send command and sendmail's -bs mode.
#pragma once

#include "config/load.hpp"
#include "diagnosis/diagnosis.hpp"
#include "message/compose.hpp"
#include "transport/outcome.hpp"

#include <functional>
#include <string>

namespace smtpsend::app {

struct Delivery {
    transport::Outcome outcome;
    diagnosis::Diagnosis diagnosis; // Class::ok when sent
    std::string server;             // smtp://host:port
};

// Resolves the server, reads the password and sends. Fails (kind "config")
// before connecting when the settings cannot work: no server, a login over
// plain text, an unreadable password source.
util::Result<Delivery> deliver(message::PreparedMessage& message, const config::Loaded& loaded,
                               const util::Environment& env, const std::string& hostname,
                               std::function<void(const transport::TranscriptLine&)> on_line);

} // namespace smtpsend::app
