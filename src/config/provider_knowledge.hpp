// What smtpsend knows about mail providers beyond their presets: how to
// recognise one (host suffixes, and markers in greetings, EHLO names and
// replies) and the advice that goes with its refusals. The one place for it:
// the diagnosis asks here, `providers.cpp` holds the connection presets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::config {

// What a piece of advice is about; the diagnosis picks by topic.
enum class AdviceTopic {
    login,         // the usual causes of a refused login (AUTH 535/534/530)
    app_password,  // the provider asks for an app password (534 5.7.9 and the like)
    auth_disabled, // SMTP AUTH switched off for the account or tenant
    browser,       // a sign-in blocked until the user logs in with a browser
    oauth2,        // the token's scope and source
    sender,        // who may be the sender (From and MAIL FROM)
};

struct Advice {
    AdviceTopic topic;
    std::string_view text;
};

struct ProviderKnowledge {
    std::string_view name;                   // the preset name where there is one ("gmail")
    std::string_view title;                  // "Gmail"
    std::vector<std::string_view> hosts;     // host suffixes, matched at a label boundary
    std::vector<std::string_view> markers;   // lower case; found in a greeting, EHLO name or reply
    std::vector<Advice> advice;
};

// Every provider known, most specific first (the Workspace relay before Gmail).
const std::vector<ProviderKnowledge>& provider_knowledge();
// The provider with this name, or nullptr.
const ProviderKnowledge* find_provider_knowledge(std::string_view name);
// The provider whose host suffix matches `host` ("smtp.gmail.com" -> "gmail"), or "".
std::string provider_from_host(std::string_view host);
// The provider whose marker appears in `text` (a greeting, an EHLO name or a
// reply: "support.google.com/mail", "protection.outlook.com", "amazonses"), or "".
std::string provider_from_text(std::string_view text);
// The advice of `provider` on `topic`, or "".
std::string_view provider_advice(std::string_view provider, AdviceTopic topic);

} // namespace smtpsend::config
