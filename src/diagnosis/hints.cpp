// Summaries and hints: the row of the table gives the class, the summary and
// the hint ids; this file writes each hint for this run's settings and the
// provider's advice (config/provider_knowledge.hpp).
#include "config/provider_knowledge.hpp"
#include "diagnosis/diagnosis.hpp"
#include "diagnosis/hints.hpp"
#include "util/strings.hpp"

#include <algorithm>

namespace smtpsend::diagnosis::detail {

using config::AdviceTopic;
using config::TlsMode;
using transport::Reply;
using transport::Stage;

namespace {

bool has(const std::string& lower_text, const char* phrase) {
    return lower_text.find(phrase) != std::string::npos;
}

std::string where(const Context& c) {
    if (c.host.empty())
        return "the server";
    return c.port ? c.host + ":" + std::to_string(c.port) : c.host;
}

const char* login_setup_hint =
    "set the login: --user NAME (or SMTPSEND_USER) and a password source "
    "(SMTPSEND_PASSWORD, --password-env NAME, --password-file FILE or --password-cmd CMD)";

void add(Diagnosis& d, std::string hint) {
    if (d.hints.size() < 3 && !hint.empty() &&
        std::find(d.hints.begin(), d.hints.end(), hint) == d.hints.end())
        d.hints.push_back(std::move(hint));
}

void add_advice(Diagnosis& d, const std::string& provider, AdviceTopic topic) {
    add(d, std::string(config::provider_advice(provider, topic)));
}

bool oauth2(const Context& c) { return c.auth_method == "xoauth2" || c.auth_method == "oauthbearer"; }

bool explaining(const Context& c) { return !c.tool.empty(); }

// The usual causes of a refused login, for this provider or in general.
void login_causes(Diagnosis& d, const Context& c, const std::string& provider) {
    if (!c.password_source.empty())
        add(d, "check `user`" + (c.user.empty() ? std::string() : " (\"" + c.user + "\")") +
                   " and the password source, " + c.password_source +
                   ": the password is read from it on each run");
    else if (!explaining(c) && c.credentials_configured)
        add(d, "check `user` and the password source; the password is read from the configured "
               "source on each run");
    std::string_view advice = config::provider_advice(provider, AdviceTopic::login);
    std::string_view app = config::provider_advice(provider, AdviceTopic::app_password);
    if (!app.empty() && std::find(d.hints.begin(), d.hints.end(), std::string(app)) != d.hints.end())
        return; // the app-password advice already says it
    if (!advice.empty())
        add(d, std::string(advice));
    else
        add(d, "the usual causes: a wrong user name (many servers want the full address; SendGrid "
               "wants the word apikey), a wrong or expired password, a provider that wants an app "
               "password or OAuth2 instead of the account password (Gmail, Yahoo, iCloud, "
               "Microsoft 365), or SMTP AUTH switched off for the account");
}

void token_refused(Diagnosis& d, const Context& c, const std::string& provider) {
    d.summary = "the OAuth2 token was rejected (expired or wrong scope)";
    add(d, "check that oauth2_token_cmd prints a fresh access token for user \"" + c.user +
               "\"; tokens expire after about an hour");
    add_advice(d, provider, AdviceTopic::oauth2);
}

void login_required(Diagnosis& d, const Context& c, const std::string& provider) {
    if (!c.credentials_configured && !explaining(c)) {
        d.summary = "the server requires a login, and none is configured" +
                    (c.profile.empty() ? std::string() : " for profile \"" + c.profile + "\"");
        add(d, c.profile.empty() ? std::string(login_setup_hint)
                                 : "set `user` and `password_cmd` (or another password source) "
                                   "in profile \"" + c.profile + "\"");
        add_advice(d, provider, AdviceTopic::login);
        return;
    }
    if (c.credentials_configured && !c.auth_sent) {
        d.summary = "the server requires a login, but the credentials were not sent: the server "
                    "offered no usable AUTH on this connection";
        if (!c.tls_active)
            add(d, "servers offer AUTH only after TLS: use STARTTLS (smtp://HOST:587) or "
                   "smtps://HOST:465");
        else if (!c.capabilities.auth.empty())
            add(d, "it offered AUTH " + util::join(c.capabilities.auth, " ") +
                       "; choose one with --auth (SMTPSEND_AUTH)");
        else
            add(d, "this port offers no login at all; use the submission port (587 or 465)");
        return;
    }
    if (!explaining(c)) {
        d.summary = "the server requires a login for this step";
        add(d, "the login of user \"" + c.user + "\" was accepted but does not cover this; check "
               "the account's rights");
        return;
    }
    d.summary = "the server requires a login: the client sent none, or sent it without TLS";
    add(d, "configure a user and password in the sending program, and turn on TLS "
           "(STARTTLS on 587)");
    add_advice(d, provider, AdviceTopic::login);
}

void too_big(Diagnosis& d, const Context& c) {
    std::string size = c.message_size ? std::to_string(c.message_size) + " bytes" : "";
    if (c.capabilities.size)
        add(d, "the server's limit is " + std::to_string(*c.capabilities.size) + " bytes" +
                   (size.empty() ? "" : "; this message is " + size) +
                   ": send a link instead of the attachment, or compress it");
    else
        add(d, "send a smaller message: a link instead of a large attachment (base64 makes "
               "attachments a third bigger)");
}

// Writes one hint; a few also refine the summary with what this run knows.
void write_hint(Hint h, Diagnosis& d, const Context& c, const Reply* r, const std::string& provider) {
    const std::string t = r ? util::to_lower(r->text()) : std::string();
    const bool implicit = c.tls_mode && *c.tls_mode == TlsMode::implicit;
    switch (h) {
    case Hint::tls_required:
        if (c.tls_mode && *c.tls_mode == TlsMode::none)
            add(d, "remove --tls none (SMTPSEND_TLS / `tls`): use smtp://" +
                       (c.host.empty() ? std::string("HOST") : c.host) +
                       ":587 with STARTTLS, or smtps://HOST:465");
        else
            add(d, "use STARTTLS on port 587 (smtp://HOST:587) or TLS from the first byte on port "
                   "465 (smtps://HOST:465)");
        break;
    case Hint::starttls_refused:
        add(d, "if the port expects TLS from the first byte (465), use smtps://HOST:465 or "
               "--tls implicit; otherwise ask the server's admin to enable TLS");
        break;
    case Hint::tls_for_mechanism:
        add(d, "use STARTTLS (smtp://HOST:587) or smtps://HOST:465 so AUTH runs encrypted");
        break;
    case Hint::tls_version:
        add(d, "this is a TLS setting of the client, and retrying does not help: use a client or "
               "library with TLS 1.2 or 1.3 (smtpsend uses TLS 1.2 or newer; check --tls and "
               "that the system's OpenSSL is current)");
        break;
    case Hint::tls_inbound:
        add(d, "the receiving side insists on TLS: turn on TLS for outgoing mail on the sending "
               "server (Postfix: smtp_tls_security_level = encrypt) or use STARTTLS on 587");
        break;
    case Hint::login_refused:
        if (r && oauth2(c)) {
            token_refused(d, c, provider);
            break;
        }
        if (!c.user.empty() && d.summary == "the server refused the login")
            d.summary += " for user \"" + c.user + "\"";
        login_causes(d, c, provider);
        break;
    case Hint::app_password: {
        std::string_view a = config::provider_advice(provider, AdviceTopic::app_password);
        if (a.empty())
            a = config::provider_advice(provider, AdviceTopic::login);
        add(d, a.empty() ? std::string("create an app password (app-specific password) in the "
                                       "account's security settings and use it instead of the "
                                       "account password")
                         : std::string(a));
        break;
    }
    case Hint::browser_signin: {
        std::string_view a = config::provider_advice(provider, AdviceTopic::browser);
        add(d, a.empty() ? std::string("log in once with a web browser to clear the sign-in "
                                       "challenge, then use an app password or OAuth2")
                         : std::string(a));
        break;
    }
    case Hint::auth_disabled: {
        std::string_view a = config::provider_advice(provider, AdviceTopic::auth_disabled);
        add(d, a.empty() ? std::string("password logins (SMTP AUTH) are switched off for this "
                                       "account: an admin can enable them per mailbox "
                                       "(https://aka.ms/smtp_auth_disabled at Microsoft 365), "
                                       "otherwise use OAuth2 (auth = xoauth2)")
                         : std::string(a));
        break;
    }
    case Hint::login_retry:
        add(d, "retry in a few minutes; if it keeps failing, check the password source and the "
               "account's status with the provider");
        break;
    case Hint::mechanism:
        add(d, c.capabilities.auth.empty()
                   ? std::string("choose another mechanism with --auth (SMTPSEND_AUTH)")
                   : "the server offers " + util::join(c.capabilities.auth, " ") +
                         ": choose one with --auth (SMTPSEND_AUTH)");
        break;
    case Hint::auth_not_enabled:
        add(d, "this port or server takes no logins: use the submission port (587 with STARTTLS "
               "or 465), or remove `user` when this relay needs none");
        break;
    case Hint::login_required:
        login_required(d, c, provider);
        break;
    case Hint::ip_allowed:
        add(d, "or ask the server's admin to allow this machine's IP address");
        break;
    case Hint::relay:
        if (!c.credentials_configured && !explaining(c))
            add(d, std::string("relaying needs a login: ") + login_setup_hint);
        else
            add(d, "send through your provider's submission server (port 587 or 465) with your "
                   "login, or have this machine's IP allowed to relay");
        break;
    case Hint::sender:
        if (d.cls == Class::sender && d.summary == "the server does not let this login send as this sender")
            d.summary = "the server does not let this login send as " +
                        (c.from.empty() ? std::string("this sender") : "<" + c.from + ">");
        add(d, "set --from (SMTPSEND_FROM / `from`) to an address your account may send as, or "
               "verify the sender with the provider");
        add_advice(d, provider, AdviceTopic::sender);
        break;
    case Hint::sender_syntax:
        add(d, "check --from (SMTPSEND_FROM / `from`): one plain address such as "
               "name@example.com, without a display name or spaces");
        break;
    case Hint::recipient:
        add(d, "check the recipient address for typos; the domain exists, the mailbox does not");
        break;
    case Hint::recipient_syntax:
        add(d, "check the recipient address: one plain address such as name@example.com");
        break;
    case Hint::recipient_domain:
        add(d, "check the domain of the recipient address");
        break;
    case Hint::sender_domain:
        add(d, "set --from to an address in a domain that resolves");
        break;
    case Hint::null_mx:
        add(d, "set --from to an address in a domain that sends mail");
        break;
    case Hint::too_big:
        too_big(d, c);
        break;
    case Hint::spam:
        add(d, "change the content (links, attachments, wording) or ask the provider's support "
               "with the reply below");
        break;
    case Hint::headers:
        add(d, "check the headers (one valid From address, valid Date and Message-ID)");
        break;
    case Hint::message_input:
        add(d, "fix the message: each header once (no duplicate Message-ID or Date), and every "
               "address complete (name@domain); retrying the same message fails again");
        break;
    case Hint::mailbox_full:
        add(d, d.temporary ? "it may be emptied: a later retry can work"
                           : "contact the recipient another way");
        break;
    case Hint::rate:
        add(d, "wait and retry later; the limit resets by itself (daily quotas at the provider's "
               "reset time)");
        if (has(t, "too many recipients"))
            add(d, "send to fewer recipients per message");
        if (has(t, "per connection"))
            add(d, "batch opens a new connection and goes on; set max_per_connection "
                   "(--max-per-connection) below the server's limit to avoid this reply");
        break;
    case Hint::fewer_recipients:
        add(d, "send to fewer recipients per message");
        break;
    case Hint::greylist:
        add(d, "retry in a few minutes: greylisting accepts the second attempt; exit code 75 "
               "tells scripts that a retry can work");
        break;
    case Hint::retry:
        add(d, "retry in a few minutes; exit code 75 tells scripts that a retry can work");
        break;
    case Hint::sender_auth_policy:
        add(d, "send through a server that is allowed to send for the From domain (its SPF "
               "record), sign with DKIM, or set --from to an address of your provider");
        break;
    case Hint::reverse_dns:
        add(d, "give this IP address a PTR record that resolves back to it, or send through "
               "your provider's submission server (587 or 465)");
        break;
    case Hint::blocked_ip:
        add(d, "send through your provider's submission server (587 or 465) instead of "
               "delivering directly, or ask for the IP address to be delisted");
        break;
    case Hint::policy:
        add(d, "read the server's reply below; its postmaster pages explain the policy");
        break;
    case Hint::account_paused:
        add(d, "read the provider's notice to the account owner and fix the cause (bounces, "
               "complaints, billing) before sending again");
        break;
    case Hint::protocol:
        add(d, "run with -v to see the dialogue");
        break;
    case Hint::sequence:
        add(d, "a command came out of order (before EHLO, before MAIL, or after an earlier "
               "refusal): the first refusal in the dialogue is the one to fix; run with -v");
        break;
    case Hint::helo_name:
        add(d, "give a fully qualified name with --helo NAME (SMTPSEND_HELO)");
        break;
    // Transport errors.
    case Hint::check_server_name:
        add(d, "check `server` (" + (c.server_origin.empty() ? "default" : c.server_origin) +
                   ") for typos, and this machine's DNS");
        break;
    case Hint::check_port:
        add(d, "check the port: submission is 587 (STARTTLS) or 465 (TLS from the first byte); "
               "is the server running?");
        break;
    case Hint::network_path:
        add(d, "check the network path and any firewall between here and the server (many "
               "networks block outgoing port 25)");
        break;
    case Hint::timeout_implicit:
        if (c.port == 465 && !implicit)
            add(d, "use smtps://" + (c.host.empty() ? std::string("HOST") : c.host) +
                       ":465 or --tls implicit (SMTPSEND_TLS)");
        else if (!implicit)
            add(d, "if this port expects TLS from the first byte, use smtps://HOST:PORT or "
                   "--tls implicit");
        break;
    case Hint::raise_timeout:
        if (d.stage == transport::Stage::end_of_data)
            add(d, "the server may still be scanning the message: retry later, or raise "
                   "--data-timeout (SMTPSEND_DATA_TIMEOUT)");
        else
            add(d, "retry later, or raise --timeout (SMTPSEND_TIMEOUT)");
        break;
    case Hint::closed_retry:
        add(d, "retry later; run with -v to see the dialogue");
        break;
    case Hint::use_starttls_port:
        add(d, "use smtp://" + (c.host.empty() ? std::string("HOST") : c.host) + ":" +
                   (c.port ? std::to_string(c.port) : std::string("587")) +
                   " or --tls starttls: port 587 wants STARTTLS, port 465 wants TLS from the "
                   "first byte");
        break;
    case Hint::handshake:
        add(d, implicit ? "if the port expects STARTTLS (587), use smtp://HOST:587"
                        : "run with -v; the server may not support a TLS version we accept "
                          "(TLS 1.2 or newer)");
        // Some servers close instead of sending the protocol_version alert.
        if (c.tls_min == "1.3")
            add(d, "if the server speaks only TLS 1.2, set tls_min = 1.2 (tls_min = 1.3 from " +
                       c.tls_min_origin + ")");
        break;
    case Hint::cafile:
        add(d, "if the server uses a private CA, trust it with --cafile FILE (SMTPSEND_CAFILE)");
        break;
    case Hint::cert_name:
        add(d, "connect by a name the certificate was issued for (`server`), not by an address "
               "or alias");
        break;
    case Hint::cert_renew:
        add(d, "the server's admin must renew it; check this machine's clock too");
        break;
    case Hint::cert_chain:
        add(d, "check --cafile (SMTPSEND_CAFILE) and the server's certificate chain");
        break;
    case Hint::starttls_missing:
        add(d, "if the port expects TLS from the first byte (465), use smtps://HOST:465 or "
               "--tls implicit");
        break;
    case Hint::plain_only_local:
        add(d, "--tls none sends in plain text and is meant only for a trusted local relay");
        break;
    case Hint::choose_auth:
        add(d, "choose one of the offered mechanisms with --auth (SMTPSEND_AUTH)");
        break;
    case Hint::auth_missing:
        if (explaining(c)) {
            add(d, "servers offer AUTH only after TLS: turn on STARTTLS (port 587) or TLS from the "
                   "first byte (465) in the client before it logs in; some ports take no logins");
            break;
        }
        add(d, c.tls_active ? "this port may not take logins; use the submission port (587 or 465)"
                            : "servers offer AUTH only after TLS: drop --tls none and use "
                              "smtp://HOST:587 or smtps://HOST:465");
        break;
    case Hint::remove_user:
        add(d, explaining(c) ? "if this server needs no login, configure the client without a user"
                             : "if this server needs no login, remove `user` from the settings");
        break;
    case Hint::not_smtp:
        add(d, "check that " + where(c) + " is a mail server; run with -v to see what it sent");
        break;
    case Hint::source_address:
        add(d, "give an address of this machine (ip address shows them), if!NAME for an interface "
               "or host!NAME, or unset source_address");
        break;
    case Hint::pin_update:
        add(d, "if the server's key changed on purpose, pin the new one: pinned_pubkey = " +
                   (c.server_key.empty() ? std::string("the hash smtpsend check prints") : c.server_key) +
                   "; otherwise the connection may be intercepted");
        break;
    case Hint::tls_min:
        add(d, c.tls_min == "1.3" ? "the server offers an older TLS version only: set tls_min = 1.2 "
                                    "(tls_min = 1.3 from " + c.tls_min_origin + ")"
                                  : "the server offers only TLS 1.1 or older, which smtpsend never "
                                    "uses: its admin must enable TLS 1.2");
        break;
    case Hint::libcurl_version:
        add(d, "smtpsend --version shows libcurl and its TLS library; TLS 1.3 and pinned keys "
               "need OpenSSL 1.1.1 or newer");
        break;
    case Hint::client_cert_file:
        add(d, "check client_cert" + (c.client_cert.empty() ? std::string() : " = " + c.client_cert) +
                   " and client_key: PEM files that exist, are readable and match");
        break;
    case Hint::client_cert_refused:
        add(d, c.client_cert.empty()
                   ? "set client_cert and client_key (--client-cert, --client-key): PEM files of a "
                     "certificate the server's CA issued"
                   : "client_cert = " + c.client_cert + " was not accepted: give client_cert and "
                     "client_key of a certificate the server's CA issued");
        break;
    case Hint::handshake_refused:
        add(d, "check tls_min = " + c.tls_min +
                   (c.tls_min_origin.empty() ? std::string() : " (" + c.tls_min_origin + ")") +
                   ": the server may allow only other TLS versions or ciphers; smtpsend check "
                   "shows the handshake");
        break;
    case Hint::client_cert_maybe:
        add(d,
            c.client_cert.empty()
                ? "if the server requires a client certificate, set client_cert and client_key "
                  "(--client-cert, --client-key): PEM files of a certificate the server's CA issued"
                : "the server may not accept client_cert = " + c.client_cert +
                      ": give client_cert and client_key of a certificate the server's CA issued");
        break;
    case Hint::proxy_name:
        add(d, "check the host name in proxy = " + c.proxy + " (" + c.proxy_origin + ")");
        break;
    case Hint::proxy_running:
        add(d, "is the proxy running? check proxy = " + c.proxy + " (" + c.proxy_origin +
                   "); unset `proxy` to connect directly");
        break;
    case Hint::proxy_login:
        add(d, "check the proxy's login: proxy_user (or USER@ in proxy = " + c.proxy +
                   ") and proxy_password_cmd, proxy_password_env, proxy_password_file or "
                   "SMTPSEND_PROXY_PASSWORD");
        break;
    case Hint::proxy_reach:
        add(d, "the proxy " + c.proxy + " (" + c.proxy_origin + ") may not allow " + where(c) +
                   " (tinyproxy's ConnectPort, dante's socks rules), or the server is down");
        break;
    case Hint::proxy_scheme:
        add(d, "check the scheme in proxy = " + c.proxy + " (" + c.proxy_origin +
                   "): socks5h://, socks5:// or http:// (CONNECT); run with -v");
        break;
    }
}

void tool_hints(Diagnosis& d, const Context& c) {
    if (c.tool == "dotnet" || c.tool == "powershell") {
        add(d, c.tool == "dotnet"
                   ? "in .NET set UseDefaultCredentials = false before Credentials (setting it "
                     "afterwards wipes them), EnableSsl = true, and use port 587 (SmtpClient "
                     "cannot do TLS from the first byte on 465)"
                   : "in Send-MailMessage pass -Credential and -UseSsl and use port 587 "
                     "(it cannot do TLS from the first byte on 465)");
    } else if (c.tool == "msmtp") {
        add(d, "in ~/.msmtprc set auth on, user, passwordeval, and tls on (with "
               "tls_starttls on for 587, off for 465)");
    } else if (c.tool == "curl") {
        add(d, "with curl give --user NAME:PASSWORD and --ssl-reqd (smtp://HOST:587) or an "
               "smtps:// URL for 465");
    } else if (c.tool == "python") {
        add(d, "in smtplib call starttls() and then login(user, password) before sendmail() "
               "(or use SMTP_SSL for port 465)");
    } else if (c.tool == "node") {
        add(d, "in Nodemailer use secure: true only for port 465 and secure: false (STARTTLS) "
               "for 587");
    } else if (c.tool == "phpmailer") {
        add(d, "in PHPMailer use SMTPSecure = ENCRYPTION_STARTTLS with Port 587, or "
               "ENCRYPTION_SMTPS with 465; SMTPDebug = 2 shows the dialogue");
    } else if (c.tool == "java") {
        add(d, "in JavaMail set mail.smtp.starttls.enable=true for 587 (mail.smtp.ssl.enable for "
               "465) and mail.smtp.ssl.protocols=TLSv1.2");
    }
}

} // namespace

void compose_reply(Diagnosis& d, const Context& c, const Reply& r, const ReplyRule& rule,
                   const std::string& provider) {
    d.summary = std::string(rule.summary);
    for (Hint h : rule.hints)
        write_hint(h, d, c, &r, provider);
    if ((d.stage == Stage::mail || d.stage == Stage::rcpt) && !c.utf8_address.empty() &&
        !c.capabilities.smtputf8)
        d.hints.insert(d.hints.begin(), "<" + c.utf8_address + "> has a non-ASCII local part, "
                                        "which needs the server's SMTPUTF8 extension; this server "
                                        "does not offer it: use an ASCII address");
    if (d.temporary && d.cls != Class::temporary && d.cls != Class::rate)
        d.hints.insert(d.hints.begin(), "the server says this is temporary (" +
                                            std::to_string(r.code) + "): retry later");
    if (d.hints.size() > 3)
        d.hints.resize(3);
    tool_hints(d, c);
}

void compose_error(Diagnosis& d, const Context& c, const ErrorRule& rule, const std::string& provider) {
    std::string s(rule.summary);
    auto put = [&](const std::string& key, const std::string& value) {
        for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + value.size()))
            s.replace(at, key.size(), value);
    };
    if (c.host.empty())
        put(" \"{host}\"", "");
    if (c.timeout_seconds <= 0)
        put(" within {timeout} s", "");
    put("{where}", where(c));
    put("{host}", c.host);
    put("{tls_min}", c.tls_min);
    put("{source}", c.source_address);
    put("{stage}", transport::stage_name(d.stage));
    // After the final dot the wait is data_timeout's, not timeout's.
    const bool after_data = d.stage == transport::Stage::end_of_data && c.data_timeout_seconds > 0;
    put("{timeout}", std::to_string(after_data ? c.data_timeout_seconds : c.timeout_seconds));
    d.summary = s;
    const auto error = rule.error;
    if (error == transport::NetError::cert_untrusted && !c.certificate.empty()) {
        const auto& cert = c.certificate.front();
        d.summary += " (issued by " + cert.issuer +
                     (cert.names.empty() ? "" : " for " + util::join(cert.names, ", ")) + ")";
    } else if (error == transport::NetError::cert_name && !c.certificate.empty() &&
               !c.certificate.front().names.empty()) {
        d.summary += ": it covers " + util::join(c.certificate.front().names, ", ");
    } else if (error == transport::NetError::cert_expired && !c.certificate.empty()) {
        d.summary += ": valid from " + c.certificate.front().start_date + " until " +
                     c.certificate.front().expire_date;
    } else if (error == transport::NetError::pin_mismatch) {
        d.summary += ": the server's is " + (c.server_key.empty() ? std::string("unknown") : c.server_key) +
                     ", pinned_pubkey = " + c.pinned_pubkey +
                     (c.pinned_pubkey_origin.empty() ? "" : " (" + c.pinned_pubkey_origin + ")") +
                     "; nothing was sent";
    } else if (error == transport::NetError::no_auth_mechanism && !c.capabilities.auth.empty()) {
        d.summary += " (it offers " + util::join(c.capabilities.auth, " ") + ")";
    } else if (error == transport::NetError::auth_refused && oauth2(c)) {
        token_refused(d, c, provider);
        return;
    }
    for (Hint h : rule.hints)
        write_hint(h, d, c, nullptr, provider);
    tool_hints(d, c);
}

} // namespace smtpsend::diagnosis::detail
