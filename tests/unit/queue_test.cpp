#include "config/settings.hpp"
#include "log/attempt_log.hpp"
#include "message/body_source.hpp"
#include "queue/queue.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace smtpsend;
namespace fs = std::filesystem;

namespace {
std::string temp_queue() {
    return std::string(std::getenv("TMPDIR")) + "/queue-" + std::to_string(std::rand());
}
message::SegmentedSource text_source(const std::string& text) {
    return message::SegmentedSource({message::Segment::literal(text)});
}
// A sendable entry: an envelope that passes the address checks.
queue::Entry valid_entry() {
    queue::Entry e;
    e.from = "a@example.com";
    e.recipients = {"b@example.com"};
    return e;
}
std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}
// Sets a file's modification time (no following of symbolic links).
void set_mtime(const std::string& path, long t) {
    struct timespec times[2] = {{t, 0}, {t, 0}};
    REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}
// A queue with one sendable entry; returns its id.
std::string add_one(queue::Queue& q, const std::string& body = "Subject: x\r\n\r\nbody\r\n") {
    auto src = text_source(body);
    auto id = q.add(valid_entry(), src);
    REQUIRE(id);
    return *id;
}
} // namespace

TEST_CASE("a queued message and its entry round-trip") {
    queue::Queue q(temp_queue());
    auto src = text_source("Subject: x\r\n\r\nbody\r\n");
    queue::Entry e;
    e.from = "a@example.com";
    e.recipients = {"b@example.com", "c@example.com"};
    e.message_id = "<id@example.com>";
    e.attempts.push_back({1, "failed", "network", 0, "", "refused", 75});
    auto id = q.add(e, src);
    REQUIRE(id);
    auto list = q.list();
    REQUIRE(list.size() == 1);
    CHECK(list[0].id == *id);
    CHECK(list[0].recipients == e.recipients);
    CHECK(list[0].size == 20);
    CHECK(list[0].attempts.size() == 1);
    auto msg = q.open_message(*id);
    REQUIRE(msg);
    CHECK(*message::read_all(**msg) == "Subject: x\r\n\r\nbody\r\n");
    CHECK(fs::is_empty(q.dir() + "/tmp"));
}

TEST_CASE("an entry is locked by one holder at a time, and gone once removed") {
    queue::Queue q(temp_queue());
    auto src = text_source("x");
    auto id = q.add(valid_entry(), src);
    REQUIRE(id);
    {
        auto lock = q.lock(*id);
        REQUIRE(lock);
        CHECK_FALSE(q.lock(*id));
    }
    CHECK(q.lock(*id));
    REQUIRE(q.remove(*id));
    CHECK_FALSE(q.lock(*id));
    CHECK(q.list().empty());
    CHECK_FALSE(q.load(*id));
    CHECK_FALSE(q.load("../../etc/passwd"));
}

TEST_CASE("failed entries move to failed/ with the reason") {
    queue::Queue q(temp_queue());
    auto src = text_source("x");
    auto id = q.add(valid_entry(), src);
    REQUIRE(id);
    REQUIRE(q.fail(*q.load(*id), "550 5.1.1 user unknown"));
    CHECK(q.list().empty());
    auto failed = q.list_failed();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].failure == "550 5.1.1 user unknown");
    CHECK(fs::exists(q.dir() + "/failed/" + *id + ".eml"));
}

TEST_CASE("an entry of an unknown format version is refused") {
    queue::Queue q(temp_queue());
    auto src = text_source("x");
    auto id = q.add(valid_entry(), src);
    REQUIRE(id);
    std::ofstream(q.entry_path(*id)) << R"({"version": 99, "id": "x", "from": "a", "recipients": []})";
    auto e = q.load(*id);
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("version 99") != std::string::npos);
}

