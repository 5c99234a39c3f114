// Several connections at once: each slot is one easy handle (a Connection)
// reused for its messages, and each message is a MessageSend, as in
// CurlTransport; only the perform differs. Each slot has its own multi
// handle, performed by its own thread: libcurl's SMTP end of data
// (smtp_done, 7.88 and later alike) waits for the reply to the final dot
// inside curl_multi_perform, so in one multi handle for all, every message
// stopped every other connection for a round trip, and no number of
// connections passed one message per round trip (docs/performance.md, "Far
// link"). The messages' logic (MessageSend: setup, conclusion, retry) stays
// on the caller's thread, and so do the callbacks the caller gave (on_line,
// on_progress): a worker only performs one transfer at a time, and queues
// what it has to report for the caller's thread, waiting in run().
#include "transport/curl_internal.hpp"
#include "transport/transport.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace smtpsend::transport {

namespace {

using namespace detail;

class CurlPool final : public Pool {
  public:
    CurlPool(TransportOptions options, size_t slots) : options_(std::move(options)) {
        ensure_global_init();
        queue_callbacks();
        for (size_t i = 0; i < slots; ++i) {
            slots_.push_back(std::make_unique<Slot>());
            Slot &s = *slots_.back();
            s.connection.shut_on_drop = true;
            s.multi = curl_multi_init();
            // One connection in the slot's cache: its own.
            if (s.multi)
                curl_multi_setopt(s.multi, CURLMOPT_MAXCONNECTS, 1L);
        }
        try {
            for (auto &s : slots_)
                s->worker = std::thread([this, &slot = *s] { work(slot); });
        } catch (...) { // no thread to be had: the ones started end first
            stop_workers();
            cleanup();
            throw;
        }
    }
    ~CurlPool() override {
        stop_workers();
        cleanup();
    }
    CurlPool(const CurlPool &) = delete;
    CurlPool &operator=(const CurlPool &) = delete;

    size_t slots() const override { return slots_.size(); }

  private:
    void stop_workers() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        for (auto &s : slots_)
            s->wake.notify_one();
        for (auto &s : slots_)
            if (s->worker.joinable())
                s->worker.join();
    }
    void cleanup() {
        for (auto &s : slots_) {
            s->connection.close();
            if (s->multi)
                curl_multi_cleanup(s->multi);
        }
    }

  public:
    void start(size_t slot, const message::Envelope &envelope, message::MessageSource &source,
               long max_transfer_ms) override {
        Slot &s = *slots_.at(slot);
        TransportOptions o = options_;
        o.max_transfer_ms = max_transfer_ms;
        if (o.on_line && slots_.size() > 1) // interleaved lines say whose they are
            o.on_line = [queue = std::move(o.on_line), n = slot + 1](const TranscriptLine &l) {
                TranscriptLine named = l;
                named.connection = n;
                queue(named);
            };
        s.send.emplace(envelope, source, std::move(o));
        advance(slot);
    }

