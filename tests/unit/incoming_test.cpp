// queue/incoming: the entry format and root's intake of hostile entries.
#include "queue/incoming.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace smtpsend;
namespace fs = std::filesystem;

namespace {
struct Spool {
    std::string root =
        std::string(std::getenv("TMPDIR")) + "/incoming-" + std::to_string(std::rand());
    std::string dir = root + "/incoming";
    std::string failed = root + "/failed";
    Spool() {
        fs::create_directories(dir);
        fs::create_directories(failed);
        chmod(dir.c_str(), 01733);
    }
    ~Spool() { fs::remove_all(root); }
};
queue::Submission sample(uid_t uid) {
    queue::Submission s;
    s.uid = uid;
    s.recipients = {"bob@example.org"};
    s.ignore_dots = true;
    s.full_name = "Cron Daemon";
    s.message = "Subject: hi\r\n\r\nbody\r\n";
    return s;
}
void write_file(const std::string &path, const std::string &text) {
    std::ofstream(path, std::ios::binary) << text;
}
// A uid that is not ours and not root (the tests run as root in CI).
constexpr uid_t other_uid = 65534;
} // namespace

TEST_CASE("incoming: an entry survives encoding and decoding", "[incoming]") {
    auto bytes = queue::encode_submission(sample(1000));
    REQUIRE(bytes);
    CHECK(*bytes == "smtpsend-incoming 1\nuid 1000\nflags i\nname Cron Daemon\nrcpt "
                    "bob@example.org\nsize 21\n\n"
                    "Subject: hi\r\n\r\nbody\r\n");
    auto back = queue::decode_submission(*bytes);
    REQUIRE(back);
    CHECK(back->uid == 1000);
    CHECK(back->recipients == std::vector<std::string>{"bob@example.org"});
    CHECK(back->ignore_dots);
    CHECK_FALSE(back->extract_recipients);
    CHECK(back->full_name == "Cron Daemon");
    CHECK(back->message == "Subject: hi\r\n\r\nbody\r\n");
}

TEST_CASE("incoming: damaged entries are refused with the reason", "[incoming]") {
    struct Row {
        std::string data;
        std::string reason;
    } rows[] = {
        {"", "truncated: no blank line after the entry's lines"},
        {"garbage\n\n", "not an entry: the first line is not \"smtpsend-incoming 1\""},
        {"smtpsend-incoming 2\nuid 1\nflags -\nrcpt a@b\nsize 0\n\n",
         "not an entry: the first line is not \"smtpsend-incoming 1\""},
        {"smtpsend-incoming 1\nuid 1\nflags -\nrcpt a@b\nsize 10\n\nshort",
         "the message is 5 bytes, the entry says 10: truncated"},
        {"smtpsend-incoming 1\nuid 1\nflags -\nrcpt a@b\nsize 1\n\nlonger",
         "the message is 6 bytes, the entry says 1"},
        {"smtpsend-incoming 1\nuid 1\nflags -\nsize 0\n\n", "no recipients and no -t"},
        {"smtpsend-incoming 1\nuid 1\nflags -\nrcpt a@b\nserver smtp://evil\nsize 0\n\n",
         "an unknown or repeated line \"server smtp://evil\""},
        {"smtpsend-incoming 1\nuid 1\nuid 0\nflags -\nrcpt a@b\nsize 0\n\n",
         "an unknown or repeated line \"uid 0\""},
        {"smtpsend-incoming 1\nflags -\nrcpt a@b\nsize 0\n\n",
         "a uid, flags or size line is missing"},
        {"smtpsend-incoming 1\nuid 1\nflags x\nrcpt a@b\nsize 0\n\n",
         "an unknown or repeated line \"flags x\""},
    };
    for (const auto &row : rows) {
        CAPTURE(row.data);
        auto s = queue::decode_submission(row.data);
        REQUIRE_FALSE(s);
        CHECK(s.error().message == row.reason);
    }
}

TEST_CASE("incoming: a recipient with a line break cannot add a line", "[incoming]") {
    auto s = sample(1000);
    s.recipients = {"a@b\nserver smtp://evil"};
    CHECK_FALSE(queue::encode_submission(s));
}

TEST_CASE("incoming: submit writes one entry that take_incoming returns", "[incoming]") {
    Spool sp;
    auto name = queue::submit(sp.dir, sample(getuid()));
    REQUIRE(name);
    struct stat st {};
    REQUIRE(stat((sp.dir + "/" + *name).c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    chown((sp.dir + "/" + *name).c_str(), other_uid, other_uid);
    // The uid line says ours; make it claim the owner.
    auto s = sample(other_uid);
    write_file(sp.dir + "/" + *name, *queue::encode_submission(s));
    auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr));
    REQUIRE(in.status);
    REQUIRE(in.refused.empty());
    REQUIRE(in.taken.size() == 1);
    CHECK(in.taken[0].name == *name);
    CHECK(in.taken[0].owner == other_uid);
    CHECK(in.taken[0].submission.message == s.message);
    REQUIRE(queue::remove_incoming(sp.dir, *name));
    CHECK_FALSE(fs::exists(sp.dir + "/" + *name));
}

