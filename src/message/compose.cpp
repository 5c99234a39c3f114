#include "message/compose.hpp"

#include "message/aliases.hpp"
#include "message/headers.hpp"
#include "message/mime_types.hpp"
#include "message/passthrough.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <set>
#include <unistd.h>
#include <unordered_set>

namespace smtpsend::message {

using util::make_error;

namespace {

constexpr size_t max_header_block = 16 << 20; // 100 000 recipients fit

util::Error input_error(std::string message, std::string hint = {}) {
    return make_error(std::move(message), std::move(hint), util::ErrorKind::input);
}

// Headers we generate; -H may replace only Date and Message-ID among them.
bool reserved_for_flags(const std::string& lower) {
    static const std::set<std::string> reserved = {
        "from", "to", "cc", "bcc", "subject", "reply-to",
        "mime-version", "content-type", "content-transfer-encoding"};
    return reserved.count(lower) > 0;
}

util::Result<std::vector<Address>> parse_lists(const std::vector<std::string>& values,
                                               const std::string& what, bool allow_local = false) {
    std::vector<Address> out;
    for (const auto& v : values) {
        if (util::has_line_break_or_nul(v))
            return input_error(what + " \"" + util::one_line(v) + "\" contains a line break",
                               "a header value from a flag may not span lines");
        auto list = parse_address_list(v, allow_local);
        if (!list)
            return input_error(what + ": " + list.error().message, list.error().hint);
        out.insert(out.end(), list->begin(), list->end());
    }
    return out;
}

std::string join_header(const std::vector<Address>& list) {
    std::vector<std::string> parts;
    for (const auto& a : list)
        parts.push_back(a.to_header());
    return util::join(parts, ", ");
}

void add_recipients(std::vector<std::string>& into, const std::vector<Address>& list) {
    std::unordered_set<std::string> seen;
    for (const auto& r : into)
        seen.insert(util::to_lower(r));
    for (const auto& a : list)
        if (seen.insert(util::to_lower(a.addr_spec)).second)
            into.push_back(a.addr_spec);
}

// Expands local names (no '@') in place, through `aliases` or `domain`.
util::Status resolve_locals(std::vector<Address>& list, const config::Settings& settings) {
    bool any_local = std::any_of(list.begin(), list.end(), [](const Address& a) {
        return a.addr_spec.find('@') == std::string::npos;
    });
    if (!any_local)
        return util::Ok{};
    std::optional<AliasTable> table;
    if (settings.aliases.set && !settings.aliases.value.empty()) {
        auto t = read_aliases(settings.aliases.value);
        if (!t)
            return t.error();
        table = std::move(*t);
    }
    std::vector<Address> out;
    for (auto& a : list) {
        if (a.addr_spec.find('@') != std::string::npos) {
            out.push_back(std::move(a));
            continue;
        }
        auto expanded = resolve_local(a.addr_spec, table ? &*table : nullptr, settings.domain.value);
        if (!expanded)
            return expanded.error();
        for (auto& e : *expanded) {
            auto parsed = parse_address(e);
            if (!parsed)
                return make_error("alias \"" + a.addr_spec + "\" expands to an invalid address: " +
                                      parsed.error().message, "", util::ErrorKind::config);
            out.push_back(std::move(*parsed));
        }
    }
    list = std::move(out);
    return util::Ok{};
}

std::string domain_of(const std::string& addr) {
    auto at = addr.rfind('@');
    return at == std::string::npos ? std::string() : addr.substr(at + 1);
}

// The address fields whose bare local names sendmail mode qualifies.
bool qualified_in_sendmail_mode(const std::string& lower) {
    return lower == "from" || lower == "to" || lower == "cc" || lower == "sender" ||
           lower == "reply-to";
}

// The field again with its bare local names ("root (Cron Daemon)") qualified
// with `domain`, as Postfix's append_at_myorigin does; "" when it has none,
// or does not parse as an address list (then it is kept as written).
util::Result<std::string> qualified_field(const HeaderField& f, const std::string& domain,
                                          const config::Settings& settings) {
    auto list = parse_address_list(f.value, /*allow_local=*/true);
    if (!list)
        return std::string();
    bool any = false;
    for (auto& a : *list) {
        if (a.addr_spec.find('@') != std::string::npos)
            continue;
        auto q = ascii_domain(a.addr_spec + "@" + domain);
        if (!q)
            return make_error(f.name + ": " + a.addr_spec + " with domain (" +
                                  settings.domain.origin.describe() + "): " + q.error().message,
                              q.error().hint, util::ErrorKind::config);
        a.addr_spec = *q;
        any = true;
    }
    if (!any)
        return std::string();
    return fold_header(f.name, join_header(*list));
}

// The sender from settings, or nothing when unset.
util::Result<std::optional<Address>> configured_sender(const config::Settings& settings) {
    if (!settings.from.set || util::trim(settings.from.value).empty())
        return std::optional<Address>();
    auto a = parse_address(settings.from.value);
    if (!a) {
        util::Error e = a.error();
        e.message = "from (" + settings.from.origin.describe() + "): " + e.message;
        e.kind = config::error_kind(settings.from.origin); // 64 from --from, else 78
        return e;
    }
    return std::optional<Address>(*a);
}

// Lines up to this length go as they are; longer ones are quoted-printable,
// as mail clients do: servers and relays may wrap long lines (Haraka at 992
// by default), which would change the text (RFC 5322 asks for 78).
constexpr uint64_t max_plain_line = 78;

// 7bit when every line is short ASCII; otherwise quoted-printable, which
// every server accepts (libcurl 7.88 cannot send BODY=8BITMIME).
std::pair<BodyEncoding, std::string> text_encoding(const ContentStats& st) {
    if (st.has_8bit || st.has_nul || st.longest_line > max_plain_line)
        return {BodyEncoding::quoted_printable, "quoted-printable"};
    return {BodyEncoding::crlf, "7bit"};
}

std::string make_boundary() {
    return "=_smtpsend_" + util::random_hex(12);
}

// One MIME entity: its headers, a blank line and its body.
using Entity = std::vector<Segment>;

Entity text_entity(std::shared_ptr<Spool> spool, const std::string& subtype) {
    auto [encoding, cte] = text_encoding(spool->stats());
    return {Segment::literal("Content-Type: text/" + subtype + "; charset=UTF-8\r\n"
                             "Content-Transfer-Encoding: " + cte + "\r\n\r\n"),
            Segment::file(std::move(spool), encoding)};
}

struct FilePart {
    std::shared_ptr<Spool> spool;
    std::string type;
    std::string name;
};

struct FileSpec {
    std::string path, type, name;
};

// "FILE;type=TYPE;name=NAME": the parameters are taken from the right, so a
// file name may itself contain ';'.
FileSpec split_file_spec(const std::string& spec) {
    FileSpec out;
    std::string& path = out.path;
    path = spec;
    for (;;) {
        auto semi = path.rfind(';');
        if (semi == std::string::npos)
            break;
        std::string param = path.substr(semi + 1);
        if (param.rfind("type=", 0) == 0)
            out.type = param.substr(5);
        else if (param.rfind("name=", 0) == 0)
            out.name = param.substr(5);
        else
            break;
        path.resize(semi);
    }
    return out;
}

// "-" as FILE: the attachment is standard input.
bool reads_stdin(const std::string& spec) { return split_file_spec(spec).path == "-"; }

// `option` ("--attach", "--inline") names the flag in errors.
util::Result<FilePart> open_file_part(const std::string& spec, const std::string& option, int stdin_fd) {
    auto [path, type, name] = split_file_spec(spec);
    for (const auto* v : {&type, &name})
        if (util::has_control_char(*v))
            return input_error(option + " " + util::quote(spec) +
                                   ": type= or name= contains a line break or control character",
                               "give the type and the name on one line");
    if (path == "-") {
        // Standard input: named by ;name= (its type from that name), else "stdin".
        auto spool = Spool::from_fd(stdin_fd, "standard input", 1 << 20, /*scan=*/false);
        if (!spool)
            return spool.error();
        if (name.empty())
            name = "stdin";
        if (type.empty())
            type = mime_type_for(name);
        return FilePart{std::move(*spool), type, name};
    }
    auto spool = Spool::from_path(path, /*scan=*/false);
    if (!spool) {
        util::Error e = spool.error();
        e.message = option + ": " + e.message; // which option named the file
        return e;
    }
    if (type.empty())
        type = mime_type_for(path);
    if (name.empty()) {
        // A file may be named anything; its name goes into two header
        // fields, so a control character in it becomes '_' (and the rest is
        // quoted or encoded by mime_param).
        auto slash = path.find_last_of('/');
        name = slash == std::string::npos ? path : path.substr(slash + 1);
        for (char& c : name)
            if (util::has_control_char(std::string_view(&c, 1)))
                c = '_';
    }
    return FilePart{std::move(*spool), type, name};
}

Entity file_entity(const FilePart& part, const std::string& disposition) {
    std::string h = fold_header("Content-Type", part.type + "; " + mime_param("name", part.name)) +
                    fold_header("Content-Disposition",
                                disposition + "; " + mime_param("filename", part.name));
    if (disposition == "inline")
        h += "Content-ID: <" + part.name + ">\r\n";
    h += "Content-Transfer-Encoding: base64\r\n\r\n";
    return {Segment::literal(std::move(h)), Segment::file(part.spool, BodyEncoding::base64)};
}

Entity multipart(const std::string& subtype, std::vector<Entity> parts) {
    std::string b = make_boundary();
    Entity out{Segment::literal("Content-Type: multipart/" + subtype + ";\r\n boundary=\"" + b +
                                "\"\r\n\r\n--" + b + "\r\n")};
    for (size_t i = 0; i < parts.size(); ++i) {
        for (auto& seg : parts[i])
            out.push_back(std::move(seg));
        out.push_back(Segment::literal(i + 1 < parts.size() ? "\r\n--" + b + "\r\n"
                                                            : "\r\n--" + b + "--\r\n"));
    }
    return out;
}

// text, or text + HTML (alternative), or HTML alone; inline images make the
// HTML multipart/related; attachments wrap it all in multipart/mixed.
util::Result<Entity> build_body(const MessageRequest& req, std::shared_ptr<Spool> text,
                                int stdin_fd) {
    Entity body;
    if (req.html_text || !req.html_file.empty()) {
        std::shared_ptr<Spool> html_spool;
        if (req.html_text) {
            html_spool = Spool::from_string(*req.html_text);
        } else {
            auto html = Spool::from_path(req.html_file);
            if (!html)
                return html.error();
            html_spool = std::move(*html);
        }
        Entity html_part = text_entity(std::move(html_spool), "html");
        if (!req.inline_files.empty()) {
            std::vector<Entity> related{std::move(html_part)};
            for (const auto& spec : req.inline_files) {
                auto part = open_file_part(spec, "--inline", stdin_fd);
                if (!part)
                    return part.error();
                related.push_back(file_entity(*part, "inline"));
            }
            html_part = multipart("related", std::move(related));
        }
        if (text->size() > 0) {
            std::vector<Entity> alternative;
            alternative.push_back(text_entity(std::move(text), "plain"));
            alternative.push_back(std::move(html_part));
            body = multipart("alternative", std::move(alternative));
        } else {
            body = std::move(html_part);
        }
    } else {
        if (!req.inline_files.empty())
            return make_error("--inline needs --html: inline images are shown by the HTML body",
                              "reference them as <img src=\"cid:NAME\"> in the --html file", util::ErrorKind::usage);
        body = text_entity(std::move(text), "plain");
    }
    if (req.attach.empty())
        return body;
    std::vector<Entity> mixed{std::move(body)};
    for (const auto& spec : req.attach) {
        auto part = open_file_part(spec, "--attach", stdin_fd);
        if (!part)
            return part.error();
        mixed.push_back(file_entity(*part, "attachment"));
    }
    return multipart("mixed", std::move(mixed));
}

util::Result<PreparedMessage> compose_from_flags(const MessageRequest& req,
                                                 const config::Settings& settings,
                                                 const ComposeContext& ctx,
                                                 std::shared_ptr<Spool> body) {
    auto sender = configured_sender(settings);
    if (!sender)
        return sender.error();
    if (!*sender)
        return make_error("no sender address is set",
                          "give --from ADDRESS, or set SMTPSEND_FROM or `from` in a profile",
                          util::ErrorKind::config);
    const Address& from = **sender;
    if (util::has_line_break_or_nul(req.subject))
        return input_error("the subject contains a line break",
                           "a header value from a flag may not span lines");
    // Local names (root) are qualified through `aliases` and `domain` in
    // every mode, as msmtp and Postfix do, not only in sendmail mode.
    auto to = parse_lists(req.to, "recipient", true);
    auto cc = parse_lists(req.cc, "--cc", true);
    auto bcc = parse_lists(req.bcc, "--bcc", true);
    auto reply_to = parse_lists(req.reply_to, "--reply-to", true);
    for (auto* r : {&to, &cc, &bcc, &reply_to}) {
        if (!*r)
            return r->error();
        if (auto st = resolve_locals(**r, settings); !st)
            return st.error();
    }

    PreparedMessage msg;
    msg.envelope.from = from.addr_spec;
    add_recipients(msg.envelope.recipients, *to);
    add_recipients(msg.envelope.recipients, *cc);
    add_recipients(msg.envelope.recipients, *bcc);
    if (msg.envelope.recipients.empty())
        return make_error("no recipients", "name at least one: smtpsend [options] ADDRESS...",
                          util::ErrorKind::usage);

    std::string date = rfc5322_date(ctx.now);
    std::string domain = domain_of(from.addr_spec);
    msg.message_id = make_message_id(ctx.now, domain.empty() ? ctx.hostname : domain);
    std::vector<std::pair<std::string, std::string>> extra;
    for (const auto& h : req.headers) {
        if (util::has_line_break_or_nul(h))
            return input_error("header \"" + util::one_line(h) + "\" contains a line break",
                               "a header value from a flag may not span lines");
        auto colon = h.find(':');
        std::string name = colon == std::string::npos ? "" : util::trim(h.substr(0, colon));
        bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return c > 32 && c < 127 && c != ':';
        });
        if (!name_ok)
            return input_error("header \"" + h + "\" is not of the form \"Name: value\"");
        std::string value = util::trim(h.substr(colon + 1));
        std::string lower = util::to_lower(name);
        if (reserved_for_flags(lower))
            return make_error("-H cannot set " + name, "use --subject, --from, --to, --cc, "
                              "--bcc or --reply-to; MIME headers are set by smtpsend", util::ErrorKind::usage);
        if (lower == "date")
            date = value;
        else if (lower == "message-id")
            msg.message_id = value;
        else
            extra.emplace_back(name, encode_word(value));
    }

