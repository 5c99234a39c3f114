#include "message/body_source.hpp"

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

void BodyEncoder::feed(std::string_view in, std::string& out) {
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
    if (encoding_ == BodyEncoding::quoted_printable && pending_ws_ >= 0) {
        char enc[3] = {'=', hex_digits[pending_ws_ >> 4], hex_digits[pending_ws_ & 15]};
        pending_ws_ = -1;
        qp_token(std::string_view(enc, 3), out);
    }
}

ComposedSource::ComposedSource(std::string headers, std::shared_ptr<Spool> body,
                               uint64_t body_offset, BodyEncoding encoding)
    : headers_(std::move(headers)), body_(std::move(body)), body_offset_(body_offset),
      encoding_(encoding), encoder_(encoding) {
    rewind();
}

void ComposedSource::rewind() {
    encoder_ = BodyEncoder(encoding_);
    pending_.clear();
    pending_pos_ = 0;
    read_pos_ = body_offset_;
    headers_done_ = false;
    body_done_ = false;
}

util::Result<size_t> ComposedSource::read(char* buf, size_t n) {
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
        if (!headers_done_) {
            pending_ = headers_;
            headers_done_ = true;
            continue;
        }
        if (body_done_ || !body_)
            break;
        char chunk[65536];
        auto got = body_->read_at(read_pos_, chunk, sizeof chunk);
        if (!got)
            return got.error();
        if (*got == 0) {
            encoder_.finish(pending_);
            body_done_ = true;
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
