// Turns a result into what the user sees: stderr lines, or one JSON object.
#pragma once

#include "check/check.hpp"
#include "diagnosis/diagnosis.hpp"
#include "transport/outcome.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace smtpsend::app {

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

// "smtpsend: <summary> (<reply>)" and "hint: ..." lines.
void print_diagnosis(std::ostream& err, const diagnosis::Diagnosis& d);

// The diagnosis as the --json "error" object.
nlohmann::json error_json(const diagnosis::Diagnosis& d);

// The --json result of a send (or of a failure before sending).
struct SendReport {
    std::string status; // sent, partial, failed, unconfirmed, queued
    int exit_code = 0;
    std::string server;
    std::string message_id;
    std::string from;
    std::vector<std::string> accepted;
    std::vector<std::pair<std::string, std::string>> rejected; // address, reply
    const diagnosis::Diagnosis* diagnosis = nullptr; // null on success
    std::string queue_id;
    int attempts = 0;
    long elapsed_ms = 0;
};
nlohmann::json send_json(const SendReport& report);

// `check` as a checklist: one line per step, then the failure's diagnosis.
void print_check(std::ostream& out, std::ostream& err, const check::Report& report);
// {"steps": [{name, ok, ms, details, warnings, error}], "exit_code"}
nlohmann::json check_json(const check::Report& report);

} // namespace smtpsend::app
