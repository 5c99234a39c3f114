#include "config/secrets.hpp"

#include "config/keys.hpp"
#include "config/server_url.hpp"
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

namespace {

// One secret's sources, in the order they win within one layer: the
// password's and the proxy's password's read the same way.
struct SecretSources {
    const char* what;   // "password", "proxy password": for messages
    const char* prefix; // "password", "proxy_password": the keys' names
    const Value<std::string>* cmd;
    const Value<std::string>* file;
    const Value<std::string>* env;
    const Value<std::string>* plain;
};

SecretSources password_sources(const Settings& s) {
    return {"password", "password", &s.password_cmd, &s.password_file, &s.password_env, &s.password};
}

SecretSources proxy_password_sources(const Settings& s) {
    return {"proxy password", "proxy_password", &s.proxy_password_cmd, &s.proxy_password_file,
            &s.proxy_password_env, &s.proxy_password};
}

// The key of the source in force ("password_cmd"), "" when none is set.
std::string source_key(const SecretSources& src) {
    const Value<std::string>* candidates[] = {src.cmd, src.file, src.env, src.plain};
    const char* suffixes[] = {"_cmd", "_file", "_env", ""};
    int best = -1;
    std::string best_name;
    for (size_t i = 0; i < 4; ++i) {
        if (!candidates[i]->set)
            continue;
        if (rank(candidates[i]->origin) > best) {
            best = rank(candidates[i]->origin);
            best_name = std::string(src.prefix) + suffixes[i];
        }
    }
    return best_name;
}

// Reads the secret from the source `key` (from source_key); `source` gets
// its description. Fails when the source cannot be read or is empty.
util::Result<Secret> read_secret(const Settings& s, const SecretSources& src, const std::string& key,
                                 const util::Environment& env, std::string& source) {
    const KeyInfo* info = find_key(key);
    const Origin& origin = info->origin(s);
    const std::string prefix = src.prefix;
    const std::string what = src.what;
    source = describe_source(key, key == prefix ? std::string() : info->text(s), origin);
    std::string raw;
    if (key == prefix) {
        raw = src.plain->value;
    } else if (key == prefix + "_env") {
        auto v = env.get(src.env->value);
        if (!v)
            return make_error(prefix + "_env names $" + src.env->value + " (" +
                                  origin.describe() + "), which is not set",
                              "export " + src.env->value + " or change " + prefix + "_env");
        raw = first_line(*v);
        wipe_string(*v);
    } else if (key == prefix + "_file") {
        auto data = util::read_small_file(src.file->value, 64 * 1024);
        if (!data)
            return make_error("cannot read the " + what + " file: " + data.error().message + " (" +
                                  origin.describe() + ")",
                              "check the path and its permissions");
        raw = first_line(*data);
        wipe_string(*data);
    } else {
        auto out = util::run_command_output(src.cmd->value, std::chrono::seconds(s.timeout.value),
                                            64 * 1024);
        if (!out)
            return make_error("the " + what + " command failed: " + out.error().message + " (" +
                                  origin.describe() + ")",
                              "run the command by hand and check that it prints the " + what);
        raw = first_line(*out);
        wipe_string(*out);
    }
    if (raw.empty())
        return make_error("the " + what + " from " + source + " is empty",
                          "check that the source prints or holds the " + what +
                              " on its first line");
    protect_secrets_in_memory();
    Secret secret(std::move(raw));
    wipe_string(raw);
    return secret;
}

} // namespace

std::string password_source_key(const Settings& s) { return source_key(password_sources(s)); }

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
    auto password = read_secret(s, password_sources(s), key, env, c.source);
    if (!password)
        return password.error();
    c.password = std::move(*password);
    return c;
}

util::Result<Credentials> load_proxy_credentials(const Settings& s, const util::Environment& env) {
    Credentials c;
    if (s.proxy.value.empty())
        return c;
    auto url = parse_proxy_url(s.proxy.value);
    if (!url) {
        util::Error e = url.error();
        e.message += " (" + s.proxy.origin.describe() + ")";
        e.kind = error_kind(s.proxy.origin);
        return e;
    }
    // proxy_user wins over a user name in the URL.
    c.user = s.proxy_user.set && !s.proxy_user.value.empty() ? s.proxy_user.value : url->user;
    std::string key = source_key(proxy_password_sources(s));
    if (c.user.empty()) {
        if (!key.empty())
            return make_error("a proxy password source is set (" + key + ") but no proxy user",
                              "set --proxy-user NAME, or give the user in the proxy URL "
                              "(socks5h://USER@HOST:PORT)");
        return c;
    }
    if (key.empty()) { // a user alone: SOCKS4's user id, or a proxy that checks no password
        c.source = "proxy user only";
        return c;
    }
    auto password = read_secret(s, proxy_password_sources(s), key, env, c.source);
    if (!password)
        return password.error();
    c.password = std::move(*password);
    return c;
}

} // namespace smtpsend::config
