// The bytes that go on the wire after DATA, produced on demand while libcurl
// sends them: a header block in memory followed by the body read from a
// Spool, normalised to CRLF or encoded quoted-printable on the fly.
#pragma once

#include "message/spool.hpp"
#include "util/result.hpp"

#include <memory>
#include <string>

namespace smtpsend::message {

// What libcurl's read callback pulls from.
class MessageSource {
  public:
    virtual ~MessageSource() = default;
    // Fills up to `n` bytes; returns 0 at the end of the message.
    virtual util::Result<size_t> read(char* buf, size_t n) = 0;
    // Starts again from the first byte (for a retry).
    virtual void rewind() = 0;
};

// How the body is turned into wire form.
enum class BodyEncoding {
    crlf,             // line ends normalised to CRLF, bytes otherwise unchanged
    quoted_printable, // RFC 2045 quoted-printable, 76-character lines
};

// Streams one transform over input chunks. Keeps only a few bytes of state.
class BodyEncoder {
  public:
    explicit BodyEncoder(BodyEncoding encoding) : encoding_(encoding) {}
    void feed(std::string_view in, std::string& out);
    void finish(std::string& out);

  private:
    void newline(std::string& out);
    void qp_token(std::string_view token, std::string& out);
    void qp_byte(unsigned char c, std::string& out);
    BodyEncoding encoding_;
    bool prev_cr_ = false;
    int pending_ws_ = -1; // QP: a space or tab not yet known to end a line
    size_t column_ = 0;
};

// A header block followed by the body spool[offset, end).
class ComposedSource final : public MessageSource {
  public:
    ComposedSource(std::string headers, std::shared_ptr<Spool> body, uint64_t body_offset,
                   BodyEncoding encoding);
    util::Result<size_t> read(char* buf, size_t n) override;
    void rewind() override;

  private:
    std::string headers_;
    std::shared_ptr<Spool> body_;
    uint64_t body_offset_;
    BodyEncoding encoding_;
    BodyEncoder encoder_;
    std::string pending_;
    size_t pending_pos_ = 0;
    uint64_t read_pos_ = 0;
    bool headers_done_ = false;
    bool body_done_ = false;
};

// Reads a whole source into a string (for --dry-run and tests).
util::Result<std::string> read_all(MessageSource& source);

} // namespace smtpsend::message
