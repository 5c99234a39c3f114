#include "config/server_url.hpp"
#include "diagnosis/diagnosis.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <initializer_list>

namespace smtpsend::diagnosis {

using transport::NetError;
using transport::Reply;
using transport::Stage;

namespace {

bool any_of(const std::string& text, std::initializer_list<const char*> phrases) {
    return std::any_of(phrases.begin(), phrases.end(),
                       [&](const char* p) { return text.find(p) != std::string::npos; });
}

// RFC 3463: class.subject.detail
struct Enhanced {
    int cls = 0, subject = -1, detail = -1;
    bool is(int s, int d) const { return subject == s && detail == d; }
};

Enhanced parse_enhanced(const std::string& e) {
    Enhanced out;
    if (e.empty())
        return out;
    if (std::sscanf(e.c_str(), "%d.%d.%d", &out.cls, &out.subject, &out.detail) != 3)
        return Enhanced{};
    return out;
}

// Phrases, matched on the lower-cased reply text.
bool says_tls_required(const std::string& t) {
    return any_of(t, {"starttls command first", "must issue a starttls", "starttls is required",
                      "starttls required", "encryption required", "must use tls",
                      "tls required", "when not advertised"});
}
bool says_mailbox_full(const std::string& t) {
    return any_of(t, {"mailbox full", "mailbox is full", "over quota", "overquota",
                      "deliver.exception:quotaexceeded", "insufficient storage for"});
}
bool says_rate_limit(const std::string& t) {
    return any_of(t, {"daily", "quota exceeded", "quotaexceeded", "rate limit", "ratelimit",
                      "throttl", "too many messages", "too many recipients", "exceeded the limit",
                      "limit exceeded", "sending limit", "sending quota", "unexpected volume",
                      "excessive volume", "too many connections", "too many concurrent",
                      "per connection reached", "too many login", "try again later from"});
}
bool says_sender_refused(const std::string& t) {
    return any_of(t, {"send as", "send-as", "sendas", "not owned by", "not verified",
                      "verified sender", "not authorized to perform", "sender not allowed",
                      "not permitted to send", "from address does not match"});
}
bool says_relay(const std::string& t) {
    // Specific forms only: "use the SMTP relay at your provider" is advice, not a refusal.
    return any_of(t, {"unable to relay", "relay access", "relaying", "relay denied", "relay not",
                      "open relay", "to relay", "for relay", "not relay"});
}
bool says_auth_required(const std::string& t) {
    return any_of(t, {"authentication required", "authentication is required",
                      "not authenticated", "must authenticate", "smtp authentication",
                      "not logged in", "auth required", "please authenticate",
                      "not allowed to send"});
}
bool says_content(const std::string& t) {
    return any_of(t, {"as spam", "is spam", "spam detected", "spam message", "likely spam",
                      "banned content", "content denied", "content rejected", "rfc 2822",
                      "rfc 5322", "rfc2822", "rfc5322", "compliant", "from header", "virus",
                      "malware", "message headers", "bare linefeed"});
}
bool says_too_big(const std::string& t) {
    return any_of(t, {"too big", "too large", "size exceeds", "exceeds size",
                      "message size", "maximum size", "size limit", "message length"});
}
bool says_recipient_unknown(const std::string& t) {
    return any_of(t, {"user unknown", "unknown user", "no such user", "does not exist",
                      "doesn't exist", "user doesn't have", "invalid recipient",
                      "recipient invalide", "no mailbox", "mailbox not found",
                      "unknown recipient", "recipient unknown", "is disabled"});
}
bool says_temporary(const std::string& t) {
    return any_of(t, {"temporar", "try again", "try later", "greylist", "graylist"});
}

} // namespace

ReplyClass classify_reply(Stage stage, const Reply& reply) {
    const int code = reply.code;
    const bool four = code >= 400 && code < 500;
    const std::string t = util::to_lower(reply.text());
    const Enhanced e = parse_enhanced(reply.enhanced);

    // A. TLS must come first: no retry and no login fixes it.
    if (says_tls_required(t) || (e.cls && e.is(7, 11)))
        return {Class::tls, false};
    // A2. A permanent refusal of STARTTLS: no safe way to send to this port.
    if (stage == Stage::starttls && code >= 530)
        return {Class::tls, false};
    // B. 421: the server is closing the channel; later may work.
    if (code == 421)
        return {says_rate_limit(t) ? Class::rate : Class::temporary, true};
    // C. Replies to AUTH.
    if (stage == Stage::auth) {
        if (four) {
            if (says_rate_limit(t))
                return {Class::rate, true};
            if (says_temporary(t) || e.subject == 3 || e.subject == 4)
                return {Class::temporary, true};
            return {Class::auth, false}; // 432 4.7.12, 435 4.7.8: no retry fixes these
        }
        if (code >= 500 && code <= 504)
            return {Class::protocol, false};
        return {Class::auth, false};
    }
    // D. Mailbox full, then our own sending limits.
    if (says_mailbox_full(t))
        return {Class::quota, four};
    if (says_rate_limit(t))
        return {Class::rate, true};
    if (four && says_temporary(t))
        return {Class::temporary, true}; // greylisting and friends
    // E. Enhanced codes that say exactly what happened.
    if (e.cls) {
        if (e.is(7, 27))
            return {Class::config, false}; // the sender's domain has a null MX
        if (e.is(1, 8) || e.is(1, 10))
            return {Class::dns, four};
        if (e.is(7, 23) || e.is(7, 24) || e.is(7, 25) || e.is(7, 26))
            return {Class::policy, four};
        if (e.is(7, 57) || e.is(7, 139) || e.is(7, 9) || e.is(7, 14) || e.is(7, 8))
            return {Class::auth, false};
        if (e.is(7, 60))
            return {Class::sender, false};
    }
    // F. 530 means "log in first" wherever it comes.
    if (code == 530)
        return {Class::auth, false};
    // G. Well-known phrases.
    if (says_sender_refused(t))
        return {Class::sender, false};
    if (says_relay(t))
        return {Class::relay, false};
    if (says_auth_required(t))
        return {Class::auth, false};
    if (any_of(t, {"helo", "ehlo", "fully-qualified", "fully qualified"}) && code >= 500)
        return {Class::config, false};
    // H. By enhanced code class and subject.
    if (e.cls) {
        switch (e.subject) {
        case 1:
            if (e.detail == 2)
                return {any_of(t, {"valid", "syntax"}) ? Class::input : Class::dns, four};
            if (e.detail == 3 || e.detail == 7)
                return {Class::input, four};
            return {Class::recipient, four};
        case 2:
            if (e.detail == 1)
                return {Class::recipient, four};
            if (e.detail == 2)
                return {Class::quota, four};
            if (e.detail == 3)
                return {Class::content, four};
            return {Class::policy, four};
        case 3:
            if (e.detail == 4)
                return {Class::content, four};
            return {four ? Class::temporary : Class::policy, four};
        case 4:
            return {four ? Class::temporary : Class::policy, four};
        case 5:
            if (any_of(t, {"no valid recipients"}))
                return {Class::policy, four};
            return {four ? Class::temporary : Class::protocol, four};
        case 6:
            return {Class::content, four};
        case 7:
            if (says_content(t))
                return {Class::content, four};
            return {Class::policy, four};
        default:
            break;
        }
    }
    // I. No enhanced code: the reply code and phrases.
    if (says_content(t))
        return {Class::content, four};
    if (says_recipient_unknown(t) && (stage == Stage::rcpt || stage == Stage::end_of_data))
        return {Class::recipient, four};
    if (code == 552 || (code >= 500 && says_too_big(t)))
        return {Class::content, false};
    if (four)
        return {Class::temporary, true};
    if (code >= 500 && code <= 504 && stage != Stage::greeting)
        return {Class::protocol, false};
    if (code >= 500)
        return {Class::policy, false};
    return {Class::protocol, false}; // a 1xx/2xx/3xx where a refusal was reported, or garbage
}

std::string provider_for_host(const std::string& host_in) {
    std::string h = util::to_lower(host_in);
    auto ends = [&](const char* suffix) {
        std::string s = suffix;
        return h == s || (h.size() > s.size() && h.compare(h.size() - s.size(), s.size(), s) == 0 &&
                          h[h.size() - s.size() - 1] == '.');
    };
    if (ends("smtp-relay.gmail.com"))
        return "google-workspace-relay";
    if (ends("gmail.com") || ends("googlemail.com") || ends("google.com"))
        return "gmail";
    if (ends("office365.com") || ends("outlook.office.com") || ends("protection.outlook.com"))
        return "office365";
    if (ends("outlook.com") || ends("hotmail.com") || ends("live.com"))
        return "outlook";
    if (ends("yahoo.com") || ends("yahoo.co.uk") || ends("yahoodns.net"))
        return "yahoo";
    if (ends("mail.me.com") || ends("icloud.com"))
        return "icloud";
    if (ends("zoho.com") || ends("zoho.eu") || ends("zoho.in") || ends("zohomail.com"))
        return "zoho";
    if (ends("fastmail.com") || ends("messagingengine.com"))
        return "fastmail";
    if (h.rfind("email-smtp.", 0) == 0 && ends("amazonaws.com"))
        return "ses";
    if (ends("sendgrid.net"))
        return "sendgrid";
    if (ends("mailgun.org"))
        return "mailgun";
    if (ends("postmarkapp.com"))
        return "postmark";
    if (ends("brevo.com") || ends("sendinblue.com"))
        return "brevo";
    if (ends("mailjet.com"))
        return "mailjet";
    return "";
}

} // namespace smtpsend::diagnosis
