// Follows the SMTP dialogue line by line as libcurl reports it: which stage
// we are in, each complete reply, the server's capabilities, which recipient
// each RCPT reply belongs to, and whether AUTH was sent. Keeps a transcript
// with AUTH payloads masked. Plain logic, so it is tested without a network.
#pragma once

#include "transport/outcome.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace smtpsend::transport {

class Dialogue {
  public:
    using LineSink = std::function<void(const TranscriptLine&)>;

    // `recipients` in the order libcurl sends RCPT commands.
    Dialogue(std::vector<std::string> recipients, LineSink sink);

    // A command we sent (one or more lines, as libcurl reports it).
    void on_command(std::string_view data);
    // Reply bytes from the server (one line per call from libcurl).
    void on_reply_line(std::string_view data);
    // An informational note to keep in the transcript.
    void note(std::string text);
    // The last body byte has been handed to libcurl.
    void on_body_complete();
    void on_body_bytes(uint64_t n) { body_bytes_ += n; }

    // Bounds on what is kept of one reply (libcurl bounds a line on its own
    // path; `check` reads replies itself): longer lines are cut, further
    // lines of an endless multi-line reply are counted, not kept.
    static constexpr size_t max_reply_lines = 1000;
    static constexpr size_t max_line_bytes = 1 << 20;

    Stage stage() const { return stage_; }
    // Inside a multi-line reply: lines came, its last line not yet.
    bool in_reply() const { return !pending_lines_.empty() || dropped_lines_ > 0; }
    // A reply ran past max_reply_lines (its first lines are kept).
    bool reply_overflowed() const { return overflowed_; }
    // The stage the dialogue was in when QUIT was sent: libcurl 7.88 sends
    // QUIT on the failed transfer's handle, so this is where it failed.
    Stage stage_before_quit() const { return stage_before_quit_; }
    bool auth_sent() const { return auth_sent_; }
    // A greeting arrived in this transfer: the connection is new, not reused.
    bool greeted() const { return greeting_.has_value(); }
    bool tls_started() const { return tls_started_; }
    bool saw_garbage() const { return garbage_; }
    const std::optional<Reply>& last_reply() const { return last_reply_; }
    Stage last_reply_stage() const { return last_reply_stage_; }
    // The last reply of 400 or more outside QUIT, and its stage.
    const std::optional<Reply>& failing_reply() const { return failing_reply_; }
    Stage failing_stage() const { return failing_stage_; }

    const std::vector<TranscriptLine>& transcript() const { return transcript_; }
    // Copies what was seen into an Outcome (status is left to the caller).
    void fill(Outcome& out) const;

  private:
    void finish_reply();
    void emit(char who, std::string text);

    std::vector<RecipientResult> recipients_;
    LineSink sink_;
    Stage stage_ = Stage::connect;
    Stage stage_before_quit_ = Stage::connect;
    size_t rcpt_index_ = 0;
    size_t uncertain_from_ = SIZE_MAX; // recipients from here on: mapping not sure
    bool auth_sent_ = false;
    bool auth_complete_ = false;
    bool tls_started_ = false;
    bool body_complete_ = false;
    bool garbage_ = false;
    bool overflowed_ = false;
    size_t dropped_lines_ = 0;
    std::string auth_mechanism_;
    std::string partial_command_;
    std::vector<std::string> pending_lines_;
    std::optional<Reply> greeting_, last_reply_, failing_reply_, final_reply_;
    Stage last_reply_stage_ = Stage::connect, failing_stage_ = Stage::connect;
    Capabilities caps_;
    std::optional<Capabilities> caps_before_tls_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::vector<TranscriptLine> transcript_;
    uint64_t body_bytes_ = 0;
};

} // namespace smtpsend::transport
