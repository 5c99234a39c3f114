// Small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smtpsend::util {

std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
// `bytes` random bytes from the system's random device, as lower-case hex.
std::string random_hex(size_t bytes);
std::string trim(std::string_view s);
bool starts_with_icase(std::string_view s, std::string_view prefix);
bool contains_icase(std::string_view haystack, std::string_view needle);
// Splits on `sep`, trimming each piece and dropping empty ones.
std::vector<std::string> split_list(std::string_view s, char sep);
// Joins with `sep`.
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Replaces CR/LF sequences by a single space (for one-line log output).
std::string one_line(std::string_view s);
// Standard base64 (RFC 4648) with padding and no line breaks.
std::string base64_encode(std::string_view data);
// True when every byte is 7-bit ASCII.
bool is_ascii(std::string_view s);
// True when the text contains CR, LF or NUL.
bool has_line_break_or_nul(std::string_view s);
// True when the text contains a C0 control character (CR, LF, NUL, ESC...)
// other than TAB, or DEL: bytes that may never reach a header or a settings line.
bool has_control_char(std::string_view s);
// Edit distance (insert, delete, replace, swap two neighbours), for "did you
// mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// `s` in double quotes, with `"` and `\` escaped by a backslash (the quoting
// of RFC 5322 quoted strings, our INI values and the attempt log). Control
// characters never pass raw: CR and LF become \r and \n, the others (but TAB)
// \xNN, so a quoted value always stays on its line.
std::string quote(std::string_view s);
// The candidate nearest to `word` within `max_distance` edits, or "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates,
                    size_t max_distance = 2);

} // namespace smtpsend::util
