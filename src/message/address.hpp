// Mail addresses: parsing "Name <user@host>" and checking RFC 5321 syntax
// before anything reaches libcurl (7.88 passes CR/LF inside addresses on to
// the server as extra commands).
#pragma once

#include "util/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::message {

struct Address {
    std::string display_name; // decoded text, may be empty
    std::string addr_spec;    // local@domain, as used in the envelope

    // "Name <local@domain>" or "local@domain", with the name quoted and
    // RFC 2047-encoded as needed, for a header.
    std::string to_header() const;
};

// Checks local@domain against RFC 5321 (dot-atom or quoted local part, a
// domain of labels or an address literal). The error quotes the address.
util::Status check_addr_spec(std::string_view addr_spec);

// The address with its domain as an IDNA2008 A-label ("user@b\xc3\xbccher.test" ->
// "user@xn--bcher-kva.test"), so the envelope and the headers work at any
// server; ASCII domains and address literals are returned as they are.
// Fails when the domain is not a valid internationalised domain name.
util::Result<std::string> ascii_domain(std::string_view addr_spec);

// True when the local part (before the last '@') is not ASCII: such an
// address needs a server that offers SMTPUTF8 (RFC 6531).
bool needs_smtputf8(std::string_view addr_spec);

// Parses one address: "user@host", "<user@host>", "Name <user@host>",
// "\"Last, First\" <user@host>" or "user@host (Name)". Rejects control
// characters and invalid syntax. A non-ASCII domain comes back as its A-label.
// With `allow_local`, a bare local name ("root") is accepted too, for
// sendmail mode's aliases.
util::Result<Address> parse_address(std::string_view text, bool allow_local = false);

// Parses a comma-separated list (a header value or a flag's value). Groups
// ("team: a@x, b@y;") contribute their members; an empty group is allowed.
util::Result<std::vector<Address>> parse_address_list(std::string_view text,
                                                      bool allow_local = false);

} // namespace smtpsend::message
