#include "log/attempt_log.hpp"

#include "util/strings.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

namespace smtpsend::log {

namespace {

std::string value(const std::string& v) {
    std::string one = util::one_line(v);
    if (!one.empty() && one.find_first_of(" \"=\t") == std::string::npos)
        return one;
    return util::quote(one);
}

} // namespace

std::string format(const Record& r) {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string out = std::string("time=") + stamp;
    auto field = [&](const char* key, const std::string& v) {
        out += std::string(" ") + key + "=" + value(v);
    };
    field("host", r.host);
    field("tls", r.tls);
    field("auth", r.auth.empty() ? "none" : r.auth);
    field("user", r.user);
    field("from", r.from);
    field("recipients", util::join(r.recipients, ","));
    field("size", std::to_string(r.size));
    field("message_id", r.message_id);
    if (!r.queue_id.empty())
        field("queue_id", r.queue_id);
    field("outcome", r.outcome);
    if (!r.cls.empty() && r.cls != "ok")
        field("class", r.cls);
    if (r.reply_code)
        field("reply_code", std::to_string(r.reply_code));
    if (!r.enhanced.empty())
        field("enhanced", r.enhanced);
    if (!r.reply.empty())
        field("reply", r.reply);
    field("exit", std::to_string(r.exit_code));
    field("ms", std::to_string(r.ms));
    return out;
}

std::string write(const std::string& target, const Record& record) {
    if (target.empty() || target == "none")
        return {};
    std::string line = format(record);
    if (target == "syslog") {
        openlog("smtpsend", LOG_PID, LOG_MAIL);
        syslog(record.exit_code == 0 ? LOG_INFO : LOG_ERR, "%s", line.c_str());
        closelog();
        return {};
    }
    // Never through a symbolic link: a planted one would make us append to
    // another file (ELOOP from O_NOFOLLOW is reported, not followed).
    int fd = open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ELOOP)
        return "the log " + target + " is a symbolic link: not written through it (set log to the real file)";
    if (fd < 0)
        return "cannot write the log " + target + ": " + std::strerror(errno);
    line += "\n";
    ssize_t w = ::write(fd, line.data(), line.size()); // one write: lines stay whole with O_APPEND
    int err = errno;
    close(fd);
    if (w != static_cast<ssize_t>(line.size()))
        return "cannot write the log " + target + ": " + std::strerror(err);
    return {};
}

} // namespace smtpsend::log
