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
    Outcome send(const message::Envelope& envelope, message::MessageSource& source) override {
        MessageSend m(envelope, source, options_);
        while (m.next(connection_))
            m.ended(connection_, curl_easy_perform(connection_.handle()));
        return m.result();
    }
    void set_max_transfer_ms(long ms) override { options_.max_transfer_ms = ms; }
    void set_on_progress(std::function<void(uint64_t, uint64_t)> fn) override {
        options_.on_progress = std::move(fn);
    }

  private:
    TransportOptions options_;
    Connection connection_; // QUIT on a kept connection at the end
};

} // namespace

namespace detail {

// --- Connection -----------------------------------------------------------------

Connection::Connection() { ensure_global_init(); }

// Ends a kept connection: QUIT goes out, but its reply is not waited
// for. Outside a transfer no progress callback bounds that wait, and
// libcurl 7.88 disconnects with its connection cache's own handle, whose
// response timeout is 120 s whatever we set: a server that never answers
// QUIT would hold the run. Shutting the socket for reading makes the
// wait end at once; the message was settled before.
void Connection::close() {
    if (!handle_)
        return;
    if (kept_socket_ != CURL_SOCKET_BAD && !shut_on_drop)
        shutdown(kept_socket_, SHUT_RD);
    curl_easy_cleanup(handle_);
    handle_ = nullptr;
    kept_socket_ = CURL_SOCKET_BAD;
}

bool Connection::prepare(const TransportOptions& o, const message::Envelope& envelope,
                         message::MessageSource& source, std::optional<uint64_t> exact_size,
                         bool append_crlf, Outcome& failed) {
    options_ = &o;
    out_ = Outcome{};
    out_.credentials_configured = has_login(o);
    dialogue_.emplace(envelope.recipients, o.on_line);
    state_ = TransferState{};
    state_.dialogue = &*dialogue_;
    state_.source = &source;
    state_.require_auth = has_login(o);
    state_.append_crlf = append_crlf;
    if (o.on_progress) {
        state_.on_progress = &o.on_progress;
        state_.size_estimate = exact_size ? *exact_size : source.size_estimate();
    }
    if (!handle_)
        handle_ = curl_easy_init();
    else
        curl_easy_reset(handle_); // keeps the open connection
    CURL* h = handle_;
    if (!h) {
        failed = std::move(out_);
        failed.error = NetError::local;
        failed.error_text = "libcurl could not create a handle";
        return false;
    }
    errbuf_[0] = 0;
    set_connection(h, o);
    std::string e = set_route(h, o);
    if (e.empty())
        e = set_tls(h, o, true);
    if (!e.empty()) {
        failed = std::move(out_);
        failed.error = NetError::option_refused;
        failed.stage = Stage::config;
        failed.error_text = e;
        return false;
    }
    set_auth(h, o);
    rcpts_ = set_envelope(h, envelope);
    if (!rcpts_ && !envelope.recipients.empty()) {
        failed = std::move(out_);
        failed.error = NetError::local;
        failed.error_text = "out of memory building the recipient list";
        return false;
    }
    set_upload(h, &state_);
    set_upload_size(h, &state_, exact_size);
    set_deadlines(h, o, &state_);
    set_debug(h, &state_, errbuf_);
    if (fresh_next_)
        set_fresh_connect(h);
    fresh_next_ = false;
    state_.socket = kept_socket_; // a reused connection opens no new socket
    return true;
}

Outcome Connection::finish(CURLcode rc) {
    CURL* h = handle_;
    kept_socket_ = state_.socket;
    long connects = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    last_reused_ = connects == 0 && rc != CURLE_COULDNT_CONNECT;
    Outcome out = std::move(out_);
    dialogue_->fill(out);
    conclude(out, rc, h, state_, *dialogue_, errbuf_,
             options_->endpoint.mode == config::TlsMode::implicit);
    // Never reuse a connection after a failure: stale replies would be read
    // as the next message's (libcurl notes, section 4.3).
    if (!options_->reuse_connection ||
        (out.status != Outcome::Status::sent && out.status != Outcome::Status::partial)) {
        if (shut_on_drop) {
            // Right after the transfer, before any other handle can take the
            // connection: the socket libcurl still has for it (none when it
            // closed it; a recorded descriptor may be another's by now).
            curl_socket_t s = CURL_SOCKET_BAD;
            if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &s) == CURLE_OK && s != CURL_SOCKET_BAD)
                shutdown(s, SHUT_RDWR);
            curl_easy_cleanup(h);
            handle_ = nullptr;
            kept_socket_ = CURL_SOCKET_BAD;
        } else {
            curl_easy_cleanup(h);
            handle_ = nullptr;
            kept_socket_ = CURL_SOCKET_BAD;
        }
    }
    out.transcript = dialogue_->transcript(); // with QUIT lines from the cleanup, if any
    return out;
}