TEST_CASE("log lines are key=value and quote what needs it") {
    log::Record r;
    r.host = "smtp://h:587";
    r.from = "a@example.com";
    r.recipients = {"b@example.com", "c@example.com"};
    r.outcome = "failed";
    r.cls = "auth";
    r.reply_code = 535;
    r.reply = "535 5.7.8 bad \"creds\"\nsecond line";
    r.exit_code = 77;
    std::string line = log::format(r);
    CHECK(line.rfind("time=", 0) == 0);
    CHECK(line.find(" recipients=b@example.com,c@example.com ") != std::string::npos);
    CHECK(line.find(" reply=\"535 5.7.8 bad \\\"creds\\\" second line\" ") != std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find(" exit=77 ") != std::string::npos);
}

TEST_CASE("durations") {
    CHECK(config::parse_duration("90") == 90);
    CHECK(config::parse_duration("90s") == 90);
    CHECK(config::parse_duration("30m") == 1800);
    CHECK(config::parse_duration("12h") == 43200);
    CHECK(config::parse_duration("5d") == 432000);
    CHECK_FALSE(config::parse_duration(""));
    CHECK_FALSE(config::parse_duration("d"));
    CHECK_FALSE(config::parse_duration("5w"));
    CHECK_FALSE(config::parse_duration("-5s"));
}

// ---- file trust (issue 14) ----

