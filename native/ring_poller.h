// Drains a libbpf ring buffer on the Node.js event loop, no extra thread:
// uv_poll watches the ring's epoll fd (kernel wakeups), a uv_timer drains
// periodically because the kernel program wakes us only once enough is queued
// (and libbpf 1.1 can miss a wakeup).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>

struct ring_buffer;

class RingPoller {
 public:
  // on_batch is told how many whole records now lie at the start of the
  // storage (at most max_batch); they stay valid until it returns.
  using BatchFn = std::function<void(size_t records)>;
  // Called by the loop (kernel wakeup or timer); it is expected to call Drain().
  using ReadyFn = std::function<void()>;

  // storage holds max_batch * record_size bytes and outlives the poller: the
  // caller shares it with JavaScript, so batches cross without allocation.
  RingPoller(uv_loop_t* loop, int map_fd, size_t record_size, uint8_t* storage, size_t max_batch,
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
  uint8_t* storage_;
  unsigned interval_ms_;
  BatchFn on_batch_;
  ReadyFn on_ready_;
  ring_buffer* rb_ = nullptr;
  // Heap-allocated: uv_close completes on a later loop turn, after we are gone.
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  size_t batch_records_ = 0;
  bool draining_ = false;
  uint64_t malformed_ = 0;
  uint64_t delivered_ = 0;
  uint64_t wakeups_ = 0;
};
