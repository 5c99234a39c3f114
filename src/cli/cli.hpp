// The command line: turns argv into an Invocation. The only module that
// includes CLI11.
#pragma once

#include "message/compose.hpp"
#include "util/result.hpp"

#include <string>
#include <utility>
#include <vector>

namespace smtpsend::cli {

enum class Command {
    send, check, explain, config_show, config_profiles, config_providers, config_import, smtp_stdio,
    list_queue, queue_show, queue_flush, queue_drop, batch, help, version
};

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
    // batch [FILE|-] or batch --eml FILE...
    std::vector<std::string> batch_inputs;
    bool batch_eml = false;
    long batch_limit = 0; // --limit N: only the first N inputs (0: all)
    // queue show/drop ID; queue flush --all
    std::string queue_id;
    bool flush_all = false;
    bool bounce = false;               // queue flush --bounce: bounce given-up entries (as sendmail -q)
    // config profiles/providers --names; config import FILE [--name NAME]
    bool names_only = false;
    std::string import_path;
    std::string import_name;
    // explain
    std::vector<std::string> explain_text;
    std::string explain_stage;
    std::string explain_server;
};

// Parses the command line. Fails (kind "usage") with CLI11's message.
// When argv[0] is "sendmail" or "mailq", reads sendmail's command line instead.
util::Result<Invocation> parse(int argc, const char* const* argv);

// sendmail's command line, as cron, git, PHP, mutt and mail(1) use it:
// -t, -i/-oi, -f/-r ADDR, -F NAME, -N DSN, -B TYPE, -C FILE, -L TAG, -v, -bm,
// -bp, -bs, -odi/-odb/-oem/-oep and any other -oX (ignored), -- ends options.
util::Result<Invocation> parse_sendmail(int argc, const char* const* argv);

} // namespace smtpsend::cli
