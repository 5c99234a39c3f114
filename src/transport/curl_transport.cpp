// Every curl_easy_setopt of smtpsend is in this file, grouped by concern.
#include "transport/curl_callbacks.hpp"
#include "transport/transport.hpp"

#include <cerrno>
#include <chrono>
#include <curl/curl.h>

namespace smtpsend::transport {

namespace {

using detail::TransferState;

// libcurl 7.88 spells this option with three Ls; 8.2.0 added the new name.
#if LIBCURL_VERSION_NUM >= 0x080200
constexpr CURLoption opt_rcpt_allowfails = CURLOPT_MAIL_RCPT_ALLOWFAILS;
#else
constexpr CURLoption opt_rcpt_allowfails = CURLOPT_MAIL_RCPT_ALLLOWFAILS;
#endif

struct CurlGlobal {
    CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    ~CurlGlobal() { curl_global_cleanup(); }
};

void ensure_global_init() { static CurlGlobal global; }

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

class CurlTransport final : public Transport {
  public:
    explicit CurlTransport(TransportOptions options) : options_(std::move(options)) {
        ensure_global_init();
    }
    Outcome send(const message::Envelope& envelope, message::MessageSource& source) override;

  private:
    // One function per concern, in the order they apply to a connection.
    void set_connection(CURL* h) const;
    void set_tls(CURL* h) const;
    void set_auth(CURL* h) const;
    Slist set_envelope(CURL* h, const message::Envelope& envelope) const;
    void set_upload(CURL* h, TransferState* state) const;
    void set_debug(CURL* h, TransferState* state, char* errbuf) const;
    bool has_login() const {
        return options_.credentials && !options_.credentials->user.empty();
    }

    TransportOptions options_;
};

void CurlTransport::set_connection(CURL* h) const {
    std::string url = options_.endpoint.curl_url();
    if (!options_.helo.empty())
        url += "/" + options_.helo; // libcurl takes the EHLO name from the path
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    // CONNECTTIMEOUT covers connect, greeting, EHLO, STARTTLS and AUTH;
    // SERVER_RESPONSE_TIMEOUT bounds every later wait (default 120 s on 7.88).
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options_.timeout_seconds);
    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, options_.timeout_seconds);
    // Never reuse a connection after a failure (stale replies, §4.3 of the
    // libcurl notes): a new handle per send, closed when the send ends.
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
}

void CurlTransport::set_tls(CURL* h) const {
    using config::TlsMode;
    // CURLUSESSL_TRY falls back to plain text and sends the password in clear.
    long use_ssl = options_.endpoint.mode == TlsMode::none ? CURLUSESSL_NONE : CURLUSESSL_ALL;
    curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.cafile.empty())
        curl_easy_setopt(h, CURLOPT_CAINFO, options_.cafile.c_str());
}

void CurlTransport::set_auth(CURL* h) const {
    if (!has_login())
        return;
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.credentials->user.c_str());
    if (options_.credentials->oauth2) {
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, options_.credentials->oauth2_token.reveal().c_str());
        curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS,
                         options_.auth == "oauthbearer" ? "AUTH=OAUTHBEARER" : "AUTH=XOAUTH2");
        curl_easy_setopt(h, CURLOPT_SASL_IR, 1L);
        return;
    }
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.credentials->password.reveal().c_str());
    // Without a restriction, Debian's 7.88 tries GSSAPI first for user names
    // with '@' and does not fall back.
    const char* mechs = "AUTH=PLAIN;AUTH=LOGIN";
    if (options_.auth == "plain")
        mechs = "AUTH=PLAIN";
    else if (options_.auth == "login")
        mechs = "AUTH=LOGIN";
    else if (options_.auth == "cram-md5")
        mechs = "AUTH=CRAM-MD5";
    curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, mechs);
    // The initial response goes with the AUTH command: one round trip less.
    curl_easy_setopt(h, CURLOPT_SASL_IR, 1L);
}

