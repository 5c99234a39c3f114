#include "config/import.hpp"

#include "config/files.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <pugixml.hpp>
#include <set>

namespace smtpsend::config {

namespace {

using util::make_error;

std::string place(const std::string& path, int line) { return path + ":" + std::to_string(line); }

void put(ImportedSection& s, const std::string& key, const std::string& value) {
    for (auto& [k, v] : s.keys)
        if (k == key) {
            v = value;
            return;
        }
    s.keys.emplace_back(key, value);
}

// ---------------------------------------------------------------- msmtp

// One msmtp section as written: its commands, with their lines.
struct MsmtpSection {
    std::string name; // "" for `defaults`
    std::vector<std::string> parents;
    int line = 0;
    std::map<std::string, std::pair<std::string, int>> raw; // command -> (argument, line)
    std::vector<std::string> refused; // commands left out for a control character, as notes
};

// A value that would break out of its line in the written file (a line
// break, or any other control character) is never copied: INI has no escape
// for it, and in JSON a password_cmd with a line break runs a second command.
bool unsafe_value(const std::string& v) { return util::has_control_char(v); }

// msmtp's argument: the rest of the line, or a "quoted" string with \" and \\.
std::string msmtp_argument(const std::string& rest) {
    std::string a = util::trim(rest);
    if (a.size() < 2 || a.front() != '"' || a.back() != '"')
        return a;
    std::string out;
    for (size_t i = 1; i + 1 < a.size(); ++i) {
        if (a[i] == '\\' && i + 2 < a.size())
            ++i;
        out += a[i];
    }
    return out;
}

bool on(const std::string& v) { return v.empty() || v == "on"; }

// The value of `command` for a section, through `defaults` and its parents
// (msmtp copies a parent's settings, then the section's own win).
std::optional<std::string> effective(const std::vector<MsmtpSection>& all, const MsmtpSection& s,
                                     const std::string& command, int depth = 0) {
    if (auto it = s.raw.find(command); it != s.raw.end())
        return it->second.first;
    if (depth > 16)
        return std::nullopt;
    for (auto p = s.parents.rbegin(); p != s.parents.rend(); ++p)
        for (const auto& other : all)
            if (other.name == *p && !other.name.empty())
                if (auto v = effective(all, other, command, depth + 1))
                    return v;
    if (!s.name.empty())
        for (const auto& other : all)
            if (other.name.empty())
                if (auto it = other.raw.find(command); it != other.raw.end())
                    return it->second.first;
    return std::nullopt;
}

// msmtp: tls off by default; with tls on, STARTTLS unless tls_starttls is off.
std::string tls_mode(const std::vector<MsmtpSection>& all, const MsmtpSection& s) {
    if (!on(effective(all, s, "tls").value_or("off")))
        return "none";
    return on(effective(all, s, "tls_starttls").value_or("on")) ? "starttls" : "implicit";
}

const std::set<std::string>& msmtp_left_out() {
    static const std::set<std::string> names = {
        "tls_fingerprint",  "tls_key_file",     "tls_cert_file",      "tls_crl_file",
        "tls_priorities",   "tls_host_override", "tls_min_dh_prime_bits", "protocol",
        "proxy_host",       "proxy_port",       "socket",             "source_ip",
        "dsn_notify",       "dsn_return",       "set_from_header",    "set_date_header",
        "set_msgid_header", "remove_bcc_headers", "undisclosed_recipients",
        "logfile_time_format", "add_missing_from_header", "add_missing_date_header", "ntlmdomain",
        "eval"};
    return names;
}

// Where a section's password comes from in msmtp: the nearest `password` or
// `passwordeval`, through its parents and `defaults` as effective() looks.
struct SecretSource {
    const MsmtpSection* section = nullptr;
    std::string command; // "password" or "passwordeval"
};

std::optional<SecretSource> secret_source(const std::vector<MsmtpSection>& all,
                                          const MsmtpSection& s, int depth = 0) {
    for (const char* cmd : {"passwordeval", "password"})
        if (s.raw.count(cmd))
            return SecretSource{&s, cmd};
    if (depth > 16)
        return std::nullopt;
    for (auto p = s.parents.rbegin(); p != s.parents.rend(); ++p)
        for (const auto& other : all)
            if (other.name == *p && !other.name.empty())
                if (auto v = secret_source(all, other, depth + 1))
                    return v;
    if (!s.name.empty())
        for (const auto& other : all)
            if (other.name.empty())
                for (const char* cmd : {"passwordeval", "password"})
                    if (other.raw.count(cmd))
                        return SecretSource{&other, cmd};
    return std::nullopt;
}

// The password command an imported account gets, written in the account
// itself: its own passwordeval, or one it inherits from a section with the
// same server and user (a section that sets neither, like `defaults`, counts
// as the same). Never another account's: that would send that account's
// password to this account's server.
std::optional<std::string> password_cmd_for(const std::vector<MsmtpSection>& all,
                                            const MsmtpSection& s) {
    auto src = secret_source(all, s);
    if (!src || src->command != "passwordeval")
        return std::nullopt;
    if (src->section != &s)
        for (const char* key : {"host", "user"}) {
            auto theirs = effective(all, *src->section, key);
            if (theirs && theirs != effective(all, s, key))
                return std::nullopt;
        }
    return src->section->raw.at("passwordeval").first;
}

// Turns one msmtp section into ours. The TLS mode is written where the
// section sets tls or tls_starttls; the port where it sets host without a
// port in its chain (msmtp's default is 25, or 465 for TLS from the first byte).
ImportedSection convert_section(const std::vector<MsmtpSection>& all, const MsmtpSection& s,
                                const std::string& path, std::vector<std::string>& warnings) {
    ImportedSection out;
    out.name = s.name;
    if (!s.parents.empty())
        out.inherit = s.parents.front();
    if (s.parents.size() > 1) {
        warnings.push_back(place(path, s.line) + ": account " + s.name + " inherits from " +
                           util::join(s.parents, ", ") + "; smtpsend inherits from one, so the "
                           "settings of the others are copied in");
        for (size_t i = 1; i < s.parents.size(); ++i)
            for (const auto& other : all)
                if (other.name == s.parents[i])
                    for (const auto& [cmd, v] : other.raw)
                        if (!s.raw.count(cmd) && cmd != "password" && cmd != "passwordeval") {
                            MsmtpSection one;
                            one.name = s.name;
                            one.raw[cmd] = v;
                            auto part = convert_section(all, one, path, warnings);
                            for (const auto& [k, val] : part.keys)
                                if (k != "password_cmd") // the account's own, below
                                    put(out, k, val);
                        }
    }
    std::string who = s.name.empty() ? "defaults" : "account " + s.name;
    auto w = [&](int line, const std::string& what) { warnings.push_back(place(path, line) + ": " + what); };
    std::vector<std::pair<std::string, std::pair<std::string, int>>> in_order(s.raw.begin(), s.raw.end());
    std::stable_sort(in_order.begin(), in_order.end(),
                     [](const auto& a, const auto& b) { return a.second.second < b.second.second; });
    for (const auto& [cmd, arg_line] : in_order) {
        const auto& [arg, line] = arg_line;
        if (cmd == "host") {
            put(out, "server", arg);
            if (!effective(all, s, "port"))
                put(out, "port", tls_mode(all, s) == "implicit" ? "465" : "25");
        } else if (cmd == "port") {
            put(out, "port", arg);
        } else if (cmd == "tls" || cmd == "tls_starttls") {
            put(out, "tls", tls_mode(all, s));
        } else if (cmd == "from") {
            put(out, "from", arg);
        } else if (cmd == "user") {
            put(out, "user", arg);
        } else if (cmd == "password") {
            out.comments.push_back("password: not copied from " + place(path, line) +
                                   "; put it in password_file (chmod 600) or use password_cmd");
            w(line, who + ": the password was not copied; set password_file or password_cmd");
        } else if (cmd == "passwordeval") {
            // Written below, per account (password_cmd_for).
        } else if (cmd == "auth") {
            static const std::set<std::string> same = {"plain", "login", "cram-md5", "xoauth2",
                                                       "oauthbearer"};
            if (on(arg))
                put(out, "auth", "auto");
            else if (same.count(arg))
                put(out, "auth", arg);
            else if (arg == "off")
                out.comments.push_back("auth off in msmtp: do not set user here, or no login "
                                       "is sent");
            else {
                put(out, "auth", "auto");
                w(line, who + ": auth " + arg + " is not supported; using auto (PLAIN or LOGIN)");
            }
        } else if (cmd == "tls_trust_file") {
            if (arg != "system" && !arg.empty())
                put(out, "cafile", arg);
        } else if (cmd == "tls_certcheck") {
            if (!on(arg))
                w(line, who + ": tls_certcheck off is not copied; smtpsend always verifies the "
                            "certificate (set cafile to the server's CA)");
        } else if (cmd == "domain") {
            put(out, "helo", arg);
        } else if (cmd == "timeout") {
            if (arg != "off")
                put(out, "timeout", arg);
        } else if (cmd == "logfile") {
            put(out, "log", arg.empty() ? "none" : arg);
        } else if (cmd == "syslog") {
            if (arg != "off")
                put(out, "log", "syslog");
        } else if (cmd == "aliases") {
            put(out, "aliases", arg);
        } else if (cmd == "auto_from" || cmd == "maildomain") {
            if (cmd == "auto_from" ? on(arg) : true)
                w(line, who + ": " + cmd + " is not supported; set from to the sender address");
        } else if (msmtp_left_out().count(cmd)) {
            w(line, who + ": " + cmd + " is not supported by smtpsend and was left out");
        } else {
            w(line, who + ": unknown msmtp command \"" + cmd + "\" was left out");
        }
    }
    for (const auto& note : s.refused)
        out.comments.push_back(note);
    if (!s.name.empty()) {
        if (auto cmd = password_cmd_for(all, s)) {
            put(out, "password_cmd", *cmd);
        } else if (auto src = secret_source(all, s); src && src->section != &s) {
            std::string from = src->section->name.empty() ? "defaults" : "account " + src->section->name;
            int line = src->section->raw.at(src->command).second;
            if (src->command == "passwordeval") {
                out.comments.push_back("password: the passwordeval of " + from + " (" +
                                       place(path, line) + ") is not used here: that account has "
                                       "another server or user; set password_cmd or password_file");
                w(s.line, who + ": the passwordeval of " + from + " (line " + std::to_string(line) +
                              ") belongs to another server or user and was not used; set "
                              "password_cmd or password_file");
            } else {
                out.comments.push_back("password: the password of " + from + " (" +
                                       place(path, line) + ") was not copied; put it in "
                                       "password_file (chmod 600) or use password_cmd");
            }
        }
    }
    // A login without TLS: msmtp sends it in clear text; smtpsend refuses.
    if (!s.name.empty() && tls_mode(all, s) == "none" &&
        (effective(all, s, "user") || effective(all, s, "auth").value_or("off") != "off")) {
        w(s.line, "account " + s.name + ": tls is off, so msmtp sends this login in clear text; "
                  "smtpsend refuses to. Set tls = starttls (port 587) or tls = implicit (465)");
    }
    return out;
}

util::Result<Imported> import_msmtp(const std::string& path, const std::string& text) {
    std::vector<MsmtpSection> sections;
    sections.push_back(MsmtpSection{}); // defaults
    size_t current = 0;
    bool seen_account = false;
    Imported out;
    out.format = "msmtp";
    size_t pos = 0;
    int line_no = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        std::string line = util::trim(text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos));
        pos = eol == std::string::npos ? text.size() : eol + 1;
        ++line_no;
        if (line.empty() || line[0] == '#')
            continue;
        size_t sp = line.find_first_of(" \t");
        std::string cmd = line.substr(0, sp);
        std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (cmd == "defaults") {
            current = 0;
            if (seen_account)
                out.warnings.push_back(place(path, line_no) + ": `defaults` after an account "
                                       "applies to every profile here, not only to later ones");
            continue;
        }
        if (cmd == "account") {
            seen_account = true;
            std::string name = util::trim(rest), parents;
            if (auto colon = name.find(':'); colon != std::string::npos) {
                parents = name.substr(colon + 1);
                name = util::trim(name.substr(0, colon));
            }
            if (name.empty() || name.find_first_of(" \t]") != std::string::npos ||
                unsafe_value(name))
                return make_error(place(path, line_no) + ": expected \"account NAME [: PARENT]\"",
                                  "", util::ErrorKind::input);
            for (const auto& s : sections)
                if (s.name == name)
                    return make_error(place(path, line_no) + ": account " + name +
                                          " is defined twice",
                                      "", util::ErrorKind::input);
            MsmtpSection s;
            s.name = name;
            s.line = line_no;
            for (const auto& p : util::split_list(parents, ',')) {
                std::string parent = util::trim(p);
                bool known = std::any_of(sections.begin(), sections.end(),
                                         [&](const MsmtpSection& o) { return o.name == parent; });
                if (!known)
                    return make_error(place(path, line_no) + ": account " + name +
                                          " inherits from unknown account " + parent,
                                      "msmtp requires the parent to be defined first", util::ErrorKind::input);
                s.parents.push_back(parent);
            }
            sections.push_back(std::move(s));
            current = sections.size() - 1;
            continue;
        }
        std::string arg = msmtp_argument(rest);
        if (unsafe_value(arg) || unsafe_value(cmd)) {
            std::string what = util::quote(cmd.substr(0, 40));
            out.warnings.push_back(place(path, line_no) + ": " + what + " holds a line break or "
                                   "control character; it was left out");
            sections[current].refused.push_back(what + ": left out (" + place(path, line_no) +
                                                 " holds a line break or control character)");
            continue;
        }
        sections[current].raw[cmd] = {std::move(arg), line_no};
    }
    out.top = convert_section(sections, sections[0], path, out.warnings);
    for (size_t i = 1; i < sections.size(); ++i)
        out.profiles.push_back(convert_section(sections, sections[i], path, out.warnings));
    // `inherit` brings the parent's password_cmd along. A profile that must
    // not use it (its own password, or another server or user) gets the
    // parent's other keys copied in instead. Parents come first, so each
    // parent is final when its children are looked at.
    auto find_profile = [&](const std::string& name) -> const ImportedSection* {
        for (const auto& p : out.profiles)
            if (p.name == name)
                return &p;
        return nullptr;
    };
    for (auto& p : out.profiles) {
        const ImportedSection* parent = p.inherit.empty() ? nullptr : find_profile(p.inherit);
        auto has_cmd = [](const ImportedSection& s) {
            return std::any_of(s.keys.begin(), s.keys.end(),
                               [](const auto& kv) { return kv.first == "password_cmd"; });
        };
        if (!parent || has_cmd(p))
            continue;
        // The parent's whole chain, base first, without password_cmd.
        std::vector<const ImportedSection*> chain;
        for (const ImportedSection* q = parent; q && chain.size() < 32;
             q = q->inherit.empty() ? nullptr : find_profile(q->inherit))
            chain.insert(chain.begin(), q);
        bool brings_cmd = std::any_of(chain.begin(), chain.end(),
                                      [&](const ImportedSection* q) { return has_cmd(*q); });
        if (!brings_cmd)
            continue;
        ImportedSection flat;
        for (const auto* q : chain)
            for (const auto& [k, v] : q->keys)
                if (k != "password_cmd")
                    put(flat, k, v);
        for (const auto& [k, v] : p.keys)
            put(flat, k, v);
        p.comments.push_back("not `inherit = " + p.inherit + "`: its password_cmd is not this "
                             "account's password, so its other settings are copied here");
        p.keys = std::move(flat.keys);
        p.inherit.clear();
    }
    if (std::any_of(sections.begin(), sections.end(),
                    [](const MsmtpSection& s) { return s.name == "default"; }))
        out.default_profile = "default";
    // TLS is off by default in msmtp and on in smtpsend: say so where it matters.
    bool some_rely_on_default = false;
    for (size_t i = 1; i < sections.size(); ++i)
        if (!effective(sections, sections[i], "tls") && !sections[0].raw.count("tls"))
            some_rely_on_default = true;
    if (some_rely_on_default && !sections[0].raw.count("tls"))
        out.top.keys.insert(out.top.keys.begin(), {"tls", "none"});
    return out;
}

