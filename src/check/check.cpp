#include "check/check.hpp"

#include "delivery/plan.hpp"

#include "config/secrets.hpp"
#include "config/server_url.hpp"
#include "message/address.hpp"
#include "transport/probe.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <ctime>
#include <netdb.h>

namespace smtpsend::check {

using diagnosis::Class;
using diagnosis::Diagnosis;
using transport::NetError;
using transport::Stage;

namespace {

constexpr int expiry_warning_days = 14;

std::string caps_text(const transport::Capabilities& c) {
    std::vector<std::string> parts;
    if (c.starttls)
        parts.push_back("STARTTLS");
    if (!c.auth.empty())
        parts.push_back("AUTH " + util::join(c.auth, " "));
    if (c.size)
        parts.push_back("SIZE " + std::to_string(*c.size) + " (" + std::to_string(*c.size >> 20) + " MiB)");
    if (c.eightbitmime)
        parts.push_back("8BITMIME");
    if (c.smtputf8)
        parts.push_back("SMTPUTF8");
    if (c.pipelining)
        parts.push_back("PIPELINING");
    if (c.dsn)
        parts.push_back("DSN");
    return parts.empty() ? "no extensions" : util::join(parts, ", ");
}

// Milliseconds from the n-th client line that starts with `command` to the
// final line of the reply that follows it; -1 when not found.
long exchange_ms(const std::vector<transport::TranscriptLine>& t, const std::string& command,
                 int nth = 0) {
    int seen = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i].who != 'C' || !util::starts_with_icase(t[i].text, command))
            continue;
        if (seen++ != nth)
            continue;
        for (size_t j = i + 1; j < t.size(); ++j)
            if (t[j].who == 'S' && (t[j].text.size() < 4 || t[j].text[3] != '-'))
                return t[j].at_ms - t[i].at_ms;
        return -1;
    }
    return -1;
}

long first_reply_ms(const std::vector<transport::TranscriptLine>& t) {
    for (const auto& l : t)
        if (l.who == 'S')
            return l.at_ms;
    return -1;
}

// Days until "Nov 26 01:59:31 2026 GMT"; nothing when it cannot be read.
std::optional<long> days_until(const std::string& date) {
    std::tm tm{};
    if (!strptime(date.c_str(), "%b %d %H:%M:%S %Y", &tm))
        return std::nullopt;
    std::time_t when = timegm(&tm);
    return static_cast<long>(std::difftime(when, std::time(nullptr)) / 86400);
}

std::vector<std::string> resolve(const std::string& host, std::string& error) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    std::vector<std::string> out;
    if (rc != 0) {
        error = gai_strerror(rc);
        return out;
    }
    for (addrinfo* a = res; a; a = a->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {};
        const void* addr = a->ai_family == AF_INET
                               ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                               : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
        if (inet_ntop(a->ai_family, addr, buf, sizeof buf) &&
            std::find(out.begin(), out.end(), buf) == out.end())
            out.push_back(buf);
    }
    freeaddrinfo(res);
    return out;
}

class Walker {
  public:
    explicit Walker(const Request& rq) : rq_(rq), s_(rq.loaded->settings) {}
    Report run();

  private:
    Report fail(Step step, Diagnosis d) {
        step.ok = false;
        if (step.details.empty())
            step.details = d.summary;
        step.error = std::move(d);
        report_.exit_code = static_cast<int>(step.error->exit_code);
        report_.steps.push_back(std::move(step));
        return report_;
    }
    void pass(Step step) { report_.steps.push_back(std::move(step)); }
    Step tls_step(const transport::ProbeReport& pr, long ms);
    Report envelope_steps(transport::Probe& probe, bool logged_in);

    const Request& rq_;
    const config::Settings& s_;
    Report report_;
    diagnosis::Context ctx_;
    config::Endpoint ep_;
};

Step Walker::tls_step(const transport::ProbeReport& pr, long ms) {
    Step step{"tls", true, ms, {}, {}, std::nullopt};
    step.details = pr.tls_description.empty() ? "TLS" : pr.tls_description;
    if (!pr.chain.empty()) {
        const auto& cert = pr.chain.front();
        // Pin alone (no cafile) is the trust; with a cafile both passed.
        bool pinned = !util::trim(s_.pinned_pubkey.value).empty();
        step.details += "; " + diagnosis::describe_certificate(cert) +
                        (!pinned                         ? "; verified"
                         : s_.cafile.value.empty()       ? "; key pinned (pinned_pubkey)"
                                                         : "; verified, key pinned (pinned_pubkey)");
        // The key as pinned_pubkey takes it, so that users can pin it.
        std::string key = !pr.outcome.server_key.empty() ? pr.outcome.server_key : cert.key;
        if (!key.empty())
            step.details += "; key " + key;
        if (auto days = days_until(cert.expire_date); days && *days < expiry_warning_days)
            step.warnings.push_back("the certificate expires in " + std::to_string(*days) +
                                    " days (" + cert.expire_date + ")");
    }
    return step;
}

