// libFuzzer target: address parsing and RFC 5321 checks; what is accepted
// must never carry a CR, LF or NUL (libcurl would put it on the wire).
#include "message/address.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto list = smtpsend::message::parse_address_list(text);
    if (list)
        for (const auto& a : *list)
            if (a.addr_spec.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
                std::abort();
    (void)smtpsend::message::check_addr_spec(text);
    return 0;
}
