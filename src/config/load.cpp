#include "config/load.hpp"

#include "config/keys.hpp"
#include "config/providers.hpp"
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
                          "keep one of them; they hold the same settings", util::ErrorKind::config);
    return j ? json : i ? ini : std::string();
}

util::Error entry_error(const ConfigFile& f, const Entry& e, const std::string& what,
                        const std::string& hint = {}) {
    return make_error(f.path + ":" + std::to_string(e.line) + ": " + what, hint, util::ErrorKind::config);
}

Origin entry_origin(const ConfigFile& f, const Entry& e, const std::string& profile) {
    std::string place = f.path + ":" + std::to_string(e.line);
    return Origin::file(profile.empty() ? place : "profile \"" + profile + "\", " + place);
}

// Applies one section's entries; `inherit` is handled by the caller.
util::Status apply_section(Settings& s, const ConfigFile& f, const Section& section) {
    for (const Entry& e : section.entries) {
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

} // namespace

util::Status check_file(const ConfigFile& f) {
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

namespace {

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
                              "remove one of the `inherit` lines", util::ErrorKind::config);
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

util::Status apply_flags(Settings& s, const std::vector<std::pair<std::string, std::string>>& flags) {
    for (const auto& [key, value] : flags) {
        const KeyInfo* info = find_key(key);
        if (!info)
            return make_error("unknown setting " + key, "", util::ErrorKind::usage);
        if (auto st = info->assign(s, value, Origin::flag(flag_name(key))); !st)
            return make_error(flag_name(key) + ": " + st.error().message, st.error().hint,
                              util::ErrorKind::usage);
    }
    return util::Ok{};
}

// SMTPSEND_ variables that are not keys but are read on purpose: the file
// and profile choice, and the test and build tools' own (tests/, CMake).
bool known_non_key(const std::string& name) {
    static const char* const names[] = {"SMTPSEND_CONFIG", "SMTPSEND_PROFILE", "SMTPSEND_BIN",
                                        "SMTPSEND_BUILD",  "SMTPSEND_PYTHON",  "SMTPSEND_QUICK"};
    for (const char* n : names)
        if (name == n)
            return true;
    return name.rfind("SMTPSEND_TEST", 0) == 0; // SMTPSEND_TESTDATA, SMTPSEND_TEST_WRAPPER
}

// A variable with our prefix that is no key is most likely a typo
// (SMTPSEND_PASWORD): a warning with the nearest name.
void warn_unknown_variables(const util::Environment& env, std::vector<std::string>& warnings) {
    std::vector<std::string> known = {"SMTPSEND_CONFIG", "SMTPSEND_PROFILE"};
    for (const auto& k : keys())
        known.push_back(env_name(k.name));
    for (const auto& name : env.names_with_prefix("SMTPSEND_")) {
        if (known_non_key(name) || std::find(known.begin(), known.end(), name) != known.end())
            continue;
        std::string near = util::closest(name, known);
        warnings.push_back("env " + name + " is not a setting and is ignored" +
                           (near.empty() ? "" : "; did you mean " + near + "?"));
    }
}

// A leading "~/" in a file setting means $HOME, as in msmtp and the shell;
// values from any layer are expanded, once, after the last layer.
void expand_home(Settings& s, const util::Environment& env) {
    auto home = env.get("HOME");
    if (!home || home->empty())
        return;
    for (Value<std::string>* v : {&s.password_file, &s.proxy_password_file, &s.cafile, &s.client_cert, &s.client_key, &s.aliases, &s.queue_dir, &s.log})
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
                          "check --config / SMTPSEND_CONFIG", util::ErrorKind::config);
    if (!user_path.empty()) {
        auto f = read_config_file(user_path, false);
        if (!f)
            return f.error();
        out.files.push_back(std::move(*f));
    }
    for (const auto& f : out.files) {
        if (auto st = check_file(f); !st)
            return st.error();
        out.warnings.insert(out.warnings.end(), f.warnings.begin(), f.warnings.end());
    }

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
                              util::ErrorKind::config);
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
        e.kind = util::ErrorKind::config;
        return e;
    }
    for (const auto& [key, value] : in.recorded) {
        const KeyInfo* info = find_key(key);
        if (!info)
            return make_error(in.recorded_origin + ": unknown setting " + key,
                              "drop the entry, or flush it with a version that knows the setting", util::ErrorKind::config);
        if (auto st = info->assign(out.settings, value, Origin::file(in.recorded_origin)); !st)
            return make_error(in.recorded_origin + ": " + key + ": " + st.error().message, "", util::ErrorKind::config);
    }
    if (auto st = apply_flags(out.settings, in.flags); !st)
        return st.error();
    warn_unknown_variables(env, out.warnings);
    // The preset last: it fills only what no layer set.
    if (auto st = apply_preset(out.settings); !st)
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
