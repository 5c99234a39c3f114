#include "transport/dialogue.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace smtpsend::transport {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string strip_eol(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.remove_suffix(1);
    return std::string(s);
}

// "x.y.z" with 1-3 digit parts at the start of `text`, or "".
std::string leading_enhanced(std::string_view text) {
    size_t i = 0;
    auto digits = [&](size_t max) {
        size_t start = i;
        while (i < text.size() && is_digit(text[i]) && i - start < max)
            ++i;
        return i > start;
    };
    if (i >= text.size() || !(text[i] == '2' || text[i] == '4' || text[i] == '5'))
        return {};
    ++i;
    if (i >= text.size() || text[i] != '.')
        return {};
    ++i;
    if (!digits(3) || i >= text.size() || text[i] != '.')
        return {};
    ++i;
    if (!digits(3))
        return {};
    if (i < text.size() && !(text[i] == ' ' || text[i] == '\t'))
        return {};
    return std::string(text.substr(0, i));
}

} // namespace

std::string stage_name(Stage s) {
    switch (s) {
    case Stage::config: return "config";
    case Stage::input: return "input";
    case Stage::resolve: return "resolve";
    case Stage::connect: return "connect";
    case Stage::tls: return "tls";
    case Stage::greeting: return "greeting";
    case Stage::ehlo: return "ehlo";
    case Stage::starttls: return "starttls";
    case Stage::auth: return "auth";
    case Stage::mail: return "mail";
    case Stage::rcpt: return "rcpt";
    case Stage::data: return "data";
    case Stage::end_of_data: return "end-of-data";
    case Stage::quit: return "quit";
    }
    return "?";
}

std::optional<Stage> parse_stage(const std::string& name) {
    for (int i = 0; i <= static_cast<int>(Stage::quit); ++i)
        if (stage_name(static_cast<Stage>(i)) == util::to_lower(name))
            return static_cast<Stage>(i);
    if (util::to_lower(name) == "eod" || util::to_lower(name) == "end_of_data")
        return Stage::end_of_data;
    return std::nullopt;
}

std::string net_error_name(NetError e) {
    switch (e) {
    case NetError::none: return "none";
    case NetError::resolve: return "resolve";
    case NetError::refused: return "refused";
    case NetError::connect_failed: return "connect-failed";
    case NetError::timeout: return "timeout";
    case NetError::closed: return "closed";
    case NetError::closed_after_cert_request: return "closed-after-cert-request";
    case NetError::tls_handshake: return "tls-handshake";
    case NetError::tls_handshake_refused: return "tls-handshake-refused";
    case NetError::tls_wrong_version: return "tls-wrong-version";
    case NetError::cert_untrusted: return "cert-untrusted";
    case NetError::cert_name: return "cert-name";
    case NetError::cert_expired: return "cert-expired";
    case NetError::cert_other: return "cert-other";
    case NetError::starttls_not_offered: return "starttls-not-offered";
    case NetError::no_auth_mechanism: return "no-auth-mechanism";
    case NetError::auth_not_offered: return "auth-not-offered";
    case NetError::auth_refused: return "auth-refused";
    case NetError::protocol: return "protocol";
    case NetError::client_cert_bad: return "client-cert-bad";
    case NetError::client_cert_refused: return "client-cert-refused";
    case NetError::tls_version: return "tls-version";
    case NetError::pin_mismatch: return "pin-mismatch";
    case NetError::source_address: return "source-address";
    case NetError::option_refused: return "option-refused";
    case NetError::proxy_resolve: return "proxy-resolve";
    case NetError::proxy_refused: return "proxy-refused";
    case NetError::proxy_auth: return "proxy-auth";
    case NetError::proxy_tunnel: return "proxy-tunnel";
    case NetError::proxy_failed: return "proxy-failed";
    case NetError::local: return "local";
    case NetError::other: return "other";
    }
    return "?";
}

