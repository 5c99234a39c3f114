// A tiny expected-like type: expected failures are values, not exceptions.
// std::expected is C++23 and Debian 12 has no tl::expected, so we keep this.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace smtpsend::util {

// What kind of failure an Error is, for its class and exit code:
// diagnosis::class_for_kind maps it, and nothing else.
enum class ErrorKind {
    unspecified, // the caller decides (it knows what it was doing)
    usage,       // a bad command line or flag value
    input,       // the message or an address is invalid
    noinput,     // a named input file cannot be read
    nouser,      // a local recipient is unknown
    config,      // the settings cannot work
    io,          // a local file cannot be written
    tempfail,    // try again later (a queue entry another process holds)
};

// An error with a message meant for the user. `hint` optionally says what to change.
struct Error {
    std::string message;
    std::string hint;
    ErrorKind kind = ErrorKind::unspecified;
};

// Holds either a T or an Error. Check with ok() before calling value().
template <class T> class [[nodiscard]] Result {
  public:
    Result(T value) : data_(std::move(value)) {}
    Result(Error error) : data_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(data_); }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<T>(data_); }
    const T& value() const { return std::get<T>(data_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<Error>(data_); }

  private:
    std::variant<T, Error> data_;
};

// Result<void> stand-in: success carries nothing.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(std::string message, std::string hint = {},
                        ErrorKind kind = ErrorKind::unspecified) {
    return Error{std::move(message), std::move(hint), kind};
}

} // namespace smtpsend::util
