// libcurl callbacks: the debug stream that feeds the Dialogue, and the read
// callback that streams the message. Internal to the transport.
#pragma once

#include "message/body_source.hpp"
#include "transport/dialogue.hpp"

#include <chrono>
#include <curl/curl.h>
#include <functional>
#include <string>

namespace smtpsend::transport::detail {

// Everything a transfer's callbacks share.
struct TransferState {
    Dialogue* dialogue = nullptr;
    message::MessageSource* source = nullptr;
    bool require_auth = false;       // credentials are configured
    bool aborted_no_auth = false;    // we stopped: credentials would go unused
    bool aborted_read_error = false;
    std::string read_error;
    bool body_started = false;
    // The server's TLS handshake asked for a client certificate (a
    // CertificateRequest message came in).
    bool client_cert_requested = false;
    std::string server_key;      // "sha256//BASE64", from libcurl's note when a pin is set
    std::string tls_description; // "TLSv1.3 / TLS_AES_256_GCM_SHA384", from libcurl's notes
    const std::function<void(uint64_t, uint64_t)>* on_progress = nullptr; // null: no progress
    uint64_t size_estimate = 0;
    int64_t declared_size = -1; // the exact size given to libcurl (SIZE=), -1: none
    uint64_t body_read = 0;     // bytes handed to libcurl so far
    // The source does not end in CRLF: the read callback adds it (as libcurl
    // would before the dot), so that the declared size is exact.
    bool append_crlf = false;
    bool crlf_appended = false;

    // smtpsend's own per-stage deadlines, checked from the progress
    // callback (libcurl's limits are only a loose outer bound): `timeout_ms`
    // for connecting, each reply and any stall of the upload, measured from
    // the last byte that moved; `data_timeout_ms` for the reply after the
    // final dot, measured from the last byte sent.
    long timeout_ms = 30000;
    long data_timeout_ms = 600000;
    std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
    curl_off_t last_ulnow = 0;
    CURL* handle = nullptr;
    curl_socket_t socket = CURL_SOCKET_BAD; // the connection's socket, when known
    bool socket_checked = false;            // it is the transfer's (local port matches)
    long last_unsent = -1;                  // its send queue at the last check
    bool via_proxy = false;       // the connection goes through the `proxy`
    // The HTTP proxy's CONNECT exchange is under way: header lines are the
    // proxy's, not SMTP (and a Proxy-Authorization line is never shown).
    bool proxy_headers = false;
    std::string proxy_status;     // "HTTP/1.1 403 Forbidden", the proxy's answer to CONNECT
    bool deadline_passed = false; // we stopped the transfer: a wait ran out
    Stage deadline_stage = Stage::connect;
    long deadline_limit_ms = 0;   // the limit that ran out
};

// A byte moved (a command or body bytes sent, a complete reply received,
// TLS handshake traffic): the current wait starts again.
void note_activity(TransferState& st);
// Notes a line of the HTTP proxy's CONNECT exchange (see proxy_headers).
void note_proxy_header(TransferState& st, bool out, std::string_view text);
// The wait that applies at `stage` (data_timeout after the final dot).
long stage_limit_ms(const TransferState& st, Stage stage);
// Bytes written to the socket that the peer has not acknowledged yet; -1
// when unknown (no socket, not Linux).
long unsent_bytes(curl_socket_t socket);
// Records the socket of a new connection (CURLOPT_SOCKOPTFUNCTION).
int sockopt_callback(void* userp, curl_socket_t socket, curlsocktype purpose);

int debug_callback(CURL* handle, curl_infotype type, char* data, size_t size, void* userp);
size_t read_callback(char* buffer, size_t size, size_t nitems, void* userp);
int xferinfo_callback(void* userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow);

} // namespace smtpsend::transport::detail
