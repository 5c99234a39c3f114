// One line per delivery attempt, in key=value form (msmtp's fields and
// more), to a file or syslog. Never a password or an AUTH payload: the
// fields come from the outcome, not from the dialogue.
#pragma once

#include <string>
#include <vector>

namespace smtpsend::log {

struct Record {
    std::string host;
    std::string tls;
    std::string auth;          // the mechanism used, "" for none
    std::string user;
    std::string from;
    std::vector<std::string> recipients;
    uint64_t size = 0;
    std::string message_id;
    std::string queue_id;
    std::string outcome;       // sent, partial, failed, unconfirmed, queued
    std::string cls;
    int reply_code = 0;
    std::string enhanced;
    std::string reply;
    int exit_code = 0;
    long ms = 0;
};

// "time=2026-11-28T02:20:30Z host=... outcome=sent ..." with values quoted
// when they hold spaces, quotes or '='.
std::string format(const Record& record);

// Appends to `target` ("none", "syslog" or a file). A file is created 0600
// and never written through a symbolic link (O_NOFOLLOW): a link gives a
// warning instead. Returns a warning text when it could not be written ("" when
// fine): a log never stops a send.
std::string write(const std::string& target, const Record& record);

} // namespace smtpsend::log