    std::string h;
    h += fold_header("Date", date);
    h += fold_header("From", from.to_header());
    if (!to->empty())
        h += fold_header("To", join_header(*to));
    if (!cc->empty())
        h += fold_header("Cc", join_header(*cc));
    if (!reply_to->empty())
        h += fold_header("Reply-To", join_header(*reply_to));
    if (!req.subject.empty())
        h += fold_header("Subject", encode_text(req.subject));
    h += fold_header("Message-ID", msg.message_id);
    for (const auto& [name, value] : extra)
        h += fold_header(name, value);
    h += "MIME-Version: 1.0\r\n";

    auto entity = build_body(req, std::move(body), ctx.stdin_fd);
    if (!entity)
        return entity.error();
    std::vector<Segment> segments{Segment::literal(std::move(h))};
    for (auto& seg : *entity)
        segments.push_back(std::move(seg));
    msg.source = std::make_unique<SegmentedSource>(std::move(segments));
    return msg;
}

util::Result<PreparedMessage> compose_from_message(const MessageRequest& req,
                                                   const config::Settings& settings,
                                                   const ComposeContext& ctx,
                                                   std::shared_ptr<Spool> input) {
    if (input->stats().has_nul)
        return input_error("the message contains NUL bytes",
                           "a message on standard input must be text; send binary data with "
                           "--attach");
    auto head = input->head(max_header_block);
    if (!head)
        return head.error();
    auto block = parse_header_block(*head);
    if (!block && req.complete_message) {
        // sendmail mode, as Postfix and msmtp: input that does not start with
        // a header field (`echo test | sendmail root`) is all body; the
        // headers it needs are added below.
        block = HeaderBlock{{}, 0, false};
    }
    if (!block)
        return input_error(block.error().message, block.error().hint);
    if (block->body_offset >= max_header_block && block->had_separator == false &&
        input->size() > max_header_block)
        return input_error("the header block is larger than 16 MiB");

    PreparedMessage msg;
    const bool local = req.complete_message; // sendmail mode: bare names through aliases
    std::vector<Address> recipients;
    if (req.extract_recipients) {
        for (const char* name : {"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"}) {
            auto values = block->values(name);
            if (values.empty())
                continue;
            auto list = parse_lists(values, std::string(name) + ":", local);
            if (!list)
                return list.error();
            recipients.insert(recipients.end(), list->begin(), list->end());
        }
    }
    auto extra = parse_lists(req.to, "recipient", local);
    if (!extra)
        return extra.error();
    recipients.insert(recipients.end(), extra->begin(), extra->end());
    if (auto st = resolve_locals(recipients, settings); !st)
        return st.error();
    add_recipients(msg.envelope.recipients, recipients);
    if (msg.envelope.recipients.empty())
        return input_error(req.extract_recipients
                               ? "the message names no recipients (read To, Cc, Bcc, Resent-To, "
                                 "Resent-Cc and Resent-Bcc)"
                               : "no recipients: name them as arguments, or use -t to read the "
                                 "message's To, Cc and Bcc",
                           "add a To: header, or name recipients on the command line");

    auto sender = configured_sender(settings);
    if (!sender)
        return sender.error();
    std::optional<Address> header_from;
    std::string header_from_name;
    auto from_values = block->values("From");
    bool has_from_header = !from_values.empty();
    if (has_from_header) {
        // cron writes "From: root (Cron Daemon)": qualified in the header, but
        // a local name is no envelope sender.
        auto list = parse_address_list(from_values.front(), local);
        if (!list || list->empty())
            return input_error("the message's From: header \"" + from_values.front() +
                               "\" is not a valid address");
        header_from_name = list->front().display_name;
        if (list->front().addr_spec.find('@') != std::string::npos)
            header_from = list->front();
    }
    // The envelope sender: -f, else the `from` setting, else the From header.
    std::optional<Address> envelope_sender;
    std::optional<Address> given;
    if (!req.envelope_from.empty()) {
        auto a = parse_address(req.envelope_from, local);
        if (!a)
            return input_error("-f: " + a.error().message);
        given = *a;
        // cron's "-f root": qualified with `domain`, else the `from` setting stands in.
        if (given->addr_spec.find('@') == std::string::npos) {
            if (!settings.domain.value.empty()) {
                auto qualified = ascii_domain(given->addr_spec + "@" + settings.domain.value);
                if (!qualified)
                    return make_error("-f " + given->addr_spec + " with domain (" +
                                          settings.domain.origin.describe() +
                                          "): " + qualified.error().message,
                                      qualified.error().hint, util::ErrorKind::config);
                given->addr_spec = *qualified;
            }
            else if (*sender)
                given = **sender;
        }
    }
    if (given) {
        envelope_sender = *given;
    } else if (*sender) {
        envelope_sender = **sender;
    } else if (header_from) {
        envelope_sender = *header_from;
    } else if (local && !ctx.login.empty() && !settings.domain.value.empty()) {
        // mailx writes no From: and gives no -f; Postfix sends such mail as
        // login@myorigin, and the From header below says the same.
        auto qualified = ascii_domain(ctx.login + "@" + settings.domain.value);
        if (!qualified)
            return make_error("the login name " + util::quote(ctx.login) + " with domain (" +
                                  settings.domain.origin.describe() + "): " + qualified.error().message,
                              "set `from` to the sender address", util::ErrorKind::config);
        envelope_sender = Address{"", *qualified};
    }
    if (!envelope_sender)
        return make_error("no sender address: the message has no From: header and none is set",
                          local ? "set `from` in the system file, or `domain` to send as "
                                  "LOGIN@DOMAIN (sendmail: -f ADDRESS for one message)"
                                : "give --from ADDRESS (sendmail: -f ADDRESS), or set SMTPSEND_FROM or "
                                  "`from` in a profile",
                          util::ErrorKind::config);
    msg.envelope.from = envelope_sender->addr_spec;
    if (msg.envelope.from.find('@') == std::string::npos)
        return make_error("the sender \"" + msg.envelope.from + "\" has no domain",
                          "set `from` (or `domain`) so the sender is a full address", util::ErrorKind::config);

    // 8-bit parts and lines over 998 octets are re-encoded (libcurl 7.88
    // cannot send BODY=8BITMIME); the rest goes as it is.
    auto plan = pass_through(input, *block);
    if (!plan)
        return plan.error();
    // from_header = envelope (msmtp's set_from_header): the From is rebuilt
    // from the envelope sender, for providers that require From = login.
    const bool from_is_envelope = settings.from_header.value == "envelope";
    // sendmail mode qualifies bare names with `domain`, else the envelope
    // sender's domain (which -f root and the `from` setting give).
    const std::string qualify_with =
        !settings.domain.value.empty() ? settings.domain.value : domain_of(msg.envelope.from);
    std::string h;
    for (const auto& f : block->fields) {
        std::string lower = util::to_lower(f.name);
        if (lower == "bcc" || lower == "resent-bcc")
            continue;
        if (plan->drop_top_cte && lower == "content-transfer-encoding")
            continue;
        if (from_is_envelope && lower == "from")
            continue;
        if (local && qualified_in_sendmail_mode(lower)) {
            auto q = qualified_field(f, qualify_with, settings);
            if (!q)
                return q.error();
            if (!q->empty()) {
                h += *q;
                continue;
            }
        }
        if (std::string rewritten = rewrite_unsafe_field(f); !rewritten.empty()) {
            h += rewritten;
            continue;
        }
        h += f.raw + "\r\n";
    }
    // Normalise line ends inside the kept raw header lines.
    std::string normalised;
    BodyEncoder crlf(BodyEncoding::crlf);
    crlf.feed(h, normalised);
    h = std::move(normalised);
    h += plan->add_top;
    if (!has_from_header || from_is_envelope) {
        Address generated = *sender ? **sender : *envelope_sender;
        if (given || from_is_envelope)
            generated.addr_spec = envelope_sender->addr_spec;
        if (!req.full_name.empty())
            generated.display_name = req.full_name;
        if (!header_from_name.empty()) // the message's own name stays
            generated.display_name = header_from_name;
        h += fold_header("From", generated.to_header());
    }
    if (block->fields.empty()) { // a body alone: To names the envelope's recipients
        std::vector<Address> to;
        for (const auto& r : msg.envelope.recipients)
            to.push_back(Address{"", r});
        h += fold_header("To", join_header(to));
    }
    if (!block->has("Date"))
        h += fold_header("Date", rfc5322_date(ctx.now));
    auto ids = block->values("Message-ID");
    if (ids.empty()) {
        std::string domain = domain_of(msg.envelope.from);
        msg.message_id = make_message_id(ctx.now, domain.empty() ? ctx.hostname : domain);
        h += fold_header("Message-ID", msg.message_id);
    } else {
        msg.message_id = ids.front();
    }
    h += "\r\n";
    std::vector<Segment> segments{Segment::literal(std::move(h))};
    for (auto& seg : plan->body)
        segments.push_back(std::move(seg));
    msg.source = std::make_unique<SegmentedSource>(std::move(segments));
    return msg;
}

} // namespace

