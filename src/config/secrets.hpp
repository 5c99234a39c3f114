// The login: a user name and a password read from the configured source.
#pragma once

#include "config/settings.hpp"
#include "util/system.hpp"

#include <string>

namespace smtpsend::config {

// Overwrites every byte `s` owns (its whole capacity, also the short-string
// buffer a move leaves behind) with zeros, then empties it.
void wipe_string(std::string& s);

// Once a secret is in memory: no core dump (RLIMIT_CORE 0) and no ptrace or
// /proc/PID/mem access by other processes of the user (PR_SET_DUMPABLE 0).
void protect_secrets_in_memory();

// A string that is wiped from memory when destroyed.
class Secret {
  public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) { wipe_string(value); }
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    Secret& operator=(Secret&& other) noexcept;
    ~Secret() { wipe(); }

    const std::string& reveal() const { return value_; }
    bool empty() const { return value_.empty(); }
    void wipe();

  private:
    std::string value_;
};

struct Credentials {
    std::string user;
    Secret password;      // for PLAIN, LOGIN, CRAM-MD5
    Secret oauth2_token;  // for XOAUTH2 and OAUTHBEARER
    bool oauth2 = false;
    // Where the secret came from, never the secret: `password_cmd "pass show
    // smtp/work" (profile "work", config.ini:7)`, `password (env
    // SMTPSEND_PASSWORD)`, `password_file "/run/pw" (flag --password-file)`,
    // `oauth2_token_cmd (env SMTPSEND_OAUTH2_TOKEN_CMD)` (a token command is
    // not shown: `echo TOKEN` would show the token).
    std::string source;
};

// True for auth = xoauth2 or oauthbearer.
bool uses_oauth2(const Settings& settings);

// Which password source is in force: the one from the latest layer; within
// one layer password_cmd, then password_file, then password_env, then password.
// Returns the key name, or "" when none is set.
std::string password_source_key(const Settings& settings);

// Reads the password (or, for OAuth2, runs the token command) when a user is
// configured. Returns empty credentials
// (user "") when no user is set. Fails when a user is set without a
// password source, or when the source cannot be read (a failing command is an
// error, never an empty password).
util::Result<Credentials> load_credentials(const Settings& settings, const util::Environment& env);

// The proxy's login: the user from proxy_user or the proxy URL, the password
// from proxy_password, proxy_password_file, proxy_password_cmd or
// proxy_password_env (read like the password). Empty (user "") when no
// proxy or no proxy user is set. Fails when the proxy URL is invalid, a
// proxy password source is set without a user, or the source cannot be read.
util::Result<Credentials> load_proxy_credentials(const Settings& settings,
                                                 const util::Environment& env);

} // namespace smtpsend::config
