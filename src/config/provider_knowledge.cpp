#include "config/provider_knowledge.hpp"

#include <algorithm>
#include <cctype>

namespace smtpsend::config {

namespace {

using T = AdviceTopic;

// Checked against each provider's help pages (docs/providers.md, docs/errors.md).
std::vector<ProviderKnowledge> make_knowledge() {
    return {
        {"google-workspace-relay", "Google Workspace SMTP relay", {"smtp-relay.gmail.com"},
         {"smtp-relay.gmail.com", "support.google.com/a/answer/2956491"},
         {{T::login, "the Workspace SMTP relay wants the app password of a Workspace user, or an "
                     "admin allowing this IP address (Gmail > Routing > SMTP relay service)"},
          {T::sender, "the Workspace relay sends only for your own domains: set from to an "
                      "address of the Workspace domain"}}},
        {"gmail", "Gmail", {"gmail.com", "googlemail.com", "google.com"},
         {"support.google.com/mail", "gsmtp", "mx.google.com", "smtp.gmail.com",
          "accounts.google.com"},
         {{T::login, "Gmail accepts only an app password (Google Account > Security > App "
                     "passwords, https://support.google.com/accounts/answer/185833; it needs "
                     "2-Step Verification) or OAuth2; the account password is refused"},
          {T::app_password, "Gmail with 2-Step Verification needs an app password, not the account "
                            "password: https://support.google.com/accounts/answer/185833"},
          {T::browser, "Google blocked this sign-in: log in once at https://accounts.google.com "
                       "from a browser, then use an app password or OAuth2"},
          {T::oauth2, "Gmail needs the scope https://mail.google.com/ (see docs/configuration.md)"},
          {T::sender, "Gmail sends as your address or a verified \"Send mail as\" alias only"}}},
        {"office365", "Microsoft 365",
         {"office365.com", "outlook.office.com", "protection.outlook.com"},
         {"aka.ms/", "protection.outlook.com", "prod.outlook.com", "office365.com",
          "smtpclientauthentication", "exchange online", "go.microsoft.com", "storedrv",
          "resolver.adr", "authentication unsuccessful"},
         {{T::login, "Microsoft 365: the user is the full mailbox address, SMTP AUTH must be "
                     "enabled for that mailbox (admin center > user > Mail > Authenticated SMTP), "
                     "and Security Defaults or MFA refuse passwords: then use OAuth2 "
                     "(auth = xoauth2)"},
          {T::auth_disabled, "SMTP AUTH (basic authentication) is switched off for this mailbox or "
                             "tenant: an admin enables Authenticated SMTP per mailbox "
                             "(https://aka.ms/smtp_auth_disabled), otherwise use OAuth2"},
          {T::oauth2, "Microsoft 365 needs the scope https://outlook.office.com/SMTP.Send and "
                      "SMTP AUTH enabled for the mailbox"},
          {T::sender, "Microsoft 365 sends only as the mailbox itself or an address it has Send "
                      "As rights for (an admin grants them)"}}},
        {"outlook", "Outlook.com", {"outlook.com", "hotmail.com", "live.com"},
         {"smtp-mail.outlook.com", "outlook.com", "hotmail.com", "live.com"},
         {{T::login, "Outlook.com refuses passwords for SMTP: use OAuth2 (auth = xoauth2 with "
                     "oauth2_token_cmd)"},
          {T::auth_disabled, "Outlook.com has switched basic authentication off: use OAuth2 "
                             "(auth = xoauth2)"},
          {T::oauth2, "Outlook.com needs the scope https://outlook.office.com/SMTP.Send"},
          {T::sender, "Outlook.com sends only as your own address"}}},
        {"yahoo", "Yahoo Mail", {"yahoo.com", "yahoo.co.uk", "yahoo.co.jp", "yahoodns.net"},
         {"postmaster.yahooinc.com", "senders.yahooinc.com", "help.yahoo.com", "yahoo"},
         {{T::login, "Yahoo needs an app password (Account Security > Generate app password, "
                     "https://help.yahoo.com/kb/SLN15241.html); the account password is refused"},
          {T::sender, "Yahoo wants the From address to be the Yahoo account you log in with"}}},
        {"icloud", "iCloud Mail", {"mail.me.com", "icloud.com", "me.com"},
         {"icloud", "mail.me.com", "support.apple.com"},
         {{T::login, "iCloud needs an app-specific password (https://support.apple.com/en-us/102654) "
                     "and the full iCloud address as user"},
          {T::sender, "iCloud sends only from your iCloud address or its aliases"}}},
        {"fastmail", "Fastmail", {"fastmail.com", "messagingengine.com"},
         {"fastmail", "messagingengine"},
         {{T::login, "Fastmail needs an app password with SMTP access; the account password is "
                     "refused"},
          {T::sender, "Fastmail sends only from your addresses and aliases"}}},
        {"zoho", "Zoho Mail",
         {"zoho.com", "zoho.eu", "zoho.in", "zoho.com.au", "zoho.jp", "zohomail.com"},
         {"zoho"},
         {{T::login, "Zoho: with two-factor sign-in use an application-specific password, and the "
                     "host of your data centre (region: smtp.zoho.eu for EU accounts)"},
          {T::sender, "Zoho sends only from the login address or its configured aliases"}}},
        {"ses", "Amazon SES", {"email-smtp.*.amazonaws.com", "amazonses.com"},
         {"amazonses", "email-smtp.", "aws account", "failed the check in region", "ses"},
         {{T::login, "Amazon SES wants SMTP credentials made in the SES console (SMTP settings) "
                     "for this region, not your AWS access keys; credentials of one region fail "
                     "in another"},
          {T::sender, "SES sends only from verified identities in this region (and, in the "
                      "sandbox, only to verified recipients)"}}},
        {"sendgrid", "SendGrid", {"sendgrid.net", "sendgrid.com"}, {"sendgrid"},
         {{T::login, "SendGrid's user is the literal word apikey and the password is an API key "
                     "with Mail Send permission"},
          {T::sender, "SendGrid sends only from a verified Sender Identity (a single sender or an "
                      "authenticated domain)"}}},
        {"mailgun", "Mailgun", {"mailgun.org", "mailgun.net"}, {"mailgun"},
         {{T::login, "Mailgun wants the domain's SMTP credentials (postmaster@your-domain and its "
                     "SMTP password, reset under Domain settings > SMTP credentials), and "
                     "smtp.eu.mailgun.org for EU domains"},
          {T::sender, "Mailgun sandbox domains send only to authorised recipients: add and verify "
                      "your own domain"}}},
        {"postmark", "Postmark", {"postmarkapp.com"}, {"postmark"},
         {{T::login, "Postmark's user and password are both the Server API token"},
          {T::sender, "Postmark sends only from a confirmed Sender Signature or verified domain"}}},
        {"brevo", "Brevo", {"brevo.com", "sendinblue.com"}, {"brevo", "sendinblue"},
         {{T::login, "Brevo wants your Brevo login as user and the SMTP key from its SMTP & API "
                     "page, not the account password"},
          {T::sender, "Brevo sends only from a verified sender or domain"}}},
        {"mailjet", "Mailjet", {"mailjet.com"}, {"mailjet"},
         {{T::login, "Mailjet's user is the API key and the password the secret key"},
          {T::sender, "Mailjet sends only from a validated sender address"}}},
        {"qq", "QQ Mail", {"qq.com"}, {"qq.com", "mail.qq"},
         {{T::login, "QQ Mail wants the authorisation code made after enabling SMTP (Settings > "
                     "Account), not the QQ password"},
          {T::sender, "QQ Mail: the sender (from) must be the login address"}}},
        {"netease", "NetEase 163/126", {"163.com", "126.com", "yeah.net"},
         {"163.com", "126.com", "netease", "yeah.net"},
         {{T::login, "163/126 Mail wants the client authorisation code made after enabling SMTP, "
                     "not the account password"},
          {T::sender, "163/126 Mail: the sender (from) must be the login address"}}},
        {"yandex", "Yandex Mail", {"yandex.ru", "yandex.com", "yandex.net"}, {"yandex"},
         {{T::login, "Yandex needs an app password (id.yandex.ru > Security > App passwords) and "
                     "mail clients allowed in the mail settings"},
          {T::sender, "Yandex: the sender (from) must be the login address"}}},
        {"mailru", "Mail.ru", {"mail.ru"}, {"mail.ru"},
         {{T::login, "Mail.ru needs a password for external applications (Settings > Security)"},
          {T::sender, "Mail.ru: the sender (from) must be the login address"}}},
    };
}

bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// `suffix` ends `host` at a label boundary; "email-smtp.*.amazonaws.com" holds a wildcard.
bool host_matches(const std::string& host, std::string_view pattern) {
    auto star = pattern.find('*');
    if (star != std::string_view::npos) {
        std::string_view prefix = pattern.substr(0, star);
        std::string_view suffix = pattern.substr(star + 1);
        return host.size() > prefix.size() + suffix.size() && host.rfind(prefix, 0) == 0 &&
               host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
    }
    if (host == pattern)
        return true;
    return host.size() > pattern.size() &&
           host.compare(host.size() - pattern.size(), pattern.size(), pattern) == 0 &&
           host[host.size() - pattern.size() - 1] == '.';
}

// A marker must start a word ("qq.com" in "me@qq.com", not in "xqq.com"); a
// marker that is one word must end one too ("ses", not "uses" or "sessions").
bool marker_in(const std::string& text, std::string_view marker) {
    bool word = std::all_of(marker.begin(), marker.end(), alnum);
    for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
        bool starts = at == 0 || !alnum(text[at - 1]) || !alnum(marker.front());
        size_t end = at + marker.size();
        bool ends = !word || end == text.size() || !alnum(text[end]);
        if (starts && ends)
            return true;
    }
    return false;
}

} // namespace

