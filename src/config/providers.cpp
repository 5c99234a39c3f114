#include "config/providers.hpp"

#include "config/server_url.hpp"
#include "util/strings.hpp"

#include <algorithm>

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
         "https://docs.aws.amazon.com/ses/latest/dg/smtp-connect.html", {}, ""},
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

// The AWS regions with an SES SMTP endpoint (docs.aws.amazon.com/general/
// latest/gr/ses.html), so a typo gets a suggestion instead of a DNS error.
const std::vector<std::string>& aws_regions() {
    static const std::vector<std::string> names = {
        "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",      "af-south-1",
        "ap-south-1",     "ap-south-2",     "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-5", "ca-central-1",
        "ca-west-1",      "eu-central-1",   "eu-central-2",   "eu-west-1",      "eu-west-2",
        "eu-west-3",      "eu-north-1",     "eu-south-1",     "eu-south-2",     "il-central-1",
        "me-south-1",     "me-central-1",   "sa-east-1",      "us-gov-east-1",  "us-gov-west-1"};
    return names;
}

std::string suggestion(const std::string& word, const std::vector<std::string>& names) {
    std::string best = util::closest(word, names);
    return best.empty() ? "" : "did you mean \"" + best + "\"?";
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
        if (region.empty())
            return make_error("provider " + std::string(p.name) + " needs region",
                              "set region (--region, SMTPSEND_REGION) to the AWS region of your "
                              "SES account, e.g. us-east-1 or eu-west-1");
        const auto& known = aws_regions();
        if (std::find(known.begin(), known.end(), region) == known.end()) {
            std::string near = suggestion(region, known);
            return make_error("region = \"" + region_in + "\" is not an AWS region with SES",
                              near.empty() ? "e.g. us-east-1 or eu-west-1" : near);
        }
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
    std::string near = suggestion(region, names);
    return make_error("region = \"" + region_in + "\" is not a region of " + std::string(p.name) +
                          ": " + util::join(names, ", "),
                      near);
}

util::Status apply_preset(Settings& s) {
    if (!s.provider.set || s.provider.value.empty())
        return util::Ok{};
    const Provider* p = find_provider(s.provider.value);
    if (!p)
        return util::Ok{}; // refused when `provider` was assigned
    Origin o = s.provider.origin;
    o.where = "provider " + std::string(p->name) + " (" + s.provider.origin.describe() + ")";
    o.preset = true;
    if (!s.server.set) {
        auto host = provider_host(*p, s.region.value);
        if (!host) {
            // The error belongs to the value that caused it: region, else provider.
            const Origin& blame = s.region.set ? s.region.origin : s.provider.origin;
            util::Error e = host.error();
            e.message += " (" + blame.describe() + ")";
            e.kind = error_kind(blame);
            return e;
        }
        s.server.assign((p->tls == TlsMode::implicit ? "smtps://" : "smtp://") + *host, o);
        if (!s.port.set)
            s.port.assign(p->port, o);
        if (!s.tls.set)
            s.tls.assign(p->tls == TlsMode::implicit ? "implicit" : "starttls", o);
    } else if (auto ep = parse_server_url(s.server.value)) {
        // A `server` URL from any layer wins over the preset: its port and
        // mode are shown with its origin.
        if (!s.port.set)
            s.port.assign(ep->port, s.server.origin);
        if (!s.tls.set)
            s.tls.assign(tls_mode_name(ep->mode), s.server.origin);
    }
    if (!s.auth.set)
        s.auth.assign(std::string(p->auth), o);
    if (!s.user.set && !p->user.empty())
        s.user.assign(std::string(p->user), o);
    return util::Ok{};
}

} // namespace smtpsend::config
