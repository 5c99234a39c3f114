#include "config/providers.hpp"

#include "util/strings.hpp"

#include <cctype>

namespace smtpsend::config {

namespace {

using util::make_error;

// Checked against each provider's page in `setup_url` (docs/providers.md).
std::vector<Provider> make_providers() {
    using T = TlsMode;
    return {
        {"gmail", "Gmail (personal Google accounts)", "smtp.gmail.com", 587, T::starttls, "auto", "",
         "user = your Gmail address; password = an app password (needs 2-Step Verification), "
         "or auth = xoauth2 with oauth2_token_cmd",
         "https://support.google.com/mail/answer/7126229", {}, ""},
        {"google-workspace-relay", "Google Workspace SMTP relay", "smtp-relay.gmail.com", 587,
         T::starttls, "auto", "",
         "an admin turns on the relay (allowed IP addresses, or SMTP AUTH with a Workspace user "
         "and app password); from = an address of your domain",
         "https://support.google.com/a/answer/2956491", {}, ""},
        {"outlook", "Outlook.com, Hotmail, Live (personal Microsoft accounts)",
         "smtp-mail.outlook.com", 587, T::starttls, "xoauth2", "",
         "user = your address; oauth2_token_cmd printing a token with scope "
         "https://outlook.office.com/SMTP.Send (passwords are refused)",
         "https://support.microsoft.com/en-us/office/"
         "pop-imap-and-smtp-settings-for-outlook-com-d088b986-291d-42b8-9564-9c414e2aa040",
         {}, ""},
        {"office365", "Microsoft 365 / Exchange Online", "smtp.office365.com", 587, T::starttls,
         "auto", "",
         "user = the mailbox address; SMTP AUTH enabled for the mailbox; a password while the "
         "tenant allows basic auth, else auth = xoauth2 with oauth2_token_cmd",
         "https://learn.microsoft.com/en-us/exchange/clients-and-mobile-in-exchange-online/"
         "authenticated-client-smtp-submission",
         {}, ""},
        {"yahoo", "Yahoo Mail", "smtp.mail.yahoo.com", 465, T::implicit, "auto", "",
         "user = your Yahoo address; password = an app password",
         "https://help.yahoo.com/kb/SLN4724.html", {}, ""},
        {"icloud", "iCloud Mail", "smtp.mail.me.com", 587, T::starttls, "auto", "",
         "user = your iCloud address; password = an app-specific password (needs two-factor "
         "authentication)",
         "https://support.apple.com/en-us/102525", {}, ""},
        {"fastmail", "Fastmail", "smtp.fastmail.com", 465, T::implicit, "auto", "",
         "user = your Fastmail address; password = an app password (the account password is "
         "refused)",
         "https://www.fastmail.help/hc/en-us/articles/1500000278342", {}, ""},
        {"zoho", "Zoho Mail (region: us, eu, in, au, jp)", "", 465, T::implicit, "auto", "",
         "user = your Zoho address; password = the account password or, with two-factor "
         "sign-in, an application-specific password; region = your data centre",
         "https://www.zoho.com/mail/help/zoho-smtp.html",
         {{"us", "smtp.zoho.com"},
          {"eu", "smtp.zoho.eu"},
          {"in", "smtp.zoho.in"},
          {"au", "smtp.zoho.com.au"},
          {"jp", "smtp.zoho.jp"}},
         "us"},
        {"ses", "Amazon SES (region: e.g. us-east-1, eu-west-1)", "email-smtp.{region}.amazonaws.com", 587, T::starttls, "auto", "",
         "region; user and password = SMTP credentials made in the SES console for that region "
         "(not AWS access keys); from = a verified identity",
         "https://docs.aws.amazon.com/ses/latest/dg/smtp-connect.html", {}, "us-east-1"},
        {"sendgrid", "Twilio SendGrid", "smtp.sendgrid.net", 587, T::starttls, "auto", "apikey",
         "password = an API key with Mail Send permission; from = a verified sender",
         "https://www.twilio.com/docs/sendgrid/for-developers/sending-email/"
         "integrating-with-the-smtp-api",
         {}, ""},
        {"mailgun", "Mailgun (region: us, eu)", "", 587, T::starttls, "auto", "",
         "user and password = the domain's SMTP credentials (e.g. postmaster@mg.example.com); "
         "region = eu for EU domains",
         "https://documentation.mailgun.com/docs/mailgun/user-manual/sending-messages/send-smtp",
         {{"us", "smtp.mailgun.org"}, {"eu", "smtp.eu.mailgun.org"}},
         "us"},
        {"postmark", "Postmark", "smtp.postmarkapp.com", 587, T::starttls, "auto", "",
         "user and password = the same Server API token; from = a verified sender signature",
         "https://postmarkapp.com/support/article/"
         "811-what-are-the-smtp-details-api-tokens-i-should-be-using",
         {}, ""},
        {"brevo", "Brevo (formerly Sendinblue)", "smtp-relay.brevo.com", 587, T::starttls, "auto",
         "",
         "user = the SMTP login shown on the SMTP & API page; password = an SMTP key (not the "
         "API key)",
         "https://developers.brevo.com/docs/smtp-integration", {}, ""},
        {"mailjet", "Mailjet", "in-v3.mailjet.com", 587, T::starttls, "auto", "",
         "user = the API key; password = the secret key; from = a validated sender",
         "https://documentation.mailjet.com/hc/en-us/articles/360043225693-What-is-an-API-key",
         {}, ""},
    };
}

// An AWS region name: letters, digits and dashes, such as eu-central-1.
bool is_aws_region(const std::string& r) {
    if (r.empty() || r.size() > 32 || r.front() == '-' || r.back() == '-')
        return false;
    for (char c : r)
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
            return false;
    return r.find('-') != std::string::npos;
}

} // namespace

const std::vector<Provider>& providers() {
    static const std::vector<Provider> table = make_providers();
    return table;
}

const Provider* find_provider(std::string_view name) {
    for (const auto& p : providers())
        if (p.name == name)
            return &p;
    return nullptr;
}

util::Result<std::string> provider_host(const Provider& p, const std::string& region_in) {
    std::string region = region_in.empty() ? std::string(p.default_region) : region_in;
    if (auto at = p.host.find("{region}"); at != std::string_view::npos) {
        if (!is_aws_region(region))
            return make_error("region = \"" + region_in + "\" is not an AWS region such as "
                              "us-east-1 or eu-west-1");
        std::string host(p.host);
        return host.replace(at, 8, region);
    }
    // A provider without regions ignores one (it may come from a lower layer
    // written for another provider).
    if (p.regions.empty())
        return std::string(p.host);
    std::vector<std::string> names;
    for (const auto& r : p.regions) {
        if (r.region == region)
            return std::string(r.host);
        names.emplace_back(r.region);
    }
    return make_error("region = \"" + region_in + "\" is not a region of " + std::string(p.name) +
                      ": " + util::join(names, ", "));
}

util::Status apply_preset(Settings& s, const Provider& p, const Origin& from) {
    auto host = provider_host(p, s.region.value);
    if (!host)
        return host.error();
    Origin o = from;
    o.where = "provider " + std::string(p.name) + " (" + from.describe() + ")";
    o.preset = true;
    s.server.assign((p.tls == TlsMode::implicit ? "smtps://" : "smtp://") + *host, o);
    s.port.assign(p.port, o);
    s.tls.assign(p.tls == TlsMode::implicit ? "implicit" : "starttls", o);
    s.auth.assign(std::string(p.auth), o);
    if (!p.user.empty())
        s.user.assign(std::string(p.user), o);
    return util::Ok{};
}

} // namespace smtpsend::config
