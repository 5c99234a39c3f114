// Header fields: RFC 2047 encoding for non-ASCII text, folding, and the
// parser for a complete message's header block (the -t mode).
#pragma once

#include "util/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::message {

// Encodes UTF-8 text as RFC 2047 "=?UTF-8?B?...?=" words, each at most 64
// characters (so that "Subject: " and one word fit in 78), separated by
// folding whitespace. ASCII text is returned as is, unless a word of it is
// too long for a header line (over 900 characters without white space).
std::string encode_word(std::string_view text);

// For unstructured text that must arrive literally (the subject): encoded
// as encode_word does, and also when it holds text that a reader would
// decode ("=?"), a control character, or a word that cannot be folded to 78
// characters.
std::string encode_text(std::string_view text);

// Decodes "=?charset?B|Q?...?=" words (UTF-8 and ASCII only); other text is
// kept. Used to show display names and subjects.
std::string decode_words(std::string_view text);

// Folds "Name: value" at spaces so that no line exceeds 78 characters where a
// space allows it (before the first word too, when the name is long). A
// "\r\n " already in the value (between encoded words) is a place to fold,
// not a forced break. Returns the field with CRLF line ends, ending in CRLF.
std::string fold_header(std::string_view name, std::string_view value);

// A MIME parameter for a header: `key="value"` (quoted) for ASCII up to 60
// characters; otherwise `name` as RFC 2047 words inside the quotes (older
// clients read only that) and any other key RFC 2231-encoded in continuations
// (`key*0*=UTF-8''%C3%9C...; key*1*=...`), so fold_header keeps every line
// within 78. `value` is UTF-8 (other bytes are percent-encoded as they are).
std::string mime_param(std::string_view key, std::string_view value);

// A MIME field ("Content-Type", "Content-Disposition") as read, with every
// parameter whose value holds 8-bit bytes written again by mime_param, and
// folded (CRLF-terminated). Returns "" when no parameter holds 8-bit bytes
// or the field's main value does (nothing it can encode).
std::string encode_mime_params(std::string_view name, std::string_view value);

struct HeaderField {
    std::string name;  // as written
    std::string value; // unfolded, continuation lines joined with CRLF kept out
    std::string raw;   // exactly as read, continuation lines included, no final line break
};

struct HeaderBlock {
    std::vector<HeaderField> fields;
    size_t body_offset = 0;          // where the body starts in the input
    bool had_separator = true;       // false when no blank line separated the body

    // The values of every field named `name` (case-insensitive).
    std::vector<std::string> values(std::string_view name) const;
    bool has(std::string_view name) const;
};

// A field of a passed-through message (-t, sendmail mode) that cannot go as
// written: 8-bit bytes (libcurl 7.88 cannot declare BODY=8BITMIME) or a line
// over 998 octets (RFC 5322 2.1.1). Rewritten as a composed field would be:
// an address list with its names RFC 2047-encoded and its domains as
// A-labels; a MIME field (Content-*) with its 8-bit parameters encoded by
// mime_param; other text as encoded words where it holds 8-bit bytes or a
// word too long to fold; folded to 78 where spaces allow (CRLF-terminated).
// Returns "" when the field goes as written. Kept as written (folded only
// when too long): addresses with a non-ASCII local part (they need SMTPUTF8,
// whose messages may carry UTF-8) and MIME fields with nothing to encode.
std::string rewrite_unsafe_field(const HeaderField& f);

// Parses the header block at the start of `data` (which may hold more than
// the headers). Lines may end in CRLF, LF or CR. Fails when the first line is
// not a header field, or a field name holds invalid characters.
util::Result<HeaderBlock> parse_header_block(std::string_view data);

} // namespace smtpsend::message
