#include "transport/curl_callbacks.hpp"

#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

namespace smtpsend::transport::detail {

// The HTTP proxy's CONNECT request and reply: only the request line and
// the status line are noted; the exchange ends with the reply's blank line.
void note_proxy_header(TransferState& st, bool out, std::string_view text) {
    note_activity(st);
    std::string_view first = text.substr(0, text.find_first_of("\r\n"));
    if (out) {
        st.dialogue->note("proxy: " + std::string(first));
        return;
    }
    if (first.substr(0, 5) == "HTTP/") {
        st.proxy_status = std::string(first);
        st.dialogue->note("proxy: " + st.proxy_status);
    } else if (first.empty() && !st.proxy_status.empty()) {
        st.proxy_headers = false; // the tunnel is open (or the transfer ends)
    }
}

int debug_callback(CURL*, curl_infotype type, char* data, size_t size, void* userp) {
    auto* st = static_cast<TransferState*>(userp);
    std::string_view text(data, size);
    if (st->proxy_headers && (type == CURLINFO_HEADER_OUT || type == CURLINFO_HEADER_IN)) {
        note_proxy_header(*st, type == CURLINFO_HEADER_OUT, text);
        return 0;
    }
    switch (type) {
    case CURLINFO_HEADER_OUT:
        st->dialogue->on_command(text);
        note_activity(*st);
        break;
    case CURLINFO_HEADER_IN:
        st->dialogue->on_reply_line(text);
        // Only a complete reply ends a wait: a reply that trickles or never
        // ends (endless continuation lines) is still bounded by the timeout.
        if (!st->dialogue->in_reply())
            note_activity(*st);
        break;
    case CURLINFO_DATA_OUT:
        st->dialogue->on_body_bytes(size);
        note_activity(*st);
        break;
    case CURLINFO_SSL_DATA_IN:
    case CURLINFO_SSL_DATA_OUT:
        // OpenSSL's message callback hands libcurl each handshake message
        // whole: type (13 = CertificateRequest), 24-bit length, body.
        if (type == CURLINFO_SSL_DATA_IN && size >= 4 &&
            static_cast<unsigned char>(data[0]) == 13) {
            auto *u = reinterpret_cast<const unsigned char *>(data);
            size_t length = (size_t{u[1]} << 16) | (size_t{u[2]} << 8) | u[3];
            if (length == size - 4)
                st->client_cert_requested = true;
        }
        // The TLS handshake moving; later records carry commands and
        // replies, which count as above.
        if (st->dialogue->stage() == Stage::connect || st->dialogue->stage() == Stage::tls)
            note_activity(*st);
        break;
    case CURLINFO_TEXT: {
        // For display only (check): libcurl's wording is not a contract.
        constexpr std::string_view prefix = "SSL connection using ";
        if (text.substr(0, prefix.size()) == prefix) {
            std::string_view rest = text.substr(prefix.size());
            while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r'))
                rest.remove_suffix(1);
            st->tls_description = std::string(rest);
        }
        // With CURLOPT_PINNEDPUBLICKEY libcurl notes the key it compares.
        constexpr std::string_view key_note = "public key hash: ";
        if (auto at = text.find(key_note); at != std::string_view::npos) {
            std::string_view key = text.substr(at + key_note.size());
            while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' '))
                key.remove_suffix(1);
            st->server_key = std::string(key);
        }
        break;
    }
    default:
        break; // TLS records are not shown
    }
    return 0;
}

void note_activity(TransferState& st) { st.last_activity = std::chrono::steady_clock::now(); }

long unsent_bytes(curl_socket_t socket) {
#if defined(SIOCOUTQ)
    int queued = 0;
    if (socket != CURL_SOCKET_BAD && ioctl(socket, SIOCOUTQ, &queued) == 0)
        return queued;
#else
    (void)socket;
#endif
    return -1;
}

int sockopt_callback(void* userp, curl_socket_t socket, curlsocktype) {
    static_cast<TransferState*>(userp)->socket = socket;
    return CURL_SOCKOPT_OK;
}

