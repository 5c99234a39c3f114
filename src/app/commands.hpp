// The commands. Each turns an Invocation into an exit code by calling down
// (config, message, delivery, check, diagnosis, output); none calls another.
// app.cpp's table dispatches to them.
#pragma once

#include "cli/cli.hpp"
#include "output/report.hpp"

namespace smtpsend::app {

using output::Io;

int send_command(const cli::Invocation& inv, Io& io);     // smtpsend [OPTIONS] RCPT..., sendmail
int batch_command(const cli::Invocation& inv, Io& io);    // smtpsend batch
int queue_command(const cli::Invocation& inv, Io& io);    // smtpsend queue ..., mailq, sendmail -bp
int check_command(const cli::Invocation& inv, Io& io);    // smtpsend check
int explain_command(const cli::Invocation& inv, Io& io);  // smtpsend explain
int config_command(const cli::Invocation& inv, Io& io);   // smtpsend config show|profiles|providers|import
int smtp_stdio_command(const cli::Invocation& inv, Io& io); // sendmail -bs

} // namespace smtpsend::app
