// Diagnosis: from what happened (stage, reply, transport error) and the
// settings in force, to a class, an exit code, a one-line summary and hints
// that name the setting to change.
#pragma once

#include "config/settings.hpp"
#include "diagnosis/exit_codes.hpp"
#include "transport/outcome.hpp"

#include <optional>
#include <string>
#include <vector>

namespace smtpsend::diagnosis {

// The settings and observations that shape the hints.
struct Context {
    std::string host;               // "" when unknown (explain without --server)
    int port = 0;
    std::optional<config::TlsMode> tls_mode;
    std::string server_origin;      // where `server` came from, e.g. "flag --server"
    std::string user;               // "" when no login is configured
    bool credentials_configured = false;
    std::string auth_method;        // the `auth` setting: auto, plain, ..., xoauth2, oauthbearer
    std::string profile;            // the profile in force, "" for none
    std::string provider;           // the `provider` preset, "" for none (then: from the host)
    bool auth_sent = false;
    bool tls_active = false;
    transport::Capabilities capabilities;
    long timeout_seconds = 0;
    long data_timeout_seconds = 0;  // the wait for the reply after the message (0: unknown)
    uint64_t message_size = 0;      // 0 when unknown
    std::string from;
    std::string utf8_address;       // an envelope address with a non-ASCII local part, if any
    std::string tool;               // explain: "dotnet", "powershell", "msmtp", "curl", "python"
    std::vector<transport::CertificateInfo> certificate; // read after a verification failure
    // Where the password comes from, for the wrong-password hint, e.g.
    // `password_cmd "pass show smtp/work" (profile "work", config.ini:7)`; "" when unknown.
    std::string password_source;
    // The `proxy` the mail goes through ("socks5h://host:1080", no login)
    // and where it was set; "" when none.
    std::string proxy;
    std::string proxy_origin;
    // `pinned_pubkey` and where it was set ("" when none), and the key the
    // server showed ("sha256//...", "" when not seen; from the Outcome).
    std::string pinned_pubkey;
    std::string pinned_pubkey_origin;
    std::string server_key;
    // `source_address` with its origin ("" when none) and `ip_version` (0 any).
    std::string source_address;
    int ip_version = 0;
    // `tls_min` ("1.2" or "1.3") and where it was set.
    std::string tls_min = "1.2";
    std::string tls_min_origin;
    // `client_cert` and its origin, "" when none is configured.
    std::string client_cert;
    // What the server said about itself, to recognise the provider:
    // its greeting and the first line of its EHLO reply ("" when not seen).
    // diagnose_outcome fills both from the Outcome when they are empty.
    std::string greeting;
    std::string ehlo_name;
};

struct Diagnosis {
    Class cls = Class::ok;
    bool temporary = false;
    ExitCode exit_code = ExitCode::ok;
    transport::Stage stage = transport::Stage::connect;
    std::string summary;            // one line, without the server's reply
    std::vector<std::string> hints; // one to three
    std::optional<transport::Reply> reply;
};

// The class of a server reply at a stage, from its structure (code, enhanced
// code, stage) first and well-known phrases second. `temporary` is set for
// failures a later retry can fix.
struct ReplyClass {
    Class cls;
    bool temporary;
};
ReplyClass classify_reply(transport::Stage stage, const transport::Reply& reply);

// Diagnoses a failed reply or transport error.
Diagnosis diagnose(transport::Stage stage, const std::optional<transport::Reply>& reply,
                   transport::NetError error, const Context& context);

// Diagnoses a whole send: the failure, or the worst rejected recipient of a
// partial delivery. Returns Class::ok for a complete delivery.
Diagnosis diagnose_outcome(const transport::Outcome& outcome, const Context& context);

// Whether a failure is the server asking this client to send more slowly
// (a temporary sending-rate or connection limit, Class::rate, but not a
// per_connection_limit): batch then slows down as a whole instead of
// failing the rest.
bool asks_to_slow_down(const Diagnosis& d);

// Whether a failure is a 421 saying this connection carried as many messages
// as the server takes on one ("Max message per connection reached"): not a
// rate complaint; a new connection goes on. Never asks_to_slow_down.
bool per_connection_limit(const Diagnosis& d);

// A diagnosis for a local failure (bad flags, unreadable file, settings).
Diagnosis local_failure(Class cls, transport::Stage stage, std::string summary,
                        std::string hint);

// "CN=mx.example.com; names mx.example.com, mail.example.com; issued by CN=CA;
// valid until Nov 26 01:59:31 2026 GMT" for a hint or `check`.
std::string describe_certificate(const transport::CertificateInfo& cert);

// The provider this run talks to: the `provider` preset, else the one
// recognised from the host name, the greeting, the EHLO name or the reply
// text (config/provider_knowledge.hpp). "" when unknown.
std::string recognise_provider(const Context& context, const transport::Reply* reply);

} // namespace smtpsend::diagnosis
