// sendmail -bs: an SMTP server on standard input and output (the default of
// Symfony Mailer and SwiftMailer). Each message accepted with the usual
// dialogue is delivered like any send (retries, queue, log) over one
// connection and one login for the whole session, and the client is
// answered with the real outcome.
#include "app/commands.hpp"

#include "config/load.hpp"
#include "delivery/deliver.hpp"
#include "message/address.hpp"
#include "message/compose.hpp"
#include "util/strings.hpp"

#include <cerrno>
#include <optional>
#include <unistd.h>

namespace smtpsend::app {

namespace {

constexpr size_t max_message = 64u << 20;

class LineReader {
  public:
    explicit LineReader(int fd) : fd_(fd) {}
    // The next line without its line end; false at the end of input.
    bool next(std::string& line) {
        for (;;) {
            auto eol = buffer_.find('\n', pos_);
            if (eol != std::string::npos) {
                line = buffer_.substr(pos_, eol - pos_);
                pos_ = eol + 1;
                if (!line.empty() && line.back() == '\r')
                    line.pop_back();
                return true;
            }
            buffer_.erase(0, pos_);
            pos_ = 0;
            char buf[65536];
            ssize_t n = read(fd_, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (buffer_.empty())
                    return false;
                line.swap(buffer_);
                buffer_.clear();
                return true;
            }
            buffer_.append(buf, static_cast<size_t>(n));
        }
    }

