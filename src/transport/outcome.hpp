// What one attempt to send produced, as plain data. The diagnosis reads this;
// nothing here depends on libcurl.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace smtpsend::transport {

// Where in the path a run stopped. Names match the --json "stage" field.
enum class Stage {
    config, input, resolve, connect, tls, greeting, ehlo, starttls, auth,
    mail, rcpt, data, end_of_data, quit
};

// "end-of-data" for Stage::end_of_data, and so on.
std::string stage_name(Stage stage);
// The stage with this name, or nothing.
std::optional<Stage> parse_stage(const std::string& name);

// One complete server reply, all of its lines.
struct Reply {
    int code = 0;
    std::string enhanced;           // "5.7.8" or ""
    std::vector<std::string> lines; // without line breaks

    // The lines joined with "\n", as the server sent them.
    std::string text() const;
    bool positive() const { return code >= 200 && code < 400; }
};

// Builds a Reply from raw lines ("535-5.7.8 ...", "535 5.7.8 ..."). Reads
// the code from the first line and the RFC 3463 enhanced code where the
// text starts with one.
Reply make_reply(std::vector<std::string> lines);

// Failures that are not a server reply.
enum class NetError {
    none,
    resolve,              // the host name does not resolve
    refused,              // connection refused
    connect_failed,       // other connect failure (unreachable, ...)
    timeout,              // a wait ran out (connect or reply)
    closed,               // the server closed the connection
    closed_after_cert_request, // closed right after a TLS handshake that asked for a
                          // client certificate, before the first reply over TLS (TLS 1.3
                          // servers check it after the handshake; many send no alert)
    tls_handshake,        // TLS negotiation failed
    tls_handshake_refused, // the server's generic alert "handshake failure": no version or
                          // cipher in common, or (TLS 1.2) a client certificate it requires
    tls_wrong_version,    // TLS spoken to a plain-text port
    tls_version,          // no TLS version both sides accept (tls_min)
    pin_mismatch,         // the server's key is not one of pinned_pubkey
    source_address,       // source_address cannot be used (no such address or interface)
    cert_untrusted,
    cert_name,
    cert_expired,
    cert_other,
    starttls_not_offered, // smtp:// but the server has no STARTTLS
    no_auth_mechanism,    // AUTH offered, but no mechanism we may use
    auth_not_offered,     // credentials set, the server offered no AUTH: we stopped
    auth_refused,         // the login failed without a 4xx/5xx reply (XOAUTH2's 334 error)
    protocol,             // the server's bytes are not SMTP
    client_cert_bad,      // our client certificate or key cannot be loaded
    client_cert_refused,  // the server's TLS alert: no client certificate, or one it does not trust
    proxy_resolve,        // the proxy's host name does not resolve
    proxy_refused,        // the connection to the proxy failed
    proxy_auth,           // the proxy refused its login (SOCKS5 user rejected, HTTP 407)
    proxy_tunnel,         // the proxy would not or could not reach the server
    proxy_failed,         // the proxy's answer made no sense, or another proxy failure
    option_refused,       // libcurl refused an option a setting needs (error_text names it)
    local,                // reading the message failed here
    other,
};

std::string net_error_name(NetError error);

struct Capabilities {
    bool seen = false;          // an EHLO reply was received
    bool after_tls = false;     // ... over TLS
    bool starttls = false;
    std::vector<std::string> auth; // mechanisms, upper case
    std::optional<uint64_t> size;  // SIZE limit when advertised with a value
    bool eightbitmime = false;
    bool smtputf8 = false;
    bool pipelining = false;
    bool dsn = false;
};

struct RecipientResult {
    std::string address;
    bool accepted = false;
    std::optional<Reply> reply;
    // The reply-to-recipient mapping is not known for sure (the server wrote
    // lines that are not replies among the RCPT replies): the verdict may be
    // another recipient's. Never a permanent rejection, never sent again.
    bool uncertain = false;
};

// One line of the dialogue for -v and failure reports; secrets already masked.
struct TranscriptLine {
    char who = '*'; // 'C' client, 'S' server, '*' note
    std::string text;
    long at_ms = 0; // since the dialogue started
    size_t connection = 0; // a pool of several: its connection, from 1; else 0
};

// A certificate as the server presented it (for hints and `check`).
struct CertificateInfo {
    std::string subject;
    std::string issuer;
    std::string start_date;  // "Oct 29 01:59:31 2026 GMT"
    std::string expire_date;
    std::vector<std::string> names; // subjectAltName entries: "localhost", "127.0.0.1"
    std::string key;                // its public key as curl pins it: "sha256//BASE64" ("" unknown)
};

struct Outcome {
    enum class Status { sent, partial, failed, unconfirmed };
    Status status = Status::failed;
    Stage stage = Stage::connect;    // where it stopped (end_of_data when sent)
    std::optional<Reply> reply;      // the reply that failed it, if any
    NetError error = NetError::none;
    std::string error_text;          // libcurl's message, for the record
    int curl_code = 0;
    long tls_verify_result = 0;
    std::string server_key;          // "sha256//BASE64" of the server's public key, when libcurl told it
    std::optional<Reply> greeting;
    Capabilities capabilities;       // from the last EHLO
    std::optional<Capabilities> capabilities_before_tls; // the EHLO before STARTTLS
    bool tls_active = false;
    bool credentials_configured = false;
    bool auth_sent = false;
    std::string auth_mechanism;
    std::vector<RecipientResult> recipients;
    std::optional<Reply> final_reply; // the reply after the message
    std::vector<TranscriptLine> transcript;
    uint64_t body_bytes = 0;
    long elapsed_ms = 0;
};

std::string status_name(Outcome::Status status);

} // namespace smtpsend::transport
