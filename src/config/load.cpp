#include "config/load.hpp"

#include "config/keys.hpp"
#include "util/strings.hpp"
#include "version.hpp"

#include <algorithm>
#include <sys/stat.h>

namespace smtpsend::config {

using util::make_error;

namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

// The one file of `dir`/config.json or `dir`/config.ini; both is an error.
util::Result<std::string> pick_file(const std::string& dir) {
    std::string json = dir + "/config.json", ini = dir + "/config.ini";
    bool j = exists(json), i = exists(ini);
    if (j && i)
        return make_error("both " + json + " and " + ini + " exist",
                          "keep one of them; they hold the same settings", "config");
    return j ? json : i ? ini : std::string();
}

util::Error entry_error(const ConfigFile& f, const Entry& e, const std::string& what,
                        const std::string& hint = {}) {
    return make_error(f.path + ":" + std::to_string(e.line) + ": " + what, hint, "config");
}

Origin entry_origin(const ConfigFile& f, const Entry& e, const std::string& profile) {
    std::string place = f.path + ":" + std::to_string(e.line);
    return Origin::file(profile.empty() ? place : "profile \"" + profile + "\", " + place);
}

// `region` and `provider` go first within one layer, so the preset they
// choose never overrides a setting written beside it.
int layer_rank(const std::string& key) { return key == "region" ? 0 : key == "provider" ? 1 : 2; }

// Applies one section's entries; `inherit` is handled by the caller.
util::Status apply_section(Settings& s, const ConfigFile& f, const Section& section) {
    std::vector<const Entry*> ordered;
    for (const auto& e : section.entries)
        ordered.push_back(&e);
    std::stable_sort(ordered.begin(), ordered.end(), [](const Entry* a, const Entry* b) {
        return layer_rank(a->key) < layer_rank(b->key);
    });
    for (const Entry* ep : ordered) {
        const Entry& e = *ep;
        if (e.key == "inherit" && !section.name.empty())
            continue;
        const KeyInfo* key = find_key(e.key);
        if (!key) {
            std::string near = suggest_key(e.key);
            return entry_error(f, e, "unknown key \"" + e.key + "\"",
                               near.empty() ? "see `smtpsend config show` for the keys"
                                            : "did you mean \"" + near + "\"?");
        }
        if (auto st = key->assign(s, e.value, entry_origin(f, e, section.name)); !st)
            return entry_error(f, e, st.error().message);
    }
    return util::Ok{};
}

// Every section of every file is checked, not only the ones in force, so a
// typo in another profile is found the first time the file is read.
util::Status validate(const ConfigFile& f) {
    Settings scratch;
    if (auto st = apply_section(scratch, f, f.top); !st)
        return st;
    for (const auto& [name, section] : f.profiles) {
        Settings s;
        if (auto st = apply_section(s, f, section); !st)
            return st;
    }
    return util::Ok{};
}

std::vector<std::string> all_profile_names(const std::vector<ConfigFile>& files) {
    std::vector<std::string> names;
    for (const auto& f : files)
        for (const auto& [name, _] : f.profiles)
            if (std::find(names.begin(), names.end(), name) == names.end())
                names.push_back(name);
    return names;
}

// The profile and, before it, everything it inherits, base first.
util::Result<std::vector<std::string>> inheritance_chain(const std::vector<ConfigFile>& files,
                                                         const std::string& name) {
    std::vector<std::string> chain;
    std::string current = name;
    while (!current.empty()) {
        auto seen = std::find(chain.begin(), chain.end(), current);
        if (seen != chain.end()) {
            std::string loop;
            for (auto it = seen; it != chain.end(); ++it)
                loop += *it + " -> ";
            return make_error("inherit loop: " + loop + current,
                              "remove one of the `inherit` lines", "config");
        }
        chain.push_back(current);
        std::string parent;
        const ConfigFile* where = nullptr;
        const Entry* entry = nullptr;
        for (const auto& f : files) {
            auto it = f.profiles.find(current);
            if (it == f.profiles.end())
                continue;
            for (const auto& e : it->second.entries)
                if (e.key == "inherit") {
                    parent = util::trim(e.value);
                    where = &f;
                    entry = &e;
                }
        }
        if (!parent.empty()) {
            bool known = std::any_of(files.begin(), files.end(),
                                     [&](const ConfigFile& f) { return f.profiles.count(parent); });
            if (!known)
                return entry_error(*where, *entry, "profile \"" + current + "\" inherits \"" +
                                                       parent + "\", which does not exist",
                                   "profiles: " + util::join(all_profile_names(files), ", "));
        }
        current = parent;
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
}

util::Status apply_flags(Settings& s, std::vector<std::pair<std::string, std::string>> flags) {
    std::stable_sort(flags.begin(), flags.end(), [](const auto& a, const auto& b) {
        return layer_rank(a.first) < layer_rank(b.first);
    });
    for (const auto& [key, value] : flags) {
        const KeyInfo* info = find_key(key);
        if (!info)
            return make_error("unknown setting " + key, "", "usage");
        if (auto st = info->assign(s, value, Origin::flag(flag_name(key))); !st)
            return make_error(flag_name(key) + ": " + st.error().message, "", "usage");
    }
    return util::Ok{};
}

// A leading "~/" in a file setting means $HOME, as in msmtp and the shell;
// values from any layer are expanded, once, after the last layer.
void expand_home(Settings& s, const util::Environment& env) {
    auto home = env.get("HOME");
    if (!home || home->empty())
        return;
    for (Value<std::string>* v : {&s.password_file, &s.cafile, &s.aliases, &s.queue_dir, &s.log})
        if (v->value.rfind("~/", 0) == 0)
            v->value = *home + v->value.substr(1);
}

} // namespace

util::Result<Loaded> load_settings(const LayerInputs& in) {
    Loaded out;
    const util::Environment& env = *in.env;

    // Files: system, then the user's (or the one named by --config / SMTPSEND_CONFIG).
    auto system_path = pick_file(in.system_dir);
    if (!system_path)
        return system_path.error();
    if (!system_path->empty()) {
        auto f = read_config_file(*system_path, true);
        if (!f)
            return f.error();
        out.files.push_back(std::move(*f));
    }
    std::string user_path;
    bool named = false;
    if (!in.config_flag.empty()) {
        user_path = in.config_flag;
        named = true;
    } else if (auto v = env.get("SMTPSEND_CONFIG"); v && !v->empty()) {
        user_path = *v;
        named = true;
    } else {
        auto xdg = env.get("XDG_CONFIG_HOME");
        auto home = env.get("HOME");
        std::string dir = xdg && !xdg->empty() ? *xdg + "/smtpsend"
                          : home && !home->empty() ? *home + "/.config/smtpsend"
                                                  : "";
        if (!dir.empty()) {
            auto picked = pick_file(dir);
            if (!picked)
                return picked.error();
            user_path = *picked;
        }
    }
    if (named && !exists(user_path))
        return make_error("settings file " + user_path + " does not exist",
                          "check --config / SMTPSEND_CONFIG", "config");
    if (!user_path.empty()) {
        auto f = read_config_file(user_path, false);
        if (!f)
            return f.error();
        out.files.push_back(std::move(*f));
    }
    for (const auto& f : out.files)
        if (auto st = validate(f); !st)
            return st.error();

    // Layer 1: top-level defaults of each file.
    for (const auto& f : out.files)
        if (auto st = apply_section(out.settings, f, f.top); !st)
            return st.error();

    // Layer 2: the chosen profile.
    if (!in.profile_flag.empty()) {
        out.profile = in.profile_flag;
        out.profile_origin = "flag --profile";
    } else if (auto v = env.get("SMTPSEND_PROFILE"); v && !v->empty()) {
        out.profile = *v;
        out.profile_origin = "env SMTPSEND_PROFILE";
    } else {
        for (const auto& f : out.files)
            if (f.default_profile) {
                out.profile = f.default_profile->value;
                out.profile_origin = f.path + ":" + std::to_string(f.default_profile->line);
            }
    }
    if (!out.profile.empty()) {
        auto names = all_profile_names(out.files);
        if (std::find(names.begin(), names.end(), out.profile) == names.end()) {
            std::vector<std::string> paths;
            for (const auto& f : out.files)
                paths.push_back(f.path);
            return make_error("unknown profile \"" + out.profile + "\" (" + out.profile_origin + ")",
                              names.empty() ? "no profiles are defined" +
                                                  (paths.empty() ? std::string(" (no settings file found)")
                                                                 : " in " + util::join(paths, ", "))
                                            : "profiles: " + util::join(names, ", "),
                              "config");
        }
        auto chain = inheritance_chain(out.files, out.profile);
        if (!chain)
            return chain.error();
        for (const auto& name : *chain)
            for (const auto& f : out.files)
                if (auto it = f.profiles.find(name); it != f.profiles.end())
                    if (auto st = apply_section(out.settings, f, it->second); !st)
                        return st.error();
    }

    // Layer 3: environment; layer 4: flags.
    if (auto st = apply_environment(out.settings, env); !st) {
        util::Error e = st.error();
        e.kind = "config";
        return e;
    }
    for (const auto& [key, value] : in.recorded) {
        const KeyInfo* info = find_key(key);
        if (!info)
            return make_error(in.recorded_origin + ": unknown setting " + key,
                              "drop the entry, or flush it with a version that knows the setting", "config");
        if (auto st = info->assign(out.settings, value, Origin::file(in.recorded_origin)); !st)
            return make_error(in.recorded_origin + ": " + key + ": " + st.error().message, "", "config");
    }
    if (auto st = apply_flags(out.settings, in.flags); !st)
        return st.error();
    expand_home(out.settings, env);
    return out;
}

util::Result<Loaded> load_for_run(const std::vector<std::pair<std::string, std::string>>& flags,
                                  const std::string& config_path, const std::string& profile,
                                  const util::Environment& env,
                                  const std::vector<std::pair<std::string, std::string>>& recorded,
                                  const std::string& recorded_origin) {
    LayerInputs in;
    in.recorded = recorded;
    in.recorded_origin = recorded_origin;
    in.env = &env;
    in.flags = flags;
    in.config_flag = config_path;
    in.profile_flag = profile;
    in.system_dir = SMTPSEND_SYSCONFDIR;
    return load_settings(in);
}

} // namespace smtpsend::config
