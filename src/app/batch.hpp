// `smtpsend batch`: many messages over one authenticated connection, from
// JSON Lines (one message per line) or complete message files (--eml).
#pragma once

#include "app/app.hpp"
#include "cli/cli.hpp"

namespace smtpsend::app {

int run_batch(const cli::Invocation& inv, Io& io);

} // namespace smtpsend::app
