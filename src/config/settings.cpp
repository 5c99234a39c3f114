#include "config/settings.hpp"

#include "config/keys.hpp"

namespace smtpsend::config {

util::Status apply_environment(Settings& settings, const util::Environment& env) {
    for (const auto& key : keys()) {
        std::string var = env_name(key.name);
        auto value = env.get(var);
        if (!value)
            continue;
        auto st = key.assign(settings, *value, Origin::env(var));
        if (!st)
            return util::make_error(var + ": " + st.error().message);
    }
    return util::Ok{};
}

bool has_password_source(const Settings& s) {
    return s.password.set || s.password_file.set || s.password_cmd.set || s.password_env.set;
}

} // namespace smtpsend::config
