// JSON to text for output and files. Server replies may hold any bytes;
// invalid UTF-8 is replaced (U+FFFD) rather than throwing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace smtpsend::util {

// One line, or indented when `indent` >= 0.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
    return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace smtpsend::util
