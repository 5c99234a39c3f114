#include "config/files.hpp"

#include "config/keys.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

namespace smtpsend::config {

using util::make_error;

namespace {

constexpr size_t max_file_size = 1 << 20;

util::Error file_error(const std::string& path, int line, const std::string& what,
                       const std::string& hint = {}) {
    return make_error(path + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what, hint,
                      util::ErrorKind::config);
}

// A key or profile name as written: letters, digits, '_', '-', '.' and '@'.
// Anything else is not echoed in an error (it could be a secret).
bool is_name(std::string_view s) {
    if (s.empty() || s.size() > 64)
        return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
              c == '@'))
            return false;
    return true;
}

// The value after '=': a double-quoted string (\" and \\ escapes), or the
// text up to a comment ('#' or ';' after a space or tab), trimmed. Errors name
// the key, never the value.
util::Result<std::string> parse_value(std::string_view raw, const std::string& path, int line,
                                      const std::string& key) {
    std::string v = util::trim(raw);
    if (!v.empty() && v.front() == '"') {
        std::string out;
        size_t i = 1;
        bool closed = false;
        for (; i < v.size(); ++i) {
            if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == '"' || v[i + 1] == '\\')) {
                out += v[++i];
                continue;
            }
            if (v[i] == '"') {
                closed = true;
                ++i;
                break;
            }
            out += v[i];
        }
        if (!closed)
            return file_error(path, line, key + ": the quoted value has no closing quote",
                              "a quoted value ends with \"; inside, write \\\" and \\\\");
        std::string rest = util::trim(std::string_view(v).substr(i));
        if (!rest.empty() && rest.front() != '#' && rest.front() != ';')
            return file_error(path, line, key + ": text follows the closing quote",
                              "after a quoted value only a comment (# or ;) may follow");
        return out;
    }
    for (size_t i = 0; i < raw.size(); ++i)
        if ((raw[i] == '#' || raw[i] == ';') && i > 0 && (raw[i - 1] == ' ' || raw[i - 1] == '\t'))
            return util::trim(raw.substr(0, i));
    return v;
}

// "[profile work]" or "the top level", for warnings.
std::string section_label(const Section& s) {
    return s.name.empty() ? "the top level" : "[profile " + s.name + "]";
}

// The 1-based line of byte `offset` in `text`.
int line_of(const std::string& text, size_t offset) {
    int line = 1;
    for (size_t i = 0; i < offset && i < text.size(); ++i)
        if (text[i] == '\n')
            ++line;
    return line;
}

// Where each key of a settings JSON document stands. nlohmann keeps no
// positions, so the (already valid) text is scanned once: a string followed
// by ':' is a key, at the depth of the braces around it.
struct JsonLines {
    std::vector<std::string> duplicates;                        // warnings
    std::map<std::string, int> top;                             // top-level keys
    std::map<std::string, int> profiles;                        // profile names
    std::map<std::string, std::map<std::string, int>> keys;     // keys inside each profile
};

// nlohmann's reason without the text it quotes ("last read: '...'", which
// may be part of a secret): "syntax error while parsing value - invalid
// literal; expected end of input".
std::string json_reason(const std::string& what) {
    auto start = what.find("syntax error");
    if (start == std::string::npos)
        return "not valid JSON";
    auto quoted = what.find("; last read: '", start);
    std::string reason = what.substr(start, quoted == std::string::npos ? std::string::npos
                                                                        : quoted - start);
    // The expected token, when named, is one of nlohmann's fixed names.
    static const char* const tokens[] = {
        "'[', '{', or a literal", "end of input", "'}'", "']'", "':'", "','", "string literal",
        "number literal", "true literal", "false literal", "null literal", "'['", "'{'"};
    auto expected = what.rfind("; expected ");
    if (quoted != std::string::npos && expected != std::string::npos && expected > quoted) {
        std::string token = what.substr(expected + 11);
        for (const char* t : tokens)
            if (token == t)
                return reason + "; expected " + token;
    }
    return reason;
}

