// `smtpsend queue list|show|flush|drop` (and sendmail's -bp / mailq).
#pragma once

#include "app/app.hpp"
#include "cli/cli.hpp"

namespace smtpsend::app {

int run_queue(const cli::Invocation& inv, Io& io);

} // namespace smtpsend::app
