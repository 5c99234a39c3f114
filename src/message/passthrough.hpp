// A complete message passed through (-t, sendmail mode) made safe for any
// server: libcurl 7.88 cannot send BODY=8BITMIME, and lines over 998 octets
// break SMTP, so the parts that hold 8-bit bytes or such lines are re-encoded
// as MTAs do (quoted-printable for text, base64 otherwise), keeping the MIME
// structure; everything else goes byte for byte (line ends made CRLF).
#pragma once

#include "message/body_source.hpp"
#include "message/headers.hpp"

#include <memory>
#include <string>
#include <vector>

namespace smtpsend::message {

struct PassThrough {
    bool reencoded = false;     // some part was re-encoded
    bool drop_top_cte = false;  // leave out the message's Content-Transfer-Encoding field
    std::string add_top;        // fields to add to the message's header (CRLF-terminated)
    std::vector<Segment> body;  // the body, from the blank line on
};

// Plans the body of `input`, whose header block is `block`. Fails only when
// the input cannot be read.
util::Result<PassThrough> pass_through(const std::shared_ptr<Spool>& input, const HeaderBlock& block);

} // namespace smtpsend::message
