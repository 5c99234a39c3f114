// libFuzzer target: the INI and JSON profile parsers (first byte picks one).
#include "config/files.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] & 1)
        (void)smtpsend::config::parse_json("fuzz.json", text);
    else
        (void)smtpsend::config::parse_ini("fuzz.ini", text);
    return 0;
}
