// sendmail's command line. Written by hand: its options glue values to
// letters (-FCronDaemon, -oi, -odi, -B8BITMIME), which no option library
// models, and unknown -o options must be accepted silently.
#include "cli/cli.hpp"
#include "util/strings.hpp"

#include <string_view>

namespace smtpsend::cli {

namespace {

util::Error usage(std::string message) {
    return util::make_error("sendmail mode: " + std::move(message),
                            "see `man smtpsend` (SENDMAIL MODE) for the options read", util::ErrorKind::usage);
}

} // namespace

util::Result<Invocation> parse_sendmail(int argc, const char* const* argv) {
    Invocation inv;
    auto& m = inv.message;
    m.complete_message = true;
    m.ignore_dots = false;
    std::string_view name = argv[0];
    if (auto slash = name.rfind('/'); slash != std::string_view::npos)
        name = name.substr(slash + 1);
    if (name == "mailq")
        inv.command = Command::list_queue;
    int i = 1;
    // The value of an option: glued ("-fADDR") or the next argument.
    auto value = [&](std::string_view arg, size_t letters) -> util::Result<std::string> {
        if (arg.size() > letters)
            return std::string(arg.substr(letters));
        if (i + 1 >= argc)
            return usage(std::string(arg) + " needs a value");
        return std::string(argv[++i]);
    };
    for (; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--") {
            ++i;
            break;
        }
        if (arg.size() < 2 || arg[0] != '-')
            break;
        char letter = arg[1];
        switch (letter) {
        case 't':
            m.extract_recipients = true;
            break;
        case 'i':
            m.ignore_dots = true;
            break;
        case 'v':
            inv.verbose = true;
            break;
        case 'f':
        case 'r': {
            auto v = value(arg, 2);
            if (!v)
                return v.error();
            m.envelope_from = *v;
            break;
        }
        case 'F': {
            auto v = value(arg, 2);
            if (!v)
                return v.error();
            // The name goes into the From header: a line break would add
            // header fields (or, bare, a second message at a lenient server).
            if (util::has_control_char(*v))
                return util::make_error("sendmail mode: -F " + util::quote(*v) +
                                            ": the full name contains a line break or control "
                                            "character",
                                        "give the name on one line, e.g. -F \"Cron Daemon\"",
                                        util::ErrorKind::usage);
            m.full_name = *v;
            break;
        }
        case 'C': {
            auto v = value(arg, 2);
            if (!v)
                return v.error();
            inv.config_path = *v;
            break;
        }
        case 'N': // DSN: libcurl 7.88 cannot pass NOTIFY= (see docs/sendmail.md)
        case 'B': // body type: libcurl 7.88 cannot send BODY=8BITMIME
        case 'L': // syslog tag
        case 'X': // traffic log file
        case 'h': // hop count
        case 'R': // DSN RET
        case 'V': // envelope id
        {
            auto v = value(arg, 2);
            if (!v)
                return v.error();
            break;
        }
        case 'o':
            // -oi is -i; -odi, -odb, -oem, -oep and every other -oX are accepted and ignored.
            if (arg == "-oi")
                m.ignore_dots = true;
            else if (arg == "-o" && i + 1 < argc)
                ++i; // "-o X" with a separate value
            break;
        case 'b':
            if (arg == "-bm")
                break;
            if (arg == "-bp") {
                inv.command = Command::list_queue;
                break;
            }
            if (arg == "-bs") {
                inv.command = Command::smtp_stdio;
                break;
            }
            return usage("mode " + std::string(arg) + " is not supported (only -bm, -bp and -bs)");
        case 'q':
            // -q, -qf, -q30m, -qRsubstr: one flush of every entry, due or not
            // (Postfix's postqueue -f); intervals and selectors are ignored.
            inv.command = Command::queue_flush;
            inv.flush_all = true;
            break;
        case 'U': // initial submission
        case 'm': // me too
        case 'n': // no aliasing
        case 's': // old: save From lines
            break;
        default:
            return usage("unknown option " + std::string(arg));
        }
    }
    for (; i < argc; ++i)
        m.to.emplace_back(argv[i]);
    return inv;
}

} // namespace smtpsend::cli
