#include "transport/curl_callbacks.hpp"

namespace smtpsend::transport::detail {

int debug_callback(CURL*, curl_infotype type, char* data, size_t size, void* userp) {
    auto* st = static_cast<TransferState*>(userp);
    std::string_view text(data, size);
    switch (type) {
    case CURLINFO_HEADER_OUT:
        st->dialogue->on_command(text);
        break;
    case CURLINFO_HEADER_IN:
        st->dialogue->on_reply_line(text);
        break;
    case CURLINFO_DATA_OUT:
        st->dialogue->on_body_bytes(size);
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
        break;
    }
    default:
        break; // TLS records are not shown
    }
    return 0;
}

// Upload progress for the caller's bar; never stops the transfer.
int xferinfo_callback(void* userp, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
    auto* st = static_cast<TransferState*>(userp);
    if (st->on_progress && st->body_started && ulnow > 0)
        (*st->on_progress)(static_cast<uint64_t>(ulnow), st->size_estimate);
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
    auto got = st->source->read(buffer, size * nitems);
    if (!got) {
        st->aborted_read_error = true;
        st->read_error = got.error().message;
        return CURL_READFUNC_ABORT;
    }
    if (*got == 0)
        st->dialogue->on_body_complete();
    return *got;
}

} // namespace smtpsend::transport::detail
