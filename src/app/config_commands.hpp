// `smtpsend config providers` and `smtpsend config import FILE`: text for
// stdout, or an error for the caller to report.
#pragma once

#include "util/result.hpp"

#include <string>

namespace smtpsend::app {

// The provider presets: a table, one name per line (`names`), or JSON.
std::string providers_text(bool json, bool names);

// What `config import` prints.
struct ImportText {
    std::string profiles; // the INI (or JSON) text for stdout
    std::string notes;    // "warning: ..." lines and the next step, for stderr
};
// Reads an msmtp or .NET configuration file and renders the equivalent
// profiles. Fails (kind "noinput" or "input") naming the file and line.
util::Result<ImportText> render_import(const std::string& path, const std::string& name, bool json);

} // namespace smtpsend::app
