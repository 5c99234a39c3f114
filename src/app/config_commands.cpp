// smtpsend config show|profiles|providers|import.
#include "app/commands.hpp"

#include "config/keys.hpp"
#include "config/load.hpp"

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

// The provider presets: a table, one name per line (`names`), or JSON.
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

// What `config import` prints.
struct ImportText {
    std::string profiles; // the INI (or JSON) text for stdout
    std::string notes;    // "warning: ..." lines and the next step, for stderr
};

// Reads an msmtp or .NET configuration file and renders the equivalent
// profiles. Fails (kind "noinput" or "input") naming the file and line.
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

// Masks secrets for display: never the value, only that it is set.
std::string shown_value(const config::KeyInfo& key, const config::Settings& s) {
    std::string v = key.text(s);
    if (key.secret && !v.empty())
        return "********";
    return v;
}

int run_config_show(const cli::Invocation& inv, Io& io) {
    auto loaded = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded)
        return output::report_failure(io, output::Schema::config, inv.json, loaded.error());
    output::print_warnings(io, loaded->warnings);
    const auto& s = loaded->settings;
    if (inv.json) {
        nlohmann::json j;
        j["profile"] = loaded->profile.empty() ? nlohmann::json() : nlohmann::json(loaded->profile);
        j["profile_origin"] = loaded->profile_origin;
        j["files"] = nlohmann::json::array();
        for (const auto& f : loaded->files)
            j["files"].push_back(f.path);
        for (const auto& key : config::keys())
            j["settings"][std::string(key.name)] = {{"value", shown_value(key, s)},
                                                    {"origin", key.origin(s).describe()},
                                                    {"set", key.is_set(s)}};
        io.out << util::json_text(j, 2) << "\n";
        return 0;
    }
    io.out << "profile = " << (loaded->profile.empty() ? "(none)" : loaded->profile);
    if (!loaded->profile_origin.empty())
        io.out << "  (" << loaded->profile_origin << ")";
    io.out << "\n";
    size_t width = 0;
    for (const auto& key : config::keys())
        width = std::max(width, key.name.size());
    for (const auto& key : config::keys()) {
        std::string v = shown_value(key, s);
        io.out << std::string(key.name) << std::string(width - key.name.size(), ' ') << " = "
               << (v.empty() ? "(unset)" : v) << "  (" << key.origin(s).describe() << ")\n";
    }
    return 0;
}

int run_config_profiles(const cli::Invocation& inv, Io& io) {
    auto loaded = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!loaded)
        return output::report_failure(io, output::Schema::config, inv.json, loaded.error());
    output::print_warnings(io, loaded->warnings);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& f : loaded->files)
        for (const auto& [name, section] : f.profiles) {
            std::string inherits;
            for (const auto& e : section.entries)
                if (e.key == "inherit")
                    inherits = e.value;
            list.push_back({{"name", name},
                            {"file", f.path},
                            {"line", section.line},
                            {"inherit", inherits},
                            {"selected", name == loaded->profile}});
        }
    if (inv.names_only) {
        for (const auto& p : list)
            io.out << p["name"].get<std::string>() << "\n";
        return 0;
    }
    if (inv.json) {
        io.out << util::json_text(list, 2) << "\n";
        return 0;
    }
    if (list.empty()) {
        io.out << "no profiles";
        if (loaded->files.empty())
            io.out << " (no settings file found; see docs/configuration.md)";
        io.out << "\n";
    }
    for (const auto& p : list) {
        io.out << (p["selected"].get<bool>() ? "* " : "  ") << p["name"].get<std::string>() << "  ("
               << p["file"].get<std::string>() << ":" << p["line"].get<int>() << ")";
        if (!p["inherit"].get<std::string>().empty())
            io.out << "  inherits " << p["inherit"].get<std::string>();
        io.out << "\n";
    }
    return 0;
}

} // namespace

int config_command(const cli::Invocation& inv, Io& io) {
    switch (inv.command) {
    case cli::Command::config_show:
        return run_config_show(inv, io);
    case cli::Command::config_profiles:
        return run_config_profiles(inv, io);
    case cli::Command::config_providers:
        io.out << providers_text(inv.json, inv.names_only);
        return 0;
    default: {
        auto text = render_import(inv.import_path, inv.import_name, inv.json);
        if (!text)
            return output::report_failure(io, output::Schema::config, inv.json, text.error());
        io.out << text->profiles;
        io.err << text->notes;
        return 0;
    }
    }
}

} // namespace smtpsend::app
