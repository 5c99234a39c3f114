#include "message/body_source.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <cstring>

namespace smtpsend::message {

namespace {
constexpr size_t qp_line_limit = 76; // including the '=' of a soft break
const char hex_digits[] = "0123456789ABCDEF";
} // namespace

void BodyEncoder::newline(std::string& out) {
    if (encoding_ == BodyEncoding::quoted_printable && pending_ws_ >= 0) {
        // White space at the end of a line must be encoded (RFC 2045 6.7 (3)).
        char enc[3] = {'=', hex_digits[pending_ws_ >> 4], hex_digits[pending_ws_ & 15]};
        pending_ws_ = -1;
        qp_token(std::string_view(enc, 3), out);
    }
    out += "\r\n";
    column_ = 0;
}

void BodyEncoder::qp_token(std::string_view token, std::string& out) {
    if (column_ + token.size() > qp_line_limit - 1) {
        out += "=\r\n";
        column_ = 0;
    }
    out += token;
    column_ += token.size();
}

void BodyEncoder::qp_byte(unsigned char c, std::string& out) {
    if (pending_ws_ >= 0) {
        char ws = static_cast<char>(pending_ws_);
        pending_ws_ = -1;
        qp_token(std::string_view(&ws, 1), out);
    }
    if (c == ' ' || c == '\t') {
        pending_ws_ = c;
        return;
    }
    if ((c >= 33 && c <= 126 && c != '=') ) {
        char ch = static_cast<char>(c);
        // A '.' alone would be stuffed by libcurl; that is fine, but a "From "
        // or a leading dot needs nothing from us.
        qp_token(std::string_view(&ch, 1), out);
    } else {
        char enc[3] = {'=', hex_digits[c >> 4], hex_digits[c & 15]};
        qp_token(std::string_view(enc, 3), out);
    }
}

// The output is written in place, not appended a piece at a time: this is
// the loop a large attachment spends its CPU in.
void BodyEncoder::base64_feed(std::string_view in, std::string& out) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // At most: four characters per three bytes, and a CRLF per line begun.
    const size_t quads = (b64_count_ + in.size()) / 3;
    const size_t start = out.size();
    out.resize(start + quads * 4 + (quads * 4 / qp_line_limit + 1) * 2);
    char* p = out.data() + start;
    for (char ch : in) {
        b64_pending_[b64_count_++] = static_cast<unsigned char>(ch);
        if (b64_count_ < 3)
            continue;
        unsigned v = (b64_pending_[0] << 16) | (b64_pending_[1] << 8) | b64_pending_[2];
        p[0] = table[(v >> 18) & 63];
        p[1] = table[(v >> 12) & 63];
        p[2] = table[(v >> 6) & 63];
        p[3] = table[v & 63];
        p += 4;
        b64_count_ = 0;
        column_ += 4;
        if (column_ >= qp_line_limit) {
            p[0] = '\r';
            p[1] = '\n';
            p += 2;
            column_ = 0;
        }
    }
    out.resize(static_cast<size_t>(p - out.data()));
}

void BodyEncoder::feed(std::string_view in, std::string& out) {
    if (encoding_ == BodyEncoding::base64) {
        base64_feed(in, out);
        return;
    }
    for (size_t i = 0; i < in.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(in[i]);
        if (c == '\n') {
            if (!prev_cr_)
                newline(out);
            prev_cr_ = false;
            continue;
        }
        prev_cr_ = false; // a lone CR already ended its line
        if (c == '\r') {
            newline(out);
            prev_cr_ = true;
            continue;
        }
        if (encoding_ == BodyEncoding::crlf) {
            // The rest of the line at once.
            size_t end = i + 1;
            while (end < in.size() && in[end] != '\r' && in[end] != '\n')
                ++end;
            out.append(in.data() + i, end - i);
            i = end - 1;
        } else {
            qp_byte(c, out);
        }
    }
}

void BodyEncoder::finish(std::string& out) {
    if (encoding_ == BodyEncoding::base64) {
        if (b64_count_ > 0) {
            std::string tail(reinterpret_cast<const char*>(b64_pending_), b64_count_);
            std::string enc = util::base64_encode(tail);
            out += enc;
            column_ += enc.size();
            b64_count_ = 0;
        }
        if (column_ > 0)
            out += "\r\n";
        column_ = 0;
        return;
    }
    if (encoding_ == BodyEncoding::quoted_printable && pending_ws_ >= 0) {
        char enc[3] = {'=', hex_digits[pending_ws_ >> 4], hex_digits[pending_ws_ & 15]};
        pending_ws_ = -1;
        qp_token(std::string_view(enc, 3), out);
    }
}

SegmentedSource::SegmentedSource(std::vector<Segment> segments) : segments_(std::move(segments)) {}

uint64_t SegmentedSource::size_estimate() const {
    uint64_t total = 0;
    for (const auto& s : segments_) {
        if (!s.spool) {
            total += s.text.size();
            continue;
        }
        uint64_t last = std::min<uint64_t>(s.spool->size(), s.end);
        uint64_t n = last > s.offset ? last - s.offset : 0;
        if (s.encoding == BodyEncoding::base64) {
            uint64_t chars = (n + 2) / 3 * 4;
            n = chars + (chars + 75) / 76 * 2;
        }
        total += n;
    }
    return total;
}

void SegmentedSource::rewind() {
    index_ = 0;
    started_ = false;
    pending_.clear();
    pending_pos_ = 0;
}

util::Result<size_t> SegmentedSource::read(char* buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        if (pending_pos_ < pending_.size()) {
            size_t take = std::min(n - done, pending_.size() - pending_pos_);
            std::memcpy(buf + done, pending_.data() + pending_pos_, take);
            pending_pos_ += take;
            done += take;
            continue;
        }
        pending_.clear();
        pending_pos_ = 0;
        if (index_ >= segments_.size())
            break;
        Segment& seg = segments_[index_];
        if (!seg.spool) {
            pending_ = seg.text;
            ++index_;
            continue;
        }
        if (!started_) {
            encoder_ = BodyEncoder(seg.encoding);
            read_pos_ = seg.offset;
            started_ = true;
        }
        char chunk[65536];
        size_t want = seg.end > read_pos_ ? static_cast<size_t>(std::min<uint64_t>(sizeof chunk, seg.end - read_pos_)) : 0;
        auto got = want == 0 ? util::Result<size_t>(size_t{0}) : seg.spool->read_at(read_pos_, chunk, want);
        if (!got)
            return got.error();
        if (*got == 0) {
            encoder_.finish(pending_);
            started_ = false;
            ++index_;
            continue;
        }
        read_pos_ += *got;
        encoder_.feed(std::string_view(chunk, *got), pending_);
    }
    return done;
}

util::Status read_chunks(MessageSource& source, const std::function<void(std::string_view)>& take) {
    char buf[65536];
    for (;;) {
        auto got = source.read(buf, sizeof buf);
        if (!got)
            return got.error();
        if (*got == 0)
            return util::Ok{};
        take(std::string_view(buf, *got));
    }
}

util::Result<std::string> read_all(MessageSource& source) {
    std::string out;
    auto st = read_chunks(source, [&out](std::string_view chunk) { out.append(chunk); });
    if (!st)
        return st.error();
    return out;
}

} // namespace smtpsend::message
