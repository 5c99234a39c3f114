// Delivery: settings and a prepared message in, outcome and diagnosis out.
// Shared by the send command, sendmail's -bs mode and `queue flush`.
#pragma once

#include "config/load.hpp"
#include "config/secrets.hpp"
#include "config/server_url.hpp"
#include "diagnosis/diagnosis.hpp"
#include "message/compose.hpp"
#include "transport/outcome.hpp"
#include "transport/transport.hpp"

#include <functional>
#include <memory>
#include <string>

namespace smtpsend::app {

struct Delivery {
    transport::Outcome outcome;
    diagnosis::Diagnosis diagnosis; // Class::ok when sent
    std::string server;             // smtp://host:port
};

// Sends messages with one set of settings; with `reuse`, over one
// connection (one login) for as long as the server keeps it.
class Sender {
  public:
    // Resolves the server and reads the password (or token) once. Fails
    // (kind "config") when the settings cannot work: no server, a login over
    // plain text, an unreadable password source.
    static util::Result<std::unique_ptr<Sender>>
    create(const config::Loaded& loaded, const util::Environment& env, const std::string& hostname,
           std::function<void(const transport::TranscriptLine&)> on_line, bool reuse = false);

    Delivery send(const message::Envelope& envelope, message::MessageSource& source);
    // Bounds the next sends (the run's --max-time, less what has passed).
    void set_max_transfer_ms(long ms) { transport_->set_max_transfer_ms(ms); }
    // Upload progress of the next sends (a progress bar); empty for none.
    void set_on_progress(std::function<void(uint64_t sent, uint64_t total)> fn) {
        transport_->set_on_progress(std::move(fn));
    }
    const config::Endpoint& endpoint() const { return endpoint_; }
    const std::string& user() const { return credentials_.user; }

  private:
    Sender() = default;
    const config::Loaded* loaded_ = nullptr;
    config::Endpoint endpoint_;
    config::Credentials credentials_;
    transport::TransportOptions options_;
    std::unique_ptr<transport::Transport> transport_;
};

// One message with a fresh Sender.
util::Result<Delivery> deliver(message::PreparedMessage& message, const config::Loaded& loaded,
                               const util::Environment& env, const std::string& hostname,
                               std::function<void(const transport::TranscriptLine&)> on_line);

} // namespace smtpsend::app
