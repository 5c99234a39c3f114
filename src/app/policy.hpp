// What happens around deliveries: retries within the run for temporary
// failures (back-off with jitter), the queue when they are exhausted, and a
// log line per attempt. Only temporary failures (exit 75) are retried or
// queued; an `unconfirmed` send is queued but not retried at once.
#pragma once

#include "app/deliver.hpp"
#include "log/attempt_log.hpp"
#include "queue/queue.hpp"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace smtpsend::app {

struct Rejection {
    std::string address;
    std::string reply;
};

struct SendRun {
    std::string status;                 // sent, partial, failed, unconfirmed, queued
    int exit_code = 0;
    std::optional<diagnosis::Diagnosis> diagnosis; // the failure that decides the exit code
    std::vector<std::string> accepted;  // over all attempts
    std::vector<Rejection> rejected;    // permanently, or still owed when not queued
    std::string queue_id;
    std::string queue_reason;
    std::string server;
    int attempts = 0;
    long elapsed_ms = 0;
};

struct Policy {
    long retries = 2;
    long retry_wait = 5;                // seconds; doubles, ±20 % jitter, capped at 300
    bool queue = false;
    std::string queue_dir;
    std::string log;                    // none, syslog or a file
    std::string profile;
    long max_time = 0;                  // seconds for all attempts (0: none)
    // For tests and -v: told before each wait.
    std::function<void(int attempt, long wait_ms, const diagnosis::Diagnosis&)> on_retry;
};

// The policy in force for these settings. `sendmail_mode` turns the queue on
// by default when a queue folder is configured.
Policy policy_for(const config::Loaded& loaded, const util::Environment& env, bool sendmail_mode);

// Sends with retries through `sender`, then queues what is still owed after
// a temporary failure. The Sender may outlive the message (batch: one
// connection for many).
SendRun send_with_policy(message::PreparedMessage& message, Sender& sender, const Policy& policy,
                         std::ostream& warnings);

// The log record of one attempt.
log::Record log_record(const Delivery& d, const message::Envelope& envelope,
                       const std::string& message_id, const std::string& user,
                       const std::string& queue_id);

// Milliseconds to wait before retry `n` (0-based).
long backoff_ms(long base_seconds, int n);

} // namespace smtpsend::app