util::Status check_smtputf8(const Envelope& envelope, bool server_offers_smtputf8) {
    if (server_offers_smtputf8)
        return util::Ok{};
    std::vector<std::string> all{envelope.from};
    all.insert(all.end(), envelope.recipients.begin(), envelope.recipients.end());
    for (const auto& a : all)
        if (needs_smtputf8(a))
            return input_error("address " + util::quote(a) + " has a non-ASCII local part (before "
                               "the @), and the server does not offer SMTPUTF8",
                               "use an ASCII address, or send through a server that offers "
                               "SMTPUTF8");
    return util::Ok{};
}

util::Result<PreparedMessage> compose_bounce(const BounceRequest& request, const ComposeContext& ctx) {
    if (request.original_sender.empty())
        return input_error("the message had the null sender <>: a bounce is never bounced");
    auto to = parse_address(request.original_sender);
    if (!to)
        return input_error("the original sender: " + to.error().message);
    std::string domain = domain_of(to->addr_spec);
    std::string daemon = "MAILER-DAEMON@" + (ctx.hostname.find('.') != std::string::npos ? ctx.hostname : domain);
    PreparedMessage msg;
    msg.envelope.from = ""; // MAIL FROM:<>
    msg.envelope.recipients = {to->addr_spec};
    msg.message_id = make_message_id(ctx.now, domain);
    std::string text = "This is smtpsend on " + (ctx.hostname.empty() ? std::string("this host") : ctx.hostname) +
                       ".\n\nYour message could not be delivered to:\n\n";
    for (const auto& r : request.recipients)
        text += "  " + r + "\n";
    text += "\nIt was given up: " + request.reason + "\n\nThe headers of your message:\n\n" +
            request.original_headers;
    if (!text.empty() && text.back() != '\n')
        text += "\n";
    std::string h;
    h += fold_header("Date", rfc5322_date(ctx.now));
    h += fold_header("From", Address{"Mail Delivery System", daemon}.to_header());
    h += fold_header("To", to->addr_spec);
    h += fold_header("Subject", "Undelivered Mail Returned to Sender");
    h += fold_header("Message-ID", msg.message_id);
    h += "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n";
    std::vector<Segment> segments{Segment::literal(std::move(h))};
    for (auto& seg : text_entity(Spool::from_string(std::move(text)), "plain"))
        segments.push_back(std::move(seg));
    msg.source = std::make_unique<SegmentedSource>(std::move(segments));
    return msg;
}

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
    return buf;
}