// The key whose value was being read at `offset`: the last string in a key's
// place ('{' or ',' before it, ':' after it), on the same line, that is a
// plain name ("" when none).
std::string key_before(const std::string& text, size_t offset) {
    std::string key;
    size_t line_start = offset == 0 ? 0 : text.rfind('\n', offset - 1);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    for (size_t i = line_start; i < offset && i < text.size(); ++i) {
        if (text[i] != '"')
            continue;
        size_t start = ++i;
        while (i < text.size() && text[i] != '"')
            i += text[i] == '\\' ? 2 : 1;
        if (i >= offset || i >= text.size())
            break;
        size_t next = text.find_first_not_of(" \t\r\n", i + 1);
        // A key follows '{' or ',': a string after ':' is a value (perhaps a
        // password followed by a stray ':') and is never named.
        size_t before = start >= 2 ? text.find_last_not_of(" \t\r\n", start - 2) : std::string::npos;
        bool key_position = before != std::string::npos && (text[before] == '{' || text[before] == ',');
        std::string str = text.substr(start, i - start);
        if (next != std::string::npos && next < offset && text[next] == ':' && key_position &&
            is_name(str))
            key = str;
    }
    return key;
}

JsonLines json_lines(const std::string& text) {
    JsonLines out;
    int depth = 0, line = 1;
    std::string top_key, profile;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\n') {
            ++line;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        } else if (c == '"') {
            size_t start = ++i;
            while (i < text.size() && text[i] != '"')
                i += text[i] == '\\' ? 2 : 1;
            std::string str = text.substr(start, i - start);
            size_t next = text.find_first_not_of(" \t\r\n", i + 1);
            if (next == std::string::npos || text[next] != ':')
                continue;
            auto note = [&](std::map<std::string, int>& m, const std::string& where) {
                auto [seen, fresh] = m.emplace(str, line);
                if (!fresh && is_name(str))
                    out.duplicates.push_back(":" + std::to_string(line) + ": " + str +
                                             " is set twice in " + where + " (line " +
                                             std::to_string(seen->second) +
                                             " and here); the last one wins");
            };
            if (depth == 1) {
                top_key = str;
                note(out.top, "the top level");
            } else if (depth == 2 && top_key == "profiles") {
                profile = str;
                note(out.profiles, "profiles");
            } else if (depth == 3 && top_key == "profiles") {
                note(out.keys[profile], is_name(profile) ? "profile \"" + profile + "\"" : "a profile");
            }
        }
    }
    return out;
}

} // namespace

