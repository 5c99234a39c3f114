// Catch2 main that isolates every test from the real environment: no
// SMTPSEND_* variables, HOME and XDG_CONFIG_HOME in a temporary folder (kept
// when a test fails, for a look afterwards).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "testutil.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

extern char** environ;

namespace testutil {
std::string data_dir() {
    const char* d = std::getenv("SMTPSEND_TESTDATA");
    return d ? d : SMTPSEND_SOURCE_DATA_DIR;
}
} // namespace testutil

int main(int argc, char** argv) {
    std::vector<std::string> ours;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "SMTPSEND_", 9) == 0 && std::strncmp(*e, "SMTPSEND_TESTDATA=", 18) != 0)
            ours.emplace_back(std::string(*e).substr(0, std::string(*e).find('=')));
    for (const auto& name : ours)
        unsetenv(name.c_str());
    char tmpl[] = "/tmp/smtpsend-unit-XXXXXX";
    const char* home = mkdtemp(tmpl);
    if (!home) {
        std::cerr << "cannot create a temporary HOME\n";
        return 1;
    }
    setenv("HOME", home, 1);
    setenv("XDG_CONFIG_HOME", (std::string(home) + "/.config").c_str(), 1);
    setenv("TMPDIR", home, 1);
    int failed = Catch::Session().run(argc, argv);
    if (failed == 0)
        std::filesystem::remove_all(home);
    else
        std::cerr << "test HOME kept for inspection: " << home << "\n";
    return failed;
}
