// The queue: messages that failed temporarily, kept on disk until they are
// delivered or definitely refused. Format (version 1, docs/queue.md): per
// entry `ID.eml` (the message exactly as sent) and `ID.json` (envelope and
// history); permanent failures move to `failed/`. Writes are durable (temp
// file, fsync, rename, fsync of the folder); an entry is locked with flock on
// its .eml while a flush delivers it.
#pragma once

#include "message/body_source.hpp"
#include "util/result.hpp"
#include "util/system.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smtpsend::queue {

constexpr int format_version = 1;

struct Attempt {
    long time = 0;         // unix seconds
    std::string status;    // sent, partial, failed, unconfirmed
    std::string cls;       // the diagnosis class
    int reply_code = 0;
    std::string enhanced;
    std::string reply;     // one line
    int exit_code = 0;
};

struct Entry {
    std::string id;
    long created = 0;                     // unix seconds
    std::string profile;                  // the profile it was sent with ("" for none)
    std::string server;                   // for `queue list`
    std::string from;
    std::vector<std::string> recipients;  // still owed
    std::string message_id;
    uint64_t size = 0;
    std::string first_failure;            // the summary of the first failure
    bool unconfirmed = false;             // an earlier attempt may have delivered it
    long next_attempt = 0;                // unix seconds
    std::vector<Attempt> attempts;
    std::string failure;                  // in failed/: why it was given up
    // The settings it was queued under that a flush replays (key, value).
    std::vector<std::pair<std::string, std::string>> settings;
    // Secrets the run had from a flag or the environment ("password (env
    // SMTPSEND_PASSWORD)"): never their values, only where to give them.
    std::vector<std::string> secrets;
};

// $XDG_STATE_HOME/smtpsend/queue (default ~/.local/state/smtpsend/queue), or
// /var/spool/smtpsend for root.
std::string default_dir(const util::Environment& env);

class Queue;

// Holds an entry for delivery; released when destroyed.
class Lock {
  public:
    explicit Lock(int fd) : fd_(fd) {}
    Lock(Lock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock();

  private:
    int fd_;
};

class Queue {
  public:
    explicit Queue(std::string dir) : dir_(std::move(dir)) {}
    const std::string& dir() const { return dir_; }

    // Writes the message and its entry durably; returns the new id. Fails
    // (kind "io") when anything cannot be written; nothing half-written stays.
    util::Result<std::string> add(Entry entry, message::MessageSource& source);
    // Complete entries, oldest first.
    std::vector<Entry> list() const;
    std::vector<Entry> list_failed() const;
    util::Result<Entry> load(const std::string& id) const;
    // Locks an entry for delivery; nothing when another process holds it or
    // it is gone.
    std::optional<Lock> lock(const std::string& id) const;
    // Rewrites an entry's JSON (after an attempt).
    util::Status update(const Entry& entry) const;
    // Removes a delivered (or dropped) entry.
    util::Status remove(const std::string& id) const;
    // Moves an entry to failed/ with the reason.
    util::Status fail(Entry entry, const std::string& reason) const;
    // The message, for sending.
    util::Result<std::unique_ptr<message::MessageSource>> open_message(const std::string& id) const;

    std::string message_path(const std::string& id) const { return dir_ + "/" + id + ".eml"; }
    std::string entry_path(const std::string& id) const { return dir_ + "/" + id + ".json"; }

  private:
    util::Status ensure_dirs() const;
    std::string dir_;
};

} // namespace smtpsend::queue
