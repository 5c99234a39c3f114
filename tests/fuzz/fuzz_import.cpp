// libFuzzer target: `config import` of msmtp files and .NET XML (the first
// non-space byte '<' picks XML). Whatever it reads, the output it renders
// must load back as a settings file of ours, and no password is ever copied.
#include "config/files.hpp"
#include "config/import.hpp"
#include "util/json_text.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto imported = smtpsend::config::import_text("fuzz", text);
    if (!imported)
        return 0;
    for (const auto& p : imported->profiles)
        for (const auto& [key, value] : p.keys)
            if (key == "password")
                std::abort(); // a password was copied
    std::string ini = smtpsend::config::imported_ini(*imported);
    (void)smtpsend::config::parse_ini("fuzz.ini", ini); // must not crash; errors are fine
    (void)smtpsend::util::json_text(smtpsend::config::imported_json(*imported));
    return 0;
}
