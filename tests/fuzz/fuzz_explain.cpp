// libFuzzer target: the reply parser and classifier behind `explain`.
#include "diagnosis/explain.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto ex = smtpsend::diagnosis::explain(text, std::nullopt, "smtp.gmail.com");
    if (ex.understood && ex.diagnosis.summary.empty())
        __builtin_trap();
    return 0;
}
