// A connection that stops before any mail is sent: greeting, EHLO, STARTTLS
// and AUTH as configured, then single commands (MAIL, RCPT, RSET) on demand.
// `smtpsend check` walks the path with it, and a certificate that failed
// verification is read with it for the hint. Abstract so check's logic can be
// tested with a fake.
#pragma once

#include "transport/transport.hpp"
#include "util/result.hpp"

#include <memory>
#include <string>
#include <vector>

namespace smtpsend::transport {

struct ProbeReport {
    Outcome outcome;                  // status `sent` here means: connected (and logged in)
    std::string primary_ip;
    long connect_ms = -1;             // TCP connect done
    long appconnect_ms = -1;          // TLS handshake done (-1: none)
    std::string tls_description;      // "TLSv1.3 / TLS_AES_256_GCM_SHA384"
    std::vector<CertificateInfo> chain; // the server's certificate first
};

class Probe {
  public:
    virtual ~Probe() = default;
    // Connects and runs the dialogue up to AUTH. Failures are in the report.
    virtual ProbeReport open() = 0;
    // Sends one command line on the open connection; returns the whole reply.
    virtual util::Result<Reply> command(const std::string& line) = 0;
    // Everything said so far, secrets masked.
    virtual std::vector<TranscriptLine> transcript() const = 0;
};

// `verify` false only to read a certificate that failed verification; then
// no credentials are used.
std::unique_ptr<Probe> make_curl_probe(TransportOptions options, bool verify = true);

// The server's certificate chain, read without verifying it and without a
// login. Empty when the handshake itself fails.
std::vector<CertificateInfo> fetch_certificate(const TransportOptions& options);

} // namespace smtpsend::transport