TEST_CASE("incoming: hostile entries, each with its outcome", "[incoming]") {
    if (geteuid() != 0) {
        WARN("skipped: needs root (chown to another uid)");
        return;
    }
    Spool sp;
    const std::string secret = sp.root + "/secret";
    write_file(secret, *queue::encode_submission(sample(other_uid)));
    chown(secret.c_str(), other_uid, other_uid);
    const std::string good = *queue::encode_submission(sample(other_uid));
    auto planted = [&](const std::string &name, const std::string &text, uid_t uid) {
        write_file(sp.dir + "/" + name, text);
        chown((sp.dir + "/" + name).c_str(), uid, uid);
        chmod((sp.dir + "/" + name).c_str(), 0600);
    };
    REQUIRE(symlink(secret.c_str(), (sp.dir + "/1-symlink").c_str()) == 0);
    REQUIRE(link(secret.c_str(), (sp.dir + "/2-hardlink").c_str()) == 0);
    REQUIRE(mkfifo((sp.dir + "/3-fifo").c_str(), 0600) == 0);
    planted("4-claims-root", *queue::encode_submission(sample(0)), other_uid);
    planted("5-garbage", "not an entry at all\n", other_uid);
    planted("6-truncated", good.substr(0, good.size() - 3), other_uid);
    planted("7-root-owned", *queue::encode_submission(sample(0)), 0);
    {
        std::ofstream big(sp.dir + "/8-oversized", std::ios::binary);
        big << good;
        big.seekp(static_cast<std::streamoff>(queue::max_incoming_bytes) + 1);
        big << 'x';
    }
    chown((sp.dir + "/8-oversized").c_str(), other_uid, other_uid);
    chmod((sp.dir + "/8-oversized").c_str(), 0600);
    planted("9-good", good, other_uid);
    planted(".writing", good, other_uid); // being written: left alone

    auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr));
    REQUIRE(in.status);
    REQUIRE(in.taken.size() == 1);
    CHECK(in.taken[0].name == "9-good");
    REQUIRE(in.refused.size() == 8);
    auto bad = [&](const std::string &n) {
        return "moved to " + sp.failed + "/incoming-" + n + ".bad";
    };
    CHECK(in.refused[0].name == "1-symlink");
    CHECK(in.refused[0].reason == "a symbolic link (never followed)");
    CHECK(in.refused[0].action == "removed");
    CHECK(in.refused[1].name == "2-hardlink");
    CHECK(in.refused[1].reason == "2 hard links (never read)");
    CHECK(in.refused[1].action == "removed");
    CHECK(in.refused[2].name == "3-fifo");
    CHECK(in.refused[2].reason == "a fifo, not a regular file");
    CHECK(in.refused[2].action == "removed");
    CHECK(in.refused[3].reason == "owned by uid 65534 but it says uid 0");
    CHECK(in.refused[3].action == bad("4-claims-root"));
    CHECK(in.refused[4].reason ==
          "damaged: not an entry: the first line is not \"smtpsend-incoming 1\"");
    CHECK(in.refused[4].action == bad("5-garbage"));
    CHECK(in.refused[5].reason == "damaged: the message is 18 bytes, the entry says 21: truncated");
    CHECK(in.refused[6].reason == "owned by root: root never submits through incoming/");
    CHECK(in.refused[7].reason == "33554434 bytes, more than the limit of 33554432 bytes");
    CHECK(in.refused[7].action == bad("8-oversized"));
    // The link targets are untouched; only the names in incoming/ went.
    CHECK(fs::exists(secret));
    CHECK(fs::hard_link_count(secret) == 1);
    for (auto n :
         {"1-symlink", "2-hardlink", "3-fifo", "4-claims-root", "5-garbage", "8-oversized"})
        CHECK_FALSE(fs::exists(fs::symlink_status(sp.dir + "/" + n)));
    CHECK(fs::exists(sp.dir + "/.writing"));
    CHECK(fs::exists(sp.dir + "/9-good")); // removed by the caller once queued
}

TEST_CASE("incoming: a folder others can read, or a symbolic link, is refused", "[incoming]") {
    Spool sp;
    chmod(sp.dir.c_str(), 01777);
    auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr));
    REQUIRE_FALSE(in.status);
    CHECK(in.status.error().kind == util::ErrorKind::config);
    fs::remove(sp.dir);
    fs::create_directory_symlink(sp.failed, sp.dir);
    CHECK_FALSE(queue::take_incoming(sp.dir, sp.failed, time(nullptr)).status);
}

