// Helpers shared by the unit tests.
#pragma once

#include "transport/outcome.hpp"

#include <optional>
#include <string>
#include <vector>

namespace testutil {

// A server reply from its text: lines split at LF (a CR before it dropped).
inline smtpsend::transport::Reply reply_of(const std::string& text) {
    std::vector<std::string> lines;
    for (size_t pos = 0; pos <= text.size();) {
        size_t eol = text.find('\n', pos);
        std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        lines.push_back(line);
        if (eol == std::string::npos)
            break;
        pos = eol + 1;
    }
    return smtpsend::transport::make_reply(lines);
}

// What a capability probe (delivery::CapabilityProbe) finds: a server with or
// without SMTPUTF8, or (nothing) one that refuses the connection.
inline smtpsend::transport::Outcome probed(std::optional<bool> smtputf8) {
    using smtpsend::transport::Outcome;
    Outcome o;
    if (!smtputf8) {
        o.status = Outcome::Status::failed;
        o.stage = smtpsend::transport::Stage::connect;
        o.error = smtpsend::transport::NetError::refused;
        return o;
    }
    o.status = Outcome::Status::sent;
    o.stage = smtpsend::transport::Stage::ehlo;
    o.capabilities.seen = true;
    o.capabilities.smtputf8 = *smtputf8;
    return o;
}

// The folder of tests/data, from SMTPSEND_TESTDATA or the source tree.
std::string data_dir();

} // namespace testutil
