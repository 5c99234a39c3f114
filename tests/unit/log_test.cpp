#include "log/attempt_log.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

using namespace smtpsend;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) {
    return std::string(std::getenv("TMPDIR")) + "/" + name + "-" + std::to_string(std::rand());
}
std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
log::Record record() {
    log::Record r;
    r.host = "smtp://h:587";
    r.outcome = "sent";
    return r;
}
} // namespace

TEST_CASE("the log is never written through a symbolic link: a warning instead") {
    std::string victim = temp_path("victim"), link = temp_path("log");
    std::ofstream(victim) << "precious\n";
    fs::create_symlink(victim, link);
    std::string warning = log::write(link, record());
    CHECK(warning == "the log " + link + " is a symbolic link: not written through it (set log to the real file)");
    CHECK(read_text(victim) == "precious\n");
}

TEST_CASE("a new log file is private and gets one line per write") {
    std::string path = temp_path("log");
    CHECK(log::write(path, record()) == "");
    CHECK(log::write(path, record()) == "");
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::string text = read_text(path);
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);
    CHECK(text.find(" host=smtp://h:587 ") != std::string::npos);
}