TEST_CASE("a symbolic link planted in tmp/ is never written through") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    std::string victim = q.dir() + "/../victim-" + std::to_string(std::rand());
    write_text(victim, "precious\n");
    // The name today's code gives its temporary file for this entry.
    fs::create_symlink(victim, q.dir() + "/tmp/" + id + ".json.tmp");
    auto e = q.load(id);
    REQUIRE(e);
    e->first_failure = "overwritten?";
    REQUIRE(q.update(*e));
    CHECK(read_text(victim) == "precious\n");
    CHECK_FALSE(fs::is_symlink(q.entry_path(id)));
    CHECK(q.load(id)->first_failure == "overwritten?");
    struct stat st {};
    REQUIRE(lstat(q.entry_path(id).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(lstat(q.message_path(id).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a queue folder that others can write is refused, naming it and the fix") {
    std::string dir = temp_queue();
    fs::create_directories(dir);
    REQUIRE(chmod(dir.c_str(), 0777) == 0);
    queue::Queue q(dir);
    auto src = text_source("x");
    auto id = q.add(valid_entry(), src);
    REQUIRE_FALSE(id);
    CHECK(id.error().kind == util::ErrorKind::config);
    CHECK(id.error().message == "the queue folder " + dir +
                                    " is writable by others (mode 0777): refusing it, anyone could plant files there");
    CHECK(id.error().hint == "chmod 700 " + dir);
    CHECK_FALSE(fs::exists(dir + "/tmp"));
    auto opened = queue::Queue::open(dir, 1000);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == util::ErrorKind::config);
    auto scan = q.scan();
    REQUIRE_FALSE(scan.status);
    CHECK(scan.status.error().kind == util::ErrorKind::config);
}

TEST_CASE("a group-writable tmp/ inside the queue is refused") {
    queue::Queue q(temp_queue());
    add_one(q);
    REQUIRE(chmod((q.dir() + "/tmp").c_str(), 0770) == 0);
    auto src = text_source("x");
    auto id = q.add(valid_entry(), src);
    REQUIRE_FALSE(id);
    CHECK(id.error().kind == util::ErrorKind::config);
    CHECK(id.error().hint == "chmod 700 " + q.dir() + "/tmp");
}

TEST_CASE("a queue folder that is a symbolic link not owned by us is refused") {
    if (geteuid() != 0) {
        WARN("skipped: only root can give a symbolic link to another user");
        return;
    }
    std::string real = temp_queue(), link = temp_queue();
    fs::create_directories(real);
    REQUIRE(chmod(real.c_str(), 0700) == 0);
    fs::create_directory_symlink(real, link);
    REQUIRE(lchown(link.c_str(), 65534, 65534) == 0);
    queue::Queue q(link);
    auto src = text_source("x");
    auto id = q.add(valid_entry(), src);
    REQUIRE_FALSE(id);
    CHECK(id.error().kind == util::ErrorKind::config);
    CHECK(id.error().message == "the queue folder " + link +
                                    " is a symbolic link owned by uid 65534, not by us: refusing it");
    CHECK(fs::is_empty(real));
}

TEST_CASE("a queue folder that is our own symbolic link to a private folder is used") {
    std::string real = temp_queue(), link = temp_queue();
    fs::create_directories(real);
    REQUIRE(chmod(real.c_str(), 0700) == 0);
    fs::create_directory_symlink(real, link);
    queue::Queue q(link);
    std::string id = add_one(q);
    CHECK(fs::exists(real + "/" + id + ".json"));
}

// ---- stale temporary files ----

TEST_CASE("stale temporary files are removed at the first queue operation, locked and fresh ones kept") {
    std::string dir = temp_queue();
    {
        queue::Queue q(dir);
        add_one(q);
    }
    const long now = static_cast<long>(std::time(nullptr));
    std::string old_file = dir + "/tmp/old.eml.tmp", fresh = dir + "/tmp/fresh.eml.tmp",
                locked = dir + "/tmp/locked.eml.tmp";
    for (const auto& p : {old_file, fresh, locked})
        write_text(p, "half a message");
    set_mtime(old_file, now - 2 * 3600);
    set_mtime(locked, now - 2 * 3600);
    int fd = open(locked.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX) == 0); // a writer that is still at it
    queue::Queue q(dir);
    CHECK(q.list().size() == 1);
    CHECK_FALSE(fs::exists(old_file));
    CHECK(fs::exists(fresh));
    CHECK(fs::exists(locked));
    close(fd);
}

TEST_CASE("Queue::open cleans tmp/ as of the time it is given, without reading the clock") {
    std::string dir = temp_queue();
    {
        queue::Queue q(dir);
        add_one(q);
    }
    std::string file = dir + "/tmp/x.json.tmp";
    write_text(file, "{");
    const long now = static_cast<long>(std::time(nullptr));
    REQUIRE(queue::Queue::open(dir, now + 3590));
    CHECK(fs::exists(file));
    auto q = queue::Queue::open(dir, now + 3601);
    REQUIRE(q);
    CHECK_FALSE(fs::exists(file));
    CHECK(q->clean_tmp(now + 3601) == 0);
}

TEST_CASE("add takes the time as a parameter: the id and created come from it") {
    queue::Queue q(temp_queue());
    auto src = text_source("x");
    auto id = q.add(valid_entry(), src, 1795832430); // 2026-11-28T02:20:30Z
    REQUIRE(id);
    CHECK(id->rfind("20261128T022030Z-", 0) == 0);
    CHECK(q.load(*id)->created == 1795832430);
}

// ---- read-back entries are input ----

namespace {
// Rewrites one field of an entry's JSON as a hand edit would.
void edit_entry(const queue::Queue& q, const std::string& id, const std::string& key, const nlohmann::json& v) {
    auto j = nlohmann::json::parse(read_text(q.entry_path(id)));
    j[key] = v;
    write_text(q.entry_path(id), j.dump());
}
} // namespace

TEST_CASE("a read-back entry with an invalid address is a bad entry, never sendable") {
    auto [key, value, why] = GENERATE(table<std::string, nlohmann::json, std::string>({
        {"recipients", nlohmann::json::array({"b@example.com>\r\nRSET"}), "control character"},
        {"recipients", nlohmann::json::array({"b@example.com", "<c@example.com>"}), "invalid local part"},
        {"recipients", nlohmann::json::array({"c@exam>ple.com"}), "invalid domain"},
        {"recipients", nlohmann::json::array({"bexample.com"}), "has no @domain"},
        {"recipients", nlohmann::json::array({"b@exa\x01mple.com"}), "control character"},
        {"recipients", nlohmann::json::array(), "no recipients"},
        {"from", "a@example.com>\r\nRCPT TO:<x@evil.test", "control character"},
    }));
    CAPTURE(key, value);
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    edit_entry(q, id, key, value);
    auto loaded = q.load(id);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().message.find(why) != std::string::npos);
    CHECK(q.list().empty());
    auto failed = q.list_failed();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].id == id);
    CHECK(failed[0].failure.find(why) != std::string::npos);
}

