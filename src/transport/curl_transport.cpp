// Sends one message over a fresh libcurl easy handle.
#include "transport/curl_internal.hpp"
#include "transport/transport.hpp"

#include <chrono>

namespace smtpsend::transport {

namespace {

using namespace detail;

class CurlTransport final : public Transport {
  public:
    explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
        ensure_global_init();
    }
    Outcome send(const message::Envelope& envelope, message::MessageSource& source) override;

  private:
    TransportOptions options_;
};

Outcome CurlTransport::send(const message::Envelope& envelope, message::MessageSource& source) {
    auto started = std::chrono::steady_clock::now();
    Outcome out;
    out.credentials_configured = has_login(options_);
    Dialogue dialogue(envelope.recipients, options_.on_line);
    TransferState state;
    state.dialogue = &dialogue;
    state.source = &source;
    state.require_auth = has_login(options_);

    CURL* h = curl_easy_init();
    if (!h) {
        out.error = NetError::local;
        out.error_text = "libcurl could not create a handle";
        return out;
    }
    char errbuf[CURL_ERROR_SIZE] = {};
    set_connection(h, options_);
    set_tls(h, options_, true);
    set_auth(h, options_);
    Slist rcpts = set_envelope(h, envelope);
    set_upload(h, &state);
    set_debug(h, &state, errbuf);

    CURLcode rc = curl_easy_perform(h);
    dialogue.fill(out);
    conclude(out, rc, h, state, dialogue, errbuf,
             options_.endpoint.mode == config::TlsMode::implicit);
    curl_easy_cleanup(h);
    out.transcript = dialogue.transcript(); // with QUIT lines from the cleanup, if any
    out.elapsed_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - started)
                                           .count());
    return out;
}

} // namespace

std::unique_ptr<Transport> make_curl_transport(TransportOptions options) {
    return std::make_unique<CurlTransport>(std::move(options));
}

std::string curl_version_text() {
    ensure_global_init();
    return curl_version();
}

} // namespace smtpsend::transport
