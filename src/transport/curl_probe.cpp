#include "transport/curl_internal.hpp"
#include "transport/probe.hpp"
#include "util/strings.hpp"

#include <chrono>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <poll.h>

namespace smtpsend::transport {

namespace {

using namespace detail;

// "sha256//BASE64" of the certificate's SubjectPublicKeyInfo, as
// CURLOPT_PINNEDPUBLICKEY compares it; "" when the PEM cannot be read.
// libcurl hands the certificate over (CURLINFO_CERTINFO) but not this hash
// unless a pin is set; it links the same OpenSSL.
std::string pin_of_pem(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio)
        return {};
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!cert)
        return {};
    unsigned char* der = nullptr;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    X509_free(cert);
    if (len <= 0)
        return {};
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<size_t>(len), digest);
    OPENSSL_free(der);
    unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1] = {};
    EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
    return "sha256//" + std::string(reinterpret_cast<const char*>(b64));
}

std::vector<CertificateInfo> read_chain(CURL* h) {
    std::vector<CertificateInfo> chain;
    curl_certinfo* info = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &info) != CURLE_OK || !info)
        return chain;
    for (int i = 0; i < info->num_of_certs; ++i) {
        CertificateInfo c;
        for (curl_slist* s = info->certinfo[i]; s; s = s->next) {
            std::string line = s->data;
            auto colon = line.find(':');
            if (colon == std::string::npos)
                continue;
            std::string key = line.substr(0, colon), value = util::trim(line.substr(colon + 1));
            if (key == "Subject")
                c.subject = value;
            else if (key == "Issuer")
                c.issuer = value;
            else if (key == "Start date")
                c.start_date = value;
            else if (key == "Expire date")
                c.expire_date = value;
            else if (key == "Cert")
                c.key = pin_of_pem(value);
            else if (key == "X509v3 Subject Alternative Name")
                for (auto& name : util::split_list(value, ',')) {
                    auto sep = name.find(':');
                    c.names.push_back(sep == std::string::npos ? name : util::trim(name.substr(sep + 1)));
                }
        }
        chain.push_back(std::move(c));
    }
    return chain;
}

class CurlProbe final : public Probe {
  public:
    CurlProbe(TransportOptions options, bool verify)
        : options_(std::move(options)), verify_(verify), dialogue_({}, options_.on_line) {
        ensure_global_init();
        if (!verify_)
            options_.credentials = nullptr;
    }
    ~CurlProbe() override {
        if (h_ && connected_)
            (void)exchange("QUIT", 2000);
        if (h_)
            curl_easy_cleanup(h_);
    }
    ProbeReport open() override;
    util::Result<Reply> command(const std::string& line) override {
        return exchange(line, options_.timeout_seconds * 1000);
    }
    std::vector<TranscriptLine> transcript() const override { return dialogue_.transcript(); }

  private:
    util::Result<Reply> exchange(const std::string& line, long timeout_ms);
    bool wait(short events, long timeout_ms);

    TransportOptions options_;
    bool verify_;
    Dialogue dialogue_;
    TransferState state_;
    CURL* h_ = nullptr;
    bool connected_ = false;
    std::string pending_; // received bytes not yet split into lines
};

