// Every curl_easy_setopt of smtpsend is in this file, grouped by concern, in
// the order they apply to a connection.
#include "transport/curl_internal.hpp"

#include <algorithm>

namespace smtpsend::transport::detail {

namespace {

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

} // namespace

std::string refused(CURLcode rc, const char* option) {
    return rc == CURLE_OK ? std::string() : std::string(option) + ": " + curl_easy_strerror(rc);
}

void ensure_global_init() { static CurlGlobal global; }

bool has_login(const TransportOptions& o) { return o.credentials && !o.credentials->user.empty(); }

// Only the `proxy` setting routes mail. libcurl would otherwise obey
// ALL_PROXY, all_proxy, smtp_proxy and NO_PROXY from the environment: mail
// through a proxy nobody configured, and its failures blamed on the server.
// An empty CURLOPT_PROXY disables the environment's proxies.
void set_proxy(CURL* h, const TransportOptions& o) {
    curl_easy_setopt(h, CURLOPT_PROXY, o.proxy.c_str());
    if (o.proxy.empty())
        return;
    curl_easy_setopt(h, CURLOPT_NOPROXY, ""); // NO_PROXY does not bypass the proxy
    // An HTTP proxy carries SMTP only through a CONNECT tunnel.
    curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, o.proxy_tunnel ? 1L : 0L);
    const config::Credentials* c = o.proxy_credentials;
    if (!c || c->user.empty())
        return;
    curl_easy_setopt(h, CURLOPT_PROXYUSERNAME, c->user.c_str());
    if (!c->password.empty())
        curl_easy_setopt(h, CURLOPT_PROXYPASSWORD, c->password.reveal().c_str());
}

void set_connection(CURL* h, const TransportOptions& o) {
    std::string url = o.endpoint.curl_url();
    if (!o.helo.empty())
        url += "/" + o.helo; // libcurl takes the EHLO name from the path
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    set_proxy(h, o);
    // smtpsend enforces its own per-stage waits from the progress callback
    // (set_deadlines). libcurl's limits stay as loose outer bounds only:
    // 7.88 does not restart the response clock after a long upload whose
    // end-of-data write did not complete at once, so a tight
    // SERVER_RESPONSE_TIMEOUT would expire before the final reply is even
    // awaited (and it is counted from the DATA command).
    long slowest = std::max(o.timeout_seconds, o.data_timeout_seconds);
    long response_bound = 7 * 86400; // the upload itself is bounded by the stall check
    if (o.max_transfer_ms > 0)
        response_bound = std::min(response_bound, o.max_transfer_ms / 1000 + o.timeout_seconds);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 8 * o.timeout_seconds);
    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, response_bound);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, slowest + o.timeout_seconds);
    if (o.max_transfer_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o.max_transfer_ms);
    // With reuse (queue flush, batch) the transport drops the handle after any failure.
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, o.reuse_connection ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
}

std::string set_route(CURL* h, const TransportOptions& o) {
    if (!o.source_address.empty())
        if (auto e = refused(curl_easy_setopt(h, CURLOPT_INTERFACE, o.source_address.c_str()),
                             "source_address (CURLOPT_INTERFACE)");
            !e.empty())
            return e;
    long resolve = o.ip_version == 4 ? CURL_IPRESOLVE_V4 : o.ip_version == 6 ? CURL_IPRESOLVE_V6
                                                                             : CURL_IPRESOLVE_WHATEVER;
    return refused(curl_easy_setopt(h, CURLOPT_IPRESOLVE, resolve), "ip_version (CURLOPT_IPRESOLVE)");
}

std::string set_tls(CURL* h, const TransportOptions& o, bool verify) {
    using config::TlsMode;
    // CURLUSESSL_TRY falls back to plain text and sends the password in clear.
    long use_ssl = o.endpoint.mode == TlsMode::none ? CURLUSESSL_NONE : CURLUSESSL_ALL;
    curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    // Verification is off only to read a certificate that failed it (probe),
    // and when a pinned key without a cafile is the trust: libcurl checks
    // the pin whatever the CA check says.
    bool ca_check = verify && (o.pinned_pubkey.empty() || !o.cafile.empty());
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, ca_check ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, ca_check ? 2L : 0L);
    if (verify && !o.pinned_pubkey.empty())
        if (auto e = refused(curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, o.pinned_pubkey.c_str()),
                             "pinned_pubkey (CURLOPT_PINNEDPUBLICKEY)");
            !e.empty())
            return e;
    if (!o.cafile.empty())
        curl_easy_setopt(h, CURLOPT_CAINFO, o.cafile.c_str());
    if (!o.client_cert.empty()) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, o.client_cert.c_str());
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        if (!o.client_key.empty()) {
            curl_easy_setopt(h, CURLOPT_SSLKEY, o.client_key.c_str());
            curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        }
    }
    // tls_min: the oldest version offered, 1.2 unless 1.3 is asked for.
    long version = o.tls13_only ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2;
    if (auto e = refused(curl_easy_setopt(h, CURLOPT_SSLVERSION, version), "tls_min (CURLOPT_SSLVERSION)");
        !e.empty())
        return e;
    return {};
}

