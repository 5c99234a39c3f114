#include "config/secrets.hpp"

#include "config/keys.hpp"
#include "util/strings.hpp"
#include "util/system.hpp"

#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

namespace smtpsend::config {

using util::make_error;

Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        wipe();
        value_ = std::move(other.value_);
        other.wipe();
    }
    return *this;
}

void wipe_string(std::string& s) {
    s.resize(s.capacity()); // within the capacity: no reallocation, every byte reachable
    if (!s.empty())
        explicit_bzero(s.data(), s.size());
    s.clear();
}

void protect_secrets_in_memory() {
    // Failures are ignored: neither call fails for an unprivileged process on
    // Linux, and a send must not stop because hardening was unavailable.
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit none {};
    (void)setrlimit(RLIMIT_CORE, &none);
}

void Secret::wipe() { wipe_string(value_); }

namespace {

// Keeps the first line, without its line break.
std::string first_line(const std::string& text) {
    auto end = text.find_first_of("\r\n");
    return end == std::string::npos ? text : text.substr(0, end);
}

int rank(const Origin& o) { return static_cast<int>(o.kind); }

// `password_cmd "pass show smtp/work" (profile "work", config.ini:7)`: the
// key, the command, file or variable name (none is a secret), the origin.
// For `password` itself only the key and origin: the value never appears.
std::string describe_source(const std::string& key, const std::string& where, const Origin& o) {
    return key + (where.empty() ? "" : " " + util::quote(util::one_line(where))) + " (" +
           o.describe() + ")";
}

} // namespace

std::string password_source_key(const Settings& s) {
    const Value<std::string>* candidates[] = {&s.password_cmd, &s.password_file, &s.password_env,
                                              &s.password};
    const char* names[] = {"password_cmd", "password_file", "password_env", "password"};
    int best = -1;
    std::string best_name;
    for (size_t i = 0; i < 4; ++i) {
        if (!candidates[i]->set)
            continue;
        if (rank(candidates[i]->origin) > best) {
            best = rank(candidates[i]->origin);
            best_name = names[i];
        }
    }
    return best_name;
}

bool uses_oauth2(const Settings& s) {
    return s.auth.value == "xoauth2" || s.auth.value == "oauthbearer";
}

namespace {

util::Result<Credentials> load_oauth2(const Settings& s, const util::Environment& env) {
    Credentials c;
    c.oauth2 = true;
    if (!s.user.set || s.user.value.empty())
        return make_error("auth = " + s.auth.value + " (" + s.auth.origin.describe() +
                              ") needs the account's address as user",
                          "set --user (SMTPSEND_USER / `user`)", util::ErrorKind::config);
    c.user = s.user.value;
    std::string raw;
    if (s.oauth2_token_cmd.set) {
        // Not the command: tests/integration/test_secrets.py pins that a
        // token command such as `echo TOKEN` never shows.
        c.source = describe_source("oauth2_token_cmd", "", s.oauth2_token_cmd.origin);
        auto out = util::run_command_output(s.oauth2_token_cmd.value,
                                            std::chrono::seconds(s.timeout.value), 64 * 1024);
        if (!out)
            return make_error("the OAuth2 token command failed: " + out.error().message + " (" +
                                  s.oauth2_token_cmd.origin.describe() + ")",
                              "run the command by hand; it must print a fresh access token",
                              util::ErrorKind::config);
        raw = first_line(*out);
        wipe_string(*out);
    } else if (s.oauth2_token_env.set) {
        c.source = describe_source("oauth2_token_env", s.oauth2_token_env.value,
                                   s.oauth2_token_env.origin);
        auto v = env.get(s.oauth2_token_env.value);
        if (!v)
            return make_error("oauth2_token_env names $" + s.oauth2_token_env.value +
                                  ", which is not set",
                              "export " + s.oauth2_token_env.value + " or change oauth2_token_env",
                              util::ErrorKind::config);
        raw = first_line(*v);
        wipe_string(*v);
    } else {
        std::string hint = "set --oauth2-token-cmd CMD or --oauth2-token-env NAME";
        if (s.auth.origin.preset)
            hint += "; the " + s.provider.value + " preset logs in with OAuth2 because the "
                    "provider refuses passwords (docs/providers.md)";
        return make_error("auth = " + s.auth.value + " (" + s.auth.origin.describe() +
                              ") needs a token source",
                          hint, util::ErrorKind::config);
    }
    if (raw.empty())
        return make_error("the OAuth2 token from " + c.source + " is empty",
                          "the command must print the access token on its first line", util::ErrorKind::config);
    protect_secrets_in_memory();
    c.oauth2_token = Secret(std::move(raw));
    wipe_string(raw);
    return c;
}

} // namespace

util::Result<Credentials> load_credentials(const Settings& s, const util::Environment& env) {
    if (uses_oauth2(s))
        return load_oauth2(s, env);
    Credentials c;
    if (!s.user.set || s.user.value.empty()) {
        if (has_password_source(s))
            return make_error("a password source is set (" + password_source_key(s) +
                                  ") but no user name",
                              "set --user or SMTPSEND_USER, or remove the password setting");
        return c;
    }
    c.user = s.user.value;
    std::string key = password_source_key(s);
    if (key.empty())
        return make_error("user \"" + s.user.value + "\" (" + s.user.origin.describe() +
                              ") has no password source",
                          "set SMTPSEND_PASSWORD, --password-file FILE, --password-cmd CMD or "
                          "--password-env NAME (password, password_file, password_cmd or "
                          "password_env in a profile)");
    const KeyInfo* info = find_key(key);
    const Origin& origin = info->origin(s);
    c.source = describe_source(key, key == "password" ? std::string() : info->text(s), origin);
    std::string raw;
    if (key == "password") {
        raw = s.password.value;
    } else if (key == "password_env") {
        auto v = env.get(s.password_env.value);
        if (!v)
            return make_error("password_env names $" + s.password_env.value + " (" +
                                  origin.describe() + "), which is not set",
                              "export " + s.password_env.value + " or change password_env");
        raw = first_line(*v);
        wipe_string(*v);
    } else if (key == "password_file") {
        auto data = util::read_small_file(s.password_file.value, 64 * 1024);
        if (!data)
            return make_error("cannot read the password file: " + data.error().message + " (" +
                                  origin.describe() + ")",
                              "check the path and its permissions");
        raw = first_line(*data);
        wipe_string(*data);
    } else {
        auto out = util::run_command_output(s.password_cmd.value, std::chrono::seconds(s.timeout.value),
                                            64 * 1024);
        if (!out)
            return make_error("the password command failed: " + out.error().message + " (" +
                                  origin.describe() + ")",
                              "run the command by hand and check that it prints the password");
        raw = first_line(*out);
        wipe_string(*out);
    }
    if (raw.empty())
        return make_error("the password from " + c.source + " is empty",
                          "check that the source prints or holds the password on its first line");
    protect_secrets_in_memory();
    c.password = Secret(std::move(raw));
    wipe_string(raw);
    return c;
}

} // namespace smtpsend::config