ProbeReport CurlProbe::open() {
    ProbeReport report;
    report.outcome.credentials_configured = has_login(options_);
    state_.dialogue = &dialogue_;
    state_.require_auth = has_login(options_);
    h_ = curl_easy_init();
    if (!h_) {
        report.outcome.error = NetError::local;
        report.outcome.error_text = "libcurl could not create a handle";
        return report;
    }
    char errbuf[CURL_ERROR_SIZE] = {};
    set_connection(h_, options_);
    curl_easy_setopt(h_, CURLOPT_FORBID_REUSE, 0L); // the probe keeps its one connection
    std::string e = set_route(h_, options_);
    if (e.empty())
        e = set_tls(h_, options_, verify_);
    if (!e.empty()) {
        report.outcome.error = NetError::option_refused;
        report.outcome.stage = Stage::config;
        report.outcome.error_text = e;
        return report;
    }
    set_auth(h_, options_);
    set_deadlines(h_, options_, &state_);
    set_debug(h_, &state_, errbuf);
    set_probe(h_);

    CURLcode rc = curl_easy_perform(h_);
    Outcome& out = report.outcome;
    dialogue_.fill(out);
    char* ip = nullptr;
    if (curl_easy_getinfo(h_, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        report.primary_ip = ip;
    curl_off_t connect_us = 0, appconnect_us = 0;
    curl_easy_getinfo(h_, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(h_, CURLINFO_APPCONNECT_TIME_T, &appconnect_us);
    report.connect_ms = connect_us > 0 ? static_cast<long>(connect_us / 1000) : -1;
    report.appconnect_ms = appconnect_us > 0 ? static_cast<long>(appconnect_us / 1000) : -1;
    report.tls_description = state_.tls_description;
    report.chain = read_chain(h_);
    bool implicit = options_.endpoint.mode == config::TlsMode::implicit;
    if (rc == CURLE_OK) {
        out.status = Outcome::Status::sent;
        out.tls_active = implicit ? appconnect_us > 0 : dialogue_.tls_started();
        connected_ = true;
        // libcurl skips AUTH silently when the server offers none.
        if (has_login(options_) && !dialogue_.auth_sent()) {
            out.status = Outcome::Status::failed;
            out.error = NetError::auth_not_offered;
            out.stage = Stage::auth;
        }
    } else {
        conclude(out, rc, h_, state_, dialogue_, errbuf, implicit);
    }
    out.transcript = dialogue_.transcript();
    return report;
}

bool CurlProbe::wait(short events, long timeout_ms) {
    curl_socket_t sock = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(h_, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK || sock == CURL_SOCKET_BAD)
        return false;
    pollfd p{sock, events, 0};
    return poll(&p, 1, static_cast<int>(timeout_ms)) > 0;
}

util::Result<Reply> CurlProbe::exchange(const std::string& line, long timeout_ms) {
    if (!h_ || !connected_)
        return util::make_error("not connected");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto left = [&] {
        return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     deadline - std::chrono::steady_clock::now())
                                     .count());
    };
    std::string out = line + "\r\n";
    size_t sent = 0;
    while (sent < out.size()) {
        size_t n = 0;
        CURLcode rc = curl_easy_send(h_, out.data() + sent, out.size() - sent, &n);
        if (rc == CURLE_AGAIN) {
            if (left() <= 0 || !wait(POLLOUT, left()))
                return util::make_error("timed out sending " + line);
            continue;
        }
        if (rc != CURLE_OK) {
            connected_ = false;
            return util::make_error("the connection was lost sending " + line);
        }
        sent += n;
    }
    dialogue_.on_command(out);
    std::string verb = line.substr(0, line.find(':'));
    auto no_reply = [&] {
        return util::make_error("no reply to " + verb + " within " +
                                std::to_string(timeout_ms / 1000) + " s");
    };
    // Bounded like libcurl's own reading: a line, the lines of one reply,
    // and the wait, whatever the server keeps sending.
    size_t lines = 0;
    size_t scanned = 0; // pending_ bytes known to hold no line break
    for (;;) {
        size_t eol;
        while ((eol = pending_.find('\n', scanned)) != std::string::npos) {
            std::string reply_line = pending_.substr(0, eol + 1);
            pending_.erase(0, eol + 1);
            scanned = 0;
            dialogue_.on_reply_line(reply_line);
            bool last = reply_line.size() < 4 || reply_line[3] != '-';
            if (last)
                return *dialogue_.last_reply();
            if (++lines >= Dialogue::max_reply_lines) {
                connected_ = false;
                return util::make_error("the reply to " + verb + " ran past " +
                                        std::to_string(Dialogue::max_reply_lines) + " lines");
            }
        }
        scanned = pending_.size();
        if (pending_.size() > Dialogue::max_line_bytes) {
            connected_ = false;
            return util::make_error("a reply line to " + verb + " ran past " +
                                    std::to_string(Dialogue::max_line_bytes >> 20) + " MiB");
        }
        if (left() <= 0) {
            connected_ = false;
            return no_reply();
        }
        char buf[16384];
        size_t n = 0;
        CURLcode rc = curl_easy_recv(h_, buf, sizeof buf, &n);
        if (rc == CURLE_AGAIN) {
            if (left() <= 0 || !wait(POLLIN, left()))
                return no_reply();
            continue;
        }
        if (rc != CURLE_OK || n == 0) {
            connected_ = false;
            return util::make_error("the server closed the connection after " +
                                    line.substr(0, line.find(':')));
        }
        pending_.append(buf, n);
    }
}

} // namespace

std::unique_ptr<Probe> make_curl_probe(TransportOptions options, bool verify) {
    return std::make_unique<CurlProbe>(std::move(options), verify);
}

std::vector<CertificateInfo> fetch_certificate(const TransportOptions& options) {
    TransportOptions quiet = options;
    quiet.on_line = nullptr;
    CurlProbe probe(std::move(quiet), false);
    return probe.open().chain;
}

} // namespace smtpsend::transport
