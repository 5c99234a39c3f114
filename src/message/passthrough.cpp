#include "message/passthrough.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <optional>

namespace smtpsend::message {

namespace {

constexpr uint64_t max_line = 998;         // RFC 5322 2.1.1, without CRLF
constexpr int max_depth = 16;              // nested multiparts followed
constexpr size_t max_part_header = 64 << 10;
constexpr size_t max_delimiter_line = 256; // "--" + a boundary of at most 70, and white space

struct RangeStats {
    bool has_8bit = false;
    bool valid_utf8 = true;
    uint64_t longest_line = 0;
};

// Scans [begin, end) of the spool once.
util::Result<RangeStats> scan_range(const Spool& s, uint64_t begin, uint64_t end) {
    RangeStats st;
    uint64_t line = 0;
    int cont = 0; // UTF-8 continuation bytes still expected
    char buf[65536];
    for (uint64_t pos = begin; pos < end;) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, end - pos));
        auto got = s.read_at(pos, buf, want);
        if (!got)
            return got.error();
        if (*got == 0)
            break;
        for (size_t i = 0; i < *got; ++i) {
            unsigned char c = static_cast<unsigned char>(buf[i]);
            if (c == '\n' || c == '\r')
                line = 0;
            else if (++line > st.longest_line)
                st.longest_line = line;
            if (c >= 0x80) {
                st.has_8bit = true;
                if (cont > 0) {
                    if ((c & 0xc0) != 0x80)
                        st.valid_utf8 = false;
                    --cont;
                } else if (c >= 0xc2 && c <= 0xdf) {
                    cont = 1;
                } else if (c >= 0xe0 && c <= 0xef) {
                    cont = 2;
                } else if (c >= 0xf0 && c <= 0xf4) {
                    cont = 3;
                } else {
                    st.valid_utf8 = false;
                }
            } else if (cont > 0) {
                st.valid_utf8 = false;
                cont = 0;
            }
        }
        pos += *got;
    }
    if (cont > 0)
        st.valid_utf8 = false;
    return st;
}

bool needs_encoding(const RangeStats& st) { return st.has_8bit || st.longest_line > max_line; }

struct ContentType {
    std::string type; // "text/plain", lower case; "" when the field is absent
    std::string boundary;
};

// "multipart/mixed; boundary=\"b\"" -> type and boundary. Other parameters are
// skipped; a quoted value may hold ';' and \-escapes.
ContentType parse_content_type(std::string_view v) {
    ContentType ct;
    size_t semi = v.find(';');
    ct.type = util::to_lower(util::trim(v.substr(0, semi)));
    size_t i = semi;
    while (i != std::string_view::npos && i < v.size()) {
        ++i; // past ';'
        size_t eq = v.find('=', i);
        if (eq == std::string_view::npos)
            break;
        std::string name = util::to_lower(util::trim(v.substr(i, eq - i)));
        size_t j = eq + 1;
        while (j < v.size() && (v[j] == ' ' || v[j] == '\t'))
            ++j;
        std::string value;
        if (j < v.size() && v[j] == '"') {
            for (++j; j < v.size() && v[j] != '"'; ++j) {
                if (v[j] == '\\' && j + 1 < v.size())
                    ++j;
                value += v[j];
            }
            i = v.find(';', j);
        } else {
            size_t e = v.find(';', j);
            value = util::trim(v.substr(j, e == std::string_view::npos ? std::string_view::npos : e - j));
            i = e;
        }
        if (name == "boundary")
            ct.boundary = value;
    }
    return ct;
}

std::string first_value(const HeaderBlock& block, std::string_view name) {
    auto v = block.values(name);
    return v.empty() ? std::string() : v.front();
}

// A leaf's new encoding: none when it is fine as it is, or when it is
// already encoded (quoted-printable, base64: left alone), or when RFC 2046
// forbids an encoding (message/*, multipart/*).
std::optional<BodyEncoding> leaf_encoding(const std::string& type, const std::string& cte,
                                          const RangeStats& st) {
    if (!needs_encoding(st))
        return std::nullopt;
    std::string c = util::to_lower(util::trim(cte));
    if (!c.empty() && c != "7bit" && c != "8bit" && c != "binary")
        return std::nullopt;
    if (type.rfind("message/", 0) == 0 || type.rfind("multipart/", 0) == 0)
        return std::nullopt;
    if (type.empty() || type.rfind("text/", 0) == 0)
        return BodyEncoding::quoted_printable;
    return BodyEncoding::base64;
}

