// `smtpsend explain`: diagnoses an error text pasted from any mail tool
// (a raw reply, .NET, PowerShell, msmtp, curl, Python's smtplib).
#pragma once

#include "diagnosis/diagnosis.hpp"

#include <optional>
#include <string>

namespace smtpsend::diagnosis {

struct Explanation {
    bool understood = false; // false: the text holds nothing we can read
    Diagnosis diagnosis;
    std::string tool;        // the tool the text came from, when recognisable
};

// Reads the reply code, enhanced code, stage and tool from `text`. `stage`
// and `server` (a host name) refine the diagnosis when given.
Explanation explain(const std::string& text, std::optional<transport::Stage> stage,
                    const std::string& server);

} // namespace smtpsend::diagnosis
