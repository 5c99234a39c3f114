#include "queue/queue.hpp"

#include "config/keys.hpp"
#include "message/address.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace smtpsend::queue {

using util::make_error;
using Json = nlohmann::ordered_json; // keeps the order of "settings"

namespace {

constexpr int create_flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
constexpr size_t max_entry_bytes = 16 << 20;

util::Error io_error(const std::string& what) {
    return make_error(what + ": " + std::strerror(errno), "", util::ErrorKind::io);
}

long clock_now() { return static_cast<long>(std::time(nullptr)); }

// A name for a new file that no one can guess: `base` plus a random suffix.
std::string unique_name(const std::string& base) { return base + "." + util::random_hex(8) + ".tmp"; }

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

// Ok when `path` is missing or a folder that only we (or root) can write.
util::Status check_dir(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0)
        return errno == ENOENT ? util::Status(util::Ok{}) : util::Status(io_error("cannot examine " + path));
    const uid_t me = geteuid();
    if (S_ISLNK(st.st_mode)) {
        if (st.st_uid != me)
            return make_error("the queue folder " + path + " is a symbolic link owned by uid " +
                                  std::to_string(st.st_uid) + ", not by us: refusing it",
                              "make it a real folder of your own (rm " + path + "; mkdir -m 700 " + path +
                                  "), or set queue_dir to one",
                              util::ErrorKind::config);
        if (stat(path.c_str(), &st) != 0)
            return io_error("cannot examine " + path);
    }
    if (!S_ISDIR(st.st_mode))
        return make_error("the queue folder " + path + " is not a folder",
                          "remove it, or set queue_dir to a folder of your own", util::ErrorKind::config);
    if (st.st_uid != me && st.st_uid != 0)
        return make_error("the queue folder " + path + " belongs to uid " + std::to_string(st.st_uid) +
                              ", not to us: refusing it",
                          "chown " + std::to_string(me) + " " + path + ", or set queue_dir to a folder of your own",
                          util::ErrorKind::config);
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return make_error("the queue folder " + path + " is writable by others (mode " + mode +
                              "): refusing it, anyone could plant files there",
                          "chmod 700 " + path, util::ErrorKind::config);
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
    if (!util::write_all(fd, std::string_view(data, n)))
        return io_error("cannot write " + path);
    return util::Ok{};
}

// Creates a new temporary file in `dir`/tmp/ (O_EXCL, O_NOFOLLOW, 0600, a
// random name) and holds its flock while it is written, so `clean_tmp` never
// removes a file being written. Returns the descriptor; `tmp` gets the path.
util::Result<int> create_tmp(const std::string& dir, const std::string& base, std::string& tmp) {
    tmp = dir + "/tmp/" + unique_name(base);
    int fd = open(tmp.c_str(), create_flags, 0600);
    if (fd < 0)
        return io_error("cannot create " + tmp);
    flock(fd, LOCK_EX | LOCK_NB); // new and ours: cannot be held by anyone else
    return fd;
}

// Writes `data` to `path` through a temporary file, fsync and rename.
util::Status write_atomically(const std::string& dir, const std::string& path, const std::string& data) {
    std::string tmp;
    auto fd = create_tmp(dir, path.substr(path.rfind('/') + 1), tmp);
    if (!fd)
        return fd.error();
    auto st = write_all(*fd, data.data(), data.size(), tmp);
    if (st && fsync(*fd) != 0)
        st = io_error("cannot sync " + tmp);
    if (st && rename(tmp.c_str(), path.c_str()) != 0)
        st = io_error("cannot rename " + tmp);
    close(*fd);
    if (!st) {
        unlink(tmp.c_str());
        return st;
    }
    return fsync_dir(path.substr(0, path.rfind('/')));
}

// ---- strings, byte-exact (docs/queue.md, "Strings") ----

