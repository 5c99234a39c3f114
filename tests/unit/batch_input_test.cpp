// smtpsend batch's input, driven through app::run with an injected Io (a
// pipe as standard input, string streams as stdout and stderr): --dry-run,
// so nothing connects.
#include "app/app.hpp"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace smtpsend;

namespace {

struct BatchRun {
    util::MapEnvironment env;
    std::ostringstream out, err;
    int code = -1;

    BatchRun() { env.values["SMTPSEND_FROM"] = "s@example.com"; }
    // Runs `smtpsend batch ARGS` with `input` as standard input.
    void go(const std::string& input, std::vector<std::string> args) {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        REQUIRE(write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
        close(fds[1]);
        args.insert(args.begin(), {"smtpsend", "batch"});
        std::vector<const char*> argv;
        for (const auto& a : args)
            argv.push_back(a.c_str());
        code = app::run(static_cast<int>(argv.size()), argv.data(), app::Io{env, fds[0], out, err});
        close(fds[0]);
    }
    // The --json lines with "input" and "status", in order: "stdin:1 dry-run".
    std::vector<std::string> statuses() const {
        std::vector<std::string> r;
        std::istringstream in(out.str());
        std::string line;
        while (std::getline(in, line)) {
            auto field = [&](const std::string& key) {
                auto at = line.find("\"" + key + "\":\"");
                if (at == std::string::npos)
                    return std::string("?");
                at += key.size() + 4;
                return line.substr(at, line.find('"', at) - at);
            };
            if (line.rfind("{", 0) == 0)
                r.push_back(field("input") + " " + field("status"));
        }
        return r;
    }
};

} // namespace

TEST_CASE("batch reads its lines from the Io's standard input, not the process's") {
    BatchRun run;
    run.go("{\"to\": \"a@example.com\", \"subject\": \"s\", \"body\": \"b\"}\n"
           "\n"
           "{\"to\": \"b@example.com\", \"subject\": \"s\", \"body\": \"b\"}\n",
           {"--dry-run", "--json"});
    CHECK(run.code == 0);
    CHECK(run.statuses() == std::vector<std::string>{"stdin:1 dry-run", "stdin:3 dry-run"});
}

TEST_CASE("batch: a line whose attach, body_file or html_file is \"-\" fails alone (65), naming the key") {
    BatchRun run;
    run.go("{\"to\": \"a@example.com\", \"subject\": \"s\", \"body\": \"b\", \"attach\": [\"-\"]}\n"
           "{\"to\": \"b@example.com\", \"subject\": \"s\", \"body_file\": \"-\"}\n"
           "{\"to\": \"c@example.com\", \"subject\": \"s\", \"body\": \"b\", \"attach\": \"-;name=x.txt\"}\n"
           "{\"to\": \"d@example.com\", \"subject\": \"s\", \"body\": \"b\"}\n",
           {"--dry-run", "--json"});
    CHECK(run.code == 65);
    CHECK(run.statuses() == std::vector<std::string>{"stdin:1 failed", "stdin:2 failed", "stdin:3 failed",
                                                     "stdin:4 dry-run"});
    CHECK(run.out.str().find("attach: \\\"-\\\" (standard input) cannot be read in a batch") != std::string::npos);
    CHECK(run.out.str().find("body_file: \\\"-\\\" (standard input) cannot be read in a batch") != std::string::npos);
}