// ---- bad entries never stop or hide the queue (issue 15) ----

TEST_CASE("each bad entry is reported by id and reason, moved to failed/, and the good ones still listed") {
    struct Row {
        const char* name;
        std::function<void(const queue::Queue&, const std::string&)> damage;
        std::string reason;
    };
    auto row = GENERATE(
        Row{"truncated json",
            [](const queue::Queue& q, const std::string& id) {
                std::string t = read_text(q.entry_path(id));
                write_text(q.entry_path(id), t.substr(0, t.size() / 2));
            },
            "not a queue entry"},
        Row{"empty json", [](const queue::Queue& q, const std::string& id) { write_text(q.entry_path(id), ""); },
            "not a queue entry"},
        Row{"unknown version",
            [](const queue::Queue& q, const std::string& id) { edit_entry(q, id, "version", 99); },
            "queue format version 99 is not 1"},
        Row{"missing eml", [](const queue::Queue& q, const std::string& id) { fs::remove(q.message_path(id)); },
            ".eml is missing"},
        Row{"eml is a folder",
            [](const queue::Queue& q, const std::string& id) {
                fs::remove(q.message_path(id));
                fs::create_directory(q.message_path(id));
            },
            ".eml is not a regular file"},
        Row{"eml is a symbolic link",
            [](const queue::Queue& q, const std::string& id) {
                fs::remove(q.message_path(id));
                fs::create_symlink("/etc/passwd", q.message_path(id));
            },
            ".eml is not a regular file"},
        Row{"eml truncated after queuing",
            [](const queue::Queue& q, const std::string& id) { fs::resize_file(q.message_path(id), 5); },
            ".eml is 5 bytes, the entry recorded 22: it changed after it was queued"});
    CAPTURE(row.name);
    queue::Queue q(temp_queue());
    std::string bad = add_one(q, "Subject: bad\r\n\r\nbody\r\n");
    std::string good = add_one(q, "Subject: ok\r\n\r\nbody\r\n");
    row.damage(q, bad);
    auto scan = q.scan();
    REQUIRE(scan.status);
    REQUIRE(scan.entries.size() == 1);
    CHECK(scan.entries[0].id == good);
    REQUIRE(scan.problems.size() == 1);
    CHECK(scan.problems[0].id == bad);
    CHECK(scan.problems[0].reason.find(row.reason) != std::string::npos);
    // Moved: it does not come back, and failed/ says why.
    CHECK_FALSE(fs::exists(q.entry_path(bad)));
    CHECK_FALSE(fs::exists(fs::symlink_status(q.message_path(bad))));
    auto again = q.scan();
    CHECK(again.problems.empty());
    CHECK(again.entries.size() == 1);
    auto failed = q.list_failed();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].id == bad);
    CHECK(failed[0].failure == "bad queue entry: " + scan.problems[0].reason);
    REQUIRE(q.drop(bad));
    CHECK(fs::is_empty(q.dir() + "/failed"));
}

TEST_CASE("a bad entry does not vanish from list(): it shows in list_failed with the reason") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    write_text(q.entry_path(id), "{\"version\": 1, \"id\": ");
    CHECK(q.list().empty());
    auto failed = q.list_failed();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].id == id);
    CHECK(failed[0].failure.find("not a queue entry") != std::string::npos);
    CHECK(read_text(q.dir() + "/failed/" + id + ".json.bad") == "{\"version\": 1, \"id\": ");
}

