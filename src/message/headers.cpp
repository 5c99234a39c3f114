#include "message/headers.hpp"

#include "message/address.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <cctype>

namespace smtpsend::message {

using util::make_error;

namespace {

// Length of the UTF-8 sequence starting with byte `c` (1 for invalid bytes).
size_t utf8_len(unsigned char c) {
    if (c >= 0xf0 && c < 0xf8)
        return 4;
    if (c >= 0xe0)
        return c < 0xf0 ? 3 : 1;
    if (c >= 0xc0)
        return 2;
    return 1;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::string base64_decode(std::string_view in) {
    std::string out;
    unsigned buf = 0;
    int bits = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else continue;
        buf = (buf << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buf >> bits) & 0xff);
        }
    }
    return out;
}

} // namespace

namespace {

// Words as long as this go out as they are; a longer one (no white space to
// fold at) is encoded, so the line stays under 998.
constexpr size_t max_plain_word = 900;
// The longest run of non-space characters in `text`.
size_t longest_word(std::string_view text) {
    size_t longest = 0, run = 0;
    for (char c : text) {
        run = (c == ' ' || c == '\t') ? 0 : run + 1;
        longest = std::max(longest, run);
    }
    return longest;
}

std::string encode_always(std::string_view text) {
    // "=?UTF-8?B?" + 4*ceil(n/3) + "?=" <= 64  =>  at most 39 input bytes.
    constexpr size_t max_chunk = 39;
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        size_t end = i;
        while (end < text.size()) {
            size_t len = utf8_len(static_cast<unsigned char>(text[end]));
            if (end + len - i > max_chunk)
                break;
            end += len;
        }
        if (end == i)
            end = std::min(text.size(), i + max_chunk);
        if (!out.empty())
            out += "\r\n ";
        out += "=?UTF-8?B?" + util::base64_encode(text.substr(i, end - i)) + "?=";
        i = end;
    }
    return out;
}

} // namespace

std::string encode_word(std::string_view text) {
    if (util::is_ascii(text) && !util::has_line_break_or_nul(text) &&
        longest_word(text) <= max_plain_word)
        return std::string(text);
    return encode_always(text);
}

std::string encode_text(std::string_view text) {
    // "Subject: " is 9 characters: a longer word could not be folded to 78.
    constexpr size_t max_foldable_word = 78 - 10;
    if (util::is_ascii(text) && !util::has_control_char(text) && !util::has_line_break_or_nul(text) &&
        text.find("=?") == std::string_view::npos && longest_word(text) <= max_foldable_word &&
        (text.empty() || (text.front() != ' ' && text.back() != ' ')))
        return std::string(text);
    return encode_always(text);
}

std::string decode_words(std::string_view text) {
    std::string out;
    size_t i = 0;
    bool last_was_word = false;
    while (i < text.size()) {
        size_t start = text.find("=?", i);
        if (start == std::string_view::npos) {
            out += text.substr(i);
            break;
        }
        size_t q1 = text.find('?', start + 2);
        size_t q2 = q1 == std::string_view::npos ? q1 : text.find('?', q1 + 1);
        size_t end = q2 == std::string_view::npos ? q2 : text.find("?=", q2 + 1);
        if (end == std::string_view::npos) {
            out += text.substr(i);
            break;
        }
        std::string_view between = text.substr(i, start - i);
        if (!(last_was_word && util::trim(between).empty()))
            out += between;
        char enc = static_cast<char>(std::toupper(static_cast<unsigned char>(text[q1 + 1])));
        std::string_view payload = text.substr(q2 + 1, end - q2 - 1);
        if (enc == 'B') {
            out += base64_decode(payload);
        } else {
            for (size_t k = 0; k < payload.size(); ++k) {
                if (payload[k] == '_')
                    out += ' ';
                else if (payload[k] == '=' && k + 2 < payload.size() &&
                         hex_value(payload[k + 1]) >= 0 && hex_value(payload[k + 2]) >= 0) {
                    out += static_cast<char>(hex_value(payload[k + 1]) * 16 + hex_value(payload[k + 2]));
                    k += 2;
                } else
                    out += payload[k];
            }
        }
        last_was_word = true;
        i = end + 2;
    }
    return out;
}

