#include "diagnosis/exit_codes.hpp"

#include <utility>

namespace smtpsend::diagnosis {

std::string class_name(Class c) {
    switch (c) {
    case Class::ok: return "ok";
    case Class::usage: return "usage";
    case Class::input: return "input";
    case Class::noinput: return "noinput";
    case Class::content: return "content";
    case Class::recipient: return "recipient";
    case Class::dns: return "dns";
    case Class::policy: return "policy";
    case Class::quota: return "quota";
    case Class::software: return "software";
    case Class::io: return "io";
    case Class::rate: return "rate";
    case Class::temporary: return "temporary";
    case Class::network: return "network";
    case Class::protocol: return "protocol";
    case Class::auth: return "auth";
    case Class::relay: return "relay";
    case Class::sender: return "sender";
    case Class::tls: return "tls";
    case Class::config: return "config";
    }
    return "?";
}

ExitCode exit_code_for(Class c, bool temporary) {
    switch (c) {
    case Class::ok: return ExitCode::ok;
    case Class::usage: return ExitCode::usage;
    case Class::noinput: return ExitCode::noinput;
    case Class::software: return ExitCode::software;
    case Class::io: return ExitCode::ioerr;
    case Class::rate:
    case Class::temporary:
    case Class::network: return ExitCode::tempfail;
    case Class::auth:
    case Class::relay:
    case Class::sender: return ExitCode::noperm;
    case Class::tls:
    case Class::config: return ExitCode::config;
    case Class::input: return temporary ? ExitCode::tempfail : ExitCode::dataerr;
    case Class::content: return temporary ? ExitCode::tempfail : ExitCode::dataerr;
    case Class::recipient: return temporary ? ExitCode::tempfail : ExitCode::nouser;
    case Class::dns: return temporary ? ExitCode::tempfail : ExitCode::nohost;
    case Class::policy:
    case Class::quota: return temporary ? ExitCode::tempfail : ExitCode::unavailable;
    case Class::protocol: return temporary ? ExitCode::tempfail : ExitCode::protocol;
    }
    return ExitCode::software;
}

Class class_for_kind(util::ErrorKind kind, Class fallback) {
    using util::ErrorKind;
    switch (kind) {
    case ErrorKind::unspecified: return fallback;
    case ErrorKind::usage: return Class::usage;
    case ErrorKind::input: return Class::input;
    case ErrorKind::noinput: return Class::noinput;
    case ErrorKind::nouser: return Class::recipient;
    case ErrorKind::config: return Class::config;
    case ErrorKind::io: return Class::io;
    case ErrorKind::tempfail: return Class::temporary;
    }
    return fallback;
}

ExitCode worst(ExitCode so_far, ExitCode next) {
    if (so_far == ExitCode::ok || so_far == ExitCode::tempfail)
        return next == ExitCode::ok ? so_far : next;
    return so_far;
}

} // namespace smtpsend::diagnosis