TEST_CASE("open_message refuses an .eml whose size changed after queuing") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    fs::resize_file(q.message_path(id), 5);
    auto msg = q.open_message(id);
    REQUIRE_FALSE(msg);
    CHECK(msg.error().message == "the message file " + q.message_path(id) +
                                     " is 5 bytes, the entry recorded 20: it changed after it was queued");
    CHECK(msg.error().kind == util::ErrorKind::io);
}

TEST_CASE("open_message refuses an .eml that is a symbolic link") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    std::string other = q.dir() + "/../other-" + std::to_string(std::rand());
    write_text(other, read_text(q.message_path(id))); // the same size: only the link type can tell
    fs::remove(q.message_path(id));
    fs::create_symlink(other, q.message_path(id));
    REQUIRE_FALSE(q.open_message(id));
}

// ---- drop ----

TEST_CASE("drop removes a damaged entry that load refuses") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    write_text(q.entry_path(id), "");
    REQUIRE_FALSE(q.load(id));
    REQUIRE(q.drop(id));
    CHECK_FALSE(fs::exists(q.entry_path(id)));
    CHECK_FALSE(fs::exists(q.message_path(id)));
}

TEST_CASE("drop removes an .eml that is a folder, and an entry in failed/") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    fs::remove(q.message_path(id));
    fs::create_directories(q.message_path(id) + "/inner");
    REQUIRE(q.drop(id));
    CHECK_FALSE(fs::exists(q.message_path(id)));
    std::string id2 = add_one(q);
    REQUIRE(q.fail(*q.load(id2), "550 no"));
    REQUIRE(q.drop(id2));
    CHECK(fs::is_empty(q.dir() + "/failed"));
}

TEST_CASE("drop fails when no file of that id exists, or the id is not one") {
    queue::Queue q(temp_queue());
    add_one(q);
    auto st = q.drop("20261128T022030Z-00000000");
    REQUIRE_FALSE(st);
    CHECK(st.error().kind == util::ErrorKind::noinput);
    CHECK(q.drop("../tmp").error().kind == util::ErrorKind::usage);
    CHECK(q.drop("").error().kind == util::ErrorKind::usage);
    CHECK(q.list().size() == 1);
}

TEST_CASE("drop refuses an entry that a flush holds") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    auto lock = q.lock(id);
    REQUIRE(lock);
    auto st = q.drop(id);
    REQUIRE_FALSE(st);
    CHECK(st.error().kind == util::ErrorKind::tempfail);
    CHECK(fs::exists(q.entry_path(id)));
}

// ---- byte-exact strings ----

TEST_CASE("strings that are not UTF-8 come back byte-exact") {
    queue::Queue q(temp_queue());
    auto e = valid_entry();
    e.from = "j\xf6rg@example.com";
    e.recipients = {"b@example.com", "j\xf6rg@example.org"};
    e.first_failure = "450 gr\xfc\xdf";
    e.settings = {{"helo", "h\xe9te.example"}, {"user", "j\xc3\xb6rg"}};
    e.attempts.push_back({1, "failed", "temporary", 450, "4.2.0", "450 4.2.0 w\xe4it", 75});
    auto src = text_source("x");
    auto id = q.add(e, src);
    REQUIRE(id);
    auto list = q.list();
    REQUIRE(list.size() == 1);
    CHECK(list[0].from == "j\xf6rg@example.com");
    CHECK(list[0].recipients == e.recipients);
    CHECK(list[0].first_failure == "450 gr\xfc\xdf");
    CHECK(list[0].settings == e.settings);
    REQUIRE(list[0].attempts.size() == 1);
    CHECK(list[0].attempts[0].reply == "450 4.2.0 w\xe4it");
    // The file is valid UTF-8 JSON; the readable field shows U+FFFD, the _hex one the bytes.
    auto j = nlohmann::json::parse(read_text(q.entry_path(*id)));
    CHECK(j["from"] == "j\xef\xbf\xbdrg@example.com");
    CHECK(j["from_hex"] == "6af67267406578616d706c652e636f6d");
    CHECK_FALSE(j.contains("message_id_hex"));
    CHECK(j["settings"]["user"] == "j\xc3\xb6rg");
    CHECK_FALSE(j["settings_hex"].contains("user"));
}

