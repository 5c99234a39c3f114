#include "message/aliases.hpp"

#include "util/strings.hpp"
#include "util/system.hpp"

#include <algorithm>

namespace smtpsend::message {

using util::make_error;

util::Result<AliasTable> read_aliases(const std::string& path) {
    auto text = util::read_small_file(path, 4 << 20);
    if (!text)
        return make_error("cannot read the aliases file: " + text.error().message,
                          "check `aliases` (SMTPSEND_ALIASES)", util::ErrorKind::config);
    AliasTable table;
    table.path = path;
    std::string current;
    int line_no = 0;
    size_t pos = 0;
    while (pos < text->size()) {
        size_t eol = text->find('\n', pos);
        std::string line = text->substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        pos = eol == std::string::npos ? text->size() : eol + 1;
        ++line_no;
        std::string t = util::trim(line);
        if (t.empty() || t[0] == '#')
            continue;
        std::string targets;
        if ((line[0] == ' ' || line[0] == '\t') && !current.empty()) {
            targets = t;
        } else {
            auto colon = t.find(':');
            if (colon == std::string::npos)
                return make_error(path + ":" + std::to_string(line_no) +
                                      ": expected \"name: address, ...\"",
                                  "", util::ErrorKind::config);
            current = util::to_lower(util::trim(t.substr(0, colon)));
            targets = t.substr(colon + 1);
        }
        for (auto& target : util::split_list(targets, ','))
            table.entries[current].push_back(target);
    }
    return table;
}

namespace {

util::Status expand(const std::string& name, const AliasTable* table, const std::string& domain,
                    std::vector<std::string>& chain, std::vector<std::string>& out) {
    std::string key = util::to_lower(name);
    if (std::find(chain.begin(), chain.end(), key) != chain.end())
        return make_error("alias loop: " + util::join(chain, " -> ") + " -> " + key,
                          "fix the aliases file" + (table ? " " + table->path : std::string()),
                          util::ErrorKind::nouser);
    const std::vector<std::string>* targets = nullptr;
    if (table) {
        if (auto it = table->entries.find(key); it != table->entries.end())
            targets = &it->second;
    }
    if (!targets) {
        if (!domain.empty()) {
            out.push_back(name + "@" + domain);
            return util::Ok{};
        }
        if (table)
            if (auto it = table->entries.find("default"); it != table->entries.end() && key != "default")
                targets = &it->second;
    }
    if (!targets)
        return make_error("cannot resolve the local recipient \"" + name + "\": no alias" +
                              (table ? " in " + table->path : std::string(" file is set")) +
                              " and no domain",
                          "add \"" + name + ": you@example.com\" to the aliases file (`aliases`, "
                          "in /etc/aliases format) or set `domain`",
                          util::ErrorKind::nouser);
    chain.push_back(key);
    for (const auto& t : *targets) {
        if (t.empty() || t[0] == '|' || t[0] == '/' || t.rfind(":include:", 0) == 0)
            return make_error("alias \"" + key + "\" delivers to \"" + t +
                                  "\", a program or file; smtpsend sends only to addresses",
                              "point the alias at a mail address", util::ErrorKind::nouser);
        if (t.find('@') != std::string::npos)
            out.push_back(t);
        else if (auto st = expand(t, table, domain, chain, out); !st)
            return st;
    }
    chain.pop_back();
    return util::Ok{};
}

} // namespace

util::Result<std::vector<std::string>> resolve_local(const std::string& name, const AliasTable* table,
                                                     const std::string& domain) {
    std::vector<std::string> chain, out;
    if (auto st = expand(name, table, domain, chain, out); !st)
        return st.error();
    return out;
}

} // namespace smtpsend::message
