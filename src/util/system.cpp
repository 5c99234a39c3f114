#include "util/system.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>
#include <fcntl.h>
#include <fstream>
#include <netdb.h>
#include <poll.h>
#include <spawn.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace smtpsend::util {

std::optional<std::string> ProcessEnvironment::get(const std::string& name) const {
    const char* v = std::getenv(name.c_str());
    if (!v)
        return std::nullopt;
    return std::string(v);
}

std::vector<std::string> ProcessEnvironment::names_with_prefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry(*e);
        if (entry.compare(0, prefix.size(), prefix) == 0)
            out.emplace_back(entry.substr(0, entry.find('=')));
    }
    return out;
}

std::vector<std::string> MapEnvironment::names_with_prefix(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& [name, _] : values)
        if (name.compare(0, prefix.size(), prefix) == 0)
            out.push_back(name);
    return out;
}

std::optional<std::string> MapEnvironment::get(const std::string& name) const {
    auto it = values.find(name);
    if (it == values.end())
        return std::nullopt;
    return it->second;
}

Result<std::string> run_command_output(const std::string& command, std::chrono::seconds timeout,
                                       size_t max_bytes) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return make_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // Its own process group, so a timeout kills the command's children too
    // (an orphaned `sleep` would keep our stderr open).
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return make_error(std::string("cannot start /bin/sh: ") + std::strerror(rc));
    }
    // The output may be a secret: one buffer that never reallocates (no
    // copies left behind in freed memory), wiped on every failure, and a
    // read buffer wiped when done.
    std::string out;
    out.reserve(max_bytes + 1);
    bool too_long = false, timed_out = false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    struct Wipe {
        char* p;
        size_t n;
        ~Wipe() { explicit_bzero(p, n); }
    } wipe_buf{buf, sizeof buf};
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int pr = poll(&p, 1, static_cast<int>(left.count()));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out.size() + static_cast<size_t>(n) > max_bytes) {
            too_long = true;
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (timed_out || too_long)
        kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out || too_long || WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
        explicit_bzero(out.data(), out.size());
    if (timed_out)
        return make_error("it did not finish within " + std::to_string(timeout.count()) + " s");
    if (too_long)
        return make_error("it printed more than " + std::to_string(max_bytes) + " bytes");
    if (WIFSIGNALED(status))
        return make_error("it was killed by signal " + std::to_string(WTERMSIG(status)));
    if (WEXITSTATUS(status) != 0)
        return make_error("it exited with status " + std::to_string(WEXITSTATUS(status)));
    return out;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
        return make_error(path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        return make_error(path + ": is a directory");
    if (!S_ISREG(st.st_mode))
        return make_error(path + ": not a regular file");
    if (static_cast<size_t>(st.st_size) > max_bytes)
        return make_error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    // It may hold a password: read straight into one buffer that never
    // reallocates (no stream buffer, no copies in freed memory).
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return make_error(path + ": " + std::strerror(errno));
    std::string data(max_bytes + 1, '\0');
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            explicit_bzero(data.data(), data.size());
            return make_error(path + ": " + std::strerror(e));
        }
        if (n == 0)
            break;
        got += static_cast<size_t>(n);
        if (got > max_bytes) {
            close(fd);
            explicit_bzero(data.data(), data.size());
            return make_error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
        }
    }
    close(fd);
    data.resize(got); // shrinking keeps the buffer in place
    return data;
}

int64_t SystemClock::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

long SystemClock::unix_seconds() const { return static_cast<long>(std::time(nullptr)); }

void SystemClock::sleep_ms(long ms) const {
    if (ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

const Clock& system_clock() {
    static const SystemClock clock;
    return clock;
}

std::string local_hostname() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || !name[0])
        return "localhost";
    std::string host = name;
    if (host.find('.') == std::string::npos) {
        addrinfo hints{};
        hints.ai_flags = AI_CANONNAME;
        addrinfo* res = nullptr;
        if (getaddrinfo(name, nullptr, &hints, &res) == 0 && res) {
            if (res->ai_canonname && std::strchr(res->ai_canonname, '.'))
                host = res->ai_canonname;
            freeaddrinfo(res);
        }
    }
    return host;
}

} // namespace smtpsend::util
