// Turns what the user asked for (flags, or a complete message with -t) into
// an envelope and a MessageSource ready for the transport.
#pragma once

#include "config/settings.hpp"
#include "message/address.hpp"
#include "message/body_source.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smtpsend::message {

// The per-run message options from the command line.
struct MessageRequest {
    std::string subject;
    std::vector<std::string> to;       // positional recipients and --to, comma lists allowed
    std::vector<std::string> cc;
    std::vector<std::string> bcc;
    std::vector<std::string> reply_to;
    std::vector<std::string> headers;  // "Name: value"
    std::string body_file;             // "" = standard input
    std::string html_file;             // --html: an HTML body (with the text: alternative)
    std::optional<std::string> html_text; // the HTML body as text (batch "html"), instead of html_file
    std::vector<std::string> attach;   // "FILE[;type=TYPE][;name=NAME]"
    std::vector<std::string> inline_files; // images for cid:NAME in the HTML
    bool extract_recipients = false;   // -t: the input is a complete message
    // sendmail mode: the input is always a complete message; recipients come
    // from the arguments (and with -t also from the headers).
    bool complete_message = false;
    bool ignore_dots = true;           // false (sendmail without -i): a "." line ends the input
    std::string envelope_from;         // -f / -r: the envelope sender only
    std::string full_name;             // -F: the name for a generated From
};

struct Envelope {
    std::string from;                  // addr-spec for MAIL FROM
    std::vector<std::string> recipients;
};

struct PreparedMessage {
    Envelope envelope;
    std::string message_id;            // with angle brackets
    std::unique_ptr<MessageSource> source;
};

// Inputs the composer needs from outside, injectable for tests.
struct ComposeContext {
    int stdin_fd = 0;
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
    std::string hostname;              // for Message-ID when the sender has no domain
    // The caller's login name. Sendmail mode sends as LOGIN@domain when
    // nothing else names a sender (no -f, `from` or full From header), as
    // Postfix does with login@myorigin; empty: never.
    std::string login;
    // Where to say how to end the body when it is typed at a terminal
    // (stdin a tty), as mail(1) does; -1 for nowhere.
    int notice_fd = 2;
};

// Builds the message. Fails with kind "usage" (no recipients), "input"
// (invalid address, header injection, bad -t input), "noinput" (unreadable
// body file) or "config" (no sender).
util::Result<PreparedMessage> prepare_message(const MessageRequest& request,
                                              const config::Settings& settings,
                                              const ComposeContext& context);

// The same, for input already read (sendmail's -bs mode).
util::Result<PreparedMessage> prepare_message(const MessageRequest& request,
                                              const config::Settings& settings,
                                              const ComposeContext& context,
                                              std::shared_ptr<Spool> input);

// Fails (kind "input", exit 65) when an envelope address has a non-ASCII
// local part and the server does not offer SMTPUTF8: without it the address
// cannot be sent (libcurl would send it raw). Domains are already A-labels
// (parse_address). Call once the server's EHLO capabilities are known,
// before MAIL FROM.
util::Status check_smtputf8(const Envelope& envelope, bool server_offers_smtputf8);

// What a bounce says about a message that was given up.
struct BounceRequest {
    std::string original_sender;          // the envelope sender: the bounce's only recipient
    std::vector<std::string> recipients;  // the ones it could not reach
    std::string reason;                   // why it was given up (the failed/ reason)
    std::string original_headers;         // the message's header block, as queued
};

// A bounce, as MTAs send one: From MAILER-DAEMON, the null envelope sender
// (<>, so that it never bounces itself), To the original sender, a text part
// with the reason and the original headers. Fails (kind "input") when the
// original sender is null or not a valid address: there is no one to tell.
util::Result<PreparedMessage> compose_bounce(const BounceRequest& request, const ComposeContext& context);

// "Sat, 28 Nov 2026 01:22:08 +0000" in local time.
std::string rfc5322_date(std::chrono::system_clock::time_point when);

// "<20261128012208.3f9a1c2e7b@example.com>"
std::string make_message_id(std::chrono::system_clock::time_point when, const std::string& domain);

} // namespace smtpsend::message
