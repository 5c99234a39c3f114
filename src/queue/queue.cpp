#include "queue/queue.hpp"

#include "util/strings.hpp"
#include "util/json_text.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace smtpsend::queue {

using util::make_error;

namespace {

util::Error io_error(const std::string& what) {
    return make_error(what + ": " + std::strerror(errno), "", "io");
}

util::Status make_dir(const std::string& path) {
    // Creates each missing component, private to the user.
    for (size_t pos = 1; pos <= path.size(); ++pos) {
        if (pos != path.size() && path[pos] != '/')
            continue;
        std::string part = path.substr(0, pos);
        if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            return io_error("cannot create the queue folder " + part);
    }
    return util::Ok{};
}

util::Status fsync_dir(const std::string& dir) {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open " + dir);
    int rc = fsync(fd);
    close(fd);
    if (rc != 0)
        return io_error("cannot sync " + dir);
    return util::Ok{};
}

util::Status write_all(int fd, const char* data, size_t n, const std::string& path) {
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return io_error("cannot write " + path);
        data += w;
        n -= static_cast<size_t>(w);
    }
    return util::Ok{};
}

// Writes `data` to `path` through a temporary file, fsync and rename.
util::Status write_atomically(const std::string& dir, const std::string& path, const std::string& data) {
    std::string tmp = dir + "/tmp/" + path.substr(path.rfind('/') + 1) + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_error("cannot create " + tmp);
    auto st = write_all(fd, data.data(), data.size(), tmp);
    if (st && fsync(fd) != 0)
        st = io_error("cannot sync " + tmp);
    close(fd);
    if (st && rename(tmp.c_str(), path.c_str()) != 0)
        st = io_error("cannot rename " + tmp);
    if (!st) {
        unlink(tmp.c_str());
        return st;
    }
    return fsync_dir(dir);
}

nlohmann::json to_json(const Entry& e) {
    nlohmann::json attempts = nlohmann::json::array();
    for (const auto& a : e.attempts)
        attempts.push_back({{"time", a.time}, {"status", a.status}, {"class", a.cls},
                            {"reply_code", a.reply_code}, {"enhanced_code", a.enhanced},
                            {"reply", a.reply}, {"exit_code", a.exit_code}});
    nlohmann::json j = {{"version", format_version}, {"id", e.id}, {"created", e.created},
                        {"profile", e.profile}, {"server", e.server}, {"from", e.from},
                        {"recipients", e.recipients}, {"message_id", e.message_id},
                        {"size", e.size}, {"first_failure", e.first_failure},
                        {"unconfirmed", e.unconfirmed}, {"next_attempt", e.next_attempt},
                        {"attempts", attempts}};
    if (!e.failure.empty())
        j["failure"] = e.failure;
    return j;
}

util::Result<Entry> from_json(const std::string& text, const std::string& path) {
    try {
        auto j = nlohmann::json::parse(text);
        if (j.value("version", 0) != format_version)
            return make_error(path + ": queue format version " + std::to_string(j.value("version", 0)) +
                                  " is not " + std::to_string(format_version),
                              "this entry was written by another smtpsend version", "io");
        Entry e;
        e.id = j.at("id").get<std::string>();
        e.created = j.value("created", 0L);
        e.profile = j.value("profile", "");
        e.server = j.value("server", "");
        e.from = j.at("from").get<std::string>();
        e.recipients = j.at("recipients").get<std::vector<std::string>>();
        e.message_id = j.value("message_id", "");
        e.size = j.value("size", uint64_t{0});
        e.first_failure = j.value("first_failure", "");
        e.unconfirmed = j.value("unconfirmed", false);
        e.next_attempt = j.value("next_attempt", 0L);
        e.failure = j.value("failure", "");
        for (const auto& a : j.value("attempts", nlohmann::json::array()))
            e.attempts.push_back(Attempt{a.value("time", 0L), a.value("status", ""), a.value("class", ""),
                                         a.value("reply_code", 0), a.value("enhanced_code", ""),
                                         a.value("reply", ""), a.value("exit_code", 0)});
        return e;
    } catch (const std::exception& ex) {
        return make_error(path + ": not a queue entry (" + std::string(ex.what()) + ")", "", "io");
    }
}

std::vector<Entry> read_dir(const std::string& dir) {
    std::vector<Entry> out;
    DIR* d = opendir(dir.c_str());
    if (!d)
        return out;
    while (dirent* ent = readdir(d)) {
        std::string name = ent->d_name;
        if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0)
            continue;
        auto text = util::read_small_file(dir + "/" + name, 16 << 20);
        if (!text)
            continue; // removed while listing
        auto e = from_json(*text, dir + "/" + name);
        if (e)
            out.push_back(std::move(*e));
    }
    closedir(d);
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
        return a.created != b.created ? a.created < b.created : a.id < b.id;
    });
    return out;
}

std::string new_id() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    return std::string(stamp) + "-" + util::random_hex(4);
}

} // namespace

