// sendmail -bs: an SMTP server on standard input and output (the default of
// Symfony Mailer and SwiftMailer). Each message accepted with the usual
// dialogue is relayed through the configured server at once, and the client
// is answered with the real outcome.
#pragma once

#include "app/app.hpp"
#include "config/load.hpp"
#include "transport/outcome.hpp"

#include <functional>

namespace smtpsend::app {

// Serves until QUIT or the end of input; returns 0 (failures are SMTP replies).
int serve_smtp_stdio(const config::Loaded& loaded, Io& io,
                     std::function<void(const transport::TranscriptLine&)> on_line);

} // namespace smtpsend::app