    std::vector<std::pair<size_t, Outcome>> run(long wait_ms) override {
        auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms < 0 ? 0 : wait_ms);
        for (bool waiting = true; waiting && ended_.empty();) {
            std::vector<std::pair<size_t, CURLcode>> done;
            std::vector<TranscriptLine> lines;
            std::optional<std::pair<uint64_t, uint64_t>> progress;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                auto any = [this](auto test) {
                    return std::any_of(slots_.begin(), slots_.end(),
                                       [&](auto &s) { return test(s->state); });
                };
                auto news = [&] {
                    return !lines_.empty() || progress_ ||
                           any([](State st) { return st == State::done; });
                };
                if (!any([](State st) { return st != State::idle; }))
                    waiting = false;
                else if (wait_ms < 0)
                    wake_caller_.wait(lock, news);
                else if (!wake_caller_.wait_until(lock, deadline, news))
                    waiting = false;
                lines.swap(lines_);
                progress = std::exchange(progress_, std::nullopt);
                for (size_t i = 0; i < slots_.size(); ++i) {
                    if (slots_[i]->state == State::done) {
                        slots_[i]->state = State::idle;
                        done.emplace_back(i, slots_[i]->rc);
                    }
                }
            }
            for (const auto &l : lines)
                user_on_line_(l);
            if (progress)
                user_on_progress_(progress->first, progress->second);
            for (auto [i, rc] : done) {
                slots_[i]->send->ended(slots_[i]->connection, rc);
                advance(i);
            }
        }
        return std::exchange(ended_, {});
    }

    void reconnect(size_t slot) override { slots_.at(slot)->connection.reconnect(); }

  private:
    // idle: the caller's (no transfer); go: set up, for the worker to
    // perform; running: the worker's; done: ended with rc, the caller's.
    enum class State { idle, go, running, done };
    struct Slot {
        Connection connection;
        std::optional<MessageSend> send;
        CURLM *multi = nullptr;
        std::thread worker;
        std::condition_variable wake;
        State state = State::idle; // under mutex_
        CURLcode rc = CURLE_OK;    // under mutex_, with done
    };

    // The slot's next transfer to its worker, or its message's end.
    void advance(size_t slot) {
        Slot &s = *slots_[slot];
        if (s.send->next(s.connection)) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                s.state = State::go;
            }
            s.wake.notify_one();
            return;
        }
        ended_.emplace_back(slot, s.send->result());
        s.send.reset();
    }

    void work(Slot &s) {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            s.wake.wait(lock, [&] { return stopping_ || s.state == State::go; });
            if (stopping_)
                return;
            s.state = State::running;
            lock.unlock();
            CURLcode rc = perform(s);
            lock.lock();
            s.rc = rc;
            s.state = State::done;
            wake_caller_.notify_one();
        }
    }

    // One transfer on the slot's own multi handle, to its end.
    CURLcode perform(Slot &s) {
        CURL *h = s.connection.handle();
        // Not performed at all: a local failure of this transfer.
        if (!s.multi || curl_multi_add_handle(s.multi, h) != CURLM_OK)
            return CURLE_OUT_OF_MEMORY;
        CURLcode rc = CURLE_ABORTED_BY_CALLBACK;
        for (bool ended = false; !ended && !stopping_;) {
            int running = 0;
            curl_multi_perform(s.multi, &running);
            int queued = 0;
            while (CURLMsg *m = curl_multi_info_read(s.multi, &queued)) {
                if (m->msg == CURLMSG_DONE) {
                    rc = m->data.result;
                    ended = true;
                }
            }
            if (!ended) // the progress callbacks (our deadlines) run at least this often
                curl_multi_poll(s.multi, nullptr, 0, 100, nullptr);
        }
        curl_multi_remove_handle(s.multi, h);
        return rc;
    }

    // The caller's callbacks, as the workers call them: queued for the
    // caller's thread (the lines in order, the latest progress).
    void queue_callbacks() {
        user_on_line_ = std::exchange(options_.on_line, nullptr);
        user_on_progress_ = std::exchange(options_.on_progress, nullptr);
        if (user_on_line_)
            options_.on_line = [this](const TranscriptLine &l) {
                std::lock_guard<std::mutex> lock(mutex_);
                lines_.push_back(l);
                wake_caller_.notify_one();
            };
        if (user_on_progress_)
            options_.on_progress = [this](uint64_t sent, uint64_t total) {
                std::lock_guard<std::mutex> lock(mutex_);
                progress_.emplace(sent, total);
                wake_caller_.notify_one();
            };
    }

    TransportOptions options_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<std::pair<size_t, Outcome>> ended_; // the caller's
    std::function<void(const TranscriptLine &)> user_on_line_;
    std::function<void(uint64_t, uint64_t)> user_on_progress_;
    std::mutex mutex_;
    std::condition_variable wake_caller_;                   // a slot done, or a callback queued
    std::vector<TranscriptLine> lines_;                     // under mutex_
    std::optional<std::pair<uint64_t, uint64_t>> progress_; // under mutex_
    std::atomic<bool> stopping_{false};
};

} // namespace

std::unique_ptr<Pool> make_curl_pool(TransportOptions options, size_t slots) {
    return std::make_unique<CurlPool>(std::move(options), slots);
}

} // namespace smtpsend::transport
