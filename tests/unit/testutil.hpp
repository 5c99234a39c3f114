// Helpers shared by the unit tests.
#pragma once

#include <string>

namespace testutil {

// The folder of tests/data, from SMTPSEND_TESTDATA or the source tree.
std::string data_dir();

} // namespace testutil
