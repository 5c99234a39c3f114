#include "app/config_commands.hpp"

#include "config/import.hpp"
#include "config/providers.hpp"
#include "config/server_url.hpp"
#include "util/json_text.hpp"

#include <algorithm>
#include <sstream>

namespace smtpsend::app {

namespace {

// The host as a reader sees it: "{region}" shown as REGION, else the default region's.
std::string host_text(const config::Provider& p) {
    std::string host(p.host);
    if (auto at = host.find("{region}"); at != std::string::npos)
        return host.replace(at, 8, "REGION");
    return host.empty() ? config::provider_host(p, "").value() : host;
}

} // namespace

std::string providers_text(bool json, bool names) {
    std::ostringstream out;
    const auto& all = config::providers();
    if (names) {
        for (const auto& p : all)
            out << p.name << "\n";
        return out.str();
    }
    if (json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& p : all) {
            nlohmann::json regions = nlohmann::json::object();
            for (const auto& r : p.regions)
                regions[std::string(r.region)] = r.host;
            list.push_back({{"name", p.name},
                            {"title", p.title},
                            {"host", host_text(p)},
                            {"port", p.port},
                            {"tls", config::tls_mode_name(p.tls)},
                            {"auth", p.auth},
                            {"user", p.user},
                            {"regions", regions},
                            {"default_region", p.default_region},
                            {"you_supply", p.supply},
                            {"setup_url", p.setup_url}});
        }
        return util::json_text(list, 2) + "\n";
    }
    size_t name_w = 0, host_w = 0;
    for (const auto& p : all) {
        name_w = std::max(name_w, p.name.size());
        host_w = std::max(host_w, host_text(p).size() + 4);
    }
    for (const auto& p : all) {
        std::string where = host_text(p) + ":" + std::to_string(p.port);
        out << p.name << std::string(name_w - p.name.size() + 2, ' ') << where
            << std::string(host_w + 2 > where.size() ? host_w + 2 - where.size() : 1, ' ')
            << config::tls_mode_name(p.tls) << (p.auth == "auto" ? "" : ", auth " + std::string(p.auth)) << "\n"
            << std::string(name_w + 2, ' ') << p.title << "\n"
            << std::string(name_w + 2, ' ') << "you supply: " << p.supply << "\n"
            << std::string(name_w + 2, ' ') << p.setup_url << "\n";
    }
    out << "\nUse: provider = NAME in a profile, or --provider NAME; a setting beside it, or "
           "in a later layer, wins.\n";
    return out.str();
}

util::Result<ImportText> render_import(const std::string& path, const std::string& name, bool json) {
    auto imported = config::import_config(path, name.empty() ? "dotnet" : name);
    if (!imported)
        return imported.error();
    ImportText t;
    t.profiles = json ? util::json_text(config::imported_json(*imported), 2) + "\n"
                      : config::imported_ini(*imported);
    for (const auto& w : imported->warnings)
        t.notes += "warning: " + w + "\n";
    std::string profile = !imported->default_profile.empty() ? imported->default_profile
                          : !imported->profiles.empty()      ? imported->profiles.front().name
                                                             : "";
    t.notes += "next: save this as ~/.config/smtpsend/config." + std::string(json ? "json" : "ini") +
               " (chmod 600), add the password source, then run: smtpsend check";
    if (!profile.empty())
        t.notes += " --profile " + profile;
    t.notes += "\n";
    return t;
}

} // namespace smtpsend::app