namespace {

// The recorded socket, if it is this transfer's connection: with several
// addresses libcurl may open (and close) more than one, and a closed
// descriptor can be reused. Checked once against libcurl's local port.
curl_socket_t connection_socket(TransferState& st) {
    if (st.socket == CURL_SOCKET_BAD || st.socket_checked)
        return st.socket;
    long local_port = 0;
    if (!st.handle || curl_easy_getinfo(st.handle, CURLINFO_LOCAL_PORT, &local_port) != CURLE_OK ||
        local_port <= 0)
        return CURL_SOCKET_BAD; // not connected yet: not used
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    long port = -1;
    if (getsockname(st.socket, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        if (addr.ss_family == AF_INET)
            port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
        else if (addr.ss_family == AF_INET6)
            port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
    if (port != local_port)
        st.socket = CURL_SOCKET_BAD;
    st.socket_checked = true;
    return st.socket;
}

} // namespace

long stage_limit_ms(const TransferState& st, Stage stage) {
    return stage == Stage::end_of_data ? st.data_timeout_ms : st.timeout_ms;
}

// Called by libcurl at least once a second in every state, also inside
// 7.88's blocking wait for the reply after the final dot: reports upload
// progress for the caller's bar and stops the transfer when the wait of the
// current stage has run out.
int xferinfo_callback(void* userp, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
    auto* st = static_cast<TransferState*>(userp);
    // Once a wait has run out, the rest (7.88's QUIT on the failed
    // connection) is not waited for either.
    if (st->deadline_passed)
        return 1;
    if (ulnow != st->last_ulnow) {
        st->last_ulnow = ulnow;
        note_activity(*st);
    }
    if (st->on_progress && *st->on_progress && st->body_started && ulnow > 0)
        (*st->on_progress)(static_cast<uint64_t>(ulnow), st->size_estimate);
    Stage stage = st->dialogue->stage();
    long limit = stage_limit_ms(*st, stage);
    if (stage == Stage::data || stage == Stage::end_of_data) {
        // Body bytes still queued in the socket are bytes moving (or a
        // stall of the upload): the final reply's wait starts when the
        // last byte has left, not when libcurl wrote it to the socket.
        long unsent = unsent_bytes(connection_socket(*st));
        if (st->last_unsent > 0 && unsent != st->last_unsent)
            note_activity(*st);
        st->last_unsent = unsent;
        if (unsent > 0)
            limit = st->timeout_ms;
    }
    auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - st->last_activity)
                    .count();
    if (limit > 0 && idle >= limit) {
        st->deadline_passed = true;
        st->deadline_stage = stage;
        st->deadline_limit_ms = limit;
        // The connection is given up: no QUIT is waited for on it (libcurl
        // closes the socket; shutting it down makes every later wait end).
        if (curl_socket_t sock = connection_socket(*st); sock != CURL_SOCKET_BAD)
            shutdown(sock, SHUT_RDWR);
        return 1; // CURLE_ABORTED_BY_CALLBACK
    }
    return 0;
}

size_t read_callback(char* buffer, size_t size, size_t nitems, void* userp) {
    auto* st = static_cast<TransferState*>(userp);
    if (!st->body_started) {
        st->body_started = true;
        // libcurl skips AUTH when the server does not offer it. A configured
        // login is never silently dropped: close without the final dot, so
        // the server discards the transaction. A reused connection (no
        // greeting in this transfer) logged in when it was opened: only
        // connections whose sends succeeded are kept.
        if (st->require_auth && !st->dialogue->auth_sent() && st->dialogue->greeted()) {
            st->aborted_no_auth = true;
            return CURL_READFUNC_ABORT;
        }
    }
    if (st->crlf_appended)
        return 0;
    auto got = st->source->read(buffer, size * nitems);
    if (!got) {
        st->aborted_read_error = true;
        st->read_error = got.error().message;
        return CURL_READFUNC_ABORT;
    }
    size_t n = *got;
    if (n == 0 && st->append_crlf && size * nitems >= 2) {
        buffer[0] = '\r';
        buffer[1] = '\n';
        n = 2;
        st->crlf_appended = true;
    }
    st->body_read += n;
    // With a declared size libcurl stops asking once it has that many bytes.
    if (n == 0 ||
        (st->declared_size >= 0 && st->body_read >= static_cast<uint64_t>(st->declared_size)))
        st->dialogue->on_body_complete();
    return n;
}

} // namespace smtpsend::transport::detail
