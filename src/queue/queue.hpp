// The queue: messages that failed temporarily, kept on disk until they are
// delivered or definitely refused. Format (version 1, docs/queue.md): per
// entry `ID.eml` (the message exactly as sent) and `ID.json` (envelope and
// history); permanent failures move to `failed/`. Writes are durable (temp
// file, fsync, rename, fsync of the folder); an entry is locked with flock on
// its .eml while a flush delivers it.
//
// Nothing read from the folder is trusted: the folder (and tmp/, failed/) is
// refused when others can write it, every file is created with O_EXCL and
// O_NOFOLLOW under a random name, and every entry read back is validated like
// any input (addresses through message::check_addr_spec, the .eml's size
// against the recorded one). Bad entries are reported by id and reason
// (`scan`), moved to failed/, and never returned as sendable.
#pragma once

#include "message/body_source.hpp"
#include "util/result.hpp"
#include "util/system.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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
    // The non-secret settings it was queued under, key -> value as written
    // (e.g. {"server", "smtp://relay:587"}, {"password_cmd", "pass show x"}),
    // in order. A key the settings table marks secret (`password`) is never
    // written: it is dropped, without an error, on writing and on reading.
    std::vector<std::pair<std::string, std::string>> settings;
    // Secrets the run had from a flag or the environment ("password (env
    // SMTPSEND_PASSWORD)"): never their values, only where to give them.
    std::vector<std::string> secrets;
};

// An entry that cannot be sent, and why ("ID.eml is 12 bytes, the entry
// recorded 20: it changed after it was queued").
struct Problem {
    std::string id;
    std::string reason;
};

// What `Queue::scan` found.
struct Scan {
    // Ok, or why the folder itself was refused (kind "config": writable by
    // others, a symbolic link that is not ours, not a folder); entries and
    // problems are then empty.
    util::Status status = util::Ok{};
    std::vector<Entry> entries;      // sendable entries, oldest first
    std::vector<Problem> problems;   // bad entries, by id; each moved to failed/
};

// How old (seconds) a file in tmp/ must be before it counts as stale.
constexpr long stale_tmp_age = 3600;

// The system queue: root's default, and where other users' mail waits
// (incoming/).
inline constexpr const char* kSystemDir = "/var/spool/smtpsend";
// $XDG_STATE_HOME/smtpsend/queue (default ~/.local/state/smtpsend/queue), or
// kSystemDir for root.
std::string default_dir(const util::Environment& env);

class Queue;

// A new entry id for `now` (unix seconds): YYYYMMDDTHHMMSSZ-XXXX, sorting by
// time, with a random part.
std::string new_entry_id(long now);

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

// Every operation first checks the folder (refusing it, kind "config", when
// others can write it) and, once per Queue object, removes stale files from
// tmp/ (`clean_tmp` with the current time; `Queue::open` does it with the
// time it is given, and then no operation reads the clock for it).
class Queue {
  public:
    explicit Queue(std::string dir) : dir_(std::move(dir)) {}
    // Checks the folder, creates it (and tmp/, failed/) when missing, and
    // removes stale temporary files as of `now` (unix seconds). Fails with
    // kind "config" when the folder, tmp/ or failed/ is writable by group or
    // others, is a symbolic link not owned by us, is not a folder or belongs
    // to another user (the error names it and the fix: chmod 700 / chown);
    // kind "io" when it cannot be created.
    static util::Result<Queue> open(std::string dir, long now);
    const std::string& dir() const { return dir_; }

    // The trust check alone (no creation, no cleanup): Ok when the folder is
    // missing or safe, else the error `open` describes.
    util::Status check_folder() const;
    // Removes files in tmp/ (and probe files left by `can_update`) last
    // modified more than `stale_tmp_age` seconds before `now` and not locked
    // by a writer (flock). Returns how many were removed; 0 when the folder
    // is missing or refused. Only lstat() per file: cheap.
    size_t clean_tmp(long now) const;