bool valid_utf8(const std::string& s) {
    try {
        (void)Json(s).dump(); // nlohmann decides: the same check that its dump makes
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

std::string hex_encode(const std::string& s) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::string hex_decode(const std::string& hex, const std::string& field) {
    if (hex.size() % 2 != 0)
        throw std::runtime_error(field + "_hex is not hexadecimal");
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0)
            throw std::runtime_error(field + "_hex is not hexadecimal");
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

// "F": the text (invalid UTF-8 shown as U+FFFD), plus "F_hex" with the exact
// bytes when the text is not valid UTF-8.
void put(Json& j, const std::string& key, const std::string& value) {
    j[key] = value;
    if (!valid_utf8(value))
        j[key + "_hex"] = hex_encode(value);
}

void put_list(Json& j, const std::string& key, const std::vector<std::string>& values) {
    j[key] = values;
    if (std::all_of(values.begin(), values.end(), valid_utf8))
        return;
    Json hex = Json::array();
    for (const auto& v : values)
        hex.push_back(hex_encode(v));
    j[key + "_hex"] = hex;
}

std::string get(const Json& j, const std::string& key, bool required = false) {
    if (auto h = j.find(key + "_hex"); h != j.end())
        return hex_decode(h->get<std::string>(), key);
    if (required)
        return j.at(key).get<std::string>();
    return j.value(key, "");
}

std::vector<std::string> get_list(const Json& j, const std::string& key) {
    if (auto h = j.find(key + "_hex"); h != j.end()) {
        std::vector<std::string> out;
        for (const auto& v : *h)
            out.push_back(hex_decode(v.get<std::string>(), key));
        return out;
    }
    return j.at(key).get<std::vector<std::string>>();
}

// A key the settings table marks secret is never written nor read back.
bool recordable(const std::string& key) {
    const config::KeyInfo* k = config::find_key(util::to_lower(key));
    return !(k && k->secret) && valid_utf8(key);
}

std::string dump(const Json& j) {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Json to_json(const Entry& e) {
    Json attempts = Json::array();
    for (const auto& a : e.attempts) {
        Json one = {{"time", a.time}};
        put(one, "status", a.status);
        put(one, "class", a.cls);
        one["reply_code"] = a.reply_code;
        put(one, "enhanced_code", a.enhanced);
        put(one, "reply", a.reply);
        one["exit_code"] = a.exit_code;
        attempts.push_back(one);
    }
    Json j = {{"version", format_version}};
    put(j, "id", e.id);
    j["created"] = e.created;
    put(j, "profile", e.profile);
    put(j, "server", e.server);
    put(j, "from", e.from);
    put_list(j, "recipients", e.recipients);
    put(j, "message_id", e.message_id);
    j["size"] = e.size;
    put(j, "first_failure", e.first_failure);
    j["unconfirmed"] = e.unconfirmed;
    j["next_attempt"] = e.next_attempt;
    j["attempts"] = attempts;
    Json settings = Json::object(), settings_hex = Json::object();
    for (const auto& [key, value] : e.settings) {
        if (!recordable(key))
            continue;
        settings[key] = value;
        if (!valid_utf8(value))
            settings_hex[key] = hex_encode(value);
        else
            settings_hex.erase(key);
    }
    j["settings"] = settings;
    if (!settings_hex.empty())
        j["settings_hex"] = settings_hex;
    if (!e.secrets.empty())
        put_list(j, "secrets", e.secrets);
    if (!e.failure.empty())
        put(j, "failure", e.failure);
    return j;
}

util::Result<Entry> from_json(const std::string& text, const std::string& path) {
    try {
        auto j = Json::parse(text);
        if (!j.is_object())
            return make_error(path + ": not a queue entry (not a JSON object)", "", util::ErrorKind::io);
        if (j.value("version", 0) != format_version)
            return make_error(path + ": queue format version " + std::to_string(j.value("version", 0)) +
                                  " is not " + std::to_string(format_version),
                              "this entry was written by another smtpsend version", util::ErrorKind::io);
        Entry e;
        e.id = get(j, "id", true);
        e.created = j.value("created", 0L);
        e.profile = get(j, "profile");
        e.server = get(j, "server");
        e.from = get(j, "from", true);
        e.recipients = get_list(j, "recipients");
        e.message_id = get(j, "message_id");
        e.size = j.value("size", uint64_t{0});
        e.first_failure = get(j, "first_failure");
        e.unconfirmed = j.value("unconfirmed", false);
        e.next_attempt = j.value("next_attempt", 0L);
        e.failure = get(j, "failure");
        if (j.contains("secrets"))
            e.secrets = get_list(j, "secrets");
        for (const auto& a : j.value("attempts", Json::array()))
            e.attempts.push_back(Attempt{a.value("time", 0L), get(a, "status"), get(a, "class"),
                                         a.value("reply_code", 0), get(a, "enhanced_code"), get(a, "reply"),
                                         a.value("exit_code", 0)});
        if (auto s = j.find("settings"); s != j.end()) {
            Json none = Json::object();
            const Json& hex = j.contains("settings_hex") ? j["settings_hex"] : none;
            for (const auto& [key, value] : s->items()) {
                if (!recordable(key))
                    continue;
                auto h = hex.find(key);
                e.settings.emplace_back(key, h != hex.end() ? hex_decode(h->get<std::string>(), "settings")
                                                            : value.get<std::string>());
            }
        }
        return e;
    } catch (const std::exception& ex) {
        return make_error(path + ": not a queue entry (" + std::string(ex.what()) + ")", "", util::ErrorKind::io);
    }
}

// A control character other than a tab: what must never reach a command
// line, a header or a terminal from a queue entry.
bool has_control(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7f;
    });
}

// Why a parsed entry must not be sent, or "" when it may. Read-back entries
// are input like any other: the envelope is checked as a flag's would be.
std::string invalid_reason(const Entry& e, const std::string& id) {
    if (e.id != id)
        return "its id \"" + util::one_line(e.id) + "\" is not its file name's";
    if (!e.from.empty())
        if (auto st = message::check_addr_spec(e.from); !st)
            return "invalid sender: " + st.error().message;
    if (e.recipients.empty())
        return "no recipients";
    for (const auto& r : e.recipients)
        if (auto st = message::check_addr_spec(r); !st)
            return "invalid recipient: " + st.error().message;
    for (const auto& [key, value] : e.settings)
        if (has_control(key) || has_control(value))
            return "setting \"" + util::one_line(key) + "\" contains a control character";
    if (has_control(e.profile) || has_control(e.server) || has_control(e.message_id))
        return "a control character in its profile, server or message id";
    return {};
}

bool valid_id(const std::string& id) {
    return !id.empty() && id != "." && id != ".." && id.find('/') == std::string::npos &&
           id.find('\0') == std::string::npos;
}

// Reads an entry file without following a symbolic link. `missing` is set
// when it does not exist.
util::Result<std::string> read_entry_file(const std::string& path, bool& missing) {
    missing = false;
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        missing = errno == ENOENT;
        if (errno == ELOOP)
            return make_error(path + " is a symbolic link", "", util::ErrorKind::io);
        return io_error("cannot read " + path);
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > max_entry_bytes) {
        close(fd);
        return make_error(path + " is not a regular file of at most 16 MiB", "", util::ErrorKind::io);
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            auto e = io_error("cannot read " + path);
            close(fd);
            return e;
        }
        if (got == 0 || text.size() + static_cast<size_t>(got) > max_entry_bytes)
            break;
        text.append(buf, static_cast<size_t>(got));
    }
    close(fd);
    return text;
}

