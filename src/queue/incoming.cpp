#include "queue/incoming.hpp"

#include "util/strings.hpp"
#include "util/system.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace smtpsend::queue {

using util::make_error;

namespace {

constexpr std::string_view magic = "smtpsend-incoming 1";
constexpr size_t max_recipients = 1000;
constexpr long stale_age = 3600;
constexpr long future_slack = 300; // clocks of NFS clients

util::Error input_error(std::string message) {
    return make_error(std::move(message), "", util::ErrorKind::input);
}

util::Error io_error(const std::string &what) {
    return make_error(what + ": " + std::strerror(errno), "", util::ErrorKind::io);
}

bool parse_number(std::string_view t, uint64_t &n) {
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    return !t.empty() && ec == std::errc() && ptr == t.data() + t.size();
}

} // namespace

std::string incoming_dir(const std::string &queue_dir) {
    return queue_dir + "/incoming";
}

util::Result<std::string> encode_submission(const Submission &s) {
    if (util::has_control_char(s.full_name))
        return input_error("the full name holds a control character");
    if (s.recipients.size() > max_recipients)
        return input_error("more than " + std::to_string(max_recipients) + " recipients");
    std::string out(magic);
    out += "\nuid " + std::to_string(s.uid) + "\nflags ";
    std::string flags = std::string(s.extract_recipients ? "t" : "") + (s.ignore_dots ? "i" : "");
    out += (flags.empty() ? "-" : flags) + "\n";
    if (!s.full_name.empty())
        out += "name " + s.full_name + "\n";
    for (const auto &r : s.recipients) {
        if (r.empty() || util::has_control_char(r))
            return input_error("a recipient is empty or holds a control character");
        out += "rcpt " + r + "\n";
    }
    out += "size " + std::to_string(s.message.size()) + "\n\n";
    if (out.size() + s.message.size() > max_incoming_bytes)
        return input_error("the message is larger than " +
                           std::to_string(max_incoming_bytes >> 20) + " MiB");
    out += s.message;
    return out;
}

util::Result<Submission> decode_submission(std::string_view data) {
    if (data.size() > max_incoming_bytes)
        return input_error("larger than " + std::to_string(max_incoming_bytes) + " bytes");
    Submission s;
    bool first = true, have_uid = false, have_flags = false, have_size = false;
    uint64_t size = 0;
    size_t pos = 0;
    for (;;) {
        auto nl = data.find('\n', pos);
        if (nl == std::string_view::npos)
            return input_error("truncated: no blank line after the entry's lines");
        std::string_view line = data.substr(pos, nl - pos);
        pos = nl + 1;
        if (first) {
            if (line != magic)
                return input_error("not an entry: the first line is not \"" + std::string(magic) +
                                   "\"");
            first = false;
            continue;
        }
        if (line.empty())
            break;
        if (util::has_control_char(line))
            return input_error("a line holds a control character");
        auto sp = line.find(' ');
        std::string_view key = line.substr(0, sp);
        std::string_view value =
            sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        uint64_t n = 0;
        if (key == "uid" && !have_uid && parse_number(value, n) && n <= 0xFFFFFFFEu) {
            s.uid = static_cast<uid_t>(n);
            have_uid = true;
        } else if (key == "flags" && !have_flags &&
                   (value == "-" ||
                    (!value.empty() && value.find_first_not_of("ti") == std::string_view::npos))) {
            s.extract_recipients = value.find('t') != std::string_view::npos;
            s.ignore_dots = value.find('i') != std::string_view::npos;
            have_flags = true;
        } else if (key == "name" && s.full_name.empty() && !value.empty()) {
            s.full_name = std::string(value);
        } else if (key == "rcpt" && !value.empty() && s.recipients.size() < max_recipients) {
            s.recipients.emplace_back(value);
        } else if (key == "size" && !have_size && parse_number(value, size)) {
            have_size = true;
        } else {
            return input_error("an unknown or repeated line \"" + std::string(line.substr(0, 40)) +
                               "\"");
        }
    }
    if (!have_uid || !have_flags || !have_size)
        return input_error("a uid, flags or size line is missing");
    if (data.size() - pos != size)
        return input_error("the message is " + std::to_string(data.size() - pos) +
                           " bytes, the entry says " + std::to_string(size) +
                           (data.size() - pos < size ? ": truncated" : ""));
    if (s.recipients.empty() && !s.extract_recipients)
        return input_error("no recipients and no -t");
    s.message = std::string(data.substr(pos));
    return s;
}

