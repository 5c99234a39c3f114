#include "message/address.hpp"

#include "message/headers.hpp"
#include "util/strings.hpp"

#include <cctype>
#include <cstdlib>
#include <idn2.h>

namespace smtpsend::message {

using util::make_error;

namespace {

bool is_atext(unsigned char c) {
    if (c >= 0x80)
        return true; // UTF-8 (RFC 6531); needs SMTPUTF8 at the server
    if (std::isalnum(c))
        return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool valid_dot_atom(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.')
        return false;
    char prev = 0;
    for (char c : s) {
        if (c == '.') {
            if (prev == '.')
                return false;
        } else if (!is_atext(static_cast<unsigned char>(c))) {
            return false;
        }
        prev = c;
    }
    return true;
}

bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 255)
        return false;
    if (d.front() == '[')
        return d.back() == ']' && d.size() > 2 &&
               d.find_first_of("[]\\ ", 1) == d.size() - 1;
    size_t start = 0;
    while (start <= d.size()) {
        size_t end = d.find('.', start);
        if (end == std::string_view::npos)
            end = d.size();
        std::string_view label = d.substr(start, end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label) {
            unsigned char u = static_cast<unsigned char>(c);
            if (!(std::isalnum(u) || c == '-' || u >= 0x80))
                return false;
        }
        start = end + 1;
    }
    return true;
}

std::string quote_if_needed(const std::string& name) {
    bool plain = !name.empty();
    for (char c : name) {
        unsigned char u = static_cast<unsigned char>(c);
        if (!(is_atext(u) || c == ' ') || u >= 0x80)
            plain = false;
    }
    if (plain)
        return name;
    return util::quote(name);
}

} // namespace

std::string Address::to_header() const {
    // A display name never carries a control character onto the wire,
    // whatever its source: each becomes a space.
    std::string clean = display_name;
    for (char& c : clean)
        if (util::has_control_char(std::string_view(&c, 1)) || c == '\t')
            c = ' ';
    clean = util::trim(clean);
    if (clean.empty())
        return addr_spec;
    // encode_word keeps ASCII as it is unless a word could not fit in a line.
    std::string encoded = encode_word(clean);
    std::string name = encoded == clean ? quote_if_needed(clean) : encoded;
    return name + " <" + addr_spec + ">";
}

util::Status check_addr_spec(std::string_view a) {
    std::string quoted = "\"" + util::one_line(a) + "\"";
    for (char c : a) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            return make_error("address " + quoted + " contains a control character or line break");
    }
    if (a.empty())
        return make_error("an address is empty");
    if (a.size() > 254)
        return make_error("address " + quoted + " is longer than 254 characters");
    auto at = a.rfind('@');
    if (at == std::string_view::npos)
        return make_error("address " + quoted + " has no @domain",
                          "write the full address, e.g. user@example.com");
    std::string_view local = a.substr(0, at), domain = a.substr(at + 1);
    bool local_ok;
    if (!local.empty() && local.front() == '"') {
        local_ok = local.size() >= 2 && local.back() == '"';
        for (size_t i = 1; local_ok && i + 1 < local.size(); ++i) {
            if (local[i] == '\\')
                ++i;
            else if (local[i] == '"')
                local_ok = false;
        }
    } else {
        local_ok = local.size() <= 64 && valid_dot_atom(local);
    }
    if (!local_ok)
        return make_error("address " + quoted + " has an invalid local part (before the @)");
    if (!valid_domain(domain))
        return make_error("address " + quoted + " has an invalid domain (after the @)");
    return util::Ok{};
}