// Why the .eml (as `st` describes it) cannot be sent with an entry that
// recorded `size`, or "" when it can.
std::string message_problem(const std::string& path, const struct stat& st, uint64_t size) {
    if (!S_ISREG(st.st_mode))
        return "the message file " + path + " is not a regular file";
    if (static_cast<uint64_t>(st.st_size) != size)
        return "the message file " + path + " is " + std::to_string(st.st_size) + " bytes, the entry recorded " +
               std::to_string(size) + ": it changed after it was queued";
    return {};
}

// The same for the file at `path`, not following a symbolic link; `missing`
// is set when there is none.
std::string message_problem(const std::string& path, uint64_t size, bool& missing) {
    struct stat st {};
    missing = false;
    if (lstat(path.c_str(), &st) != 0) {
        missing = errno == ENOENT;
        return missing ? "the message file " + path + " is missing"
                       : "cannot examine " + path + ": " + std::strerror(errno);
    }
    return message_problem(path, st, size);
}

std::vector<Entry> read_failed_dir(const std::string& dir) {
    std::vector<Entry> out;
    DIR* d = opendir(dir.c_str());
    if (!d)
        return out;
    while (dirent* ent = readdir(d)) {
        std::string name = ent->d_name;
        if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0)
            continue;
        bool missing = false;
        auto text = read_entry_file(dir + "/" + name, missing);
        if (!text)
            continue; // removed while listing, or not ours
        auto e = from_json(*text, dir + "/" + name);
        if (e)
            out.push_back(std::move(*e));
    }
    closedir(d);
    return out;
}

