#include "cli/cli.hpp"

#include "config/keys.hpp"
#include "util/strings.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
#include <deque>
#include <map>
#include <tuple>

namespace smtpsend::cli {

namespace {

const char* description =
    "Send mail from scripts through an SMTP server, with an honest exit code and a hint\n"
    "when it fails. The body is read from standard input unless --body-file is given.\n";

const char* footer =
    "Commands:\n"
    "  smtpsend [options] RECIPIENT...     compose and send a plain-text message\n"
    "  smtpsend -t [options] [RECIPIENT...] send a complete message read from stdin\n"
    "  smtpsend explain [--stage S] [--server HOST] [--json] TEXT...\n"
    "                                      diagnose an error text from any mail tool\n"
    "  smtpsend check [--rcpt ADDRESS] [--json]\n"
    "                                      walk DNS, TCP, TLS, EHLO, AUTH; send nothing\n"
    "  smtpsend batch [FILE|-] [--json] | batch --eml FILE...\n"
    "                                      many messages over one connection\n"
    "  smtpsend queue list|show ID|flush [--all]|drop ID\n"
    "                                      the queue of temporarily failed messages\n"
    "  smtpsend config show [--profile NAME] [--json]\n"
    "                                      every effective setting and where it came from\n"
    "  smtpsend config profiles [--json] [--names]\n"
    "                                      the profiles found, and where\n"
    "  smtpsend config providers [--json] [--names]\n"
    "                                      the provider presets (provider = NAME)\n"
    "  smtpsend config import FILE [--json] profiles from ~/.msmtprc or a .NET\n"
    "                                      Web.config / App.config\n"
    "  smtpsend help [COMMAND]             the options of one command\n"
    "\n"
    "Settings come from, later winning: /etc/smtpsend/config.{ini,json}, the user's\n"
    "~/.config/smtpsend/config.{ini,json} (or --config FILE), the chosen profile in\n"
    "those files, SMTPSEND_* variables, then flags.\n"
    "\n"
    "Every setting flag has an environment variable of the same name:\n"
    "--password-cmd is SMTPSEND_PASSWORD_CMD. The password itself is read from\n"
    "SMTPSEND_PASSWORD, --password-file or --password-cmd, never from a flag.\n"
    "\n"
    "Exit codes (sysexits): 0 sent, 64 usage, 65 bad input, 66 no input, 67 unknown\n"
    "recipient, 68 unknown host, 69 refused, 70 internal, 74 I/O error, 75 temporary\n"
    "(retry later), 76 protocol, 77 login or permission, 78 configuration.\n"
    "See smtpsend(1) and docs/exit-codes.md.";

// Edits allowed for a typo: 1 for a short word, 2 from 6 letters on.
size_t max_typo(const std::string& word) { return word.size() >= 6 ? 2 : 1; }

std::vector<std::string> subcommand_names(CLI::App& app) {
    std::vector<std::string> out;
    for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
        out.push_back(sub->get_name());
    return out;
}

util::Error unknown_command(const std::string& word, const std::vector<std::string>& names,
                            const std::string& parent) {
    std::string near = util::closest(word, names, max_typo(word));
    std::string where = parent.empty() ? "smtpsend" : "smtpsend " + parent;
    return util::make_error("unknown command \"" + word + "\" for " + where +
                                (near.empty() ? "" : "; did you mean \"" + near + "\"?"),
                            "commands: " + util::join(names, ", "), util::ErrorKind::usage);
}

// Every long option of `app` and its subcommands, with the leading "--".
void long_options(CLI::App& app, std::vector<std::string>& out) {
    for (const auto* opt : app.get_options())
        for (const auto& name : opt->get_lnames())
            out.push_back("--" + name);
    for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
        long_options(*sub, out);
}

// The first mistake a person would make, with the nearest correct word: an
// unknown long option (`--subjet`), or an unknown subcommand of `config` or
// `queue` (`config shwo`). Nothing when the words hold no such mistake.
std::optional<util::Error> mistyped(CLI::App& app, const std::vector<std::string>& words,
                                    bool options) {
    std::vector<std::string> longs;
    long_options(app, longs);
    for (const auto& w : words) {
        if (!options)
            break;
        if (w == "--")
            break;
        if (w.rfind("--", 0) != 0 || w.size() == 2)
            continue;
        std::string name = w.substr(0, w.find('='));
        if (std::find(longs.begin(), longs.end(), name) != longs.end() ||
            name.find(' ') != std::string::npos) // a value such as "--- report ---"
            continue;
        std::string near = util::closest(name, longs, 2);
        return util::make_error("unknown option " + name +
                                    (near.empty() ? "" : "; did you mean " + near + "?"),
                                "run smtpsend --help for the options", util::ErrorKind::usage);
    }
    // `config` and `queue` need a subcommand: the word after them must be one.
    for (size_t i = 0; i < words.size(); ++i) {
        if (words[i] != "config" && words[i] != "queue")
            continue;
        if (i > 0 && words[i - 1].rfind("-", 0) == 0 && words[i - 1].find('=') == std::string::npos)
            break; // the value of an option (--subject config), not a command
        CLI::App* parent = app.get_subcommand(words[i]);
        auto names = subcommand_names(*parent);
        for (size_t j = i + 1; j < words.size(); ++j) {
            if (words[j].rfind("-", 0) == 0)
                continue;
            if (std::find(names.begin(), names.end(), words[j]) != names.end())
                return std::nullopt;
            return unknown_command(words[j], names, words[i]);
        }
        return std::nullopt;
    }
    return std::nullopt;
}

} // namespace

util::Result<Invocation> parse(int argc, const char* const* argv) {
    std::string_view name = argc > 0 ? argv[0] : "";
    if (auto slash = name.rfind('/'); slash != std::string_view::npos)
        name = name.substr(slash + 1);
    if (name == "sendmail" || name == "mailq")
        return parse_sendmail(argc, argv);
    Invocation inv;
    CLI::App app{description, "smtpsend"};
    app.footer(footer);
    app.set_help_flag("-h,--help", "Print this help and exit");
    bool version = false;
    app.add_flag("-V,--version", version, "Print the version of smtpsend and libcurl");

    app.add_option("--config", inv.config_path,
                   "Read settings from FILE instead of the user's settings file [SMTPSEND_CONFIG]")
        ->type_name("FILE")
        ->group("Settings");
    app.add_option("--profile", inv.profile, "Use the named profile [SMTPSEND_PROFILE]")
        ->type_name("NAME")
        ->group("Settings");

    // Settings: one flag per profile key, from the key table.
    std::map<std::string, std::string> values;
    std::vector<std::pair<CLI::Option*, std::string>> setting_options;
    std::vector<std::tuple<bool*, bool*, std::string>> switches;
    std::deque<bool> switch_values;
    for (const auto& key : config::keys()) {
        if (!key.has_flag)
            continue;
        if (key.is_bool) {
            bool* on = &switch_values.emplace_back(false);
            bool* off = &switch_values.emplace_back(false);
            std::string flag = config::flag_name(key.name);
            app.add_flag(flag, *on, std::string(key.help) + " [" + config::env_name(key.name) + "]")
                ->group("Settings");
            app.add_flag("--no-" + flag.substr(2), *off, "turn " + flag + " off")->group("Settings");
            switches.emplace_back(on, off, std::string(key.name));
            continue;
        }
        std::string flag = config::flag_name(key.name);
        auto* opt = app.add_option(flag, values[std::string(key.name)],
                                   std::string(key.help) + " [" + config::env_name(key.name) + "]")
                        ->option_text(std::string(key.value_name))
                        ->group("Settings");
        setting_options.emplace_back(opt, std::string(key.name));
    }

    auto& m = inv.message;
    app.add_option("-s,--subject", m.subject, "The subject")->type_name("TEXT")->group("Message");
    app.add_option("--to", m.to, "A recipient shown in To: (repeatable; comma lists allowed)")
        ->type_name("ADDRESS")->allow_extra_args(false)
        ->group("Message");
    app.add_option("--cc", m.cc, "A recipient shown in Cc: (repeatable)")->type_name("ADDRESS")->allow_extra_args(false)
        ->group("Message");
    app.add_option("--bcc", m.bcc, "A hidden recipient (repeatable); never shown in the message")
        ->type_name("ADDRESS")->allow_extra_args(false)
        ->group("Message");
    app.add_option("--reply-to", m.reply_to, "Where replies go (repeatable)")->type_name("ADDRESS")->allow_extra_args(false)
        ->group("Message");
    app.add_option("-H,--header", m.headers, "Add a header \"Name: value\" (repeatable)")
        ->type_name("NAME: VALUE")->allow_extra_args(false)
        ->group("Message");
    app.add_option("--body-file", m.body_file, "Read the body from FILE instead of stdin")
        ->type_name("FILE")->group("Message");
    app.add_option("--attach", m.attach,
                   "Attach FILE (repeatable; - is stdin); FILE;type=TYPE;name=NAME overrides its type and name")
        ->type_name("FILE")->allow_extra_args(false)
        ->group("Message");
    app.add_option("--html", m.html_file,
                   "An HTML body from FILE: with a text body, sent as multipart/alternative")
        ->type_name("FILE")
        ->group("Message");
    app.add_option("--inline", m.inline_files,
                   "An image for the HTML body, referenced there as cid:NAME (the file's name)")
        ->type_name("FILE")->allow_extra_args(false)
        ->group("Message");
    app.add_flag("-t,--read-recipients", m.extract_recipients,
                 "Stdin is a complete message: take the recipients from To, Cc and Bcc")
        ->group("Message");

    app.add_flag("-v,--verbose", inv.verbose,
                 "Print the SMTP dialogue on stderr (passwords masked)")->group("Output");
    app.add_flag("--json", inv.json, "Print one JSON object with the result on stdout")
        ->group("Output");
    app.add_flag("--dry-run", inv.dry_run, "Print the envelope and message; send nothing")
        ->group("Output");

    std::vector<std::string> recipients;
    app.add_option("recipients", recipients, "Recipients (shown in To:)")->type_name("ADDRESS");

    auto* explain = app.add_subcommand("explain", "Diagnose an error text from any mail tool");
    explain->add_option("--stage", inv.explain_stage,
                        "The stage the error came from (greeting, ehlo, starttls, auth, mail, "
                        "rcpt, data, end-of-data)");
    explain->add_option("--server", inv.explain_server, "The server's host name, for provider hints");
    explain->add_flag("--json", inv.json, "Print the diagnosis as JSON");
    explain->add_option("text", inv.explain_text, "The error text (else read from stdin)");

    auto* check = app.add_subcommand("check", "Walk the path to the server step by step; send nothing");
    check->add_option("--rcpt", inv.check_rcpt,
                      "Also try MAIL FROM and RCPT TO for ADDRESS, then RSET")
        ->type_name("ADDRESS");
    check->add_flag("--json", inv.json, "Print the steps as JSON");
    check->fallthrough();

    auto* batch = app.add_subcommand(
        "batch", "Send many messages over one connection: JSON Lines, or complete messages with --eml");
    batch->add_option("input", inv.batch_inputs,
                      "JSON Lines file (- for stdin, the default), or with --eml the message files");
    batch->add_flag("--eml", inv.batch_eml, "The inputs are complete messages (recipients as with -t)");
    batch->add_flag("--json", inv.json, "Print one JSON result line per message");
    batch->add_option("--limit", inv.batch_limit, "Only the first N messages (with --dry-run: show them)")
        ->type_name("N")
        ->check(CLI::PositiveNumber);
    batch->fallthrough();

    auto* queue_cmd = app.add_subcommand("queue", "List, show, flush or drop queued messages");
    queue_cmd->require_subcommand(1);
    queue_cmd->fallthrough();
    auto* q_list = queue_cmd->add_subcommand("list", "List the queued messages, oldest first");
    q_list->add_flag("--json", inv.json, "Print the list as JSON");
    q_list->fallthrough();
    auto* q_show = queue_cmd->add_subcommand("show", "Show one queued message's envelope and attempts");
    q_show->add_option("id", inv.queue_id, "The queue id")->required();
    q_show->add_flag("--json", inv.json, "Print the entry as JSON");
    q_show->fallthrough();
    auto* q_flush = queue_cmd->add_subcommand(
        "flush", "Send the queued messages that are due, oldest first, one connection per server");
    q_flush->add_flag("--all", inv.flush_all, "Also send messages whose next attempt is not due yet");
    q_flush->add_flag("--json", inv.json, "Print one JSON line per message");
    q_flush->fallthrough();
    auto* q_drop = queue_cmd->add_subcommand("drop", "Delete a queued message without sending it");
    q_drop->add_option("id", inv.queue_id, "The queue id")->required();
    q_drop->fallthrough();

    auto* config_cmd = app.add_subcommand("config", "Show the effective settings and profiles");
    config_cmd->require_subcommand(1);
    auto* show = config_cmd->add_subcommand("show", "Print every effective setting with its origin");
    show->add_flag("--json", inv.json, "Print the settings as JSON");
    show->fallthrough();
    auto* profiles = config_cmd->add_subcommand("profiles", "List the profiles found and where");
    profiles->add_flag("--json", inv.json, "Print the list as JSON");
    profiles->add_flag("--names", inv.names_only, "Print only the names, one per line");
    profiles->fallthrough();
    auto* providers = config_cmd->add_subcommand(
        "providers", "List the provider presets: server, port, TLS mode and what you supply");
    providers->add_flag("--json", inv.json, "Print the list as JSON");
    providers->add_flag("--names", inv.names_only, "Print only the names, one per line");
    auto* import = config_cmd->add_subcommand(
        "import", "Print the profiles equivalent to an msmtp or .NET configuration file");
    import->add_option("file", inv.import_path, "~/.msmtprc, Web.config or App.config")
        ->required()
        ->type_name("FILE");
    import->add_option("--name", inv.import_name,
                       "The profile made from a .NET file (default: dotnet)")
        ->type_name("NAME");
    import->add_flag("--json", inv.json, "Print the profiles as JSON (config.json format)");
    config_cmd->fallthrough();

    // -4 and -6 are short for --ip-version 4 and 6 (as in curl and ssh). A
    // command's own app must know them too: CLI11 takes a "-DIGIT" its app
    // has no option for as a positional (a recipient).
    bool ipv4_only = false, ipv6_only = false;
    for (CLI::App* a : {&app, check, batch, queue_cmd, q_list, q_show, q_flush, q_drop, config_cmd, show, profiles}) {
        a->add_flag("-4", ipv4_only, "Connect over IPv4 only: --ip-version 4")->group("Settings");
        a->add_flag("-6", ipv6_only, "Connect over IPv6 only: --ip-version 6")->group("Settings");
    }

    std::vector<std::string> words(argv + (argc > 0 ? 1 : 0), argv + argc);
    // `smtpsend help [COMMAND [SUBCOMMAND]]`, as git and pip have it.
    if (!words.empty() && words[0] == "help") {
        CLI::App* target = &app;
        for (size_t i = 1; i < words.size(); ++i) {
            auto subs = subcommand_names(*target);
            if (std::find(subs.begin(), subs.end(), words[i]) == subs.end())
                return unknown_command(words[i], subs, target == &app ? "" : target->get_name());
            target = target->get_subcommand(words[i]);
        }
        inv.command = Command::help;
        inv.help_text = target->help();
        return inv;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        inv.command = Command::help;
        inv.help_text = app.help();
        for (CLI::App* sub = &app; sub;) {
            auto parsed = sub->get_subcommands();
            sub = parsed.empty() ? nullptr : parsed.front();
            if (sub)
                inv.help_text = sub->help();
        }
        return inv;
    } catch (const CLI::ParseError& e) {
        if (auto near = mistyped(app, words, true))
            return *near;
        return util::make_error(e.what(), "run smtpsend --help for the options", util::ErrorKind::usage);
    }
    // Parsed: an option value may start with "--" (-s "--- report"), so only
    // the subcommands are checked.
    if (auto near = mistyped(app, words, false))
        return *near;
    // A first word without '@' close to a command is a typo, not a local
    // recipient (`smtpsend chekc`); --to NAME sends to a local name.
    if (!recipients.empty() && recipients.front().find('@') == std::string::npos &&
        !version) {
        auto subs = subcommand_names(app);
        subs.emplace_back("help");
        subs.emplace_back("version");
        if (recipients.front() == "version") {
            inv.command = Command::version;
            return inv;
        }
        std::string near = util::closest(recipients.front(), subs, max_typo(recipients.front()));
        if (!near.empty())
            return util::make_error("unknown command \"" + recipients.front() +
                                        "\"; did you mean \"" + near + "\"?",
                                    "to send to a local name, write --to " + recipients.front(),
                                    util::ErrorKind::usage);
    }
    if (version) {
        inv.command = Command::version;
        return inv;
    }
    if (explain->parsed()) {
        inv.command = Command::explain;
        return inv;
    }
    if (check->parsed())
        inv.command = Command::check;
    else if (batch->parsed())
        inv.command = Command::batch;
    else if (q_list->parsed())
        inv.command = Command::list_queue;
    else if (q_show->parsed())
        inv.command = Command::queue_show;
    else if (q_flush->parsed())
        inv.command = Command::queue_flush;
    else if (q_drop->parsed())
        inv.command = Command::queue_drop;
    else if (show->parsed())
        inv.command = Command::config_show;
    else if (profiles->parsed())
        inv.command = Command::config_profiles;
    else if (providers->parsed())
        inv.command = Command::config_providers;
    else if (import->parsed())
        inv.command = Command::config_import;
    for (auto& [opt, key] : setting_options)
        if (opt->count() > 0)
            inv.settings.emplace_back(key, values[key]);
    for (auto& [on, off, key] : switches)
        if (*on || *off)
            inv.settings.emplace_back(key, *off ? "false" : "true");
    if (ipv4_only && ipv6_only)
        return util::make_error("-4 and -6 exclude each other", "give one of them, or --ip-version any",
                                util::ErrorKind::usage);
    if (ipv4_only || ipv6_only)
        inv.settings.emplace_back("ip_version", ipv4_only ? "4" : "6");
    m.to.insert(m.to.begin(), recipients.begin(), recipients.end());
    return inv;
}

} // namespace smtpsend::cli
