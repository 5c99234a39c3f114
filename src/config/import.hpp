// `smtpsend config import`: reads another tool's settings (msmtp's
// ~/.msmtprc, or the <system.net><mailSettings><smtp> block of a .NET
// Web.config / App.config) into our profile model. The result is what the
// other tool really does, so `smtpsend check --profile NAME` reproduces its
// failure; traps and the fix for each are warnings. Passwords are never copied.
#pragma once

#include "util/result.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smtpsend::config {

struct ImportedSection {
    std::string name;     // "" for the top level
    std::string inherit;
    std::vector<std::pair<std::string, std::string>> keys; // our keys, in order
    std::vector<std::string> comments; // written above the keys, e.g. a fix to make
};

struct Imported {
    std::string format;               // "msmtp" or ".NET"
    ImportedSection top;              // msmtp's `defaults`
    std::vector<ImportedSection> profiles;
    std::string default_profile;      // "" when none
    std::vector<std::string> warnings; // "FILE:LINE: what, and the fix"
};

// Reads FILE, telling the format by its first character ('<' is XML).
// `dotnet_name` names the profile made from a .NET file. Fails (kind
// "noinput") when FILE cannot be read, or (kind "input") naming the line.
util::Result<Imported> import_config(const std::string& path, const std::string& dotnet_name = "dotnet");

// The same from text already read (`path` names it in messages).
util::Result<Imported> import_text(const std::string& path, const std::string& text,
                                   const std::string& dotnet_name = "dotnet");

// The profiles as our INI or JSON file.
std::string imported_ini(const Imported& imported);
nlohmann::json imported_json(const Imported& imported);

} // namespace smtpsend::config