// What an entity's header must change after its body was re-encoded.
struct LeafChange {
    BodyEncoding encoding;
    bool add_content_type; // the entity had none: say text/plain and the charset
    bool utf8;
};

std::string changed_fields(const LeafChange& c) {
    std::string out;
    if (c.add_content_type)
        out += std::string("Content-Type: text/plain; charset=") +
               (c.utf8 ? "UTF-8" : "unknown-8bit") + "\r\n";
    out += std::string("Content-Transfer-Encoding: ") +
           (c.encoding == BodyEncoding::base64 ? "base64" : "quoted-printable") + "\r\n";
    return out;
}

struct Line {
    uint64_t start = 0;       // first byte
    uint64_t content_end = 0; // where its line break starts
    uint64_t next = 0;        // first byte of the next line
    std::string prefix;       // up to max_delimiter_line bytes, without the line break
};

// Calls fn(line) for each line of [begin, end) (ended by LF, CRLF or the end).
template <class F>
util::Status for_each_line(const Spool& s, uint64_t begin, uint64_t end, F fn) {
    Line line;
    line.start = begin;
    bool long_line = false;
    char prev = '\0';
    char buf[65536];
    uint64_t pos = begin;
    while (pos < end) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, end - pos));
        auto got = s.read_at(pos, buf, want);
        if (!got)
            return got.error();
        if (*got == 0)
            break;
        for (size_t i = 0; i < *got; ++i) {
            char c = buf[i];
            bool after_cr = prev == '\r';
            prev = c;
            if (c == '\n') {
                line.content_end = pos + i - (after_cr ? 1 : 0);
                if (after_cr && !long_line) // the CR is the prefix's last byte
                    line.prefix.pop_back();
                line.next = pos + i + 1;
                fn(line);
                line = Line{};
                line.start = pos + i + 1;
                long_line = false;
            } else if (line.prefix.size() < max_delimiter_line) {
                line.prefix += c;
            } else {
                long_line = true;
            }
        }
        pos += *got;
    }
    if (line.start < end) {
        line.content_end = line.next = end;
        fn(line);
    }
    return util::Ok{};
}

// "--boundary" or "--boundary--", then only white space.
int delimiter_kind(const Line& line, const std::string& boundary) {
    if (line.content_end - line.start >= max_delimiter_line)
        return 0;
    std::string_view p = line.prefix;
    if (p.size() < boundary.size() + 2 || p.substr(0, 2) != "--" || p.substr(2, boundary.size()) != boundary)
        return 0;
    std::string_view rest = p.substr(boundary.size() + 2);
    int kind = 1;
    if (rest.substr(0, 2) == "--") {
        kind = 2;
        rest.remove_prefix(2);
    }
    return rest.find_first_not_of(" \t") == std::string_view::npos ? kind : 0;
}

class Planner {
  public:
    explicit Planner(std::shared_ptr<Spool> spool) : spool_(std::move(spool)) {}

    // Appends the segments of the body [begin, end) of an entity of type
    // `ct`; returns the change its header needs, if it was re-encoded.
    util::Result<std::optional<LeafChange>> body(uint64_t begin, uint64_t end, const ContentType& ct,
                                                 const std::string& cte, int depth,
                                                 std::vector<Segment>& out) {
        auto st = scan_range(*spool_, begin, end);
        if (!st)
            return st.error();
        if (!needs_encoding(*st)) {
            out.push_back(Segment::file(spool_, BodyEncoding::crlf, begin, end));
            return std::optional<LeafChange>();
        }
        if (ct.type.rfind("multipart/", 0) == 0 && !ct.boundary.empty() && depth < max_depth) {
            auto done = multipart(begin, end, ct.boundary, depth, out);
            if (!done)
                return done.error();
            return std::optional<LeafChange>();
        }
        auto enc = leaf_encoding(ct.type, cte, *st);
        if (!enc) {
            out.push_back(Segment::file(spool_, BodyEncoding::crlf, begin, end));
            return std::optional<LeafChange>();
        }
        reencoded = true;
        out.push_back(Segment::file(spool_, *enc, begin, end));
        return std::optional<LeafChange>(LeafChange{*enc, ct.type.empty(), st->valid_utf8});
    }

    bool reencoded = false;

