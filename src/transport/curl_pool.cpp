// Several connections driven by one libcurl multi handle: each slot is one
// easy handle (a Connection) reused for its messages, and each message is a
// MessageSend, as in CurlTransport; only the perform differs.
#include "transport/curl_internal.hpp"
#include "transport/transport.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace smtpsend::transport {

namespace {

using namespace detail;

class CurlPool final : public Pool {
  public:
    CurlPool(TransportOptions options, size_t slots) : options_(std::move(options)) {
        ensure_global_init();
        multi_ = curl_multi_init();
        // At most one connection per slot in the multi's connection cache.
        if (multi_)
            curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(slots));
        for (size_t i = 0; i < slots; ++i) {
            slots_.push_back(std::make_unique<Slot>());
            slots_.back()->connection.shut_on_drop = true;
        }
    }
    ~CurlPool() override {
        for (auto& s : slots_) {
            if (s->added)
                curl_multi_remove_handle(multi_, s->connection.handle());
            s->connection.close();
        }
        if (multi_)
            curl_multi_cleanup(multi_);
    }
    CurlPool(const CurlPool&) = delete;
    CurlPool& operator=(const CurlPool&) = delete;

    size_t slots() const override { return slots_.size(); }

    void start(size_t slot, const message::Envelope& envelope, message::MessageSource& source,
               long max_transfer_ms) override {
        Slot& s = *slots_.at(slot);
        TransportOptions o = options_;
        o.max_transfer_ms = max_transfer_ms;
        s.send.emplace(envelope, source, std::move(o));
        advance(slot);
    }

    std::vector<std::pair<size_t, Outcome>> run(long wait_ms) override {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms < 0 ? 0 : wait_ms);
        for (;;) {
            if (!ended_.empty() || !multi_)
                break;
            int running = 0;
            curl_multi_perform(multi_, &running);
            int queued = 0;
            while (CURLMsg* m = curl_multi_info_read(multi_, &queued)) {
                if (m->msg != CURLMSG_DONE)
                    continue;
                for (size_t i = 0; i < slots_.size(); ++i) {
                    Slot& s = *slots_[i];
                    if (!s.added || s.connection.handle() != m->easy_handle)
                        continue;
                    CURLcode rc = m->data.result;
                    curl_multi_remove_handle(multi_, m->easy_handle);
                    s.added = false;
                    s.send->ended(s.connection, rc);
                    advance(i);
                    break;
                }
            }
            if (!ended_.empty())
                break;
            bool busy = false;
            for (auto& s : slots_)
                busy = busy || s->added;
            if (!busy)
                break;
            long poll_ms = 100; // the progress callbacks (our deadlines) run at least this often
            if (wait_ms >= 0) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                                deadline - std::chrono::steady_clock::now())
                                .count();
                if (left <= 0)
                    break;
                poll_ms = std::min<long>(poll_ms, static_cast<long>(left));
            }
            curl_multi_poll(multi_, nullptr, 0, static_cast<int>(poll_ms), nullptr);
        }
        return std::exchange(ended_, {});
    }

    void reconnect(size_t slot) override { slots_.at(slot)->connection.reconnect(); }

  private:
    struct Slot {
        Connection connection;
        std::optional<MessageSend> send;
        bool added = false; // its transfer is in the multi handle
    };

    // The slot's next transfer into the multi handle, or its message's end.
    void advance(size_t slot) {
        Slot& s = *slots_[slot];
        if (s.send->next(s.connection)) {
            if (multi_ && curl_multi_add_handle(multi_, s.connection.handle()) == CURLM_OK) {
                s.added = true;
                return;
            }
            // Not performed at all: a local failure of this transfer.
            s.send->ended(s.connection, CURLE_OUT_OF_MEMORY);
            advance(slot);
            return;
        }
        ended_.emplace_back(slot, s.send->result());
        s.send.reset();
    }

    TransportOptions options_;
    CURLM* multi_ = nullptr;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<std::pair<size_t, Outcome>> ended_;
};

} // namespace

std::unique_ptr<Pool> make_curl_pool(TransportOptions options, size_t slots) {
    return std::make_unique<CurlPool>(std::move(options), slots);
}

} // namespace smtpsend::transport
