// The command line: turns argv into an Invocation. The only module that
// includes CLI11.
#pragma once

#include "message/compose.hpp"
#include "util/result.hpp"

#include <string>
#include <utility>
#include <vector>

namespace smtpsend::cli {

enum class Command { send, check, explain, config_show, config_profiles, help, version };

struct Invocation {
    Command command = Command::send;
    std::string help_text;                    // for Command::help
    // Settings given as flags: (key, value), in command-line order.
    std::vector<std::pair<std::string, std::string>> settings;
    std::string config_path;                  // --config FILE
    std::string profile;                      // --profile NAME
    message::MessageRequest message;
    bool verbose = false;
    bool json = false;
    bool dry_run = false;
    // check
    std::string check_rcpt;
    // explain
    std::vector<std::string> explain_text;
    std::string explain_stage;
    std::string explain_server;
};

// Parses the command line. Fails (kind "usage") with CLI11's message.
util::Result<Invocation> parse(int argc, const char* const* argv);

} // namespace smtpsend::cli