  private:
    util::Status multipart(uint64_t begin, uint64_t end, const std::string& boundary, int depth,
                           std::vector<Segment>& out) {
        struct Delimiter {
            Line line;
            uint64_t before = 0; // where the line break before it starts
            int kind = 0;
        };
        std::vector<Delimiter> delimiters;
        uint64_t prev_content_end = begin;
        bool closed = false;
        auto st = for_each_line(*spool_, begin, end, [&](const Line& line) {
            if (!closed) {
                int kind = delimiter_kind(line, boundary);
                if (kind) {
                    delimiters.push_back(Delimiter{line, line.start == begin ? begin : prev_content_end, kind});
                    closed = kind == 2;
                }
            }
            prev_content_end = line.content_end;
        });
        if (!st)
            return st;
        uint64_t cursor = begin;
        for (size_t i = 0; i < delimiters.size(); ++i) {
            if (delimiters[i].kind == 2)
                break;
            uint64_t part_start = delimiters[i].line.next;
            uint64_t part_end = i + 1 < delimiters.size() ? delimiters[i + 1].before : end;
            part_end = std::max(part_end, part_start);
            if (part_start > cursor)
                out.push_back(Segment::file(spool_, BodyEncoding::crlf, cursor, part_start));
            auto done = part(part_start, part_end, depth + 1, out);
            if (!done)
                return done;
            cursor = part_end;
        }
        if (cursor < end)
            out.push_back(Segment::file(spool_, BodyEncoding::crlf, cursor, end));
        return util::Ok{};
    }

    // One body part: its header, then its body.
    util::Status part(uint64_t start, uint64_t end, int depth, std::vector<Segment>& out) {
        std::string head(static_cast<size_t>(std::min<uint64_t>(end - start, max_part_header)), '\0');
        size_t have = 0;
        while (have < head.size()) {
            auto got = spool_->read_at(start + have, head.data() + have, head.size() - have);
            if (!got)
                return got.error();
            if (*got == 0)
                break;
            have += *got;
        }
        head.resize(have);
        auto block = parse_header_block(head);
        bool truncated = block && !block->had_separator && end - start > head.size();
        if (!block || truncated) { // not a header we can read: as it is
            out.push_back(Segment::file(spool_, BodyEncoding::crlf, start, end));
            return util::Ok{};
        }
        uint64_t body_start = std::min<uint64_t>(start + block->body_offset, end);
        ContentType ct = parse_content_type(first_value(*block, "Content-Type"));
        std::vector<Segment> body_segments;
        auto change = body(body_start, end, ct, first_value(*block, "Content-Transfer-Encoding"), depth,
                           body_segments);
        if (!change)
            return change.error();
        // A part's fields with 8-bit bytes or over-long lines are rewritten
        // as the message's own are.
        std::vector<std::string> rewritten;
        bool header_changed = false;
        for (const auto& f : block->fields) {
            rewritten.push_back(rewrite_unsafe_field(f));
            header_changed = header_changed || !rewritten.back().empty();
        }
        if (!*change && !header_changed) {
            out.push_back(Segment::file(spool_, BodyEncoding::crlf, start, body_start));
        } else {
            std::string h;
            for (size_t n = 0; n < block->fields.size(); ++n) {
                const auto& f = block->fields[n];
                if (*change && util::to_lower(f.name) == "content-transfer-encoding")
                    continue;
                h += rewritten[n].empty() ? f.raw + "\r\n" : rewritten[n];
            }
            std::string normalised;
            BodyEncoder crlf(BodyEncoding::crlf);
            crlf.feed(h, normalised);
            out.push_back(Segment::literal(normalised + (*change ? changed_fields(**change) : "") + "\r\n"));
        }
        for (auto& seg : body_segments)
            out.push_back(std::move(seg));
        return util::Ok{};
    }

    std::shared_ptr<Spool> spool_;
};

} // namespace

util::Result<PassThrough> pass_through(const std::shared_ptr<Spool>& input, const HeaderBlock& block) {
    PassThrough out;
    Planner planner(input);
    ContentType ct = parse_content_type(first_value(block, "Content-Type"));
    uint64_t begin = std::min<uint64_t>(block.body_offset, input->size());
    auto change = planner.body(begin, input->size(), ct, first_value(block, "Content-Transfer-Encoding"),
                               0, out.body);
    if (!change)
        return change.error();
    out.reencoded = planner.reencoded;
    if (*change) {
        out.drop_top_cte = true;
        if (!block.has("MIME-Version"))
            out.add_top += "MIME-Version: 1.0\r\n";
        out.add_top += changed_fields(**change);
    }
    return out;
}

} // namespace smtpsend::message