  private:
    int fd_;
    std::string buffer_;
    size_t pos_ = 0;
};

// "<a@b> SIZE=10" -> "a@b"
std::string path_argument(const std::string& rest) {
    auto lt = rest.find('<');
    auto gt = rest.find('>', lt == std::string::npos ? 0 : lt);
    if (lt == std::string::npos || gt == std::string::npos)
        return util::trim(rest.substr(0, rest.find(' ')));
    return rest.substr(lt + 1, gt - lt - 1);
}

std::string reply_for(const delivery::Result& r, const std::string& message_id) {
    using delivery::Status;
    switch (r.status) {
    case Status::sent:
    case Status::dry_run:
        return "250 2.0.0 Ok: relayed as " + message_id;
    case Status::queued:
        return "250 2.0.0 Ok: queued as " + r.queue_id + " (" + util::one_line(r.queue_reason) + ")";
    case Status::partial: {
        std::vector<std::string> rejected;
        for (const auto& rej : r.rejected)
            rejected.push_back("<" + rej.address + "> " + rej.reply);
        return "250 2.0.0 Ok: relayed as " + message_id + ", but the server refused " +
               util::join(rejected, "; ");
    }
    case Status::failed:
    case Status::unconfirmed:
        break;
    }
    const auto& diag = *r.diagnosis;
    bool temporary = r.exit_code == diagnosis::ExitCode::tempfail;
    std::string enhanced = diag.reply && !diag.reply->enhanced.empty() ? diag.reply->enhanced
                                                                        : (temporary ? "4.0.0" : "5.0.0");
    enhanced[0] = temporary ? '4' : '5';
    std::string text = diag.summary;
    if (diag.reply)
        text += " (" + util::one_line(diag.reply->text()) + ")";
    return std::string(temporary ? "451 " : "554 ") + enhanced + " " + util::one_line(text);
}

} // namespace

int smtp_stdio_command(const cli::Invocation& inv, Io& io) {
    auto settings = config::load_for_run(inv.settings, inv.config_path, inv.profile, io.env);
    if (!settings)
        return output::report_failure(io, output::Schema::send, false, settings.error());
    output::print_warnings(io, settings->warnings);
    const config::Loaded& loaded = *settings;
    const std::string hostname = util::local_hostname();
    const auto policy = delivery::policy_for(loaded, io.env, /*sendmail_mode=*/true);
    const auto recorded = delivery::recorded_settings(loaded.settings);
    const auto hooks = output::delivery_hooks(io);
    // One connection and one login for every message of the session, made
    // at the first message.
    std::optional<util::Result<delivery::Session>> session;
    auto say = [&](const std::string& line) { io.out << line << "\r\n" << std::flush; };
    say("220 " + hostname + " smtpsend ESMTP ready");
    LineReader in(io.stdin_fd);
    std::string line, from;
    std::vector<std::string> rcpts;
    bool have_mail = false;
    while (in.next(line)) {
        std::string upper = util::to_upper(line);
        if (upper.rfind("EHLO", 0) == 0) {
            say("250-" + hostname);
            say("250-8BITMIME");
            say("250-SIZE " + std::to_string(max_message));
            say("250 ENHANCEDSTATUSCODES");
        } else if (upper.rfind("HELO", 0) == 0) {
            say("250 " + hostname);
        } else if (upper.rfind("MAIL FROM:", 0) == 0) {
            if (have_mail) {
                say("503 5.5.1 Error: nested MAIL command");
                continue;
            }
            from = path_argument(line.substr(10));
            have_mail = true;
            rcpts.clear();
            say("250 2.1.0 Ok");
        } else if (upper.rfind("RCPT TO:", 0) == 0) {
            if (!have_mail) {
                say("503 5.5.1 Error: need MAIL command");
                continue;
            }
            std::string rcpt = path_argument(line.substr(8));
            if (!message::parse_address(rcpt, true)) {
                say("501 5.1.3 Bad recipient address syntax");
                continue;
            }
            rcpts.push_back(rcpt);
            say("250 2.1.5 Ok");
        } else if (upper == "DATA") {
            if (rcpts.empty()) {
                say("503 5.5.1 Error: need RCPT command");
                continue;
            }
            say("354 End data with <CR><LF>.<CR><LF>");
            std::string data;
            bool ended = false, too_big = false;
            while (in.next(line)) {
                if (line == ".") {
                    ended = true;
                    break;
                }
                if (!line.empty() && line[0] == '.')
                    line.erase(0, 1);
                if (data.size() + line.size() > max_message)
                    too_big = true;
                else
                    data += line + "\r\n";
            }
            if (!ended)
                return 0;
            if (too_big) {
                say("552 5.3.4 Message too big for smtpsend -bs");
            } else {
                message::MessageRequest req;
                req.complete_message = true;
                req.to = rcpts;
                req.envelope_from = from;
                message::ComposeContext ctx;
                ctx.hostname = hostname;
                auto msg = message::prepare_message(req, loaded.settings, ctx,
                                                    message::Spool::from_string(std::move(data)));
                if (!msg) {
                    say("554 5.6.0 " + util::one_line(msg.error().message));
                } else {
                    if (!session) {
                        auto plan = delivery::make_plan(loaded, io.env, hostname);
                        if (plan) {
                            session.emplace(delivery::Session(std::move(*plan), delivery::curl_transport_factory(),
                                                              /*reuse=*/true));
                            (**session).set_on_line(output::verbose_printer(inv.verbose, io.err));
                        } else {
                            session.emplace(plan.error());
                        }
                    }
                    if (!*session) {
                        say("451 4.3.5 " + util::one_line((*session).error().message) + " (smtpsend's settings)");
                    } else {
                        auto job = delivery::job_for(*msg, recorded);
                        say(reply_for(delivery::deliver(job, **session, policy, hooks), msg->message_id));
                    }
                }
            }
            have_mail = false;
            rcpts.clear();
        } else if (upper == "RSET") {
            have_mail = false;
            rcpts.clear();
            say("250 2.0.0 Ok");
        } else if (upper == "NOOP") {
            say("250 2.0.0 Ok");
        } else if (upper.rfind("VRFY", 0) == 0) {
            say("252 2.5.0 Cannot VRFY user; send some mail and I will try");
        } else if (upper == "QUIT") {
            say("221 2.0.0 Bye");
            return 0;
        } else {
            say("502 5.5.2 Error: command not recognized");
        }
    }
    return 0;
}

} // namespace smtpsend::app
