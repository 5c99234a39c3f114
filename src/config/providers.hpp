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
// The host for a region ("" = the default). Fails naming the accepted regions;
// a provider without regions ignores the region.
util::Result<std::string> provider_host(const Provider& p, const std::string& region);
// Fills server, port, tls, auth (and user, when the preset has one) from the
// preset, each with an origin that names the preset and where `provider` was
// set. Called when `provider` or `region` is assigned, so later layers win.
util::Status apply_preset(Settings& s, const Provider& p, const Origin& from);

} // namespace smtpsend::config
