// Sends one message over a fresh libcurl easy handle.
#include "transport/curl_internal.hpp"
#include "transport/transport.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

namespace smtpsend::transport {

namespace {

using namespace detail;

// What one counting pass over the source found (then it is rewound).
struct SourceSize {
    uint64_t bytes = 0;
    bool ends_with_crlf = false;
    // On the wire: libcurl ends a body that does not end in CRLF with
    // CRLF . CRLF, so the message the server keeps has those 2 bytes more.
    uint64_t exact() const { return bytes + (ends_with_crlf ? 0 : 2); }
};

// Nothing when the source cannot be read now (the transfer reports that).
std::optional<SourceSize> measure(message::MessageSource& source) {
    std::vector<char> buf(64 * 1024);
    SourceSize size;
    char last[2] = {0, 0};
    for (;;) {
        auto got = source.read(buf.data(), buf.size());
        if (!got) {
            source.rewind();
            return std::nullopt;
        }
        if (*got == 0)
            break;
        if (*got >= 2) {
            last[0] = buf[*got - 2];
            last[1] = buf[*got - 1];
        } else {
            last[0] = last[1];
            last[1] = buf[0];
        }
        size.bytes += *got;
    }
    source.rewind();
    size.ends_with_crlf = size.bytes >= 2 && last[0] == '\r' && last[1] == '\n';
    return size;
}

class CurlTransport final : public Transport {
  public:
    explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
        ensure_global_init();
    }
    ~CurlTransport() override {
        if (handle_)
            close_kept(); // QUIT on a kept connection
    }
    CurlTransport(const CurlTransport&) = delete;
    CurlTransport& operator=(const CurlTransport&) = delete;
    Outcome send(const message::Envelope& envelope, message::MessageSource& source) override;
    void set_max_transfer_ms(long ms) override { options_.max_transfer_ms = ms; }
    void set_on_progress(std::function<void(uint64_t, uint64_t)> fn) override {
        options_.on_progress = std::move(fn);
    }

  private:
    // Ends a kept connection: QUIT goes out, but its reply is not waited
    // for. Outside a transfer no progress callback bounds that wait, and
    // libcurl 7.88 disconnects with its connection cache's own handle, whose
    // response timeout is 120 s whatever we set: a server that never answers
    // QUIT would hold the run. Shutting the socket for reading makes the
    // wait end at once; the message was settled before.
    void close_kept() {
        if (kept_socket_ != CURL_SOCKET_BAD)
            shutdown(kept_socket_, SHUT_RD);
        curl_easy_cleanup(handle_);
        handle_ = nullptr;
        kept_socket_ = CURL_SOCKET_BAD;
    }
    // One MAIL transaction (at most max_recipients_per_transaction).
    Outcome send_transaction(const message::Envelope& envelope, message::MessageSource& source);
    // `exact_size`: the bytes the server will keep (SIZE=); `append_crlf`:
    // the source does not end in CRLF and the transport adds it.
    Outcome attempt_once(const message::Envelope& envelope, message::MessageSource& source,
                         std::optional<uint64_t> exact_size, bool append_crlf);