const std::vector<ProviderKnowledge>& provider_knowledge() {
    static const std::vector<ProviderKnowledge> all = make_knowledge();
    return all;
}

const ProviderKnowledge* find_provider_knowledge(std::string_view name) {
    for (const auto& p : provider_knowledge())
        if (p.name == name)
            return &p;
    return nullptr;
}

std::string provider_from_host(std::string_view host_in) {
    std::string host = lower(host_in);
    while (!host.empty() && host.back() == '.')
        host.pop_back();
    if (host.empty())
        return "";
    for (const auto& p : provider_knowledge())
        for (auto h : p.hosts)
            if (host_matches(host, h))
                return std::string(p.name);
    return "";
}

std::string provider_from_text(std::string_view text_in) {
    std::string text = lower(text_in.substr(0, 64 * 1024));
    if (text.empty())
        return "";
    for (const auto& p : provider_knowledge())
        for (auto m : p.markers)
            if (marker_in(text, m))
                return std::string(p.name);
    return "";
}

std::string_view provider_advice(std::string_view provider, AdviceTopic topic) {
    const ProviderKnowledge* p = find_provider_knowledge(provider);
    if (!p)
        return "";
    for (const auto& a : p->advice)
        if (a.topic == topic)
            return a.text;
    return "";
}

} // namespace smtpsend::config
