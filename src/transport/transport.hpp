// The seam between "what to send" and "how it goes on the wire". Abstract so
// the app can be tested with a recording fake and later batch/queue code can
// reuse one connection.
#pragma once

#include "config/secrets.hpp"
#include "config/server_url.hpp"
#include "message/body_source.hpp"
#include "message/compose.hpp"
#include "transport/outcome.hpp"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace smtpsend::transport {

struct TransportOptions {
    config::Endpoint endpoint;
    const config::Credentials* credentials = nullptr; // nullptr or empty user: no login
    std::string auth = "auto";                        // auto, plain, login, cram-md5
    std::string cafile;
    // pinned_pubkey ("" = none). Without a cafile the pin replaces the CA
    // check (a self-signed key can be pinned); with one, both must pass.
    std::string pinned_pubkey;
    bool tls13_only = false;                          // tls_min = 1.3: never TLS 1.2
    std::string client_cert;                          // PEM; "" = no client certificate
    std::string client_key;                           // PEM; "" = in client_cert's file
    std::string helo;                                 // EHLO name
    std::string source_address;                       // CURLOPT_INTERFACE ("" = any)
    int ip_version = 0;                               // 0 any, 4 or 6
    // The `proxy` setting's URL without its login ("": none; the
    // environment's proxies are never used).
    std::string proxy;
    bool proxy_tunnel = false;                         // http:// proxy: CONNECT
    const config::Credentials* proxy_credentials = nullptr; // nullptr or empty user: no login
    // Connecting, each reply and any stall of the upload (no byte moving).
    long timeout_seconds = 30;
    // The reply after the final dot, counted from the last byte sent
    // (RFC 5321 4.5.3.2: 10 minutes).
    long data_timeout_seconds = 600;
    // Bound on one whole transfer, in milliseconds (0: none); the run's
    // --max-time, less what earlier attempts took.
    long max_transfer_ms = 0;
    // Keep the connection open between sends (queue flush, batch): one login
    // for many messages. After any failure the next send starts afresh.
    bool reuse_connection = false;
    // Receives each transcript line as it happens (for -v); may be empty.
    std::function<void(const TranscriptLine&)> on_line;
    // Receives the bytes of the message sent so far and the source's size
    // estimate (0: unknown), a few times a second during DATA; may be empty.
    std::function<void(uint64_t sent, uint64_t total)> on_progress;
};

class Transport {
  public:
    virtual ~Transport() = default;
    // Sends one message. Never throws for network or server failures: they
    // are described in the Outcome.
    virtual Outcome send(const message::Envelope& envelope, message::MessageSource& source) = 0;
    // Bounds the next transfers to `ms` milliseconds in all (0: no bound).
    virtual void set_max_transfer_ms(long ms) = 0;
    // Reports upload progress of the next transfers (see TransportOptions).
    virtual void set_on_progress(std::function<void(uint64_t sent, uint64_t total)> fn) = 0;
};

// The libcurl SMTP transport.
std::unique_ptr<Transport> make_curl_transport(TransportOptions options);

// Several connections at once (batch --connections): slot i is one
// connection with its own login, kept between its messages as Transport
// keeps one. The caller hands a message to a free slot and waits for ends.
class Pool {
  public:
    virtual ~Pool() = default;
    virtual size_t slots() const = 0;
    // Starts one message on free slot `slot`, bounded to `max_transfer_ms`
    // (0: none). `source` must live until the message ends.
    virtual void start(size_t slot, const message::Envelope& envelope,
                       message::MessageSource& source, long max_transfer_ms) = 0;
    // Runs the transfers until at least one message ends, or `wait_ms`
    // passes (-1: until one ends). The slots that ended, with their
    // Outcomes (each as Transport::send would give it).
    virtual std::vector<std::pair<size_t, Outcome>> run(long wait_ms) = 0;
    // A slot's connection is closed and its next message opens a new one
    // (--max-per-connection).
    virtual void reconnect(size_t slot) = 0;
};

// The libcurl pool: one easy handle per slot, one multi handle and one
// curl_multi_perform/poll loop for all.
std::unique_ptr<Pool> make_curl_pool(TransportOptions options, size_t slots);

// "libcurl 7.88.1", "TLS: OpenSSL/3.0.x" (and IDN), one per line, for --version.
std::string curl_version_text();

} // namespace smtpsend::transport
