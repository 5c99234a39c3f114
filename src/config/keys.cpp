#include "config/keys.hpp"

#include "config/providers.hpp"
#include "config/server_url.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace smtpsend::config {

namespace {

using util::make_error;
using util::Status;

template <auto Member> KeyInfo text_key(std::string_view name, std::string_view value_name,
                                        std::string_view help, bool secret = false,
                                        bool has_flag = true) {
    KeyInfo k{name, value_name, help, secret, has_flag, false, {}, {}, {}, {}};
    k.assign = [](Settings& s, const std::string& v, const Origin& o) -> Status {
        (s.*Member).assign(v, o);
        return util::Ok{};
    };
    k.text = [](const Settings& s) { return (s.*Member).value; };
    k.origin = [](const Settings& s) -> const Origin& { return (s.*Member).origin; };
    k.is_set = [](const Settings& s) { return (s.*Member).set; };
    return k;
}

template <auto Member> KeyInfo choice_key(std::string_view name, std::string_view value_name,
                                          std::string_view help,
                                          std::vector<std::string> accepted) {
    KeyInfo k = text_key<Member>(name, value_name, help);
    k.assign = [accepted, name](Settings& s, const std::string& v, const Origin& o) -> Status {
        std::string lower = util::to_lower(util::trim(v));
        if (std::find(accepted.begin(), accepted.end(), lower) == accepted.end())
            return make_error(std::string(name) + " = \"" + v + "\" is not one of " +
                              util::join(accepted, ", "));
        (s.*Member).assign(lower, o);
        return util::Ok{};
    };
    return k;
}

template <auto Member> KeyInfo number_key(std::string_view name, std::string_view value_name,
                                          std::string_view help, long min, long max) {
    KeyInfo k{name, value_name, help, false, true, false, {}, {}, {}, {}};
    k.assign = [name, min, max](Settings& s, const std::string& v, const Origin& o) -> Status {
        std::string t = util::trim(v);
        long n = 0;
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
        if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || n < min || n > max)
            return make_error(std::string(name) + " = \"" + v + "\" is not a whole number from " +
                              std::to_string(min) + " to " + std::to_string(max));
        (s.*Member).assign(n, o);
        return util::Ok{};
    };
    k.text = [](const Settings& s) {
        // An unset number without a default (port) shows as unset, not as 0.
        const auto& v = s.*Member;
        return v.set || v.value != 0 ? std::to_string(v.value) : std::string();
    };
    k.origin = [](const Settings& s) -> const Origin& { return (s.*Member).origin; };
    k.is_set = [](const Settings& s) { return (s.*Member).set; };
    return k;
}

template <auto Member> KeyInfo bool_key(std::string_view name, std::string_view help) {
    KeyInfo k{name, "BOOL", help, false, true, true, {}, {}, {}, {}};
    k.assign = [name](Settings& s, const std::string& v, const Origin& o) -> Status {
        std::string t = util::to_lower(util::trim(v));
        if (t == "true" || t == "yes" || t == "on" || t == "1")
            (s.*Member).assign(true, o);
        else if (t == "false" || t == "no" || t == "off" || t == "0")
            (s.*Member).assign(false, o);
        else
            return make_error(std::string(name) + " = \"" + v + "\" is not one of true, false");
        return util::Ok{};
    };
    k.text = [](const Settings& s) { return std::string((s.*Member).value ? "true" : "false"); };
    k.origin = [](const Settings& s) -> const Origin& { return (s.*Member).origin; };
    k.is_set = [](const Settings& s) { return (s.*Member).set; };
    return k;
}

