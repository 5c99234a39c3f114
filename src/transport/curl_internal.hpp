// Internal to the transport: the setopt groups, the result conclusion and
// the callbacks' shared state. Only transport/*.cpp include this.
#pragma once

#include "transport/curl_callbacks.hpp"
#include "transport/transport.hpp"

#include <curl/curl.h>
#include <memory>
#include <optional>
#include <string>

namespace smtpsend::transport::detail {

void ensure_global_init();
bool has_login(const TransportOptions& o);

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// The setopt groups (curl_setopts.cpp).
// The proxy (only the `proxy` setting; never the environment's variables).
void set_proxy(CURL* h, const TransportOptions& o);
void set_connection(CURL* h, const TransportOptions& o);
void set_tls(CURL* h, const TransportOptions& o, bool verify);
void set_auth(CURL* h, const TransportOptions& o);
// Empty (null) when the list could not be built (out of memory).
Slist set_envelope(CURL* h, const message::Envelope& envelope);
void set_upload(CURL* h, TransferState* state);
// Declares the message's exact size (libcurl then sends SIZE= on MAIL FROM
// when the server offers SIZE), except on libcurl versions where a known
// size can lose the end-of-data terminator.
void set_upload_size(CURL* h, TransferState* state, std::optional<uint64_t> exact_size);
// smtpsend's per-stage deadlines (and the progress bar) through the
// progress callback; fills the state's limits from the options.
void set_deadlines(CURL* h, const TransportOptions& o, TransferState* state);
void set_debug(CURL* h, TransferState* state, char* errbuf);
void set_probe(CURL* h);

// Decides status, stage and error from libcurl's result and the dialogue
// (curl_result.cpp).
NetError cert_error(long verify_result, const std::string& errbuf);
void conclude(Outcome& out, CURLcode rc, CURL* h, const TransferState& st, const Dialogue& dlg,
              const std::string& errbuf, bool implicit_tls);

} // namespace smtpsend::transport::detail
