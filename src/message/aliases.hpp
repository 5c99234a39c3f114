// Local recipients without a domain (cron's "root", a user name), resolved
// as msmtp does: through an aliases file in /etc/aliases format, with a
// `default:` catch-all, or else qualified with a domain.
#pragma once

#include "util/result.hpp"

#include <map>
#include <string>
#include <vector>

namespace smtpsend::message {

struct AliasTable {
    std::string path;
    std::map<std::string, std::vector<std::string>> entries; // name (lower case) -> targets
};

// Reads "name: target, target" lines; continuation lines start with white
// space; '#' starts a comment line. Fails (kind "config") on a line without
// ':', naming the file and line.
util::Result<AliasTable> read_aliases(const std::string& path);

// Expands `name` (no '@') through the table, recursively; a target without
// '@' is expanded again, then qualified with `domain`. Fails (kind "nouser")
// for a loop, or a name that neither an alias, `default:` nor `domain`
// resolves.
util::Result<std::vector<std::string>> resolve_local(const std::string& name,
                                                     const AliasTable* table,
                                                     const std::string& domain);

} // namespace smtpsend::message