// auto|always|never with a switch on the command line: --KEY is always,
// --no-KEY never (so the flag is a switch, the key and variable take a word).
template <auto Member> KeyInfo switch_choice_key(std::string_view name, std::string_view help) {
    KeyInfo k = text_key<Member>(name, "auto|always|never", help);
    k.is_bool = true;
    k.assign = [name](Settings& s, const std::string& v, const Origin& o) -> Status {
        std::string t = util::to_lower(util::trim(v));
        if (t == "true" || t == "yes" || t == "on" || t == "1")
            t = "always";
        else if (t == "false" || t == "no" || t == "off" || t == "0")
            t = "never";
        if (t != "auto" && t != "always" && t != "never")
            return make_error(std::string(name) + " = \"" + util::one_line(v) +
                              "\" is not one of auto, always, never");
        (s.*Member).assign(t, o);
        return util::Ok{};
    };
    return k;
}

// Every duration key takes the same forms: 30 (seconds), 30s, 5m, 2h, 5d;
// `config show` prints the value as written.
template <auto Member> KeyInfo duration_key(std::string_view name, std::string_view help, long min,
                                            long max) {
    KeyInfo k{name, "DURATION", help, false, true, false, {}, {}, {}, {}};
    k.assign = [name, min, max](Settings& s, const std::string& v, const Origin& o) -> Status {
        std::string t = util::trim(v);
        auto d = parse_duration(t);
        if (!d || *d < min || *d > max)
            return make_error(std::string(name) + " = \"" + util::one_line(v) +
                              "\" is not a duration from " + format_duration(min) + " to " +
                              format_duration(max) + " (30 or 30s, 5m, 2h, 5d)");
        (s.*Member).assign(*d, o);
        (s.*Member).written = t;
        return util::Ok{};
    };
    k.text = [](const Settings& s) {
        const auto& v = s.*Member;
        return !v.written.empty() ? v.written
               : v.set || v.value != 0 ? format_duration(v.value)
                                       : std::string();
    };
    k.origin = [](const Settings& s) -> const Origin& { return (s.*Member).origin; };
    k.is_set = [](const Settings& s) { return (s.*Member).set; };
    return k;
}

// A control character in a value that reaches the wire (EHLO, MAIL FROM,
// AUTH) would become a second SMTP command: refused where the value enters,
// and the value is not echoed.
bool has_control(std::string_view v) {
    return std::any_of(v.begin(), v.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
}

Status control_error(std::string_view name) {
    return make_error(std::string(name) +
                      " contains a line break or control character (the value is not shown)");
}

// A text key whose value goes on the wire: no control characters, then
// `check` (when given) for its own syntax.
template <auto Member> KeyInfo wire_key(std::string_view name, std::string_view value_name,
                                        std::string_view help,
                                        Status (*check)(const std::string&) = nullptr) {
    KeyInfo k = text_key<Member>(name, value_name, help);
    k.assign = [name, check](Settings& s, const std::string& v, const Origin& o) -> Status {
        if (has_control(v))
            return control_error(name);
        if (check)
            if (auto st = check(v); !st)
                return st;
        (s.*Member).assign(v, o);
        return util::Ok{};
    };
    return k;
}

Status check_helo(const std::string& v) {
    if (v.find(' ') != std::string::npos)
        return make_error("helo = \"" + v + "\" is not a host name (it holds a space)");
    return util::Ok{};
}

// A domain name: dot-separated labels of letters, digits and '-', none
// starting or ending with '-', at most 63 bytes each and 253 in all.
} // namespace

util::Result<double> parse_rate(const std::string& text) {
    auto bad = [&] {
        return util::make_error("rate = \"" + text + "\" is not N/s or N/min (e.g. 10/s, 300/min)",
                                "set rate (--rate) to N/s or N/min, a whole number of messages per second "
                                "or minute: --rate 10/s, rate = 300/min");
    };
    auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash > 6)
        return bad();
    long n = 0;
    for (size_t i = 0; i < slash; ++i) {
        if (text[i] < '0' || text[i] > '9')
            return bad();
        n = n * 10 + (text[i] - '0');
    }
    if (n < 1 || n > 100000)
        return bad();
    std::string unit = text.substr(slash + 1);
    if (unit == "s")
        return static_cast<double>(n);
    if (unit == "min")
        return static_cast<double>(n) / 60.0;
    return bad();
}

