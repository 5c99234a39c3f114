// Internal to the transport: the setopt groups, the result conclusion and
// the callbacks' shared state. Only transport/*.cpp include this.
#pragma once

#include "transport/curl_callbacks.hpp"
#include "transport/transport.hpp"

#include <curl/curl.h>
#include <memory>
#include <chrono>
#include <optional>
#include <string>

namespace smtpsend::transport::detail {

void ensure_global_init();
bool has_login(const TransportOptions& o);

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// The setopt groups (curl_setopts.cpp).
// The proxy (only the `proxy` setting; never the environment's variables).
void set_proxy(CURL* h, const TransportOptions& o);
void set_connection(CURL* h, const TransportOptions& o);
// "" when libcurl took the option; else the setting, the option and why.
std::string refused(CURLcode rc, const char* option);
// "" when every option took, else refused()'s text for the first that did not.
// source_address and ip_version: "" when libcurl took them, else refused()'s text.
[[nodiscard]] std::string set_route(CURL* h, const TransportOptions& o);
[[nodiscard]] std::string set_tls(CURL* h, const TransportOptions& o, bool verify);
void set_auth(CURL* h, const TransportOptions& o);
// Empty (null) when the list could not be built (out of memory).
Slist set_envelope(CURL* h, const message::Envelope& envelope);
void set_upload(CURL* h, TransferState* state);
// Declares the message's exact size (libcurl then sends SIZE= on MAIL FROM
// when the server offers SIZE), except on libcurl versions where a known
// size can lose the end-of-data terminator.
void set_upload_size(CURL* h, TransferState* state, std::optional<uint64_t> exact_size);
// smtpsend's per-stage deadlines (and the progress bar) through the
// progress callback; fills the state's limits from the options.
void set_deadlines(CURL* h, const TransportOptions& o, TransferState* state);
void set_debug(CURL* h, TransferState* state, char* errbuf);
void set_probe(CURL* h);
void set_fresh_connect(CURL* h);

// Decides status, stage and error from libcurl's result and the dialogue
// (curl_result.cpp).
NetError cert_error(long verify_result, const std::string& errbuf);
void conclude(Outcome& out, CURLcode rc, CURL* h, const TransferState& st, const Dialogue& dlg,
              const std::string& errbuf, bool implicit_tls);

// One easy handle, and the connection libcurl keeps for it between
// transfers: the setup of each transfer (every setopt group) and its
// conclusion. CurlTransport performs it with curl_easy_perform, the Pool
// with one multi handle for several of them (curl_pool.cpp).
class Connection {
  public:
    Connection();
    ~Connection() { close(); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    // Sets up one transaction on the handle (made or reset here; a reset
    // keeps the open connection). False with `failed` filled when it cannot
    // be set up (a local error: nothing to perform).
    bool prepare(const TransportOptions& o, const message::Envelope& envelope,
                 message::MessageSource& source, std::optional<uint64_t> exact_size,
                 bool append_crlf, Outcome& failed);
    CURL* handle() const { return handle_; }
    // The Outcome of the transfer `prepare` set up, which ended with `rc`.
    // After a failure the connection is dropped, never reused: stale
    // replies would be read as the next message's (libcurl notes, 4.3).
    Outcome finish(CURLcode rc);
    // The last transfer ran on a connection opened before it.
    bool last_reused() const { return last_reused_; }
    // Ends a kept connection (QUIT goes out, its reply is not waited for).
    void close();
    // In a multi handle the connection stays in the multi's cache after
    // the easy handle is cleaned up: a dropped one is shut here, so that
    // libcurl finds it dead and no other handle reuses it.
    bool shut_on_drop = false;
    // The pool's reconnect: the next transfer opens a new connection. (In a
    // multi handle the old one may be another handle's by now: never shut.)
    void reconnect() { fresh_next_ = true; }

  private:
    const TransportOptions* options_ = nullptr; // of the transfer in progress
    CURL* handle_ = nullptr;
    bool last_reused_ = false;
    bool fresh_next_ = false;
    curl_socket_t kept_socket_ = CURL_SOCKET_BAD;
    std::optional<Dialogue> dialogue_;
    TransferState state_;
    Slist rcpts_;
    char errbuf_[CURL_ERROR_SIZE] = {};
    Outcome out_;
};

// One message on a Connection: its transactions (at most 1000 recipients
// each) and the one retry on a fresh connection when a reused one turns
// out closed. Drives a Connection, whoever performs the transfers.
class MessageSend {
  public:
    MessageSend(const message::Envelope& envelope, message::MessageSource& source,
                TransportOptions options);
    // Sets up the next transfer on `c`: true when there is one to perform,
    // false when the message is settled (result()).
    bool next(Connection& c);
    // The transfer `next` set up ended with `rc`.
    void ended(Connection& c, CURLcode rc);
    Outcome result() { return std::move(whole_); }

  private:
    void settle(Connection& c, Outcome o);
    message::Envelope envelope_;
    message::Envelope part_;
    message::MessageSource& source_;
    TransportOptions options_;
    bool keep_ = false;   // the caller keeps connections
    long budget_ms_ = 0;  // --max-time for the whole message
    std::chrono::steady_clock::time_point started_, slice_started_;
    std::optional<uint64_t> exact_size_;
    bool append_crlf_ = false;
    size_t at_ = 0;       // first recipient of the current slice
    int attempt_ = 0;     // in the current slice
    bool done_ = false;
    bool rewind_ = false; // before the next transfer
    Outcome whole_;
};

} // namespace smtpsend::transport::detail
