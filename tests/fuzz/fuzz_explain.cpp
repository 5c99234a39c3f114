// libFuzzer target: the scanner, the reply parser and the classifier behind
// `explain` (no std::regex: the input may be any size).
#include "diagnosis/explain.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto ex = smtpsend::diagnosis::explain(text, std::nullopt, "smtp.gmail.com");
    if (ex.understood && ex.diagnosis.summary.empty())
        __builtin_trap();
    // Every diagnosis explain gives ends with a hint (issue 18).
    if (ex.understood && ex.diagnosis.hints.empty())
        __builtin_trap();
    return 0;
}
