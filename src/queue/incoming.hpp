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

#include "queue/queue.hpp"
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

// The folders of the shared spool, in the system queue folder QUEUE:
//   QUEUE/incoming/      complete entries only (1733): every name in it is
//                        an entry the flush deals with, so a flush leaves it
//                        empty (the path unit watches it);
//   QUEUE/incoming.tmp/  entries being written (1733): a submitter writes
//                        here, then renames the complete file into incoming/;
//   QUEUE/claimed/       root's (0700): entries a flush took out of
//                        incoming/, named by the queue id they get; removed
//                        once that queue entry exists.
// A message is, at every step and after a crash at any step, in exactly one
// of incoming/, claimed/ (not yet queued) or the queue (docs/sendmail.md).
struct IncomingDirs {
    std::string incoming;
    std::string tmp;
    std::string claimed;
    std::string failed; // QUEUE/failed: refused entries, for the administrator
};
IncomingDirs incoming_dirs(const std::string &queue_dir);
// `QUEUE_DIR/incoming`.
std::string incoming_dir(const std::string &queue_dir);
// `QUEUE_DIR/incoming.tmp`.
std::string incoming_tmp_dir(const std::string &queue_dir);

// Creates incoming/ and incoming.tmp/ (mode 1733) and claimed/ (0700) in
// root's queue folder, and makes that folder searchable (0711) so other
// users reach them. Only when `queue_dir` is a real folder owned by root;
// errors are left to take_incoming's checks.
void create_incoming_dirs(const std::string &queue_dir);

// The bytes of an entry. Fails (kind "input") when a recipient or the name
// holds a control character or the entry would exceed max_incoming_bytes.
util::Result<std::string> encode_submission(const Submission &s);
// Parses an entry. Fails (kind "input") naming what is wrong: no magic line,
// an unknown version or line, a missing blank line, a size that is not the
// number of bytes that follow (truncated or appended), no recipients
// without -t, a control character.
util::Result<Submission> decode_submission(std::string_view data);

// Writes an entry into `tmp_dir` (O_CREAT|O_EXCL|O_NOFOLLOW, 0600), fsync,
// then renames it to a unique name in `dir` (incoming/, on the same file
// system), so every name in incoming/ is a complete entry. Returns the name.
// Fails (kind "io") when it cannot be written (nothing is left).
util::Result<std::string> submit(const std::string &tmp_dir, const std::string &dir,
                                 const Submission &s);

// One entry root's flush took: it is in claimed/ under `claim`, the id its
// queue entry gets.
struct Taken {
    std::string name;  // its name in incoming/; "" when an earlier flush claimed it
    std::string claim; // its name in claimed/: the queue id to give it
    uid_t owner = 0;   // the file's owner: the sender
    Submission submission;
};

// An entry refused, and what became of it.
struct Refused {
    std::string name;   // in incoming/, or "claimed/ID"
    std::string reason; // "a symbolic link", "2 hard links", ...
    std::string action; // "removed" or "moved to failed/incoming-NAME.bad"
};

struct Intake {
    util::Status status = util::Ok{}; // why a folder itself was refused
    std::vector<Taken> taken;         // valid entries, claimed: queue each, then release_claim
    std::vector<Refused> refused;
    // Claims whose queue entry exists (an earlier flush queued it, then
    // could not remove the claim or stopped): removed now, never queued again.
    std::vector<std::string> released;
    // Claims whose queue entry exists and that cannot be removed: the entry
    // is held (never sent while its claim exists: see claim_pending).
    std::vector<Refused> held;
    size_t left = 0;     // entries looked at and left for the next flush (over the budget)
    bool unread = false; // the name budget stopped the reading: more names wait
};

// How much one intake takes (every taken entry is in memory until it is
// queued): at most `entries` entries and `bytes` bytes of them (the first
// entry always), and at most `names` names read from incoming/ (refused
// ones too; the folder is read no further).
struct IntakeBudget {
    size_t entries = 100;
    uint64_t bytes = 64 << 20;
    size_t names = 1000;
};

// Root's flush: takes entries of `q`'s incoming/ into claimed/ (a rename:
// the entry leaves incoming/ in one step). First the claims an earlier flush
// left: one whose queue entry exists (ID.json in the queue or failed/) is
// removed (released); one without is taken again under its id. Then
// incoming.tmp/ is cleaned: a file whose writer died (an hour old), one
// dated more than 5 minutes ahead, a link or fifo is removed, a folder moved
// to failed/. Then incoming/ is read, at most `budget.names` names (the
// folder is not read further). Every name is an entry: hidden names too.
// Missing incoming/: nothing. incoming/ and incoming.tmp/ must be real
// folders owned by root (uid 0) or by us, not readable by group or others
// (else status fails, kind "config").
// Entries are taken fairly: round-robin by owner uid (each owner's entries
// in name order; owners in the order of their first name), so one user's
// many entries never starve another's within the budget.
// Per entry: lstat; a link, a fifo or another non-regular file is removed
// in place (its target is never opened), a folder (never descended into) is
// moved to `failed/incoming-NAME.bad`. A regular file is claimed, then
// opened there with O_RDONLY|O_NOFOLLOW|O_NONBLOCK and fstat of the same
// inode; it must be a regular file with one link, owned by a uid that is not
// 0 and equals its `uid` line, with no permission for group or others (0600:
// only its owner wrote it), at most max_incoming_bytes, and parse; else it
// is moved to `failed/incoming-NAME.bad` for the administrator. Nothing is
// left in incoming/ but what the budget leaves (the path unit starts the
// flush while the folder is not empty).
// `now` is unix seconds.
Intake take_incoming(const Queue &q, long now, const IntakeBudget &budget = {});

// Removes the claim of an entry once its queue entry exists. Ok when it is
// already gone or `claim` cannot be a claim's name (empty, ".", "..", a
// '/'); fails (kind "io") when it cannot be removed: then the entry
// is held, and the next intake removes the claim.
util::Status release_claim(const std::string &queue_dir, const std::string &claim);
// True while QUEUE/claimed/ID exists: the queue entry ID came from incoming/
// and its claim is not removed yet. Such an entry is never sent, expired or
// dropped (a later intake queues a claim without a queue entry again: it
// would go twice).
bool claim_pending(const std::string &queue_dir, const std::string &id);

} // namespace smtpsend::queue