util::Result<std::string> ascii_domain(std::string_view a) {
    auto at = a.rfind('@');
    if (at == std::string_view::npos || util::is_ascii(a.substr(at + 1)))
        return std::string(a);
    std::string domain(a.substr(at + 1));
    char* alabel = nullptr;
    int rc = idn2_to_ascii_8z(domain.c_str(), &alabel, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
        if (alabel)
            idn2_free(alabel);
        return make_error("address " + util::quote(a) + " has an invalid internationalised domain: " +
                              idn2_strerror(rc),
                          "check the spelling after the @, or write the domain's xn-- form");
    }
    std::string out = std::string(a.substr(0, at + 1)) + alabel;
    idn2_free(alabel);
    return out;
}

bool needs_smtputf8(std::string_view a) {
    auto at = a.rfind('@');
    return !util::is_ascii(a.substr(0, at == std::string_view::npos ? a.size() : at));
}

util::Result<Address> parse_address(std::string_view text, bool allow_local) {
    std::string t = util::trim(text);
    for (char c : t)
        if (c == '\r' || c == '\n' || c == '\0')
            return make_error("address \"" + util::one_line(t) +
                              "\" contains a line break or NUL byte");
    Address out;
    auto lt = t.rfind('<');
    if (lt != std::string::npos) {
        auto gt = t.find('>', lt);
        if (gt == std::string::npos || util::trim(t.substr(gt + 1)) != "")
            return make_error("address \"" + t + "\" has an unbalanced '<'");
        out.addr_spec = util::trim(t.substr(lt + 1, gt - lt - 1));
        std::string name = util::trim(t.substr(0, lt));
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            std::string unq;
            for (size_t i = 1; i + 1 < name.size(); ++i) {
                if (name[i] == '\\' && i + 2 < name.size())
                    ++i;
                unq += name[i];
            }
            name = unq;
        }
        out.display_name = decode_words(name);
    } else {
        auto paren = t.find('(');
        if (paren != std::string::npos && t.back() == ')') {
            out.display_name = util::trim(t.substr(paren + 1, t.size() - paren - 2));
            t = util::trim(t.substr(0, paren));
        }
        out.addr_spec = t;
    }
    if (allow_local && out.addr_spec.find('@') == std::string::npos && valid_dot_atom(out.addr_spec))
        return out;
    auto ascii = ascii_domain(out.addr_spec);
    if (!ascii)
        return ascii.error();
    out.addr_spec = std::move(*ascii);
    auto st = check_addr_spec(out.addr_spec);
    if (!st)
        return st.error();
    return out;
}

util::Result<std::vector<Address>> parse_address_list(std::string_view text, bool allow_local) {
    std::vector<Address> out;
    std::string current;
    bool in_quote = false;
    int angle = 0, paren = 0;
    auto flush = [&]() -> util::Status {
        std::string item = util::trim(current);
        current.clear();
        // A group "name: a, b;" : drop the name and the terminator.
        if (!item.empty() && item.back() == ';')
            item = util::trim(item.substr(0, item.size() - 1));
        if (item.empty())
            return util::Ok{};
        auto r = parse_address(item, allow_local);
        if (!r)
            return r.error();
        out.push_back(std::move(*r));
        return util::Ok{};
    };
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_quote) {
            current += c;
            if (c == '\\' && i + 1 < text.size())
                current += text[++i];
            else if (c == '"')
                in_quote = false;
            continue;
        }
        if (c == '"')
            in_quote = true;
        else if (c == '<')
            ++angle;
        else if (c == '>')
            angle = angle > 0 ? angle - 1 : 0;
        else if (c == '(')
            ++paren;
        else if (c == ')')
            paren = paren > 0 ? paren - 1 : 0;
        else if (c == ':' && angle == 0 && paren == 0) {
            current.clear(); // group display name
            continue;
        } else if ((c == ',' || c == ';') && angle == 0 && paren == 0) {
            auto st = flush();
            if (!st)
                return st.error();
            continue;
        }
        current += c;
    }
    if (in_quote)
        return make_error("address list \"" + util::one_line(text) + "\" has an unclosed quote");
    auto st = flush();
    if (!st)
        return st.error();
    return out;
}

} // namespace smtpsend::message
