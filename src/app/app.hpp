// The top level: runs one invocation from argv to an exit code.
#pragma once

#include "output/report.hpp"

namespace smtpsend::app {

using output::Io;

// Runs smtpsend; returns the process exit code. Holds the one top-level
// catch that turns an unexpected exception into "smtpsend: error: ..." and 70.
int run(int argc, const char* const* argv, Io io);

// run() with the process's real environment, stdin, stdout and stderr.
int run(int argc, const char* const* argv);

} // namespace smtpsend::app