util::Result<ConfigFile> parse_ini(const std::string& path, const std::string& text) {
    ConfigFile file;
    file.path = path;
    Section* current = &file.top;
    std::map<const Section*, std::map<std::string, int>> keys_seen;
    int line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        std::string raw = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        pos = eol == std::string::npos ? text.size() : eol + 1;
        ++line_no;
        std::string line = util::trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            if (line.back() != ']')
                return file_error(path, line_no, "a section header must end with ']'");
            std::string inner = util::trim(line.substr(1, line.size() - 2));
            if (inner == "defaults") {
                current = &file.top;
                continue;
            }
            auto words = util::split_list(inner, ' ');
            if (words.size() != 2 || words[0] != "profile" || !is_name(words[1])) {
                bool plain = std::all_of(inner.begin(), inner.end(), [](char c) {
                    return c == ' ' || is_name(std::string_view(&c, 1));
                });
                return file_error(path, line_no,
                                  plain ? "unknown section [" + inner + "]" : "unknown section",
                                  "use [profile NAME] or [defaults]; a NAME holds letters, digits, "
                                  "'.', '-', '_' and '@'");
            }
            if (file.profiles.count(words[1]))
                return file_error(path, line_no, "profile \"" + words[1] + "\" is defined twice",
                                  "first at line " + std::to_string(file.profiles[words[1]].line));
            Section& s = file.profiles[words[1]];
            s.name = words[1];
            s.line = line_no;
            current = &s;
            continue;
        }
        auto eq = line.find('=');
        std::string key = util::trim(line.substr(0, eq == std::string::npos ? 0 : eq));
        if (eq == std::string::npos || !is_name(key)) {
            // The line's text is not shown: a line that is not `key = value`
            // could be anything, a password included.
            std::string word = line.substr(0, line.find_first_of(" \t:="));
            if (eq == std::string::npos && find_key(word))
                return file_error(path, line_no, word + ": expected '=' after the key",
                                  "write " + word + " = VALUE");
            return file_error(path, line_no,
                              eq == 0 ? "a line starts with '=' (no key)"
                                      : "expected \"key = value\" (the line is not shown)",
                              "a key is a name such as server or password_file; a comment line "
                              "starts with # or ;");
        }
        auto value = parse_value(std::string_view(line).substr(eq + 1), path, line_no, key);
        if (!value)
            return value.error();
        auto [seen, fresh] = keys_seen[current].emplace(key, line_no);
        if (!fresh)
            file.warnings.push_back(path + ":" + std::to_string(line_no) + ": " + key +
                                    " is set twice in " + section_label(*current) + " (line " +
                                    std::to_string(seen->second) + " and here); the last one wins");
        if (key == "default" && current == &file.top) {
            file.default_profile = Entry{key, *value, line_no};
            continue;
        }
        current->entries.push_back(Entry{key, *value, line_no});
    }
    return file;
}

util::Result<ConfigFile> parse_json(const std::string& path, const std::string& text) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::out_of_range&) {
        // A number too large for any type (found by fuzzing: it is not a
        // parse_error). nlohmann's text quotes the number: not shown.
        return file_error(path, 0, "a number is out of range");
    } catch (const nlohmann::json::parse_error& e) {
        size_t offset = e.byte > 0 ? e.byte - 1 : 0;
        size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
        size_t column = line_start == std::string::npos ? offset + 1 : offset - line_start;
        std::string key = key_before(text, offset);
        return file_error(path, line_of(text, offset),
                          "column " + std::to_string(column) + ": " +
                              (key.empty() ? std::string() : key + ": ") + json_reason(e.what()));
    }
    if (!doc.is_object())
        return file_error(path, 1, "the top level must be an object {...}");
    ConfigFile file;
    file.path = path;
    const JsonLines lines = json_lines(text);
    for (const auto& d : lines.duplicates)
        file.warnings.push_back(path + d);
    auto line_in = [](const std::map<std::string, int>& m, const std::string& key) {
        auto it = m.find(key);
        return it == m.end() ? 0 : it->second;
    };
    auto not_a_name = [&](int line) {
        return file_error(path, line, "a key that is not a name (not shown: it could be a secret)",
                          "a key is a name such as server or password_file");
    };
    auto to_text = [&](const std::string& key, const nlohmann::json& v, int line)
        -> util::Result<std::string> {
        if (v.is_string())
            return v.get<std::string>();
        if (v.is_number_integer())
            return std::to_string(v.get<long long>());
        if (v.is_boolean())
            return std::string(v.get<bool>() ? "true" : "false");
        return file_error(path, line, key + ": expected a string, number or boolean");
    };
    auto read_section = [&](const nlohmann::json& obj, Section& section) -> util::Status {
        const auto& where = lines.keys.count(section.name) ? lines.keys.at(section.name)
                                                           : std::map<std::string, int>{};
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            int line = line_in(where, it.key());
            if (section.name.empty() && (it.key() == "profiles" || it.key() == "default"))
                continue;
            if (!is_name(it.key()))
                return not_a_name(line);
            auto v = to_text(it.key(), it.value(), line);
            if (!v)
                return v.error();
            section.entries.push_back(Entry{it.key(), *v, line});
        }
        return util::Ok{};
    };
    // Keys in document order (nlohmann sorts them), so entries keep the file's order.
    std::vector<std::string> order;
    for (auto it = doc.begin(); it != doc.end(); ++it)
        order.push_back(it.key());
    std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
        return line_in(lines.top, a) < line_in(lines.top, b);
    });
    for (const auto& key : order) {
        const auto& v = doc[key];
        if (key == "default") {
            int line = line_in(lines.top, key);
            if (!v.is_string())
                return file_error(path, line, "default: expected the name of a profile");
            file.default_profile = Entry{key, v.get<std::string>(), line};
        } else if (key == "profiles") {
            if (!v.is_object())
                return file_error(path, line_in(lines.top, key),
                                  "profiles: expected an object of named profiles");
            std::vector<std::string> names;
            for (auto it = v.begin(); it != v.end(); ++it)
                names.push_back(it.key());
            std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
                return line_in(lines.profiles, a) < line_in(lines.profiles, b);
            });
            for (const auto& name : names) {
                int line = line_in(lines.profiles, name);
                if (!is_name(name))
                    return file_error(path, line, "a profile name that is not a name (not shown)",
                                      "a profile name holds letters, digits, '.', '-', '_' and '@'");
                if (!v[name].is_object())
                    return file_error(path, line, "profile \"" + name + "\" must be an object");
                Section& s = file.profiles[name];
                s.name = name;
                s.line = line;
                if (auto st = read_section(v[name], s); !st)
                    return st.error();
            }
        } else {
            int line = line_in(lines.top, key);
            if (!is_name(key))
                return not_a_name(line);
            auto text_value = to_text(key, v, line);
            if (!text_value)
                return text_value.error();
            file.top.entries.push_back(Entry{key, *text_value, line});
        }
    }
    return file;
}

