// The exit-code contract (sysexits), in one place. docs/exit-codes.md
// documents it for users.
#pragma once

#include "util/result.hpp"

#include <string>

namespace smtpsend::diagnosis {

enum class ExitCode : int {
    ok = 0,
    usage = 64,       // EX_USAGE
    dataerr = 65,     // EX_DATAERR
    noinput = 66,     // EX_NOINPUT
    nouser = 67,      // EX_NOUSER
    nohost = 68,      // EX_NOHOST
    unavailable = 69, // EX_UNAVAILABLE
    software = 70,    // EX_SOFTWARE
    ioerr = 74,       // EX_IOERR
    tempfail = 75,    // EX_TEMPFAIL
    protocol = 76,    // EX_PROTOCOL
    noperm = 77,      // EX_NOPERM
    config = 78,      // EX_CONFIG
};

// What went wrong, in the user's terms. Names match --json "class".
enum class Class {
    ok,
    usage,     // bad command line
    input,     // the message or an address is invalid
    noinput,   // a named input file cannot be read
    content,   // the server refuses the content or size
    recipient, // the server does not know a recipient
    dns,       // a host or domain does not exist
    policy,    // any other permanent refusal (spam, DMARC, blocked IP)
    quota,     // a recipient's mailbox is full
    software,  // a bug in smtpsend
    io,        // a local file cannot be written
    rate,      // a sending limit or quota of ours: later works
    temporary, // a temporary failure of the server
    network,   // connection refused, lost, timed out
    protocol,  // the server does not speak SMTP sensibly
    auth,      // the login: required, refused, app password, AUTH disabled
    relay,     // relaying denied
    sender,    // the login may not send as this sender
    tls,       // TLS required, refused, or the certificate fails
    config,    // our settings cannot work with this server
};

std::string class_name(Class c);

// The exit code for a class. `temporary` (a 4xx reply, or a failure a retry
// can fix) turns content, recipient, dns, policy, quota, protocol and network
// failures into 75; security and configuration refusals keep their code.
ExitCode exit_code_for(Class c, bool temporary);

// The class of a local failure from its util::ErrorKind; `fallback` for
// ErrorKind::unspecified.
Class class_for_kind(util::ErrorKind kind, Class fallback = Class::config);

// The one rule for many results (batch, queue flush, the recipients of one
// message): success (0) loses to any failure, a temporary failure (75)
// loses to a permanent one, and between two permanent failures the first
// one stays. docs/exit-codes.md documents it.
ExitCode worst(ExitCode so_far, ExitCode next);

} // namespace smtpsend::diagnosis