// ---------------------------------------------------------------- .NET

int line_of(const std::string& text, ptrdiff_t offset) {
    if (offset < 0)
        return 0;
    return 1 + static_cast<int>(std::count(text.begin(),
                                           text.begin() + std::min<ptrdiff_t>(offset, text.size()), '\n'));
}

bool xml_true(const pugi::xml_attribute& a) { return util::to_lower(util::trim(a.value())) == "true"; }

util::Result<Imported> import_dotnet(const std::string& path, const std::string& text,
                                     const std::string& base_name) {
    pugi::xml_document doc;
    pugi::xml_parse_result parsed = doc.load_buffer(text.data(), text.size());
    if (!parsed)
        return make_error(place(path, line_of(text, parsed.offset)) + ": not well-formed XML: " +
                              parsed.description(),
                          "", util::ErrorKind::input);
    auto nodes = doc.select_nodes("//system.net/mailSettings/smtp");
    if (nodes.empty())
        return make_error(path + ": no <system.net><mailSettings><smtp> element",
                          "SmtpClient reads its settings from that element of Web.config or "
                          "App.config",
                          util::ErrorKind::input);
    Imported out;
    out.format = ".NET";
    int n = 0;
    for (const auto& node : nodes) {
        pugi::xml_node smtp = node.node();
        ImportedSection p;
        p.name = ++n == 1 ? base_name : base_name + "-" + std::to_string(n);
        int line = line_of(text, smtp.offset_debug());
        auto w = [&](int at, const std::string& what) {
            out.warnings.push_back(place(path, at) + ": " + what);
        };
        // An attribute's text; one holding a line break or another control
        // character (&#10; is one) is left out, with a warning and a note.
        auto attr_text = [&](const pugi::xml_node& at_node, const char* name) -> std::string {
            std::string v = at_node.attribute(name).value();
            if (!unsafe_value(v))
                return v;
            int at = line_of(text, at_node.offset_debug());
            w(at, std::string(name) + " holds a line break or control character; it was left out");
            p.comments.push_back(std::string(name) + ": left out (" + place(path, at) +
                                 " holds a line break or control character)");
            return {};
        };
        std::string method = attr_text(smtp, "deliveryMethod");
        if (!method.empty() && method != "Network")
            w(line, "deliveryMethod=\"" + method + "\": the application writes mail to a folder "
                    "and sends nothing over SMTP");
        pugi::xml_node net = smtp.child("network");
        int net_line = net ? line_of(text, net.offset_debug()) : line;
        std::string host = attr_text(net, "host");
        long port = net.attribute("port").empty() ? 25 : net.attribute("port").as_int(25);
        bool ssl = xml_true(net.attribute("enableSsl"));
        bool default_credentials = xml_true(net.attribute("defaultCredentials"));
        std::string user = attr_text(net, "userName");
        if (!host.empty())
            put(p, "server", host);
        else
            w(net_line, "no host: the application sets SmtpClient.Host in code; set server here");
        put(p, "port", std::to_string(port));
        // SmtpClient's EnableSsl means STARTTLS; it cannot speak TLS from the first byte.
        put(p, "tls", ssl ? "starttls" : "none");
        if (!user.empty() && !default_credentials)
            put(p, "user", user);
        if (std::string from = attr_text(smtp, "from"); !from.empty())
            put(p, "from", from);
        if (std::string helo = attr_text(net, "clientDomain"); !helo.empty())
            put(p, "helo", helo);
        if (!net.attribute("password").empty()) {
            p.comments.push_back("password: not copied from " + place(path, net_line) +
                                 "; put it in password_file (chmod 600) or use password_cmd");
            w(net_line, "the password was not copied; set password_file or password_cmd");
        }
        if (default_credentials && !user.empty()) {
            p.comments.push_back("fix: user = " + user + " is ignored by .NET while "
                                 "defaultCredentials=\"true\"; set it to false in the application");
            w(net_line, "defaultCredentials=\"true\" next to userName=\"" + user + "\": .NET ignores "
                        "the userName and password and offers the Windows logon, so servers "
                        "answer 530 5.7.57 or 5.5.1 Authentication Required. Set "
                        "defaultCredentials=\"false\" (the profile sends no login, as the "
                        "application does)");
        } else if (default_credentials) {
            w(net_line, "defaultCredentials=\"true\": the application logs in with the Windows "
                        "account (NTLM), which smtpsend cannot; the profile sends no login");
        }
        if (!ssl && port == 587) {
            p.comments.push_back("fix: tls = starttls (enableSsl=\"true\" in the application)");
            w(net_line, "enableSsl=\"false\" on port 587: the server wants STARTTLS first "
                        "(530 5.7.0 Must issue a STARTTLS command first), and a login would go in "
                        "clear text. Set enableSsl=\"true\"");
        }
        if (port == 465) {
            p.comments.push_back("fix: port = 587 for .NET; smtpsend itself can use tls = "
                                 "implicit on 465");
            w(net_line, "port 465 wants TLS from the first byte, which .NET's SmtpClient cannot "
                        "speak: it waits for a greeting that never comes and times out. Use port "
                        "587 with enableSsl=\"true\"");
        }
        out.profiles.push_back(std::move(p));
    }
    out.default_profile = out.profiles.size() == 1 ? out.profiles.front().name : "";
    return out;
}

