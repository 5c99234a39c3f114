// Provider presets: `provider = gmail` fills server, port, TLS mode and the
// usual auth mechanism (and, for a few, the fixed user name), so a profile
// needs only what the provider cannot know: the login and its secret.
#pragma once

#include "config/settings.hpp"
#include "util/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::config {

// A host that depends on the `region` setting, e.g. Mailgun's "eu".
struct RegionHost {
    std::string_view region;
    std::string_view host;
};

struct Provider {
    std::string_view name;        // the value of `provider`, e.g. "gmail"
    std::string_view title;       // "Gmail (personal Google accounts)"
    std::string_view host;        // the host; "{region}" in it stands for an AWS region,
                                  // "" when `regions` names the hosts
    long port = 587;
    TlsMode tls = TlsMode::starttls;
    std::string_view auth = "auto";
    std::string_view user;        // a fixed login name ("apikey"), "" when personal
    std::string_view supply;      // what the user must still set, one line
    std::string_view setup_url;   // the provider's own page for these settings
    std::vector<RegionHost> regions; // accepted regions; empty when any is accepted
    std::string_view default_region;
};

// All presets, in the order `config providers` lists them.
const std::vector<Provider>& providers();
// The preset with this name, or nullptr.
const Provider* find_provider(std::string_view name);
// The host for a region ("" = the default). Fails naming the accepted regions,
// with a suggestion; SES has no default region (it is required). A provider
// without regions ignores the region.
util::Result<std::string> provider_host(const Provider& p, const std::string& region);
// Fills what nothing else set from the chosen preset, once, after every
// layer: server (from the region), port and tls when no `server` is set, and
// auth and user when unset; each with an origin naming the preset and where
// `provider` was set. A `server` URL from any layer wins: its port and TLS
// mode fill port and tls, with the server's origin. Fails when the preset
// needs a region that is missing or unknown (kind by the value's layer).
util::Status apply_preset(Settings& s);

} // namespace smtpsend::config