TEST_CASE("a version-1 entry as earlier versions wrote it is still read") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q, "x");
    write_text(q.entry_path(id), R"({"attempts":[{"class":"network","exit_code":75,"reply":"refused","reply_code":0,)"
                                 R"("status":"failed","time":1}],"created":5,"first_failure":"f","from":"a@example.com",)"
                                 R"("id":")" + id + R"(","message_id":"<m@x>","next_attempt":7,"profile":"work",)"
                                 R"("recipients":["b@example.com"],"server":"smtp://h:25","size":1,)"
                                 R"("unconfirmed":false,"version":1})");
    auto e = q.load(id);
    REQUIRE(e);
    CHECK(e->created == 5);
    CHECK(e->profile == "work");
    CHECK(e->recipients == std::vector<std::string>{"b@example.com"});
    CHECK(e->attempts.size() == 1);
    CHECK(e->settings.empty());
    CHECK(q.open_message(id));
}

// ---- settings ----

TEST_CASE("an entry records its settings in order, byte-exact, and never a secret") {
    queue::Queue q(temp_queue());
    auto e = valid_entry();
    e.settings = {{"server", "smtp://relay:587"}, {"tls", "none"}, {"password", "S3cr3t-never"},
                  {"password_cmd", "pass show x"}, {"PASSWORD", "S3cr3t-upper"}, {"auth", "plain"}};
    auto src = text_source("x");
    auto id = q.add(e, src);
    REQUIRE(id);
    std::string text = read_text(q.entry_path(*id));
    CHECK(text.find("S3cr3t") == std::string::npos);
    CHECK(text.find("\"password_cmd\": \"pass show x\"") != std::string::npos);
    std::vector<std::pair<std::string, std::string>> want = {
        {"server", "smtp://relay:587"}, {"tls", "none"}, {"password_cmd", "pass show x"}, {"auth", "plain"}};
    CHECK(q.load(*id)->settings == want);
    // A secret edited into the file is not read back either.
    auto j = nlohmann::ordered_json::parse(text);
    j["settings"]["password"] = "edited-in";
    write_text(q.entry_path(*id), j.dump());
    CHECK(q.load(*id)->settings == want);
}

TEST_CASE("a setting with a tab is kept: only other control characters make a bad entry") {
    queue::Queue q(temp_queue());
    auto e = valid_entry();
    e.settings = {{"password_cmd", "printf 'a\tb'"}};
    auto src = text_source("x");
    auto id = q.add(e, src);
    REQUIRE(id);
    auto loaded = q.load(*id);
    REQUIRE(loaded);
    CHECK(loaded->settings == e.settings);
}

TEST_CASE("a setting with a line break read back is a bad entry") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    edit_entry(q, id, "settings", {{"helo", "x\r\nRSET"}});
    auto e = q.load(id);
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("setting \"helo\" contains a control character") != std::string::npos);
}

// ---- never send what cannot be recorded ----

namespace {
// Runs `q.can_update(id)` as a user whom the folder's permission bits stop:
// ourselves when not root; as root (whom chmod does not stop) in a child
// process that gives up root for uid 65534 and owns the queue. Returns the
// error message, or "" when it succeeded.
std::string can_update_without_write_permission(const std::string& dir, const std::string& id) {
    if (geteuid() != 0) {
        REQUIRE(chmod(dir.c_str(), 0500) == 0);
        auto st = queue::Queue(dir).can_update(id);
        REQUIRE(chmod(dir.c_str(), 0700) == 0);
        return st ? "" : st.error().message;
    }
    for (const auto& p : fs::recursive_directory_iterator(dir))
        REQUIRE(lchown(p.path().c_str(), 65534, 65534) == 0);
    REQUIRE(lchown(dir.c_str(), 65534, 65534) == 0);
    REQUIRE(chmod(dir.c_str(), 0500) == 0);
    int pipefd[2];
    REQUIRE(pipe(pipefd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        auto st = queue::Queue(dir).can_update(id);
        std::string msg = st ? "" : st.error().message;
        if (write(pipefd[1], msg.data(), msg.size()) < 0)
            _exit(3);
        _exit(st ? 0 : 1);
    }
    close(pipefd[1]);
    std::string msg;
    char buf[512];
    for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;)
        msg.append(buf, static_cast<size_t>(n));
    close(pipefd[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) <= 1);
    REQUIRE(chmod(dir.c_str(), 0700) == 0);
    return msg;
}
} // namespace