void sort_entries(std::vector<Entry>& v) {
    std::sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) {
        return a.created != b.created ? a.created < b.created : a.id < b.id;
    });
}

} // namespace

std::string new_entry_id(long now) {
    std::time_t t = now;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    return std::string(stamp) + "-" + util::random_hex(4);
}

namespace {

// Removes a path of the queue without following it; a folder with what it
// holds. Ok when it is already gone.
util::Status remove_path(const std::string& path) {
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0)
        return errno == ENOENT ? util::Status(util::Ok{}) : util::Status(io_error("cannot remove " + path));
    if (S_ISDIR(st.st_mode)) {
        std::error_code ec;
        std::filesystem::remove_all(path, ec); // does not follow symbolic links inside
        if (ec)
            return make_error("cannot remove " + path + ": " + ec.message(), "", util::ErrorKind::io);
        return util::Ok{};
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT)
        return io_error("cannot remove " + path);
    return util::Ok{};
}

} // namespace

Lock::~Lock() {
    if (fd_ >= 0)
        close(fd_); // releases the flock
}

std::string default_dir(const util::Environment& env) {
    if (geteuid() == 0)
        return kSystemDir;
    if (auto state = env.get("XDG_STATE_HOME"); state && !state->empty())
        return *state + "/smtpsend/queue";
    auto home = env.get("HOME");
    return (home ? *home : std::string("/tmp")) + "/.local/state/smtpsend/queue";
}

util::Status Queue::check_folder() const {
    for (const auto& d : {dir_, dir_ + "/tmp", dir_ + "/failed"})
        if (auto st = check_dir(d); !st)
            return st;
    return util::Ok{};
}

util::Status Queue::ensure_dirs() const {
    if (auto st = check_folder(); !st)
        return st;
    for (const auto& d : {dir_, dir_ + "/tmp", dir_ + "/failed"})
        if (auto st = make_dir(d); !st)
            return st;
    return check_folder(); // what was created, or raced in
}

util::Status Queue::prepare() const {
    if (auto st = check_folder(); !st)
        return st;
    if (!cleaned_) {
        cleaned_ = true;
        clean_tmp(clock_now());
    }
    return util::Ok{};
}

util::Result<Queue> Queue::open(std::string dir, long now) {
    Queue q(std::move(dir));
    if (auto st = q.ensure_dirs(); !st)
        return st.error();
    q.cleaned_ = true;
    q.clean_tmp(now);
    return q;
}

size_t Queue::clean_tmp(long now) const {
    if (!check_folder())
        return 0;
    size_t removed = 0;
    auto clean = [&](const std::string& dir, bool probes_only) {
        DIR* d = opendir(dir.c_str());
        if (!d)
            return;
        while (dirent* ent = readdir(d)) {
            std::string name = ent->d_name;
            if (name == "." || name == ".." || (probes_only && name.rfind(".probe-", 0) != 0))
                continue;
            std::string path = dir + "/" + name;
            struct stat st {};
            if (lstat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode) || st.st_mtime > now - stale_tmp_age)
                continue;
            if (S_ISREG(st.st_mode)) {
                int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0)
                    continue;
                bool free = flock(fd, LOCK_EX | LOCK_NB) == 0; // a writer holds it while writing
                if (free && unlink(path.c_str()) == 0)
                    ++removed;
                close(fd);
            } else if (unlink(path.c_str()) == 0) { // a symbolic link, a FIFO: never ours to keep
                ++removed;
            }
        }
        closedir(d);
    };
    clean(dir_ + "/tmp", false);
    clean(dir_, true);
    clean(dir_ + "/failed", true);
    return removed;
}

util::Result<std::string> Queue::add(Entry entry, message::MessageSource& source) {
    return add(std::move(entry), source, clock_now());
}

