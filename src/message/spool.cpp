#include "message/spool.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace smtpsend::message {

using util::make_error;

namespace {

util::Error io_error(const std::string& what, util::ErrorKind kind) {
    util::Error e = make_error(what + ": " + std::strerror(errno));
    e.kind = kind;
    return e;
}

int make_temp_file() {
    const char* dir = std::getenv("TMPDIR");
    std::string d = dir && *dir ? dir : "/tmp";
    int fd = open(d.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    std::string tmpl = d + "/smtpsend-XXXXXX";
    fd = mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd >= 0)
        unlink(tmpl.c_str());
    return fd;
}

} // namespace

Spool::~Spool() {
    if (fd_ >= 0)
        close(fd_);
}

std::shared_ptr<Spool> Spool::from_string(std::string data) {
    std::shared_ptr<Spool> s(new Spool());
    s->memory_ = std::move(data);
    s->stats_.size = s->memory_.size();
    auto st = s->scan(0);
    if (st)
        s->stats_ = *st;
    return s;
}

util::Result<std::shared_ptr<Spool>> Spool::from_path(const std::string& path, bool scan) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open " + path, util::ErrorKind::noinput);
    auto r = from_fd(fd, path, 1 << 20, scan);
    close(fd);
    return r;
}

namespace {

// Passes bytes through until a line that is a single "." (LF or CRLF).
class DotEnd {
  public:
    // Appends the bytes of `in` that belong to the message; true at the end.
    bool filter(const char* in, size_t n, std::string& out) {
        for (size_t i = 0; i < n; ++i) {
            char c = in[i];
            if (held_ == "." && c == '\n')
                return true;
            if (held_ == "." && c == '\r') {
                held_ = ".\r";
                continue;
            }
            if (held_ == ".\r" && c == '\n')
                return true;
            out += held_;
            held_.clear();
            if (line_start_ && c == '.') {
                held_ = ".";
                line_start_ = false;
                continue;
            }
            out += c;
            line_start_ = c == '\n';
        }
        return false;
    }
    void finish(std::string& out) { out += held_; }

  private:
    bool line_start_ = true;
    std::string held_;
};

} // namespace

util::Result<std::shared_ptr<Spool>> Spool::from_fd(int fd, const std::string& name,
                                                    size_t memory_limit, bool scan, bool dot_ends) {
    std::shared_ptr<Spool> s(new Spool());
    s->name_ = name;
    struct stat st {};
    if (fstat(fd, &st) != 0)
        return io_error("cannot read " + name, util::ErrorKind::noinput);
    if (S_ISDIR(st.st_mode)) {
        util::Error e = make_error(name + " is a directory");
        e.kind = util::ErrorKind::noinput;
        return e;
    }
    DotEnd dot;
    bool ended = false;
    if (S_ISREG(st.st_mode) && !dot_ends) {
        off_t pos = lseek(fd, 0, SEEK_CUR);
        s->fd_ = dup(fd);
        if (s->fd_ < 0)
            return io_error("cannot read " + name, util::ErrorKind::noinput);
        s->base_ = pos > 0 ? static_cast<uint64_t>(pos) : 0;
        s->stats_.size = static_cast<uint64_t>(st.st_size) - s->base_;
    } else {
        char raw[65536];
        std::string kept;
        while (!ended) {
            ssize_t got = read(fd, raw, sizeof raw);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                return io_error("cannot read " + name, util::ErrorKind::noinput);
            if (got == 0) {
                if (!dot_ends)
                    break;
                kept.clear();
                dot.finish(kept);
                ended = true;
            } else if (dot_ends) {
                kept.clear();
                ended = dot.filter(raw, static_cast<size_t>(got), kept);
            } else {
                kept.assign(raw, static_cast<size_t>(got));
            }
            const char* buf = kept.data();
            ssize_t n = static_cast<ssize_t>(kept.size());
            size_t len = kept.size();
            if (len == 0)
                continue;
            if (s->fd_ < 0 && s->memory_.size() + len > memory_limit) {
                s->fd_ = make_temp_file();
                if (s->fd_ < 0)
                    return io_error("cannot create a temporary file for the message", util::ErrorKind::io);
                if (write(s->fd_, s->memory_.data(), s->memory_.size()) !=
                    static_cast<ssize_t>(s->memory_.size()))
                    return io_error("cannot write the temporary file", util::ErrorKind::io);
                s->memory_.clear();
                s->memory_.shrink_to_fit();
            }
            if (s->fd_ >= 0) {
                if (write(s->fd_, buf, len) != n)
                    return io_error("cannot write the temporary file", util::ErrorKind::io);
            } else {
                s->memory_.append(buf, len);
            }
            s->stats_.size += len;
        }
    }
    if (!scan)
        return s;
    auto stats = s->scan(0);
    if (!stats)
        return stats.error();
    s->stats_ = *stats;
    return s;
}

util::Result<size_t> Spool::read_at(uint64_t offset, char* buf, size_t n) const {
    if (offset >= stats_.size)
        return size_t{0};
    n = static_cast<size_t>(std::min<uint64_t>(n, stats_.size - offset));
    if (fd_ < 0) {
        std::memcpy(buf, memory_.data() + offset, n);
        return n;
    }
    for (;;) {
        ssize_t got = pread(fd_, buf, n, static_cast<off_t>(base_ + offset));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return io_error("cannot read " + name_, util::ErrorKind::noinput);
        return static_cast<size_t>(got);
    }
}

util::Result<std::string> Spool::head(size_t n) const {
    std::string out(static_cast<size_t>(std::min<uint64_t>(n, stats_.size)), '\0');
    size_t done = 0;
    while (done < out.size()) {
        auto got = read_at(done, out.data() + done, out.size() - done);
        if (!got)
            return got.error();
        if (*got == 0)
            break;
        done += *got;
    }
    out.resize(done);
    return out;
}

util::Result<ContentStats> Spool::scan(uint64_t offset) const {
    ContentStats cs;
    cs.size = stats_.size > offset ? stats_.size - offset : 0;
    char buf[65536];
    uint64_t line = 0;
    bool prev_cr = false;
    for (uint64_t pos = offset;;) {
        auto got = read_at(pos, buf, sizeof buf);
        if (!got)
            return got.error();
        if (*got == 0)
            break;
        for (size_t i = 0; i < *got; ++i) {
            unsigned char c = static_cast<unsigned char>(buf[i]);
            if (prev_cr && c != '\n')
                cs.has_bare_line_end = true;
            if (c == '\n') {
                if (!prev_cr)
                    cs.has_bare_line_end = true;
                line = 0;
            } else if (c == '\r') {
                line = 0;
            } else {
                ++line;
                if (line > cs.longest_line)
                    cs.longest_line = line;
                if (c >= 0x80)
                    cs.has_8bit = true;
                else if (c == 0)
                    cs.has_nul = true;
            }
            prev_cr = c == '\r';
        }
        pos += *got;
    }
    if (prev_cr)
        cs.has_bare_line_end = true;
    return cs;
}

} // namespace smtpsend::message
