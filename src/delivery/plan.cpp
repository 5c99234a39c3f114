#include "delivery/plan.hpp"

#include "config/keys.hpp"
#include "util/strings.hpp"

namespace smtpsend::delivery {

util::Result<Plan> make_plan(const config::Loaded& loaded, const util::Environment& env,
                             const std::string& hostname, bool load_secrets) {
    const config::Settings& s = loaded.settings;
    auto endpoints = config::resolve_endpoints(s);
    Plan plan;
    plan.profile = loaded.profile;
    plan.credentials = std::make_unique<config::Credentials>();
    plan.credentials->user = s.user.value;
    if (!endpoints && !load_secrets) // a dry run shows the message even without a server
        return plan;
    if (!endpoints)
        return endpoints.error();
    // Mode none comes only from `tls`, which applies to every server of the list.
    const config::Endpoint& first = endpoints->front();
    if (load_secrets && first.mode == config::TlsMode::none && s.user.set && !s.user.value.empty())
        return util::make_error("refusing to send a password over an unencrypted connection "
                                "(tls = none from " + s.tls.origin.describe() + ")",
                                "use STARTTLS (smtp://HOST:587) or smtps://HOST:465; --tls none "
                                "is only for a relay that needs no login",
                                util::ErrorKind::config);
    plan.endpoint = first;
    plan.fallbacks.assign(endpoints->begin() + 1, endpoints->end());
    plan.proxy_credentials = std::make_unique<config::Credentials>();
    if (load_secrets) {
        auto credentials = config::load_credentials(s, env);
        if (!credentials)
            return credentials.error();
        *plan.credentials = std::move(*credentials);
        // Also checks the proxy URL: an invalid one fails here.
        auto proxy_credentials = config::load_proxy_credentials(s, env);
        if (!proxy_credentials)
            return proxy_credentials.error();
        *plan.proxy_credentials = std::move(*proxy_credentials);
    }

    auto& o = plan.options;
    auto& c = plan.context;
    o.endpoint = first;
    o.credentials = plan.credentials.get();
    o.auth = s.auth.value;
    o.cafile = s.cafile.value;
    o.tls13_only = s.tls_min.value == "1.3";
    o.pinned_pubkey = util::trim(s.pinned_pubkey.value);
    o.client_cert = s.client_cert.value;
    o.client_key = s.client_key.value;
    if (auto proxy = config::parse_proxy_url(s.proxy.value); !s.proxy.value.empty() && proxy) {
        o.proxy = proxy->curl_url();
        o.proxy_tunnel = proxy->scheme == "http";
        o.proxy_credentials = plan.proxy_credentials.get();
        plan.context.proxy = o.proxy;
        plan.context.proxy_origin = s.proxy.origin.describe();
    }
    o.helo = s.helo.set ? s.helo.value : hostname;
    o.source_address = util::trim(s.source_address.value);
    o.ip_version = s.ip_version.value == "4" ? 4 : s.ip_version.value == "6" ? 6 : 0;
    c.source_address = o.source_address.empty() ? ""
                       : o.source_address + " (" + s.source_address.origin.describe() + ")";
    c.ip_version = o.ip_version;
    o.timeout_seconds = s.timeout.value;
    o.data_timeout_seconds = s.data_timeout.value;

    c.host = first.host;
    c.port = first.port;
    c.tls_mode = first.mode;
    c.server_origin = s.server.origin.describe();
    c.user = plan.credentials->user;
    c.credentials_configured = !plan.credentials->user.empty();
    c.auth_method = s.auth.value;
    c.profile = loaded.profile;
    c.provider = s.provider.value;
    c.timeout_seconds = s.timeout.value;
    c.data_timeout_seconds = s.data_timeout.value;
    c.password_source = plan.credentials->source;
    c.pinned_pubkey = o.pinned_pubkey;
    c.pinned_pubkey_origin = s.pinned_pubkey.origin.describe();
    c.tls_min = s.tls_min.value;
    c.tls_min_origin = s.tls_min.origin.describe();
    c.client_cert = s.client_cert.set ? s.client_cert.value + " (" + s.client_cert.origin.describe() + ")" : "";
    return plan;
}

transport::TransportOptions Plan::options_for(size_t i) const {
    transport::TransportOptions o = options;
    o.endpoint = endpoint_at(i);
    return o;
}

diagnosis::Context Plan::context_for(size_t i) const {
    diagnosis::Context c = context;
    if (i > 0) {
        const auto& ep = endpoint_at(i);
        c.host = ep.host;
        c.port = ep.port;
        c.tls_mode = ep.mode;
    }
    return c;
}

Recorded recorded_settings(const config::Settings& settings) {
    Recorded out;
    for (const auto& key : config::keys()) {
        const config::Origin& origin = key.origin(settings);
        bool from_run = origin.kind == config::Origin::Kind::flag || origin.kind == config::Origin::Kind::env;
        // A preset's values follow from `provider`, which is recorded itself.
        if (!from_run || origin.preset || !key.is_set(settings))
            continue;
        if (key.secret)
            out.secrets.push_back(std::string(key.name) + " (" + origin.describe() + ")");
        else
            out.settings.emplace_back(std::string(key.name), key.text(settings));
    }
    return out;
}

} // namespace smtpsend::delivery
