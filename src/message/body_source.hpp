// The bytes that go on the wire after DATA, produced on demand while libcurl
// sends them: a header block in memory followed by the body read from a
// Spool, normalised to CRLF or encoded quoted-printable on the fly.
#pragma once

#include "message/spool.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::message {

// What libcurl's read callback pulls from.
class MessageSource {
  public:
    virtual ~MessageSource() = default;
    // Fills up to `n` bytes; returns 0 at the end of the message.
    virtual util::Result<size_t> read(char* buf, size_t n) = 0;
    // Starts again from the first byte (for a retry).
    virtual void rewind() = 0;
    // About how many bytes read() will give in all (for a progress bar);
    // 0 when unknown.
    virtual uint64_t size_estimate() const { return 0; }
};

// How the body is turned into wire form.
enum class BodyEncoding {
    crlf,             // line ends normalised to CRLF, bytes otherwise unchanged
    quoted_printable, // RFC 2045 quoted-printable, 76-character lines
    base64,           // RFC 2045 base64, 76-character lines, for attachments
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
    void base64_feed(std::string_view in, std::string& out);
    BodyEncoding encoding_;
    unsigned char b64_pending_[3] = {};
    size_t b64_count_ = 0;
    bool prev_cr_ = false;
    int pending_ws_ = -1; // QP: a space or tab not yet known to end a line
    size_t column_ = 0;
};

// One piece of a message: literal text (headers, MIME boundaries) or the
// bytes of a spool from `offset` up to `end` (or its end), encoded on the fly.
struct Segment {
    std::string text;
    std::shared_ptr<Spool> spool; // null for a text segment
    uint64_t offset = 0;
    BodyEncoding encoding = BodyEncoding::crlf;
    uint64_t end = UINT64_MAX;

    static Segment literal(std::string text) { return Segment{std::move(text), nullptr, 0, {}}; }
    static Segment file(std::shared_ptr<Spool> spool, BodyEncoding encoding, uint64_t offset = 0,
                        uint64_t end = UINT64_MAX) {
        return Segment{{}, std::move(spool), offset, encoding, end};
    }
};

// A message made of segments, read in order. Holds at most one chunk of
// encoded output at a time, whatever the size of the files behind it.
class SegmentedSource final : public MessageSource {
  public:
    explicit SegmentedSource(std::vector<Segment> segments);
    util::Result<size_t> read(char* buf, size_t n) override;
    void rewind() override;
    // Text segments exactly; files by their size after encoding (base64:
    // 4/3 and a CRLF per 76 characters; the other encodings about 1:1).
    uint64_t size_estimate() const override;

  private:
    std::vector<Segment> segments_;
    size_t index_ = 0;
    bool started_ = false;
    BodyEncoder encoder_{BodyEncoding::crlf};
    uint64_t read_pos_ = 0;
    std::string pending_;
    size_t pending_pos_ = 0;
};

// Reads a source to its end a chunk at a time, handing each to `take`; the
// message is never held whole (--dry-run prints a 200 MB attachment so).
util::Status read_chunks(MessageSource& source, const std::function<void(std::string_view)>& take);

// Reads a whole source into a string (for tests).
util::Result<std::string> read_all(MessageSource& source);

} // namespace smtpsend::message