std::string fold_header(std::string_view name, std::string_view value) {
    // An encoded value's "\r\n " is only a place to fold: unfold it first.
    std::string flat;
    flat.reserve(value.size());
    for (size_t k = 0; k < value.size(); ++k) {
        if (value[k] == '\r' && k + 2 < value.size() && value[k + 1] == '\n' &&
            (value[k + 2] == ' ' || value[k + 2] == '\t')) {
            ++k; // keep the white space that follows
            continue;
        }
        flat += value[k];
    }
    std::string out(name);
    out += ":";
    size_t line_len = out.size();
    bool first = true;
    size_t i = 0;
    if (!flat.empty() && flat.front() != ' ')
        flat.insert(flat.begin(), ' ');
    while (i < flat.size()) {
        // The next word, with the white space before it.
        size_t next = flat.find(' ', i + 1);
        if (next == std::string::npos)
            next = flat.size();
        std::string_view word = std::string_view(flat).substr(i, next - i);
        bool fits = line_len + word.size() <= 78;
        // Fold before the word (keeping its space) when it does not fit; never
        // so that a line holds only white space, and before the first word
        // only when that makes it fit (a long field name).
        if (!fits && line_len > 1 && (!first || word.size() <= 78)) {
            out += "\r\n";
            line_len = 0;
        }
        out += word;
        line_len += word.size();
        first = false;
        i = next;
    }
    out += "\r\n";
    return out;
}

std::string mime_param(std::string_view key, std::string_view value) {
    // Longer values, quoted, could not be folded to 78.
    constexpr size_t max_quoted = 60;
    if (util::is_ascii(value) && value.size() <= max_quoted && !util::has_line_break_or_nul(value)) {
        std::string q;
        for (char c : value) {
            if (c == '"' || c == '\\')
                q += '\\';
            q += c;
        }
        return std::string(key) + "=\"" + q + "\"";
    }
    if (key == "name")
        return std::string(key) + "=\"" + encode_always(value) + "\"";
    // RFC 2231: percent-encoded, in sections of at most 54 characters that
    // end on a character boundary (` filename*0*=UTF-8''` + 54 + `;` fit in 78).
    constexpr size_t max_section = 54;
    std::vector<std::string> sections{""};
    for (size_t i = 0; i < value.size();) {
        size_t len = std::min(utf8_len(static_cast<unsigned char>(value[i])), value.size() - i);
        std::string piece;
        for (size_t k = i; k < i + len; ++k) {
            unsigned char c = static_cast<unsigned char>(value[k]);
            if (std::isalnum(c) || std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) !=
                                       std::string_view::npos) {
                piece += static_cast<char>(c);
            } else {
                static const char hex[] = "0123456789ABCDEF";
                piece += '%';
                piece += hex[c >> 4];
                piece += hex[c & 15];
            }
        }
        if (sections.back().size() + piece.size() > max_section)
            sections.emplace_back();
        sections.back() += piece;
        i += len;
    }
    if (sections.size() == 1)
        return std::string(key) + "*=UTF-8''" + sections.front();
    std::string out;
    for (size_t n = 0; n < sections.size(); ++n)
        out += (n ? "; " : "") + std::string(key) + "*" + std::to_string(n) + "*=" +
               (n ? "" : "UTF-8''") + sections[n];
    return out;
}

std::string encode_mime_params(std::string_view name, std::string_view value) {
    // Split at ';' outside quoted strings.
    std::vector<std::string> parts{""};
    bool quoted = false;
    for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (quoted && c == '\\' && i + 1 < value.size()) {
            parts.back() += c;
            parts.back() += value[++i];
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        if (c == ';' && !quoted) {
            parts.emplace_back();
            continue;
        }
        parts.back() += c;
    }
    if (!util::is_ascii(parts.front()))
        return {};
    std::string out = util::trim(parts.front());
    bool any = false;
    for (size_t n = 1; n < parts.size(); ++n) {
        std::string p = util::trim(parts[n]);
        if (p.empty())
            continue;
        auto eq = p.find('=');
        if (!util::is_ascii(p) && eq != std::string::npos && util::is_ascii(p.substr(0, eq)) &&
            p[eq - 1] != '*') {
            std::string key = util::trim(p.substr(0, eq));
            std::string v = util::trim(p.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
                std::string unq;
                for (size_t k = 1; k + 1 < v.size(); ++k) {
                    if (v[k] == '\\' && k + 2 < v.size())
                        ++k;
                    unq += v[k];
                }
                v = std::move(unq);
            }
            p = mime_param(key, v);
            any = true;
        }
        out += "; " + p;
    }
    return any ? fold_header(name, out) : std::string();
}