util::Result<std::string> submit(const std::string &tmp_dir, const std::string &dir,
                                 const Submission &s) {
    auto bytes = encode_submission(s);
    if (!bytes)
        return bytes.error();
    const std::string id = util::random_hex(10);
    // Written outside incoming/: every name there is complete, so no name
    // there means "being written" (a user's hidden file would keep the folder
    // non-empty for ever, and the path unit would start the flush again and
    // again).
    const std::string tmp = tmp_dir + "/." + id;
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_error("cannot create an entry in " + tmp_dir);
    bool ok = util::write_all(fd, *bytes) && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    // A name that sorts by time, then the random part: oldest first.
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%010ld", static_cast<long>(time(nullptr)));
    const std::string name = std::string(stamp) + "-" + id;
    if (ok && rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp.c_str());
        errno = saved;
        return io_error("cannot write an entry in " + dir);
    }
    return name;
}

namespace {

// Moves a refused file (or folder) at `path` out of the way, for the
// administrator, as failed/incoming-LABEL.bad.
std::string quarantine(const std::string &path, const std::string &failed_dir,
                       const std::string &label) {
    const std::string to = failed_dir + "/incoming-" + label + ".bad";
    if (renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
        return "moved to " + to;
    if (errno == ENOTEMPTY || errno == EEXIST || errno == EISDIR || errno == ENOTDIR) {
        // One of that name is there from an earlier flush.
        const std::string again =
            failed_dir + "/incoming-" + label + "-" + util::random_hex(4) + ".bad";
        if (renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, again.c_str(), RENAME_NOREPLACE) == 0)
            return "moved to " + again;
    }
    if (unlink(path.c_str()) == 0)
        return "removed (cannot move it to " + failed_dir + ": " + std::strerror(errno) + ")";
    return std::string("kept: cannot remove it: ") + std::strerror(errno);
}

std::string remove_entry(const std::string &path) {
    if (unlink(path.c_str()) == 0)
        return "removed";
    return std::string("kept: cannot remove it: ") + std::strerror(errno);
}

// A spool folder users write (incoming/, incoming.tmp/): root's (or ours),
// not listable by others.
util::Status check_spool_dir(const std::string &dir, bool &missing) {
    struct stat dst {};
    missing = false;
    if (lstat(dir.c_str(), &dst) != 0) {
        if (errno == ENOENT) {
            missing = true;
            return util::Ok{};
        }
        return io_error("cannot examine " + dir);
    }
    const uid_t me = geteuid();
    if (!S_ISDIR(dst.st_mode) || (dst.st_uid != 0 && dst.st_uid != me) ||
        (dst.st_mode & (S_IRGRP | S_IROTH))) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(dst.st_mode & 07777));
        return make_error("the incoming folder " + dir +
                              " is not a folder of root's with mode 1733 (mode " + mode + ", uid " +
                              std::to_string(dst.st_uid) + "): refusing it",
                          "rm -rf " + dir + "; install -d -m 1733 " + dir, util::ErrorKind::config);
    }
    return util::Ok{};
}

// claimed/: root's alone (ours), created when missing.
util::Status check_claimed_dir(const std::string &dir) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return io_error("cannot create " + dir);
    struct stat st {};
    if (lstat(dir.c_str(), &st) != 0)
        return io_error("cannot examine " + dir);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return make_error("the folder " + dir + " is not a folder of ours with mode 0700: refusing it",
                          "rm -rf " + dir + "; install -d -m 0700 " + dir,
                          util::ErrorKind::config);
    return util::Ok{};
}

// What the checks of one file say.
struct Checked {
    bool ok = false;
    std::string reason;   // when refused
    bool regular = false; // refused: move it aside (true) or remove it (false)
    uid_t owner = 0;
    uint64_t bytes = 0;
    Submission submission;
};