Lock::~Lock() {
    if (fd_ >= 0)
        close(fd_); // releases the flock
}

std::string default_dir(const util::Environment& env) {
    if (geteuid() == 0)
        return "/var/spool/smtpsend";
    if (auto state = env.get("XDG_STATE_HOME"); state && !state->empty())
        return *state + "/smtpsend/queue";
    auto home = env.get("HOME");
    return (home ? *home : std::string("/tmp")) + "/.local/state/smtpsend/queue";
}

util::Status Queue::ensure_dirs() const {
    for (const auto& d : {dir_, dir_ + "/tmp", dir_ + "/failed"})
        if (auto st = make_dir(d); !st)
            return st;
    return util::Ok{};
}

util::Result<std::string> Queue::add(Entry entry, message::MessageSource& source) {
    if (auto st = ensure_dirs(); !st)
        return st.error();
    entry.id = new_id();
    if (entry.created == 0)
        entry.created = static_cast<long>(std::time(nullptr));
    // The message first: an entry is complete once its JSON exists.
    std::string tmp = dir_ + "/tmp/" + entry.id + ".eml.tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_error("cannot create " + tmp);
    source.rewind();
    util::Status st = util::Ok{};
    uint64_t size = 0;
    char buf[65536];
    for (;;) {
        auto got = source.read(buf, sizeof buf);
        if (!got) {
            st = got.error();
            break;
        }
        if (*got == 0)
            break;
        st = write_all(fd, buf, *got, tmp);
        if (!st)
            break;
        size += *got;
    }
    if (st && fsync(fd) != 0)
        st = io_error("cannot sync " + tmp);
    close(fd);
    if (st && rename(tmp.c_str(), message_path(entry.id).c_str()) != 0)
        st = io_error("cannot rename " + tmp);
    if (!st) {
        unlink(tmp.c_str());
        return st.error();
    }
    entry.size = size;
    if (auto w = write_atomically(dir_, entry_path(entry.id), util::json_text(to_json(entry), 2) + "\n"); !w) {
        unlink(message_path(entry.id).c_str());
        return w.error();
    }
    return entry.id;
}

std::vector<Entry> Queue::list() const { return read_dir(dir_); }
std::vector<Entry> Queue::list_failed() const { return read_dir(dir_ + "/failed"); }

util::Result<Entry> Queue::load(const std::string& id) const {
    if (id.find('/') != std::string::npos || id.empty())
        return make_error("no queue entry \"" + id + "\"", "", "usage");
    auto text = util::read_small_file(entry_path(id), 16 << 20);
    if (!text)
        return make_error("no queue entry \"" + id + "\" in " + dir_,
                          "`smtpsend queue list` shows the entries", "noinput");
    return from_json(*text, entry_path(id));
}

std::optional<Lock> Queue::lock(const std::string& id) const {
    std::string path = message_path(id);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return std::nullopt;
    }
    // Another flush may have delivered and removed it before we got the lock.
    struct stat held {}, now {};
    if (fstat(fd, &held) != 0 || stat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
        access(entry_path(id).c_str(), F_OK) != 0) {
        close(fd);
        return std::nullopt;
    }
    return Lock(fd);
}

util::Status Queue::update(const Entry& entry) const {
    return write_atomically(dir_, entry_path(entry.id), util::json_text(to_json(entry), 2) + "\n");
}

util::Status Queue::remove(const std::string& id) const {
    // The JSON first: without it the entry no longer counts.
    if (unlink(entry_path(id).c_str()) != 0 && errno != ENOENT)
        return io_error("cannot remove " + entry_path(id));
    if (unlink(message_path(id).c_str()) != 0 && errno != ENOENT)
        return io_error("cannot remove " + message_path(id));
    return fsync_dir(dir_);
}

util::Status Queue::fail(Entry entry, const std::string& reason) const {
    if (auto st = ensure_dirs(); !st)
        return st;
    entry.failure = reason;
    std::string failed = dir_ + "/failed";
    if (rename(message_path(entry.id).c_str(), (failed + "/" + entry.id + ".eml").c_str()) != 0)
        return io_error("cannot move " + message_path(entry.id) + " to " + failed);
    if (auto st = write_atomically(dir_, failed + "/" + entry.id + ".json", util::json_text(to_json(entry), 2) + "\n");
        !st)
        return st;
    unlink(entry_path(entry.id).c_str());
    if (auto st = fsync_dir(failed); !st)
        return st;
    return fsync_dir(dir_);
}

util::Result<std::unique_ptr<message::MessageSource>> Queue::open_message(const std::string& id) const {
    auto spool = message::Spool::from_path(message_path(id), /*scan=*/false);
    if (!spool)
        return spool.error();
    std::vector<message::Segment> segments{message::Segment::file(std::move(*spool), message::BodyEncoding::crlf)};
    return std::unique_ptr<message::MessageSource>(
        std::make_unique<message::SegmentedSource>(std::move(segments)));
}

} // namespace smtpsend::queue
