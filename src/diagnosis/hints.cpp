// Summaries and hints: what happened in this run, and which setting to change.
#include "config/server_url.hpp"
#include "diagnosis/diagnosis.hpp"
#include "util/strings.hpp"

#include <algorithm>

namespace smtpsend::diagnosis {

using config::TlsMode;
using transport::NetError;
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
    "(SMTPSEND_PASSWORD, --password-file FILE or --password-cmd CMD)";

void add(Diagnosis& d, std::string hint) {
    if (d.hints.size() < 3 && !hint.empty() &&
        std::find(d.hints.begin(), d.hints.end(), hint) == d.hints.end())
        d.hints.push_back(std::move(hint));
}

// The preset in force, else the provider recognised from the host name.
std::string provider_of(const Context& c) {
    return c.provider.empty() ? provider_for_host(c.host) : c.provider;
}

bool oauth2(const Context& c) { return c.auth_method == "xoauth2" || c.auth_method == "oauthbearer"; }

void describe_token_refused(Diagnosis& d, const Context& c) {
    d.summary = "the OAuth2 token was rejected (expired or wrong scope)";
    add(d, "check that oauth2_token_cmd prints a fresh access token for user \"" + c.user +
               "\"; tokens expire after about an hour");
    std::string provider = provider_of(c);
    if (provider == "gmail")
        add(d, "Gmail needs the scope https://mail.google.com/ (see docs/configuration.md)");
    else if (provider == "office365" || provider == "outlook")
        add(d, "Microsoft 365 needs the scope https://outlook.office.com/SMTP.Send and SMTP "
               "AUTH enabled for the mailbox");
}

// What the provider says about logins, keyed on the reply.
void provider_auth_hints(Diagnosis& d, const std::string& provider, const std::string& enhanced,
                         const std::string& t) {
    if (provider == "gmail") {
        if (enhanced == "5.7.9" || has(t, "application-specific"))
            add(d, "Gmail with 2-Step Verification needs an app password, not the account "
                   "password: https://support.google.com/accounts/answer/185833");
        else if (enhanced == "5.7.14" || has(t, "web browser"))
            add(d, "Google blocked this sign-in: log in once at https://accounts.google.com "
                   "from a browser, then use an app password or OAuth2");
        else
            add(d, "Gmail accepts an app password (https://support.google.com/accounts/answer/"
                   "185833) or OAuth2; the account password alone is refused");
    } else if (provider == "office365" || provider == "outlook") {
        if (enhanced == "5.7.139" || has(t, "smtpclientauthentication is disabled") ||
            has(t, "basic authentication is disabled"))
            add(d, "SMTP AUTH (basic authentication) is switched off for this mailbox or tenant: "
                   "an admin can enable it (https://learn.microsoft.com/exchange/"
                   "clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission), "
                   "otherwise use OAuth2");
        else
            add(d, "Microsoft 365 wants smtp.office365.com:587 with STARTTLS, the full address "
                   "as user, and SMTP AUTH enabled for the mailbox");
    } else if (provider == "yahoo") {
        add(d, "Yahoo needs an app password: https://help.yahoo.com/kb/SLN15241.html");
    } else if (provider == "icloud") {
        add(d, "iCloud needs an app-specific password: https://support.apple.com/en-us/102654");
    } else if (provider == "zoho" || provider == "fastmail") {
        add(d, "with two-factor sign-in this provider needs an app-specific password");
    } else if (provider == "ses") {
        add(d, "Amazon SES wants SMTP credentials made in the SES console for this region, not "
               "your AWS access keys");
    } else if (provider == "sendgrid") {
        add(d, "SendGrid's user is the literal word apikey and the password is an API key");
    } else if (provider == "postmark") {
        add(d, "Postmark's user and password are both the server API token");
    } else if (provider == "brevo") {
        add(d, "Brevo wants the SMTP key from its SMTP & API page, not the account password");
    } else if (provider == "mailjet") {
        add(d, "Mailjet's user is the API key and the password the secret key");
    } else if (provider == "mailgun") {
        add(d, "Mailgun wants the domain's SMTP credentials (postmaster@your-domain and its "
               "SMTP password)");
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
    }
}

void describe_tls_required(Diagnosis& d, const Context& c) {
    d.summary = "the server requires TLS before this step";
    if (c.tls_mode && *c.tls_mode == TlsMode::none)
        add(d, "remove --tls none (SMTPSEND_TLS / `tls`): use smtp://" +
                   (c.host.empty() ? std::string("HOST") : c.host) +
                   ":587 with STARTTLS, or smtps://HOST:465");
    else
        add(d, "use STARTTLS on port 587 (smtp://HOST:587) or TLS from the first byte on port 465 "
               "(smtps://HOST:465)");
}

void describe_auth_required(Diagnosis& d, const Context& c) {
    if (!c.credentials_configured && c.tool.empty()) {
        d.summary = "the server requires a login, and none is configured" +
                    (c.profile.empty() ? std::string() : " for profile \"" + c.profile + "\"");
        add(d, c.profile.empty() ? std::string(login_setup_hint)
                                 : "set `user` and `password_cmd` (or another password source) "
                                   "in profile \"" + c.profile + "\"");
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
    if (c.tool.empty()) {
        d.summary = "the server requires a login for this step";
        add(d, "the login of user \"" + c.user + "\" was accepted but does not cover this; check "
               "the account's rights");
    } else {
        d.summary = "the server requires a login: the client sent none, or sent it without TLS";
        add(d, "configure a user and password in the sending program, and turn on TLS "
               "(STARTTLS on 587)");
    }
}

void describe_reply(Diagnosis& d, const Context& c, const Reply& r) {
    const std::string t = util::to_lower(r.text());
    const std::string provider = provider_of(c);
    const std::string& e = r.enhanced;
    switch (d.cls) {
    case Class::tls:
        if (d.stage == Stage::starttls) {
            d.summary = "the server refused STARTTLS; nothing was sent";
            add(d, "if the port expects TLS from the first byte (465), use smtps://HOST:465 or "
                   "--tls implicit; otherwise ask the server's admin to enable TLS");
        } else if (has(t, "encryption required") || e == "5.7.11") {
            d.summary = "the server requires TLS for this login mechanism";
            add(d, "use STARTTLS (smtp://HOST:587) or smtps://HOST:465 so AUTH runs encrypted");
        } else if (has(t, "when not advertised")) {
            d.summary = "AUTH was used where the server does not offer it (usually before TLS)";
            add(d, "use STARTTLS (smtp://HOST:587) or smtps://HOST:465");
        } else {
            describe_tls_required(d, c);
        }
        break;
    case Class::auth:
        if (d.stage == Stage::auth && oauth2(c)) {
            describe_token_refused(d, c);
        } else if (d.stage == Stage::auth) {
            if (e == "5.7.9" || has(t, "application-specific password")) {
                d.summary = "the server wants an app password, not the account password";
            } else if (e == "5.7.14" || has(t, "web browser")) {
                d.summary = "the provider blocked this sign-in until you log in with a browser";
            } else if (e == "5.7.139" || has(t, "smtpclientauthentication is disabled") ||
                       has(t, "basic authentication is disabled")) {
                d.summary = "SMTP AUTH is disabled for this account or tenant";
            } else if (r.code >= 400 && r.code < 500) {
                d.summary = "the server refused the login and asks for an action first";
            } else {
                d.summary = c.user.empty() ? "the server refused the login"
                                           : "the server refused the login for user \"" + c.user + "\"";
                if (c.tool.empty())
                    add(d, "check `user` and the password source; the password is read from the "
                           "configured source on each run");
            }
            provider_auth_hints(d, provider, e, t);
            if (has(t, "too weak") || has(t, "mechanism"))
                add(d, "choose another mechanism with --auth (SMTPSEND_AUTH)");
        } else {
            describe_auth_required(d, c);
            provider_auth_hints(d, provider, e, t);
            if (has(t, "not allowed to send") || has(t, "ip address"))
                add(d, "or ask the server's admin to allow this machine's IP address");
        }
        break;
    case Class::relay:
        d.summary = "the server refuses to relay mail to this recipient";
        if (!c.credentials_configured && c.tool.empty())
            add(d, std::string("relaying needs a login: ") + login_setup_hint);
        else
            add(d, "send through your provider's submission server (port 587 or 465) with your "
                   "login, or have this machine's IP allowed to relay");
        break;
    case Class::sender:
        d.summary = "the server does not let this login send as " +
                    (c.from.empty() ? std::string("this sender") : "<" + c.from + ">");
        add(d, "set --from (SMTPSEND_FROM / `from`) to an address your account may send as, or "
               "verify the sender with the provider");
        if (provider == "ses")
            add(d, "SES sends only from verified identities in this region (and in the sandbox, "
                   "to verified recipients)");
        break;
    case Class::recipient:
        d.summary = "the server does not know this recipient";
        add(d, "check the address for typos");
        break;
    case Class::dns:
        if (e == "5.1.8") {
            d.summary = "the sender's domain does not exist as far as the server can tell";
            add(d, "set --from to an address in a domain that resolves");
        } else {
            d.summary = "the recipient's domain does not accept mail";
            add(d, "check the domain of the address");
        }
        break;
    case Class::content:
        if (r.code == 552 || e == "5.3.4" || e == "5.2.3" || has(t, "too big") || has(t, "size")) {
            d.summary = "the message is too big for the server";
            std::string size = c.message_size ? std::to_string(c.message_size) + " bytes" : "";
            if (c.capabilities.size)
                add(d, "the server's limit is " + std::to_string(*c.capabilities.size) + " bytes" +
                           (size.empty() ? "" : "; this message is " + size) +
                           ": send a link instead of the attachment, or compress it");
            else
                add(d, "send a smaller message: a link instead of a large attachment");
        } else if (has(t, "spam") || has(t, "virus") || has(t, "banned")) {
            d.summary = "the server rejected the message as spam or unsafe content";
            add(d, "change the content (links, attachments, wording) or ask the provider's "
                   "support with the reply below");
        } else {
            d.summary = "the server rejected the message's form or content";
            add(d, "check the headers (one From address, valid Date and Message-ID)");
        }
        break;
    case Class::quota:
        d.summary = "the recipient's mailbox is full";
        add(d, d.temporary ? "it may be emptied: a later retry can work"
                           : "contact the recipient another way");
        break;
    case Class::rate:
        d.summary = "a sending limit was reached";
        add(d, "wait and retry later; the limit resets by itself (daily quotas at the provider's "
               "reset time)");
        if (has(t, "too many recipients"))
            add(d, "send to fewer recipients per message");
        break;
    case Class::temporary:
        d.summary = has(t, "greylist") || has(t, "graylist")
                        ? "the server is greylisting: it defers first attempts"
                        : "the server reported a temporary failure";
        add(d, "retry in a few minutes; exit code 75 tells scripts that a retry can work");
        break;
    case Class::policy:
        if (has(t, "dmarc") || has(t, "spf") || has(t, "dkim") || e == "5.7.26" || e == "5.7.23" ||
            e == "5.7.25") {
            d.summary = "the message failed the sender domain's authentication policy (SPF, DKIM "
                        "or DMARC)";
            add(d, "send through a server that is allowed to send for the From domain, or set "
                   "--from to an address of your provider");
        } else if (d.stage == Stage::greeting || has(t, "blocked") || has(t, "listed") ||
                   has(t, "spamhaus") || has(t, "reputation")) {
            d.summary = "the server refuses mail from this connection (blocked address or "
                        "missing reverse DNS)";
            add(d, "send through your provider's submission server (587 or 465) instead of "
                   "delivering directly");
        } else {
            d.summary = "the server refused the message by policy";
            add(d, "read the server's reply below; its postmaster pages explain the policy");
        }
        break;
    case Class::protocol:
        d.summary = "the server answered with an unexpected reply";
        add(d, "run with -v to see the dialogue");
        break;
    case Class::config:
        if (e == "5.7.27") {
            d.summary = "the sender's domain publishes a null MX (it sends no mail)";
            add(d, "set --from to an address in a domain that sends mail");
        } else {
            d.summary = "the server rejected our EHLO name";
            add(d, "give a fully qualified name with --helo NAME (SMTPSEND_HELO)");
        }
        break;
    default:
        d.summary = "the server refused";
        break;
    }
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

void describe_error(Diagnosis& d, NetError error, const Context& c) {
    const std::string w = where(c);
    const bool implicit = c.tls_mode && *c.tls_mode == TlsMode::implicit;
    switch (error) {
    case NetError::resolve:
        d.cls = Class::dns;
        d.summary = "cannot resolve the server's name \"" + c.host + "\"";
        add(d, "check `server` (" + (c.server_origin.empty() ? "default" : c.server_origin) +
                   ") for typos, and this machine's DNS");
        break;
    case NetError::refused:
        d.cls = Class::network;
        d.temporary = true;
        d.summary = "the connection to " + w + " was refused";
        add(d, "check the port: submission is 587 (STARTTLS) or 465 (TLS from the first byte); "
               "is the server running?");
        break;
    case NetError::connect_failed:
        d.cls = Class::network;
        d.temporary = true;
        d.summary = "cannot connect to " + w;
        add(d, "check the network path and any firewall between here and the server");
        break;
    case NetError::timeout:
        if ((d.stage == Stage::greeting || d.stage == Stage::connect) && !implicit &&
            c.port == 465) {
            d.cls = Class::config;
            d.summary = "no greeting from " + w + ": port 465 expects TLS from the first byte";
            add(d, "use smtps://" + c.host + ":465 or --tls implicit (SMTPSEND_TLS)");
            break;
        }
        d.cls = Class::network;
        d.temporary = true;
        d.summary = "no reply from " + w + " within " + std::to_string(c.timeout_seconds) +
                    " s at stage " + transport::stage_name(d.stage);
        if (d.stage == Stage::greeting && !implicit)
            add(d, "if this port expects TLS from the first byte, use smtps://HOST:PORT or "
                   "--tls implicit");
        add(d, "retry later, or raise --timeout (SMTPSEND_TIMEOUT)");
        break;
    case NetError::closed:
        d.cls = Class::network;
        d.temporary = true;
        d.summary = "the server closed the connection at stage " + transport::stage_name(d.stage);
        add(d, "retry later; run with -v to see the dialogue");
        break;
    case NetError::tls_wrong_version:
        d.cls = Class::config;
        d.summary = "TLS was spoken to " + w + ", which expects plain SMTP first (STARTTLS)";
        add(d, "use smtp://" + c.host + ":" + std::to_string(c.port) +
                   " or --tls starttls: port 587 wants STARTTLS, port 465 wants TLS from the "
                   "first byte");
        break;
    case NetError::tls_handshake:
        d.cls = Class::tls;
        d.summary = "the TLS handshake with " + w + " failed";
        add(d, implicit ? "if the port expects STARTTLS (587), use smtp://HOST:587"
                        : "run with -v; the server may not support a TLS version we accept");
        break;
    case NetError::cert_untrusted:
        d.cls = Class::tls;
        d.summary = "the server's certificate is not signed by a trusted authority";
        if (!c.certificate.empty()) {
            const auto& cert = c.certificate.front();
            d.summary += " (issued by " + cert.issuer +
                         (cert.names.empty() ? "" : " for " + util::join(cert.names, ", ")) + ")";
        }
        add(d, "if the server uses a private CA, trust it with --cafile FILE (SMTPSEND_CAFILE)");
        break;
    case NetError::cert_name:
        d.cls = Class::tls;
        d.summary = "the server's certificate is not valid for the name \"" + c.host + "\"";
        if (!c.certificate.empty() && !c.certificate.front().names.empty())
            d.summary += ": it covers " + util::join(c.certificate.front().names, ", ");
        add(d, "connect by a name the certificate was issued for (`server`), not by an "
               "address or alias");
        break;
    case NetError::cert_expired:
        d.cls = Class::tls;
        d.summary = "the server's certificate has expired (or is not valid yet)";
        if (!c.certificate.empty())
            d.summary += ": valid from " + c.certificate.front().start_date + " until " +
                         c.certificate.front().expire_date;
        add(d, "the server's admin must renew it; check this machine's clock too");
        break;
    case NetError::cert_other:
        d.cls = Class::tls;
        d.summary = "the server's certificate could not be verified";
        add(d, "check --cafile (SMTPSEND_CAFILE) and the server's certificate chain");
        break;
    case NetError::starttls_not_offered:
        d.cls = Class::config;
        d.summary = w + " does not offer STARTTLS; nothing was sent";
        add(d, "if the port expects TLS from the first byte (465), use smtps://HOST:465 or "
               "--tls implicit");
        add(d, "--tls none sends in plain text and is meant only for a trusted local relay");
        break;
    case NetError::no_auth_mechanism:
        d.cls = Class::config;
        d.summary = "the server offers no login mechanism that smtpsend may use" +
                    (c.capabilities.auth.empty()
                         ? std::string()
                         : " (it offers " + util::join(c.capabilities.auth, " ") + ")");
        add(d, "choose one of those with --auth (SMTPSEND_AUTH)");
        break;
    case NetError::auth_not_offered:
        d.cls = Class::config;
        d.summary = "the server offered no AUTH on this connection; credentials were not sent "
                    "and the message was not sent";
        add(d, c.tls_active ? "this port may not take logins; use the submission port (587 or 465)"
                            : "servers offer AUTH only after TLS: drop --tls none and use "
                              "smtp://HOST:587 or smtps://HOST:465");
        add(d, "if this server needs no login, remove `user` from the settings");
        break;
    case NetError::auth_refused:
        d.cls = Class::auth;
        if (oauth2(c))
            describe_token_refused(d, c);
        else {
            d.summary = "the server refused the login";
            add(d, "check `user` and the password source");
        }
        break;
    case NetError::protocol:
        d.cls = Class::protocol;
        d.summary = "the server's answer is not SMTP at stage " + transport::stage_name(d.stage);
        add(d, "check that " + w + " is a mail server; run with -v to see what it sent");
        break;
    case NetError::local:
        d.cls = Class::noinput;
        d.summary = "reading the message failed";
        break;
    case NetError::none:
    case NetError::other:
        d.cls = Class::network;
        d.temporary = true;
        d.summary = "the transfer failed at stage " + transport::stage_name(d.stage);
        add(d, "run with -v to see the dialogue");
        break;
    }
}

} // namespace

Diagnosis diagnose(Stage stage, const std::optional<Reply>& reply, NetError error,
                   const Context& context) {
    Diagnosis d;
    d.stage = stage;
    d.reply = reply;
    bool reply_failed = reply && reply->code >= 400;
    if (reply_failed && error != NetError::auth_not_offered) {
        ReplyClass rc = classify_reply(stage, *reply);
        d.cls = rc.cls;
        d.temporary = rc.temporary;
        describe_reply(d, context, *reply);
    } else {
        describe_error(d, error, context);
    }
    d.exit_code = exit_code_for(d.cls, d.temporary);
    return d;
}

Diagnosis diagnose_outcome(const transport::Outcome& out, const Context& context) {
    using Status = transport::Outcome::Status;
    if (out.status == Status::sent) {
        Diagnosis d;
        d.stage = Stage::end_of_data;
        return d;
    }
    if (out.status == Status::unconfirmed) {
        Diagnosis d;
        d.cls = Class::network;
        d.temporary = true;
        d.stage = Stage::end_of_data;
        d.summary = "the connection was lost after the whole message was sent and before the "
                    "server confirmed it: it may or may not have been delivered";
        add(d, "check whether it arrived before sending again; a retry may deliver it twice");
        d.exit_code = exit_code_for(d.cls, d.temporary);
        return d;
    }
    // Recipients: every rejection counts; the most severe decides.
    bool all_rejected = !out.recipients.empty() &&
                        std::all_of(out.recipients.begin(), out.recipients.end(),
                                    [](const auto& r) { return !r.accepted && r.reply; });
    if (out.status == Status::partial || (out.stage == Stage::rcpt && all_rejected)) {
        std::optional<Diagnosis> worst;
        auto severity = [](const Diagnosis& d) { return d.temporary ? 0 : 1; };
        for (const auto& r : out.recipients) {
            if (r.accepted || !r.reply)
                continue;
            Diagnosis d = diagnose(Stage::rcpt, r.reply, transport::NetError::none, context);
            d.summary += " <" + r.address + ">";
            if (!worst || severity(d) > severity(*worst))
                worst = d;
        }
        if (worst) {
            if (out.status == Status::partial)
                worst->summary = "delivered to the other recipients, but " + worst->summary;
            return *worst;
        }
    }
    return diagnose(out.stage, out.reply, out.error, context);
}

std::string describe_certificate(const transport::CertificateInfo& cert) {
    std::string out = cert.subject;
    if (!cert.names.empty())
        out += "; names " + util::join(cert.names, ", ");
    if (!cert.issuer.empty())
        out += "; issued by " + cert.issuer;
    if (!cert.expire_date.empty())
        out += "; valid until " + cert.expire_date;
    return out;
}

Diagnosis local_failure(Class cls, Stage stage, std::string summary, std::string hint) {
    Diagnosis d;
    d.cls = cls;
    d.stage = stage;
    d.summary = std::move(summary);
    if (!hint.empty())
        d.hints.push_back(std::move(hint));
    d.exit_code = exit_code_for(cls, false);
    return d;
}

} // namespace smtpsend::diagnosis