util::Result<std::string> read_settings_text(const std::string& path, util::ErrorKind kind,
                                             struct stat* info) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return make_error(path + ": " + std::strerror(errno), "", kind);
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        close(fd);
        return make_error(path + ": " + std::strerror(errno), "", kind);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return file_error(path, 0, S_ISDIR(st.st_mode) ? "is a directory, not a settings file"
                                                       : "is not a regular file");
    }
    if (static_cast<size_t>(st.st_size) > max_file_size) {
        close(fd);
        return file_error(path, 0, "is larger than 1 MiB; that is not a settings file");
    }
    std::string text(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = read(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += static_cast<size_t>(n);
    }
    close(fd);
    text.resize(done);
    if (text.find('\0') != std::string::npos)
        return file_error(path, 0, "contains NUL bytes; that is not a settings file");
    if (info)
        *info = st;
    return text;
}

util::Result<ConfigFile> read_config_file(const std::string& path, bool system) {
    struct stat st {};
    auto read = read_settings_text(path, util::ErrorKind::config, &st);
    if (!read)
        return read.error();
    const std::string& text = *read;
    bool json = path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
    auto file = json ? parse_json(path, text) : parse_ini(path, text);
    if (!file)
        return file;
    file->system = system;
    // A readable secret is refused: root's system file may be group-readable.
    mode_t too_open = system && st.st_uid == 0 ? S_IROTH | S_IWOTH
                                               : S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;
    if (st.st_mode & too_open) {
        std::vector<const Entry*> all;
        for (const auto& e : file->top.entries)
            all.push_back(&e);
        for (const auto& [name, s] : file->profiles)
            for (const auto& e : s.entries)
                all.push_back(&e);
        for (const Entry* e : all)
            if (e->key == "password" || e->key == "password_cmd" || e->key == "oauth2_token_cmd" ||
                e->key == "proxy_password" || e->key == "proxy_password_cmd")
                return file_error(path, e->line,
                                  e->key + " is set in a file that others can read",
                                  "chmod 600 " + path);
    }
    return file;
}

} // namespace smtpsend::config