Report Walker::run() {
    // 1. Settings.
    Step settings{"settings", true, 0, {}, {}, std::nullopt};
    auto plan = delivery::make_plan(*rq_.loaded, *rq_.env, rq_.hostname);
    if (!plan)
        return fail(settings, diagnosis::local_failure(Class::config, Stage::config,
                                                       plan.error().message, plan.error().hint));
    ep_ = plan->endpoint;
    const config::Credentials& creds = *plan->credentials;
    std::vector<std::string> parts;
    parts.push_back(ep_.curl_url() + " (" + s_.server.origin.describe() + ")");
    parts.push_back("tls " + config::tls_mode_name(ep_.mode) +
                    (s_.tls.set ? " (" + s_.tls.origin.describe() + ")" : " (from the URL)"));
    if (creds.user.empty())
        parts.push_back("no login configured");
    else
        parts.push_back("user " + creds.user + " (" + s_.user.origin.describe() + "), " +
                        (creds.oauth2 ? "token" : "password") + " from " + creds.source);
    if (!plan->options.proxy.empty())
        parts.push_back("proxy " + plan->options.proxy + " (" + s_.proxy.origin.describe() + ")");
    if (!rq_.loaded->profile.empty())
        parts.push_back("profile " + rq_.loaded->profile);
    settings.details = util::join(parts, "; ");
    if (ep_.port == 465 && ep_.mode == config::TlsMode::starttls)
        settings.warnings.push_back("port 465 normally expects TLS from the first byte: "
                                    "smtps://" + ep_.host + ":465 or --tls implicit");
    if (ep_.port == 587 && ep_.mode == config::TlsMode::implicit)
        settings.warnings.push_back("port 587 normally expects STARTTLS: smtp://" + ep_.host +
                                    ":587 or --tls starttls");
    if (ep_.mode == config::TlsMode::none)
        settings.warnings.push_back("TLS is off (tls = none): everything travels in plain text");
    pass(settings);

    ctx_ = plan->context;

    // 2. DNS (through a proxy, the proxy connects: its own step below).
    const bool via_proxy = !plan->options.proxy.empty();
    if (!via_proxy) {
        auto dns_started = std::chrono::steady_clock::now();
        std::string dns_error;
        auto addresses = resolve(ep_.host, dns_error);
        long dns_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - dns_started)
                                            .count());
        Step dns{"dns", true, dns_ms, util::join(addresses, ", "), {}, std::nullopt};
        if (addresses.empty()) {
            auto d = diagnosis::diagnose(Stage::resolve, std::nullopt, NetError::resolve, ctx_);
            d.summary += " (" + dns_error + ")";
            return fail(dns, d);
        }
        pass(dns);
    }

    // 3. The connection, up to AUTH.
    transport::TransportOptions opts = plan->options;
    opts.on_line = rq_.on_line;
    auto probe = transport::make_curl_probe(opts);
    auto pr = probe->open();
    const auto& o = pr.outcome;
    const auto& t = o.transcript;
    bool failed = o.status != transport::Outcome::Status::sent;
    ctx_.auth_sent = o.auth_sent;
    ctx_.tls_active = o.tls_active;
    ctx_.capabilities = o.capabilities;
    if (o.greeting)
        ctx_.greeting = o.greeting->text(); // the provider is recognised from it too
    auto diagnose_probe = [&]() {
        if (o.error == NetError::cert_untrusted || o.error == NetError::cert_name ||
            o.error == NetError::cert_expired || o.error == NetError::cert_other)
            ctx_.certificate = transport::fetch_certificate(opts);
        ctx_.server_key = !o.server_key.empty() ? o.server_key
                          : pr.chain.empty()       ? std::string()
                                                   : pr.chain.front().key;
        return diagnosis::diagnose(o.stage, o.reply, o.error, ctx_);
    };
    bool implicit = ep_.mode == config::TlsMode::implicit;

    if (via_proxy) {
        const config::Credentials& pc = *plan->proxy_credentials;
        Step proxy{"proxy", true, pr.connect_ms,
                   plan->options.proxy + (pc.user.empty() ? "" : ", login as " + pc.user), {},
                   std::nullopt};
        bool proxy_failed = o.error == NetError::proxy_resolve || o.error == NetError::proxy_refused ||
                            o.error == NetError::proxy_auth || o.error == NetError::proxy_tunnel ||
                            o.error == NetError::proxy_failed;
        if (failed && proxy_failed)
            return fail(proxy, diagnose_probe());
        pass(proxy);
    }
    // A failed connection has no address of its own: name the host instead.
    std::string peer = pr.primary_ip.empty() || via_proxy ? ep_.host : pr.primary_ip;
    Step connect{"connect", true, pr.connect_ms, peer + " port " + std::to_string(ep_.port), {},
                 std::nullopt};
    if (failed && (o.stage == Stage::connect || o.stage == Stage::resolve))
        return fail(connect, diagnose_probe());
    pass(connect);

    if (implicit) {
        long ms = pr.appconnect_ms >= 0 ? pr.appconnect_ms - pr.connect_ms : 0;
        if (failed && o.stage == Stage::tls)
            return fail(Step{"tls", false, ms, {}, {}, std::nullopt}, diagnose_probe());
        pass(tls_step(pr, ms));
    }

    long greeted = first_reply_ms(t);
    Step greeting{"greeting", true,
                  greeted >= 0 ? std::max(0L, greeted - std::max(pr.appconnect_ms, pr.connect_ms)) : 0,
                  o.greeting && !o.greeting->lines.empty() ? o.greeting->lines.front() : "",
                  {}, std::nullopt};
    if (failed && o.stage == Stage::greeting)
        return fail(greeting, diagnose_probe());
    pass(greeting);

    const auto& first_caps = o.capabilities_before_tls ? *o.capabilities_before_tls : o.capabilities;
    Step ehlo{"ehlo", true, exchange_ms(t, "EHLO", 0), caps_text(first_caps), {}, std::nullopt};
    if (failed && o.stage == Stage::ehlo && !o.capabilities_before_tls)
        return fail(ehlo, diagnose_probe());
    pass(ehlo);

    if (!implicit && ep_.mode == config::TlsMode::starttls) {
        long ms = exchange_ms(t, "STARTTLS");
        if (failed && (o.stage == Stage::starttls || o.stage == Stage::tls))
            return fail(Step{"tls", false, ms, {}, {}, std::nullopt}, diagnose_probe());
        Step tls = tls_step(pr, std::max(0L, ms));
        pass(tls);
        Step again{"ehlo", true, exchange_ms(t, "EHLO", 1), "after TLS: " + caps_text(o.capabilities),
                   {}, std::nullopt};
        if (failed && o.stage == Stage::ehlo)
            return fail(again, diagnose_probe());
        pass(again);
    }

    // 4. AUTH, or whether the server demands it.
    if (!creds.user.empty()) {
        Step auth{"auth", true, exchange_ms(t, "AUTH"), {}, {}, std::nullopt};
        if (failed)
            return fail(auth, diagnose_probe());
        auth.details = o.auth_mechanism + " accepted for " + creds.user;
        pass(auth);
        return envelope_steps(*probe, true);
    }
    if (failed)
        return fail(Step{"auth", false, 0, {}, {}, std::nullopt}, diagnose_probe());
    return envelope_steps(*probe, false);
}

