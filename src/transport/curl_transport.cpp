// Sends one message over a fresh libcurl easy handle.
#include "transport/curl_internal.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <chrono>

namespace smtpsend::transport {

namespace {

using namespace detail;

class CurlTransport final : public Transport {
  public:
    explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
        ensure_global_init();
    }
    ~CurlTransport() override {
        if (handle_)
            curl_easy_cleanup(handle_); // QUIT on a kept connection
    }
    CurlTransport(const CurlTransport&) = delete;
    CurlTransport& operator=(const CurlTransport&) = delete;
    Outcome send(const message::Envelope& envelope, message::MessageSource& source) override;
    void set_max_transfer_ms(long ms) override { options_.max_transfer_ms = ms; }
    void set_on_progress(std::function<void(uint64_t, uint64_t)> fn) override {
        options_.on_progress = std::move(fn);
    }

  private:
    Outcome attempt_once(const message::Envelope& envelope, message::MessageSource& source);

    TransportOptions options_;
    CURL* handle_ = nullptr;
    bool last_reused_ = false;
};

Outcome CurlTransport::send(const message::Envelope& envelope, message::MessageSource& source) {
    auto started = std::chrono::steady_clock::now();
    Outcome out;
    for (int attempt = 0;; ++attempt) {
        out = attempt_once(envelope, source);
        // A reused connection the server had just closed (libcurl notes, row
        // 16): nothing was accepted on it, so one retry on a new one is safe.
        bool server_spoke = std::any_of(out.transcript.begin(), out.transcript.end(),
                                        [](const TranscriptLine& l) { return l.who == 'S'; });
        bool closed_unheard = !server_spoke && (out.curl_code == CURLE_RECV_ERROR ||
                                                out.curl_code == CURLE_SEND_ERROR ||
                                                out.curl_code == CURLE_GOT_NOTHING);
        // Or it had said "421 closing" (a per-connection limit) before MAIL
        // was answered (row 17): the message was not taken, so again safe.
        bool closing_before_mail = out.stage == Stage::mail && out.reply && out.reply->code == 421;
        if (attempt == 0 && last_reused_ && out.status == Outcome::Status::failed &&
            (closed_unheard || closing_before_mail)) {
            source.rewind();
            continue;
        }
        break;
    }
    out.elapsed_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - started)
                                           .count());
    return out;
}

Outcome CurlTransport::attempt_once(const message::Envelope& envelope,
                                    message::MessageSource& source) {
    Outcome out;
    out.credentials_configured = has_login(options_);
    Dialogue dialogue(envelope.recipients, options_.on_line);
    TransferState state;
    state.dialogue = &dialogue;
    state.source = &source;
    state.require_auth = has_login(options_);
    if (options_.on_progress) {
        state.on_progress = &options_.on_progress;
        state.size_estimate = source.size_estimate();
    }

    if (!handle_)
        handle_ = curl_easy_init();
    else
        curl_easy_reset(handle_); // keeps the open connection
    CURL* h = handle_;
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
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    last_reused_ = connects == 0 && rc != CURLE_COULDNT_CONNECT;
    dialogue.fill(out);
    conclude(out, rc, h, state, dialogue, errbuf,
             options_.endpoint.mode == config::TlsMode::implicit);
    // Never reuse a connection after a failure: stale replies would be read
    // as the next message's (libcurl notes, section 4.3).
    if (!options_.reuse_connection ||
        (out.status != Outcome::Status::sent && out.status != Outcome::Status::partial)) {
        curl_easy_cleanup(h);
        handle_ = nullptr;
    }
    out.transcript = dialogue.transcript(); // with QUIT lines from the cleanup, if any
    return out;
}

} // namespace

std::unique_ptr<Transport> make_curl_transport(TransportOptions options) {
    return std::make_unique<CurlTransport>(std::move(options));
}

std::string curl_version_text() {
    ensure_global_init();
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    std::string out = std::string("libcurl ") + info->version + "\nTLS: " +
                      (info->ssl_version ? info->ssl_version : "none");
    if (info->age >= CURLVERSION_FOURTH && info->libidn)
        out += "\nIDN: libidn2/" + std::string(info->libidn);
    return out;
}

} // namespace smtpsend::transport
