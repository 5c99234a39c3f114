// Fills Settings in layers, the order written once (later wins):
// built-in defaults < system file < user file (or --config) < the chosen
// profile (system, then user; inherited profiles first) < environment < flags.
// A provider preset fills, last, only what none of them set.
#pragma once

#include "config/files.hpp"
#include "config/settings.hpp"
#include "util/system.hpp"

#include <string>
#include <utility>
#include <vector>

namespace smtpsend::config {

struct LayerInputs {
    const util::Environment* env = nullptr;
    std::vector<std::pair<std::string, std::string>> flags; // (key, value) from the command line
    std::string config_flag;                                // --config FILE
    std::string profile_flag;                               // --profile NAME
    std::string system_dir = "/etc/smtpsend";
    // The settings a queue entry was queued with (queue flush): above the
    // environment, below the flags; their origin reads `recorded_origin`.
    std::vector<std::pair<std::string, std::string>> recorded;
    std::string recorded_origin;                            // "queue entry ID"
};

struct Loaded {
    Settings settings;
    std::string profile;          // "" when none is in force
    std::string profile_origin;   // "flag --profile", "env SMTPSEND_PROFILE", "FILE:LINE"
    std::vector<ConfigFile> files; // system first, then user (or --config)
    // Things that are not errors but most likely mistakes, one line each: a
    // key set twice in a section, an SMTPSEND_ variable that is no setting.
    std::vector<std::string> warnings;
};

// Checks every section of a file on its own, not only the ones in force, so
// a typo in another profile is found the first time the file is read. Fails
// naming the file, line and key (never a secret's value).
util::Status check_file(const ConfigFile& f);

// Runs every layer. Fails with kind "config" naming the file, line and key
// (or "usage" for a bad flag value).
util::Result<Loaded> load_settings(const LayerInputs& inputs);

// load_settings for one run of the program: these flags, --config and
// --profile (or `profile`), and the built-in system folder; for a queue
// entry also the settings it recorded.
util::Result<Loaded> load_for_run(const std::vector<std::pair<std::string, std::string>>& flags,
                                  const std::string& config_path, const std::string& profile,
                                  const util::Environment& env,
                                  const std::vector<std::pair<std::string, std::string>>& recorded = {},
                                  const std::string& recorded_origin = {});

} // namespace smtpsend::config
