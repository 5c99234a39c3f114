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

util::Result<std::string> submit(const std::string &dir, const Submission &s) {
    auto bytes = encode_submission(s);
    if (!bytes)
        return bytes.error();
    const std::string id = util::random_hex(10);
    const std::string tmp = dir + "/." + id;
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_error("cannot create an entry in " + dir);
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

// Moves a refused regular file out of the way, for the administrator.
std::string quarantine(const std::string &dir, const std::string &failed_dir,
                       const std::string &name) {
    const std::string to = failed_dir + "/incoming-" + name + ".bad";
    if (rename((dir + "/" + name).c_str(), to.c_str()) == 0)
        return "moved to " + to;
    if (errno == ENOTEMPTY || errno == EEXIST || errno == EISDIR || errno == ENOTDIR) {
        // A folder of that name is there from an earlier flush.
        const std::string again =
            failed_dir + "/incoming-" + name + "-" + util::random_hex(4) + ".bad";
        if (rename((dir + "/" + name).c_str(), again.c_str()) == 0)
            return "moved to " + again;
    }
    if (unlink((dir + "/" + name).c_str()) == 0)
        return "removed (cannot move it to " + failed_dir + ": " + std::strerror(errno) + ")";
    return std::string("kept: cannot remove it: ") + std::strerror(errno);
}

std::string remove_entry(const std::string &dir, const std::string &name) {
    if (unlink((dir + "/" + name).c_str()) == 0)
        return "removed";
    return std::string("kept: cannot remove it: ") + std::strerror(errno);
}

} // namespace

Intake take_incoming(const std::string &dir, const std::string &failed_dir, long now,
                     const IntakeBudget &budget) {
    Intake in;
    struct stat dst {};
    if (lstat(dir.c_str(), &dst) != 0) {
        if (errno != ENOENT)
            in.status = io_error("cannot examine " + dir);
        return in;
    }
    const uid_t me = geteuid();
    if (!S_ISDIR(dst.st_mode) || (dst.st_uid != 0 && dst.st_uid != me) ||
        (dst.st_mode & (S_IRGRP | S_IROTH))) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(dst.st_mode & 07777));
        in.status = make_error(
            "the incoming folder " + dir + " is not a folder of root's with mode 1733 (mode " +
                mode + ", uid " + std::to_string(dst.st_uid) + "): refusing it",
            "rm -rf " + dir + "; install -d -m 1733 " + dir, util::ErrorKind::config);
        return in;
    }
    DIR *d = opendir(dir.c_str());
    if (!d) {
        in.status = io_error("cannot read " + dir);
        return in;
    }
    std::vector<std::string> names;
    while (auto *ent = readdir(d)) {
        std::string n = ent->d_name;
        if (n != "." && n != "..")
            names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    uint64_t taken_bytes = 0;
    size_t looked_at = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        const std::string &name = names[i];
        const std::string path = dir + "/" + name;
        auto over_budget = [&] {
            in.left = static_cast<size_t>(
                std::count_if(names.begin() + static_cast<std::ptrdiff_t>(i), names.end(),
                              [](const std::string &n) { return n[0] != '.'; }));
        };
        if (name[0] != '.' && (looked_at == budget.names || in.taken.size() == budget.entries)) {
            over_budget();
            break;
        }
        looked_at += name[0] != '.';
        struct stat lst {};
        if (lstat(path.c_str(), &lst) != 0)
            continue; // gone
        auto refuse = [&](std::string reason, bool regular) {
            in.refused.push_back(
                {name, std::move(reason),
                 regular ? quarantine(dir, failed_dir, name) : remove_entry(dir, name)});
        };
        if (S_ISDIR(lst.st_mode)) {
            // Moved aside (never descended into as root): a folder left here
            // would keep incoming/ non-empty, and the path unit would start
            // the flush again and again.
            refuse("a folder", true);
            continue;
        }
        if (name[0] == '.') {
            // Being written; a stale one (its writer died) is removed, and
            // one dated ahead (its owner set the mtime), which would be
            // "being written" for ever.
            if (now - lst.st_mtime > stale_age || lst.st_mtime > now + future_slack)
                unlink(path.c_str());
            continue;
        }
        if (S_ISLNK(lst.st_mode)) {
            refuse("a symbolic link (never followed)", false);
            continue;
        }
        if (!S_ISREG(lst.st_mode)) {
            refuse(S_ISFIFO(lst.st_mode) ? "a fifo, not a regular file" : "not a regular file",
                   false);
            continue;
        }
        if (lst.st_nlink != 1) {
            refuse(std::to_string(lst.st_nlink) + " hard links (never read)", false);
            continue;
        }
        int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            refuse(std::string("cannot open it: ") + std::strerror(errno), false);
            continue;
        }
        struct stat st {};
        if (fstat(fd, &st) != 0 || st.st_dev != lst.st_dev || st.st_ino != lst.st_ino ||
            !S_ISREG(st.st_mode) || st.st_nlink != 1) {
            close(fd);
            refuse("it changed while it was opened", false);
            continue;
        }
        if (st.st_uid == 0) {
            close(fd);
            refuse("owned by root: root never submits through incoming/", true);
            continue;
        }
        if (!in.taken.empty() && taken_bytes + static_cast<uint64_t>(st.st_size) > budget.bytes) {
            close(fd);
            over_budget();
            break;
        }
        if (st.st_mode & 077) {
            // The sender is the owner only if no one else could have written
            // it: another user's group-writable file renamed in from a shared
            // folder would be sent in that user's name.
            close(fd);
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
            refuse(std::string("mode ") + mode + ": others may have written it (an entry is 0600)",
                   true);
            continue;
        }
        if (static_cast<uint64_t>(st.st_size) > max_incoming_bytes) {
            close(fd);
            refuse(std::to_string(st.st_size) + " bytes, more than the limit of " +
                       std::to_string(max_incoming_bytes) + " bytes",
                   true);
            continue;
        }
        std::string data;
        data.resize(static_cast<size_t>(st.st_size) + 1);
        size_t got = 0;
        bool read_ok = true;
        while (got < data.size()) {
            ssize_t n = read(fd, data.data() + got, data.size() - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                read_ok = false;
                break;
            }
            if (n == 0)
                break;
            got += static_cast<size_t>(n);
        }
        close(fd);
        if (!read_ok) {
            refuse(std::string("cannot read it: ") + std::strerror(errno), true);
            continue;
        }
        if (got != static_cast<size_t>(st.st_size)) {
            refuse("it changed while it was read", true);
            continue;
        }
        data.resize(got);
        auto sub = decode_submission(data);
        if (!sub) {
            refuse("damaged: " + sub.error().message, true);
            continue;
        }
        if (sub->uid != st.st_uid) {
            refuse("owned by uid " + std::to_string(st.st_uid) + " but it says uid " +
                       std::to_string(sub->uid),
                   true);
            continue;
        }
        taken_bytes += data.size();
        in.taken.push_back({name, st.st_uid, std::move(*sub)});
    }
    return in;
}

util::Status remove_incoming(const std::string &dir, const std::string &name) {
    if (unlink((dir + "/" + name).c_str()) != 0 && errno != ENOENT)
        return io_error("cannot remove " + dir + "/" + name);
    return util::Ok{};
}

} // namespace smtpsend::queue
