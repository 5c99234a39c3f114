#include "app/deliver.hpp"

#include "config/secrets.hpp"
#include "config/server_url.hpp"
#include "transport/probe.hpp"
#include "transport/transport.hpp"

namespace smtpsend::app {

util::Result<Delivery> deliver(message::PreparedMessage& msg, const config::Loaded& loaded,
                               const util::Environment& env, const std::string& hostname,
                               std::function<void(const transport::TranscriptLine&)> on_line) {
    const config::Settings& settings = loaded.settings;
    auto endpoint = config::resolve_endpoint(settings);
    if (!endpoint)
        return endpoint.error();
    if (endpoint->mode == config::TlsMode::none && settings.user.set && !settings.user.value.empty())
        return util::make_error("refusing to send a password over an unencrypted connection "
                                "(tls = none from " + settings.tls.origin.describe() + ")",
                                "use STARTTLS (smtp://HOST:587) or smtps://HOST:465; --tls none "
                                "is only for a relay that needs no login",
                                "config");
    auto credentials = config::load_credentials(settings, env);
    if (!credentials)
        return credentials.error();

    transport::TransportOptions options;
    options.endpoint = *endpoint;
    options.credentials = &*credentials;
    options.auth = settings.auth.value;
    options.cafile = settings.cafile.value;
    options.helo = settings.helo.set ? settings.helo.value : hostname;
    options.timeout_seconds = settings.timeout.value;
    options.on_line = std::move(on_line);
    transport::TransportOptions kept = options; // for reading a certificate that failed
    auto transport = transport::make_curl_transport(std::move(options));

    Delivery d;
    d.server = endpoint->curl_url();
    d.outcome = transport->send(msg.envelope, *msg.source);
    const auto& outcome = d.outcome;

    diagnosis::Context ctx;
    ctx.host = endpoint->host;
    ctx.port = endpoint->port;
    ctx.tls_mode = endpoint->mode;
    ctx.server_origin = settings.server.origin.describe();
    ctx.user = credentials->user;
    ctx.credentials_configured = outcome.credentials_configured;
    ctx.auth_method = settings.auth.value;
    ctx.profile = loaded.profile;
    ctx.auth_sent = outcome.auth_sent;
    ctx.tls_active = outcome.tls_active;
    ctx.capabilities = outcome.capabilities;
    ctx.timeout_seconds = settings.timeout.value;
    ctx.message_size = outcome.body_bytes;
    ctx.from = msg.envelope.from;
    using transport::NetError;
    if (outcome.error == NetError::cert_untrusted || outcome.error == NetError::cert_name ||
        outcome.error == NetError::cert_expired || outcome.error == NetError::cert_other) {
        kept.credentials = nullptr;
        kept.on_line = nullptr;
        ctx.certificate = transport::fetch_certificate(kept);
    }
    d.diagnosis = diagnosis::diagnose_outcome(outcome, ctx);
    return d;
}

} // namespace smtpsend::app