// Quotes an INI value when trimming would change it.
std::string ini_value(const std::string& v) {
    if (!v.empty() && v == util::trim(v) && v.front() != '"' && !unsafe_value(v))
        return v;
    return util::quote(v);
}

void write_section(std::string& out, const ImportedSection& s) {
    for (const auto& c : s.comments)
        out += "# " + c + "\n";
    if (!s.inherit.empty())
        out += "inherit = " + s.inherit + "\n";
    for (const auto& [k, v] : s.keys)
        out += k + " = " + ini_value(v) + "\n";
}

} // namespace

util::Result<Imported> import_config(const std::string& path, const std::string& dotnet_name) {
    auto text = read_settings_text(path, util::ErrorKind::noinput);
    if (!text)
        return text.error();
    return import_text(path, *text, dotnet_name);
}

util::Result<Imported> import_text(const std::string& path, const std::string& text,
                                   const std::string& dotnet_name) {
    size_t first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
    if (first != std::string::npos && text[first] == '<')
        return import_dotnet(path, text, dotnet_name);
    return import_msmtp(path, text);
}

std::string imported_ini(const Imported& imported) {
    std::string out = "# smtpsend settings imported from " + imported.format + "\n";
    if (!imported.default_profile.empty())
        out += "default = " + imported.default_profile + "\n";
    write_section(out, imported.top);
    for (const auto& p : imported.profiles) {
        out += "\n[profile " + p.name + "]\n";
        write_section(out, p);
    }
    return out;
}

nlohmann::json imported_json(const Imported& imported) {
    auto section = [](const ImportedSection& s) {
        nlohmann::json j = nlohmann::json::object();
        if (!s.inherit.empty())
            j["inherit"] = s.inherit;
        for (const auto& [k, v] : s.keys) {
            // Whole numbers (port, timeout) as JSON numbers, as a person writes them.
            bool number = !v.empty() && v.size() < 10 &&
                          std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (number && (k == "port" || k == "timeout"))
                j[k] = std::stol(v);
            else
                j[k] = v;
        }
        return j;
    };
    nlohmann::json j = section(imported.top);
    if (!imported.default_profile.empty())
        j["default"] = imported.default_profile;
    j["profiles"] = nlohmann::json::object();
    for (const auto& p : imported.profiles)
        j["profiles"][p.name] = section(p);
    return j;
}

} // namespace smtpsend::config