std::string status_name(Outcome::Status s) {
    switch (s) {
    case Outcome::Status::sent: return "sent";
    case Outcome::Status::partial: return "partial";
    case Outcome::Status::failed: return "failed";
    case Outcome::Status::unconfirmed: return "unconfirmed";
    }
    return "?";
}

std::string Reply::text() const { return util::join(lines, "\n"); }

Reply make_reply(std::vector<std::string> lines) {
    Reply r;
    r.lines = std::move(lines);
    if (r.lines.empty())
        return r;
    const std::string& first = r.lines.front();
    if (first.size() >= 3 && is_digit(first[0]) && is_digit(first[1]) && is_digit(first[2])) {
        std::from_chars(first.data(), first.data() + 3, r.code);
        std::string_view rest = first.size() > 4 ? std::string_view(first).substr(4) : "";
        r.enhanced = leading_enhanced(rest);
        // Enhanced codes must agree with the reply's class (RFC 3463).
        if (!r.enhanced.empty() && r.enhanced[0] != first[0])
            r.enhanced.clear();
    }
    return r;
}

Dialogue::Dialogue(std::vector<std::string> recipients, LineSink sink) : sink_(std::move(sink)) {
    for (auto& r : recipients)
        recipients_.push_back(RecipientResult{std::move(r), false, std::nullopt, false});
}

void Dialogue::emit(char who, std::string text) {
    long at = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started_)
                                    .count());
    TranscriptLine line{who, std::move(text), at};
    if (sink_)
        sink_(line);
    transcript_.push_back(std::move(line));
}

void Dialogue::note(std::string text) { emit('*', std::move(text)); }

void Dialogue::on_body_complete() {
    body_complete_ = true;
    stage_ = Stage::end_of_data;
}

void Dialogue::on_command(std::string_view data) {
    partial_command_ += data;
    size_t eol;
    while ((eol = partial_command_.find('\n')) != std::string::npos) {
        std::string line = strip_eol(partial_command_.substr(0, eol));
        partial_command_.erase(0, eol + 1);
        std::string upper = util::to_upper(line);
        if (upper.rfind("EHLO", 0) == 0 || upper.rfind("HELO", 0) == 0) {
            stage_ = Stage::ehlo;
            caps_ = Capabilities{};
            caps_.after_tls = tls_started_;
            emit('C', line);
        } else if (upper == "STARTTLS") {
            stage_ = Stage::starttls;
            emit('C', line);
        } else if (upper.rfind("AUTH ", 0) == 0) {
            stage_ = Stage::auth;
            auth_sent_ = true;
            auth_complete_ = false;
            auto parts = util::split_list(line, ' ');
            auth_mechanism_ = parts.size() > 1 ? parts[1] : "";
            emit('C', parts.size() > 2 ? "AUTH " + auth_mechanism_ + " ***" : line);
        } else if (stage_ == Stage::auth && !auth_complete_) {
            emit('C', "***"); // a SASL response: never shown
        } else if (upper.rfind("MAIL FROM", 0) == 0) {
            stage_ = Stage::mail;
            emit('C', line);
        } else if (upper.rfind("RCPT TO", 0) == 0) {
            stage_ = Stage::rcpt;
            emit('C', line);
        } else if (upper == "DATA") {
            stage_ = Stage::data;
            emit('C', line);
        } else if (upper == "QUIT") {
            if (stage_ != Stage::quit)
                stage_before_quit_ = stage_;
            stage_ = Stage::quit;
            emit('C', line);
        } else {
            emit('C', line);
        }
    }
}