// MAIL FROM (and RCPT TO with --rcpt), then RSET: nothing is ever sent.
Report Walker::envelope_steps(transport::Probe& probe, bool logged_in) {
    std::string from;
    if (s_.from.set)
        if (auto a = message::parse_address(s_.from.value))
            from = a->addr_spec;
    ctx_.from = from;
    auto started = std::chrono::steady_clock::now();
    auto since = [&] {
        return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count());
    };
    bool need_mail = !logged_in || !rq_.rcpt.empty();
    if (!need_mail)
        return report_;
    auto mail = probe.command("MAIL FROM:<" + from + ">");
    std::string step_name = logged_in ? "mail" : "auth";
    if (!mail) {
        auto d = diagnosis::diagnose(Stage::mail, std::nullopt, NetError::closed, ctx_);
        d.summary += " (" + mail.error().message + ")";
        return fail(Step{step_name, false, since(), {}, {}, std::nullopt}, d);
    }
    if (mail->code >= 400)
        return fail(Step{step_name, false, since(), {}, {}, std::nullopt},
                    diagnosis::diagnose(Stage::mail, *mail, NetError::none, ctx_));
    pass(Step{step_name, true, since(),
              logged_in ? "MAIL FROM accepted (" + util::one_line(mail->text()) + ")"
                        : "no login configured, and the server accepts mail without one (" +
                              util::one_line(mail->text()) + ")",
              {}, std::nullopt});
    if (!rq_.rcpt.empty()) {
        started = std::chrono::steady_clock::now();
        auto rcpt = probe.command("RCPT TO:<" + rq_.rcpt + ">");
        if (!rcpt) {
            auto d = diagnosis::diagnose(Stage::rcpt, std::nullopt, NetError::closed, ctx_);
            return fail(Step{"rcpt", false, since(), {}, {}, std::nullopt}, d);
        }
        if (rcpt->code >= 400) {
            auto d = diagnosis::diagnose(Stage::rcpt, *rcpt, NetError::none, ctx_);
            d.summary += " <" + rq_.rcpt + ">";
            (void)probe.command("RSET");
            return fail(Step{"rcpt", false, since(), {}, {}, std::nullopt}, d);
        }
        pass(Step{"rcpt", true, since(), "<" + rq_.rcpt + "> accepted (" + util::one_line(rcpt->text()) + ")",
                  {}, std::nullopt});
    }
    (void)probe.command("RSET");
    return report_;
}

} // namespace

Report run(const Request& request) {
    Walker walker(request);
    return walker.run();
}

} // namespace smtpsend::check
