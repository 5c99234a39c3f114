// The message's raw input, readable more than once (for retries, the queue
// and --dry-run) without holding more than one copy: small inputs stay in
// memory, larger ones spill to an unlinked temporary file, and regular files
// are read in place.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace smtpsend::message {

// What a scan of the bytes found; decides the transfer encoding.
struct ContentStats {
    uint64_t size = 0;
    bool has_8bit = false;
    bool has_nul = false;
    bool has_bare_line_end = false; // a lone LF or CR
    uint64_t longest_line = 0;      // octets, without the line break
};

class Spool {
  public:
    // Reads `fd` to its end. Regular files are used in place from the current
    // offset; anything else is copied (memory up to `memory_limit`, then a
    // temporary file in $TMPDIR or /tmp).
    // `scan` false skips the content scan (attachments are always base64).
    // `dot_ends`: a line holding a single "." ends the input (sendmail without
    // -i); the input is then always copied, and what follows is not read.
    static util::Result<std::shared_ptr<Spool>> from_fd(int fd, const std::string& name,
                                                        size_t memory_limit = 1 << 20,
                                                        bool scan = true, bool dot_ends = false);
    // Opens a named file. Fails (kind "noinput") when it cannot be read.
    static util::Result<std::shared_ptr<Spool>> from_path(const std::string& path, bool scan = true);
    // A spool over bytes already in memory (tests, generated text).
    static std::shared_ptr<Spool> from_string(std::string data);

    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;
    ~Spool();

    uint64_t size() const { return stats_.size; }
    const ContentStats& stats() const { return stats_; }
    // Copies up to `n` bytes from `offset`; returns 0 at the end.
    util::Result<size_t> read_at(uint64_t offset, char* buf, size_t n) const;
    // The first `n` bytes (or fewer), for parsing a header block.
    util::Result<std::string> head(size_t n) const;
    // Scans [offset, end) for encoding decisions.
    util::Result<ContentStats> scan(uint64_t offset) const;

  private:
    Spool() = default;
    std::string memory_;
    int fd_ = -1;
    uint64_t base_ = 0; // offset of byte 0 in fd_
    std::string name_;
    ContentStats stats_;
};

} // namespace smtpsend::message