TEST_CASE("can_update refuses an entry in a folder that cannot be written (chmod 500)") {
    // Under /tmp, not the test HOME (0700, root's): the child must reach it.
    char tmpl[] = "/tmp/smtpsend-ro-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    REQUIRE(chmod(tmpl, 0755) == 0);
    std::string dir = std::string(tmpl) + "/queue";
    queue::Queue q(dir);
    std::string id = add_one(q);
    REQUIRE(q.can_update(id));
    std::string msg = can_update_without_write_permission(dir, id);
    CHECK(msg == "cannot write in " + dir + ": Permission denied");
    fs::remove_all(tmpl);
}

TEST_CASE("can_update refuses an entry whose .json is a symbolic link") {
    queue::Queue q(temp_queue());
    std::string id = add_one(q);
    std::string other = q.dir() + "/../elsewhere-" + std::to_string(std::rand()) + ".json";
    fs::rename(q.entry_path(id), other);
    fs::create_symlink(other, q.entry_path(id));
    auto st = q.can_update(id);
    REQUIRE_FALSE(st);
    CHECK(st.error().kind == util::ErrorKind::io);
    CHECK(fs::is_empty(q.dir() + "/tmp"));
}

TEST_CASE("a queue entry whose id is drawn again is never overwritten") {
    // Ids are the second plus 32 random bits: two messages queued in the same
    // second may draw the same one. The second takes another id; the first
    // is kept.
    queue::Queue q(temp_queue());
    std::vector<std::string> ids{"20270115T080000Z-aaaaaaaa", "20270115T080000Z-aaaaaaaa",
                                 "20270115T080000Z-bbbbbbbb"};
    size_t drawn = 0;
    q.set_id_source([&](long) { return ids.at(drawn++); });
    auto first = text_source("Subject: first\r\n\r\nbody\r\n");
    auto second = text_source("Subject: second\r\n\r\nbody\r\n");
    auto a = q.add(valid_entry(), first, 1'800'000'000);
    auto b = q.add(valid_entry(), second, 1'800'000'000);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a == "20270115T080000Z-aaaaaaaa");
    CHECK(*b == "20270115T080000Z-bbbbbbbb");
    CHECK(q.list().size() == 2);
    auto kept = q.open_message(*a);
    REQUIRE(kept);
    CHECK(*message::read_all(**kept) == "Subject: first\r\n\r\nbody\r\n");
}

TEST_CASE("a claim's add after an interrupted one completes: its message file is replaced") {
    // An incoming/ claim names its queue id; an add of it that stopped between
    // the message file and the entry file leaves the message alone, and the
    // next flush adds the same claim again.
    queue::Queue q(temp_queue());
    queue::Entry e = valid_entry();
    e.id = "20270115T080000Z-cccccccc";
    auto first = text_source("Subject: claimed\r\n\r\nbody\r\n");
    REQUIRE(q.add(e, first, 1'800'000'000));
    fs::remove(q.entry_path(e.id)); // stopped before the entry file
    auto again = text_source("Subject: claimed\r\n\r\nbody\r\n");
    auto id = q.add(e, again, 1'800'000'000);
    REQUIRE(id);
    CHECK(*id == e.id);
    CHECK(q.list().size() == 1);
    CHECK(read_text(q.message_path(e.id)) == "Subject: claimed\r\n\r\nbody\r\n");
}
