// libFuzzer target: the MIME encoders. Properties checked: output lines end
// in CRLF and are at most 76 characters for quoted-printable and base64,
// there is no bare CR or LF, and RFC 2047 words decode to the input.
#include "message/body_source.hpp"
#include "message/headers.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {
void check_lines(const std::string& out, size_t limit) {
    size_t start = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\r') {
            if (i + 1 >= out.size() || out[i + 1] != '\n')
                __builtin_trap();
        } else if (out[i] == '\n') {
            if (i == 0 || out[i - 1] != '\r')
                __builtin_trap();
            if (limit && i - 1 - start > limit)
                __builtin_trap();
            start = i + 1;
        }
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace smtpsend::message;
    std::string in(reinterpret_cast<const char*>(data), size);
    // Feed in two pieces to exercise state kept across chunks.
    size_t cut = size ? data[0] % (size + 1) : 0;
    for (auto [enc, limit] : {std::pair{BodyEncoding::crlf, size_t{0}},
                              std::pair{BodyEncoding::quoted_printable, size_t{76}},
                              std::pair{BodyEncoding::base64, size_t{76}}}) {
        std::string out;
        BodyEncoder e(enc);
        e.feed(std::string_view(in).substr(0, cut), out);
        e.feed(std::string_view(in).substr(cut), out);
        e.finish(out);
        check_lines(out, limit);
    }
    if (in.find_first_of(std::string("\r\n\0", 3)) == std::string::npos) {
        std::string word = encode_word(in);
        if (decode_words(word) != in && word != in)
            __builtin_trap();
    }
    return 0;
}
