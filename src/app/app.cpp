#include "app/app.hpp"

#include "app/commands.hpp"
#include "cli/cli.hpp"
#include "transport/transport.hpp"
#include "version.hpp"

#include <cstring>
#include <iostream>
#include <string>
#include <unistd.h>

namespace smtpsend::app {

namespace {

using cli::Command;

int help_command(const cli::Invocation& inv, Io& io) {
    io.out << inv.help_text;
    return 0;
}

int version_command(const cli::Invocation&, Io& io) {
    io.out << "smtpsend " << SMTPSEND_VERSION << "\n" << transport::curl_version_text() << "\n";
    return 0;
}

// One row per command (ninja's kTools[]).
struct CommandRow {
    Command command;
    int (*run)(const cli::Invocation&, Io&);
};
constexpr CommandRow kCommands[] = {
    {Command::send, send_command},
    {Command::batch, batch_command},
    {Command::smtp_stdio, smtp_stdio_command},
    {Command::check, check_command},
    {Command::explain, explain_command},
    {Command::config_show, config_command},
    {Command::config_profiles, config_command},
    {Command::config_providers, config_command},
    {Command::config_import, config_command},
    {Command::list_queue, queue_command},
    {Command::queue_show, queue_command},
    {Command::queue_flush, queue_command},
    {Command::queue_drop, queue_command},
    {Command::help, help_command},
    {Command::version, version_command},
};

// A usage error is reported before any command runs: --json anywhere on
// the line asks for it as JSON, in the schema of the command named first.
bool wants_json(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--json") == 0)
            return true;
    return false;
}

output::Schema schema_of(int argc, const char* const* argv) {
    const std::string first = argc > 1 ? argv[1] : "";
    if (first == "check")
        return output::Schema::check;
    if (first == "explain")
        return output::Schema::explain;
    if (first == "queue")
        return output::Schema::queue;
    if (first == "config")
        return output::Schema::config;
    return output::Schema::send;
}

} // namespace

int run(int argc, const char* const* argv, Io io) {
    try {
        auto parsed = cli::parse(argc, argv);
        if (!parsed)
            return output::report_failure(io, schema_of(argc, argv), wants_json(argc, argv), parsed.error(),
                                          diagnosis::Class::usage);
        for (const auto& row : kCommands)
            if (row.command == parsed->command)
                return row.run(*parsed, io);
        return static_cast<int>(diagnosis::ExitCode::software);
    } catch (const std::exception& e) {
        io.err << "smtpsend: error: " << e.what() << "\n";
        return static_cast<int>(diagnosis::ExitCode::software);
    }
}

int run(int argc, const char* const* argv) {
    util::ProcessEnvironment env;
    return run(argc, argv, Io{env, STDIN_FILENO, std::cout, std::cerr, &util::system_clock(),
                               isatty(STDERR_FILENO) == 1});
}

} // namespace smtpsend::app
