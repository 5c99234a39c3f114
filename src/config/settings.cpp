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

std::optional<long> parse_duration(const std::string& text) {
    if (text.empty())
        return std::nullopt;
    long unit = 1;
    std::string digits = text;
    switch (text.back()) {
    case 's': unit = 1; digits.pop_back(); break;
    case 'm': unit = 60; digits.pop_back(); break;
    case 'h': unit = 3600; digits.pop_back(); break;
    case 'd': unit = 86400; digits.pop_back(); break;
    default: break;
    }
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stol(digits) * unit;
}

std::string format_duration(long seconds) {
    if (seconds > 0 && seconds % 86400 == 0)
        return std::to_string(seconds / 86400) + "d";
    if (seconds > 0 && seconds % 3600 == 0)
        return std::to_string(seconds / 3600) + "h";
    if (seconds > 0 && seconds % 60 == 0)
        return std::to_string(seconds / 60) + "m";
    return std::to_string(seconds) + "s";
}

util::ErrorKind error_kind(const Origin& origin) {
    return origin.kind == Origin::Kind::flag ? util::ErrorKind::usage : util::ErrorKind::config;
}

bool has_password_source(const Settings& s) {
    return s.password.set || s.password_file.set || s.password_cmd.set || s.password_env.set;
}

} // namespace smtpsend::config