void Dialogue::on_reply_line(std::string_view data) {
    std::string line = strip_eol(data.substr(0, max_line_bytes));
    bool well_formed = line.size() >= 3 && is_digit(line[0]) && is_digit(line[1]) &&
                       is_digit(line[2]) && (line.size() == 3 || line[3] == ' ' || line[3] == '-');
    if (!well_formed)
        garbage_ = true;
    if (stage_ == Stage::connect || stage_ == Stage::tls) {
        stage_ = Stage::greeting;
    }
    // Among the RCPT replies, only well-formed lines are replies (as for
    // libcurl, which sends the next RCPT after the next well-formed one): a
    // stray line must not shift the mapping. It does make the mapping of
    // this recipient and the following ones uncertain.
    if (!well_formed && stage_ == Stage::rcpt) {
        emit('S', line);
        uncertain_from_ = std::min(uncertain_from_, rcpt_index_);
        return;
    }
    bool last = !well_formed || line.size() == 3 || line[3] == ' ';
    if (pending_lines_.size() >= max_reply_lines && !last) {
        overflowed_ = true;
        ++dropped_lines_;
        return;
    }
    emit('S', line);
    pending_lines_.push_back(line);
    if (last)
        finish_reply();
}

void Dialogue::finish_reply() {
    if (dropped_lines_ > 0) {
        note(std::to_string(dropped_lines_) + " more lines of this reply not kept");
        dropped_lines_ = 0;
    }
    Reply r = make_reply(std::move(pending_lines_));
    pending_lines_.clear();
    last_reply_ = r;
    last_reply_stage_ = stage_;
    if (r.code >= 400 && stage_ != Stage::quit) {
        failing_reply_ = r;
        failing_stage_ = stage_;
    }
    switch (stage_) {
    case Stage::greeting:
        greeting_ = r;
        break;
    case Stage::ehlo:
        if (r.code == 250) {
            caps_.seen = true;
            for (size_t i = 1; i < r.lines.size(); ++i) {
                std::string kw = r.lines[i].size() > 4 ? r.lines[i].substr(4) : "";
                auto words = util::split_list(kw, ' ');
                if (words.empty())
                    continue;
                std::string key = util::to_upper(words[0]);
                if (key == "STARTTLS")
                    caps_.starttls = true;
                else if (key == "AUTH" || key.rfind("AUTH=", 0) == 0) {
                    if (key.rfind("AUTH=", 0) == 0)
                        words[0] = key.substr(5);
                    else
                        words.erase(words.begin());
                    for (const auto& word : words) {
                        std::string w = util::to_upper(word);
                        if (std::find(caps_.auth.begin(), caps_.auth.end(), w) == caps_.auth.end())
                            caps_.auth.push_back(w);
                    }
                } else if (key == "SIZE" && words.size() > 1) {
                    uint64_t v = 0;
                    auto [p, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), v);
                    if (ec == std::errc() && v > 0)
                        caps_.size = v;
                } else if (key == "8BITMIME")
                    caps_.eightbitmime = true;
                else if (key == "SMTPUTF8")
                    caps_.smtputf8 = true;
                else if (key == "PIPELINING")
                    caps_.pipelining = true;
                else if (key == "DSN")
                    caps_.dsn = true;
            }
        }
        break;
    case Stage::auth:
        if (r.code != 334)
            auth_complete_ = true;
        break;
    case Stage::starttls:
        if (r.code == 220) {
            tls_started_ = true;
            caps_before_tls_ = caps_;
            stage_ = Stage::tls;
        }
        break;
    case Stage::rcpt:
        if (rcpt_index_ < recipients_.size()) {
            recipients_[rcpt_index_].reply = r;
            recipients_[rcpt_index_].accepted = r.code >= 200 && r.code < 300;
            ++rcpt_index_;
        }
        break;
    case Stage::end_of_data:
        final_reply_ = r;
        break;
    default:
        break;
    }
}

void Dialogue::fill(Outcome& out) const {
    out.stage = stage_;
    out.greeting = greeting_;
    out.capabilities = caps_;
    out.capabilities_before_tls = caps_before_tls_;
    out.auth_sent = auth_sent_;
    out.auth_mechanism = auth_mechanism_;
    out.recipients = recipients_;
    for (size_t i = uncertain_from_; i < out.recipients.size(); ++i)
        out.recipients[i].uncertain = true;
    out.final_reply = final_reply_;
    out.transcript = transcript_;
    out.body_bytes = body_bytes_;
}

} // namespace smtpsend::transport
