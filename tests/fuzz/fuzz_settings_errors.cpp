// libFuzzer target: the settings-file error path never shows a secret.
// The input is split at the first two 0x01 bytes into A, B and C, and the
// file is A + "\npassword" + B + MARKER + C (INI) or A + "\"password\"" + B +
// MARKER + C (JSON; first byte odd). B holds no line break (INI) and no
// quote (JSON), so MARKER stays in the password's line or string whatever
// the fuzzer writes around it; MARKER holds '+' and '/', which no key or
// profile name may hold. Every error, hint and warning from parsing and
// checking the file must be free of MARKER; abort() otherwise.
#include "config/files.hpp"
#include "config/load.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

const std::string marker = "Zq+S3cr3t/Mk";

void check(const std::string& text) {
    if (text.find(marker) != std::string::npos) {
        std::fprintf(stderr, "secret shown in: %s\n", text.c_str());
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    bool json = data[0] & 1;
    std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (in.find(marker) != std::string::npos)
        return 0;
    size_t one = in.find('\x01');
    size_t two = one == std::string::npos ? std::string::npos : in.find('\x01', one + 1);
    std::string a = in.substr(0, one);
    std::string b = one == std::string::npos ? "" : in.substr(one + 1, two == std::string::npos
                                                                          ? std::string::npos
                                                                          : two - one - 1);
    std::string c = two == std::string::npos ? "" : in.substr(two + 1);
    std::string cleaned;
    for (char ch : b)
        if (json ? ch != '"' : (ch != '\n' && ch != '\r'))
            cleaned += ch;
    std::string file = json ? a + "\"password\"" + cleaned + marker + c
                            : a + "\npassword" + cleaned + marker + c;
    auto parsed = json ? smtpsend::config::parse_json("fuzz.json", file)
                       : smtpsend::config::parse_ini("fuzz.ini", file);
    if (!parsed) {
        check(parsed.error().message);
        check(parsed.error().hint);
        return 0;
    }
    for (const auto& w : parsed->warnings)
        check(w);
    if (auto st = smtpsend::config::check_file(*parsed); !st) {
        check(st.error().message);
        check(st.error().hint);
    }
    return 0;
}
