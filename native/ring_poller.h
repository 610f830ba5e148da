// Drains a libbpf ring buffer on the Node.js event loop, no extra thread:
// uv_poll watches the ring's epoll fd (kernel wakeups), a uv_timer drains
// periodically because the kernel program wakes us only once enough is queued
// (and libbpf 1.1 can miss a wakeup).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

struct ring_buffer;

class RingPoller {
 public:
  // on_batch receives whole records concatenated, at most max_batch of them.
  using BatchFn = std::function<void(const uint8_t* data, size_t bytes, size_t records)>;
  // Called by the loop (kernel wakeup or timer); it is expected to call Drain().
  using ReadyFn = std::function<void()>;

  RingPoller(uv_loop_t* loop, int map_fd, size_t record_size, size_t max_batch,
             unsigned interval_ms, BatchFn on_batch, ReadyFn on_ready);
  ~RingPoller();
  RingPoller(const RingPoller&) = delete;
  RingPoller& operator=(const RingPoller&) = delete;

  // Returns 0 or a negative errno.
  int Start();
  // Delivers everything queued now; returns records delivered or a negative errno.
  long Drain();
  void Stop();

  uint64_t malformed() const { return malformed_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t wakeups() const { return wakeups_; }

 private:
  static int OnSample(void* ctx, void* data, size_t size);
  void Flush();

  uv_loop_t* loop_;
  int map_fd_;
  size_t record_size_;
  size_t max_batch_;
  unsigned interval_ms_;
  BatchFn on_batch_;
  ReadyFn on_ready_;
  ring_buffer* rb_ = nullptr;
  // Heap-allocated: uv_close completes on a later loop turn, after we are gone.
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  std::vector<uint8_t> batch_;
  size_t batch_records_ = 0;
  bool draining_ = false;
  uint64_t malformed_ = 0;
  uint64_t delivered_ = 0;
  uint64_t wakeups_ = 0;
};
