#include "ring_poller.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace {
// Returned by the sample callback to stop a drain when the batch is full.
// libbpf 1.1 has already counted the record as consumed, so it was copied first.
constexpr int kBatchFull = -E2BIG;

template <typename Handle>
void CloseAndFree(Handle* h) {
  uv_close(reinterpret_cast<uv_handle_t*>(h),
           [](uv_handle_t* closed) { delete reinterpret_cast<Handle*>(closed); });
}
}  // namespace

RingPoller::RingPoller(uv_loop_t* loop, int map_fd, size_t record_size, uint8_t* storage,
                       size_t max_batch, unsigned interval_ms, BatchFn on_batch, ReadyFn on_ready)
    : loop_(loop),
      map_fd_(map_fd),
      record_size_(record_size),
      max_batch_(max_batch),
      storage_(storage),
      interval_ms_(interval_ms),
      on_batch_(std::move(on_batch)),
      on_ready_(std::move(on_ready)) {}

RingPoller::~RingPoller() { Stop(); }

int RingPoller::Start() {
  rb_ = ring_buffer__new(map_fd_, OnSample, this, nullptr);
  if (!rb_) return -errno;

  poll_ = new uv_poll_t;
  int err = uv_poll_init(loop_, poll_, ring_buffer__epoll_fd(rb_));
  if (err) {
    delete poll_;
    poll_ = nullptr;
    return err;
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int status, int) {
    auto* self = static_cast<RingPoller*>(h->data);
    self->wakeups_++;
    if (status == 0) self->on_ready_();
  });

  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* h) { static_cast<RingPoller*>(h->data)->on_ready_(); }, interval_ms_,
      interval_ms_);
  // The poll handle keeps the process alive while tracing; the timer need not.
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
  return 0;
}

int RingPoller::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingPoller*>(ctx);
  if (size != self->record_size_) {
    self->malformed_++;
    return 0;
  }
  memcpy(self->storage_ + self->batch_records_ * size, data, size);
  self->batch_records_++;
  return self->batch_records_ >= self->max_batch_ ? kBatchFull : 0;
}

void RingPoller::Flush() {
  if (batch_records_ == 0) return;
  size_t records = batch_records_;
  delivered_ += records;
  batch_records_ = 0;
  on_batch_(records);
}

long RingPoller::Drain() {
  if (!rb_ || draining_) return 0;
  draining_ = true;
  long total = 0;
  for (;;) {
    int n = ring_buffer__consume(rb_);
    if (n == kBatchFull) {
      total += static_cast<long>(batch_records_);
      Flush();
      if (!rb_) break;  // the consumer stopped us from its callback
      continue;
    }
    total += static_cast<long>(batch_records_);
    Flush();
    if (n < 0) {
      draining_ = false;
      return n;
    }
    break;
  }
  draining_ = false;
  return total;
}

void RingPoller::Stop() {
  if (poll_) {
    uv_poll_stop(poll_);
    CloseAndFree(poll_);
    poll_ = nullptr;
  }
  if (timer_) {
    uv_timer_stop(timer_);
    CloseAndFree(timer_);
    timer_ = nullptr;
  }
  if (rb_) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
}