namespace {

Status check_rate(const std::string& v) {
    auto r = parse_rate(v);
    if (!r)
        return r.error();
    return util::Ok{};
}

Status check_domain(const std::string& v) {
    auto bad = [&] {
        return make_error("domain = \"" + v + "\" is not a domain name such as example.com");
    };
    if (v.empty() || v.size() > 253 || v.front() == '.' || v.back() == '.')
        return bad();
    for (const auto& label : util::split_list(v, '.')) {
        if (label.size() > 63 || label.front() == '-' || label.back() == '-')
            return bad();
        for (char c : label)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
                return bad();
    }
    if (v.find("..") != std::string::npos)
        return bad();
    return util::Ok{};
}

Status check_server(const std::string& v) {
    if (util::trim(v).empty())
        return util::Ok{}; // "" unsets it; "no server is set" comes when sending
    auto list = parse_server_list(v);
    if (!list)
        return list.error();
    return util::Ok{};
}

Status check_proxy(const std::string& v) {
    if (util::trim(v).empty())
        return util::Ok{}; // "" unsets it: no proxy
    auto px = parse_proxy_url(v);
    if (!px)
        return px.error();
    return util::Ok{};
}

Status check_source_address(const std::string& v) {
    if (v.find(' ') != std::string::npos)
        return make_error("source_address = \"" + v + "\" is not an address or interface (it holds a space)");
    return util::Ok{};
}

// curl's pin format: "sha256//" and the base64 of a 32-byte SHA-256, as
// many as wanted, separated by ';'.
Status check_pins(const std::string& v) {
    if (util::trim(v).empty())
        return util::Ok{}; // "" unsets it: no pin
    auto is_b64 = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'; };
    for (const auto& pin : util::split_list(v, ';')) {
        std::string p = util::trim(pin);
        bool ok = p.size() == 8 + 44 && p.rfind("sha256//", 0) == 0 && p.back() == '=' &&
                  std::all_of(p.begin() + 8, p.end() - 1, is_b64);
        if (!ok)
            return make_error("pinned_pubkey = \"" + v + "\" is not sha256//BASE64[;sha256//BASE64...] "
                              "(each pin \"sha256//\" and 44 characters of base64; smtpsend check "
                              "prints the server's)");
    }
    return util::Ok{};
}

// `provider` names a preset; apply_preset fills what nothing else set,
// after every layer (providers.hpp).
KeyInfo provider_key() {
    KeyInfo k = text_key<&Settings::provider>("provider", "NAME",
                                              "a preset for the server, port, TLS mode and auth: "
                                              "gmail, office365, ses, ... (smtpsend config "
                                              "providers)");
    k.assign = [](Settings& s, const std::string& v, const Origin& o) -> Status {
        std::string name = util::to_lower(util::trim(v));
        if (has_control(v))
            return control_error("provider");
        if (!name.empty() && !find_provider(name)) {
            std::vector<std::string> names;
            for (const auto& q : providers())
                names.emplace_back(q.name);
            std::string best = util::closest(name, names);
            return make_error("provider = \"" + v + "\" is not a known provider" +
                              (best.empty() ? "" : "; did you mean \"" + best + "\"?") +
                              " (one of " + util::join(names, ", ") + ")");
        }
        s.provider.assign(name, o);
        return util::Ok{};
    };
    return k;
}

// `region` picks the provider's host; checked against the provider's list
// by apply_preset, once every layer is in.
KeyInfo region_key() {
    KeyInfo k = text_key<&Settings::region>("region", "REGION",
                                            "the provider's region: an AWS region for ses "
                                            "(required), us or eu for mailgun, us, eu, in, au or "
                                            "jp for zoho");
    k.assign = [](Settings& s, const std::string& v, const Origin& o) -> Status {
        if (has_control(v))
            return control_error("region");
        s.region.assign(util::to_lower(util::trim(v)), o);
        return util::Ok{};
    };
    return k;
}

std::vector<KeyInfo> make_keys() {
    return {
        provider_key(),
        region_key(),
        wire_key<&Settings::server>("server", "URL",
                                    "smtp://host[:port] (STARTTLS, port 587) or "
                                    "smtps://host[:port] (TLS from the first byte, port 465); "
                                    "wins over a provider preset",
                                    check_server),
        number_key<&Settings::port>("port", "PORT", "the server's port; overrides the one in the URL",
                                    1, 65535),
        choice_key<&Settings::tls>("tls", "MODE",
                                   "starttls, implicit or none; overrides the URL's mode",
                                   {"starttls", "implicit", "none"}),
        wire_key<&Settings::user>("user", "NAME", "the login name"),
        text_key<&Settings::password>("password", "SECRET",
                                      "the password (environment or profile only; never a flag)",
                                      true, false),
        text_key<&Settings::password_file>("password_file", "FILE",
                                           "read the password from the first line of FILE"),
        text_key<&Settings::password_cmd>("password_cmd", "CMD",
                                          "run CMD and use the first line it prints as the password"),
        text_key<&Settings::password_env>("password_env", "NAME",
                                          "read the password from the environment variable NAME"),
        choice_key<&Settings::auth>("auth", "MECH",
                                    "auto (PLAIN or LOGIN), plain, login, cram-md5, xoauth2 or "
                                    "oauthbearer",
                                    {"auto", "plain", "login", "cram-md5", "xoauth2", "oauthbearer"}),
        text_key<&Settings::oauth2_token_cmd>("oauth2_token_cmd", "CMD",
                                              "run CMD for a fresh OAuth2 access token (auth = "
                                              "xoauth2 or oauthbearer)"),
        text_key<&Settings::oauth2_token_env>("oauth2_token_env", "NAME",
                                              "read the OAuth2 access token from the environment "
                                              "variable NAME"),
        wire_key<&Settings::from>("from", "ADDRESS", "the sender address (From and envelope)"),
        choice_key<&Settings::from_header>("from_header", "MODE",
                                           "keep a message's From header, or envelope: rewrite it "
                                           "to the envelope sender",
                                           {"keep", "envelope"}),
        text_key<&Settings::cafile>("cafile", "FILE",
                                    "trust the CA certificates in FILE (PEM) instead of the system's"),
        choice_key<&Settings::tls_min>("tls_min", "VERSION",
                                       "the oldest TLS version to use: 1.2 or 1.3 (default 1.2)",
                                       {"1.2", "1.3"}),
        wire_key<&Settings::pinned_pubkey>("pinned_pubkey", "PINS",
                                           "trust only these server keys: sha256//BASE64[;...] "
                                           "(smtpsend check prints the server's); without cafile "
                                           "the pin replaces the CA check",
                                           check_pins),
        text_key<&Settings::client_cert>("client_cert", "FILE",
                                         "present this certificate (PEM) to the server: TLS "
                                         "client authentication"),
        text_key<&Settings::client_key>("client_key", "FILE",
                                        "the client certificate's private key (PEM; default: "
                                        "in client_cert's file)"),
        wire_key<&Settings::proxy>("proxy", "URL",
                                   "send through this proxy: socks5h://HOST:PORT, "
                                   "socks5://HOST:PORT or http://HOST:PORT (CONNECT); the "
                                   "environment's proxy variables are never used",
                                   check_proxy),
        wire_key<&Settings::proxy_user>("proxy_user", "NAME",
                                        "the proxy's login name (wins over USER@ in the URL)"),
        text_key<&Settings::proxy_password>("proxy_password", "SECRET",
                                            "the proxy's password (environment or profile only; "
                                            "never a flag)",
                                            true, false),
        text_key<&Settings::proxy_password_file>("proxy_password_file", "FILE",
                                                 "read the proxy's password from the first line "
                                                 "of FILE"),
        text_key<&Settings::proxy_password_cmd>("proxy_password_cmd", "CMD",
                                                "run CMD and use the first line it prints as the "
                                                "proxy's password"),
        text_key<&Settings::proxy_password_env>("proxy_password_env", "NAME",
                                                "read the proxy's password from the environment "
                                                "variable NAME"),
        wire_key<&Settings::source_address>("source_address", "ADDRESS",
                                            "send from this local address, if!NAME (an "
                                            "interface) or host!NAME (curl's interface option)",
                                            check_source_address),
        choice_key<&Settings::ip_version>("ip_version", "VERSION",
                                          "any, 4 or 6: the IP version to connect with (-4, -6)",
                                          {"any", "4", "6"}),
        wire_key<&Settings::helo>("helo", "NAME",
                                  "the name to give in EHLO (default: this machine's name)",
                                  check_helo),
        duration_key<&Settings::timeout>("timeout",
                                         "bound on connecting and on each wait for a reply "
                                         "(30, 30s, 5m, ...)",
                                         1, 3600),
        duration_key<&Settings::data_timeout>("data_timeout",
                                              "bound on the wait for the reply after the message, "
                                              "counted from its last byte (600, 10m, ...)",
                                              1, 86400),
        duration_key<&Settings::max_time>("max_time",
                                          "bound on the whole run, retries included (0: none)", 0,
                                          86400),
        text_key<&Settings::aliases>("aliases", "FILE",
                                     "resolve local recipients (root, a user) through FILE, in "
                                     "/etc/aliases format"),
        wire_key<&Settings::domain>("domain", "DOMAIN",
                                    "qualify local names (recipients without an alias, -f root) "
                                    "in every mode: root@DOMAIN; sendmail mode sends a message "
                                    "that names no sender as LOGIN@DOMAIN",
                                    check_domain),
        bool_key<&Settings::queue>("queue", "keep a message that failed temporarily in the queue "
                                            "and exit 0; `smtpsend queue flush` sends it later"),
        text_key<&Settings::queue_dir>("queue_dir", "DIR",
                                       "the queue folder (default $XDG_STATE_HOME/smtpsend/queue, "
                                       "or /var/spool/smtpsend for root)"),
        number_key<&Settings::retries>("retries", "N",
                                       "extra attempts within one run after a temporary failure",
                                       0, 10),
        number_key<&Settings::connections>("connections", "N",
                                           "batch: connections at once, each with its own login "
                                           "(1: one connection, messages one after another)",
                                           1, 64),
        wire_key<&Settings::rate>("rate", "N/s|N/min",
                                  "batch: at most this many messages per second or minute, "
                                  "across all connections",
                                  check_rate),
        number_key<&Settings::max_per_connection>("max_per_connection", "N",
                                                  "batch: reconnect after N messages on a "
                                                  "connection (0: never)",
                                                  0, 1000000),
        switch_choice_key<&Settings::progress>("progress",
                                               "batch: a progress line on stderr (auto: when it "
                                               "is a terminal, without --json and -v)"),
        duration_key<&Settings::retry_wait>("retry_wait",
                                            "wait before the first retry; doubles each time, "
                                            "with jitter, up to 5 minutes",
                                            0, 3600),
        duration_key<&Settings::max_age>("max_age", "how long a queued message is tried before "
                                                    "it fails (e.g. 5d, 12h)",
                                         0, 365L * 86400),
        text_key<&Settings::log>("log", "FILE", "one line per attempt to FILE, to syslog, or none"),
    };
}

} // namespace

const std::vector<KeyInfo>& keys() {
    static const std::vector<KeyInfo> table = make_keys();
    return table;
}

const KeyInfo* find_key(std::string_view name) {
    for (const auto& k : keys())
        if (k.name == name)
            return &k;
    return nullptr;
}

std::string flag_name(std::string_view key) {
    std::string out = "--";
    for (char c : key)
        out += c == '_' ? '-' : c;
    return out;
}

std::string env_name(std::string_view key) {
    std::string out = "SMTPSEND_";
    for (char c : key)
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string suggest_key(std::string_view unknown) {
    std::string wanted = util::to_lower(unknown);
    std::replace(wanted.begin(), wanted.end(), '-', '_');
    std::vector<std::string> names;
    for (const auto& k : keys())
        names.emplace_back(k.name);
    return util::closest(wanted, names);
}

} // namespace smtpsend::config
