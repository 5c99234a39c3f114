// Internal to src/diagnosis: writes the summary and hints of a table row for
// this run (its settings, the recognised provider).
#pragma once

#include "diagnosis/rules.hpp"

#include <string>

namespace smtpsend::diagnosis::detail {

void compose_reply(Diagnosis& d, const Context& c, const transport::Reply& r,
                   const ReplyRule& rule, const std::string& provider);
void compose_error(Diagnosis& d, const Context& c, const ErrorRule& rule,
                   const std::string& provider);

} // namespace smtpsend::diagnosis::detail