    TransportOptions options_;
    CURL* handle_ = nullptr;
    bool last_reused_ = false;
    curl_socket_t kept_socket_ = CURL_SOCKET_BAD;
};

// Recipients per transaction. RFC 5321 4.5.3.1.8 asks servers for at least
// 100; Postfix takes 1000 by default. libcurl 7.88 as Debian ships it also
// caps the reply bytes of one transfer at 300 KB (CVE-2023-38039), about
// 21 900 RCPT replies: a longer list is sent in several transactions.
constexpr size_t max_recipients_per_transaction = 1000;

// Adds the outcome of the next transaction (the next slice of recipients)
// to the whole message's: recipients and transcript in order. A slice that
// did not go through gives the failure reported; once some recipients have
// the message the whole is "partial".
void merge(Outcome& whole, Outcome part, bool first) {
    if (first) {
        whole = std::move(part);
        return;
    }
    for (auto& r : part.recipients)
        whole.recipients.push_back(std::move(r));
    for (auto& l : part.transcript)
        whole.transcript.push_back(std::move(l));
    whole.body_bytes = std::max(whole.body_bytes, part.body_bytes);
    bool part_delivered =
        part.status == Outcome::Status::sent || part.status == Outcome::Status::partial;
    if (part_delivered)
        whole.final_reply = part.final_reply;
    if (part.status == Outcome::Status::sent)
        return;
    if (whole.status == Outcome::Status::failed) {
        // Every earlier recipient was refused at RCPT.
        if (part_delivered)
            whole.status = Outcome::Status::partial;
        return;
    }
    if (whole.status == Outcome::Status::partial && part.status == Outcome::Status::partial)
        return; // the first refusal stays the one shown
    whole.status = Outcome::Status::partial; // the earlier recipients have it
    whole.stage = part.stage;
    whole.reply = part.reply;
    whole.error = part.error;
    whole.error_text = part.error_text;
    whole.curl_code = part.curl_code;
    whole.tls_verify_result = part.tls_verify_result;
}

// A slice that failed or whose outcome is unknown: a recipient the server
// accepted at RCPT was not sent the message (failed: its verdict is
// cleared, it is owed) or may have it (unconfirmed: uncertain, never sent
// again). Refusals at RCPT stay as they are.
void settle_slice(Outcome& part) {
    bool unknown = part.status == Outcome::Status::unconfirmed;
    for (auto& r : part.recipients) {
        if (r.reply && !r.reply->positive())
            continue;
        r.accepted = false;
        r.reply.reset();
        r.uncertain = r.uncertain || unknown;
    }
}

Outcome CurlTransport::send(const message::Envelope& envelope, message::MessageSource& source) {
    if (envelope.recipients.size() <= max_recipients_per_transaction)
        return send_transaction(envelope, source);
    auto started = std::chrono::steady_clock::now();
    // One connection for all the transactions, dropped at the end unless the
    // caller keeps connections.
    bool keep = options_.reuse_connection;
    options_.reuse_connection = true;
    // --max-time bounds the whole message, not each transaction.
    long budget_ms = options_.max_transfer_ms;
    Outcome whole;
    const auto& all = envelope.recipients;
    for (size_t i = 0; i < all.size(); i += max_recipients_per_transaction) {
        if (budget_ms > 0) {
            long spent = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - started)
                                               .count());
            options_.max_transfer_ms = std::max(1L, budget_ms - spent);
        }
        message::Envelope part = envelope;
        part.recipients.assign(all.begin() + static_cast<std::ptrdiff_t>(i),
                               all.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                 all.size(), i + max_recipients_per_transaction)));
        source.rewind();
        Outcome o = send_transaction(part, source);
        // After a failure other than this slice's recipients all being
        // refused, the rest is not tried.
        bool stop = (o.status == Outcome::Status::failed && o.stage != Stage::rcpt) ||
                    o.status == Outcome::Status::unconfirmed;
        if (stop && i > 0)
            settle_slice(o);
        merge(whole, std::move(o), i == 0);
        if (stop) {
            // Not tried: the rest of the list, after a failed transaction.
            for (size_t j = i + max_recipients_per_transaction; j < all.size(); ++j)
                whole.recipients.push_back(RecipientResult{all[j], false, std::nullopt, false});
            break;
        }
    }
    options_.reuse_connection = keep;
    options_.max_transfer_ms = budget_ms;
    if (!keep && handle_)
        close_kept();
    whole.elapsed_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started)
                                             .count());
    return whole;
}

Outcome CurlTransport::send_transaction(const message::Envelope& envelope,
                                        message::MessageSource& source) {
    auto started = std::chrono::steady_clock::now();
    std::optional<SourceSize> size = measure(source);
    Outcome out;
    for (int attempt = 0;; ++attempt) {
        out = attempt_once(envelope, source,
                           size ? std::optional<uint64_t>(size->exact()) : std::nullopt,
                           size && !size->ends_with_crlf);
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
                                    message::MessageSource& source,
                                    std::optional<uint64_t> exact_size, bool append_crlf) {
    Outcome out;
    out.credentials_configured = has_login(options_);
    Dialogue dialogue(envelope.recipients, options_.on_line);
    TransferState state;
    state.dialogue = &dialogue;
    state.source = &source;
    state.require_auth = has_login(options_);
    state.append_crlf = append_crlf;
    if (options_.on_progress) {
        state.on_progress = &options_.on_progress;
        state.size_estimate = exact_size ? *exact_size : source.size_estimate();
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
    if (!rcpts && !envelope.recipients.empty()) {
        out.error = NetError::local;
        out.error_text = "out of memory building the recipient list";
        return out;
    }
    set_upload(h, &state);
    set_upload_size(h, &state, exact_size);
    set_deadlines(h, options_, &state);
    set_debug(h, &state, errbuf);

    state.socket = kept_socket_; // a reused connection opens no new socket
    CURLcode rc = curl_easy_perform(h);
    kept_socket_ = state.socket;
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
        kept_socket_ = CURL_SOCKET_BAD;
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
