// The diagnosis tables (internal to src/diagnosis): rows of what was seen
// (stages, reply code range, enhanced code, phrases, provider; or a transport
// error) and what it means (class, temporary, summary, hint ids). The first
// row that matches decides, so rows run from the most specific to the most
// general. Both classify_reply and the summaries read the same row: they
// cannot disagree.
#pragma once

#include "diagnosis/diagnosis.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace smtpsend::diagnosis::detail {

// Hints by id; hints.cpp writes each one, with the run's settings and the
// provider's advice where it has any.
enum class Hint {
    tls_required, starttls_refused, tls_for_mechanism, tls_version, tls_inbound,
    login_refused, app_password, browser_signin, auth_disabled, login_retry, mechanism,
    auth_not_enabled, login_required, ip_allowed,
    relay, sender, sender_syntax, recipient, recipient_syntax, recipient_domain,
    sender_domain, null_mx, too_big, spam, headers, message_input, mailbox_full,
    rate, fewer_recipients, greylist, retry, sender_auth_policy, reverse_dns, blocked_ip,
    policy, account_paused, protocol, sequence, helo_name,
    // transport errors
    check_server_name, check_port, network_path, timeout_implicit, raise_timeout,
    closed_retry, use_starttls_port, handshake, cafile, cert_name, cert_renew, cert_chain,
    starttls_missing, plain_only_local, choose_auth, auth_missing, remove_user, not_smtp,
    client_cert_file, client_cert_refused, client_cert_maybe, handshake_refused, source_address, tls_min, pin_update, libcurl_version, proxy_name, proxy_running, proxy_login, proxy_reach, proxy_scheme,
};

enum class Temp { no, yes, by_code }; // by_code: temporary when the reply is 4xx

// A set of stages as bits; 0 matches every stage.
using Stages = uint32_t;
constexpr Stages stage_bit(transport::Stage s) { return Stages{1} << static_cast<int>(s); }

struct ReplyRule {
    std::string_view id;
    Stages stages = 0;
    int code_min = 400, code_max = 599;
    std::string_view enhanced;              // "7.8" (subject.detail), "1" (subject), "" any
    std::vector<std::string_view> phrases;  // lower case, any one; empty: none needed
    std::vector<std::string_view> unless;   // lower case: none of these may appear
    std::string_view provider;              // "" any
    Class cls = Class::policy;
    Temp temp = Temp::by_code;
    std::string_view summary;
    std::vector<Hint> hints;
};

// The reply table, in order.
const std::vector<ReplyRule>& reply_rules();
// The first row for this reply at this stage; `provider` is the recognised
// provider or "". Every reply matches some row (the last rows catch all).
const ReplyRule& match_reply(transport::Stage stage, const transport::Reply& reply,
                             std::string_view provider);
bool rule_temporary(const ReplyRule& rule, const transport::Reply& reply);

// A condition on the run that some transport rows need.
enum class When { always, port_465_plain, greeting_plain, implicit, not_implicit, tls_active,
                  not_tls_active };

struct ErrorRule {
    transport::NetError error;
    When when = When::always;
    Class cls = Class::network;
    bool temporary = false;
    // {where} the host:port, {host}, {port}, {stage}, {timeout}
    std::string_view summary;
    std::vector<Hint> hints;
};

// The transport-error table, in order.
const std::vector<ErrorRule>& error_rules();
const ErrorRule& match_error(transport::NetError error, transport::Stage stage,
                             const Context& context);

} // namespace smtpsend::diagnosis::detail
