// The top level: runs one invocation from argv to an exit code.
#pragma once

#include "config/load.hpp"
#include "util/system.hpp"

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace smtpsend::app {

// What a run reads and writes besides the network. Injectable for tests.
struct Io {
    const util::Environment& env;
    int stdin_fd;
    std::ostream& out;
    std::ostream& err;
};

// The settings layers for this command line (its flags, --config and
// --profile, or `profile` when given), with the built-in system folder.
util::Result<config::Loaded> load_settings_for(const std::vector<std::pair<std::string, std::string>>& flags,
                                               const std::string& config_path, const std::string& profile,
                                               const util::Environment& env);

// Runs smtpsend; returns the process exit code. Holds the one top-level
// catch that turns an unexpected exception into "smtpsend: error: ..." and 70.
int run(int argc, const char* const* argv, Io io);

// run() with the process's real environment, stdin, stdout and stderr.
int run(int argc, const char* const* argv);

} // namespace smtpsend::app