void set_auth(CURL* h, const TransportOptions& o) {
    if (!has_login(o))
        return;
    curl_easy_setopt(h, CURLOPT_USERNAME, o.credentials->user.c_str());
    if (o.credentials->oauth2) {
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, o.credentials->oauth2_token.reveal().c_str());
        curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS,
                         o.auth == "oauthbearer" ? "AUTH=OAUTHBEARER" : "AUTH=XOAUTH2");
        curl_easy_setopt(h, CURLOPT_SASL_IR, 1L);
        return;
    }
    curl_easy_setopt(h, CURLOPT_PASSWORD, o.credentials->password.reveal().c_str());
    // Without a restriction, Debian's 7.88 tries GSSAPI first for user names
    // with '@' and does not fall back.
    const char* mechs = "AUTH=PLAIN;AUTH=LOGIN";
    if (o.auth == "plain")
        mechs = "AUTH=PLAIN";
    else if (o.auth == "login")
        mechs = "AUTH=LOGIN";
    else if (o.auth == "cram-md5")
        mechs = "AUTH=CRAM-MD5";
    curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, mechs);
    // The initial response goes with the AUTH command: one round trip less.
    curl_easy_setopt(h, CURLOPT_SASL_IR, 1L);
}

Slist set_envelope(CURL* h, const message::Envelope& envelope) {
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, ("<" + envelope.from + ">").c_str());
    // curl_slist_append walks the list it is given to its end: appending to
    // the tail node keeps 100 000 recipients linear, not quadratic.
    Slist list;
    curl_slist* tail = nullptr;
    for (const auto& r : envelope.recipients) {
        std::string rcpt = "<" + r + ">";
        curl_slist* head = curl_slist_append(tail, rcpt.c_str());
        if (!head)
            return Slist(); // out of memory: never a shortened list
        if (!tail)
            list.reset(head);
        tail = tail ? tail->next : head;
    }
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list.get());
    // A rejected recipient does not abort the others.
    curl_easy_setopt(h, opt_rcpt_allowfails, 1L);
    return list;
}

void set_upload(CURL* h, TransferState* state) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, detail::read_callback);
    curl_easy_setopt(h, CURLOPT_READDATA, state);
    // Not CURLOPT_CRLF: on 7.88 it doubles the CR of existing CRLFs. The
    // source already delivers CRLF line ends; libcurl does the dot-stuffing.
}

void set_upload_size(CURL* h, TransferState* state, std::optional<uint64_t> exact_size) {
    if (!exact_size)
        return;
    // 8.7.0 to 8.16.x could omit the terminator with a known upload size
    // (curl issue #18798): no SIZE= there.
    unsigned version = curl_version_info(CURLVERSION_NOW)->version_num;
    if (version >= 0x080700 && version < 0x081100)
        return;
    state->declared_size = static_cast<int64_t>(*exact_size);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(*exact_size));
}

void set_deadlines(CURL* h, const TransportOptions& o, TransferState* state) {
    state->handle = h;
    state->via_proxy = !o.proxy.empty();
    state->proxy_headers = o.proxy_tunnel && state->via_proxy;
    state->timeout_ms = o.timeout_seconds * 1000;
    state->data_timeout_ms = o.data_timeout_seconds * 1000;
    note_activity(*state);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, detail::xferinfo_callback);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, state);
    curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, detail::sockopt_callback);
    curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, state);
}

void set_debug(CURL* h, TransferState* state, char* errbuf) {
    // VERBOSE feeds the debug callback, which follows every command and
    // reply; nothing is printed by libcurl itself.
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, detail::debug_callback);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, state);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}

void set_fresh_connect(CURL* h) {
    // The pool's reconnect: a new connection (and login) for this handle.
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
}

void set_probe(CURL* h) {
    // Greeting, EHLO, STARTTLS and AUTH, then stop: the connection stays open
    // for curl_easy_send/recv. Never reused, so no stale replies.
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
}

} // namespace smtpsend::transport::detail
