// What the user sees: stderr lines or one JSON object per result, for every
// command. Text that came from outside (a server's reply, a file) is shown
// with its control characters escaped; JSON keeps it exact.
#pragma once

#include "check/check.hpp"
#include "delivery/deliver.hpp"
#include "diagnosis/diagnosis.hpp"
#include "transport/outcome.hpp"
#include "util/system.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

namespace smtpsend::output {

// What a run reads and writes besides the network. Injectable for tests.
struct Io {
    const util::Environment& env;
    int stdin_fd;
    std::ostream& out;
    std::ostream& err;
    const util::Clock* clock = &util::system_clock();
    bool err_is_terminal = false; // stderr is a terminal: a person watches (progress lines)
};

// `text` for a terminal: control characters (escape sequences, CR, bell,
// ...) as \xNN, so that nothing a server or file says can move the cursor,
// retitle the window or hide a line. Tabs and non-ASCII text stay.
std::string printable(std::string_view text);

// -v: prints each dialogue line to `err` as "C: ..." / "S: ..."; empty when
// not verbose.
std::function<void(const transport::TranscriptLine&)> verbose_printer(bool verbose, std::ostream& err);

// The upload progress bar on a terminal: bytes, rate and time left, drawn
// in place a few times a second once the message passes `threshold` bytes.
class ProgressBar {
  public:
    static constexpr uint64_t default_threshold = 4 << 20; // "a few megabytes"
    explicit ProgressBar(std::ostream& err, uint64_t threshold = default_threshold,
                         std::function<int64_t()> now_ms = {});
    // Draws the bar (at most every 200 ms). `total` is an estimate, 0 when unknown.
    void update(uint64_t sent, uint64_t total);
    // Ends the line, when a bar was drawn, so later messages start afresh;
    // `complete` (the server took the message) shows 100%.
    void finish(bool complete);

  private:
    void draw(int64_t now, bool complete = false);
    std::ostream& err_;
    uint64_t threshold_;
    std::function<int64_t()> now_ms_;
    int64_t started_ = -1, last_draw_ = -1;
    uint64_t sent_ = 0, total_ = 0;
    bool drawn_ = false;
};

// "12.3 MiB", "512 KiB", "900 B".
std::string human_bytes(uint64_t n);

// "smtpsend: <prefix><summary> (<reply>)" and "hint: ..." lines.
void print_diagnosis(std::ostream& err, const diagnosis::Diagnosis& d, const std::string& prefix = {});

// The diagnosis as the --json "error" object.
nlohmann::json error_json(const diagnosis::Diagnosis& d);

// The --json result of one message (send, each batch line): status,
// exit_code, server, message_id, from, accepted, rejected [{address, reply}],
// uncertain, reply and server_queue_id (the server's reply to the message),
// queue_id, attempts, elapsed_ms, error.
nlohmann::json result_json(const delivery::Result& result, const std::string& message_id,
                           const std::string& from);

// The text report of one message on stderr: rejected recipients (of a
// partial delivery), the queue entry, the diagnosis; with `verbose` a line
// for a success. `prefix` ("stdin:3: ") starts each line after "smtpsend: ".
void print_result(std::ostream& err, const delivery::Result& result, const std::string& message_id,
                  bool verbose, const std::string& prefix = {});

// The hooks every command gives deliver(): warnings and retries on stderr
// ("smtpsend: attempt 1 of 3 failed (...): retrying in 5 s"), a dry run's
// envelope and message on stdout, the clock of `io`. `prefix` ("stdin:3: ")
// names the message in a batch.
delivery::Hooks delivery_hooks(Io& io, const std::string& prefix = {});

// "smtpsend: warning: ..." for each warning of the settings (a duplicate
// key, an unknown SMTPSEND_ variable), on stderr.
void print_warnings(Io& io, const std::vector<std::string>& warnings);

// Whose schema a failure before any result is reported in (--json).
enum class Schema {
    send,    // {"status": "failed", "exit_code", "error"}: send, batch, sendmail
    check,   // {"steps": [{"name": "settings", "ok": false, "error"}], "exit_code"}
    explain, // {"understood": false, "exit_code", "error"}
    queue,   // {"outcome": "failed", "exit_code", "error"} (and "id" when known)
    config,  // {"exit_code", "error"}
};

// The one way a command reports a failure of its own (bad flags, unreadable
// settings or input): text on stderr, or with `json` one object on stdout in
// the command's schema. Returns the exit code.
int report_failure(Io& io, Schema schema, bool json, const diagnosis::Diagnosis& d,
                   const std::string& id = {});
// The same for an util::Error; `fallback` is the class when its kind is unset.
int report_failure(Io& io, Schema schema, bool json, const util::Error& e,
                   diagnosis::Class fallback = diagnosis::Class::config, const std::string& id = {});

// `check` as a checklist: one line per step, then the failure's diagnosis.
void print_check(std::ostream& out, std::ostream& err, const check::Report& report);
// {"steps": [{name, ok, ms, details, warnings, error}], "exit_code"}
nlohmann::json check_json(const check::Report& report);

} // namespace smtpsend::output
