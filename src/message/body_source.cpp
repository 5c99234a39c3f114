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

void BodyEncoder::base64_feed(std::string_view in, std::string& out) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (char ch : in) {
        b64_pending_[b64_count_++] = static_cast<unsigned char>(ch);
        if (b64_count_ < 3)
            continue;
        unsigned v = (b64_pending_[0] << 16) | (b64_pending_[1] << 8) | b64_pending_[2];
        char quad[4] = {table[(v >> 18) & 63], table[(v >> 12) & 63], table[(v >> 6) & 63],
                        table[v & 63]};
        out.append(quad, 4);
        b64_count_ = 0;
        column_ += 4;
        if (column_ >= qp_line_limit) {
            out += "\r\n";
            column_ = 0;
        }
    }
}

void BodyEncoder::feed(std::string_view in, std::string& out) {
    if (encoding_ == BodyEncoding::base64) {
        base64_feed(in, out);
        return;
    }
    for (char ch : in) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '\n') {
            if (!prev_cr_)
                newline(out);
            prev_cr_ = false;
            continue;
        }
        if (prev_cr_) {
            prev_cr_ = false; // the lone CR already ended its line
        }
        if (c == '\r') {
            newline(out);
            prev_cr_ = true;
            continue;
        }
        if (encoding_ == BodyEncoding::crlf)
            out += ch;
        else
            qp_byte(c, out);
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

util::Result<std::string> read_all(MessageSource& source) {
    std::string out;
    char buf[65536];
    for (;;) {
        auto got = source.read(buf, sizeof buf);
        if (!got)
            return got.error();
        if (*got == 0)
            return out;
        out.append(buf, *got);
    }
}

} // namespace smtpsend::message