    // Writes the message and its entry durably; returns the new id. Fails
    // (kind "io") when anything cannot be written; nothing half-written stays.
    // Uses the current time for the id and a missing `created`.
    util::Result<std::string> add(Entry entry, message::MessageSource& source);
    // The same with the time given (unix seconds) instead of the clock. An
    // `entry.id` that is set is the id to use (an incoming/ claim's, so that
    // the claim names its queue entry); fails (kind "io") when an entry of
    // that id exists.
    util::Result<std::string> add(Entry entry, message::MessageSource& source, long now);
    // Where add() takes a new entry's id (new_entry_id): a test seam, so that
    // ids can collide as they may by chance (the second plus 32 random bits).
    void set_id_source(std::function<std::string(long now)> fn) { id_source_ = std::move(fn); }
    // Every entry of the queue folder, sendable ones apart from bad ones.
    // An entry is bad when its .json cannot be read or parsed, has an unknown
    // version, or holds an invalid field (an address that
    // message::check_addr_spec refuses, no recipients, a control character in
    // a setting); or when its .eml is missing, not a regular file, or not the
    // size the entry recorded. Each bad entry is reported (id, reason) and
    // moved to failed/ with the reason, unless a flush holds it (then it is
    // only reported). A bad .json is kept as failed/ID.json.bad beside a
    // failed/ID.json that holds the reason. Never stops at a bad entry.
    Scan scan() const;
    // Sendable entries, oldest first: `scan().entries` (bad ones are moved
    // to failed/ as scan does; empty when the folder is refused).
    std::vector<Entry> list() const;
    // Entries in failed/ that can be read (with `failure`), oldest first.
    std::vector<Entry> list_failed() const;
    // One entry, validated as `scan` does (but never moved). Fails with kind
    // "usage" for an id with '/', "noinput" when there is no such entry,
    // "io" when it is not readable, of an unknown version or invalid.
    util::Result<Entry> load(const std::string& id) const;
    // Locks an entry for delivery; nothing when another process holds it or
    // it is gone.
    std::optional<Lock> lock(const std::string& id) const;
    // Ok when the entry's state can be recorded after a send: its .json can be
    // opened for writing (O_NOFOLLOW; a regular file) and a probe file can be
    // created in tmp/, renamed into the folder and into failed/, and removed
    // (this works for root too, where permission bits do not stop writes, and
    // on read-only mounts). Call it after `lock` and before sending; fails
    // (kind "io") naming the file or folder that cannot be written.
    util::Status can_update(const std::string& id) const;
    // Rewrites an entry's JSON (after an attempt).
    util::Status update(const Entry& entry) const;
    // Removes a delivered (or dropped) entry.
    util::Status remove(const std::string& id) const;
    // Removes every file of `id` that exists, whatever its state: ID.json and
    // ID.eml in the queue (an ID.eml that is a folder too) and in failed/, and
    // failed/ID.json.bad. For damaged entries that `load` refuses. Fails with
    // kind "usage" for an invalid id, "noinput" when no file of that id
    // exists, "tempfail" when a flush holds the entry's lock, "io" when a
    // file cannot be removed.
    util::Status drop(const std::string& id) const;
    // Moves an entry to failed/ with the reason.
    util::Status fail(Entry entry, const std::string& reason) const;
    // The message, for sending. Fails (kind "io") when the .eml is not a
    // regular file (a symbolic link, a folder) or its size differs from the
    // `size` recorded in the entry (changed after queuing): never sent at
    // another size. "noinput" when it is missing.
    util::Result<std::unique_ptr<message::MessageSource>> open_message(const std::string& id) const;

    std::string message_path(const std::string& id) const { return dir_ + "/" + id + ".eml"; }
    std::string entry_path(const std::string& id) const { return dir_ + "/" + id + ".json"; }

  private:
    util::Status ensure_dirs() const;
    // The folder check, and the tmp/ cleanup the first time (clock time).
    util::Status prepare() const;
    std::string dir_;
    mutable bool cleaned_ = false;
    std::function<std::string(long)> id_source_ = new_entry_id;
};

} // namespace smtpsend::queue
