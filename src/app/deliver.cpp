#include "app/deliver.hpp"

#include "transport/probe.hpp"
#include "util/strings.hpp"

namespace smtpsend::app {

util::Result<std::unique_ptr<Sender>>
Sender::create(const config::Loaded& loaded, const util::Environment& env, const std::string& hostname,
               std::function<void(const transport::TranscriptLine&)> on_line, bool reuse) {
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
    std::unique_ptr<Sender> s(new Sender());
    s->loaded_ = &loaded;
    s->endpoint_ = *endpoint;
    s->credentials_ = std::move(*credentials);
    auto& o = s->options_;
    o.endpoint = *endpoint;
    o.credentials = &s->credentials_;
    o.auth = settings.auth.value;
    o.cafile = settings.cafile.value;
    o.helo = settings.helo.set ? settings.helo.value : hostname;
    o.timeout_seconds = settings.timeout.value;
    o.data_timeout_seconds = settings.data_timeout.value;
    o.reuse_connection = reuse;
    o.on_line = std::move(on_line);
    s->transport_ = transport::make_curl_transport(o);
    return s;
}

Delivery Sender::send(const message::Envelope& envelope, message::MessageSource& source) {
    const config::Settings& settings = loaded_->settings;
    Delivery d;
    d.server = endpoint_.curl_url();
    d.outcome = transport_->send(envelope, source);
    const auto& outcome = d.outcome;

    diagnosis::Context ctx;
    ctx.host = endpoint_.host;
    ctx.port = endpoint_.port;
    ctx.tls_mode = endpoint_.mode;
    ctx.server_origin = settings.server.origin.describe();
    ctx.user = credentials_.user;
    ctx.credentials_configured = outcome.credentials_configured;
    ctx.auth_method = settings.auth.value;
    ctx.profile = loaded_->profile;
    ctx.provider = settings.provider.value;
    ctx.auth_sent = outcome.auth_sent;
    ctx.tls_active = outcome.tls_active;
    ctx.capabilities = outcome.capabilities;
    ctx.timeout_seconds = settings.timeout.value;
    ctx.message_size = outcome.body_bytes;
    ctx.from = envelope.from;
    for (const auto& a : envelope.recipients) {
        if (!util::is_ascii(a.substr(0, a.rfind('@'))))
            ctx.utf8_address = a;
    }
    if (!util::is_ascii(envelope.from.substr(0, envelope.from.rfind('@'))))
        ctx.utf8_address = envelope.from;
    using transport::NetError;
    if (outcome.error == NetError::cert_untrusted || outcome.error == NetError::cert_name ||
        outcome.error == NetError::cert_expired || outcome.error == NetError::cert_other) {
        transport::TransportOptions quiet = options_;
        quiet.credentials = nullptr;
        quiet.on_line = nullptr;
        ctx.certificate = transport::fetch_certificate(quiet);
    }
    d.diagnosis = diagnosis::diagnose_outcome(outcome, ctx);
    return d;
}

util::Result<Delivery> deliver(message::PreparedMessage& msg, const config::Loaded& loaded,
                               const util::Environment& env, const std::string& hostname,
                               std::function<void(const transport::TranscriptLine&)> on_line) {
    auto sender = Sender::create(loaded, env, hostname, std::move(on_line));
    if (!sender)
        return sender.error();
    return (*sender)->send(msg.envelope, *msg.source);
}

} // namespace smtpsend::app
