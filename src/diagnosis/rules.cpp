// The two diagnosis tables. To add a case: find the first row that wrongly
// matches it and put a more specific row above, by structure (stage, code,
// enhanced code) before phrases; then add the reply to tests/data/.
#include "diagnosis/rules.hpp"

#include "util/strings.hpp"

#include <algorithm>
#include <cstdio>

namespace smtpsend::diagnosis::detail {

using transport::NetError;
using transport::Reply;
using transport::Stage;

namespace {

using P = std::vector<std::string_view>;
using H = Hint;
using C = Class;

constexpr Stages any = 0;
constexpr Stages auth = stage_bit(Stage::auth);
constexpr Stages starttls = stage_bit(Stage::starttls);
constexpr Stages mail = stage_bit(Stage::mail);
constexpr Stages rcpt = stage_bit(Stage::rcpt);
constexpr Stages greeting = stage_bit(Stage::greeting);
constexpr Stages message = stage_bit(Stage::rcpt) | stage_bit(Stage::end_of_data);
constexpr Stages not_greeting = ~greeting;

// Phrase groups that several rows share.
const P tls_required_words = {"starttls command first", "must issue a starttls", "starttls is required",
                              "starttls required", "must use tls", "tls required", "requires tls",
                              "tls is required", "issue starttls"};
const P rate_words = {"daily", "quota exceeded", "quotaexceeded", "rate limit", "ratelimit",
                      "throttl", "too many messages", "too many recipients", "exceeded the limit",
                      "limit exceeded", "sending limit", "sending quota", "unexpected volume",
                      "excessive volume", "too many connections", "too many concurrent",
                      "per connection reached", "too many login", "try again later from",
                      "too quickly", "too much mail", "per hour", "messaging limits",
                      "exceeded their limit", "maximum credits", "sending rate", "rate limited",
                      "per second", "too many emails", "too many mails"};
const P per_connection_words = {"per connection", "per session", "in this connection",
                                "in this session", "on this connection"};
const P temporary_words = {"temporar", "try again", "try later"};
const P full_words = {"mailbox full", "mailbox is full", "over quota", "overquota",
                      "deliver.exception:quotaexceeded", "insufficient storage for",
                      "mailbox has exceeded"};
const P sender_words = {"send as", "send-as", "sendas", "not owned by", "not verified",
                        "verified sender", "not authorized to perform", "sender not allowed",
                        "not permitted to send", "from address does not match", "as a sender",
                        "sender domain", "identities failed", "sender identity",
                        "sender address is not allowed", "same as authorization", "must be same as",
                        "must equal", "must match the authenticated", "does not match the login",
                        "sender signature"};
const P relay_words = {"unable to relay", "relay access", "relaying", "relay denied", "relay not",
                       "open relay", "to relay", "for relay", "not relay"};
const P login_needed_words = {"authentication required", "authentication is required",
                              "not authenticated", "must authenticate", "smtp authentication",
                              "not logged in", "auth required", "please authenticate",
                              "unauthenticated", "auth command first", "authenticate first"};
const P login_words = {"password", "authenticat", "credentials", "login", "log in"};
const P spam_words = {"as spam", "is spam", "spam detected", "spam message", "likely spam",
                      "banned content", "content denied", "content rejected", "virus", "malware",
                      "security issue", "unsolicited", "consider spam", "considered spam",
                      "like spam", "banned attachment", "banned file", "attachment type"};
const P form_words = {"rfc 2822", "rfc 5322", "rfc2822", "rfc5322", "compliant", "from header",
                      "from: header", "message headers", "bare linefeed", "bare lf",
                      "header is missing", "missing a valid address"};
const P big_words = {"too big", "too large", "too long", "size exceeds", "exceeds size",
                     "message size", "maximum size", "size limit", "message length",
                     "size limits"};
const P unknown_words = {"user unknown", "unknown user", "no such user", "does not exist",
                         "doesn't exist", "user doesn't have", "invalid recipient",
                         "recipient invalide", "no mailbox", "mailbox not found",
                         "unknown recipient", "recipient unknown", "is disabled",
                         "recipient not found", "recipientnotfound"};
const P spf_words = {"dmarc", "spf", "dkim", "sender policy framework"};
const P blocked_words = {"blocked", "listed", "spamhaus", "reputation", "block list", "blacklist",
                         "blocklist", "not accepting connections", "traffic not accepted",
                         "directly to our servers", "smtp relay at your"};

std::vector<ReplyRule> make_reply_rules() {
    return {
        // TLS: no retry and no login fixes these.
        {"tls-version", any, 400, 599, "", {"tls 1.0", "tls 1.1", "tls version", "tlsv1.0",
          "tlsv1.1", "protocol version", "tls1.0", "tls1.1"}, {}, "", C::tls, Temp::no,
         "the server refuses the TLS version this client negotiated (it wants TLS 1.2 or newer)",
         {H::tls_version}},
        {"tls-too-weak", any, 400, 599, "", {"encryption too weak", "weak encryption", "cipher"}, {},
         "", C::tls, Temp::no, "the server finds this connection's encryption too weak",
         {H::tls_required}},
        {"tls-inbound", any, 400, 599, "", {"tls channel"}, {}, "", C::tls, Temp::no,
         "the server accepts this mail only over TLS it approves of", {H::tls_inbound}},
        {"tls-required", any, 400, 599, "", tls_required_words, {}, "", C::tls, Temp::no,
         "the server requires TLS before this step", {H::tls_required}},
        {"tls-for-mechanism", any, 400, 599, "7.11", {}, {}, "", C::tls, Temp::no,
         "the server requires TLS for this login mechanism", {H::tls_for_mechanism}},
        {"tls-for-mechanism-words", any, 400, 599, "", {"encryption required"}, {}, "", C::tls,
         Temp::no, "the server requires TLS for this login mechanism", {H::tls_for_mechanism}},
        {"auth-not-advertised", any, 400, 599, "", {"when not advertised"}, {}, "", C::tls, Temp::no,
         "AUTH was used where the server does not offer it (usually before TLS)",
         {H::tls_for_mechanism}},
        {"starttls-refused", starttls, 530, 599, "", {}, {}, "", C::tls, Temp::no,
         "the server refused STARTTLS; nothing was sent", {H::starttls_refused}},
        {"starttls-temporary", starttls, 400, 499, "", {}, {}, "", C::temporary, Temp::yes,
         "the server cannot start TLS just now; nothing was sent", {H::retry}},
        // Sandboxes: the account may send only to authorised recipients.
        {"sandbox", any, 400, 599, "", {"sandbox"}, {}, "", C::sender, Temp::no,
         "the account is in a sandbox and may send only to authorised recipients", {H::sender}},
        // 421: the server closes the channel; later may work.
        // A connection that carried the messages the server takes on one
        // (Yahoo, Postfix smtpd_client_message_rate_limit-like setups): a
        // new connection goes on (diagnosis::per_connection_limit).
        {"connection-limit", any, 421, 421, "", per_connection_words, {}, "", C::rate, Temp::yes,
         "the server takes only so many messages on one connection", {H::rate}},
        {"closing-rate", any, 421, 421, "", rate_words, {}, "", C::rate, Temp::yes,
         "the server limits connections or messages from this client", {H::rate}},
        {"closing", any, 421, 421, "", {}, {}, "", C::temporary, Temp::yes,
         "the server is closing the connection; a later attempt may work", {H::retry}},
        // Replies to AUTH.
        {"auth-rate", auth, 400, 499, "", rate_words, {}, "", C::rate, Temp::yes,
         "a login or sending limit was reached", {H::rate}},
        {"auth-temporary", auth, 400, 499, "", temporary_words, {}, "", C::temporary, Temp::yes,
         "the server could not check the login just now", {H::login_retry}},
        {"auth-temporary-system", auth, 400, 499, "3", {}, {}, "", C::temporary, Temp::yes,
         "the server could not check the login just now", {H::login_retry}},
        {"auth-temporary-network", auth, 400, 499, "4", {}, {}, "", C::temporary, Temp::yes,
         "the server could not check the login just now", {H::login_retry}},
        {"auth-action-needed", auth, 400, 499, "", {}, {}, "", C::auth, Temp::no,
         "the server refused the login and asks for an action first", {H::login_refused}},
        {"auth-mechanism-unknown", auth, 500, 504, "", {"unrecognized authentication",
          "unrecognised authentication", "mechanism not supported", "unsupported mechanism",
          "unsupported authentication", "not supported"}, {}, "", C::protocol, Temp::no,
         "the server does not support this login mechanism", {H::mechanism}},
        {"auth-not-enabled", auth, 500, 504, "", {"not enabled", "not available", "not allowed",
          "no authentication"}, {}, "", C::config, Temp::no,
         "the server offers no login on this connection", {H::auth_not_enabled}},
        {"auth-protocol", auth, 500, 504, "", {}, {}, "", C::protocol, Temp::no,
         "the server did not understand the login exchange", {H::protocol}},
        {"auth-app-password", auth, 500, 599, "", {"application-specific password",
          "application specific password", "app password", "app-specific password"}, {}, "",
         C::auth, Temp::no, "the server wants an app password, not the account password",
         {H::app_password, H::login_refused}},
        {"auth-mechanism-weak", auth, 500, 599, "", {"too weak", "mechanism"}, {}, "", C::auth,
         Temp::no, "the server refused this login mechanism", {H::mechanism, H::login_refused}},
        {"auth-app-password-code", auth, 500, 599, "7.9", {}, {}, "", C::auth, Temp::no,
         "the server wants an app password, not the account password",
         {H::app_password, H::login_refused}},
        {"auth-browser", auth, 500, 599, "7.14", {}, {}, "", C::auth, Temp::no,
         "the provider blocked this sign-in until you log in with a browser", {H::browser_signin}},
        {"auth-browser-words", auth, 500, 599, "", {"web browser", "web login"}, {}, "", C::auth,
         Temp::no, "the provider blocked this sign-in until you log in with a browser",
         {H::browser_signin}},
        {"auth-disabled", auth, 500, 599, "7.139", {}, {}, "", C::auth, Temp::no,
         "SMTP AUTH is disabled for this account or tenant, or a sign-in policy blocks it",
         {H::auth_disabled}},
        {"auth-disabled-words", auth, 500, 599, "", {"smtpclientauthentication is disabled",
          "basic authentication is disabled", "smtp auth is disabled", "authentication is disabled",
          "security defaults"}, {}, "", C::auth, Temp::no,
         "SMTP AUTH is disabled for this account or tenant, or a sign-in policy blocks it",
         {H::auth_disabled}},
        {"auth-refused", auth, 500, 599, "", {}, {}, "", C::auth, Temp::no,
         "the server refused the login", {H::login_refused}},
        // Mailbox full, then our own sending limits, then plain temporary failures.
        {"mailbox-full-code", any, 400, 599, "2.2", {}, {}, "", C::quota, Temp::by_code,
         "the recipient's mailbox is full", {H::mailbox_full}},
        {"mailbox-full", any, 400, 599, "", full_words, {}, "", C::quota, Temp::by_code,
         "the recipient's mailbox is full", {H::mailbox_full}},
        {"mailbox-storage", rcpt, 400, 599, "", {"storage allocation"}, {}, "", C::quota,
         Temp::by_code, "the recipient's mailbox is full", {H::mailbox_full}},
        {"sending-rate", any, 400, 599, "", rate_words, {"size", "mime"}, "", C::rate, Temp::yes,
         "a sending limit was reached", {H::rate}},
        {"greylist", any, 400, 499, "", {"greylist", "graylist"}, {}, "", C::temporary, Temp::yes,
         "the server is greylisting: it defers first attempts", {H::greylist}},
        {"temporary-words", any, 400, 499, "", temporary_words, {}, "", C::temporary, Temp::yes,
         "the server reported a temporary failure", {H::retry}},
        // The provider has stopped this account.
        {"account-paused", any, 500, 599, "", {"outgoing blocked", "suspended", "sending paused",
          "paused for this account", "account has been disabled", "account is disabled",
          "account has been blocked", "account blocked"}, {}, "", C::policy, Temp::no,
         "the provider has paused or suspended sending for this account", {H::account_paused}},
        // Pipelining out of turn.
        {"synchronization", any, 500, 599, "", {"synchronization error", "protocol synchronization",
          "pipelining not"}, {}, "", C::protocol, Temp::no,
         "the server saw commands before it had answered the previous ones", {H::sequence}},
        // Enhanced codes that say exactly what happened.
        {"sender-null-mx", any, 400, 599, "7.27", {}, {}, "", C::config, Temp::no,
         "the sender's domain publishes a null MX (it sends no mail)", {H::null_mx}},
        {"recipient-not-found", any, 400, 599, "1.10", {"recipientnotfound", "recipient not found",
          "not found"}, {}, "", C::recipient, Temp::by_code, "the server does not know this recipient",
         {H::recipient}},
        {"recipient-null-mx", any, 400, 599, "1.10", {}, {}, "", C::dns, Temp::by_code,
         "the recipient's domain accepts no mail (null MX)", {H::recipient_domain}},
        {"sender-domain", any, 400, 599, "1.8", {}, {}, "", C::dns, Temp::by_code,
         "the sender's domain does not exist as far as the server can tell", {H::sender_domain}},
        {"reverse-dns", any, 400, 599, "7.25", {}, {}, "", C::policy, Temp::by_code,
         "the server refuses mail from this IP address: its reverse DNS (PTR) is missing or wrong",
         {H::reverse_dns}},
        {"reverse-dns-words", any, 400, 599, "", {"ptr record", "reverse dns", "cannot find your hostname",
          "cannot find your reverse hostname", "reverse hostname"}, {}, "", C::policy,
         Temp::by_code,
         "the server refuses mail from this IP address: its reverse DNS (PTR) is missing or wrong",
         {H::reverse_dns}},
        {"sender-auth-policy-23", any, 400, 599, "7.23", {}, {}, "", C::policy, Temp::by_code,
         "the message failed the sender domain's authentication policy (SPF, DKIM or DMARC)",
         {H::sender_auth_policy}},
        {"sender-auth-policy-24", any, 400, 599, "7.24", {}, {}, "", C::policy, Temp::by_code,
         "the message failed the sender domain's authentication policy (SPF, DKIM or DMARC)",
         {H::sender_auth_policy}},
        {"sender-auth-policy-26", any, 400, 599, "7.26", {}, {}, "", C::policy, Temp::by_code,
         "the message failed the sender domain's authentication policy (SPF, DKIM or DMARC)",
         {H::sender_auth_policy}},
        {"sender-auth-policy-words", any, 400, 599, "", spf_words, {}, "", C::policy,
         Temp::by_code,
         "the message failed the sender domain's authentication policy (SPF, DKIM or DMARC)",
         {H::sender_auth_policy}},
        {"sender-domain-words", mail, 500, 599, "", {"nonexistent domain", "non-existent domain",
          "domain not found", "no such domain", "domain does not exist", "host not found"}, {}, "",
         C::dns, Temp::by_code, "the sender's domain does not exist as far as the server can tell",
         {H::sender_domain}},
        {"domain-words", any, 500, 599, "", {"nonexistent domain", "non-existent domain",
          "domain not found", "no such domain", "domain does not exist", "host not found"}, {}, "",
         C::dns, Temp::by_code, "the recipient's domain does not exist", {H::recipient_domain}},
        {"login-needed-code", any, 400, 599, "7.57", {}, {}, "", C::auth, Temp::no,
         "the server requires a login for this step", {H::login_required}},
        {"login-code-words", any, 400, 599, "7.8", login_words, {}, "", C::auth, Temp::no,
         "the server refused the login", {H::login_refused}},
        {"login-code-words-9", any, 400, 599, "7.9", login_words, {}, "", C::auth, Temp::no,
         "the server wants an app password, not the account password", {H::app_password}},
        {"login-code-words-139", any, 400, 599, "7.139", {}, {}, "", C::auth, Temp::no,
         "SMTP AUTH is disabled for this account or tenant, or a sign-in policy blocks it",
         {H::auth_disabled}},
        {"sender-not-authorised-code", any, 400, 599, "7.60", {}, {}, "", C::sender, Temp::no,
         "the server does not let this login send as this sender", {H::sender}},
        // 530 means "log in first" wherever it comes.
        {"login-needed-530", any, 530, 530, "", {}, {}, "", C::auth, Temp::no,
         "the server requires a login for this step", {H::login_required}},
        // The message's own form: the sender must fix it (65).
        {"message-input", any, 400, 599, "", {"duplicate header", "missing final", "illegal address",
          "illegal header", "expected ','", "contains control or whitespace", "invalid header"},
         {}, "", C::input, Temp::no, "the server found the message's headers or addresses malformed",
         {H::message_input}},
        // Well-known phrases.
        {"sender-refused", any, 400, 599, "", sender_words, {}, "", C::sender, Temp::no,
         "the server does not let this login send as this sender", {H::sender}},
        {"relay", any, 400, 599, "", relay_words, {}, "", C::relay, Temp::no,
         "the server refuses to relay mail to this recipient", {H::relay}},
        {"login-needed-words", any, 400, 599, "", login_needed_words, {}, "", C::auth, Temp::no,
         "the server requires a login for this step", {H::login_required}},
        {"ip-not-allowed", any, 400, 599, "", {"not allowed to send", "has no permission"}, {}, "", C::auth, Temp::no,
         "the server does not accept mail from this client without a login",
         {H::login_required, H::ip_allowed}},
        // Order of commands: the client's fault, not the EHLO name's.
        {"sequence", any, 503, 503, "", {}, {}, "", C::protocol, Temp::no,
         "the server refused a command out of order", {H::sequence}},
        {"helo-name", any, 500, 599, "", {"helo", "ehlo", "fully-qualified", "fully qualified"},
         {"first"}, "", C::config, Temp::no, "the server rejected our EHLO name", {H::helo_name}},
        // Syntax refusals of the envelope.
        {"sender-syntax", mail, 501, 501, "", {}, {}, "", C::input, Temp::no,
         "the server refused the sender address as malformed", {H::sender_syntax}},
        {"sender-syntax-553", mail, 553, 553, "", {"syntax", "invalid", "malformed", "bad"}, {},
         "", C::input, Temp::no, "the server refused the sender address as malformed",
         {H::sender_syntax}},
        {"recipient-syntax", rcpt, 501, 501, "", {}, {}, "", C::input, Temp::no,
         "the server refused the recipient address as malformed", {H::recipient_syntax}},
        // By enhanced code subject (RFC 3463).
        {"sender-syntax-code", any, 400, 599, "1.7", {}, {}, "", C::input, Temp::by_code,
         "the server refused the sender address as malformed", {H::sender_syntax}},
        {"recipient-syntax-code", any, 400, 599, "1.3", {}, {}, "", C::input, Temp::by_code,
         "the server refused the recipient address as malformed", {H::recipient_syntax}},
        {"address-syntax-words", any, 400, 599, "1.2", {"valid", "syntax"}, {}, "", C::input,
         Temp::by_code, "the server refused the address as malformed", {H::recipient_syntax}},
        {"recipient-domain", any, 400, 599, "1.2", {}, {}, "", C::dns, Temp::by_code,
         "the recipient's domain does not accept mail", {H::recipient_domain}},
        {"recipient-code", any, 400, 599, "1", {}, {}, "", C::recipient, Temp::by_code,
         "the server does not know this recipient", {H::recipient}},
        {"mailbox-disabled", any, 400, 599, "2.1", {}, {}, "", C::recipient, Temp::by_code,
         "the recipient's mailbox is disabled", {H::recipient}},
        {"too-big-code", any, 400, 599, "2.3", {}, {}, "", C::content, Temp::by_code,
         "the message is too big for the server", {H::too_big}},
        {"mailbox-policy", any, 400, 599, "2", {}, {}, "", C::policy, Temp::by_code,
         "the recipient's mailbox refuses this message", {H::policy}},
        {"too-big-system", any, 400, 599, "3.4", {}, {}, "", C::content, Temp::by_code,
         "the message is too big for the server", {H::too_big}},
        {"system-temporary", any, 400, 499, "3", {}, {}, "", C::temporary, Temp::yes,
         "the server reported a temporary failure", {H::retry}},
        {"system", any, 500, 599, "3", {}, {}, "", C::policy, Temp::no,
         "the server's system refused the message", {H::policy}},
        {"recipient-rejected-network", any, 400, 599, "4.1", {"recipient address rejected"}, {},
         "", C::recipient, Temp::by_code, "the server does not accept this recipient",
         {H::recipient}},
        {"network-temporary", any, 400, 499, "4", {}, {}, "", C::temporary, Temp::yes,
         "the server reported a temporary failure", {H::retry}},
        {"network", any, 500, 599, "4", {}, {}, "", C::policy, Temp::no,
         "the server refused the message by policy", {H::policy}},
        {"no-valid-recipients", any, 400, 599, "5", {"no valid recipients"}, {}, "", C::policy,
         Temp::by_code, "the server accepted none of the recipients", {H::recipient}},
        {"protocol-temporary", any, 400, 499, "5", {}, {}, "", C::temporary, Temp::yes,
         "the server reported a temporary failure", {H::retry}},
        {"protocol-code", any, 500, 599, "5", {}, {}, "", C::protocol, Temp::no,
         "the server answered with an unexpected reply", {H::protocol}},
        {"media", any, 400, 599, "6", {}, {}, "", C::content, Temp::by_code,
         "the server rejected the message's form or content", {H::headers}},
        {"too-big-security", any, 400, 599, "7", big_words, {"security"}, "", C::content,
         Temp::by_code, "the message is too big for the server", {H::too_big}},
        {"spam-code", any, 400, 599, "7", spam_words, {}, "", C::content, Temp::by_code,
         "the server rejected the message as spam or unsafe content", {H::spam}},
        {"form-code", any, 400, 599, "7", form_words, {}, "", C::content, Temp::by_code,
         "the server rejected the message's form or content", {H::headers}},
        {"blocked-code", any, 400, 599, "7", blocked_words, {}, "", C::policy, Temp::by_code,
         "the server refuses mail from this connection (blocked address or missing reverse DNS)",
         {H::blocked_ip}},
        {"security-code", any, 400, 599, "7", {}, {}, "", C::policy, Temp::by_code,
         "the server refused the message by policy", {H::policy}},
        // No enhanced code: the reply code and phrases.
        {"spam", any, 400, 599, "", spam_words, {}, "", C::content, Temp::by_code,
         "the server rejected the message as spam or unsafe content", {H::spam}},
        {"form", any, 400, 599, "", form_words, {}, "", C::content, Temp::by_code,
         "the server rejected the message's form or content", {H::headers}},
        {"recipient-unknown", message, 400, 599, "", unknown_words, {}, "", C::recipient,
         Temp::by_code, "the server does not know this recipient", {H::recipient}},
        {"too-big-552", any, 552, 552, "", {}, {}, "", C::content, Temp::no,
         "the message is too big for the server", {H::too_big}},
        {"too-big-words", any, 500, 599, "", big_words, {}, "", C::content, Temp::no,
         "the message is too big for the server", {H::too_big}},
        {"domain-no-mail", any, 556, 556, "", {}, {}, "", C::dns, Temp::no,
         "the recipient's domain does not accept mail", {H::recipient_domain}},
        {"blocked", any, 500, 599, "", blocked_words, {}, "", C::policy, Temp::no,
         "the server refuses mail from this connection (blocked address or missing reverse DNS)",
         {H::blocked_ip}},
        {"sender-553", mail, 553, 553, "", {}, {}, "", C::sender, Temp::no,
         "the server does not accept this sender", {H::sender}},
        {"temporary", any, 400, 499, "", {}, {}, "", C::temporary, Temp::yes,
         "the server reported a temporary failure", {H::retry}},
        {"syntax-or-sequence", not_greeting, 500, 504, "", {}, {}, "", C::protocol, Temp::no,
         "the server answered with an unexpected reply", {H::protocol}},
        {"greeting-refused", greeting, 500, 599, "", {}, {}, "", C::policy, Temp::no,
         "the server refuses mail from this connection (blocked address or missing reverse DNS)",
         {H::blocked_ip}},
        {"refused", any, 500, 599, "", {}, {}, "", C::policy, Temp::no,
         "the server refused the message by policy", {H::policy}},
        // A 1xx/2xx/3xx where a refusal was reported, or garbage.
        {"not-a-refusal", any, 0, 999, "", {}, {}, "", C::protocol, Temp::no,
         "the server answered with an unexpected reply", {H::protocol}},
    };
}

struct Enhanced {
    int cls = 0, subject = -1, detail = -1;
};

Enhanced parse_enhanced(const std::string& e) {
    Enhanced out;
    if (e.empty() || std::sscanf(e.c_str(), "%d.%d.%d", &out.cls, &out.subject, &out.detail) != 3)
        return Enhanced{};
    return out;
}

bool enhanced_matches(std::string_view pattern, const Enhanced& e) {
    if (pattern.empty())
        return true;
    if (!e.cls)
        return false;
    int subject = -1, detail = -1;
    std::string p(pattern);
    int n = std::sscanf(p.c_str(), "%d.%d", &subject, &detail);
    if (n >= 1 && subject != e.subject)
        return false;
    return n < 2 || detail == e.detail;
}

bool any_phrase(const std::string& t, const P& phrases) {
    return std::any_of(phrases.begin(), phrases.end(),
                       [&](std::string_view p) { return t.find(p) != std::string::npos; });
}

} // namespace

const std::vector<ReplyRule>& reply_rules() {
    static const std::vector<ReplyRule> rules = make_reply_rules();
    return rules;
}

const ReplyRule& match_reply(Stage stage, const Reply& reply, std::string_view provider) {
    const std::string t = util::to_lower(reply.text());
    const Enhanced e = parse_enhanced(reply.enhanced);
    const auto& rules = reply_rules();
    for (const auto& r : rules) {
        if (r.stages && !(r.stages & stage_bit(stage)))
            continue;
        if (reply.code < r.code_min || reply.code > r.code_max)
            continue;
        if (!r.provider.empty() && r.provider != provider)
            continue;
        if (!enhanced_matches(r.enhanced, e))
            continue;
        if (!r.phrases.empty() && !any_phrase(t, r.phrases))
            continue;
        if (!r.unless.empty() && any_phrase(t, r.unless))
            continue;
        return r;
    }
    return rules.back();
}

bool rule_temporary(const ReplyRule& rule, const Reply& reply) {
    switch (rule.temp) {
    case Temp::no: return false;
    case Temp::yes: return true;
    case Temp::by_code: return reply.code >= 400 && reply.code < 500;
    }
    return false;
}

// ---------------------------------------------------------------------------

namespace {

std::vector<ErrorRule> make_error_rules() {
    using E = NetError;
    return {
        {E::resolve, When::always, C::dns, false, "cannot resolve the server's name \"{host}\"",
         {H::check_server_name}},
        {E::refused, When::always, C::network, true, "the connection to {where} was refused",
         {H::check_port}},
        {E::connect_failed, When::always, C::network, true, "cannot connect to {where}",
         {H::network_path}},
        {E::timeout, When::port_465_plain, C::config, false,
         "no greeting from {where}: port 465 expects TLS from the first byte",
         {H::timeout_implicit}},
        {E::timeout, When::greeting_plain, C::network, true,
         "no reply from {where} within {timeout} s at stage {stage}",
         {H::timeout_implicit, H::raise_timeout}},
        {E::timeout, When::always, C::network, true,
         "no reply from {where} within {timeout} s at stage {stage}", {H::raise_timeout}},
        {E::closed, When::always, C::network, true,
         "the server closed the connection at stage {stage}", {H::closed_retry}},
        // Temporary: a server that only asks for a certificate (and takes
        // none) may have closed for another reason; the hint names it.
        {E::closed_after_cert_request, When::always, C::network, true,
         "{where} closed the connection right after the TLS handshake, in which it asked for a "
         "client certificate",
         {H::client_cert_maybe, H::closed_retry}},
        {E::tls_wrong_version, When::always, C::config, false,
         "TLS was spoken to {where}, which expects plain SMTP first (STARTTLS)",
         {H::use_starttls_port}},
        {E::source_address, When::always, C::config, false,
         "cannot send from source_address {source}: no such local address or interface",
         {H::source_address}},
        {E::pin_mismatch, When::always, C::tls, false,
         "the server's key is not one pinned_pubkey trusts", {H::pin_update}},
        {E::tls_version, When::always, C::tls, false,
         "{where} does not speak TLS {tls_min} or newer (tls_min = {tls_min})", {H::tls_min}},
        {E::tls_handshake_refused, When::always, C::tls, false,
         "{where} refused the TLS handshake (alert \"handshake failure\"): no TLS version or "
         "cipher in common, or it requires a client certificate",
         {H::handshake_refused, H::client_cert_maybe}},
        {E::tls_handshake, When::always, C::tls, false, "the TLS handshake with {where} failed",
         {H::handshake}},
        {E::cert_untrusted, When::always, C::tls, false,
         "the server's certificate is not signed by a trusted authority", {H::cafile}},
        {E::cert_name, When::always, C::tls, false,
         "the server's certificate is not valid for the name \"{host}\"", {H::cert_name}},
        {E::cert_expired, When::always, C::tls, false,
         "the server's certificate has expired (or is not valid yet)", {H::cert_renew}},
        {E::cert_other, When::always, C::tls, false,
         "the server's certificate could not be verified", {H::cert_chain}},
        {E::starttls_not_offered, When::always, C::config, false,
         "{where} does not offer STARTTLS; nothing was sent",
         {H::starttls_missing, H::plain_only_local}},
        {E::no_auth_mechanism, When::always, C::config, false,
         "the server offers no login mechanism that smtpsend may use", {H::choose_auth}},
        {E::auth_not_offered, When::always, C::config, false,
         "the server offered no AUTH on this connection; credentials were not sent and the "
         "message was not sent",
         {H::auth_missing, H::remove_user}},
        {E::auth_refused, When::always, C::auth, false, "the server refused the login",
         {H::login_refused}},
        {E::protocol, When::always, C::protocol, false,
         "the server's answer is not SMTP at stage {stage}", {H::not_smtp}},
        {E::local, When::always, C::noinput, false, "reading the message failed", {}},
        {E::option_refused, When::always, C::config, false,
         "the installed libcurl refused a setting (tls_min, pinned_pubkey, source_address or "
         "ip_version)",
         {H::libcurl_version}},
        {E::client_cert_bad, When::always, C::config, false,
         "the client certificate or its key cannot be loaded", {H::client_cert_file}},
        {E::client_cert_refused, When::always, C::tls, false,
         "{where} refused the TLS connection: it requires a client certificate it trusts",
         {H::client_cert_refused}},
        {E::proxy_resolve, When::always, C::dns, false, "cannot resolve the proxy's name",
         {H::proxy_name}},
        {E::proxy_refused, When::always, C::network, true,
         "the connection to the proxy failed; nothing reached {where}", {H::proxy_running}},
        {E::proxy_auth, When::always, C::auth, false, "the proxy refused its login",
         {H::proxy_login}},
        {E::proxy_tunnel, When::always, C::network, true,
         "the proxy did not connect to {where}", {H::proxy_reach}},
        {E::proxy_failed, When::always, C::protocol, false,
         "the proxy failed; nothing reached {where}", {H::proxy_scheme}},
        {E::none, When::always, C::network, true, "the transfer failed at stage {stage}",
         {H::closed_retry}},
        {E::other, When::always, C::network, true, "the transfer failed at stage {stage}",
         {H::closed_retry}},
    };
}

bool holds(When w, Stage stage, const Context& c) {
    const bool implicit = c.tls_mode && *c.tls_mode == config::TlsMode::implicit;
    switch (w) {
    case When::always: return true;
    case When::port_465_plain:
        return (stage == Stage::greeting || stage == Stage::connect) && !implicit && c.port == 465;
    case When::greeting_plain: return stage == Stage::greeting && !implicit;
    case When::implicit: return implicit;
    case When::not_implicit: return !implicit;
    case When::tls_active: return c.tls_active;
    case When::not_tls_active: return !c.tls_active;
    }
    return false;
}

} // namespace

const std::vector<ErrorRule>& error_rules() {
    static const std::vector<ErrorRule> rules = make_error_rules();
    return rules;
}

const ErrorRule& match_error(NetError error, Stage stage, const Context& context) {
    const auto& rules = error_rules();
    for (const auto& r : rules)
        if (r.error == error && holds(r.when, stage, context))
            return r;
    return rules.back();
}

} // namespace smtpsend::diagnosis::detail
