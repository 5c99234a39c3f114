// queue/incoming: the entry format and root's intake of hostile entries.
#include "queue/incoming.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
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
// A queue folder with incoming/ and incoming.tmp/ (root's, as the flush makes them).
struct Spool {
    std::string root =
        std::string(std::getenv("TMPDIR")) + "/incoming-" + std::to_string(std::rand());
    std::string dir = root + "/incoming";
    std::string tmp = root + "/incoming.tmp";
    std::string claimed = root + "/claimed";
    std::string failed = root + "/failed";
    queue::Queue q{root};
    Spool() {
        fs::create_directories(dir);
        fs::create_directories(tmp);
        fs::create_directories(failed);
        chmod(root.c_str(), 0711);
        chmod(dir.c_str(), 01733);
        chmod(tmp.c_str(), 01733);
    }
    ~Spool() { fs::remove_all(root); }
    queue::Intake take(long now = time(nullptr), const queue::IntakeBudget &budget = {}) const {
        return queue::take_incoming(q, now, budget);
    }
    std::vector<std::string> names(const std::string &folder) const {
        std::vector<std::string> out;
        for (const auto &e : fs::directory_iterator(folder))
            out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};
// What became of each refused name.
std::map<std::string, std::pair<std::string, std::string>> refused_by_name(const queue::Intake &in) {
    std::map<std::string, std::pair<std::string, std::string>> out;
    for (const auto &r : in.refused)
        out[r.name] = {r.reason, r.action};
    return out;
}
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

TEST_CASE("incoming: submit writes one entry that take_incoming claims", "[incoming]") {
    Spool sp;
    auto name = queue::submit(sp.tmp, sp.dir, sample(getuid()));
    REQUIRE(name);
    // Written in incoming.tmp/, renamed into incoming/ complete.
    CHECK(sp.names(sp.tmp).empty());
    CHECK(sp.names(sp.dir) == std::vector<std::string>{*name});
    struct stat st {};
    REQUIRE(stat((sp.dir + "/" + *name).c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    chown((sp.dir + "/" + *name).c_str(), other_uid, other_uid);
    // The uid line says ours; make it claim the owner.
    auto s = sample(other_uid);
    write_file(sp.dir + "/" + *name, *queue::encode_submission(s));
    auto in = sp.take();
    REQUIRE(in.status);
    REQUIRE(in.refused.empty());
    REQUIRE(in.taken.size() == 1);
    CHECK(in.taken[0].name == *name);
    CHECK(in.taken[0].owner == other_uid);
    CHECK(in.taken[0].submission.message == s.message);
    // Claimed: out of incoming/, in root's claimed/ under its queue id.
    CHECK(sp.names(sp.dir).empty());
    CHECK(sp.names(sp.claimed) == std::vector<std::string>{in.taken[0].claim});
    CHECK((fs::status(sp.claimed).permissions() & fs::perms::mask) == fs::perms::owner_all);
    REQUIRE(queue::release_claim(sp.root, in.taken[0].claim));
    CHECK(sp.names(sp.claimed).empty());
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
    write_file(sp.tmp + "/.writing", good); // being written, in incoming.tmp/: left alone

    auto in = sp.take();
    REQUIRE(in.status);
    REQUIRE(in.taken.size() == 1);
    CHECK(in.taken[0].name == "9-good");
    auto bad = [&](const std::string &n) {
        return "moved to " + sp.failed + "/incoming-" + n + ".bad";
    };
    using Outcome = std::pair<std::string, std::string>;
    auto refused = refused_by_name(in);
    CHECK(refused.size() == 8);
    CHECK(refused["1-symlink"] == Outcome{"a symbolic link (never followed)", "removed"});
    CHECK(refused["2-hardlink"] == Outcome{"2 hard links (never read)", "removed"});
    CHECK(refused["3-fifo"] == Outcome{"a fifo, not a regular file", "removed"});
    CHECK(refused["4-claims-root"] ==
          Outcome{"owned by uid 65534 but it says uid 0", bad("4-claims-root")});
    CHECK(refused["5-garbage"] ==
          Outcome{"damaged: not an entry: the first line is not \"smtpsend-incoming 1\"",
                  bad("5-garbage")});
    CHECK(refused["6-truncated"] ==
          Outcome{"damaged: the message is 18 bytes, the entry says 21: truncated",
                  bad("6-truncated")});
    CHECK(refused["7-root-owned"] ==
          Outcome{"owned by root: root never submits through incoming/", bad("7-root-owned")});
    CHECK(refused["8-oversized"] ==
          Outcome{"33554434 bytes, more than the limit of 33554432 bytes", bad("8-oversized")});
    // The link targets are untouched; only the names in incoming/ went.
    CHECK(fs::exists(secret));
    CHECK(fs::hard_link_count(secret) == 1);
    CHECK(sp.names(sp.dir).empty());
    CHECK(fs::exists(sp.tmp + "/.writing"));
    // The good one waits in claimed/ for the caller to queue it.
    CHECK(sp.names(sp.claimed) == std::vector<std::string>{in.taken[0].claim});
}

TEST_CASE("incoming: a folder others can read, or a symbolic link, is refused", "[incoming]") {
    Spool sp;
    chmod(sp.dir.c_str(), 01777);
    auto in = sp.take();
    REQUIRE_FALSE(in.status);
    CHECK(in.status.error().kind == util::ErrorKind::config);
    chmod(sp.dir.c_str(), 01733);
    chmod(sp.tmp.c_str(), 01777);
    CHECK_FALSE(sp.take().status);
    chmod(sp.tmp.c_str(), 01733);
    fs::remove(sp.dir);
    fs::create_directory_symlink(sp.failed, sp.dir);
    CHECK_FALSE(sp.take().status);
}

TEST_CASE("incoming: nothing a user leaves keeps the folder non-empty for ever", "[incoming]") {
    // The path unit starts the flush while incoming/ is not empty: what the
    // flush leaves there starts it again and again, until systemd's start
    // limit stops the unit and no one's mail is flushed. Every name in
    // incoming/ is complete (entries are written in incoming.tmp/), so a
    // hidden name there is an entry like any other: dealt with, never left.
    Spool sp;
    fs::create_directories(sp.dir + "/folder/inside");
    fs::create_directories(sp.dir + "/.hidden-folder");
    write_file(sp.dir + "/.hidden", "x");
    chown((sp.dir + "/.hidden").c_str(), other_uid, other_uid);
    chmod((sp.dir + "/.hidden").c_str(), 0600);
    const long now = time(nullptr);
    auto in = sp.take(now);
    REQUIRE(in.status);
    CHECK(sp.names(sp.dir).empty());
    CHECK(sp.names(sp.claimed).empty());
    // Moved aside, never descended into as root.
    CHECK(fs::exists(sp.failed + "/incoming-folder.bad/inside"));
    CHECK(fs::exists(sp.failed + "/incoming-.hidden-folder.bad"));
    CHECK(fs::exists(sp.failed + "/incoming-.hidden.bad"));
    using Outcome = std::pair<std::string, std::string>;
    auto refused = refused_by_name(in);
    CHECK(refused.size() == 3);
    CHECK(refused[".hidden-folder"] ==
          Outcome{"a folder", "moved to " + sp.failed + "/incoming-.hidden-folder.bad"});
    CHECK(refused["folder"].first == "a folder");
    CHECK(refused[".hidden"] ==
          Outcome{"damaged: truncated: no blank line after the entry's lines",
                  "moved to " + sp.failed + "/incoming-.hidden.bad"});
}

TEST_CASE("incoming: incoming.tmp/ keeps what is being written, not what was left", "[incoming]") {
    // A writer's file: removed an hour after its last write (the writer
    // died), or at once when dated more than 5 minutes ahead (its owner set
    // the mtime); a link or fifo at once; a folder moved aside.
    Spool sp;
    const long now = time(nullptr);
    auto dated = [&](const std::string &name, long when) {
        write_file(sp.tmp + "/" + name, "x");
        struct timespec times[2] = {{when, 0}, {when, 0}};
        REQUIRE(utimensat(AT_FDCWD, (sp.tmp + "/" + name).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
    };
    dated(".fresh", now - 10);
    dated(".future", now + 7200);
    dated(".stale", now - 3601);
    REQUIRE(symlink("/etc/passwd", (sp.tmp + "/link").c_str()) == 0);
    REQUIRE(mkfifo((sp.tmp + "/fifo").c_str(), 0600) == 0);
    fs::create_directories(sp.tmp + "/folder/inside");
    auto in = sp.take(now);
    REQUIRE(in.status);
    CHECK(sp.names(sp.tmp) == std::vector<std::string>{".fresh"});
    CHECK(fs::exists(sp.failed + "/incoming-tmp-folder.bad/inside"));
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
        auto in = sp.take();
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
    auto in = sp.take();
    CHECK(in.refused.empty());
    CHECK(in.taken.size() == 1);
}

namespace {
void plant_good(const Spool &sp, const std::string &name, uid_t uid) {
    write_file(sp.dir + "/" + name, *queue::encode_submission(sample(uid)));
    chown((sp.dir + "/" + name).c_str(), uid, uid);
    chmod((sp.dir + "/" + name).c_str(), 0600);
}
} // namespace

TEST_CASE("incoming: one intake takes a bounded number of entries and bytes", "[incoming]") {
    // Every taken entry is held in memory until it is queued: without a
    // bound, a user's thousand 32 MiB entries would need 32 GB of root's
    // memory in one flush. The rest stay for the next flush.
    if (geteuid() != 0) {
        WARN("skipped: needs root (chown to another uid)");
        return;
    }
    Spool sp;
    const size_t size = queue::encode_submission(sample(other_uid))->size();
    for (int i = 0; i < 5; ++i)
        plant_good(sp, std::to_string(i) + "-good", other_uid);
    SECTION("entries") {
        auto in = sp.take(time(nullptr), {3, 1 << 20});
        REQUIRE(in.taken.size() == 3);
        CHECK(in.taken[2].name == "2-good");
        CHECK(in.left == 2);
        CHECK_FALSE(in.unread);
        CHECK(sp.names(sp.dir) == std::vector<std::string>{"3-good", "4-good"});
    }
    SECTION("bytes: the first entry always, then while they fit") {
        auto in = sp.take(time(nullptr), {100, 2 * size + 1});
        REQUIRE(in.taken.size() == 2);
        CHECK(in.left == 3);
        // The next intake first takes what is claimed and not queued: one fits.
        auto one = sp.take(time(nullptr), {100, 1});
        CHECK(one.taken.size() == 1);
        CHECK(one.taken[0].name.empty());
    }
    SECTION("the default: 100 entries, 64 MiB") {
        for (int i = 5; i < 101; ++i)
            plant_good(sp, std::to_string(1000 + i) + "-good", other_uid);
        auto in = sp.take();
        CHECK(in.taken.size() == 100);
        CHECK(in.left == 1);
    }
}

TEST_CASE("incoming: entries are taken round-robin by owner", "[incoming]") {
    // Users choose their names: one user's entries named to sort first would
    // fill every intake's budget, and another's would wait for ever.
    if (geteuid() != 0) {
        WARN("skipped: needs root (chown to another uid)");
        return;
    }
    Spool sp;
    constexpr uid_t other = other_uid - 1;
    for (int i = 0; i < 150; ++i)
        plant_good(sp, "0000-" + std::to_string(1000 + i), other_uid);
    plant_good(sp, "9999-late", other);
    auto in = sp.take();
    REQUIRE(in.taken.size() == 100);
    CHECK(in.left == 51);
    // The other user's one entry is taken at its first turn: the second.
    CHECK(in.taken[0].name == "0000-1000");
    CHECK(in.taken[1].name == "9999-late");
    CHECK(in.taken[1].owner == other);
    CHECK(in.taken[2].name == "0000-1001");
}

TEST_CASE("incoming: the folder is read no further than the name budget", "[incoming]") {
    if (geteuid() != 0) {
        WARN("skipped: needs root (chown to another uid)");
        return;
    }
    Spool sp;
    for (int i = 0; i < 5; ++i)
        plant_good(sp, std::to_string(i) + "-good", other_uid);
    auto in = sp.take(time(nullptr), {100, 64 << 20, 3});
    CHECK(in.taken.size() == 3);
    CHECK(in.left == 0);
    CHECK(in.unread);
    CHECK(sp.names(sp.dir).size() == 2);
}

TEST_CASE("incoming: a claim is queued once", "[incoming]") {
    // A flush claims an entry (a rename into claimed/, named by the queue id
    // it gets), queues it under that id, then removes the claim. Stopped
    // before queuing, the next intake takes the claim again; stopped after,
    // the claim is only removed: never queued twice.
    if (geteuid() != 0) {
        WARN("skipped: needs root (chown to another uid)");
        return;
    }
    Spool sp;
    plant_good(sp, "1-first", other_uid);
    plant_good(sp, "2-second", other_uid);
    auto in = sp.take();
    REQUIRE(in.taken.size() == 2);
    const std::string queued = in.taken[0].claim, not_queued = in.taken[1].claim;
    // The first was queued (its entry exists), then the flush stopped.
    write_file(sp.q.entry_path(queued), "{}");
    auto again = sp.take();
    REQUIRE(again.status);
    CHECK(again.released == std::vector<std::string>{queued});
    REQUIRE(again.taken.size() == 1);
    CHECK(again.taken[0].claim == not_queued);
    CHECK(again.taken[0].name.empty());
    CHECK(again.taken[0].submission.message == sample(other_uid).message);
    CHECK(sp.names(sp.claimed) == std::vector<std::string>{not_queued});
    CHECK(queue::claim_pending(sp.root, not_queued));
    CHECK_FALSE(queue::claim_pending(sp.root, queued));
}
