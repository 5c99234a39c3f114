// The shared spool for other users' mail (Postfix's maildrop): a non-root
// sendmail whose system settings it cannot use (the relay password file is
// root:mail 640) leaves the message in `incoming/` of the system queue
// folder, and root's flush takes it from there with the system settings.
//
// The folder is root's, mode 1733 (sticky, writable and searchable by all,
// listable by root only). An entry holds only what a submitter may choose:
// the recipients of the command line, -t, -i, -F and the message bytes;
// never a setting, never the environment. Root trusts nothing in it: the
// sender is the owner of the file (getpwuid, qualified with `domain`), and
// every entry is checked before it is read (docs/sendmail.md, the threat
// model).
//
// Format (version 1): text lines, a blank line, then exactly `size` bytes:
//   smtpsend-incoming 1
//   uid 1000
//   flags ti          (any of t, i; "-" for none)
//   name Full Name    (optional: -F)
//   rcpt bob@example.org   (one per recipient, in order)
//   size 1234
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace smtpsend::queue {

// The largest entry root reads (message and lines): 32 MiB, above what
// providers accept (Gmail 25 MB, SES 40 MB with encoding); bigger ones are
// refused by the submitter and, if planted, by the flush.
constexpr uint64_t max_incoming_bytes = 32 << 20;

// What a submitter may say about its message.
struct Submission {
    uid_t uid = 0;                       // the submitter (checked against the file's owner)
    std::vector<std::string> recipients; // from the command line
    bool extract_recipients = false;     // -t
    bool ignore_dots = false;            // -i (already applied when the bytes were read)
    std::string full_name;               // -F
    std::string message;                 // the bytes, as read
};

// `QUEUE_DIR/incoming`.
std::string incoming_dir(const std::string &queue_dir);

// The bytes of an entry. Fails (kind "input") when a recipient or the name
// holds a control character or the entry would exceed max_incoming_bytes.
util::Result<std::string> encode_submission(const Submission &s);
// Parses an entry. Fails (kind "input") naming what is wrong: no magic line,
// an unknown version or line, a missing blank line, a size that is not the
// number of bytes that follow (truncated or appended), no recipients
// without -t, a control character.
util::Result<Submission> decode_submission(std::string_view data);

// Writes an entry into `dir` (an existing folder): a hidden temporary name
// (O_CREAT|O_EXCL|O_NOFOLLOW, 0600), fsync, then a rename to a unique name
// in the same folder, so the flush never reads half an entry. Returns the
// name. Fails (kind "io") when it cannot be written (nothing is left).
util::Result<std::string> submit(const std::string &dir, const Submission &s);

// One entry root's flush took.
struct Taken {
    std::string name; // the file name in incoming/
    uid_t owner = 0;  // the file's owner: the sender
    Submission submission;
};

// An entry refused, and what became of it.
struct Refused {
    std::string name;
    std::string reason; // "a symbolic link", "2 hard links", ...
    std::string action; // "removed" or "moved to failed/incoming-NAME.bad"
};

struct Intake {
    util::Status status = util::Ok{}; // why the folder itself was refused
    std::vector<Taken> taken;         // valid entries, oldest name first
    std::vector<Refused> refused;
    size_t left = 0; // names not looked at (over the budget): for the next flush
};

// How much one intake takes (every taken entry is in memory until it is
// queued): at most `entries` entries and `bytes` bytes of them (the first
// entry always), and at most `names` names looked at, refused ones too.
struct IntakeBudget {
    size_t entries = 100;
    uint64_t bytes = 64 << 20;
    size_t names = 1000;
};

// Reads every entry of `dir` (root's flush). Missing folder: nothing.
// The folder must be a real folder owned by root (uid 0) or by us, not
// readable by group or others (else status fails, kind "config").
// Per entry: lstat, then open with O_RDONLY|O_NOFOLLOW|O_NONBLOCK and fstat
// of the same inode; it must be a regular file with one link, owned by a
// uid that is not 0 and equals its `uid` line, with no permission for group
// or others (0600: only its owner wrote it), at most max_incoming_bytes,
// and parse. A link, a fifo or another non-regular file is removed (its
// target is never opened); a regular file that fails a check, or a folder
// (never descended into), is moved to `failed_dir/incoming-NAME.bad` for the
// administrator. Hidden (".") names are entries being written: left alone,
// removed after an hour or when dated more than 5 minutes ahead. Nothing is
// left for ever (the path unit starts the flush while the folder is not
// empty).
// `now` is unix seconds. Within `budget`; the rest is counted in `left`.
Intake take_incoming(const std::string &dir, const std::string &failed_dir, long now,
                     const IntakeBudget &budget = {});

// Removes a taken entry once its message is delivered or queued.
util::Status remove_incoming(const std::string &dir, const std::string &name);

} // namespace smtpsend::queue