util::Result<std::string> Queue::add(Entry entry, message::MessageSource& source, long now) {
    if (auto st = ensure_dirs(); !st)
        return st.error();
    if (!cleaned_) {
        cleaned_ = true;
        clean_tmp(now);
    }
    const bool id_given = !entry.id.empty();
    if (!id_given) {
        entry.id = id_source_(now);
    } else {
        struct stat st {};
        if (!valid_id(entry.id))
            return make_error("an invalid queue id \"" + entry.id + "\"", "", util::ErrorKind::io);
        if (lstat(entry_path(entry.id).c_str(), &st) == 0)
            return make_error("the queue entry " + entry.id + " exists", "", util::ErrorKind::io);
    }
    if (entry.created == 0)
        entry.created = now;
    // The message first: an entry is complete once its JSON exists.
    std::string tmp;
    auto fd = create_tmp(dir_, entry.id + ".eml", tmp);
    if (!fd)
        return fd.error();
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
        st = write_all(*fd, buf, *got, tmp);
        if (!st)
            break;
        size += *got;
    }
    if (st && fsync(*fd) != 0)
        st = io_error("cannot sync " + tmp);
    // A generated id's message takes its name only if no file has it
    // (another entry made in the same second with the same random part, or
    // one being written): a rename that replaced it would lose that message;
    // the id is drawn again. A given id is the caller's (an incoming/ claim,
    // checked free when it was claimed, and checked above to have no entry):
    // a message file there is what an interrupted add of that same claim
    // left, and is replaced.
    for (int tries = 0; st; ++tries) {
        struct stat taken {};
        const int flags = id_given ? 0 : RENAME_NOREPLACE;
        if (id_given || lstat(entry_path(entry.id).c_str(), &taken) != 0) {
            if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, message_path(entry.id).c_str(), flags) == 0)
                break;
            if (errno != EEXIST || id_given) {
                st = io_error("cannot rename " + tmp);
                break;
            }
        }
        if (tries == 16) {
            st = make_error("no free queue id for the message", "", util::ErrorKind::io);
            break;
        }
        entry.id = id_source_(now);
    }
    close(*fd);
    if (!st) {
        unlink(tmp.c_str());
        return st.error();
    }
    entry.size = size;
    if (auto w = write_atomically(dir_, entry_path(entry.id), dump(to_json(entry))); !w) {
        unlink(message_path(entry.id).c_str());
        return w.error();
    }
    return entry.id;
}

Scan Queue::scan() const {
    Scan out;
    if (auto st = prepare(); !st) {
        out.status = st;
        return out;
    }
    DIR* d = opendir(dir_.c_str());
    if (!d)
        return out; // no queue yet
    std::vector<std::string> ids;
    while (dirent* ent = readdir(d)) {
        std::string name = ent->d_name;
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0)
            ids.push_back(name.substr(0, name.size() - 5));
    }
    closedir(d);
    std::sort(ids.begin(), ids.end());
    const std::string failed = dir_ + "/failed";
    for (const auto& id : ids) {
        bool missing = false;
        auto text = read_entry_file(entry_path(id), missing);
        if (!text && missing)
            continue; // delivered or dropped while we looked
        std::string reason;
        std::optional<Entry> parsed;
        if (!text) {
            reason = text.error().message;
        } else if (auto e = from_json(*text, entry_path(id)); !e) {
            reason = e.error().message;
        } else {
            parsed = std::move(*e);
            reason = invalid_reason(*parsed, id);
            bool eml_missing = false;
            if (reason.empty())
                reason = message_problem(message_path(id), parsed->size, eml_missing);
            if (eml_missing && access((failed + "/" + id + ".eml").c_str(), F_OK) == 0)
                continue; // being moved to failed/ by a flush right now
        }
        if (reason.empty()) {
            out.entries.push_back(std::move(*parsed));
            continue;
        }
        out.problems.push_back(Problem{id, reason});
        // To failed/, so that it does not come back at every scan; not while a
        // flush holds it.
        int fd = ::open(message_path(id).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
            close(fd);
            continue;
        }
        Entry record;
        if (parsed) {
            record = *parsed;
        } else {
            record.id = id;
            struct stat st {};
            if (lstat(message_path(id).c_str(), &st) == 0 && S_ISREG(st.st_mode))
                record.size = static_cast<uint64_t>(st.st_size);
        }
        record.id = id;
        record.failure = "bad queue entry: " + reason;
        bool moved = ensure_dirs() &&
                     write_atomically(dir_, failed + "/" + id + ".json", dump(to_json(record)));
        if (moved) {
            struct stat st {};
            if (lstat(message_path(id).c_str(), &st) == 0)
                moved = rename(message_path(id).c_str(), (failed + "/" + id + ".eml").c_str()) == 0;
        }
        if (moved) {
            if (parsed)
                moved = unlink(entry_path(id).c_str()) == 0;
            else // the unreadable original, kept for a look
                moved = rename(entry_path(id).c_str(), (failed + "/" + id + ".json.bad").c_str()) == 0;
        }
        if (fd >= 0)
            close(fd);
        if (moved) {
            (void)fsync_dir(failed);
            (void)fsync_dir(dir_);
        }
    }
    sort_entries(out.entries);
    return out;
}

