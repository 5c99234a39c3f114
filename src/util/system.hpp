// Seams to the operating system: the environment, the clock, commands.
// Abstract so unit tests can run without touching the real environment.
#pragma once

#include "util/result.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::util {

// Read access to environment variables. The real one reads getenv();
// tests pass a MapEnvironment.
class Environment {
  public:
    virtual ~Environment() = default;
    // The variable's value, or nothing when it is unset.
    virtual std::optional<std::string> get(const std::string& name) const = 0;
    // The names of the variables that start with `prefix` (to warn about a
    // misspelt SMTPSEND_ variable). Empty when the seam cannot list them.
    virtual std::vector<std::string> names_with_prefix(const std::string& prefix) const {
        (void)prefix;
        return {};
    }
};

class ProcessEnvironment final : public Environment {
  public:
    std::optional<std::string> get(const std::string& name) const override;
    std::vector<std::string> names_with_prefix(const std::string& prefix) const override;
};

class MapEnvironment final : public Environment {
  public:
    std::map<std::string, std::string> values;
    std::optional<std::string> get(const std::string& name) const override;
    std::vector<std::string> names_with_prefix(const std::string& prefix) const override;
};

// Time, so that back-off, budgets and queue expiry are tested without
// sleeping. The real one reads the system clocks; tests pass a FakeClock.
class Clock {
  public:
    virtual ~Clock() = default;
    // Milliseconds on a monotonic clock (for waits and budgets).
    virtual int64_t now_ms() const = 0;
    // Seconds since 1970 (for the queue's records).
    virtual long unix_seconds() const = 0;
    // Waits `ms` milliseconds.
    virtual void sleep_ms(long ms) const = 0;
};

class SystemClock final : public Clock {
  public:
    int64_t now_ms() const override;
    long unix_seconds() const override;
    void sleep_ms(long ms) const override;
};

// The process's one SystemClock.
const Clock& system_clock();

// A clock that moves only when slept on or told to (tests).
class FakeClock final : public Clock {
  public:
    mutable int64_t ms = 0;
    long unix_base = 1'800'000'000;
    mutable std::vector<long> sleeps; // every wait asked for
    int64_t now_ms() const override { return ms; }
    long unix_seconds() const override { return unix_base + static_cast<long>(ms / 1000); }
    void sleep_ms(long wait) const override {
        sleeps.push_back(wait);
        ms += wait;
    }
};

// Runs `command` through /bin/sh -c and returns its standard output.
// Fails when the command cannot start, exits non-zero, is killed, or runs
// longer than `timeout`. Its stderr is passed through to ours.
Result<std::string> run_command_output(const std::string& command, std::chrono::seconds timeout,
                                       size_t max_bytes);

// Writes all of `data` to `fd` (again after EINTR or a short write). False
// on an error, with errno set.
bool write_all(int fd, std::string_view data);

// Reads a whole (small) file. Fails with the system's reason.
Result<std::string> read_small_file(const std::string& path, size_t max_bytes);

// This machine's fully qualified host name when known, else its short name.
std::string local_hostname();

} // namespace smtpsend::util
