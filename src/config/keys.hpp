// One vocabulary: the table of profile keys. Each key's flag is
// `--` + key with '_' as '-', and its variable is SMTPSEND_ + KEY.
#pragma once

#include "config/settings.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::config {

struct KeyInfo {
    std::string_view name;       // profile key, e.g. "password_cmd"
    std::string_view value_name; // placeholder in --help, e.g. "CMD"
    std::string_view help;       // one line for --help and the docs
    bool secret = false;         // masked in `config show`
    bool has_flag = true;        // false for `password`: never on a command line
    bool is_bool = false;        // a switch: --key / --no-key on the command line
    // Parses and stores a textual value; fails with the accepted values.
    std::function<util::Status(Settings&, const std::string&, const Origin&)> assign;
    // The current value as text (unmasked) and its origin.
    std::function<std::string(const Settings&)> text;
    std::function<const Origin&(const Settings&)> origin;
    std::function<bool(const Settings&)> is_set;
};

// All keys, in the order `config show` prints them.
const std::vector<KeyInfo>& keys();
// The key with this name, or nullptr.
const KeyInfo* find_key(std::string_view name);
// "--password-cmd" for "password_cmd".
std::string flag_name(std::string_view key);
// "SMTPSEND_PASSWORD_CMD" for "password_cmd".
std::string env_name(std::string_view key);
// The closest key name to a misspelt one, or "" when nothing is close.
std::string suggest_key(std::string_view unknown);

} // namespace smtpsend::config
