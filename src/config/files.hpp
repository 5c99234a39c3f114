// Profile files: INI and JSON hold the same model (top-level defaults, a
// `default` profile name, named profiles that may `inherit`), with the line of
// every entry so errors and `config show` can point at it.
#pragma once

#include "util/result.hpp"

#include <map>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace smtpsend::config {

struct Entry {
    std::string key;
    std::string value;
    int line = 0;
};

struct Section {
    std::string name; // "" for the top level
    int line = 0;
    std::vector<Entry> entries;
};

struct ConfigFile {
    std::string path;
    bool system = false;                  // /etc/smtpsend: root-owned, may be group-readable
    Section top;                          // top-level defaults
    std::optional<Entry> default_profile; // `default = NAME`
    std::map<std::string, Section> profiles;
    std::vector<std::string> warnings;    // "FILE:LINE: server is set twice in ..."
};

// INI: `key = value` lines; `[profile NAME]` sections (`[defaults]` is the
// top level); comment lines start with # or ;, and outside quotes a '#' or
// ';' after a space or tab starts a comment (`tls = none  # test only`). A
// value is the text after the first '=', trimmed, so '=', ':' and a '#' or
// ';' inside a word are literal; a value in double quotes keeps its spaces
// and takes \" and \\ escapes. A key set twice in one section is a warning
// (the last wins). Errors name the file, line and key, never a value: a line
// that is not `key = value` is not shown at all.
util::Result<ConfigFile> parse_ini(const std::string& path, const std::string& text);

// JSON: {"default": "work", "server": ..., "profiles": {"work": {...}}}.
// Strings, numbers and booleans are accepted as values.
util::Result<ConfigFile> parse_json(const std::string& path, const std::string& text);

// Reads and parses a file by its extension (.json, else INI). Refuses a
// directory, a FIFO or anything not a regular file, a file over 1 MiB, and a
// file holding a password or password_cmd that others can read.
util::Result<ConfigFile> read_config_file(const std::string& path, bool system);

// The whole of a small settings file (at most 1 MiB, no NUL bytes). Fails
// naming the file; a file that cannot be opened gives an error of `kind`.
// `info`, when given, receives the file's status (owner and mode).
util::Result<std::string> read_settings_text(const std::string& path, util::ErrorKind kind,
                                             struct stat* info = nullptr);

} // namespace smtpsend::config
