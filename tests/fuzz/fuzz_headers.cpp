// libFuzzer target: the -t header parser and the address-list parser on
// every field it finds, as compose does.
#include "message/address.hpp"
#include "message/headers.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto block = smtpsend::message::parse_header_block(text);
    if (!block)
        return 0;
    for (const auto& f : block->fields) {
        (void)smtpsend::message::parse_address_list(f.value, true);
        (void)smtpsend::message::decode_words(f.value);
    }
    return 0;
}
