#include "config/files.hpp"

#include "util/strings.hpp"

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
                      "config");
}

util::Result<std::string> unquote(const std::string& v, const std::string& path, int line) {
    if (v.size() < 2 || v.front() != '"')
        return v;
    if (v.back() != '"')
        return file_error(path, line, "unclosed quote in value " + v,
                          "a quoted value ends with \"; inside, write \\\" and \\\\");
    std::string out;
    for (size_t i = 1; i + 1 < v.size(); ++i) {
        if (v[i] == '\\' && i + 2 < v.size() && (v[i + 1] == '"' || v[i + 1] == '\\'))
            ++i;
        out += v[i];
    }
    return out;
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
    std::map<std::string, int> top;                             // top-level keys
    std::map<std::string, int> profiles;                        // profile names
    std::map<std::string, std::map<std::string, int>> keys;     // keys inside each profile
};

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
            if (depth == 1) {
                top_key = str;
                out.top.emplace(str, line);
            } else if (depth == 2 && top_key == "profiles") {
                profile = str;
                out.profiles.emplace(str, line);
            } else if (depth == 3 && top_key == "profiles") {
                out.keys[profile].emplace(str, line);
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
            if (words.size() != 2 || words[0] != "profile")
                return file_error(path, line_no, "unknown section [" + inner + "]",
                                  "use [profile NAME] or [defaults]");
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
        if (eq == std::string::npos)
            return file_error(path, line_no, "expected \"key = value\", found \"" + line + "\"");
        std::string key = util::trim(line.substr(0, eq));
        auto value = unquote(util::trim(line.substr(eq + 1)), path, line_no);
        if (!value)
            return value.error();
        if (key.empty())
            return file_error(path, line_no, "a line starts with '=' (no key)");
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
    } catch (const nlohmann::json::out_of_range& e) {
        // A number too large for any type (found by fuzzing: it is not a parse_error).
        return file_error(path, 0, std::string("a number is out of range: ") + e.what());
    } catch (const nlohmann::json::parse_error& e) {
        size_t offset = e.byte > 0 ? e.byte - 1 : 0;
        size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
        size_t column = line_start == std::string::npos ? offset + 1 : offset - line_start;
        std::string what = e.what();
        auto colon = what.find("syntax error");
        return file_error(path, line_of(text, offset),
                          "column " + std::to_string(column) + ": " +
                              (colon == std::string::npos ? what : what.substr(colon)));
    }
    if (!doc.is_object())
        return file_error(path, 1, "the top level must be an object {...}");
    ConfigFile file;
    file.path = path;
    const JsonLines lines = json_lines(text);
    auto line_in = [](const std::map<std::string, int>& m, const std::string& key) {
        auto it = m.find(key);
        return it == m.end() ? 0 : it->second;
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
            auto text_value = to_text(key, v, line);
            if (!text_value)
                return text_value.error();
            file.top.entries.push_back(Entry{key, *text_value, line});
        }
    }
    return file;
}

util::Result<std::string> read_settings_text(const std::string& path, const std::string& kind,
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
    auto read = read_settings_text(path, "config", &st);
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
            if (e->key == "password" || e->key == "password_cmd" || e->key == "oauth2_token_cmd")
                return file_error(path, e->line,
                                  e->key + " is set in a file that others can read",
                                  "chmod 600 " + path);
    }
    return file;
}

} // namespace smtpsend::config