TEST_CASE("incoming: nothing a user leaves keeps the folder non-empty for ever", "[incoming]") {
    // The path unit starts the flush while incoming/ is not empty: what the
    // flush leaves there starts it again and again, until systemd's start
    // limit stops the unit and no one's mail is flushed. An entry being
    // written has a hidden name for seconds; one whose mtime its owner set
    // ahead would be "being written" for ever; a folder was kept.
    Spool sp;
    fs::create_directories(sp.dir + "/folder/inside");
    fs::create_directories(sp.dir + "/.hidden-folder");
    const std::string future = sp.dir + "/.future", fresh = sp.dir + "/.fresh";
    write_file(future, "x");
    write_file(fresh, "x");
    const long now = time(nullptr);
    struct timespec times[2] = {{now + 7200, 0}, {now + 7200, 0}};
    REQUIRE(utimensat(AT_FDCWD, future.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
    auto in = queue::take_incoming(sp.dir, sp.failed, now);
    REQUIRE(in.status);
    CHECK_FALSE(fs::exists(future));
    CHECK(fs::exists(fresh));
    CHECK_FALSE(fs::exists(sp.dir + "/folder"));
    CHECK_FALSE(fs::exists(sp.dir + "/.hidden-folder"));
    // Moved aside, never descended into as root.
    CHECK(fs::exists(sp.failed + "/incoming-folder.bad/inside"));
    CHECK(fs::exists(sp.failed + "/incoming-.hidden-folder.bad"));
    REQUIRE(in.refused.size() == 2);
    CHECK(in.refused[0].name == ".hidden-folder");
    CHECK(in.refused[0].reason == "a folder");
    CHECK(in.refused[0].action == "moved to " + sp.failed + "/incoming-.hidden-folder.bad");
    CHECK(in.refused[1].name == "folder");
}

TEST_CASE("incoming: an entry others may read or write is refused", "[incoming]") {
    // The sender is the file's owner: that holds only if no one else could
    // write the file. Another user's group-writable file renamed in from a
    // shared folder would send what the attacker wrote as that user.
    if (geteuid() != 0) {
        WARN("skipped: needs root (chown to another uid)");
        return;
    }
    Spool sp;
    for (mode_t mode : {0660, 0604, 0640, 0602}) {
        const std::string name = "1-mode";
        write_file(sp.dir + "/" + name, *queue::encode_submission(sample(other_uid)));
        chown((sp.dir + "/" + name).c_str(), other_uid, other_uid);
        chmod((sp.dir + "/" + name).c_str(), mode);
        auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr));
        REQUIRE(in.status);
        CHECK(in.taken.empty());
        REQUIRE(in.refused.size() == 1);
        char expected[96];
        std::snprintf(expected, sizeof expected,
                      "mode %04o: others may have written it (an entry is 0600)",
                      static_cast<unsigned>(mode));
        CHECK(in.refused[0].reason == expected);
        CHECK(in.refused[0].action == "moved to " + sp.failed + "/incoming-1-mode.bad");
        fs::remove(sp.failed + "/incoming-1-mode.bad");
    }
    write_file(sp.dir + "/2-0400", *queue::encode_submission(sample(other_uid)));
    chown((sp.dir + "/2-0400").c_str(), other_uid, other_uid);
    chmod((sp.dir + "/2-0400").c_str(), 0400); // a umask of 0277: still only the owner's
    auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr));
    CHECK(in.refused.empty());
    CHECK(in.taken.size() == 1);
}
TEST_CASE("incoming: one intake takes a bounded number of entries and bytes", "[incoming]") {
    // Every taken entry is held in memory until it is queued: without a
    // bound, a user's thousand 32 MiB entries would need 32 GB of root's
    // memory in one flush. The rest stay for the next flush.
    if (geteuid() != 0) {
        WARN("skipped: needs root (chown to another uid)");
        return;
    }
    Spool sp;
    const std::string good = *queue::encode_submission(sample(other_uid));
    auto plant = [&](const std::string &name) {
        write_file(sp.dir + "/" + name, good);
        chown((sp.dir + "/" + name).c_str(), other_uid, other_uid);
        chmod((sp.dir + "/" + name).c_str(), 0600);
    };
    for (int i = 0; i < 5; ++i)
        plant(std::to_string(i) + "-good");
    SECTION("entries") {
        auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr), {3, 1 << 20});
        REQUIRE(in.taken.size() == 3);
        CHECK(in.taken[2].name == "2-good");
        CHECK(in.left == 2);
    }
    SECTION("bytes: the first entry always, then while they fit") {
        auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr),
                                       {100, 2 * good.size() + 1});
        REQUIRE(in.taken.size() == 2);
        CHECK(in.left == 3);
        auto one = queue::take_incoming(sp.dir, sp.failed, time(nullptr), {100, 1});
        CHECK(one.taken.size() == 1);
    }
    SECTION("the default: 100 entries, 64 MiB") {
        for (int i = 5; i < 101; ++i)
            plant(std::to_string(1000 + i) + "-good");
        auto in = queue::take_incoming(sp.dir, sp.failed, time(nullptr));
        CHECK(in.taken.size() == 100);
        CHECK(in.left == 1);
    }
}
