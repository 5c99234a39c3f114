// The MIME type of a file, from its extension and /etc/mime.types (Debian's
// media-types package).
#pragma once

#include <string>

namespace smtpsend::message {

// "image/png" for "logo.png"; "application/octet-stream" when unknown.
// `table` is the mime.types file to read (read once per path).
std::string mime_type_for(const std::string& path, const std::string& table = "/etc/mime.types");

} // namespace smtpsend::message