// --- MessageSend ------------------------------------------------------------------

namespace {

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


} // namespace

MessageSend::MessageSend(const message::Envelope& envelope, message::MessageSource& source,
                         TransportOptions options)
    : envelope_(envelope), source_(source), options_(std::move(options)) {
    started_ = slice_started_ = std::chrono::steady_clock::now();
    keep_ = options_.reuse_connection;
    budget_ms_ = options_.max_transfer_ms;
    if (envelope_.recipients.size() > max_recipients_per_transaction) {
        // One connection for all the transactions, dropped at the end unless
        // the caller keeps connections.
        options_.reuse_connection = true;
        rewind_ = true;
    }
    std::optional<SourceSize> size = measure(source_);
    if (size) {
        exact_size_ = size->exact();
        append_crlf_ = !size->ends_with_crlf;
    }
}

bool MessageSend::next(Connection& c) {
    while (!done_) {
        const auto& all = envelope_.recipients;
        bool sliced = all.size() > max_recipients_per_transaction;
        if (attempt_ == 0)
            slice_started_ = std::chrono::steady_clock::now();
        if (sliced) {
            // --max-time bounds the whole message, not each transaction.
            if (budget_ms_ > 0) {
                long spent = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::steady_clock::now() - started_)
                                                   .count());
                options_.max_transfer_ms = std::max(1L, budget_ms_ - spent);
            }
            part_ = envelope_;
            part_.recipients.assign(all.begin() + static_cast<std::ptrdiff_t>(at_),
                                    all.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                      all.size(), at_ + max_recipients_per_transaction)));
        } else if (attempt_ == 0) {
            part_ = envelope_;
        }
        if (rewind_)
            source_.rewind();
        rewind_ = false;
        Outcome failed;
        if (c.prepare(options_, part_, source_, exact_size_, append_crlf_, failed))
            return true;
        settle(c, std::move(failed));
    }
    return false;
}

void MessageSend::ended(Connection& c, CURLcode rc) {
    Outcome out = c.finish(rc);
    // A reused connection the server had closed before it said anything in
    // this transfer (libcurl notes, row 16): a stale connection, nothing was
    // accepted on it, so one retry on a new one is safe and needs no word.
    // Any reply the server sent (a 421 at MAIL too, row 17: a rate limit or
    // a per-connection limit) is the server's answer, not staleness: it goes
    // to the delivery, which decides (retry, slow-down, new connection).
    bool server_spoke = std::any_of(out.transcript.begin(), out.transcript.end(),
                                    [](const TranscriptLine& l) { return l.who == 'S'; });
    bool closed_unheard = !server_spoke && !out.reply &&
                          (out.curl_code == CURLE_RECV_ERROR || out.curl_code == CURLE_SEND_ERROR ||
                           out.curl_code == CURLE_GOT_NOTHING);
    if (attempt_ == 0 && c.last_reused() && out.status == Outcome::Status::failed && closed_unheard) {
        attempt_ = 1;
        rewind_ = true;
        return;
    }
    settle(c, std::move(out));
}

void MessageSend::settle(Connection& c, Outcome o) {
    auto since = [](std::chrono::steady_clock::time_point t) {
        return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - t)
                                     .count());
    };
    o.elapsed_ms = since(slice_started_);
    attempt_ = 0;
    const auto& all = envelope_.recipients;
    if (all.size() <= max_recipients_per_transaction) {
        whole_ = std::move(o);
        done_ = true;
        return;
    }
    // After a failure other than this slice's recipients all being
    // refused, the rest is not tried.
    bool stop = (o.status == Outcome::Status::failed && o.stage != Stage::rcpt) ||
                o.status == Outcome::Status::unconfirmed;
    if (stop && at_ > 0)
        settle_slice(o);
    merge(whole_, std::move(o), at_ == 0);
    at_ += max_recipients_per_transaction;
    if (stop) {
        // Not tried: the rest of the list, after a failed transaction.
        for (size_t j = at_; j < all.size(); ++j)
            whole_.recipients.push_back(RecipientResult{all[j], false, std::nullopt, false});
    }
    rewind_ = true;
    if (stop || at_ >= all.size()) {
        done_ = true;
        if (!keep_)
            c.close();
        whole_.elapsed_ms = since(started_);
    }
}

} // namespace detail

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