std::string make_message_id(std::chrono::system_clock::time_point when, const std::string& domain) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
    return "<" + std::string(stamp) + "." + util::random_hex(8) + "@" + (domain.empty() ? "localhost" : domain) + ">";
}

util::Result<PreparedMessage> prepare_message(const MessageRequest& request,
                                              const config::Settings& settings,
                                              const ComposeContext& context) {
    // `--attach -` takes standard input: the body is then --body-file or empty.
    bool composing = !(request.extract_recipients || request.complete_message);
    size_t from_stdin = 0;
    for (const auto* list : {&request.attach, &request.inline_files})
        from_stdin += static_cast<size_t>(std::count_if(list->begin(), list->end(), reads_stdin));
    if (from_stdin > 0 && !composing)
        return make_error("--attach - reads standard input, which holds the message here",
                          "attach a file by name, or compose from flags without -t", util::ErrorKind::usage);
    if (from_stdin > 1)
        return make_error("only one --attach - (or --inline -) can read standard input",
                          "give the other attachments as files", util::ErrorKind::usage);
    if (request.body_file.empty() && context.notice_fd >= 0 && isatty(context.stdin_fd)) {
        static const char notice[] =
            "smtpsend: type the message, then press Ctrl-D at the start of a line to send it "
            "(Ctrl-C cancels)\n";
        (void)!write(context.notice_fd, notice, sizeof notice - 1);
    }
    util::Result<std::shared_ptr<Spool>> spool =
        !request.body_file.empty() ? Spool::from_path(request.body_file)
        : from_stdin > 0 ? util::Result<std::shared_ptr<Spool>>(Spool::from_string(""))
        : request.ignore_dots      ? Spool::from_fd(context.stdin_fd, "standard input")
                                   : Spool::from_fd(context.stdin_fd, "standard input", 1 << 20,
                                                    true, /*dot_ends=*/true);
    if (!spool)
        return spool.error();
    return prepare_message(request, settings, context, std::move(*spool));
}

util::Result<PreparedMessage> prepare_message(const MessageRequest& request,
                                              const config::Settings& settings,
                                              const ComposeContext& context,
                                              std::shared_ptr<Spool> input) {
    if (request.extract_recipients || request.complete_message)
        return compose_from_message(request, settings, context, std::move(input));
    return compose_from_flags(request, settings, context, std::move(input));
}

} // namespace smtpsend::message