// Every check of an entry at `path` (claimed: no user can rename it now),
// opened without following it.
Checked check_entry(const std::string &path) {
    Checked c;
    auto refuse = [&](std::string reason, bool regular) {
        c.reason = std::move(reason);
        c.regular = regular;
        return c;
    };
    struct stat lst {};
    if (lstat(path.c_str(), &lst) != 0)
        return refuse(std::string("cannot examine it: ") + std::strerror(errno), false);
    if (S_ISDIR(lst.st_mode))
        // Moved aside (never descended into as root).
        return refuse("a folder", true);
    if (S_ISLNK(lst.st_mode))
        return refuse("a symbolic link (never followed)", false);
    if (!S_ISREG(lst.st_mode))
        return refuse(S_ISFIFO(lst.st_mode) ? "a fifo, not a regular file" : "not a regular file",
                      false);
    if (lst.st_nlink != 1)
        return refuse(std::to_string(lst.st_nlink) + " hard links (never read)", false);
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return refuse(std::string("cannot open it: ") + std::strerror(errno), false);
    struct Closer {
        int fd;
        ~Closer() { close(fd); }
    } closer{fd};
    struct stat st {};
    if (fstat(fd, &st) != 0 || st.st_dev != lst.st_dev || st.st_ino != lst.st_ino ||
        !S_ISREG(st.st_mode) || st.st_nlink != 1)
        return refuse("it changed while it was opened", false);
    if (st.st_uid == 0)
        return refuse("owned by root: root never submits through incoming/", true);
    if (st.st_mode & 077) {
        // The sender is the owner only if no one else could have written
        // it: another user's group-writable file renamed in from a shared
        // folder would be sent in that user's name.
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return refuse(std::string("mode ") + mode +
                          ": others may have written it (an entry is 0600)",
                      true);
    }
    if (static_cast<uint64_t>(st.st_size) > max_incoming_bytes)
        return refuse(std::to_string(st.st_size) + " bytes, more than the limit of " +
                          std::to_string(max_incoming_bytes) + " bytes",
                      true);
    std::string data;
    data.resize(static_cast<size_t>(st.st_size) + 1);
    size_t got = 0;
    while (got < data.size()) {
        ssize_t n = read(fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return refuse(std::string("cannot read it: ") + std::strerror(errno), true);
        if (n == 0)
            break;
        got += static_cast<size_t>(n);
    }
    if (got != static_cast<size_t>(st.st_size))
        return refuse("it changed while it was read", true);
    data.resize(got);
    auto sub = decode_submission(data);
    if (!sub)
        return refuse("damaged: " + sub.error().message, true);
    if (sub->uid != st.st_uid)
        return refuse("owned by uid " + std::to_string(st.st_uid) + " but it says uid " +
                          std::to_string(sub->uid),
                      true);
    c.ok = true;
    c.owner = st.st_uid;
    c.bytes = data.size();
    c.submission = std::move(*sub);
    return c;
}

// The queue entry `id` exists (in the queue or failed/): its message left
// claimed/ for good.
bool is_queued(const Queue &q, const std::string &id) {
    struct stat st {};
    return lstat(q.entry_path(id).c_str(), &st) == 0 ||
           lstat((q.dir() + "/failed/" + id + ".json").c_str(), &st) == 0 ||
           lstat((q.dir() + "/failed/" + id + ".json.bad").c_str(), &st) == 0;
}

// An id for a claim that no queue file uses.
bool id_is_free(const Queue &q, const std::string &id) {
    struct stat st {};
    return !is_queued(q, id) && lstat(q.message_path(id).c_str(), &st) != 0;
}

// Removes what a dead writer left in incoming.tmp/ (an hour old, or dated
// ahead: its owner set the mtime), and what a writer never leaves there
// (links, fifos: removed; folders: moved to failed/). At most `names` names.
void clean_incoming_tmp(const std::string &dir, const std::string &failed_dir, long now,
                        size_t names) {
    DIR *d = opendir(dir.c_str());
    if (!d)
        return;
    size_t looked_at = 0;
    while (looked_at < names) {
        auto *ent = readdir(d);
        if (!ent)
            break;
        std::string name = ent->d_name;
        if (name == "." || name == "..")
            continue;
        ++looked_at;
        const std::string path = dir + "/" + name;
        struct stat st {};
        if (lstat(path.c_str(), &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            quarantine(path, failed_dir, "tmp-" + name);
        else if (!S_ISREG(st.st_mode) || now - st.st_mtime > stale_age ||
                 st.st_mtime > now + future_slack)
            unlink(path.c_str());
    }
    closedir(d);
}

} // namespace

IncomingDirs incoming_dirs(const std::string &queue_dir) {
    return {incoming_dir(queue_dir), incoming_tmp_dir(queue_dir), queue_dir + "/claimed",
            queue_dir + "/failed"};
}

std::string incoming_tmp_dir(const std::string &queue_dir) {
    return queue_dir + "/incoming.tmp";
}

void create_incoming_dirs(const std::string &queue_dir) {
    struct stat st {};
    if (lstat(queue_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0)
        return;
    const auto dirs = incoming_dirs(queue_dir);
    for (const auto &dir : {dirs.incoming, dirs.tmp})
        if (mkdir(dir.c_str(), 01733) == 0)
            chmod(dir.c_str(), 01733); // the umask took bits off
    mkdir(dirs.claimed.c_str(), 0700);
    if ((st.st_mode & 0011) != 0011)
        chmod(queue_dir.c_str(), (st.st_mode & 07777) | 0011);
}

Intake take_incoming(const Queue &q, long now, const IntakeBudget &budget) {
    Intake in;
    const auto dirs = incoming_dirs(q.dir());
    bool missing = false, tmp_missing = false;
    if (in.status = check_spool_dir(dirs.incoming, missing); !in.status)
        return in;
    if (in.status = check_spool_dir(dirs.tmp, tmp_missing); !in.status)
        return in;
    struct stat cst {};
    if (missing && lstat(dirs.claimed.c_str(), &cst) != 0)
        return in; // no spool here
    if (in.status = check_claimed_dir(dirs.claimed); !in.status)
        return in;
    uint64_t taken_bytes = 0;
    auto fits = [&](uint64_t bytes) {
        return in.taken.empty() ||
               (in.taken.size() < budget.entries && taken_bytes + bytes <= budget.bytes);
    };

    // 1. What an earlier flush claimed. A claim whose queue entry exists is
    // removed, never queued again; one without is queued under its id.
    if (DIR *d = opendir(dirs.claimed.c_str())) {
        std::vector<std::string> claims;
        while (auto *ent = readdir(d)) {
            std::string n = ent->d_name;
            if (n != "." && n != "..")
                claims.push_back(n);
        }
        closedir(d);
        std::sort(claims.begin(), claims.end());
        for (const auto &id : claims) {
            const std::string path = dirs.claimed + "/" + id;
            if (is_queued(q, id)) {
                if (auto st = release_claim(q.dir(), id); st)
                    in.released.push_back(id);
                else
                    in.held.push_back({"claimed/" + id, st.error().message, "held"});
                continue;
            }
            struct stat st {};
            if (lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                !fits(static_cast<uint64_t>(st.st_size))) {
                ++in.left;
                continue;
            }
            auto c = check_entry(path);
            if (!c.ok) {
                in.refused.push_back({"claimed/" + id, c.reason,
                                      c.regular ? quarantine(path, dirs.failed, id)
                                                : remove_entry(path)});
                continue;
            }
            taken_bytes += c.bytes;
            in.taken.push_back({"", id, c.owner, std::move(c.submission)});
        }
    }

    // 2. What dead writers left in incoming.tmp/.
    if (!tmp_missing)
        clean_incoming_tmp(dirs.tmp, dirs.failed, now, budget.names);
    if (missing)
        return in;

    // 3. The names of incoming/, at most budget.names (read no further).
    DIR *d = opendir(dirs.incoming.c_str());
    if (!d) {
        in.status = io_error("cannot read " + dirs.incoming);
        return in;
    }
    struct Candidate {
        std::string name;
        uint64_t size;
    };
    std::map<uid_t, std::vector<Candidate>> by_owner;
    size_t looked_at = 0;
    while (auto *ent = readdir(d)) {
        std::string name = ent->d_name;
        if (name == "." || name == "..")
            continue;
        if (looked_at == budget.names) {
            in.unread = true; // one name past the budget: more wait
            break;
        }
        ++looked_at;
        const std::string path = dirs.incoming + "/" + name;
        struct stat lst {};
        if (lstat(path.c_str(), &lst) != 0)
            continue; // gone
        if (S_ISDIR(lst.st_mode)) {
            // A folder left here would keep incoming/ non-empty, and the path
            // unit would start the flush again and again.
            in.refused.push_back({name, "a folder", quarantine(path, dirs.failed, name)});
            continue;
        }
        if (!S_ISREG(lst.st_mode)) {
            in.refused.push_back({name,
                                  S_ISLNK(lst.st_mode) ? "a symbolic link (never followed)"
                                  : S_ISFIFO(lst.st_mode) ? "a fifo, not a regular file"
                                                          : "not a regular file",
                                  remove_entry(path)});
            continue;
        }
        by_owner[lst.st_uid].push_back({name, static_cast<uint64_t>(lst.st_size)});
    }
    closedir(d);

    // 4. Round-robin by owner: each owner's entries in name order, owners in
    // the order of their first name.
    struct Turn {
        std::vector<Candidate> *list;
        size_t next = 0;
        bool ended = false; // an entry of this owner did not fit: the rest waits
    };
    std::vector<Turn> turns;
    for (auto &[uid, list] : by_owner) {
        std::sort(list.begin(), list.end(),
                  [](const Candidate &a, const Candidate &b) { return a.name < b.name; });
        turns.push_back({&list});
    }
    std::sort(turns.begin(), turns.end(), [](const Turn &a, const Turn &b) {
        return a.list->front().name < b.list->front().name;
    });
    bool full = false;
    for (bool any = true; any && !full;) {
        any = false;
        for (auto &turn : turns) {
            if (turn.ended || turn.next >= turn.list->size())
                continue;
            if (in.taken.size() >= budget.entries) {
                full = true;
                break;
            }
            const Candidate &cand = (*turn.list)[turn.next];
            if (!fits(cand.size)) {
                turn.ended = true;
                continue;
            }
            ++turn.next;
            any = true;
            const std::string from = dirs.incoming + "/" + cand.name;
            // Claim: one rename, the entry leaves incoming/ and is root's.
            std::string id, to;
            bool claimed = false;
            int err = 0;
            for (int attempt = 0; attempt < 8 && !claimed; ++attempt) {
                id = new_entry_id(now);
                if (!id_is_free(q, id))
                    continue;
                to = dirs.claimed + "/" + id;
                claimed = renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(),
                                    RENAME_NOREPLACE) == 0;
                err = errno;
                if (!claimed && err != EEXIST)
                    break;
            }
            if (!claimed) {
                if (err != ENOENT) // else gone: its owner removed it
                    in.refused.push_back({cand.name,
                                          std::string("cannot claim it: ") + std::strerror(err),
                                          "kept"});
                continue;
            }
            auto c = check_entry(to);
            if (!c.ok) {
                in.refused.push_back({cand.name, c.reason,
                                      c.regular ? quarantine(to, dirs.failed, cand.name)
                                                : remove_entry(to)});
                continue;
            }
            taken_bytes += c.bytes;
            in.taken.push_back({cand.name, id, c.owner, std::move(c.submission)});
        }
    }
    for (const auto &turn : turns)
        in.left += turn.list->size() - turn.next;
    return in;
}

util::Status release_claim(const std::string &queue_dir, const std::string &claim) {
    if (claim.empty() || claim == "." || claim == ".." || claim.find('/') != std::string::npos)
        return util::Ok{}; // not a claim's name: there is none
    const std::string path = incoming_dirs(queue_dir).claimed + "/" + claim;
    if (unlink(path.c_str()) != 0 && errno != ENOENT)
        return io_error("cannot remove " + path);
    return util::Ok{};
}

bool claim_pending(const std::string &queue_dir, const std::string &id) {
    struct stat st {};
    return !id.empty() && id.find('/') == std::string::npos &&
           lstat((incoming_dirs(queue_dir).claimed + "/" + id).c_str(), &st) == 0;
}

} // namespace smtpsend::queue