namespace {

// The longest line of a header field as read, in octets.
size_t longest_line(std::string_view raw) {
    size_t longest = 0;
    for (size_t start = 0; start <= raw.size();) {
        size_t eol = raw.find_first_of("\r\n", start);
        if (eol == std::string_view::npos)
            eol = raw.size();
        longest = std::max(longest, eol - start);
        start = eol + 1;
        if (eol < raw.size() && raw[eol] == '\r' && start < raw.size() && raw[start] == '\n')
            ++start;
    }
    return longest;
}

// The fields that hold address lists (RFC 5322 3.6.2, 3.6.3, 3.6.6, and the
// common list and receipt fields).
bool is_address_field(const std::string& lower) {
    static const std::vector<std::string> names = {
        "from", "to", "cc", "reply-to", "sender", "resent-from", "resent-to", "resent-cc",
        "resent-sender", "disposition-notification-to", "mail-followup-to", "mail-reply-to",
        "return-receipt-to"};
    return std::find(names.begin(), names.end(), lower) != names.end();
}

} // namespace

std::string rewrite_unsafe_field(const HeaderField& f) {
    const bool eight_bit = !util::is_ascii(f.raw);
    const bool too_long = longest_line(f.raw) > 998;
    if (!eight_bit && !too_long)
        return {};
    const std::string lower = util::to_lower(f.name);
    const auto as_written = [&] { return too_long ? fold_header(f.name, f.value) : std::string(); };
    if (is_address_field(lower)) {
        auto list = parse_address_list(f.value, /*allow_local=*/true);
        if (!list || std::any_of(list->begin(), list->end(),
                                 [](const Address& a) { return needs_smtputf8(a.addr_spec); }))
            return as_written();
        std::string joined;
        for (const auto& a : *list)
            joined += (joined.empty() ? "" : ", ") + a.to_header();
        return fold_header(f.name, joined);
    }
    if (lower.rfind("content-", 0) == 0 && lower != "content-description") {
        if (std::string encoded = eight_bit ? encode_mime_params(f.name, f.value) : std::string();
            !encoded.empty())
            return encoded;
        return as_written();
    }
    return fold_header(f.name, encode_word(f.value));
}

std::vector<std::string> HeaderBlock::values(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& f : fields)
        if (util::to_lower(f.name) == util::to_lower(name))
            out.push_back(f.value);
    return out;
}

bool HeaderBlock::has(std::string_view name) const { return !values(name).empty(); }

util::Result<HeaderBlock> parse_header_block(std::string_view data) {
    HeaderBlock block;
    size_t pos = 0;
    size_t line_no = 0;
    while (pos < data.size()) {
        size_t eol = data.find_first_of("\r\n", pos);
        size_t next = eol;
        if (eol == std::string_view::npos) {
            eol = next = data.size();
        } else {
            next = eol + 1;
            if (data[eol] == '\r' && next < data.size() && data[next] == '\n')
                ++next;
        }
        std::string_view line = data.substr(pos, eol - pos);
        ++line_no;
        if (line.empty()) { // the separator
            block.body_offset = next;
            return block;
        }
        if ((line.front() == ' ' || line.front() == '\t')) {
            if (block.fields.empty())
                return make_error("line 1 of the message starts with white space, not a header field");
            block.fields.back().raw += "\r\n";
            block.fields.back().raw += line;
            block.fields.back().value += " " + util::trim(line);
            pos = next;
            continue;
        }
        auto colon = line.find(':');
        bool name_ok = colon != std::string_view::npos && colon > 0;
        for (size_t k = 0; name_ok && k < colon; ++k) {
            unsigned char c = static_cast<unsigned char>(line[k]);
            if (c <= 32 || c >= 127)
                name_ok = false;
        }
        if (!name_ok) {
            if (block.fields.empty())
                return make_error("the message does not start with a header field (line 1: \"" +
                                      std::string(line.substr(0, 60)) + "\")",
                                  "with -t the input must be a complete message: headers such as "
                                  "To: and Subject:, a blank line, then the body");
            // A body line without the blank line before it: the body starts here.
            block.body_offset = pos;
            block.had_separator = false;
            return block;
        }
        HeaderField f;
        f.name = std::string(line.substr(0, colon));
        f.value = util::trim(line.substr(colon + 1));
        f.raw = std::string(line);
        block.fields.push_back(std::move(f));
        pos = next;
    }
    block.body_offset = data.size();
    block.had_separator = false;
    return block;
}

} // namespace smtpsend::message