Slist CurlTransport::set_envelope(CURL* h, const message::Envelope& envelope) const {
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, ("<" + envelope.from + ">").c_str());
    curl_slist* list = nullptr;
    for (const auto& r : envelope.recipients)
        list = curl_slist_append(list, ("<" + r + ">").c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list);
    // A rejected recipient does not abort the others.
    curl_easy_setopt(h, opt_rcpt_allowfails, 1L);
    return Slist(list);
}

void CurlTransport::set_upload(CURL* h, TransferState* state) const {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, detail::read_callback);
    curl_easy_setopt(h, CURLOPT_READDATA, state);
    // Not CURLOPT_CRLF: on 7.88 it doubles the CR of existing CRLFs. The
    // source already delivers CRLF line ends; libcurl does the dot-stuffing.
}

void CurlTransport::set_debug(CURL* h, TransferState* state, char* errbuf) const {
    // VERBOSE feeds the debug callback, which follows every command and
    // reply; nothing is printed by libcurl itself.
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, detail::debug_callback);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, state);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}

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

// Decides status, stage and error from libcurl's result and the dialogue.
void conclude(Outcome& out, CURLcode rc, CURL* h, const TransferState& st, const Dialogue& dlg,
              const std::string& errbuf, bool implicit_tls) {
    out.curl_code = rc;
    out.error_text = errbuf.empty() ? curl_easy_strerror(rc) : errbuf;
    long verify = 0;
    curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &verify);
    out.tls_verify_result = verify;
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

    if (rc == CURLE_OK) {
        const auto& fin = out.final_reply;
        bool any_accepted = false, any_rejected = false;
        for (const auto& r : out.recipients)
            (r.accepted ? any_accepted : any_rejected) = true;
        if (fin && fin->code >= 200 && fin->code < 300 && any_accepted) {
            out.status = any_rejected ? Outcome::Status::partial : Outcome::Status::sent;
            out.stage = any_rejected ? Stage::rcpt : Stage::end_of_data;
            if (any_rejected)
                for (const auto& r : out.recipients)
                    if (!r.accepted && r.reply)
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
        out.error = errbuf.find("wrong version number") != std::string::npos
                        ? NetError::tls_wrong_version
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
    // The whole message went out but no final reply came back.
    if (stage == Stage::end_of_data && !reply_here &&
        (out.error == NetError::timeout || out.error == NetError::closed))
        out.status = Outcome::Status::unconfirmed;
}

Outcome CurlTransport::send(const message::Envelope& envelope, message::MessageSource& source) {
    auto started = std::chrono::steady_clock::now();
    Outcome out;
    out.credentials_configured = has_login();
    Dialogue dialogue(envelope.recipients, options_.on_line);
    TransferState state;
    state.dialogue = &dialogue;
    state.source = &source;
    state.require_auth = has_login();

    CURL* h = curl_easy_init();
    if (!h) {
        out.error = NetError::local;
        out.error_text = "libcurl could not create a handle";
        return out;
    }
    char errbuf[CURL_ERROR_SIZE] = {};
    set_connection(h);
    set_tls(h);
    set_auth(h);
    Slist rcpts = set_envelope(h, envelope);
    set_upload(h, &state);
    set_debug(h, &state, errbuf);

    CURLcode rc = curl_easy_perform(h);
    dialogue.fill(out);
    conclude(out, rc, h, state, dialogue, errbuf,
             options_.endpoint.mode == config::TlsMode::implicit);
    curl_easy_cleanup(h);
    out.transcript = dialogue.transcript(); // with QUIT lines from the cleanup, if any
    out.elapsed_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - started)
                                           .count());
    return out;
}

} // namespace

std::unique_ptr<Transport> make_curl_transport(TransportOptions options) {
    return std::make_unique<CurlTransport>(std::move(options));
}

std::string curl_version_text() {
    ensure_global_init();
    return curl_version();
}

} // namespace smtpsend::transport

