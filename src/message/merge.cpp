#include "message/merge.hpp"

namespace smtpsend::message {

namespace {

bool name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool name_char(char c) {
    return name_start(c) || (c >= '0' && c <= '9');
}

// The placeholder starting at `pos` ("{{" there): its name and its length,
// or a length of 0 when the braces do not start one.
std::pair<std::string_view, size_t> placeholder_at(std::string_view text, size_t pos) {
    size_t i = pos + 2;
    while (i < text.size() && text[i] == ' ')
        ++i;
    const size_t start = i;
    if (i >= text.size() || !name_start(text[i]))
        return {{}, 0};
    while (i < text.size() && name_char(text[i]))
        ++i;
    const size_t end = i;
    while (i < text.size() && text[i] == ' ')
        ++i;
    if (text.substr(i, 2) != "}}")
        return {{}, 0};
    return {text.substr(start, end - start), i + 2 - pos};
}

} // namespace

bool is_placeholder_name(std::string_view name) {
    if (name.empty() || !name_start(name[0]))
        return false;
    for (char c : name)
        if (!name_char(c))
            return false;
    return true;
}

util::Result<std::string> fill_placeholders(std::string_view text, const MergeVars &vars) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            out.append(text.substr(pos));
            break;
        }
        auto [name, length] = placeholder_at(text, open);
        if (length == 0) { // not a placeholder: the first brace is text, look again after it
            out.append(text.substr(pos, open + 1 - pos));
            pos = open + 1;
            continue;
        }
        auto it = vars.find(name);
        if (it == vars.end()) {
            std::string known;
            for (const auto &[k, v] : vars)
                known += (known.empty() ? "" : ", ") + k;
            return util::make_error("unknown placeholder {{" + std::string(name) + "}}",
                                    known.empty() ? "the line's \"vars\" is empty"
                                                  : "the line's \"vars\" has " + known,
                                    util::ErrorKind::input);
        }
        out.append(text.substr(pos, open - pos));
        out.append(it->second);
        pos = open + length;
    }
    return out;
}

} // namespace smtpsend::message
