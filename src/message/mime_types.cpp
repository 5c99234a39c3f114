#include "message/mime_types.hpp"

#include "util/strings.hpp"

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace smtpsend::message {

std::string mime_type_for(const std::string& path, const std::string& table) {
    static std::mutex mutex;
    static std::map<std::string, std::map<std::string, std::string>> loaded;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = loaded.find(table);
    if (it == loaded.end()) {
        std::map<std::string, std::string> by_ext;
        std::ifstream in(table);
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#')
                continue;
            std::istringstream words(line);
            std::string type, ext;
            words >> type;
            while (words >> ext)
                by_ext.emplace(util::to_lower(ext), type);
        }
        it = loaded.emplace(table, std::move(by_ext)).first;
    }
    auto slash = path.find_last_of('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    auto dot = base.find_last_of('.');
    if (dot == std::string::npos || dot + 1 == base.size())
        return "application/octet-stream";
    auto found = it->second.find(util::to_lower(base.substr(dot + 1)));
    return found == it->second.end() ? "application/octet-stream" : found->second;
}

} // namespace smtpsend::message
