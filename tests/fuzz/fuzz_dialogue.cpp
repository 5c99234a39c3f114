// libFuzzer target: the SMTP dialogue parser, fed what libcurl feeds it.
// The input is split into lines: "C:..." is a command we sent, "B" the end
// of the body, anything else a server reply line (any bytes, any length).
// Checked beyond crashes: every reply kept is bounded (lines and line
// length), codes are three digits or 0, an enhanced code agrees with the
// reply's class, recipients keep their count and order, and an AUTH payload
// never reaches the transcript.
#include "transport/dialogue.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using smtpsend::transport::Dialogue;
using smtpsend::transport::Outcome;
using smtpsend::transport::Reply;

namespace {

void check_reply(const Reply& r) {
    if (r.code < 0 || r.code > 999)
        __builtin_trap();
    if (r.lines.size() > Dialogue::max_reply_lines + 1)
        __builtin_trap();
    for (const auto& l : r.lines)
        if (l.size() > Dialogue::max_line_bytes)
            __builtin_trap();
    if (!r.enhanced.empty() && (r.lines.empty() || r.enhanced[0] != r.lines.front()[0]))
        __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::vector<std::string> rcpts{"a@x.org", "b@x.org", "c@x.org"};
    const std::string secret = "c2VjcmV0U0VDUkVU"; // only ever sent inside AUTH
    Dialogue d(rcpts, nullptr);
    // The secret's text reaches the dialogue only inside our AUTH command:
    // taken out of every other line the input supplies, so a transcript
    // line holding it can only be a leak of the AUTH payload.
    auto without_secret = [&](std::string_view text) {
        std::string out(text);
        for (size_t at; (at = out.find(secret)) != std::string::npos;)
            out.erase(at, secret.size());
        return out;
    };
    while (!in.empty()) {
        size_t eol = in.find('\n');
        std::string_view line = in.substr(0, eol == std::string_view::npos ? in.size() : eol + 1);
        in.remove_prefix(line.size());
        if (line.substr(0, 2) == "C:") {
            std::string cmd = without_secret(line.substr(2));
            if (cmd.rfind("AUTH", 0) == 0)
                cmd = "AUTH PLAIN " + secret + "\r\n";
            d.on_command(cmd);
        } else if (line == "B" || line == "B\n") {
            d.on_body_complete();
        } else {
            d.on_reply_line(without_secret(line));
        }
        if (d.last_reply())
            check_reply(*d.last_reply());
    }
    Outcome out;
    d.fill(out);
    if (out.recipients.size() != rcpts.size())
        __builtin_trap();
    for (size_t i = 0; i < rcpts.size(); ++i) {
        if (out.recipients[i].address != rcpts[i])
            __builtin_trap();
        if (out.recipients[i].reply)
            check_reply(*out.recipients[i].reply);
    }
    for (const auto& t : out.transcript)
        if (t.text.find(secret) != std::string::npos)
            __builtin_trap();
    // The reply parser alone, on the whole input as one line.
    check_reply(smtpsend::transport::make_reply({std::string(reinterpret_cast<const char*>(data),
                                                             size < 4096 ? size : 4096)}));
    return 0;
}