std::vector<Entry> Queue::list() const { return scan().entries; }

std::vector<Entry> Queue::list_failed() const {
    if (!prepare())
        return {};
    auto out = read_failed_dir(dir_ + "/failed");
    sort_entries(out);
    return out;
}

util::Result<Entry> Queue::load(const std::string& id) const {
    if (!valid_id(id))
        return make_error("no queue entry \"" + util::one_line(id) + "\"", "", util::ErrorKind::usage);
    if (auto st = prepare(); !st)
        return st.error();
    bool missing = false;
    auto text = read_entry_file(entry_path(id), missing);
    if (!text && missing)
        return make_error("no queue entry \"" + id + "\" in " + dir_,
                          "`smtpsend queue list` shows the entries", util::ErrorKind::noinput);
    if (!text)
        return text.error();
    auto e = from_json(*text, entry_path(id));
    if (!e)
        return e;
    if (auto why = invalid_reason(*e, id); !why.empty())
        return make_error(entry_path(id) + ": bad queue entry: " + why,
                          "`smtpsend queue drop " + id + "` removes it", util::ErrorKind::io);
    return e;
}

std::optional<Lock> Queue::lock(const std::string& id) const {
    if (!valid_id(id) || !prepare())
        return std::nullopt;
    std::string path = message_path(id);
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return std::nullopt;
    }
    // Another flush may have delivered and removed it before we got the lock.
    struct stat held {}, now {};
    if (fstat(fd, &held) != 0 || lstat(path.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
        access(entry_path(id).c_str(), F_OK) != 0) {
        close(fd);
        return std::nullopt;
    }
    return Lock(fd);
}

util::Status Queue::can_update(const std::string& id) const {
    if (!valid_id(id))
        return make_error("no queue entry \"" + util::one_line(id) + "\"", "", util::ErrorKind::usage);
    if (auto st = ensure_dirs(); !st)
        return st;
    const std::string hint = "make the queue folder " + dir_ + " writable; nothing is sent until it is";
    int fd = ::open(entry_path(id).c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        auto e = io_error("cannot update the queue entry " + entry_path(id));
        e.hint = hint;
        return e;
    }
    struct stat st {};
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular)
        return make_error(entry_path(id) + " is not a regular file", hint, util::ErrorKind::io);
    // The paths update, remove and fail take: a file created in tmp/, renamed
    // into the folder, renamed into failed/, removed.
    const std::string name = ".probe-" + util::random_hex(8);
    const std::string in_tmp = dir_ + "/tmp/" + name, in_dir = dir_ + "/" + name,
                      in_failed = dir_ + "/failed/" + name;
    fd = ::open(in_tmp.c_str(), create_flags, 0600);
    if (fd < 0) {
        auto e = io_error("cannot write in " + dir_ + "/tmp");
        e.hint = hint;
        return e;
    }
    close(fd);
    auto fail_at = [&](const std::string& what, const std::string& left) {
        auto e = io_error(what);
        e.hint = hint;
        unlink(left.c_str());
        return e;
    };
    if (rename(in_tmp.c_str(), in_dir.c_str()) != 0)
        return fail_at("cannot write in " + dir_, in_tmp);
    if (rename(in_dir.c_str(), in_failed.c_str()) != 0)
        return fail_at("cannot write in " + dir_ + "/failed", in_dir);
    if (unlink(in_failed.c_str()) != 0)
        return fail_at("cannot remove files in " + dir_ + "/failed", in_failed);
    return util::Ok{};
}

