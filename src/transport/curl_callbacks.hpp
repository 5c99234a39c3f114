// libcurl callbacks: the debug stream that feeds the Dialogue, and the read
// callback that streams the message. Internal to the transport.
#pragma once

#include "message/body_source.hpp"
#include "transport/dialogue.hpp"

#include <curl/curl.h>
#include <functional>
#include <string>

namespace smtpsend::transport::detail {

// Everything a transfer's callbacks share.
struct TransferState {
    Dialogue* dialogue = nullptr;
    message::MessageSource* source = nullptr;
    bool require_auth = false;       // credentials are configured
    bool aborted_no_auth = false;    // we stopped: credentials would go unused
    bool aborted_read_error = false;
    std::string read_error;
    bool body_started = false;
    std::string tls_description; // "TLSv1.3 / TLS_AES_256_GCM_SHA384", from libcurl's notes
    const std::function<void(uint64_t, uint64_t)>* on_progress = nullptr; // null: no progress
    uint64_t size_estimate = 0;
};

int debug_callback(CURL* handle, curl_infotype type, char* data, size_t size, void* userp);
size_t read_callback(char* buffer, size_t size, size_t nitems, void* userp);
int xferinfo_callback(void* userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow);

} // namespace smtpsend::transport::detail
