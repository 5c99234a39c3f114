// The one Settings struct. Every value carries the place it came from, so
// `config show` and the diagnosis can name the setting to change.
#pragma once

#include "util/result.hpp"
#include "util/system.hpp"

#include <optional>
#include <string>

namespace smtpsend::config {

// Where an effective value came from. Layers are ranked in this order;
// a later layer overrides an earlier one.
struct Origin {
    enum class Kind { builtin, file, env, flag };
    Kind kind = Kind::builtin;
    std::string where; // "flag --server", "env SMTPSEND_SERVER", "/etc/x.ini:4"
    bool preset = false; // filled by a provider preset (see providers.hpp)

    static Origin builtin() { return {}; }
    static Origin env(std::string name) { return make(Kind::env, "env " + std::move(name)); }
    static Origin flag(std::string name) { return make(Kind::flag, "flag " + std::move(name)); }
    static Origin file(std::string path_and_line) { return make(Kind::file, std::move(path_and_line)); }
    // "default" for built-ins, otherwise `where`.
    std::string describe() const { return kind == Kind::builtin ? "default" : where; }

  private:
    static Origin make(Kind k, std::string w) {
        Origin o;
        o.kind = k;
        o.where = std::move(w);
        return o;
    }
};

// A value and its origin. `set` is false while the built-in default is in force.
template <class T> struct Value {
    T value{};
    Origin origin{};
    bool set = false;
    std::string written{}; // the text as written, when it differs from value's (durations: "5d")

    void assign(T v, Origin o) {
        value = std::move(v);
        origin = std::move(o);
        set = true;
        written.clear();
    }
};

enum class TlsMode { starttls, implicit, none };

// Every setting that a profile key, a flag and an environment variable can
// hold (see keys.cpp for the table that names them).
struct Settings {
    Value<std::string> provider;      // a preset: fills server, port, tls, auth (providers.hpp)
    Value<std::string> region;        // the provider's region: ses, mailgun, zoho
    Value<std::string> server;        // smtp://host[:port] or smtps://host[:port]
    Value<long> port;                 // overrides the URL's port
    Value<std::string> tls;           // "", "starttls", "implicit", "none" ("" = from the URL)
    Value<std::string> user;
    Value<std::string> password;      // secret; only from the environment or a profile
    Value<std::string> password_file;
    Value<std::string> password_cmd;
    Value<std::string> password_env;  // the name of a variable that holds the password
    Value<std::string> auth{"auto"};  // auto, plain, login, cram-md5, xoauth2, oauthbearer
    Value<std::string> oauth2_token_cmd; // prints a fresh OAuth2 access token
    Value<std::string> oauth2_token_env; // the name of a variable that holds the token
    Value<std::string> from;
    Value<std::string> from_header{"keep"}; // keep, or envelope: a message's From becomes the envelope sender
    Value<std::string> cafile;
    Value<std::string> tls_min{"1.2"}; // the oldest TLS version used: 1.2 or 1.3
    Value<std::string> pinned_pubkey; // "sha256//BASE64[;sha256//...]": the server keys trusted
    Value<std::string> client_cert;   // PEM certificate for TLS client authentication
    Value<std::string> client_key;    // its PEM private key ("" = in client_cert's file)
    Value<std::string> proxy;         // socks5h://, socks5://, socks4a://, socks4:// or http:// ("" = none)
    Value<std::string> proxy_user;    // the proxy's login name (wins over USER@ in the URL)
    Value<std::string> proxy_password; // secret; only from the environment or a profile
    Value<std::string> proxy_password_file;
    Value<std::string> proxy_password_cmd;
    Value<std::string> proxy_password_env;
    Value<std::string> source_address; // local address or interface to send from ("" = any)
    Value<std::string> ip_version{"any"}; // any, 4 or 6
    Value<std::string> helo;
    Value<long> timeout{30};          // seconds: connect and every wait for a reply (a duration)
    Value<long> data_timeout{600};    // seconds: the reply after the message (RFC 5321; a duration)
    Value<long> max_time;             // seconds for the whole run (0 = no bound; a duration)
    Value<std::string> aliases;       // /etc/aliases-format file for local recipients
    Value<std::string> domain;        // qualifies local recipients without an alias
    Value<bool> queue;                // keep temporarily failed mail and send it later
    Value<std::string> queue_dir;     // the spool folder ("" = the default for this user)
    Value<long> retries{2};           // extra attempts within one run, for temporary failures
    Value<long> retry_wait{5};        // seconds before the first retry; doubles, with jitter (a duration)
    Value<long> max_age{5 * 86400};   // seconds a queued message is kept before it fails
    Value<std::string> log{"none"};   // FILE, "syslog" or "none": one line per attempt
    Value<long> connections{4};       // batch: connections at once, each with its own login
    Value<std::string> rate;          // batch: "N/s" or "N/min" across all connections ("": none)
    Value<long> max_per_connection;   // batch: reconnect after N messages (0: never)
};

// A `rate` value, "N/s" or "N/min" (N a whole number, 1 to 100000), in
// messages per second.
util::Result<double> parse_rate(const std::string& text);

// Fills `settings` from SMTPSEND_* variables, in the order of the key table.
// Fails on the first invalid value, naming the variable.
util::Status apply_environment(Settings& settings, const util::Environment& env);

// "5d", "12h", "30m", "90s" or plain seconds; nothing when invalid.
std::optional<long> parse_duration(const std::string& text);
// Seconds in the largest unit that divides them: "5d", "10m", "30s".
std::string format_duration(long seconds);

// The error kind for a bad value from this origin: "usage" (exit 64) for a
// flag, "config" (exit 78) for a file, the environment or a default.
util::ErrorKind error_kind(const Origin& origin);

// True when a password source of any kind is configured.
bool has_password_source(const Settings& settings);

} // namespace smtpsend::config