util::Status Queue::update(const Entry& entry) const {
    if (auto st = prepare(); !st)
        return st;
    return write_atomically(dir_, entry_path(entry.id), dump(to_json(entry)));
}

util::Status Queue::remove(const std::string& id) const {
    if (auto st = prepare(); !st)
        return st;
    // The JSON first: without it the entry no longer counts.
    if (unlink(entry_path(id).c_str()) != 0 && errno != ENOENT)
        return io_error("cannot remove " + entry_path(id));
    if (unlink(message_path(id).c_str()) != 0 && errno != ENOENT)
        return io_error("cannot remove " + message_path(id));
    return fsync_dir(dir_);
}

util::Status Queue::drop(const std::string& id) const {
    if (!valid_id(id))
        return make_error("no queue entry \"" + util::one_line(id) + "\"", "", util::ErrorKind::usage);
    if (auto st = prepare(); !st)
        return st;
    const std::string failed = dir_ + "/failed/" + id;
    // The entry file first: without it the entry no longer counts.
    const std::vector<std::string> paths = {entry_path(id), message_path(id), failed + ".json", failed + ".eml",
                                            failed + ".json.bad"};
    int fd = ::open(message_path(id).c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return make_error(id + " is being sent by a flush right now", "try again when it is done", util::ErrorKind::tempfail);
    }
    bool found = false;
    util::Status result = util::Ok{};
    for (const auto& p : paths) {
        struct stat st {};
        if (lstat(p.c_str(), &st) != 0)
            continue;
        found = true;
        if (auto r = remove_path(p); !r) {
            result = r;
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    if (!result)
        return result;
    if (!found)
        return make_error("no queue entry \"" + id + "\" in " + dir_ + " or its failed/",
                          "`smtpsend queue list` shows the entries", util::ErrorKind::noinput);
    (void)fsync_dir(dir_);
    return util::Ok{};
}

util::Status Queue::fail(Entry entry, const std::string& reason) const {
    if (auto st = ensure_dirs(); !st)
        return st;
    entry.failure = reason;
    std::string failed = dir_ + "/failed";
    // The record first, then the message, then the queue's entry goes: a
    // scan in between sees the .eml in failed/ and leaves the entry alone.
    if (auto st = write_atomically(dir_, failed + "/" + entry.id + ".json", dump(to_json(entry))); !st)
        return st;
    if (rename(message_path(entry.id).c_str(), (failed + "/" + entry.id + ".eml").c_str()) != 0) {
        auto e = io_error("cannot move " + message_path(entry.id) + " to " + failed);
        unlink((failed + "/" + entry.id + ".json").c_str());
        return e;
    }
    unlink(entry_path(entry.id).c_str());
    if (auto st = fsync_dir(failed); !st)
        return st;
    return fsync_dir(dir_);
}

util::Result<std::unique_ptr<message::MessageSource>> Queue::open_message(const std::string& id) const {
    if (!valid_id(id))
        return make_error("no queue entry \"" + util::one_line(id) + "\"", "", util::ErrorKind::usage);
    if (auto st = prepare(); !st)
        return st.error();
    bool missing = false;
    auto text = read_entry_file(entry_path(id), missing);
    if (!text)
        return make_error(text.error().message, "", missing ? util::ErrorKind::noinput : util::ErrorKind::io);
    auto entry = from_json(*text, entry_path(id));
    if (!entry)
        return entry.error();
    const std::string path = message_path(id);
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return make_error("the message file " + path + " is missing", "", util::ErrorKind::noinput);
        return io_error("cannot open " + path);
    }
    struct stat st {};
    std::string why = fstat(fd, &st) != 0 ? "cannot examine " + path + ": " + std::strerror(errno)
                                          : message_problem(path, st, entry->size);
    if (!why.empty()) {
        close(fd);
        return make_error(why, "`smtpsend queue drop " + id + "` removes it", util::ErrorKind::io);
    }
    auto spool = message::Spool::from_fd(fd, path, 1 << 20, /*scan=*/false);
    close(fd);
    if (!spool)
        return spool.error();
    std::vector<message::Segment> segments{message::Segment::file(std::move(*spool), message::BodyEncoding::crlf)};
    return std::unique_ptr<message::MessageSource>(
        std::make_unique<message::SegmentedSource>(std::move(segments)));
}

} // namespace smtpsend::queue
