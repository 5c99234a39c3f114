// Turns libcurl's result and the followed dialogue into an Outcome.
#include "transport/curl_internal.hpp"

#include <cerrno>

namespace smtpsend::transport::detail {

NetError cert_error(long verify_result, const std::string& errbuf) {
    switch (verify_result) {
    case 2: case 18: case 19: case 20: case 21: case 27:
        return NetError::cert_untrusted;
    case 9: case 10:
        return NetError::cert_expired;
    case 62:
        return NetError::cert_name;
    default:
        break;
    }
    // libcurl checks the name itself and reports it only in its message.
    if (errbuf.find("subject name") != std::string::npos ||
        errbuf.find("does not match") != std::string::npos)
        return NetError::cert_name;
    if (errbuf.find("expired") != std::string::npos)
        return NetError::cert_expired;
    if (errbuf.find("self-signed") != std::string::npos ||
        errbuf.find("local issuer") != std::string::npos)
        return NetError::cert_untrusted;
    return NetError::cert_other;
}

namespace {

// OpenSSL's words for the alerts a server sends about the client's
// certificate: none given ("certificate required", TLS 1.3), or one it does
// not accept (its CA unknown, its signature not verified).
bool client_cert_alert(const std::string& errbuf) {
    for (const char* phrase : {"alert certificate required", "alert bad certificate", "alert unknown ca",
                               "alert certificate unknown", "alert decrypt error"})
        if (errbuf.find(phrase) != std::string::npos)
            return true;
    return false;
}

// OpenSSL's words for "no TLS version both sides accept": the server's alert
// (it speaks none of ours) or our refusal of the version it chose.
bool tls_version_mismatch(const std::string& errbuf) {
    for (const char* phrase : {"alert protocol version", "unsupported protocol", "no protocols available"})
        if (errbuf.find(phrase) != std::string::npos)
            return true;
    return false;
}

// The proxy failed, not the server: what libcurl says of the proxy. True
// when it decided the error.
bool conclude_proxy(Outcome& out, CURLcode rc, CURL* h, const TransferState& st) {
    long connect_code = 0;
    curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    out.stage = Stage::connect;
    if (rc == CURLE_COULDNT_RESOLVE_PROXY) {
        out.error = NetError::proxy_resolve;
        return true;
    }
    if (connect_code >= 300 || (connect_code == 0 && !st.proxy_status.empty())) {
        out.error = connect_code == 407 ? NetError::proxy_auth : NetError::proxy_tunnel;
        if (!st.proxy_status.empty())
            out.error_text = "the proxy answered " + st.proxy_status;
        return true;
    }
    if (rc == CURLE_PROXY) {
        long px = 0;
        curl_easy_getinfo(h, CURLINFO_PROXY_ERROR, &px);
        switch (px) {
        case CURLPX_USER_REJECTED:
        case CURLPX_NO_AUTH:
        case CURLPX_RECV_AUTH:
        case CURLPX_SEND_AUTH:
            out.error = NetError::proxy_auth;
            break;
        case CURLPX_REPLY_CONNECTION_REFUSED:
        case CURLPX_REPLY_HOST_UNREACHABLE:
        case CURLPX_REPLY_NETWORK_UNREACHABLE:
        case CURLPX_REPLY_NOT_ALLOWED:
        case CURLPX_REPLY_GENERAL_SERVER_FAILURE:
        case CURLPX_REPLY_TTL_EXPIRED:
        case CURLPX_REQUEST_FAILED:
        case CURLPX_RESOLVE_HOST:
            out.error = NetError::proxy_tunnel;
            break;
        default:
            out.error = NetError::proxy_failed;
            break;
        }
        return true;
    }
    // Nothing but the proxy is ever connected to: a failed connect is the proxy's.
    if (rc == CURLE_COULDNT_CONNECT) {
        out.error = NetError::proxy_refused;
        return true;
    }
    return false;
}

} // namespace

// Decides status, stage and error from libcurl's result and the dialogue.
void conclude(Outcome& out, CURLcode rc, CURL* h, const TransferState& st, const Dialogue& dlg,
              const std::string& errbuf, bool implicit_tls) {
    out.curl_code = rc;
    out.error_text = errbuf.empty() ? curl_easy_strerror(rc) : errbuf;
    long verify = 0;
    curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &verify);
    out.tls_verify_result = verify;
    out.server_key = st.server_key;
    curl_off_t connect_time = 0, appconnect_time = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_time);
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &appconnect_time);
    out.tls_active = implicit_tls ? appconnect_time > 0 : dlg.tls_started();

    // The stage a failure happened in: where the dialogue was, refined for
    // failures before any reply arrived.
    Stage stage = dlg.stage() == Stage::quit ? dlg.stage_before_quit() : dlg.stage();
    if (stage == Stage::connect && connect_time > 0)
        stage = implicit_tls && appconnect_time == 0 ? Stage::tls : Stage::greeting;
    out.stage = stage;

    const auto& failing = dlg.failing_reply();
    bool reply_here = failing && dlg.failing_stage() == stage;

    // Our own deadline stopped the transfer: a wait that ran out.
    if (rc == CURLE_ABORTED_BY_CALLBACK && st.deadline_passed) {
        rc = CURLE_OPERATION_TIMEDOUT;
        bool upload = st.deadline_stage == Stage::data && st.body_started;
        out.error_text = std::string(upload ? "the upload stalled: no byte moved for "
                                            : "no reply within ") +
                         std::to_string(st.deadline_limit_ms / 1000) + " s";
    }
    // The final reply accepted the message: whatever failed later (the
    // connection dropped before QUIT) does not undo that.
    const auto& fin = out.final_reply;
    if (rc != CURLE_OK && fin && fin->code >= 200 && fin->code < 300 &&
        dlg.stage() == Stage::end_of_data)
        rc = CURLE_OK;

    if (rc == CURLE_OK) {
        bool any_accepted = false, any_rejected = false;
        for (const auto& r : out.recipients)
            (r.accepted ? any_accepted : any_rejected) = true;
        if (fin && fin->code >= 200 && fin->code < 300 && any_accepted) {
            out.status = any_rejected ? Outcome::Status::partial : Outcome::Status::sent;
            out.stage = any_rejected ? Stage::rcpt : Stage::end_of_data;
            // The reply shown is a rejection whose recipient is known for sure.
            if (any_rejected)
                for (const auto& r : out.recipients)
                    if (!r.accepted && r.reply && (!out.reply || !r.uncertain))
                        out.reply = r.reply;
            return;
        }
        // CURLE_OK without the final 250 is not a delivery.
        out.status = Outcome::Status::failed;
        out.error = NetError::protocol;
        return;
    }

    out.status = Outcome::Status::failed;
    if (reply_here)
        out.reply = failing;

    if (st.aborted_no_auth) {
        out.error = NetError::auth_not_offered;
        out.stage = Stage::auth;
        return;
    }
    if (st.aborted_read_error) {
        out.error = NetError::local;
        out.stage = Stage::input;
        out.error_text = st.read_error;
        return;
    }
    if (st.via_proxy && conclude_proxy(out, rc, h, st))
        return;
    if (rc == CURLE_INTERFACE_FAILED) {
        out.error = NetError::source_address;
        out.stage = Stage::connect;
        return;
    }
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
        out.error = NetError::pin_mismatch;
        out.stage = Stage::tls;
        return;
    }
    if (rc == CURLE_SSL_CERTPROBLEM) {
        out.error = NetError::client_cert_bad;
        out.stage = Stage::tls;
        return;
    }
    // The server checks our certificate during (TLS 1.2) or right after
    // (TLS 1.3: at the first read) the handshake; libcurl 7.88 reports
    // either as a failed connection, with OpenSSL's alert in errbuf.
    if ((rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR) && client_cert_alert(errbuf)) {
        out.error = NetError::client_cert_refused;
        out.stage = Stage::tls;
        return;
    }
    // The generic alert (TLS 1.2 servers send it for a missing client
    // certificate too: TLS 1.2 has no alert of its own for that).
    if ((rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR) &&
        errbuf.find("alert handshake failure") != std::string::npos) {
        out.error = NetError::tls_handshake_refused;
        out.stage = Stage::tls;
        return;
    }
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        out.error = NetError::resolve;
        out.stage = Stage::resolve;
        return;
    case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        out.error = os_errno == ECONNREFUSED || os_errno == 0 ? NetError::refused
                                                               : NetError::connect_failed;
        out.stage = Stage::connect;
        return;
    }
    case CURLE_SSL_CONNECT_ERROR:
        out.error = errbuf.find("wrong version number") != std::string::npos ? NetError::tls_wrong_version
                    : tls_version_mismatch(errbuf)                        ? NetError::tls_version
                                                                          : NetError::tls_handshake;
        out.stage = Stage::tls;
        return;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        out.error = rc == CURLE_SSL_CACERT_BADFILE ? NetError::cert_other : cert_error(verify, errbuf);
        out.stage = Stage::tls;
        return;
    case CURLE_USE_SSL_FAILED:
        out.stage = Stage::starttls;
        if (!reply_here)
            out.error = NetError::starttls_not_offered;
        return;
    case CURLE_LOGIN_DENIED:
    case CURLE_AUTH_ERROR:
        if (!dlg.auth_sent()) {
            out.error = NetError::no_auth_mechanism;
            out.stage = Stage::auth;
        } else if (!reply_here && dlg.failing_reply() && dlg.failing_stage() == Stage::auth) {
            out.reply = dlg.failing_reply();
        } else if (!reply_here) {
            // e.g. XOAUTH2's "334 <base64 error>" challenge, after which libcurl closes.
            out.reply = dlg.last_reply();
            out.error = NetError::auth_refused;
            out.stage = Stage::auth;
        }
        return;
    case CURLE_OPERATION_TIMEDOUT:
        out.error = NetError::timeout;
        break;
    case CURLE_WEIRD_SERVER_REPLY:
        if (!reply_here)
            out.error = NetError::protocol;
        break;
    default:
        if (!reply_here)
            out.error = dlg.saw_garbage() ? NetError::protocol : NetError::closed;
        break;
    }
    if (dlg.saw_garbage() && !reply_here)
        out.error = NetError::protocol;
    // Closed before the first reply over TLS (the greeting on smtps://, the
    // EHLO after STARTTLS) by a server that had asked for a client
    // certificate: it may have refused ours, or our having none.
    const bool first_read_after_tls =
        out.tls_active &&
        (implicit_tls ? !dlg.greeted() : dlg.last_reply_stage() == Stage::starttls);
    if (out.error == NetError::closed && st.client_cert_requested && first_read_after_tls)
        out.error = NetError::closed_after_cert_request;
    // The whole message went out but no final reply came back.
    if (stage == Stage::end_of_data && !reply_here &&
        (out.error == NetError::timeout || out.error == NetError::closed))
        out.status = Outcome::Status::unconfirmed;
}

} // namespace smtpsend::transport::detail
