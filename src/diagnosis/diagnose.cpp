// The entry points of the diagnosis: they find the table row (rules.cpp) and
// have hints.cpp write it for this run.
#include "config/provider_knowledge.hpp"
#include "diagnosis/diagnosis.hpp"
#include "diagnosis/hints.hpp"
#include "diagnosis/rules.hpp"
#include "util/strings.hpp"

#include <algorithm>

namespace smtpsend::diagnosis {

using transport::NetError;
using transport::Reply;
using transport::Stage;

std::string recognise_provider(const Context& c, const Reply* reply) {
    if (!c.provider.empty())
        return c.provider;
    std::string p = config::provider_from_host(c.host);
    if (p.empty())
        p = config::provider_from_text(c.greeting);
    if (p.empty())
        p = config::provider_from_text(c.ehlo_name);
    if (p.empty() && reply)
        p = config::provider_from_text(reply->text());
    return p;
}

ReplyClass classify_reply(Stage stage, const Reply& reply) {
    const auto& rule = detail::match_reply(stage, reply, "");
    return {rule.cls, detail::rule_temporary(rule, reply)};
}

Diagnosis diagnose(Stage stage, const std::optional<Reply>& reply, NetError error,
                   const Context& context) {
    Diagnosis d;
    d.stage = stage;
    d.reply = reply;
    bool reply_failed = reply && reply->code >= 400;
    if (reply_failed && error != NetError::auth_not_offered) {
        std::string provider = recognise_provider(context, &*reply);
        const auto& rule = detail::match_reply(stage, *reply, provider);
        d.cls = rule.cls;
        d.temporary = detail::rule_temporary(rule, *reply);
        detail::compose_reply(d, context, *reply, rule, provider);
    } else {
        std::string provider = recognise_provider(context, nullptr);
        const auto& rule = detail::match_error(error, stage, context);
        d.cls = rule.cls;
        d.temporary = rule.temporary;
        detail::compose_error(d, context, rule, provider);
    }
    d.exit_code = exit_code_for(d.cls, d.temporary);
    return d;
}

namespace {

// The first line of the server's reply to the last EHLO (or HELO), from the transcript.
std::string ehlo_name_from(const std::vector<transport::TranscriptLine>& transcript) {
    std::string name;
    for (size_t i = 0; i + 1 < transcript.size(); ++i) {
        const auto& cmd = transcript[i];
        if (cmd.who != 'C' || cmd.text.size() < 4)
            continue;
        std::string verb = util::to_lower(cmd.text.substr(0, 4));
        if (verb != "ehlo" && verb != "helo")
            continue;
        for (size_t j = i + 1; j < transcript.size(); ++j) {
            if (transcript[j].who == 'S') {
                name = transcript[j].text.substr(0, 512);
                break;
            }
            if (transcript[j].who == 'C')
                break;
        }
    }
    return name;
}

} // namespace

Diagnosis diagnose_outcome(const transport::Outcome& out, const Context& context_in) {
    using Status = transport::Outcome::Status;
    if (out.status == Status::sent) {
        Diagnosis d;
        d.stage = Stage::end_of_data;
        return d;
    }
    Context context = context_in;
    if (context.greeting.empty() && out.greeting)
        context.greeting = out.greeting->text();
    if (context.server_key.empty())
        context.server_key = out.server_key;
    if (context.ehlo_name.empty())
        context.ehlo_name = ehlo_name_from(out.transcript);
    if (out.status == Status::unconfirmed) {
        Diagnosis d;
        d.cls = Class::network;
        d.temporary = true;
        d.stage = Stage::end_of_data;
        d.summary = "the connection was lost after the whole message was sent and before the "
                    "server confirmed it: it may or may not have been delivered";
        d.hints.push_back("check whether it arrived before sending again; a retry may deliver it "
                          "twice");
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

bool per_connection_limit(const Diagnosis& d) {
    return d.reply && d.reply->code == 421 && d.cls == Class::rate &&
           detail::match_reply(d.stage, *d.reply, "").id == "connection-limit";
}

bool asks_to_slow_down(const Diagnosis& d) {
    return d.cls == Class::rate && d.temporary && !per_connection_limit(d);
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
