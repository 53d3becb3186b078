#include "net/output_queue.h"

#include <utility>

namespace ferry::net {

namespace {
constexpr std::size_t kKeepCapacity = 4 * 1024 * 1024;  // larger text buffers are not reused
}

void OutputQueue::add_reference(broker::MessageRef owner, std::string_view bytes) {
  if (bytes.empty()) return;
  referenced_bytes_ += bytes.size();
  references_.push_back({text_.size(), std::move(owner), bytes});
}

void OutputQueue::take(Batch& batch) {
  recycle(batch);
  // The batch's emptied buffers become the queue's: the two strings (and
  // vectors) take turns, so neither is allocated again.
  batch.text_.swap(text_);
  batch.references_.swap(references_);
  referenced_bytes_ = 0;
  // Pointers into the text are taken only now: it may have moved while it grew.
  const std::string& text = batch.text_;
  std::size_t done = 0;  // text bytes already in buffers_
  for (const Reference& r : batch.references_) {
    if (r.at > done) batch.buffers_.emplace_back(text.data() + done, r.at - done);
    batch.buffers_.emplace_back(r.bytes.data(), r.bytes.size());
    batch.bytes_ += r.bytes.size();
    done = r.at;
  }
  if (text.size() > done) batch.buffers_.emplace_back(text.data() + done, text.size() - done);
  batch.bytes_ += text.size();
}

void OutputQueue::recycle(Batch& batch) {
  if (batch.text_.capacity() > kKeepCapacity) std::string().swap(batch.text_);
  batch.text_.clear();
  batch.references_.clear();
  batch.buffers_.clear();
  batch.bytes_ = 0;
}

void OutputQueue::shrink(Batch& batch) {
  std::string().swap(batch.text_);
  std::vector<Reference>().swap(batch.references_);
  std::vector<boost::asio::const_buffer>().swap(batch.buffers_);
  if (text_.empty()) std::string().swap(text_);
  if (references_.empty()) std::vector<Reference>().swap(references_);
}

}  // namespace ferry::net
