// Mail merge for batch lines: {{name}} placeholders filled from the line's
// "vars". Plain text substitution, one pass, no logic: nothing in a template
// or a value is ever run.
#pragma once

#include "util/result.hpp"

#include <map>
#include <string>
#include <string_view>

namespace smtpsend::message {

using MergeVars = std::map<std::string, std::string, std::less<>>;

// True for a name a placeholder can use: [A-Za-z_][A-Za-z0-9_]*.
bool is_placeholder_name(std::string_view name);

// `text` with every placeholder replaced by its value. A placeholder is
// "{{", optional spaces, a name, optional spaces, "}}"; it is found from
// the left, so "{{{x}}}" is "{" + x + "}". A "{{" that does not start one
// stays as it is. Values are inserted as they are and never scanned again
// (a value "{{x}}" stays literal). Fails (ErrorKind::input) on the first
// name that is not in `vars`, naming it.
util::Result<std::string> fill_placeholders(std::string_view text, const MergeVars &vars);

} // namespace smtpsend::message
